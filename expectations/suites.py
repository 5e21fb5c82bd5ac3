"""A suite as the gates build it: a name, the asset it validates, and its expectations."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from great_expectations.expectations import Expectation


@dataclass
class Suite:
    name: str  # the GX suite name, e.g. "raw.behaviour_codes"
    source: str  # data source in the GX project
    asset: str  # table asset of that source
    expectations: list[Expectation] = field(default_factory=list)

    def add(self, *expectations: Expectation) -> Suite:
        self.expectations.extend(expectations)
        return self

    def checks(self) -> list[str]:
        return [str((e.meta or {}).get("check")) for e in self.expectations]
