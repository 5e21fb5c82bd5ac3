"""Backfill: many nightly batches in one pass, with the lake and run files the nights give one by one.

``jiaoyan spark activity --from D1 --to D2`` processes every night of the range in one
SparkSession and, mostly, one pass: all the nights' log files are read and validated
at once, the events deduplicated across nights, each dataset's affected days rewritten
once, and each night's quarantine folder and run file written as its own run would
have. The result equals running the nights one by one in order (``run_batch``): the
same rows in every dataset and day, the same quarantine, the same run files — so the
loader loads the batches one by one as usual. What makes that exact:

- **Deduplication** is a fold over the nights in order, per event id, done in the
  driver for the few ids seen more than once (the rest are simply kept). At night
  ``k`` the night's copies are ranked with the stored copies a nightly run would see —
  those on the days the night's events fall on and in its look-back window — by
  (ts, batch, file, line), exactly like :func:`spark_jobs.activity.dedupe.rank`. The
  fold gives each night's counts and changed days, and each copy's life: the night it
  was kept and the night a re-sent earlier copy replaced it.
- **Day facts, trajectories** depend only on the final events of their days (a
  trajectory row on the events up to it), so they are computed once for every day any
  night changed. **Term scores** are computed per term with the batch date of the last
  night that affected it (``computed_through``).
- **Activities** are rebuilt once, each with the teacher versions the last night that
  touched it knew (:func:`spark_jobs.activity.reference.employer_on_day` ``as_of``).
- **Run files** list per night what its own run would have rewritten: the day grains
  its changed days; activities the old and new day of each activity it touched (from the
  copies' lives); trajectories the days from its first changed day on that had events
  by then; and the terms those reach.

The state is the lake without the range's own rows (like a rerun of one night leaves
out the night's rows), so rerunning a backfill rewrites the same days with the same
rows. A backfill must come after every stored batch: a lake with run files of later
nights is refused (rerun those nights one by one instead).
"""

from __future__ import annotations

import bisect
import datetime as dt
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jiaoyan import lake, landing, log
from jiaoyan.contracts import lake as contracts
from jiaoyan.contracts.lake import FACT_DATE
from jiaoyan.errors import UserError
from jiaoyan.settings import get_settings
from spark_jobs import lake_io
from spark_jobs.activity import activities, facts, read, reference, research, validate
from spark_jobs.activity.dedupe import fact_date
from spark_jobs.activity.job import (
    JOB,
    RunReport,
    _materialise,
    _previous_days,
    read_changed_events,
    run_settings,
    write_day_facts,
    write_run_file,
)
from spark_jobs.session import SparkSettings

LOG = log.get(__name__)
COLUMNS = [f.name for f in contracts.ACTIVITY_EVENTS_CLEAN.fields]
KEY = ["event_id", "batch_id", "source_file", "line"]  # one copy of an event
STAGING = "_backfill"  # below quarantine/activity/, while the nights' folders are written


@dataclass
class Night:
    """What the fold and the counts say about one night (``k`` from 1, in date order)."""

    k: int
    date: dt.date
    valid: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    new: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    in_batch: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    earlier: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    replaced: dict[dt.date, int] = field(default_factory=lambda: defaultdict(int))
    own: set[dt.date] = field(default_factory=set)  # days the night's rows sit on (a rerun)

    @property
    def changed(self) -> list[dt.date]:
        return sorted({d for d, n in self.new.items() if n} | {d for d, n in self.replaced.items() if n} | self.own)


