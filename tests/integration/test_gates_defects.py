"""The quality gates against the real PostgreSQL, dbt and Great Expectations.

A small generated world (6 nights) in a database of its own, loaded by the real loader:

- nights 1–4 load clean; night 4 carries a harmless warning (a few S/T codes that disagree with the seed's
  scheme): its raw gate warns, dbt builds the marts into ``marts_next``, its marts gate passes and publishes —
  the clean path, and the baseline for the drift checks;
- night 5 is then broken deliberately, one kind of defect at a time, by SQL run as the owner (each
  statement below says what it breaks); the night goes through what the DAG does (raw gate → dbt → marts
  gate → publish) and must be held by the named expectation, with a sample of the rows, while the published
  marts stay byte for byte what they were. Night 5 is reloaded after each defect (the fix);
- defects only the marts can show (a mode mix that jumps, annual totals that do not add up, a missing
  portrait, a mode that contradicts its Rt and Ch) break night 5's build;
- night 6 is held while night 5 is, and goes on once night 5 is accepted.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

pytestmark = pytest.mark.integration

SEED = 5
END = dt.date(2025, 10, 24)  # six nights ending on a Friday, batch ids of their own
NIGHTS = [(END - dt.timedelta(days=5 - i)).isoformat() for i in range(6)]
N4, N5, N6 = NIGHTS[3], NIGHTS[4], NIGHTS[5]
GATE_ENV = {
    "JIAOYAN_GATE_DRIFT_MIN_LESSONS": "10",  # the demo has ~25 lessons a night
    "JIAOYAN_GATE_DRIFT_MIN_POINTS": "300",
    "JIAOYAN_GATE_DATA_DOCS": "false",  # built once, for the clean night (it is the slow part of a small run)
}


# --- the world ---------------------------------------------------------------------------------------------
@dataclass
class World:
    urls: dict[str, str]
    landing: Path
    lake: Path
    dbt_dir: Path
    raw4: object = None
    marts4: object = None
    before4: dict | None = None


@pytest.fixture(scope="module")
def world(sibling_database: Callable, set_env: Callable, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from jiaoyan.demo_world import scales
    from jiaoyan.demo_world import world as demo

    with sibling_database(f"jiaoyan_test_gates_{os.getpid()}") as urls:
        root = tmp_path_factory.mktemp("gates")
        saved = set_env({"JIAOYAN_WAREHOUSE_URL": urls["owner"], "JIAOYAN_LOADER_URL": urls["loader"],
                         "JIAOYAN_TRANSFORMER_URL": urls["transformer"], "JIAOYAN_READER_URL": urls["reader"],
                         "JIAOYAN_GATE_PROJECT_DIR": str(root / "project"), **GATE_ENV})
        try:
            w = World(urls, root / "landing", root / "lake", root / "dbt")
            knobs = scales.knobs("demo", SEED, end=END, days=6, events_per_day=300, video_days=0,
                                 lessons_per_night=0, gold_lessons=0, workers=1, defects=True)
            demo.generate(knobs, str(w.landing))
            for night in NIGHTS[:4]:
                load(w, night)
            _setup_night_4(w, set_env)
            load(w, N5)
            load(w, N6)
            yield w
        finally:
            set_env(saved)


def _setup_night_4(w: World, set_env: Callable) -> None:
    """The clean path with a warning: raw gate warns, dbt builds, marts gate passes and publishes."""
    from expectations import gates

    execute(w, f"update raw.behaviour_codes set st_code = case st_code when 'S' then 'T' else 'S' end "
               f"where _batch_id = '{N4}' and point_index = 3")  # harmless: dbt recomputes S/T from the seed
    w.raw4 = gates.run_raw_gate(N4)
    build(w)
    w.before4 = published(w)
    set_env({"JIAOYAN_GATE_DATA_DOCS": "true"})
    try:
        w.marts4 = gates.run_marts_gate(N4)
    finally:
        set_env({"JIAOYAN_GATE_DATA_DOCS": "false"})


def load(w: World, night: str) -> None:
    from jiaoyan.load import load_batch

    report = load_batch(str(w.landing / night), lake_uri=str(w.lake))
    assert report.status == "succeeded", report.render()


def build(w: World) -> None:
    from expectations.gates import DBT_BUILD_ARGS
    from jiaoyan import dbt_runner

    env = {"DBT_TARGET_PATH": str(w.dbt_dir / "target"), "DBT_LOG_PATH": str(w.dbt_dir / "logs"),
           "JIAOYAN_DBT_THREADS": "4"}
    # the DAG runs `dbt build`; its data tests are dbt's own business and are left out here to save time
    result = dbt_runner.run(["build", *DBT_BUILD_ARGS, "--exclude-resource-type", "test",
                             "--exclude-resource-type", "unit_test"], url=w.urls["transformer"], env=env)
    assert result.success, f"dbt failed; see {w.dbt_dir}/logs"


def execute(w: World, *statements: str) -> None:
    """Break the warehouse on purpose, as the owner (the loader would never write these rows)."""
    with psycopg.connect(w.urls["owner"]) as conn, conn.transaction():
        for statement in statements:
            conn.execute(statement)


def published(w: World) -> dict[str, str]:
    """An order-independent checksum of every relation readers see in marts."""
    with psycopg.connect(w.urls["owner"]) as conn:
        names = [r[0] for r in conn.execute("select table_name from information_schema.tables "
                                            "where table_schema = 'marts' order by 1")]
        return {n: conn.execute(sql.SQL(
            "select count(*) || ':' || coalesce(md5(string_agg(h, '' order by h)), '') "
            "from (select md5(t::text) as h from marts.{} as t) as rows").format(sql.Identifier(n))).fetchone()[0]
            for n in names}


def night(w: World, batch_id: str) -> object:
    """What the DAG does with a night: raw gate; if it passes, dbt and the marts gate (which publishes)."""
    from expectations import gates

    raw = gates.run_raw_gate(batch_id)
    if not raw.passed:
        return raw
    build(w)
    return gates.run_marts_gate(batch_id)


@contextmanager
def broken(w: World, *statements: str, reload: tuple[str, ...] = (N5,)) -> Iterator[None]:
    execute(w, *statements)
    try:
        yield
    finally:
        for batch in reload:
            load(w, batch)  # the fix: reload the batch (idempotent replace)


def gate_rows(w: World, run_id: int) -> dict[str, dict]:
    with psycopg.connect(w.urls["owner"]) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        rows = cur.execute("select * from ops.gate_results where run_id = %s", (run_id,)).fetchall()
    return {f"{r['suite']}:{r['check_name']}": r for r in rows}


def scalar(w: World, query: str) -> object:
    with psycopg.connect(w.urls["owner"]) as conn:
        return conn.execute(query).fetchone()[0]


# --- the clean path --------------------------------------------------------------------------------------
def test_a_clean_night_passes_publishes_and_a_warning_only_alerts(world: World) -> None:
    raw, marts = world.raw4, world.marts4
    assert raw.status == "warned", raw.render()
    assert [f.check for f in raw.failed_warning] == ["st_code_matches_scheme"]
    assert raw.failed_warning[0].sample and "_line" in raw.failed_warning[0].sample[0]
    assert marts.status == "passed", marts.render()
    assert marts.publication_id is not None
    assert published(world) != world.before4  # the checked build is what readers see now
    alerts = scalar(world, f"select count(*) from ops.gate_alerts where batch_id = '{N4}' and severity = 'warning'")
    assert alerts == 1
    reader = psycopg.connect(world.urls["reader"])
    with reader:
        assert reader.execute("select count(*) from quality.gate_alerts").fetchone()[0] >= 1  # dashboards see it
        assert reader.execute("select count(*) from marts.fct_lesson_behaviour_metrics").fetchone()[0] > 0
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            reader.execute("select 1 from marts_next.fct_lessons")
    assert marts.data_docs is not None and marts.data_docs.exists()


# --- one broken batch per kind of defect ---------------------------------------------------------------------
CODES = f"raw.behaviour_codes where _batch_id = '{N5}'"
ONE_LESSON = f"(select min(lesson_id) from raw.behaviour_codes where _batch_id = '{N5}')"
RAW_DEFECTS = {
    # a lesson whose points are not contiguous: point 5 moved past the end (no row quarantined explains it)
    "points.contiguous": ("raw.behaviour_codes", [
        f"update raw.behaviour_codes set point_index = (select max(point_index) + 1 from {CODES} "
        f"and lesson_id = {ONE_LESSON}) where _batch_id = '{N5}' and lesson_id = {ONE_LESSON} and point_index = 5"]),
    # two teacher behaviours for one point: a second delivery file repeats a point with another behaviour
    "key.unique": ("raw.behaviour_codes", [
        f"insert into raw.behaviour_codes select lesson_id, point_index, t_start_s, 'patrolling', teacher_prob, "
        f"share_listening, share_hand_raising, share_answering, share_reading_writing, share_student_interaction, "
        f"students_seen, st_code, model_name, model_version, audio_present, _batch_id, "
        f"'behaviour_codes/resent.parquet', _line, _loaded_at from {CODES} and point_index = 7"]),
    # a batch that lost half its points
    "points.complete": ("raw.behaviour_codes", [
        f"delete from {CODES} and point_index >= 12"]),
    # shares that drifted: listening under-reported for one lesson, the five no longer sum to 1
    "shares.sum_to_one": ("raw.behaviour_codes", [
        f"update raw.behaviour_codes set share_listening = share_listening * 0.5 + 0.05 "
        f"where _batch_id = '{N5}' and lesson_id = {ONE_LESSON} and share_listening > 0.3"]),
    # an empty critical table: the night's lessons without a single behaviour code
    "batch.codes_present": ("raw.batch", [f"delete from {CODES}"]),
    # rows lost from raw after the loader wrote them (the load report says otherwise)
    "batch.reconciled": ("raw.batch", [
        f"delete from raw.rubric_scores where _batch_id = '{N5}' and _line in (2, 3, 4)"]),
    # a score above its indicator's maximum (a corrected file copied in by hand)
    "score_within_max": ("raw.rubric_scores", [
        f"update raw.rubric_scores set score = score + 100 where _batch_id = '{N5}' and _line = 2"]),
    # a code outside the scheme
    "teacher_behaviour.allowed": ("raw.behaviour_codes", [
        f"update raw.behaviour_codes set teacher_behaviour = 'dancing' where _batch_id = '{N5}' "
        f"and point_index = 2"]),
    # a model version change shifting shares: v2 sees reading/writing where v1 saw listening
    "model.shift": ("raw.batch", [
        f"update raw.behaviour_codes set model_version = 'v2-candidate', "
        f"share_reading_writing = share_reading_writing + share_listening * 0.9, "
        f"share_listening = share_listening * 0.1 where _batch_id = '{N5}'"]),
}



def test_gate_sessions_get_their_settings_through_both_drivers(world: World) -> None:
    """JIT off and a larger work_mem reach PostgreSQL from psycopg (bookkeeping) and GX's SQLAlchemy engine."""
    import sqlalchemy

    from expectations import project
    from expectations.runner import connect

    with connect("raw") as conn:
        assert conn.execute("select current_setting('jit'), current_setting('work_mem')").fetchone() == \
            ("off", "128MB")
    engine = sqlalchemy.create_engine(os.environ[project.MARTS_URL_VARIABLE])
    try:
        with engine.connect() as conn:
            assert conn.execute(sqlalchemy.text("select current_setting('jit')")).scalar() == "off"
    finally:
        engine.dispose()

