"""The raw gate's suites, built from the data contracts for one night's batch.

Per raw table (``raw.<contract>``, only the rows of ``_batch_id = <batch>``):

- the contract itself, field by field: the table's columns and their types, required values, allowed codes
  (the contract's, which come from the seeds), ranges, patterns — so a contract change reaches the gate
  with no edit here;
- its key unique in the batch (across all the batch's files), student shares summing to 1, points
  contiguous and complete per lesson run, references to reference data that may sit in any batch, and the
  contract notes that are rules (one of school/university, codes of a region's level, …).

Point tables (behaviour and gold codes) are aggregated once per gate run into ``ops.gate_point_runs`` (one row
per lesson run: rows, distinct points, first and last point, first file and line; :func:`record_point_runs`):
the key, contiguity, completeness and lesson-id rules read those runs, not the night's million points again.

The raw gate also validates the batch as a whole (``raw.batch``, on ``ops.batches``): it loaded, raw still
holds what the loader wrote, its lessons got codes, no earlier batch is held, and the model's behaviour
shares did not shift (:mod:`expectations.drift`).
"""

from __future__ import annotations

import psycopg
from great_expectations import expectations as gxe
from great_expectations.expectations import Expectation
from great_expectations.expectations.row_conditions import Column

from expectations import drift
from expectations.checks import blocking, literal, rule, values_list
from expectations.project import BATCH_ASSET, RAW_SOURCE
from expectations.settings import get_gate_settings
from expectations.suites import Suite
from jiaoyan import codes
from jiaoyan.contracts import ALL_CONTRACTS, LAKE_CONTRACTS, Contract, Field, by_name, lake_by_name
from jiaoyan.contracts import sources as src
from jiaoyan.warehouse.migrate import RAW_SYSTEM_COLUMNS, pg_type

# Repeats are part of the activity log's contract (the first by ts is kept downstream), as in the loader.
KEYS_MAY_REPEAT = frozenset({src.ACTIVITY_EVENTS.name})
# Reference data a field points to, by the field's name: the contracts name their ids consistently.
REFERENCES: dict[str, tuple[str, str]] = {
    **dict.fromkeys(("teacher_id", "member_id", "observer_id", "coder_id", "leader_teacher_id", "creator_id"),
                    (src.TEACHERS.name, "teacher_id")),
    "school_id": (src.SCHOOLS.name, "school_id"),
    "university_id": (src.UNIVERSITIES.name, "university_id"),
    **dict.fromkeys(("vtro_id", "host_vtro_id"), (src.VTROS.name, "vtro_id")),
    "lesson_id": (src.LESSON_MANIFEST.name, "lesson_id"),
    **dict.fromkeys(("district_code", "province_code", "parent_code"), (src.REGIONS.name, "region_code")),
}
SOURCE_NAMES = frozenset(c.name for c in ALL_CONTRACTS)
_WHY_CONTRACT = ("the loader quarantines rows that break the contract, so a breach here means rows reached raw "
                 "another way (a reload by hand, a changed contract): nothing downstream can trust them")

POINT_RUNS = "ops.gate_point_runs"  # per lesson run of a point table, recorded once per raw gate run (migration 0016)


def contract_of(table: str) -> Contract:
    return by_name(table) if table in SOURCE_NAMES else lake_by_name(table)


def raw_suite(table: str, batch_id: str) -> Suite:
    """Contract and integrity expectations for the rows of ``batch_id`` in ``raw.<table>``."""
    contract = contract_of(table)
    suite = Suite(f"raw.{table}", RAW_SOURCE, table)
    suite.add(*schema_checks(contract), *field_checks(contract, batch_id))
    if table not in KEYS_MAY_REPEAT:
        suite.add(key_unique(contract, batch_id))
    suite.add(*point_checks(contract, batch_id), *reference_checks(contract, batch_id))
    suite.add(*NOTE_RULES.get(table, lambda _b: [])(batch_id))
    return suite


def batch_suite(batch_id: str) -> Suite:
    """Expectations on the batch as a whole (asset ``ops.batches``, its one row)."""
    b = literal(batch_id)
    return Suite("raw.batch", RAW_SOURCE, BATCH_ASSET).add(
        batch_loaded(b), batch_reconciled(b), *lessons_coded(b), earlier_batches_held(b),
        *drift.behaviour_share_checks(batch_id))