def run_batches(spark: SparkSession, dates: list[dt.date], landing_uri: str | None = None,
                lake_uri: str | None = None, settings: SparkSettings | None = None) -> list[RunReport]:
    """Process the nightly batches of ``dates`` (in date order) as if run one by one; a report per night."""
    started = time.monotonic()
    settings = settings or SparkSettings()
    landing_uri = landing_uri or get_settings().landing_uri
    lake_uri = lake.root(lake_uri)
    timezone = get_settings().timezone
    dates = sorted(set(dates))
    if not dates:
        raise UserError("no nights to backfill")
    _refuse_later_runs(lake_uri, dates[-1])
    ids = [d.isoformat() for d in dates]
    nights = [Night(k, d) for k, d in enumerate(dates, start=1)]
    reports = [RunReport(batch_id=b, settings=run_settings(settings, timezone)) for b in ids]
    files = [read.list_log_files(landing_uri, d) for d in dates]
    for report, found in zip(reports, files, strict=True):
        report.files = [f.source for f in found]
    LOG.info("backfill %s..%s: %d night(s), %d activity file(s)", ids[0], ids[-1], len(ids), sum(map(len, files)))
    previous = set().union(*(_previous_days(lake_uri, b) for b in ids))

    materialise = lambda frame: _materialise(frame, settings)  # noqa: E731
    staging = landing.join(lake_uri, "activity", STAGING)  # big intermediate frames, as Parquet
    stage = lambda frame, name: _stage(spark, frame, f"{staging}/{name}")  # noqa: E731
    all_files = [f for found in files for f in found]
    quarantined: dict[str, int] = {}
    if all_files:
        parsed = stage(validate.parse_lines(read.read_lines(spark, all_files, with_batch=True)), "parsed")
        checked, distributed = validate.decide(parsed, settings.driver_check_max_lines)
        if distributed:
            checked = stage(checked, "checked")
        quarantined = _write_rejects(spark, read.split_batch(validate.reject_rows(checked)), lake_uri, ids)
        index = F.create_map(*(F.lit(x) for b, n in zip(ids, nights, strict=True) for x in (b, n.k)))
        new = stage(read.split_batch(validate.valid_rows(checked))
                    .withColumn(FACT_DATE, fact_date(F.col("ts"), timezone))
                    .select(*COLUMNS, index[F.col("batch_id")].cast("int").alias("_k")), "new")
    else:
        _write_rejects(spark, None, lake_uri, ids)
        new = spark.createDataFrame([], lake_io.spark_schema(contracts.ACTIVITY_EVENTS_CLEAN)).withColumn(
            "_k", F.lit(0))
    for row in new.groupBy("_k", FACT_DATE).count().collect():
        nights[row["_k"] - 1].valid[row[FACT_DATE]] = int(row["count"])

    # the state: every stored row a night could see, but the range's own (a rerun leaves them out)
    visible = {n.k: set(n.valid) | {n.date - dt.timedelta(days=i) for i in range(settings.lookback_days + 1)}
               for n in nights}
    read_days = set().union(*visible.values()) | previous
    stored_all = lake_io.read_days(spark, lake_uri, contracts.ACTIVITY_EVENTS_CLEAN, read_days)
    for row in stored_all.where(F.col("batch_id").isin(ids)).select("batch_id", FACT_DATE).distinct().collect():
        nights[ids.index(row["batch_id"])].own.add(row[FACT_DATE])
    stored = stored_all.where(~F.col("batch_id").isin(ids)).select(*COLUMNS, F.lit(0).alias("_k"))
    union = new.unionByName(stored)
    ids_repeated = union.groupBy("event_id").count().where("count > 1").select("event_id")
    repeated = (union.join(ids_repeated, "event_id", "left_semi").select(*KEY, "ts", FACT_DATE, "_k")
                .toArrow().to_pylist())
    for night in nights:  # the events seen once are kept the night they arrive; the fold adds the others
        night.new.update(night.valid)
    for row in repeated:
        if row["_k"]:
            nights[row["_k"] - 1].new[row[FACT_DATE]] -= 1
    lives = _fold(repeated, nights, visible)
    LOG.info("backfill: %d event id(s) seen more than once, %d copies", len({r["event_id"] for r in repeated}),
             len(repeated))
    copies = stage(_with_lives(spark, union, lives), "copies")  # cut from the lake files rewritten below

    changed = set().union(*(n.changed for n in nights)) | previous
    existing = lake_io.existing_days(spark, lake_uri, contracts.ACTIVITY_EVENTS_CLEAN.name)
    final = copies.where(F.col("_born").isNotNull() & F.col("_died").isNull()).select(*COLUMNS)
    lake_io.write_days(final, lake_uri, contracts.ACTIVITY_EVENTS_CLEAN, changed, settings.files_per_day)
    for night, report in zip(nights, reports, strict=True):
        _counts(report, night, quarantined.get(report.batch_id, 0), bool(report.files))
    if changed:
        _facts(spark, copies, nights, reports, sorted(changed), existing, read_days, landing_uri, lake_uri,
               settings, timezone, materialise)
    for report in reports:
        write_run_file(report, lake_uri)
    fs, path = lake_io._fs(spark, lake_io.spark_path(staging))
    if fs.exists(path):  # type: ignore[attr-defined]
        fs.delete(path, True)  # type: ignore[attr-defined]
    seconds = round(time.monotonic() - started, 1)
    for report in reports:
        report.seconds = seconds
    return reports