def _lesson_of_a_late_score(w: World) -> str:
    return scalar(w, f"select s.lesson_id from raw.rubric_scores s join raw.lesson_manifest m using (lesson_id) "
                     f"where s._batch_id = '{N5}' and m._batch_id < '{N5}' order by 1 limit 1")


@pytest.mark.parametrize("check", sorted(RAW_DEFECTS))
def test_a_broken_batch_is_held_by_the_raw_gate(world: World, check: str) -> None:
    suite, statements = RAW_DEFECTS[check]
    before = published(world)
    with broken(world, *statements):
        verdict = night(world, N5)
    assert verdict.gate == "raw" and verdict.status == "failed", verdict.render()
    assert verdict.failed(check, suite), f"{check} did not fail:\n{verdict.render()}"
    finding = next(f for f in verdict.failed_blocking if f.check == check and f.suite == suite)
    assert finding.unexpected_count and finding.sample, finding.render()
    stored = gate_rows(world, verdict.run_id)[f"{suite}:{check}"]
    assert stored["success"] is False and stored["severity"] == "blocking" and stored["sample"]
    assert published(world) == before  # nothing of the night was published


def test_a_reference_broken_across_batches_holds_the_batch(world: World) -> None:
    """Night 5 scores a lesson of an earlier night whose manifest row a later reload of that night lost."""
    lesson = _lesson_of_a_late_score(world)
    night_of = scalar(world, f"select _batch_id from raw.lesson_manifest where lesson_id = '{lesson}'")
    before = published(world)
    with broken(world, f"delete from raw.lesson_manifest where lesson_id = '{lesson}'", reload=(night_of,)):
        verdict = night(world, N5)
    assert verdict.failed("lesson_id.references", "raw.rubric_scores"), verdict.render()
    finding = next(f for f in verdict.failed_blocking if f.check == "lesson_id.references")
    assert finding.sample[0]["lesson_id"] == lesson and finding.sample[0]["_source_file"].startswith("rubric_scores/")
    assert published(world) == before