# --- the contract, field by field -----------------------------------------------------------------------
def schema_checks(contract: Contract) -> list:
    columns = [*contract.field_names, *(name for name, _ in RAW_SYSTEM_COLUMNS)]
    expected = [(f.name, pg_type(f.type), "yes" if f.required else "no") for f in contract.fields]
    # NOT NULL is the database's job for every row; the gate checks the constraint is there (one query,
    # not one expectation per column)
    types = f"""
        select t.column_name, t.expected, format_type(a.atttypid, a.atttypmod) as found,
               t.required, a.attnotnull as not_null
        from {values_list(expected, ("column_name", "expected", "required"))}
        left join pg_attribute as a
            on a.attrelid = 'raw.{contract.name}'::regclass and a.attname = t.column_name and not a.attisdropped
        where (a.atttypid is distinct from t.expected::regtype::oid
               or (t.required = 'yes' and a.attnotnull is not true))
          and exists (select 1 from {{batch}} as b)"""
    return [
        blocking(gxe.ExpectTableColumnsToMatchSet(column_set=columns, exact_match=True), "columns",
                 "a column the contract does not know, or one it needs that is missing, means the table and the "
                 "contract have drifted apart (a migration not run)"),
        rule("column_types", types,
             f"the columns of raw.{contract.name} have the contract's types, and NOT NULL where it requires a value",
             "a type the contract does not expect changes what every model computes; without the constraint a "
             "required value could be missing from any row"),
    ]


def field_checks(contract: Contract, batch_id: str) -> list:
    scope = Column("_batch_id") == batch_id
    checks = []
    for f in contract.fields:
        if f.allowed:
            checks.append(blocking(gxe.ExpectColumnValuesToBeInSet(column=f.name, value_set=list(f.allowed),
                                                                   row_condition=scope),
                                   f"{f.name}.allowed", _WHY_CONTRACT))
        if f.min is not None or f.max is not None:
            checks.append(blocking(gxe.ExpectColumnValuesToBeBetween(column=f.name, min_value=f.min,
                                                                     max_value=f.max, row_condition=scope),
                                   f"{f.name}.range", _WHY_CONTRACT))
        if f.pattern:
            checks.append(pattern_rule(contract, f, batch_id))
    return checks


def distinct_values(contract: Contract, column: str, batch_id: str) -> str:
    """The batch's distinct values of a column with their row count and first file and line. A point table's
    run-key column comes from the recorded lesson runs (thousands of rows, not a night's points). The ``offset 0``
    fences the grouping: without it the planner pushes the caller's test (a regex) down into the scan, per row."""
    contract_run = _run_key(contract) if is_point_table(contract) else []
    if column in contract_run:
        return f"""
            select s.{column}, sum(s.n_rows) as rows, min(s._source_file) as _source_file, min(s._line) as _line
            from ({_recorded_runs(contract, batch_id)}) as s
            group by s.{column}
            offset 0"""
    return f"""
        select b.{column}, count(*) as rows, min(b._source_file) as _source_file, min(b._line) as _line
        from {{batch}} as b
        where b._batch_id = {literal(batch_id)} and b.{column} is not null
        group by b.{column}
        offset 0"""


def pattern_rule(contract: Contract, f: Field, batch_id: str) -> Expectation:
    """The pattern, tested on each distinct value (:func:`distinct_values`): a regular expression per row costs
    seconds on a night's points (PostgreSQL's regex engine), per distinct id a few milliseconds."""
    pattern = f.pattern.replace("'", "''")  # type: ignore[union-attr]
    query = f"""
        select v.{f.name}, v.rows, v._source_file, v._line
        from ({distinct_values(contract, f.name, batch_id)}) as v
        where v.{f.name}::text !~ '{pattern}'"""
    return rule(f"{f.name}.pattern", query, f"{f.name} matches {f.pattern}", _WHY_CONTRACT)


