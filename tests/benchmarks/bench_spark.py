"""Spark activity job on a national-scale day slice vs a single-process pandas/pyarrow baseline.

``python tests/benchmarks/run.py spark`` (``JIAOYAN_BENCH_SPARK_EVENTS`` changes the size,
default 10 million). The day is generated once into ``.data/bench/spark/landing-<N>`` by the
demo world's benchmark helper (:func:`jiaoyan.demo_world.bench.activity_day`, national scale:
787 offices, ~80,000 members; gzip parts of 500,000 lines; 1 % same-file repeats and 0.1 %
broken lines; its late lines are held back for later nights, so this one day has none) with
the scale's ``reference/teachers.csv``. Each side runs in its own process on an empty lake:

- **Spark**: ``run_batch`` in local mode (``local[*]``, 2 cores here), the whole job:
  validation, dedupe, late events, every lake dataset; session start-up timed apart.
- **Baseline**: the same job in one process pinned to one core — the contract's reference
  reader (:func:`jiaoyan.contracts.validate.read_jsonl`, same verdicts), then pandas/pyarrow
  for the dedupe (first by ts), CST days, sessions, member-day, member-day by kind,
  office-day, attendance, resources, activities, trajectories and term scores, written as
  day-partitioned Parquet.

Peak memory is the resident set of each process tree (driver + JVM + Python workers for
Spark), sampled every 0.2 s. Both sides' counts are checked against the generator's truth
and each other's row counts.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pandas import DataFrame

    from spark_jobs.activity.research import Period

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
DATA = ROOT / ".data" / "bench" / "spark"
BATCH = dt.date(2026, 11, 18)  # the demo world's benchmark day (a Wednesday in term)
EVENTS = int(os.environ.get("JIAOYAN_BENCH_SPARK_EVENTS", "10000000"))
DATASETS = ("activity_events_clean", "member_day", "member_day_kinds", "vtro_day", "member_sessions",
            "activity_attendance", "activities", "resources_published", "research_trajectory",
            "member_term_research")


def run(report: object) -> None:
    landing = DATA / f"landing-{EVENTS}"
    truth = _ensure_data(landing)
    spark = _measure([sys.executable, __file__, "spark", str(landing), str(DATA / "lake-spark")])
    base = _measure(["taskset", "-c", "0", sys.executable, __file__, "baseline", str(landing),
                     str(DATA / "lake-baseline")])
    for side in (spark, base):
        counts = side["counts"]
        assert counts["quarantined"] == truth["broken"], (side["name"], counts, truth)
        assert counts["duplicates"] == truth["duplicates"], (side["name"], counts, truth)
        assert counts["valid"] == truth["lines"] - truth["broken"], (side["name"], counts, truth)
        assert counts["late_by_day"] == {}, side["name"]
    assert spark["rows"] == base["rows"], (spark["rows"], base["rows"])
    lines = truth["lines"]
    note = f"{lines:,} lines in {truth['files']} gzip files; rows per dataset equal on both sides: {spark['rows']}"
    report.figure("spark throughput (job, excl. session start-up)", lines / spark["seconds"], "events/s",
                  baseline=lines / base["seconds"], target=">= 0.333", note=note)
    report.figure("spark job seconds", spark["seconds"], "s")
    report.figure("CPU seconds per million events, spark (session start-up included)",
                  spark["cpu_seconds"] / lines * 1e6, "CPU-s", baseline=base["cpu_seconds"] / lines * 1e6,
                  target="<= 3", note="load-independent: what each side cost the machine")
    report.figure("spark session start-up", spark["startup"], "s")
    report.figure("spark throughput incl. start-up", lines / (spark["seconds"] + spark["startup"]), "events/s",
                  baseline=lines / base["seconds"], target=">= 0.333")
    report.figure("spark peak RSS (driver + JVM + workers)", spark["peak_rss"] / 2**30, "GiB")
    report.figure("baseline throughput (pandas/pyarrow, 1 core)", lines / base["seconds"], "events/s")
    report.figure("baseline seconds", base["seconds"], "s")
    report.figure("baseline peak RSS", base["peak_rss"] / 2**30, "GiB")
    rate = _postgres_lesson_rate()
    if rate is not None:
        report.figure("PostgreSQL: behaviour points aggregated into per-lesson metrics", rate, "points/s",
                      note=f"{LESSON_POINTS:,} points, 450 a lesson: Rt, Ch (runs via lag), mean shares, counts; "
                      "the decision to keep lesson metrics (and their backfill) in dbt rests on it")


LESSON_POINTS = 10_000_000
LESSON_SQL = """
select count(*) from (
  select lesson_id, count(*) as n, avg((st_code = 'T')::int) as rt,
         (sum((st_code is distinct from prev)::int) - 1)::float / count(*) as ch,
         avg(s1), avg(s2), avg(s3), avg(s4), avg(s5),
         sum((teacher_behaviour = 'lecturing')::int), sum((teacher_behaviour = 'interaction')::int)
  from (select *, lag(st_code) over (partition by lesson_id order by point_index) as prev from bench_points) x
  group by lesson_id) y
