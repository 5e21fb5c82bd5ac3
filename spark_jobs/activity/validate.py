"""Validate activity-log lines against the ``activity_events`` contract, natively in Spark.

The Spark schema, the required fields, patterns and allowed values all come from the
contract (:data:`jiaoyan.contracts.sources.ACTIVITY_EVENTS`) and the ``attrs.kind`` rule
from the ``event_types`` seed — no second list here.

The verdict must equal the reference reader's
(:func:`jiaoyan.contracts.validate.read_jsonl`) line by line. Spark's JSON parser is
more lenient than orjson in places (it ignores trailing content after the object,
replaces invalid UTF-8, prints ``true`` where Python prints ``True``), so the native
checks are deliberately strict: a line passes natively only when the reference would
surely accept it with the same values. Every other line is *doubtful* and goes to the
reference reader in a Python worker (:mod:`spark_jobs.activity.check`), which gives the
final verdict and, for a rejected line, the same field, value and reason as the
reference. Only doubtful lines pay the Python cost.
"""

from __future__ import annotations

import functools

import pyarrow as pa
from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jiaoyan import codes
from jiaoyan.contracts.model import Field
from jiaoyan.contracts.sources import ACTIVITY_EVENTS
from spark_jobs.activity import check

CORRUPT = "_corrupt"
# Only these timestamp spellings are decided natively (Spark's cast reads them exactly); others go to the
# reference reader.
TS_STRICT = r"^(19|20)\d{2}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$"
# Values whose text Spark and Python may spell differently (booleans, floats): doubtful.
AMBIGUOUS = r"^(true|false|-?[0-9]+\.[0-9]+([eE][-+]?[0-9]+)?|-?[0-9]+(\.[0-9]+)?[eE][-+]?[0-9]+)$"
EDGE_SPACE = r"(?U)^\s|\s$"  # the reference trims Unicode whitespace; such values are doubtful
JSON_OPTIONS = {
    "mode": "PERMISSIVE",
    "columnNameOfCorruptRecord": CORRUPT,
    "allowSingleQuotes": "false",
    "allowNonNumericNumbers": "false",
    "allowNumericLeadingZeros": "false",
    "allowUnquotedControlChars": "false",
}
MAP_TYPE = T.MapType(T.StringType(), T.StringType())
REJECT_DDL = "source_file string, line long, field string, value string, reason string, raw string"
EVENT_COLUMNS = ("event_id", "ts", "member_id", "vtro_id", "event_type", "object_id", "attrs")


def json_schema() -> T.StructType:
    """Every field read as text (typed and checked afterwards, like the reference) but attrs, plus the corrupt
    record."""
    # attrs is read as a map straight away: anything but an object there makes the line corrupt (so doubtful)
    fields = [T.StructField(f.name, MAP_TYPE if _is_map(f) else T.StringType()) for f in ACTIVITY_EVENTS.fields]
    return T.StructType([*fields, T.StructField(CORRUPT, T.StringType())])


@functools.cache
def kind_rules() -> dict[str, tuple[str, ...]]:
    """Event types that need ``attrs.kind`` → the kinds allowed (from the event_types seed)."""
    return {row["code"]: codes.seed_codes(row["kind_list"])
            for row in codes.seed_rows("event_types") if row["needs_kind"] == "true"}


def parse_lines(lines: DataFrame) -> DataFrame:
    """Lines (source_file, line, value) → per non-blank line its native verdict: the typed fields,
    ``_doubt`` and, for doubtful lines only, the raw ``value`` (so materialising it stays small)."""
    parsed = parse(lines.where(~F.col("value").rlike(r"^\s*$")))
    return parsed.select("source_file", "line", *EVENT_COLUMNS, "_doubt",
                         F.when(F.col("_doubt"), F.col("value")).alias("value"))


def decide(parsed: DataFrame, driver_limit: int) -> tuple[DataFrame, bool]:
    """One row per line with its final verdict (``status``): ``good`` rows carry the typed fields,
    ``reject`` rows the field, value, reason and raw text, as the reference reader gives them.

    Doubtful lines are few; up to ``driver_limit`` of them are read by the reference reader in the
    driver (no Python workers to start), more in the executors (``mapInArrow``). The flag says
    whether the verdicts are computed lazily on the executors (then worth materialising)."""
    native = parsed.where(~F.col("_doubt")).select(
        F.lit("good").alias("status"), "source_file", "line", *EVENT_COLUMNS,
        *(F.lit(None).cast("string").alias(name) for name in check.REJECT_FIELDS))
    doubtful = parsed.where(F.col("_doubt")).select("source_file", "line", "value")
    distributed = doubtful.count() > driver_limit
    if distributed:
        verdicts = doubtful.mapInArrow(functools.partial(check.reference_verdicts, seeds=check.seed_texts()),
                                       check.OUTPUT_DDL)
    else:
        verdicts = parsed.sparkSession.createDataFrame(
            _driver_verdicts(doubtful),
            check.OUTPUT_DDL)
    decided = verdicts.withColumn("attrs", F.from_json("attrs_json", MAP_TYPE)).select(
        "status", "source_file", "line", *EVENT_COLUMNS, *check.REJECT_FIELDS)
    return native.unionByName(decided), distributed


def _driver_verdicts(doubtful: DataFrame) -> pa.Table:
    table = doubtful.toArrow()
    if table.num_rows == 0:
        return pa.Table.from_batches([], check.output_schema())
    return pa.Table.from_batches([check.verdicts(table)])


