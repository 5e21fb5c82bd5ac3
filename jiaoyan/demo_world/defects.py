"""Contract-breaking rows in the non-log sources, so the loaders' quarantine paths run every night.

Rates are per night and small (at least one row per source on a night with enough rows,
never on the video lessons or in the gold codes, which stay clean as training labels).
Every defect is recorded for ``_truth/defects.csv`` with its file, line, kind and
whether the contract validator (``level = row``) or a loader's cross-source rule
(``level = cross``) catches it.

- ``lesson_manifest``: an extra, phantom lesson row (no codes, no video) with a grade of
  13, an impossible start time, an unknown subject, or an unknown teacher (cross);
- ``rubric_scores``: a real score turned negative, given an unknown observer role or a
  timestamp without offset, or raised above the indicator's maximum (cross);
- ``behaviour_codes``: a point of a pre-coded lesson with a share above 1, or shares that
  no longer sum to 1;
- ``vtro_members``: a member joining with an unknown role.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa

from jiaoyan import codes

RATES = {"lesson_manifest": 0.002, "rubric_scores": 0.001, "behaviour_codes": 0.00001, "vtro_members": 0.01}
MIN_ROWS = {"lesson_manifest": 10, "rubric_scores": 50, "behaviour_codes": 200, "vtro_members": 3}
MAX_PER_NIGHT = 5


@dataclass(frozen=True)
class Defect:
    source: str  # contract name
    batch: str  # YYYY-MM-DD
    file: str  # path relative to the batch folder
    line: int  # CSV line (header = 1) or Parquet row number from 1
    kind: str
    level: str  # "row": the contract validator rejects it; "cross": a loader rule against other sources does
    key: str  # the row's key, e.g. lesson_id or lesson_id/indicator_id/observer_id
    detail: str

    def row(self) -> dict:
        return asdict(self)


def how_many(rng: np.random.Generator, source: str, n_rows: int) -> int:
    if n_rows < MIN_ROWS[source]:
        return 0
    return int(min(MAX_PER_NIGHT, max(1, rng.binomial(n_rows, RATES[source]))))


MANIFEST_KINDS = (("grade_out_of_range", "row"), ("bad_start_time", "row"), ("unknown_subject", "row"),
                  ("unknown_teacher", "cross"))


def manifest(rng: np.random.Generator, day: dt.date, header: tuple[str, ...], rows: list[list[str]],
             templates: list[int], path: str) -> tuple[list[list[str]], list[Defect]]:
    """Phantom lesson rows (copies of pre-coded ones, ``templates``) inserted among the real ones."""
    n = how_many(rng, "lesson_manifest", len(templates))
    if n == 0:
        return rows, []
    out = [list(r) for r in rows]
    col = {name: i for i, name in enumerate(header)}
    defects = []
    spots = sorted(rng.choice(len(rows) + 1, n, replace=False), reverse=True)
    for j, spot in enumerate(spots):
        kind, level = MANIFEST_KINDS[int(rng.integers(len(MANIFEST_KINDS)))]
        phantom = list(rows[templates[int(rng.integers(len(templates)))]])
        phantom[col["lesson_id"]] = f"L{day:%Y%m%d}-9{j:04d}"
        phantom[col["video_uri"]] = ""
        value = {"grade_out_of_range": ("grade", "13"), "bad_start_time": ("start_time", "25:10:00"),
                 "unknown_subject": ("subject", "calligraphy"), "unknown_teacher": ("teacher_id", "TS999999")}[kind]
        phantom[col[value[0]]] = value[1]
        out.insert(spot, phantom)
        defects.append((phantom[col["lesson_id"]], kind, level, f"{value[0]}={value[1]}"))
    lines = {r[col["lesson_id"]]: i + 2 for i, r in enumerate(out)}
    return out, [Defect("lesson_manifest", day.isoformat(), path, lines[key], kind, level, key, detail)
                 for key, kind, level, detail in defects]


SCORE_KINDS = (("negative_score", "row"), ("unknown_role", "row"), ("timestamp_without_offset", "row"),
               ("score_above_max", "cross"))


def scores(rng: np.random.Generator, day: dt.date, header: tuple[str, ...], rows: list[list[str]],
           max_scores: list[float], path: str) -> tuple[list[list[str]], list[Defect]]:
    """Real score rows damaged in place (the score is lost)."""
    n = how_many(rng, "rubric_scores", len(rows))
    if n == 0:
        return rows, []
    col = {name: i for i, name in enumerate(header)}
    defects = []
    for i in sorted(rng.choice(len(rows), n, replace=False)):
        kind, level = SCORE_KINDS[int(rng.integers(len(SCORE_KINDS)))]
        row = rows[i]
        if kind == "negative_score":
            row[col["score"]] = "-" + row[col["score"]].lstrip("-") if row[col["score"]] != "0" else "-1"
        elif kind == "unknown_role":
            row[col["observer_role"]] = "parent"
        elif kind == "timestamp_without_offset":
            row[col["scored_at"]] = row[col["scored_at"]].replace("+08:00", "")
        else:
            row[col["score"]] = _num(max_scores[i] + 2)
        key = "/".join(row[col[c]] for c in ("lesson_id", "rubric_id", "indicator_id", "observer_id"))
        defects.append(Defect("rubric_scores", day.isoformat(), path, i + 2, kind, level, key,
                              f"{kind.replace('_', ' ')}"))
    return rows, defects


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) else f"{x:g}"


def behaviour_codes(rng: np.random.Generator, day: dt.date, table: pa.Table, path: str) -> tuple[pa.Table,
                                                                                                  list[Defect]]:
    """Points of pre-coded lessons with a share above 1, or shares that do not sum to 1."""
    n = how_many(rng, "behaviour_codes", table.num_rows)
    if n == 0:
        return table, []
    rows = np.sort(rng.choice(table.num_rows, n, replace=False))
    columns = list(codes.share_columns())
    shares = np.column_stack([table[c].to_numpy() for c in columns]).astype(np.float32)
    kinds = []
    for i in rows:
        if rng.random() < 0.5:
            shares[i, 0] = np.float32(1.25)
            kinds.append(("share_out_of_range", f"{columns[0]}=1.25"))
        else:
            shares[i] *= np.float32(0.7)
            kinds.append(("shares_do_not_sum", "shares sum to 0.7"))
    for j, c in enumerate(columns):
        table = table.set_column(table.schema.get_field_index(c), c, pa.array(shares[:, j]))
    rows = np.asarray(rows)
    picked = pa.array(rows)
    lesson = table["lesson_id"].take(picked).to_pylist()
    point = table["point_index"].take(picked).to_pylist()
    return table, [Defect("behaviour_codes", day.isoformat(), path, int(i) + 1, kind, "row", f"{lesson[j]}/{point[j]}",
                          detail) for j, (i, (kind, detail)) in enumerate(zip(rows, kinds, strict=True))]


def members(rng: np.random.Generator, day: dt.date, header: tuple[str, ...], rows: list[list[str]],
            path: str) -> tuple[list[list[str]], list[Defect]]:
    """A joining member (left_on empty) with an unknown role."""
    col = {name: i for i, name in enumerate(header)}
    joins = [i for i, r in enumerate(rows) if not r[col["left_on"]]]
    n = min(how_many(rng, "vtro_members", len(rows)), len(joins))
    defects = []
    for i in sorted(rng.choice(joins, n, replace=False)) if n else []:
        rows[i][col["role"]] = "observer"
        key = "/".join(rows[i][col[c]] for c in ("vtro_id", "teacher_id", "joined_on"))
        defects.append(Defect("vtro_members", day.isoformat(), path, int(i) + 2, "unknown_role", "row", key,
                              "role=observer"))
    return rows, defects