def key_unique(contract: Contract, batch_id: str) -> Expectation:
    b = literal(batch_id)
    key = ", ".join(f"b.{k}" for k in contract.key)
    if is_point_table(contract):
        # a point's key repeats only within its lesson run: the runs with fewer distinct points than rows
        # (recorded once per gate run), then their repeated points; grouping a night's points by the whole key
        # is the slow way (seconds, spilling to disk)
        flagged = f"select s.run_key from {POINT_RUNS} as s where s.batch_id = {b} and s.contract = " \
                  f"'{contract.name}' and s.n_rows > s.n_points"
        scope = f"{_run_array('b', _run_key(contract))} in ({flagged})"
    else:
        flagged = f"""
            select {", ".join(f"d.{k}" for k in contract.key)} from raw.{contract.name} as d where d._batch_id = {b}
            group by {", ".join(f"d.{k}" for k in contract.key)} having count(*) > 1"""
        scope = f"({key}) in ({flagged})"
    query = f"""
        select {key}, count(*) as copies,
               string_agg(b._source_file || ':' || coalesce(b._line::text, '?'), ', '
                          order by b._source_file, b._line) as rows
        from {{batch}} as b
        where b._batch_id = {b} and {scope}
        group by {key}
        having count(*) > 1"""
    return rule("key.unique", query, f"one row per key ({', '.join(contract.key)}) in the batch, across its files",
                "two rows for one key (two teacher behaviours for one point, two scores for one leaf) make every "
                "count and mean built on them wrong")


# --- points: shares, contiguity, completeness -------------------------------------------------------------
def is_point_table(contract: Contract) -> bool:
    return "point_index" in contract.key


def record_point_runs(conn: psycopg.Connection, batch_id: str, tables: list[str]) -> None:
    """Aggregate each point table's batch rows per lesson run once, into ``ops.gate_point_runs``: the key,
    contiguity, completeness and lesson-id rules read these runs instead of each grouping the night's points."""
    point_tables = [t for t in tables if is_point_table(contract_of(t))]
    for table in point_tables:
        run = _run_key(contract_of(table))
        with conn.transaction():
            conn.execute(f"delete from {POINT_RUNS} where batch_id = %(batch)s and contract = %(contract)s",
                         {"batch": batch_id, "contract": table})
            conn.execute(f"""
                insert into {POINT_RUNS} (batch_id, contract, run_key, n_rows, n_points, first_index, last_index,
                                          _source_file, _line)
                select %(batch)s, %(contract)s, {_run_array("b", run)}, count(*), count(distinct b.point_index),
                       min(b.point_index), max(b.point_index), min(b._source_file), min(b._line)
                from raw.{table} as b
                where b._batch_id = %(batch)s
                group by {", ".join(f"b.{k}" for k in run)}""", {"batch": batch_id, "contract": table})
    if point_tables:
        conn.execute("select ops.analyze_gate_point_runs()")  # fresh statistics: the rules join these runs


def _run_array(alias: str, run: list[str]) -> str:
    """A lesson run's key as the text array ``ops.gate_point_runs`` stores."""
    return "array[" + ", ".join(f"{alias}.{k}::text" for k in run) + "]"


def _recorded_runs(contract: Contract, batch_id: str, where: str = "true") -> str:
    """The batch's recorded lesson runs of a point table, the run key unpacked into its columns."""
    columns = ", ".join(f"s.run_key[{i}] as {k}" for i, k in enumerate(_run_key(contract), start=1))
    return f"""
        select {columns}, s.n_rows, s.n_points, s.first_index, s.last_index, s._source_file, s._line
        from {POINT_RUNS} as s
        where s.batch_id = {literal(batch_id)} and s.contract = '{contract.name}' and ({where})
          and exists (select 1 from {{batch}} as b where b._batch_id = {literal(batch_id)})"""


def point_checks(contract: Contract, batch_id: str) -> list:
    checks = []
    names = set(contract.field_names)
    if set(codes.share_columns()) <= names:
        checks.append(shares_sum(contract, batch_id))
    if "point_index" in contract.key:
        checks += [points_contiguous(contract, batch_id), points_complete(contract, batch_id)]
    return checks