def check_lines(lines: DataFrame, driver_limit: int = 200_000) -> DataFrame:
    """:func:`parse_lines` then :func:`decide`, for callers that do not materialise in between."""
    return decide(parse_lines(lines), driver_limit)[0]


def valid_rows(checked: DataFrame) -> DataFrame:
    """The good lines: source_file, line, the contract's fields typed, and ``kind`` (attrs.kind)."""
    return (checked.where(F.col("status") == "good").select("source_file", "line", *EVENT_COLUMNS)
            .withColumn("kind", F.col("attrs").getItem("kind")))


def reject_rows(checked: DataFrame) -> DataFrame:
    """The rejected lines, in the reference reader's reject schema."""
    return checked.where(F.col("status") == "reject").select("source_file", "line", *check.REJECT_FIELDS)


def parse(lines: DataFrame) -> DataFrame:
    """Parse JSON natively; typed contract columns plus ``_doubt`` (True: ask the reference)."""
    j = F.from_json(F.col("value"), json_schema(), JSON_OPTIONS)
    df = lines.withColumn("_j", j)
    typed: dict[str, Column] = {}
    ok: list[Column] = [_json_ok()]
    for spec in ACTIVITY_EVENTS.fields:
        value, checks = _field(spec, F.col("_j").getField(spec.name))
        typed[spec.name] = value
        ok.extend(checks)
    typed["kind"] = typed["attrs"].getItem("kind")
    df = df.select("source_file", "line", "value", *(c.alias(n) for n, c in typed.items()), *[
        c.alias(f"_ok{i}") for i, c in enumerate(ok)])
    all_ok = functools.reduce(lambda a, b: a & b, [F.col(f"_ok{i}") for i in range(len(ok))])
    return df.withColumn("_doubt", ~(all_ok & _kind_ok())).drop(*[f"_ok{i}" for i in range(len(ok))])


def _json_ok() -> Column:
    """The line is one well-formed JSON object the way orjson would read it (strictly)."""
    value = F.col("value")
    return _true(
        F.col("_j").isNotNull()
        & F.col("_j").getField(CORRUPT).isNull()
        & F.expr("is_valid_utf8(value)")
        & value.rlike(r"^\s*\{") & value.rlike(r"\}\s*$")
        & ~value.rlike(r"\}\s*\{")  # a second object glued on: Spark reads the first and ignores the rest
        # trailing "}" or "]" after the object are ignored by Spark too: openers and closers must balance
        & (F.regexp_count(value, F.lit(r"[{\[]")) == F.regexp_count(value, F.lit(r"[}\]]")))
        # any escape (\", \n, \u2028, …): attrs may be a JSON string whose text Spark would parse as the
        # map, or a value may hide a line break that Java's "$" lets through; rare, so all doubtful
        & (F.instr(value, "\\") == 0)
    )


def _field(spec: Field, raw: Column) -> tuple[Column, list[Column]]:
    """The typed value of a field and the checks that must all hold for a native verdict."""
    if spec.type.equals(ACTIVITY_EVENTS.field("ts").type):
        return _timestamp(spec, raw)
    if _is_map(spec):
        return _map(raw)
    value = F.when(raw != "", raw)
    checks = []
    # a pattern or a list of allowed values already excludes edge spaces and ambiguous spellings
    if spec.pattern is None and spec.allowed is None:
        checks.append(_null_ok(~raw.rlike(EDGE_SPACE)))
    if spec.allowed is None:
        checks.append(_null_ok(~raw.rlike(AMBIGUOUS)))
    if spec.required:
        checks.append(value.isNotNull())
    if spec.allowed is not None:
        checks.append(_null_ok(value.isin(list(spec.allowed))))
    if spec.pattern is not None:
        checks.append(_null_ok(value.rlike(_java_pattern(spec.pattern))))
    return value, checks


def _java_pattern(pattern: str) -> str:
    """The contract's pattern (RE2 semantics, as Arrow applies it) for Java: a final ``$`` there means the
    end of the text, while Java's also matches before a final line break."""
    return pattern[:-1] + r"\z" if pattern.endswith("$") and not pattern.endswith(r"\$") else pattern


def _timestamp(spec: Field, raw: Column) -> tuple[Column, list[Column]]:
    parsed = F.when(raw.rlike(TS_STRICT), raw.try_cast("timestamp"))  # the cast is exact on the strict form
    checks = [_null_ok(raw.rlike(TS_STRICT) & parsed.isNotNull())]
    if spec.required:
        checks.append(parsed.isNotNull())
    return parsed, checks


def _map(parsed: Column) -> tuple[Column, list[Column]]:
    """attrs, already a map of strings: values Python would spell differently (null → "None", nested
    objects, booleans, floats) are doubtful."""
    odd = F.exists(F.map_values(parsed), lambda v: v.isNull() | v.rlike(AMBIGUOUS) | v.startswith("{")
                   | v.startswith("["))
    return parsed, [_null_ok(~odd)]


def _is_map(spec: Field) -> bool:
    return str(spec.type).startswith("map")


def _kind_ok() -> Column:
    """attrs.kind is present and allowed for event types that need it."""
    kind = F.col("kind")
    condition = F.lit(True)
    for event_type, allowed in kind_rules().items():
        condition = F.when(F.col("event_type") == event_type, _true(kind.isin(list(allowed)))).otherwise(condition)
    return condition


def _true(condition: Column) -> Column:
    """A null check result counts as failed."""
    return F.coalesce(condition, F.lit(False))


def _null_ok(condition: Column) -> Column:
    """A check on a value that may be absent: an absent value passes (required is checked apart)."""
    return F.coalesce(condition, F.lit(True))