def _refuse_later_runs(lake_uri: str, last: dt.date) -> None:
    runs = landing.join(lake.root(lake_uri), "activity", "_runs")
    fs, path = landing.filesystem(runs)
    if not fs.exists(path):
        return
    later = sorted(name for name in (p.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")
                                     for p in fs.ls(path, detail=False)) if name > last.isoformat())
    if later:
        raise UserError(f"the lake already has activity runs after {last} (first: {later[0]}); a backfill must "
                        "come after every stored night — run later nights with --batch instead")


# Deduplication ------------------------------------------------------------------------


def _fold(repeated: list[dict], nights: list[Night], visible: dict[int, set[dt.date]]) -> list[tuple]:
    """Replay the nightly deduplication of the ids seen more than once; count into ``nights``.

    Returns each copy's life: (event_id, batch_id, source_file, line, born, died) — the night
    it was kept (0: stored before the range; None: never) and the night it was replaced."""
    by_id: dict[str, list[dict]] = defaultdict(list)
    for row in repeated:
        by_id[row["event_id"]].append(row)
    lives = []
    for copies in by_id.values():
        order = lambda c: (c["ts"], c["batch_id"], c["source_file"], c["line"])  # noqa: E731
        state = [c for c in copies if c["_k"] == 0]  # kept copies, as the lake holds them
        born: dict[int, int | None] = {id(c): (0 if c["_k"] == 0 else None) for c in copies}
        died: dict[int, int] = {}
        arriving: dict[int, list[dict]] = defaultdict(list)
        for c in copies:
            if c["_k"]:
                arriving[c["_k"]].append(c)
        for k in sorted(arriving):
            night = nights[k - 1]
            seen = [c for c in state if c[FACT_DATE] in visible[k]]
            winner = min([*arriving[k], *seen], key=order)
            for c in arriving[k]:
                if c is winner:
                    night.new[c[FACT_DATE]] += 1
                    born[id(c)] = k
                    state.append(c)
                elif winner["_k"] == k:
                    night.in_batch[c[FACT_DATE]] += 1
                else:
                    night.earlier[c[FACT_DATE]] += 1
            for c in seen:
                if c is not winner:
                    night.replaced[c[FACT_DATE]] += 1
                    died[id(c)] = k
                    state.remove(c)
        lives.extend((c["event_id"], c["batch_id"], c["source_file"], c["line"], born[id(c)], died.get(id(c)))
                     for c in copies)
    return lives


def _with_lives(spark: SparkSession, copies: DataFrame, lives: list[tuple]) -> DataFrame:
    """``_born`` and ``_died`` on every copy: a copy seen once is kept the night it arrives, for good."""
    schema = "event_id string, batch_id string, source_file string, line long, _born int, _died int, _fold boolean"
    fate = spark.createDataFrame([(*life, True) for life in lives], schema)
    joined = copies.join(F.broadcast(fate), KEY, "left")
    once = F.col("_fold").isNull()
    return joined.withColumn("_born", F.when(once, F.col("_k")).otherwise(F.col("_born"))).drop("_fold")


def _stage(spark: SparkSession, frame: DataFrame, uri: str) -> DataFrame:
    """Write a big intermediate frame as Parquet and read it back: computed once, cut from its sources, and
    cheap to spill (a local checkpoint of millions of rows spills through Java serialisation)."""
    path = lake_io.spark_path(uri)
    frame.write.mode("overwrite").parquet(path)
    return spark.read.parquet(path)


def _counts(report: RunReport, night: Night, quarantined: int, has_files: bool) -> None:
    report.quarantined = quarantined
    report.valid = sum(night.valid.values())
    report.new_events = sum(night.new.values())
    report.duplicates_in_batch = sum(night.in_batch.values())
    report.duplicates_of_earlier = sum(night.earlier.values())
    report.duplicates = report.duplicates_in_batch + report.duplicates_of_earlier
    report.replaced = sum(night.replaced.values())
    report.lines_read = report.valid + report.quarantined
    report.events_by_day = {d.isoformat(): n for d, n in sorted(night.new.items()) if n}
    report.late_by_day = {d: n for d, n in report.events_by_day.items() if d < night.date.isoformat()}
    report.changed_days = [d.isoformat() for d in night.changed]
    if has_files:
        report.partitions[contracts.ACTIVITY_EVENTS_CLEAN.name] = report.changed_days


# Facts --------------------------------------------------------------------------------