def shares_sum(contract: Contract, batch_id: str) -> Expectation:
    tolerance = get_gate_settings().share_sum_tolerance
    tolerance = src.SHARE_SUM_TOLERANCE if tolerance is None else tolerance
    total = " + ".join(f"b.{c}::float8" for c in codes.share_columns())
    query = f"""
        select b.lesson_id, b.point_index, round(({total})::numeric, 4) as share_sum, b._source_file, b._line
        from {{batch}} as b
        where b._batch_id = {literal(batch_id)} and abs(({total}) - 1) > {tolerance}"""
    return rule("shares.sum_to_one", query, f"the five student shares of each point sum to 1 (± {tolerance})",
                "shares that do not sum to 1 distort every participation, attention and rose-chart figure")


def _run_key(contract: Contract) -> list[str]:
    return [k for k in contract.key if k != "point_index"]


def _quarantined_points(contract: Contract, batch_id: str) -> str:
    """The batch's quarantined points of this contract (lesson, point), read from the rows' raw text."""
    return f"""
        select substring(q.raw from '"lesson_id":"([^"]*)"') as lesson_id,
               substring(q.raw from '"point_index":"?([0-9]+)')::int as point_index
        from quarantine.rejected_rows as q
        where q.batch_id = {literal(batch_id)} and q.contract = '{contract.name}'"""


def points_contiguous(contract: Contract, batch_id: str) -> Expectation:
    run = _run_key(contract)
    on = " and ".join(f"x.{k}::text = r.{k}" for k in run)
    b = literal(batch_id)
    query = f"""
        with runs as ({_recorded_runs(contract, batch_id, "s.n_points <> s.last_index + 1 or s.first_index <> 0")}
        ),
        missing as (
            select {", ".join(f"r.{k}" for k in run)}, i.point_index
            from runs as r cross join lateral generate_series(0, r.last_index) as i (point_index)
            except
            select {", ".join(f"x.{k}::text" for k in run)}, x.point_index
            from raw.{contract.name} as x
            where x._batch_id = {b} and exists (select 1 from runs as r where {on})
        )
        select {", ".join(f"m.{k}" for k in run)}, count(*) as missing_points, min(m.point_index) as first_missing,
               min(r._source_file) as _source_file
        from missing as m
        join runs as r on {" and ".join(f"r.{k} = m.{k}" for k in run)}
        where not exists (
            select 1 from ({_quarantined_points(contract, batch_id)}) as q
            where q.lesson_id = m.lesson_id and q.point_index = m.point_index)
        group by {", ".join(f"m.{k}" for k in run)}"""
    return rule("points.contiguous", query,
                "each lesson's points run 0, 1, …, n−1 without a gap (points the loader quarantined excepted)",
                "a gap that no quarantined row explains means points were lost; Rt, Ch and the timelines of that "
                "lesson would be computed on a different lesson")


def points_complete(contract: Contract, batch_id: str) -> Expectation:
    run = _run_key(contract)
    tolerance = get_gate_settings().missing_points_tolerance
    interval = codes.SAMPLING_INTERVAL_S
    by_run = ""
    if {"model_name", "model_version"} <= set(run):
        by_run = f"""
        left join (
            select distinct on (lr.lesson_id, lr.model_name, lr.model_version)
                   lr.lesson_id, lr.model_name, lr.model_version, lr.n_points
            from raw.{src.LESSON_RUNS.name} as lr
            where lr.n_points is not null and lr.lesson_id in (select lesson_id from runs)
            order by lr.lesson_id, lr.model_name, lr.model_version, lr._loaded_at desc
        ) as lr on lr.lesson_id = r.lesson_id and lr.model_name = r.model_name and lr.model_version = r.model_version"""
    expected = "coalesce(lr.n_points, floor(mf.duration_s / {interval}))" if by_run else \
        "floor(mf.duration_s / {interval})"
    expected = expected.format(interval=interval)
    # history is read by hash joins over lesson-sized tables (runs, manifest), never per row
    query = f"""
        with runs as (
            select {", ".join(f"s.{k}" for k in run)}, s.n_rows as n_points, s._source_file
            from ({_recorded_runs(contract, batch_id)}) as s
        ),
        quarantined as (
            select lesson_id, count(*) as n from ({_quarantined_points(contract, batch_id)}) as q group by lesson_id
        ),
        expected as (
            select r.*, {expected} as expected_points, coalesce(q.n, 0) as quarantined_points
            from runs as r
            left join quarantined as q on q.lesson_id = r.lesson_id{by_run}
            left join (
                select distinct on (m.lesson_id) m.lesson_id, m.duration_s
                from raw.{src.LESSON_MANIFEST.name} as m
                where m.lesson_id in (select lesson_id from runs)
                order by m.lesson_id, m._loaded_at desc
            ) as mf on mf.lesson_id = r.lesson_id
        )
        select {", ".join(run)}, n_points, quarantined_points, expected_points::int as expected_points, _source_file
        from expected
        where expected_points - n_points - quarantined_points > greatest(1, {tolerance} * expected_points)"""
    return rule("points.complete", query,
                f"each lesson run has its expected points (the lesson run's n_points, else floor(duration / "
                f"{interval:g} s)), quarantined points excepted, within {tolerance:.0%}",
                "a lesson that lost points (half a night's codes) would be published with metrics of a "
                "fragment of the lesson")