def test_a_failed_gate_is_idempotent_and_its_rows_stay_in_raw(world: World) -> None:
    from expectations import gates

    with broken(world, *RAW_DEFECTS["shares.sum_to_one"][1]):
        first, second = gates.run_raw_gate(N5), gates.run_raw_gate(N5)
        kept = scalar(world, f"select count(*) from {CODES}")
    assert {f.key for f in first.failed_blocking} == {f.key for f in second.failed_blocking} != set()
    assert [f.unexpected_count for f in first.failed_blocking] == [f.unexpected_count for f in second.failed_blocking]
    alerts = scalar(world, f"select count(*) from ops.gate_alerts where batch_id = '{N5}' and gate = 'raw' "
                           f"and run_id = {second.run_id}")
    assert alerts == len(second.failed_blocking) + len(second.failed_warning)  # replaced, not appended
    assert kept > 0  # the batch stays in raw, ready to be fixed


# --- defects only the marts show ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def jumped(world: World) -> Iterator[object]:
    """Night 5 coded as pure lecturing: every row valid, the raw gate only alerts, the marts gate must hold."""
    before = published(world)
    with broken(world, f"update raw.behaviour_codes set teacher_behaviour = 'lecturing', st_code = 'T', "
                       f"share_listening = 0.9, share_hand_raising = 0.025, share_answering = 0.025, "
                       f"share_reading_writing = 0.025, share_student_interaction = 0.025 "
                       f"where _batch_id = '{N5}'"):
        verdict = night(world, N5)
        yield verdict, before