"""


def _postgres_lesson_rate() -> float | None:
    """Points/s of the per-lesson aggregation in the configured warehouse (None when it is not up)."""
    import psycopg

    from jiaoyan.settings import get_settings

    url = get_settings().warehouse_url
    if not url:
        return None
    try:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError:
        return None
    with conn:
        conn.execute(f"""
            create temp table bench_points as
            select 'L' || (i / 450) as lesson_id, (i % 450)::int as point_index,
                   (array['lecturing', 'blackboard_writing', 'patrolling', 'interaction'])[1 + (i * 7 % 4)]
                       as teacher_behaviour,
                   random()::real as s1, random()::real as s2, random()::real as s3, random()::real as s4,
                   random()::real as s5, case when (i * 13) % 3 = 0 then 'S' else 'T' end as st_code
            from generate_series(0, {LESSON_POINTS} - 1) as i""")
        conn.execute("analyze bench_points")
        started = time.monotonic()
        conn.execute(LESSON_SQL).fetchone()
        return LESSON_POINTS / (time.monotonic() - started)


def _ensure_data(landing: Path) -> dict:
    truth_file = landing / "_bench_truth.json"
    if not truth_file.exists():
        shutil.rmtree(landing, ignore_errors=True)
        started = time.monotonic()
        subprocess.run([sys.executable, __file__, "generate", str(landing), "-"], check=True, cwd=ROOT)
        print(f"  generated {EVENTS:,} events in {time.monotonic() - started:.0f} s into {landing}", flush=True)
    return json.loads(truth_file.read_text())


def generate(landing: Path) -> None:
    """The benchmark day from the demo world's generator, with the scale's teachers, and its truth."""
    import pandas as pd

    from jiaoyan.contracts import ACTIVITY_EVENTS, TEACHERS
    from jiaoyan.demo_world import activity, bench
    from jiaoyan.demo_world.writer import Batch

    base = bench.light_world("national", 0, BATCH)
    day = bench.activity_day("national", n_events=EVENTS, day=BATCH, base=base)
    batch = Batch(str(landing), BATCH)
    for index, part in enumerate(day.delivery.parts):
        name = activity.part_name(BATCH, "events", index).split("/", 1)[1]
        batch.put(name, activity.gzip_bytes(part), ACTIVITY_EVENTS.name, part.count(b"\n"))
    teachers = base.ref.teachers[list(TEACHERS.field_names)]
    batch.put(TEACHERS.location, teachers.to_csv(index=False).encode(), TEACHERS.name, len(teachers))
    batch.finish("jiaoyan bench_spark (demo world national, seed 0)")
    kinds = pd.Series([d["kind"] for d in day.delivery.defects], dtype=object).value_counts().to_dict()
    truth = {"lines": sum(part.count(b"\n") for part in day.delivery.parts), "files": len(day.delivery.parts),
             "broken": int(kinds.get("broken", 0)), "duplicates": int(kinds.get("duplicate", 0))}
    (landing / "_bench_truth.json").write_text(json.dumps(truth))


def _measure(command: list[str]) -> dict:
    """Run a side in its own process; its JSON result plus the peak RSS of its process tree."""
    out_dir = Path(command[-1])
    shutil.rmtree(out_dir, ignore_errors=True)
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    peak = [0]
    cpu: dict[int, float] = {}  # per process of the tree, the CPU seconds last seen
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            rss, seconds = _tree_usage(process.pid)
            peak[0] = max(peak[0], rss)
            for pid, used in seconds.items():
                cpu[pid] = max(cpu.get(pid, 0.0), used)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stdout, _ = process.communicate()
    done.set()
    sampler.join()
    if process.returncode:
        raise RuntimeError(f"{' '.join(command)} failed with {process.returncode}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["peak_rss"] = peak[0]
    result["cpu_seconds"] = sum(cpu.values())
    result["rows"] = _rows(out_dir)
    print(f"  {result['name']}: {result['seconds']:.1f} s, {result['cpu_seconds']:.0f} CPU-s, "
          f"peak RSS {peak[0] / 2**30:.2f} GiB", flush=True)
    return result


def _tree_usage(pid: int) -> tuple[int, dict[int, float]]:
    """Resident bytes of a process and all its descendants, and each one's CPU seconds (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except OSError:
                continue
    tick = os.sysconf("SC_CLK_TCK")
    rss, cpu, stack = 0, {}, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            cpu[current] = (int(fields[11]) + int(fields[12])) / tick  # utime + stime
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) * 1024
        except OSError:
            continue
    return rss, cpu


