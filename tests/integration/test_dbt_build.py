"""The dbt project against a real PostgreSQL: raw rows in, `dbt build` twice, marts checked against Python.

Two worlds, each in its own database beside the session's test database (so loader tests and these never see
each other's rows):

- a hand-built world inserted into the raw tables with psycopg (reference data, lessons coded by several model
  versions, rubric scores with a correction, gold codes, the Spark activity datasets), with the loader's
  ``ops.load_tables`` bookkeeping written in the same transaction as the rows, as the loader does. ``dbt build``
  runs twice (the second changes no mart row), then a second night arrives and the incremental build must equal
  a full refresh. Metrics are recomputed independently in Python (NumPy, fractions, scikit-learn);
- a small demo world (``jiaoyan demo-data``) loaded by the real loader: every lesson's teaching mode must equal
  the mode of the codes actually loaded; agreement with the generator's truth is reported.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import psycopg
import pytest
from psycopg import sql

from jiaoyan import codes, dbt_runner

pytestmark = pytest.mark.integration

THRESHOLDS = {"rt_practice_max": Fraction(3, 10), "rt_lecture_min": Fraction(7, 10), "ch_dialogue_min": Fraction(2, 5)}
TEACHERS = tuple(codes.teacher_codes())
SHARES = tuple(codes.share_columns())
T1 = "2025-09-02"  # first night
T2 = "2025-09-03"  # second night (the incremental build)


# --- databases and dbt ------------------------------------------------------------------------------------
def sibling_name(warehouse: dict[str, str], suffix: str) -> str:
    """A database name derived from the session's test database, so concurrent sessions never share one."""
    return f"{urlsplit(warehouse['owner']).path.lstrip('/')}_{suffix}"


@dataclass
class Dbt:
    """dbt against one database, with its own target and log folders (never the developer's dbt/target)."""

    url: str
    workdir: Path

    def __call__(self, *args: str) -> None:
        result = self.run(*args)
        assert result.success, f"dbt {' '.join(args)} failed (exit {result.exit_code}); see {self.workdir}/logs"

    def run(self, *args: str) -> dbt_runner.DbtResult:
        """dbt, whatever its outcome (run_results.json lands in the target folder)."""
        env = {"DBT_TARGET_PATH": str(self.workdir / "target"), "DBT_LOG_PATH": str(self.workdir / "logs"),
               "JIAOYAN_DBT_THREADS": "4"}
        return dbt_runner.run(list(args), url=self.url, env=env)


def mart_checksums(url: str) -> dict[str, str]:
    """An order-independent checksum of every relation in marts (tables and views)."""
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1")]
        return {name: conn.execute(sql.SQL(
            "select count(*) || ':' || coalesce(md5(string_agg(h, '' order by h)), '') "
            "from (select md5(t::text) as h from marts.{} as t) as rows").format(sql.Identifier(name))).fetchone()[0]
            for name in names}


def query(url: str, statement: str, *params: object) -> list[dict]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(statement, params).fetchall()


# --- the hand-built world ----------------------------------------------------------------------------------
@dataclass
class Batch:
    """Rows per raw table for one night; `load` writes them as the loader would (rows + ops bookkeeping)."""

    batch_id: str
    rows: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))

    def add(self, table: str, **row: object) -> None:
        self.rows[table].append(row)

    def load(self, url: str) -> None:
        with psycopg.connect(url) as conn, conn.transaction():
            load_id = conn.execute("insert into ops.loads (batch_id, batch_uri, status) values (%s, %s, 'succeeded') "
                                   "returning load_id", (self.batch_id, f"test://{self.batch_id}")).fetchone()[0]
            for table, rows in self.rows.items():
                columns = list(dict.fromkeys(k for row in rows for k in row))
                conn.execute(sql.SQL("delete from raw.{} where _batch_id = %s").format(sql.Identifier(table)),
                             (self.batch_id,))
                statement = sql.SQL("copy raw.{} ({}) from stdin").format(
                    sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, [*columns, "_batch_id",
                                                                                     "_source_file", "_line"])))
                with conn.cursor().copy(statement) as copy:
                    for line, row in enumerate(rows, start=1):
                        copy.write_row([row.get(c) for c in columns] + [self.batch_id, f"{table}.test", line])
                conn.execute("delete from ops.load_tables where batch_id = %s and contract = %s",
                             (self.batch_id, table))
                conn.execute("insert into ops.load_tables (batch_id, contract, load_id, files, files_rejected, "
                             "rows_loaded, rows_rejected, seconds, copy_seconds) "
                             "values (%s, %s, %s, 1, 0, %s, 0, 0, 0)", (self.batch_id, table, load_id, len(rows)))


@dataclass
class Run:
    """A lesson coded by one model version: what the world inserted, for the Python reference."""

    lesson_id: str
    model_name: str
    model_version: str
    teacher: np.ndarray  # indices into TEACHERS
    shares: np.ndarray  # (n, 5) float32


STYLES = ("lecture", "practice", "dialogue", "mixed")