def _facts(spark: SparkSession, copies: DataFrame, nights: list[Night], reports: list[RunReport],
           changed: list[dt.date], existing: set[dt.date], read_days: set[dt.date], landing_uri: str,
           lake_uri: str, settings: SparkSettings, timezone: str, materialise: Callable) -> None:
    events = read_changed_events(spark, lake_uri, changed)
    day_grain = write_day_facts(spark, events, changed, lake_uri, settings)
    for night, report in zip(nights, reports, strict=True):
        if night.changed:
            for contract in day_grain:
                report.partitions[contract.name] = report.changed_days

    touched, old_new = _activities_touched(spark, copies, nights, read_days, lake_uri)
    as_of = spark.createDataFrame([(a, nights[k - 1].date) for a, k in touched.items()],
                                  "activity_id string, _as_of date")
    teachers = reference.versions_frame(spark, landing_uri, nights[-1].date)
    rows, days = activities.rebuild(spark, lake_uri, events, changed, teachers, timezone, materialise, as_of)
    lake_io.write_days(rows, lake_uri, contracts.ACTIVITIES, days)
    events.unpersist()
    for night, report in zip(nights, reports, strict=True):
        if night.changed:
            report.partitions[contracts.ACTIVITIES.name] = [d.isoformat() for d in sorted(old_new[night.k])]

    rows, days = research.trajectory(spark, lake_uri, min(changed), settings.trajectory_history_days)
    lake_io.write_days(rows, lake_uri, contracts.RESEARCH_TRAJECTORY, days, settings.files_per_day)
    first_born = {row[FACT_DATE]: row["_first"] for row in copies.where(F.col("_born").isNotNull())
                  .groupBy(FACT_DATE).agg(F.min("_born").alias("_first")).collect()}
    for day in existing - set(changed):  # days the range never rewrote: there all along
        first_born.setdefault(day, 0)
    last_night: dict[research.Period, Night] = {}
    for night, report in zip(nights, reports, strict=True):
        if not night.changed:
            continue
        first = night.changed[0]
        trajectory_days = sorted(d for d, k in first_born.items() if d >= first and k <= night.k)
        report.partitions[contracts.RESEARCH_TRAJECTORY.name] = [d.isoformat() for d in trajectory_days]
        terms = research.affected_periods(first, max([*trajectory_days, night.date]))
        report.partitions[contracts.MEMBER_TERM_RESEARCH.name] = sorted({t.term_start.isoformat() for t in terms})
        for term in terms:
            last_night[term] = night
    by_night: dict[dt.date, list[research.Period]] = defaultdict(list)
    for term, night in last_night.items():
        by_night[night.date].append(term)
    frames = [research.member_terms(spark, lake_uri, terms, date) for date, terms in sorted(by_night.items())]
    if frames:
        rows = frames[0]
        for frame in frames[1:]:
            rows = rows.unionByName(frame)
        lake_io.write_days(rows, lake_uri, contracts.MEMBER_TERM_RESEARCH, {t.term_start for t in last_night})


def _activities_touched(spark: SparkSession, copies: DataFrame, nights: list[Night], read_days: set[dt.date],
                        lake_uri: str) -> tuple[dict[str, int], dict[int, set[dt.date]]]:
    """Per activity the last night that touched it; per night the days its activities run rewrote.

    A night touches the activities with events (kept at the time) on its changed days, and rewrites
    the day each of them was filed under before and after it. An activity is filed under its
    earliest event's day: the earliest over the copies kept by then (a copy is only ever replaced
    by an earlier one, so the copies replaced since do not matter) and, for activities stored
    before the range with events on days the range never read, the stored row's day.
    """
    changed = [(n.k, d) for n in nights for d in n.changed]
    if not changed:
        return {}, {}
    pairs = F.broadcast(spark.createDataFrame(changed, "_night int, _day date"))
    relevant = copies.where(F.col("event_type").isin(facts.CREATED, facts.ATTENDED) & F.col("object_id").isNotNull()
                            & F.col("_born").isNotNull())
    alive = (F.col(FACT_DATE) == F.col("_day")) & (F.col("_born") <= F.col("_night")) & (
        F.col("_died").isNull() | (F.col("_died") > F.col("_night")))
    touched_pairs = relevant.join(pairs, alive).select("object_id", "_night").distinct().collect()
    births = relevant.groupBy("object_id", "_born").agg(F.min(FACT_DATE).alias("_day")).collect()
    stored = {row["activity_id"]: row[FACT_DATE] for row in lake_io.read_range(
        spark, lake_uri, contracts.ACTIVITIES, None, None).select("activity_id", FACT_DATE).collect()
        if row[FACT_DATE] not in read_days}

    steps: dict[str, list[tuple[int, dt.date]]] = defaultdict(list)
    for row in sorted(births, key=lambda r: (r["object_id"], r["_born"])):
        steps[row["object_id"]].append((row["_born"], row["_day"]))
    running: dict[str, tuple[list[int], list[dt.date]]] = {}
    for activity, found in steps.items():
        lowest, ks, days = stored.get(activity), [], []
        for k, day in found:
            lowest = day if lowest is None else min(lowest, day)
            ks.append(k)
            days.append(lowest)
        running[activity] = (ks, days)

    def filed(activity: str, k: int) -> dt.date | None:
        ks, days = running.get(activity, ([], []))
        i = bisect.bisect_right(ks, k)
        return days[i - 1] if i else stored.get(activity)

    last: dict[str, int] = {}
    old_new: dict[int, set[dt.date]] = defaultdict(set)
    for row in touched_pairs:
        activity, k = row["object_id"], row["_night"]
        last[activity] = max(k, last.get(activity, 0))
        old_new[k] |= {d for d in (filed(activity, k - 1), filed(activity, k)) if d is not None}
    return last, old_new