def _rows(lake: Path) -> dict[str, int]:
    import pyarrow.dataset as ds

    counts = {}
    for name in DATASETS:
        folder = lake / "activity" / name
        counts[name] = ds.dataset(folder, format="parquet").count_rows() if folder.exists() else 0
    return counts


# Spark side --------------------------------------------------------------------------


def spark_side(landing: str, lake: str) -> dict:
    from spark_jobs.activity.job import run_batch
    from spark_jobs.session import SparkSettings, build_session

    settings = SparkSettings()
    started = time.monotonic()
    spark = build_session(settings)
    startup = time.monotonic() - started
    started = time.monotonic()
    report = run_batch(spark, BATCH, landing, lake, settings)
    seconds = time.monotonic() - started
    return {"name": "spark", "seconds": seconds, "startup": startup, "counts": {
        "valid": report.valid, "quarantined": report.quarantined, "duplicates": report.duplicates,
        "late_by_day": report.late_by_day}}


# Baseline side: the same job in one process -------------------------------------------


def baseline_side(landing: str, lake: str) -> dict:
    started = time.monotonic()
    counts = _baseline(Path(landing), Path(lake))
    return {"name": "baseline", "seconds": time.monotonic() - started, "counts": counts}


def _baseline(landing: Path, lake: Path) -> dict:
    import pandas as pd

    from spark_jobs.activity import research
    from spark_jobs.activity.reference import teacher_rows

    events, quarantined = _read_valid(landing / BATCH.isoformat() / "activity")
    valid = len(events)
    events["fact_date"] = (events["ts"] + pd.Timedelta(hours=8)).dt.date
    events = events.sort_values(["event_id", "ts", "source_file", "line"], kind="stable")
    duplicate = events["event_id"].duplicated()
    kept = events[~duplicate].copy()
    late = kept[kept["fact_date"] < BATCH].groupby("fact_date").size()
    _write(kept, lake, "activity_events_clean")
    sessions = _sessions(kept)
    _write(sessions, lake, "member_sessions")
    _write(_member_day(kept, sessions), lake, "member_day")
    kinds = kept[kept["event_type"].isin(["activity_created", "activity_attended", "resource_published"])]
    _write(kinds.groupby(["fact_date", "member_id", "vtro_id", "event_type", "kind"], dropna=False).agg(
        events=("event_id", "size"), objects=("object_id", "nunique")).reset_index(), lake, "member_day_kinds")
    _write(_vtro_day(kept), lake, "vtro_day")
    attendance = _attendance(kept)
    _write(attendance, lake, "activity_attendance")
    _write(kept[kept["event_type"] == "resource_published"], lake, "resources_published")
    teachers = teacher_rows(str(landing), BATCH).to_pandas()
    _write(_activities(kept, attendance, teachers), lake, "activities")
    trajectory = _trajectory(kept)
    _write(trajectory, lake, "research_trajectory")
    term = research.affected_periods(trajectory["fact_date"].min(), BATCH)
    _write(_terms(trajectory, term), lake, "member_term_research")
    return {"valid": valid, "quarantined": quarantined, "duplicates": int(duplicate.sum()),
            "late_by_day": {day.isoformat(): int(n) for day, n in late.items()}}


def _read_valid(folder: Path) -> tuple[DataFrame, int]:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.compute as pc

    from jiaoyan.contracts import ACTIVITY_EVENTS
    from jiaoyan.contracts import validate as v

    tables, quarantined = [], 0
    for path in sorted(folder.glob("*.jsonl*")):
        result = v.read_jsonl(ACTIVITY_EVENTS, path.read_bytes(), f"activity/{path.name}")
        quarantined += result.n_rejected
        good = result.good
        kind = pc.map_lookup(good["attrs"], "kind", "first")
        good = good.drop_columns(["attrs"]).append_column("kind", kind).append_column(
            "source_file", pa.array([f"activity/{path.name}"] * good.num_rows))
        tables.append(good)
    # Arrow-backed strings: 10 million events as Python str objects would not fit beside the other jobs
    frame = pa.concat_tables(tables).to_pandas(
        types_mapper=lambda t: pd.ArrowDtype(t) if pa.types.is_string(t) else None)
    return frame.rename(columns={v.LINE: "line"}), quarantined