def test_a_mode_mix_that_jumps_holds_the_build(world: World, jumped: tuple) -> None:
    verdict, before = jumped
    assert verdict.gate == "marts" and verdict.status == "failed", verdict.render()
    assert verdict.failed("mode_mix.jump", "marts.build")
    raw = scalar(world, f"select status from ops.gate_runs where batch_id = '{N5}' and gate = 'raw' "
                        f"order by run_id desc limit 1")
    assert raw == "warned"  # the raw gate saw only valid rows and a drift worth an alert
    assert verdict.publication_id is None and published(world) == before


MART_DEFECTS = {
    # annual totals that do not add up: the nation counts an office its offices do not have
    "figures_add_up": ("marts.mart_annual_report",
                       "update marts_next.mart_annual_report set n_offices = n_offices + 1 "
                       "where report_level = 'nation'"),
    # a teacher with analysed lessons and no portrait
    "portrait_per_teacher_term": ("marts.mart_teacher_portrait",
                                  "delete from marts_next.mart_teacher_portrait where teacher_id = "
                                  "(select min(teacher_id) from marts_next.mart_teacher_portrait "
                                  "where n_lessons_analysed > 0)"),
    # a mode that contradicts its own Rt and Ch
    "teaching_mode.follows_rule": ("marts.fct_lesson_behaviour_metrics",
                                   "update marts_next.fct_lesson_behaviour_metrics set teaching_mode = 'dialogue' "
                                   "where teaching_mode = 'lecture'"),
}


@pytest.mark.parametrize("check", sorted(MART_DEFECTS))
def test_a_broken_build_is_not_published(world: World, jumped: tuple, check: str) -> None:
    from expectations import gates

    _, before = jumped
    suite, statement = MART_DEFECTS[check]
    execute(world, statement)
    verdict = gates.run_marts_gate(N5)
    assert verdict.failed(check, suite), verdict.render()
    finding = next(f for f in verdict.failed_blocking if f.check == check)
    assert finding.sample, finding.render()
    assert verdict.publication_id is None and published(world) == before


def test_publication_is_refused_without_a_passing_gate(world: World, jumped: tuple) -> None:
    from expectations import gates
    from jiaoyan.errors import UserError

    _, before = jumped
    with pytest.raises(UserError, match="did not pass"):
        gates.publish_marts(N5)
    assert published(world) == before


# --- a held batch holds the nights after it ---------------------------------------------------------------
def test_a_later_night_waits_for_a_held_one_until_it_is_accepted(world: World, jumped: tuple) -> None:
    from expectations import gates

    held = gates.run_raw_gate(N6)  # night 5's latest marts gate failed (the jump)
    assert held.failed("batch.no_earlier_batch_held", "raw.batch"), held.render()
    sample = next(f for f in held.failed_blocking if f.check == "batch.no_earlier_batch_held").sample
    assert {(r["batch_id"], r["gate"]) for r in sample} == {(N5, "marts")}
    gates.accept(N5, "marts", "the jump is a test")
    assert not gates.run_raw_gate(N6).failed("batch.no_earlier_batch_held")