def target_st(rng: np.random.Generator, style: str, n: int) -> np.ndarray:
    """The S/T sequence a style aims at: mostly T, mostly S, alternating, or in blocks."""
    if style == "lecture":
        return np.where(rng.random(n) < 0.85, "T", "S")
    if style == "practice":
        return np.where(rng.random(n) < 0.8, "S", "T")
    if style == "dialogue":
        return np.where((np.arange(n) + (rng.random(n) < 0.1)) % 2 == 0, "T", "S")
    return np.where((np.arange(n) // 6) % 2 == 0, "T", "S")


def make_run(rng: np.random.Generator, lesson_id: str, style: str, n: int, model: tuple[str, str]) -> Run:
    """Points whose S/T codes follow the style: T points have a non-patrolling teacher and listening or hand raising
    dominant; S points a patrolling teacher or answering / reading-writing / student interaction dominant."""
    st = target_st(rng, style, n)
    teacher = np.where(st == "T", rng.choice([0, 1, 3], n), rng.choice(4, n))
    dominant = np.where(st == "T", rng.choice([0, 1], n), rng.choice([2, 3, 4], n))
    dominant = np.where((st == "S") & (teacher == 2), rng.choice(5, n), dominant)  # patrolling makes S anyway
    alpha = np.ones((n, 5))
    alpha[np.arange(n), dominant] += 12
    shares = np.array([rng.dirichlet(a) for a in alpha], dtype=np.float32)
    rows, top = np.arange(n), shares.argmax(axis=1)  # make the intended behaviour the maximum
    shares[rows, dominant], shares[rows, top] = shares[rows, top], shares[rows, dominant]
    shares[0] = [0.375, 0.0, 0.375, 0.25, 0.0]  # a tie between listening and answering: listening wins (seed order)
    teacher[0] = 0
    return Run(lesson_id, *model, teacher, shares)


def code_rows(run: Run) -> list[dict]:
    st = codes.st_codes(run.teacher, run.shares)
    return [{"lesson_id": run.lesson_id, "point_index": i, "t_start_s": 6.0 * i, "teacher_behaviour": TEACHERS[t],
             "teacher_prob": 0.9, **{c: float(s) for c, s in zip(SHARES, run.shares[i], strict=True)},
             "students_seen": 40, "st_code": str(st[i]), "model_name": run.model_name,
             "model_version": run.model_version, "audio_present": True}
            for i, t in enumerate(run.teacher)]


@dataclass
class World:
    night1: Batch
    night2: Batch
    runs: dict[tuple[str, str, str], Run]  # (lesson, model, version) → run, after both nights
    lessons: dict[str, dict]
    teachers: dict[str, dict]


def build_world() -> World:
    rng = np.random.default_rng(20250902)
    night1, night2 = Batch(T1), Batch(T2)
    b = night1
    # regions: one province, two cities, three districts (one rural county)
    for code, name, level, parent in [("440000", "广东省", "province", None), ("440100", "广州市", "city", "440000"),
                                      ("440106", "天河区", "district", "440100"),
                                      ("440111", "白云区", "district", "440100"),
                                      ("440300", "深圳市", "city", "440000"),
                                      ("440304", "福田区", "district", "440300")]:
        b.add("regions", region_code=code, region_name=name, level=level, parent_code=parent)
    for school, district, urban, weak in [("S1", "440106", "urban", False), ("S2", "440106", "urban", False),
                                          ("S3", "440111", "rural", True), ("S4", "440304", "urban", False)]:
        b.add("schools", school_id=school, school_name=f"学校{school}", district_code=district, urban_rural=urban,
              is_weak=weak, stage="primary", valid_from="2020-01-01")
    b.add("schools", school_id="S3", school_name="学校S3", district_code="440111", urban_rural="rural",
          is_weak=False, stage="primary", valid_from="2026-03-01")  # S3 stops being a weak school in spring
    for uni, province, group in [("UNI1", "440000", "east"), ("UNI2", "420000", "central"),
                                 ("UNI3", "510000", "western")]:
        b.add("universities", university_id=uni, university_name=f"大学{uni}", province_code=province,
              region_group=group)
    teachers: dict[str, dict] = {}
    for i in range(1, 13):  # school teachers: T01–T07 urban (S1/S2), T08–T12 rural (S3), all maths grade 5
        tid = f"T{i:02d}"
        school = "S1" if i <= 4 else ("S2" if i <= 7 else "S3")
        teachers[tid] = {"school_id": school, "subject": "mathematics", "grade": 5}
        b.add("teachers", teacher_id=tid, teacher_name=f"教师{i}", gender="F", birth_year=1985,
              title="teacher_level_2", subject="mathematics", grade=5, school_id=school, valid_from="2020-01-01")
    b.add("teachers", teacher_id="T13", teacher_name="教师13", gender="M", birth_year=1980, title="teacher_level_1",
          subject="mathematics", grade=5, school_id="S4", valid_from="2020-01-01")
    teachers["T13"] = {"school_id": "S4", "subject": "mathematics", "grade": 5}
    # T02 moves to S3 from the spring term; its earlier version stays valid for autumn lessons
    b.add("teachers", teacher_id="T02", teacher_name="教师2", gender="F", birth_year=1985, title="teacher_level_1",
          subject="mathematics", grade=5, school_id="S3", valid_from="2026-02-01")
    for i in range(1, 25):  # university teachers (office members)
        uni = "UNI1" if i <= 16 else ("UNI2" if i <= 20 else "UNI3")
        b.add("teachers", teacher_id=f"U{i:02d}", teacher_name=f"教授{i}", gender="M", birth_year=1975,
              title="professor", university_id=uni, valid_from="2020-01-01")
    offices = {"V1": ("UNI1", "national", [f"U{i:02d}" for i in range(1, 11)] + ["U21"]),  # 11 incl. a western member
               "V2": ("UNI2", "regional", ["U17", "U18", "U19", "U20"]),  # only 4 members
               "V3": ("UNI1", "national", [f"U{i:02d}" for i in range(7, 17)])}  # 10, all from the east
    for vtro, (uni, scope, members) in offices.items():
        b.add("vtros", vtro_id=vtro, vtro_name=f"教研室{vtro}", university_id=uni, scope=scope,
              content_type="course_group", leader_teacher_id=members[0], founded_on="2024-03-01", pilot_batch=2)
        for member in members:
            b.add("vtro_members", vtro_id=vtro, teacher_id=member, role="member", joined_on="2024-03-15",
                  left_on=None)
    b.add("vtro_members", vtro_id="V1", teacher_id="U22", role="member", joined_on="2024-03-15",
          left_on="2025-06-30")  # left before the year's end: not counted
    # lessons: two autumn lessons per school teacher, coded by behaviour-net 1; T01's first also by version 2
    # (a reprocess) and by the simulated coder; one lesson by the simulated coder only
    runs: dict[tuple[str, str, str], Run] = {}
    lessons: dict[str, dict] = {}
    styles = itertools.cycle(STYLES)
    for tid in sorted(teachers):
        for k, day in enumerate(("2025-09-02", "2025-09-02")):
            lid = f"L{tid}-{k}"
            lessons[lid] = {"teacher_id": tid, "school_id": teachers[tid]["school_id"], "lesson_date": day}
            b.add("lesson_manifest", lesson_id=lid, teacher_id=tid, school_id=teachers[tid]["school_id"],
                  subject="mathematics", grade=5, lesson_date=day, start_time="08:00:00", video_uri=None,
                  class_size=40, duration_s=None)
            model = ("simulated-coder", "0") if lid == "LT13-1" else ("behaviour-net", "1")
            run = make_run(rng, lid, next(styles), int(rng.integers(25, 61)), model)
            runs[(lid, *model)] = run
    for model in (("behaviour-net", "2"), ("simulated-coder", "0")):
        run = make_run(rng, "LT01-0", "dialogue", 40, model)
        runs[("LT01-0", *model)] = run
    for run in runs.values():
        for row in code_rows(run):
            b.add("behaviour_codes", **row)
    # rubrics: a 3-level classroom-teaching rubric and a 2-level teaching-design rubric, each with its bands
    for rubric, kind, indicators in [
        ("RC", "classroom_teaching", [("A", None, 1, None, None), ("A1", "A", 2, 10, 2), ("A2", "A", 2, 5, 1),
                                       ("B", None, 1, None, None), ("B1", "B", 2, None, None),
                                       ("B1a", "B1", 3, 4, 1), ("B1b", "B1", 3, 4, 3)]),
        ("RD", "teaching_design", [("D", None, 1, None, None), ("D1", "D", 2, 10, 1), ("D2", "D", 2, 10, 1)]),
    ]:
        for pos, (ind, parent, level, max_score, weight) in enumerate(indicators, start=1):
            b.add("rubric_indicators", rubric_id=rubric, rubric_name=f"量规{rubric}", kind=kind, version=1,
                  published_on="2025-01-01", subject=None, indicator_id=ind, parent_id=parent, level=level,
                  name=f"指标{ind}", position=pos, max_score=max_score, weight=weight)
        for band, label, ratio, rank in [("excellent", "优秀", 0.9, 1), ("good", "良好", 0.75, 2),
                                         ("pass", "合格", 0.6, 3), ("needs_work", "待改进", 0.0, 4)]:
            b.add("rubric_bands", rubric_id=rubric, band=band, label_zh=label, min_ratio=ratio, rank=rank)
    leaves = {"RC": {"A1": 10, "A2": 5, "B1a": 4, "B1b": 4}, "RD": {"D1": 10, "D2": 10}}
    for lid in sorted(lessons):
        for rubric, maxima in leaves.items():
            for observer, role in (("U01", "expert"), ("U02", "peer"), ("U03", "researcher")):
                for leaf, maximum in maxima.items():
                    if observer == "U03" and leaf == "A2":
                        continue  # a missing score: alpha must cope
                    score = float(rng.integers(maximum // 2, maximum + 1))
                    b.add("rubric_scores", lesson_id=lid, rubric_id=rubric, indicator_id=leaf, observer_id=observer,
                          observer_role=role, score=score, scored_at="2025-09-02T10:00:00+08:00")
    # gold codes for two lessons: the behaviour-net codes with a few points recoded by a human
    for lid in ("LT01-0", "LT05-1"):
        run = runs[(lid, "behaviour-net", "1")]
        gold_teacher = run.teacher.copy()
        gold_teacher[::7] = (gold_teacher[::7] + 1) % 4
        for i, t in enumerate(gold_teacher):
            b.add("gold_codes", lesson_id=lid, point_index=i, teacher_behaviour=TEACHERS[t],
                  **{c: float(s) for c, s in zip(SHARES, run.shares[i], strict=True)}, coder_id="U05",
                  coded_at="2025-09-05T20:00:00+08:00")
    _activity(b)
    # night 2: new lessons, a reprocess of LT02-0 by version 2, a correction of one score, one more teacher version
    n2 = night2
    for tid in ("T03", "T09"):
        lid = f"L{tid}-2"
        lessons[lid] = {"teacher_id": tid, "school_id": teachers[tid]["school_id"], "lesson_date": "2025-09-03"}
        n2.add("lesson_manifest", lesson_id=lid, teacher_id=tid, school_id=teachers[tid]["school_id"],
               subject="mathematics", grade=5, lesson_date="2025-09-03", start_time="09:00:00", video_uri=None,
               class_size=38, duration_s=None)
        runs[(lid, "behaviour-net", "1")] = make_run(rng, lid, "practice", 30, ("behaviour-net", "1"))
    runs[("LT02-0", "behaviour-net", "2")] = make_run(rng, "LT02-0", "lecture", 35, ("behaviour-net", "2"))
    for key in (("LT03-2", "behaviour-net", "1"), ("LT09-2", "behaviour-net", "1"), ("LT02-0", "behaviour-net", "2")):
        for row in code_rows(runs[key]):
            n2.add("behaviour_codes", **row)
    n2.add("rubric_scores", lesson_id="LT04-0", rubric_id="RC", indicator_id="A1", observer_id="U01",
           observer_role="expert", score=1.0, scored_at="2025-09-03T10:00:00+08:00")
    n2.add("teachers", teacher_id="T04", teacher_name="教师4", gender="F", birth_year=1985, title="senior_teacher",
           subject="mathematics", grade=5, school_id="S1", valid_from="2025-09-03")
    return World(night1, night2, runs, lessons, teachers)


def _activity(b: Batch) -> None:
    """The Spark job's datasets for 2025: V1 active and cross-university, V2 one training, V3 silent."""
    acts = [("A1", "V1", "lesson_analysis", False, "2025-03-10", ["U01", "U02", "U21"], True),
            ("A2", "V1", "collective_preparation", False, "2025-11-20", ["U03", "U04"], False),
            ("A3", "V2", "training", True, "2025-05-05", ["U17", "U18", "T01"], False)]
    for aid, vtro, kind, training, day, participants, cross in acts:
        b.add("activities", fact_date=day, activity_id=aid, kind=kind, is_training=training, host_vtro_id=vtro,
              creator_id=participants[0], created_at=f"{day}T09:00:00+08:00", first_attended_at=None,
              last_attended_at=None, attendances=len(participants), participants=len(participants),
              participant_universities=2 if cross else 1, participant_schools=1 if not cross else 0,
              cross_university=cross, last_fact_date=day)
        b.add("vtro_day", fact_date=day, vtro_id=vtro, events=len(participants) + 1,
              active_members=len(participants), members_joined=0, members_left=0, activities_created=1,
              activities_attended=len(participants), activities_held=1, participants=len(participants),
              trainings_attended=len(participants) if training else 0, resources_published=0,
              knowledge_graphs_published=0, discussions_posted=0, lessons_observed=0, lessons_scored=0)
        b.add("member_day_kinds", fact_date=day, member_id=participants[0], vtro_id=vtro,
              event_type="activity_created", kind=kind, events=1, objects=1)
        for member in participants:
            b.add("member_day_kinds", fact_date=day, member_id=member, vtro_id=vtro, event_type="activity_attended",
                  kind=kind, events=1, objects=1)
            b.add("activity_attendance", fact_date=day, activity_id=aid, member_id=member, vtro_id=vtro, kind=kind,
                  attendances=1, first_ts=f"{day}T09:30:00+08:00", last_ts=f"{day}T10:30:00+08:00")
    for event, resource, kind, kg in [("R1", "res1", "knowledge_graph", True), ("R2", "res2", "courseware", False),
                                      ("R3", "res2", "courseware", False)]:
        b.add("resources_published", fact_date="2025-06-01", event_id=event, resource_id=resource, kind=kind,
              is_knowledge_graph=kg, member_id="U01", vtro_id="V1", published_at="2025-06-01T10:00:00+08:00")
    for kind, events, objects in (("knowledge_graph", 1, 1), ("courseware", 2, 1)):
        b.add("member_day_kinds", fact_date="2025-06-01", member_id="U01", vtro_id="V1",
              event_type="resource_published", kind=kind, events=events, objects=objects)
    for tid, potential in (("T01", 62.5), ("T02", 40.0)):
        b.add("member_term_research", fact_date="2025-09-01", term_code="2025-autumn", member_id=tid, actions=5,
              action_types=2, activities_created=1, activities_attended=3, resources_published=1,
              discussions_posted=0, lessons_observed=1, lessons_scored=0, active_weeks=2, median_gap_days=3.0,
              first_action_at="2025-09-01T09:00:00+08:00", last_action_at="2025-09-02T09:00:00+08:00",
              volume_score=0.5, breadth_score=0.5, contribution_score=0.5, continuity_score=0.5,
              research_potential=potential, computed_through="2025-09-02")


# --- the Python reference ----------------------------------------------------------------------------------
def reference_metrics(run: Run) -> dict:
    """Rt, Ch, mode, rose shares and curves of one lesson run, computed from the points with NumPy and fractions."""
    by_code = {b.code: b for b in codes.behaviours()}
    st = codes.st_codes(run.teacher, run.shares)
    n = len(st)
    n_t = int((st == "T").sum())
    switches = int((st[1:] != st[:-1]).sum())
    rt, ch = Fraction(n_t, n), Fraction(switches, n)
    mode = ("practice" if rt <= THRESHOLDS["rt_practice_max"] else "lecture" if rt >= THRESHOLDS["rt_lecture_min"]
            else "dialogue" if ch >= THRESHOLDS["ch_dialogue_min"] else "mixed")
    shares = run.shares.astype(np.float64)
    participation = shares @ np.array([by_code[c].in_participation for c in codes.student_codes()], float)
    attending = np.array([by_code[TEACHERS[t]].in_attention for t in run.teacher])
    attention = shares @ np.array([by_code[c].in_attention for c in codes.student_codes()], float)
    return {
        "n_points": n, "n_t_points": n_t, "n_st_runs": switches + 1, "rt": rt, "ch": ch, "teaching_mode": mode,
        **{f"share_{code}": float((run.teacher == i).mean()) for i, code in enumerate(TEACHERS)},
        **{f"mean_{c}": float(shares[:, j].mean()) for j, c in enumerate(SHARES)},
        "participation_level": float(participation.mean()),
        "consistency_level": float(shares.max(axis=1).mean()),
        "attention_level": float(attention[attending].mean()) if attending.any() else None,
    }


def krippendorff_alpha(units: list[list[float]]) -> float | None:
    """Interval alpha from the coincidence definition: ordered pairs within units vs all pairable values."""
    pairable = [u for u in units if len(u) >= 2]
    values = [v for u in pairable for v in u]
    n = len(values)
    if n < 2:
        return None
    observed = sum(sum((a - b) ** 2 for a, b in itertools.permutations(u, 2)) / (len(u) - 1) for u in pairable) / n
    expected = sum((a - b) ** 2 for a, b in itertools.permutations(values, 2)) / (n * (n - 1))
    return None if expected == 0 else 1 - observed / expected


NIGHT2_RUNS = {("LT03-2", "behaviour-net", "1"), ("LT09-2", "behaviour-net", "1"), ("LT02-0", "behaviour-net", "2")}


def current_run_key(world: World, lesson_id: str, nights: int = 1) -> tuple[str, str, str]:
    """The run portraits use: non-simulated before simulated, then the latest loaded, then the highest version."""
    def night(key: tuple[str, str, str]) -> int:
        return 2 if key in NIGHT2_RUNS else 1

    keys = [k for k in world.runs if k[0] == lesson_id and night(k) <= nights]
    return max(keys, key=lambda k: (not k[1].startswith("simulated"), night(k), k[1], k[2]))


# --- fixtures ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def built(warehouse: dict[str, str], sibling_database: Callable,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """The hand-built world after night 1: built twice, with the checksums of both builds."""
    with sibling_database(sibling_name(warehouse, "dbt")) as urls:
        world = build_world()
        world.night1.load(urls["loader"])
        dbt = Dbt(urls["transformer"], tmp_path_factory.mktemp("dbt"))
        dbt("build")
        first = mart_checksums(urls["owner"])
        dbt("build")
        second = mart_checksums(urls["owner"])
        yield {"urls": urls, "world": world, "dbt": dbt, "first": first, "second": second}


# --- night 1: one build, then a second that changes nothing -----------------------------------------------
def test_a_second_build_changes_no_mart_row(built: dict) -> None:
    assert built["first"] == built["second"]
    assert {"mart_lesson_report", "mart_teacher_portrait", "mart_region_portrait", "mart_annual_report",
            "fct_behaviour_points", "dim_teachers"} <= set(built["first"])


def test_the_point_fact_tests_catch_broken_points_and_a_missing_key_index(built: dict) -> None:
    """The point fact's rules run as one scan (well_formed) and its key as an index check: both must still fail."""
    urls, dbt = built["urls"], built["dbt"]

    def failures() -> dict[str, int]:
        dbt.run("test", "--select", "fct_behaviour_points", "--exclude-resource-type", "unit_test")
        results = json.loads((dbt.workdir / "target" / "run_results.json").read_text())["results"]
        return {r["unique_id"].split(".")[2]: r["failures"] for r in results if r["status"] != "pass"}

    with psycopg.connect(urls["owner"], autocommit=True) as conn:
        saved = conn.execute("select lesson_run_id, point_index, teacher_behaviour, st_code "
                             "from marts.fct_behaviour_points order by 1, 2 limit 2").fetchall()
        for run_id, point, _behaviour, _st_code in saved:
            conn.execute("update marts.fct_behaviour_points set teacher_behaviour = 'sleeping', st_code = 'X' "
                         "where lesson_run_id = %s and point_index = %s", (run_id, point))
        try:
            assert failures() == {"fct_behaviour_points_well_formed": 2}
        finally:
            for run_id, point, behaviour, st_code in saved:
                conn.execute("update marts.fct_behaviour_points set teacher_behaviour = %s, st_code = %s "
                             "where lesson_run_id = %s and point_index = %s", (behaviour, st_code, run_id, point))
        index = conn.execute("select indexrelid::regclass::text, pg_get_indexdef(indexrelid) from pg_index "
                             "where indrelid = 'marts.fct_behaviour_points'::regclass and indisunique").fetchone()
        conn.execute(f"drop index {index[0]}")
        try:
            assert failures() == {"assert_behaviour_point_key_is_a_unique_index": 1}
        finally:
            conn.execute(index[1])
    assert failures() == {}


def test_lesson_metrics_match_an_independent_computation(built: dict) -> None:
    world: World = built["world"]
    rows = query(built["urls"]["reader"], "select * from marts.mart_lesson_report")
    assert len(rows) == sum(1 for k in world.runs if k not in NIGHT2_RUNS)
    for row in rows:
        expected = reference_metrics(world.runs[(row["lesson_id"], row["model_name"], row["model_version"])])
        # exact numeric division (20 significant digits): equal to the fraction, exactly so at the rule boundaries
        assert abs(Fraction(row["rt"]) - expected["rt"]) < Fraction(1, 10**18), row["lesson_id"]
        assert abs(Fraction(row["ch"]) - expected["ch"]) < Fraction(1, 10**18), row["lesson_id"]
        for key in ("n_points", "n_t_points", "n_st_runs", "teaching_mode"):
            assert row[key] == expected[key], (row["lesson_id"], key)
        for key, value in expected.items():
            if key.startswith(("share_", "mean_share_")) or key.endswith("_level"):
                assert row[key] is not None and abs(float(row[key]) - value) < 2e-6, (row["lesson_id"], key)
        assert (row["sampling_interval_s"], row["rt_practice_max"], row["rt_lecture_min"], row["ch_dialogue_min"]) == (
            6, Fraction(3, 10), Fraction(7, 10), Fraction(2, 5))
    modes = {row["teaching_mode"] for row in rows}
    assert len(modes) >= 3, f"the world should exercise several teaching modes, got {modes}"


def test_rose_chart_and_windows_and_st_curve(built: dict) -> None:
    world: World = built["world"]
    url = built["urls"]["reader"]
    run = world.runs[("LT05-0", "behaviour-net", "1")]
    expected = reference_metrics(run)
    rose = {r["behaviour_code"]: r for r in query(url, "select * from marts.mart_lesson_rose_chart "
                                                       "where lesson_id = 'LT05-0'")}
    assert set(rose) == {b.code for b in codes.behaviours()}
    assert sum(r["share_pct"] for r in rose.values() if r["actor"] == "teacher") == pytest.approx(100, abs=0.05)
    assert float(rose["lecturing"]["share_pct"]) == pytest.approx(100 * expected["share_lecturing"], abs=0.005)
    windows = query(url, "select * from marts.mart_lesson_timeline where lesson_id = 'LT05-0' order by window_index")
    by_code = {b.code: b for b in codes.behaviours()}
    flags = np.array([by_code[c].in_participation for c in codes.student_codes()], float)
    for w in windows:
        part = run.shares[w["window_index"] * 20:(w["window_index"] + 1) * 20].astype(np.float64)
        assert float(w["participation"]) == pytest.approx(float((part @ flags).mean()), abs=2e-6)
        assert float(w["performance"]) == pytest.approx(float(part.max(axis=1).mean()), abs=2e-6)
        assert w["video_seek_s"] == 120 * w["window_index"]
    assert len(windows) == -(-len(run.teacher) // 20)
    curve = query(url, "select t_axis, s_axis from marts.mart_lesson_st_curve where lesson_id = 'LT05-0' "
                       "and model_version = '1' order by point_index")
    st = codes.st_codes(run.teacher, run.shares)
    assert [(r["t_axis"], r["s_axis"]) for r in curve] == list(zip(np.cumsum(st == "T").tolist(),
                                                                   np.cumsum(st == "S").tolist(), strict=True))
    matrix = query(url, "select from_behaviour, to_behaviour, n_transitions from marts.mart_lesson_transition_matrix "
                        "where lesson_id = 'LT05-0'")
    counted = defaultdict(int)
    for a, b in itertools.pairwise(run.teacher):
        counted[(TEACHERS[a], TEACHERS[b])] += 1
    assert len(matrix) == 16 and {(r["from_behaviour"], r["to_behaviour"]): r["n_transitions"] for r in matrix} == {
        (a, b): counted[(a, b)] for a in TEACHERS for b in TEACHERS}


def test_the_current_run_prefers_real_models_and_the_latest_reprocess(built: dict) -> None:
    rows = query(built["urls"]["reader"], "select lesson_id, model_name, model_version from marts.mart_lesson_report "
                                          "where is_current_run order by lesson_id")
    current = {r["lesson_id"]: (r["model_name"], r["model_version"]) for r in rows}
    assert current["LT01-0"] == ("behaviour-net", "2")  # reprocessed by version 2, simulated run ignored
    assert current["LT13-1"] == ("simulated-coder", "0")  # only the simulated coder coded it
    assert current["LT05-0"] == ("behaviour-net", "1")
    assert len(current) == 26


def test_rubric_roll_up_bands_and_observer_agreement(built: dict) -> None:
    url = built["urls"]["owner"]
    scores = query(url, "select lesson_id, rubric_id, indicator_id, observer_id, score "
                        "from staging.stg_jiaoyan__rubric_scores")
    maxima = {"A1": 10, "A2": 5, "B1a": 4, "B1b": 4, "D1": 10, "D2": 10}
    weights = {"A1": 2, "A2": 1, "B1a": 1, "B1b": 3, "D1": 1, "D2": 1}
    parents = {"A1": ["A"], "A2": ["A"], "B1a": ["B1", "B"], "B1b": ["B1", "B"], "D1": ["D"], "D2": ["D"]}
    per_observer: dict[tuple, list[tuple[float, float]]] = defaultdict(list)
    for s in scores:
        ratio = s["score"] / maxima[s["indicator_id"]]
        for indicator in [s["indicator_id"], *parents[s["indicator_id"]], "__overall__"]:
            per_observer[(s["lesson_id"], s["rubric_id"], indicator, s["observer_id"])].append(
                (weights[s["indicator_id"]], ratio))
    lesson_means: dict[tuple, list[float]] = defaultdict(list)
    for (lesson, rubric, indicator, _observer), pairs in per_observer.items():
        lesson_means[(lesson, rubric, indicator)].append(sum(w * r for w, r in pairs) / sum(w for w, _ in pairs))
    rows = query(built["urls"]["reader"], "select * from marts.mart_rubric_report")
    assert len(rows) == len(lesson_means)
    for row in rows:
        mean = np.mean(lesson_means[(row["lesson_id"], row["rubric_id"], row["indicator_id"])])
        assert float(row["mean_ratio"]) == pytest.approx(mean, abs=2e-6)
        band = next(b for b, floor in (("excellent", 0.9), ("good", 0.75), ("pass", 0.6), ("needs_work", 0))
                    if float(row["mean_ratio"]) >= floor)
        assert row["band_code"] == band
    agreement = query(built["urls"]["reader"], "select * from marts.mart_observer_agreement")
    assert len(agreement) == 2 * 26
    for row in agreement:
        units = defaultdict(list)
        for s in scores:
            if (s["lesson_id"], s["rubric_id"]) == (row["lesson_id"], row["rubric_id"]):
                units[s["indicator_id"]].append(s["score"] / maxima[s["indicator_id"]])
        expected = krippendorff_alpha(list(units.values()))
        assert (row["krippendorff_alpha"] is None) == (expected is None)
        if expected is not None:
            assert float(row["krippendorff_alpha"]) == pytest.approx(expected, abs=2e-6)


def test_model_human_agreement_matches_scikit_learn(built: dict) -> None:
    from sklearn.metrics import cohen_kappa_score, f1_score

    world: World = built["world"]
    gold, machine = [], []
    for lid in ("LT01-0", "LT05-1"):
        run = world.runs[(lid, "behaviour-net", "1")]
        recoded = run.teacher.copy()
        recoded[::7] = (recoded[::7] + 1) % 4
        gold += [TEACHERS[t] for t in recoded]
        machine += [TEACHERS[t] for t in run.teacher]
    url = built["urls"]["reader"]
    kappa = query(url, "select cohens_kappa, n_points, n_lessons from marts.mart_model_agreement where model_name = "
                       "'behaviour-net' and model_version = '1' and label_set = 'teacher_behaviour'")[0]
    assert kappa["n_points"] == len(gold) and kappa["n_lessons"] == 2
    assert float(kappa["cohens_kappa"]) == pytest.approx(cohen_kappa_score(gold, machine), abs=2e-6)
    f1 = {r["label"]: float(r["f1"]) for r in query(url, "select label, f1 from marts.mart_model_behaviour_f1 where "
                                                          "model_version = '1' and label_set = 'teacher_behaviour'")}
    labels = sorted(f1)
    assert f1 == pytest.approx(dict(zip(labels, f1_score(gold, machine, labels=labels, average=None), strict=True)),
                               abs=2e-6)


def test_dimensions_keep_history_and_pseudonymise(built: dict) -> None:
    url = built["urls"]["reader"]
    versions = query(url, "select school_id, valid_from, valid_to from marts.dim_teachers where teacher_id = 'T02' "
                          "order by valid_from")
    assert [(v["school_id"], v["valid_to"]) for v in versions] == [("S1", dt.date(2026, 2, 1)), ("S3", None)]
    lesson = query(url, "select school_key, urban_rural, teacher_key from marts.fct_lessons "
                        "where lesson_id = 'LT02-0'")[0]
    assert lesson["teacher_key"] == "T02@2020-01-01" and lesson["urban_rural"] == "urban"
    columns = {r["column_name"] for r in query(url, "select column_name from information_schema.columns "
                                                    "where table_schema = 'marts'")}
    assert not columns & {"teacher_name", "birth_year", "gender"}, "personal data must not reach the marts"
    with psycopg.connect(url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute("select * from intermediate.int_teacher_identities")
    names = query(built["urls"]["transformer"], "select teacher_name from intermediate.int_teacher_identities "
                                                "where teacher_id = 'T02'")
    assert names == [{"teacher_name": "教师2"}]


def test_portraits_follow_the_lessons_and_suppress_small_groups(built: dict) -> None:
    world: World = built["world"]
    url = built["urls"]["reader"]
    portrait = {r["teacher_pseudonym"]: r for r in query(
        url, "select p.*, d.teacher_id from marts.mart_teacher_portrait p join marts.dim_teachers d "
             "using (teacher_pseudonym) where term_code = '2025-autumn' and d.is_current_version")}
    for row in portrait.values():
        tid = row["teacher_id"]
        lessons = sorted(lid for lid, lesson in world.lessons.items() if lesson["teacher_id"] == tid
                         and lesson["lesson_date"] < T2)
        metrics = [reference_metrics(world.runs[current_run_key(world, lid)]) for lid in lessons]
        assert row["n_lessons_analysed"] == len(metrics), tid
        assert float(row["participation"]) == pytest.approx(np.mean([m["participation_level"] for m in metrics]),
                                                            abs=2e-6)
        assert float(row["rt"]) == pytest.approx(float(np.mean([float(m["rt"]) for m in metrics])), abs=2e-6)
    assert float(portrait[query(url, "select teacher_pseudonym from marts.dim_teachers where teacher_id = 'T01'")[0][
        "teacher_pseudonym"]]["research_potential"]) == 62.5
    regions = {(r["area_level"], r["area_code"]): r for r in query(
        url, "select * from marts.mart_region_portrait where term_code = '2025-autumn'")}
    # Tianhe (7 teachers) and Baiyun (5) are shown; Futian (1 teacher) is suppressed
    assert not regions[("district", "440106")]["is_suppressed"] and regions[("district", "440106")]["n_teachers"] == 7
    futian = regions[("district", "440304")]
    assert futian["is_suppressed"] and futian["n_teachers"] is None and futian["mean_participation"] is None
    assert regions[("province", "440000")]["coverage"] == 1
    distribution = query(url, "select * from marts.mart_region_metric_distribution where area_code = '440100' and "
                              "term_code = '2025-autumn' and indicator_code = 'participation'")
    groups = {r["group_code"]: r for r in distribution}
    assert groups["urban"]["n_teachers"] == 7 and groups["rural"]["n_teachers"] == 5
    assert groups["weak_school"]["n_teachers"] == 5


def test_annual_report_figures(built: dict) -> None:
    url = built["urls"]["reader"]
    report = {(r["report_level"], r["report_unit_id"]): r for r in query(
        url, "select * from marts.mart_annual_report where report_year = 2025")}
    v1, v2, nation = report[("vtro", "V1")], report[("vtro", "V2")], report[("nation", "CN")]
    assert v1["n_members"] == 11 and v1["n_activities"] == 2 and v1["n_participant_times"] == 5
    assert v1["n_resources"] == 2 and v1["n_knowledge_graphs"] == 1 and v1["n_cross_university_activities"] == 1
    assert v1["n_active_members"] == 5  # U01–U04 and U21 created or attended; U22 had left
    assert v2["n_training_sessions"] == 1 and v2["n_trained_teachers"] == 3
    assert nation["n_offices"] == 3 and nation["n_national_offices"] == 2 and nation["n_members"] == 21
    assert nation["n_host_universities"] == 2 and nation["n_member_universities"] == 3
    offices = {r["vtro_id"]: r for r in query(url, "select * from marts.mart_exemplary_offices "
                                                   "where report_year = 2025")}
    assert offices["V1"]["is_compliant"] and not offices["V2"]["is_compliant"] and not offices["V3"]["is_compliant"]
    assert not offices["V3"]["meets_central_western_rule"] and not offices["V2"]["meets_member_minimum"]
    # V2: more activities, active members and participants per member, and the only training → ranked first
    assert [offices[v]["composite_rank"] for v in ("V2", "V1", "V3")] == [1, 2, 3]
    assert float(offices["V2"]["composite_score"]) == pytest.approx(90.0, abs=1e-6)
    assert offices["V3"]["to_remind"] and not offices["V1"]["to_remind"]
    assert offices["V1"]["reference_date"] == dt.date(2025, 11, 20)  # the running year ends at the data's as-of date
    remind = {r["vtro_id"] for r in query(url, "select vtro_id from marts.mart_offices_to_remind "
                                               "where report_year = 2025")}
    assert remind == {"V2", "V3"}  # V2's only activity was in May


# --- night 2: the incremental build equals a full refresh ------------------------------------------------
def test_an_incremental_night_equals_a_full_refresh(built: dict) -> None:
    urls, world, dbt = built["urls"], built["world"], built["dbt"]
    world.night2.load(urls["loader"])
    dbt("build")
    incremental = mart_checksums(urls["owner"])
    rows = {(r["lesson_id"], r["model_version"]): r
            for r in query(urls["reader"], "select * from marts.mart_lesson_report")}
    assert ("LT03-2", "1") in rows and ("LT02-0", "2") in rows
    assert rows[("LT02-0", "2")]["is_current_run"] and not rows[("LT02-0", "1")]["is_current_run"]
    expected = reference_metrics(world.runs[("LT02-0", "behaviour-net", "2")])
    assert rows[("LT02-0", "2")]["teaching_mode"] == expected["teaching_mode"]
    corrected = query(urls["owner"], "select score from marts.fct_rubric_observer_scores where lesson_id = 'LT04-0' "
                                     "and indicator_id = 'A1' and observer_id = 'U01'")
    assert corrected == [{"score": 1}]  # the later correction won
    dbt("run", "--full-refresh")
    assert mart_checksums(urls["owner"]) == incremental
    assert incremental != built["second"]


# --- a small demo world through the real loader ------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_world(warehouse: dict[str, str], sibling_database: Callable,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from jiaoyan.demo_world import scales, world
    from jiaoyan.load import load_all

    with sibling_database(sibling_name(warehouse, "dbt_demo")) as urls:
        root = tmp_path_factory.mktemp("demo")
        landing, lake = root / "landing", root / "lake"
        knobs = scales.knobs("demo", 11, end=dt.date(2025, 10, 17), days=4, events_per_day=300, video_days=0,
                             lessons_per_night=0, gold_lessons=0, preset="default", workers=1, defects=True)
        world.generate(knobs, str(landing))
        from jiaoyan.settings import apply_environ, reset_settings_cache

        saved = apply_environ({"JIAOYAN_LOADER_URL": urls["loader"]})
        reset_settings_cache()
        try:
            load_all(str(landing), lake_uri=str(lake))
        finally:
            apply_environ(saved)
            reset_settings_cache()
        Dbt(urls["transformer"], root / "dbt")("build")
        yield {"urls": urls, "landing": landing}


def test_demo_lessons_get_the_mode_of_their_codes_and_mostly_of_their_script(demo_world: dict) -> None:
    import pandas as pd

    urls, landing = demo_world["urls"], demo_world["landing"]
    loaded = pd.DataFrame(query(urls["owner"], "select lesson_id, point_index, teacher_behaviour, " + ", ".join(SHARES)
                                + " from raw.behaviour_codes as codes where _loaded_at = (select max(_loaded_at) from "
                                "raw.behaviour_codes as later where later.lesson_id = codes.lesson_id and "
                                "later.model_name = codes.model_name and later.model_version = codes.model_version)"))
    assert not loaded.empty
    report = {r["lesson_id"]: r for r in query(urls["reader"], "select lesson_id, teaching_mode, rt, ch from "
                                                               "marts.mart_lesson_report where is_current_run")}
    index = {code: i for i, code in enumerate(TEACHERS)}
    from_codes = {}
    for lesson_id, points in loaded.sort_values(["lesson_id", "point_index"]).groupby("lesson_id"):
        run = Run(str(lesson_id), "", "", points["teacher_behaviour"].map(index).to_numpy(),
                  points[list(SHARES)].to_numpy(np.float32))
        from_codes[lesson_id] = reference_metrics(run)["teaching_mode"]
    assert set(report) <= set(from_codes)
    mismatched = {lid for lid, row in report.items() if row["teaching_mode"] != from_codes[lid]}
    assert not mismatched, f"modes differ from the loaded codes for {sorted(mismatched)[:5]}"
    truth = pd.read_csv(landing / "_truth" / "lessons.csv")
    truth = truth[truth["lesson_id"].isin(report)]
    agreement = float(np.mean([report[lid]["teaching_mode"] == mode
                               for lid, mode in zip(truth["lesson_id"], truth["expected_mode"], strict=True)]))
    print(f"demo world: {len(report)} lessons; teaching mode agrees with the script's truth for {agreement:.1%}")
    assert len(truth) == len(report) and agreement >= 0.9