def _write(frame: DataFrame, lake: Path, name: str) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(frame.assign(event_date=frame["fact_date"].astype(str)), preserve_index=False)
    pq.write_to_dataset(table, lake / "activity" / name, partition_cols=["event_date"])


def _sessions(kept: DataFrame) -> DataFrame:
    frame = kept.sort_values(["fact_date", "member_id", "ts", "event_id"])
    gap = frame.groupby(["fact_date", "member_id"])["ts"].diff().dt.total_seconds()
    frame = frame.assign(_start=(gap.isna() | (gap > 30 * 60)).astype(int), _research=_is_research(frame))
    frame["session_no"] = frame.groupby(["fact_date", "member_id"])["_start"].cumsum()
    sessions = frame.groupby(["fact_date", "member_id", "session_no"]).agg(
        session_start=("ts", "min"), session_end=("ts", "max"), events=("event_id", "size"),
        research_actions=("_research", "sum")).reset_index()
    sessions["duration_seconds"] = (sessions["session_end"] - sessions["session_start"]).dt.total_seconds()
    return sessions


def _is_research(frame: DataFrame) -> DataFrame:
    from jiaoyan.contracts.lake import RESEARCH_EVENT_TYPES

    return frame["event_type"].isin(RESEARCH_EVENT_TYPES).astype(int)


def _type_counts(frame: DataFrame, keys: list[str]) -> DataFrame:
    import pandas as pd

    from spark_jobs.activity import facts

    flags = pd.DataFrame({
        "events": 1, "research_actions": _is_research(frame),
        **{name: (frame["event_type"] == code).astype(int) for name, code in (
            ("members_joined", facts.JOINED), ("members_left", facts.LEFT), ("activities_created", facts.CREATED),
            ("activities_attended", facts.ATTENDED), ("resources_published", facts.PUBLISHED),
            ("discussions_posted", facts.POSTED), ("lessons_observed", facts.OBSERVED),
            ("lessons_scored", facts.SCORED), ("logins", facts.LOGGED_IN))},
        "trainings_attended": ((frame["event_type"] == facts.ATTENDED)
                               & frame["kind"].isin(facts.TRAINING_KINDS)).astype(int),
        "knowledge_graphs_published": ((frame["event_type"] == facts.PUBLISHED)
                                       & frame["kind"].isin(facts.KNOWLEDGE_GRAPH_KINDS)).astype(int),
    }, index=frame.index)
    return pd.concat([frame[keys], flags], axis=1).groupby(keys, dropna=False).sum()


def _member_day(kept: DataFrame, sessions: DataFrame) -> DataFrame:
    days = _type_counts(kept, ["fact_date", "member_id"])
    extra = kept.groupby(["fact_date", "member_id"]).agg(offices_active=("vtro_id", "nunique"),
                                                         first_ts=("ts", "min"), last_ts=("ts", "max"))
    active = sessions.groupby(["fact_date", "member_id"]).agg(sessions=("session_no", "size"),
                                                              active_seconds=("duration_seconds", "sum"))
    return days.join(extra).join(active).reset_index()


def _vtro_day(kept: DataFrame) -> DataFrame:
    from spark_jobs.activity import facts

    office = kept[kept["vtro_id"].notna()]
    days = _type_counts(office, ["fact_date", "vtro_id"])
    attended = office[office["event_type"] == facts.ATTENDED]
    extra = office.groupby(["fact_date", "vtro_id"]).agg(active_members=("member_id", "nunique"))
    held = attended.groupby(["fact_date", "vtro_id"]).agg(activities_held=("object_id", "nunique"),
                                                          participants=("member_id", "nunique"))
    return days.join(extra).join(held).fillna(0).reset_index()