# --- references ----------------------------------------------------------------------------------------
def reference_checks(contract: Contract, batch_id: str) -> list:
    checks = []
    is_source = contract.name in SOURCE_NAMES and contract.name not in KEYS_MAY_REPEAT
    for f in contract.fields:
        target = REFERENCES.get(f.name)
        if target is None or (target[0] == contract.name and f.name in contract.key):
            continue
        table, column = target
        # the night's distinct ids first, then the anti-join: a few thousand probes, not one per point
        query = f"""
            select v.{f.name}, v.rows, v._source_file, v._line
            from ({distinct_values(contract, f.name, batch_id)}) as v
            where not exists (select 1 from raw.{table} as t where t.{column} = v.{f.name})"""
        why = ("reference data may arrive in any batch, so a reference that a later reload or correction broke "
               "only shows across batches; a lesson or score of an unknown teacher, school or lesson cannot be "
               "placed in any portrait or region") if is_source else (
               "activity facts of an unknown member or office are noise in the annual figures, not a reason to "
               "hold the night's lessons: alert, publish")
        checks.append(rule(f"{f.name}.references", query, f"every {f.name} is a known raw.{table}.{column}",
                           why, blocking=is_source))
    return checks


# --- contract notes that are rules ------------------------------------------------------------------------
def _teachers(batch_id: str) -> list:
    query = f"""
        select b.teacher_id, b.school_id, b.university_id, b._source_file, b._line
        from {{batch}} as b
        where b._batch_id = {literal(batch_id)} and (b.school_id is null) = (b.university_id is null)"""
    return [rule("school_or_university", query, "exactly one of school_id and university_id is set",
                 "a teacher must be either a school teacher (portraits) or a university teacher (offices)")]


def _regions(batch_id: str) -> list:
    query = f"""
        select b.region_code, b.level, b.parent_code, b._source_file, b._line
        from {{batch}} as b
        where b._batch_id = {literal(batch_id)} and not (
            (b.level = 'province' and b.region_code like '%0000' and b.parent_code is null)
            or (b.level = 'city' and b.region_code like '%00' and b.region_code not like '%0000'
                and b.parent_code = left(b.region_code, 2) || '0000')
            or (b.level = 'district' and b.region_code not like '%00'
                and b.parent_code = left(b.region_code, 4) || '00'))"""
    return [rule("code_matches_level", query,
                 "a province's code ends in 0000, a city's in 00, a district's first four digits are its city's",
                 "region portraits roll districts up to cities and provinces by these codes")]


def _vtro_members(batch_id: str) -> list:
    query = f"""
        select b.vtro_id, b.teacher_id, b.joined_on, b.left_on, b._source_file, b._line
        from {{batch}} as b
        where b._batch_id = {literal(batch_id)} and b.left_on < b.joined_on"""
    return [rule("left_after_joined", query, "a member leaves an office on or after joining it",
                 "membership spans drive members and active members in the annual report")]


