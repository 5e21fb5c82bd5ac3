"""The rubric document (``rubrics/rubrics.json``): a tree of indicators with bands.

A rubric (量规) is a tree: level 1 = observation perspective, level 2 = observation
point, optionally level 3. Only leaves carry a maximum score and a weight; observers
score leaves. Each rubric defines its own bands as shares of the maximum.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

RUBRIC_KINDS = ("teaching_design", "classroom_teaching")


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")

    band: str = Field(pattern=r"^[a-z_]{1,30}$", description="band code, e.g. excellent")
    label_zh: str = Field(min_length=1, description="label shown in reports, e.g. 优秀")
    min_ratio: float = Field(ge=0, le=1, description="lowest score/maximum ratio in the band (inclusive)")


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid")

    indicator_id: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,40}$")
    parent_id: str | None = None
    level: int = Field(ge=1, le=3)
    name: str = Field(min_length=1)
    position: int = Field(ge=1, description="order among its siblings")
    max_score: float | None = Field(default=None, gt=0, description="leaves only")
    weight: float | None = Field(default=None, gt=0, description="leaves only; relative weight in the roll-up")


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rubric_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,40}$")
    rubric_name: str = Field(min_length=1)
    kind: Literal["teaching_design", "classroom_teaching"]
    version: int = Field(ge=1)
    published_on: dt.date
    subject: str | None = Field(default=None, description="null when the rubric serves every subject")
    bands: list[Band] = Field(min_length=2)
    indicators: list[Indicator] = Field(min_length=2)

    @model_validator(mode="after")
    def _check_tree(self) -> Rubric:
        by_id = {i.indicator_id: i for i in self.indicators}
        if len(by_id) != len(self.indicators):
            raise ValueError(f"rubric {self.rubric_id}: duplicate indicator ids")
        children = {i.parent_id for i in self.indicators if i.parent_id}
        for ind in self.indicators:
            _check_indicator(self.rubric_id, ind, by_id, is_leaf=ind.indicator_id not in children)
        depth = max(i.level for i in self.indicators)
        if depth < 2:
            raise ValueError(f"rubric {self.rubric_id}: needs 2 or 3 levels, has {depth}")
        ratios = [b.min_ratio for b in self.bands]
        if ratios != sorted(ratios, reverse=True) or len(set(ratios)) != len(ratios):
            raise ValueError(f"rubric {self.rubric_id}: bands must be listed best first with distinct min_ratio")
        if ratios[-1] != 0:
            raise ValueError(f"rubric {self.rubric_id}: the last band must start at 0 so every score has a band")
        return self

    def leaves(self) -> list[Indicator]:
        parents = {i.parent_id for i in self.indicators if i.parent_id}
        return [i for i in self.indicators if i.indicator_id not in parents]

    def band_of(self, ratio: float) -> str:
        """The band of a score/maximum ratio: the best band whose minimum it reaches."""
        for band in self.bands:
            if ratio >= band.min_ratio:
                return band.band
        return self.bands[-1].band


def _check_indicator(rubric_id: str, ind: Indicator, by_id: dict[str, Indicator], is_leaf: bool) -> None:
    where = f"rubric {rubric_id}, indicator {ind.indicator_id}"
    if ind.level == 1 and ind.parent_id is not None:
        raise ValueError(f"{where}: a level-1 indicator has no parent")
    if ind.level > 1:
        parent = by_id.get(ind.parent_id or "")
        if parent is None:
            raise ValueError(f"{where}: parent {ind.parent_id!r} does not exist")
        if parent.level != ind.level - 1:
            raise ValueError(f"{where}: level {ind.level} under a level-{parent.level} parent")
    if is_leaf and (ind.max_score is None or ind.weight is None):
        raise ValueError(f"{where}: a leaf needs max_score and weight")
    if not is_leaf and (ind.max_score is not None or ind.weight is not None):
        raise ValueError(f"{where}: only leaves carry max_score and weight")


class RubricFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rubrics: list[Rubric]