def _attendance(kept: DataFrame) -> DataFrame:
    from spark_jobs.activity import facts

    attended = kept[(kept["event_type"] == facts.ATTENDED) & kept["object_id"].notna()].sort_values(
        ["ts", "event_id"])
    return attended.groupby(["fact_date", "object_id", "member_id"]).agg(
        vtro_id=("vtro_id", "first"), kind=("kind", "first"), attendances=("event_id", "size"),
        first_ts=("ts", "min"), last_ts=("ts", "max")).reset_index().rename(columns={"object_id": "activity_id"})


def _activities(kept: DataFrame, attendance: DataFrame, teachers: DataFrame) -> DataFrame:
    import pandas as pd

    from spark_jobs.activity import facts

    created = kept[kept["event_type"] == facts.CREATED].sort_values(["ts", "event_id"]).groupby("object_id").agg(
        creator_id=("member_id", "first"), created_at=("ts", "first"), c_kind=("kind", "first"),
        c_vtro=("vtro_id", "first"), c_date=("fact_date", "first"))
    located = pd.merge_asof(
        attendance.assign(_day=pd.to_datetime(attendance["fact_date"]),
                          member_id=attendance["member_id"].astype(object)).sort_values("_day"),
        teachers.assign(_day=pd.to_datetime(teachers["valid_from"]),
                        teacher_id=teachers["teacher_id"].astype(object)).sort_values("_day")[
            ["teacher_id", "_day", "university_id", "school_id"]],
        on="_day", left_by="member_id", right_by="teacher_id")
    totals = located.groupby("activity_id").agg(
        attendances=("attendances", "sum"), participants=("member_id", "nunique"),
        participant_universities=("university_id", "nunique"), participant_schools=("school_id", "nunique"),
        first_attended_at=("first_ts", "min"), last_attended_at=("last_ts", "max"),
        a_first=("fact_date", "min"), a_last=("fact_date", "max"))
    modal = attendance.groupby(["activity_id", "kind"])["attendances"].sum().reset_index().sort_values(
        ["activity_id", "attendances", "kind"], ascending=[True, False, True]).groupby("activity_id").first()
    both = created.join(totals, how="outer").join(modal["kind"].rename("a_kind"), how="left")
    both["fact_date"] = pd.to_datetime(both["c_date"]).fillna(pd.to_datetime(both["a_first"])).where(
        pd.to_datetime(both["c_date"]).le(pd.to_datetime(both["a_first"])) | both["a_first"].isna(),
        pd.to_datetime(both["a_first"])).dt.date
    both["kind"] = both["c_kind"].fillna(both["a_kind"])
    both["cross_university"] = both["participant_universities"].fillna(0) >= 2
    return both.reset_index()


def _trajectory(kept: DataFrame) -> DataFrame:
    actions = kept[_is_research(kept) == 1].sort_values(["member_id", "ts", "event_id"])
    previous = actions.groupby("member_id")["ts"].shift()
    return actions.assign(prev_ts=previous, gap_days=(actions["ts"] - previous).dt.total_seconds() / 86400,
                          action=actions["event_type"])


def _terms(trajectory: DataFrame, periods: list[Period]) -> DataFrame:
    import pandas as pd

    from spark_jobs.activity import research

    rows = []
    for period in periods:
        frame = trajectory[(trajectory["fact_date"] >= period.start) & (trajectory["fact_date"] <= period.end)]
        week = (pd.to_datetime(frame["fact_date"]) - pd.Timestamp(period.start)).dt.days // 7
        grouped = frame.assign(_week=week, _contribution=frame["action"].isin(research.CONTRIBUTIONS)).groupby(
            "member_id").agg(actions=("event_id", "size"), action_types=("action", "nunique"),
                             contributions=("_contribution", "sum"), active_weeks=("_week", "nunique"),
                             median_gap_days=("gap_days", "median"))
        through = min(period.end, max(BATCH, frame["fact_date"].max()))
        elapsed = math.ceil(((through - period.start).days + 1) / 7)
        for member, row in grouped.iterrows():
            scored = research.score(int(row["actions"]), int(row["action_types"]), int(row["contributions"]),
                                    int(row["active_weeks"]), elapsed,
                                    None if pd.isna(row["median_gap_days"]) else float(row["median_gap_days"]))
            rows.append({"fact_date": period.term_start, "term_code": period.term_code, "member_id": member,
                         **scored})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    side, landing_dir, lake_dir = sys.argv[1:4]
    sys.path.insert(0, str(ROOT))
    if side == "generate":
        generate(Path(landing_dir))
    else:
        result = spark_side(landing_dir, lake_dir) if side == "spark" else baseline_side(landing_dir, lake_dir)
        print(json.dumps(result, default=str), flush=True)