def _rubric_indicators(batch_id: str) -> list:
    query = f"""
        select b.rubric_id, b.version, b.indicator_id, b.parent_id, b._source_file, b._line
        from {{batch}} as b
        where b._batch_id = {literal(batch_id)} and b.parent_id is not null and not exists (
            select 1 from raw.{src.RUBRIC_INDICATORS.name} as p
            where p.rubric_id = b.rubric_id and p.version = b.version and p.indicator_id = b.parent_id)"""
    return [rule("parent_exists", query, "an indicator's parent is an indicator of the same rubric version",
                 "scores roll up the indicator tree; an orphan leaf drops out of every level-1 score")]


def _rubric_scores(batch_id: str) -> list:
    query = f"""
        with leaves as (
            select distinct on (i.rubric_id, i.indicator_id) i.rubric_id, i.indicator_id, i.max_score
            from raw.{src.RUBRIC_INDICATORS.name} as i
            order by i.rubric_id, i.indicator_id, i.version desc, i._loaded_at desc
        )
        select b.lesson_id, b.rubric_id, b.indicator_id, b.observer_id, b.score, l.max_score,
               b._source_file, b._line
        from {{batch}} as b
        left join leaves as l on l.rubric_id = b.rubric_id and l.indicator_id = b.indicator_id
        where b._batch_id = {literal(batch_id)} and (l.max_score is null or b.score > l.max_score + 1e-9)"""
    return [rule("score_within_max", query,
                 "every score is for a known leaf of its rubric and at most the indicator's max_score",
                 "a score above its maximum pushes a lesson into a band it did not earn in every rubric report")]


def _behaviour_codes(batch_id: str) -> list:
    teachers = [b for b in codes.behaviours() if b.actor == "teacher"]
    students = sorted((b for b in codes.behaviours() if b.actor == "student"), key=lambda b: b.position)
    s_teachers = ", ".join(f"'{b.code}'" for b in teachers if b.st_code == "S") or "null"
    top = "greatest(" + ", ".join(f"b.{s.share_column}" for s in students) + ")"
    dominant = " ".join(f"when b.{s.share_column} >= {top} then '{s.st_code}'" for s in students)
    query = f"""
        select b.lesson_id, b.model_name, b.model_version, b.point_index, b.st_code, b._source_file, b._line
        from {{batch}} as b
        where b._batch_id = {literal(batch_id)} and b.st_code <> case
            when b.teacher_behaviour in ({s_teachers}) then 'S' else case {dominant} end end"""
    return [rule("st_code_matches_scheme", query,
                 "each point's S/T code is the one the coding scheme (dbt/seeds/behaviour_codes.csv) gives",
                 "dbt recomputes S/T from the seed, so a difference changes no metric; it means the model and the "
                 "scheme disagree (a mapping changed since the codes were made) — worth an alert, not a hold",
                 blocking=False)]


def _lesson_runs(batch_id: str) -> list:
    query = f"""
        select b.lesson_id, b.model_name, b.model_version, b.status, b.n_points, b.reason, b._source_file, b._line
        from {{batch}} as b
        where b._batch_id = {literal(batch_id)}
          and ((b.status = 'coded' and coalesce(b.n_points, 0) < 1)
               or (b.status = 'quarantined' and b.reason is null))"""
    return [rule("status_consistent", query,
                 "a coded run has points; a quarantined run says why",
                 "the run record is how a lesson without codes is explained")]


def _lake_dates(table: str) -> object:
    def checks(batch_id: str) -> list:
        query = f"""
            select b.fact_date, count(*) as rows, min(b._source_file) as _source_file
            from {{batch}} as b
            where b._batch_id = {literal(batch_id)} and b.fact_date > ({literal(batch_id)})::date + 1
            group by b.fact_date"""
        return [rule("fact_date_not_future", query, "no activity fact is dated after the batch's night",
                     "a future day means a clock or time-zone error in the log; the facts are kept and the "
                     "annual figures are barely touched: alert", blocking=False)]
    return checks


NOTE_RULES = {
    src.TEACHERS.name: _teachers,
    src.REGIONS.name: _regions,
    src.VTRO_MEMBERS.name: _vtro_members,
    src.RUBRIC_INDICATORS.name: _rubric_indicators,
    src.RUBRIC_SCORES.name: _rubric_scores,
    src.BEHAVIOUR_CODES.name: _behaviour_codes,
    src.LESSON_RUNS.name: _lesson_runs,
    **{c.name: _lake_dates(c.name) for c in LAKE_CONTRACTS},
}