# Quarantine ---------------------------------------------------------------------------


def _write_rejects(spark: SparkSession, rejects: DataFrame | None, lake_uri: str, ids: list[str]) -> dict[str, int]:
    """Each night's quarantine folder, replaced (all written at once, then moved into place); the counts."""
    targets = {b: lake_io.spark_path(lake.quarantine_dir(JOB, b, lake_uri)) for b in ids}
    staging = lake_io.spark_path(lake.quarantine_dir(JOB, STAGING, lake_uri))
    counts: dict[str, int] = {}
    if rejects is not None:
        counts = {row["batch_id"]: int(row["count"]) for row in rejects.groupBy("batch_id").count().collect()}
    if counts:
        (rejects.repartition("batch_id").sortWithinPartitions("batch_id", "source_file", "line")
         .write.mode("overwrite").partitionBy("batch_id").parquet(staging))
    for batch_id, target in targets.items():
        fs, path = lake_io._fs(spark, target)
        if fs.exists(path):  # type: ignore[attr-defined]
            fs.delete(path, True)  # type: ignore[attr-defined]
        if batch_id in counts:
            _, source = lake_io._fs(spark, f"{staging}/batch_id={batch_id}")
            fs.mkdirs(path.getParent())  # type: ignore[attr-defined]
            if not fs.rename(source, path):  # type: ignore[attr-defined]
                raise OSError(f"could not move {source} to {target}")
        else:
            spark.createDataFrame([], validate.REJECT_DDL).coalesce(1).write.mode("overwrite").parquet(target)
    fs, path = lake_io._fs(spark, staging)
    if fs.exists(path):  # type: ignore[attr-defined]
        fs.delete(path, True)  # type: ignore[attr-defined]
    return counts


def summary(reports: list[RunReport]) -> list[str]:
    """The CLI's lines: the range's totals and the nights with the most late events."""
    total = lambda name: sum(getattr(r, name) for r in reports)  # noqa: E731
    days = sorted({d for r in reports for d in r.changed_days})
    seconds = reports[0].seconds if reports else 0.0
    return [
        f"backfill {reports[0].batch_id}..{reports[-1].batch_id}: {len(reports)} night(s), "
        f"{sum(len(r.files) for r in reports)} file(s), {seconds:.1f} s",
        f"  read {total('lines_read'):,}  valid {total('valid'):,}  quarantined {total('quarantined'):,}",
        f"  duplicates {total('duplicates'):,} (in batch {total('duplicates_in_batch'):,}, of earlier batches "
        f"{total('duplicates_of_earlier'):,}; stored copies replaced {total('replaced'):,})",
        f"  new events {total('new_events'):,}; late {sum(sum(r.late_by_day.values()) for r in reports):,}",
        f"  changed days: {len(days)}" + (f" ({days[0]}..{days[-1]})" if days else ""),
        "  run files: activity/_runs/<night>.json, one per night",
    ]


def main(first: dt.date, last: dt.date, landing_uri: str | None, lake_uri: str | None,
         as_json: bool = False) -> list[str]:
    """Build the session, backfill the nights first..last, return what to print."""
    import json

    from spark_jobs.session import build_session

    if last < first:
        raise UserError(f"--to {last} is before --from {first}")
    settings = SparkSettings()
    spark = build_session(settings)
    nights = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    reports = run_batches(spark, nights, landing_uri, lake_uri, settings)
    if as_json:
        return [json.dumps([r.to_json() for r in reports], indent=2, ensure_ascii=False)]
    return summary(reports)