# --- the batch as a whole ----------------------------------------------------------------------------------
def batch_loaded(b: str) -> Expectation:
    query = f"""
        select x.batch_id, l.status, l.error
        from {{batch}} as x
        left join lateral (
            select status, error from ops.loads where batch_id = x.batch_id order by load_id desc limit 1
        ) as l on true
        where x.batch_id = {b} and l.status is distinct from 'succeeded'"""
    return rule("batch.loaded", query, "the batch's latest load succeeded",
                "a half-loaded batch has some tables of the night and not others")


def batch_reconciled(b: str) -> Expectation:
    counts = " union all ".join(
        f"select '{c.name}' as contract, count(*) as n from raw.{c.name} where _batch_id = {b}"
        for c in ALL_CONTRACTS)
    query = f"""
        select t.contract, t.rows_loaded, coalesce(r.n, 0) as rows_in_raw
        from {{batch}} as x
        join ops.load_tables as t on t.batch_id = x.batch_id
        left join ({counts}) as r on r.contract = t.contract
        where x.batch_id = {b} and t.contract in ({", ".join(f"'{c.name}'" for c in ALL_CONTRACTS)})
          and t.rows_loaded <> coalesce(r.n, 0)"""
    return rule("batch.reconciled", query,
                "raw holds exactly the rows the loader recorded for the batch (ops.load_tables), table by table",
                "rows that vanished from raw after the load (an emptied table, half the points gone) or appeared "
                "there without the loader are lost or unvouched data")


def lessons_coded(b: str) -> list:
    # codes come with or after their lesson's manifest (the loader refuses codes of unknown lessons), so only
    # batches from this one on are read, through the _batch_id index: never a scan of every point ever loaded
    coded = f"select distinct c.lesson_id from raw.{src.BEHAVIOUR_CODES.name} as c where c._batch_id >= {b}"
    uncoded = f"""
        select m.lesson_id, m.video_uri, m._source_file, m._line
        from {{batch}} as x
        join raw.{src.LESSON_MANIFEST.name} as m on m._batch_id = x.batch_id
        left join ({coded}) as c on c.lesson_id = m.lesson_id
        where x.batch_id = {b} and c.lesson_id is null
          and not exists (select 1 from raw.{src.LESSON_RUNS.name} as r
                          where r.lesson_id = m.lesson_id and r.status = 'quarantined')"""
    none_coded = f"""
        select x.batch_id, count(*) as lessons
        from {{batch}} as x
        join raw.{src.LESSON_MANIFEST.name} as m on m._batch_id = x.batch_id
        where x.batch_id = {b}
        group by x.batch_id
        having not exists (select 1 from raw.{src.BEHAVIOUR_CODES.name} as c
                           where c._batch_id >= {b} and c.lesson_id in (
                               select m2.lesson_id from raw.{src.LESSON_MANIFEST.name} as m2
                               where m2._batch_id = {b}))"""
    return [
        rule("batch.codes_present", none_coded,
             "a night with lessons in its manifest has behaviour codes for them",
             "no codes at all for a night's lessons is an empty critical table (inference or its copy failed): "
             "the night's portraits would silently miss every lesson"),
        rule("batch.lessons_coded", uncoded,
             "every lesson of the night's manifest has codes, or a quarantined video run that says why",
             "a few lessons without codes are incomplete, not wrong: publish the others and alert",
             blocking=False),
    ]


def earlier_batches_held(b: str) -> Expectation:
    query = f"""
        select h.batch_id, h.gate, h.status, h.run_id
        from {{batch}} as x
        join lateral (
            select distinct on (r.batch_id, r.gate) r.batch_id, r.gate, r.status, r.run_id
            from ops.gate_runs as r
            where r.batch_id < x.batch_id and r.status <> 'running'
            order by r.batch_id, r.gate, r.run_id desc
        ) as h on true
        where x.batch_id = {b} and h.status in ('failed', 'error')"""
    return rule("batch.no_earlier_batch_held", query,
                "no earlier batch is held by a failed gate (fix and rerun it, or accept it)",
                "dbt builds from everything in raw, so tonight's build would publish a held batch's rows too")
