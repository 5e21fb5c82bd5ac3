"""The marts gate's suites: business rules on the marts build (``marts_next``) before it is published.

Per mart: every analysed lesson has a teaching mode, the one the Rt-Ch rule gives with the thresholds recorded
beside it; Rt, Ch and shares lie in [0, 1] and the rose-chart shares sum to 1; a portrait for every teacher with
lessons in the term, counting them; region mode shares summing to 1; annual figures that add up from the offices
to their university, province and the nation. The build as a whole (``marts.build``, on this run's row of
``ops.gate_runs``): every mart the gate expects is there, no fact table lost rows against the published marts,
and the mode mix did not jump (:mod:`expectations.drift`).
"""

from __future__ import annotations

from great_expectations import expectations as gxe
from great_expectations.expectations import Expectation

from expectations import drift
from expectations.checks import blocking, rule
from expectations.project import BUILD_SCHEMA, MART_TABLES, MARTS_SOURCE, PUBLISHED_SCHEMA, RUN_ASSET
from expectations.settings import get_gate_settings
from expectations.suites import Suite
from jiaoyan import codes
from jiaoyan.contracts import sources as src

MODES = codes.seed_codes("teaching_modes")
# Annual-report figures that are sums over offices (each office counts once, under its own host university and
# province), and figures that are distinct counts (a member of two offices counts once above them).
ADDITIVE_FIGURES = (
    "n_offices", "n_school_offices", "n_regional_offices", "n_national_offices", "n_course_group_offices",
    "n_specialty_building_offices", "n_reform_topic_offices", "n_activities", "n_participant_times",
    "n_cross_university_activities", "n_training_sessions", "n_compliant_offices", "n_exemplary_candidates",
    "n_offices_to_remind",
)
DISTINCT_FIGURES = (
    "n_members", "n_active_members", "n_distinct_participants", "n_trained_teachers", "n_host_universities",
    "n_member_universities", "n_resources", "n_knowledge_graphs",
)
# Cumulative facts: a night adds or replaces rows, it never takes away many.
CUMULATIVE_FACTS = ("fct_lesson_runs", "fct_lessons", "fct_lesson_behaviour_metrics")
FACT_LOSS_BLOCK = 0.1  # share of a fact table's published rows the build may lose before it is held

_WHY_RANGE = "a share or rate outside [0, 1] is a computation error that every chart would show"


def mart_suites(tables: set[str]) -> list[Suite]:
    """The suites of the marts present in the build."""
    builders = {
        "fct_lesson_behaviour_metrics": lesson_metrics, "fct_lessons": lessons, "mart_lesson_report": lesson_report,
        "mart_teacher_portrait": teacher_portrait, "mart_region_portrait": region_portrait,
        "mart_annual_report": annual_report,
    }
    return [builder() for name, builder in builders.items() if name in tables]


def build_suite(batch_id: str, run_id: int) -> Suite:
    return Suite("marts.build", MARTS_SOURCE, RUN_ASSET).add(
        marts_present(run_id), *facts_kept(run_id), *drift.mode_mix_checks(batch_id, run_id))


def _suite(table: str) -> Suite:
    return Suite(f"marts.{table}", MARTS_SOURCE, table)


def _between(column: str, low: float = 0, high: float | None = 1) -> Expectation:
    return blocking(gxe.ExpectColumnValuesToBeBetween(column=column, min_value=low, max_value=high),
                    f"{column}.range", _WHY_RANGE)


def _mode_rule(alias: str = "b") -> str:
    """The Rt-Ch classification with the thresholds the row records (first matching rule wins)."""
    return (f"case when {alias}.rt <= {alias}.rt_practice_max then 'practice' "
            f"when {alias}.rt >= {alias}.rt_lecture_min then 'lecture' "
            f"when {alias}.ch >= {alias}.ch_dialogue_min then 'dialogue' else 'mixed' end")


def lesson_metrics() -> Suite:
    teacher = " + ".join(f"b.share_{c}" for c in codes.teacher_codes())
    student = " + ".join(f"b.mean_{c}" for c in codes.share_columns())
    mode = f"""
        select b.lesson_run_id, b.lesson_id, b.rt, b.ch, b.teaching_mode, {_mode_rule()} as by_the_rule
        from {{batch}} as b
        where b.teaching_mode is distinct from {_mode_rule()}"""
    shares = f"""
        select b.lesson_run_id, b.lesson_id, round(({teacher})::numeric, 4) as teacher_shares,
               round(({student})::numeric, 4) as student_shares
        from {{batch}} as b
        where abs(({teacher}) - 1) > 0.0001 or abs(({student}) - 1) > {src.SHARE_SUM_TOLERANCE}"""
    return _suite("fct_lesson_behaviour_metrics").add(
        blocking(gxe.ExpectColumnValuesToNotBeNull(column="teaching_mode"), "teaching_mode.present",
                 "every analysed lesson needs a mode: reports, portraits and region mixes count them"),
        blocking(gxe.ExpectColumnValuesToBeInSet(column="teaching_mode", value_set=list(MODES)),
                 "teaching_mode.allowed", "modes come from the seed teaching_modes; anything else has no label"),
        _between("rt"), _between("ch"),
        blocking(gxe.ExpectColumnValuesToBeBetween(column="n_points", min_value=1), "n_points.range",
                 "a lesson without points has no metrics"),
        rule("teaching_mode.follows_rule", mode,
             "the mode is the Rt-Ch rule's (practice, lecture, dialogue, mixed; first match wins, boundaries "
             "inclusive) with the thresholds recorded beside it",
             "a mode that contradicts its own Rt and Ch would be shown to the teacher as a fact"),
        rule("rose_shares.sum_to_one", shares, "teacher shares and student mean shares each sum to 1",
             "the rose chart's halves must each show 100 %"),
    )


def lessons() -> Suite:
    query = f"""
        select b.lesson_id, b.teacher_id, b.current_lesson_run_id, m.teaching_mode
        from {{batch}} as b
        left join {BUILD_SCHEMA}.fct_lesson_behaviour_metrics as m on m.lesson_run_id = b.current_lesson_run_id
        where b.current_lesson_run_id is not null and m.teaching_mode is null"""
    return _suite("fct_lessons").add(
        rule("analysed_lessons_have_mode", query,
             "every analysed lesson (one with a current run) has metrics and a teaching mode",
             "a lesson counted as analysed but without a mode breaks every mix and portrait that counts it"))


def lesson_report() -> Suite:
    return _suite("mart_lesson_report").add(
        _between("rt"), _between("ch"),
        blocking(gxe.ExpectColumnValuesToBeInSet(column="teaching_mode", value_set=list(MODES)),
                 "teaching_mode.allowed", "the report labels modes from the seed"))


def teacher_portrait() -> Suite:
    query = f"""
        select l.teacher_id, l.term_code, l.lessons, p.n_lessons_analysed
        from {{batch}} as p
        right join (select teacher_id, term_code, count(*) as lessons
                    from {BUILD_SCHEMA}.fct_lessons
                    where current_lesson_run_id is not null and term_code is not null
                    group by teacher_id, term_code) as l
            on p.teacher_id = l.teacher_id and p.term_code = l.term_code
        where p.n_lessons_analysed is distinct from l.lessons"""
    return _suite("mart_teacher_portrait").add(
        rule("portrait_per_teacher_term", query,
             "a portrait for every teacher with analysed lessons in a term, counting exactly those lessons",
             "a teacher whose lessons were analysed but who has no portrait (or a wrong count) is the error a "
             "teacher notices first"),
        _between("rt"), _between("ch"),
        *(_between(f"share_{m}_lessons") for m in MODES))


def region_portrait() -> Suite:
    shares = [f"b.share_{m}_lessons" for m in MODES]
    total = " + ".join(f"coalesce({c}, 0)" for c in shares)
    present = f"num_nonnulls({', '.join(shares)})"
    query = f"""
        select b.area_level, b.area_code, b.term_code, b.n_lessons_analysed, {present} as shares_shown,
               round(({total})::numeric, 4) as shares_sum
        from {{batch}} as b
        where {present} not in (0, {len(shares)}) or ({present} = {len(shares)} and abs(({total}) - 1) > 0.0001)"""
    return _suite("mart_region_portrait").add(
        rule("mode_shares.sum_to_one", query,
             "where a region's mode shares are shown (not suppressed), all of them are and they sum to 1",
             "a region's mode mix is shown as a whole; a partial or lopsided mix misleads every monitor"),
        _between("coverage"))


def annual_report() -> Suite:
    figures = (*ADDITIVE_FIGURES, *DISTINCT_FIGURES)
    carried = ", ".join(f"o.{f}" for f in figures)
    units = f"""
        with offices as (
            select o.report_year, v.university_id, v.province_code, {carried}
            from {{batch}} as o
            join {BUILD_SCHEMA}.dim_vtros as v on v.vtro_id = o.report_unit_id
            where o.report_level = 'vtro'
        ),
        parents as (
            select 'university' as report_level, o.university_id as report_unit_id, o.*
            from offices as o where o.university_id is not null
            union all
            select 'province', o.province_code, o.* from offices as o where o.province_code is not null
            union all
            select 'nation', 'CN', o.* from offices as o
        ),
        rolled as (
            select p.report_level, p.report_unit_id, p.report_year,
                   {", ".join(f"sum(p.{f}) as sum_{f}" for f in ADDITIVE_FIGURES)},
                   {", ".join(f"max(p.{f}) as max_{f}" for f in DISTINCT_FIGURES)}
            from parents as p group by 1, 2, 3
        )"""
    differs = " || ".join(
        f"case when u.{f} is distinct from s.sum_{f} then '{f} ' || coalesce(u.{f}::text, 'null') || ' vs ' || "
        f"coalesce(s.sum_{f}::text, 'null') || '; ' else '' end" for f in ADDITIVE_FIGURES)
    add_query = f"""{units}
        select u.report_level, u.report_unit_id, u.report_year, {differs} as differences
        from {BUILD_SCHEMA}.mart_annual_report as u
        join rolled as s using (report_level, report_unit_id, report_year)
        where {" or ".join(f"u.{f} is distinct from s.sum_{f}" for f in ADDITIVE_FIGURES)}"""
    bound_query = f"""{units}
        select u.report_level, u.report_unit_id, u.report_year
        from {BUILD_SCHEMA}.mart_annual_report as u
        join rolled as s using (report_level, report_unit_id, report_year)
        where {" or ".join(f"u.{f} < s.max_{f}" for f in DISTINCT_FIGURES)}"""
    return _suite("mart_annual_report").add(
        rule("figures_add_up", add_query,
             "each university's, province's and the nation's summable figures (offices, activities, "
             "participant-times, trainings, compliance, reminders, …) equal the sum over its offices",
             "the annual report is read level by level; a national total that is not the sum of its offices "
             "is the first thing a reader checks, and a wrong one discredits the whole report"),
        rule("distinct_figures_bounded", bound_query,
             "a unit's distinct counts (members, participants, trained teachers, universities, resources) are "
             "at least those of each of its offices",
             "a member counted in an office but not above it means the roll-up lost people"),
        *(_between(c) for c in ("active_member_share", "share_cross_university_activities",
                                "share_compliant_offices")),
    )


def marts_present(run_id: int) -> Expectation:
    expected = ", ".join(f"('{t}')" for t in MART_TABLES)
    query = f"""
        select t.mart
        from {{batch}} as r
        cross join (values {expected}) as t (mart)
        where r.run_id = {int(run_id)} and to_regclass('{BUILD_SCHEMA}.' || t.mart) is null"""
    return rule("marts_present", query, f"every mart the gate checks was built in {BUILD_SCHEMA}",
                "publishing a build without one of them would take that mart away from every reader")


def _count(schema: str, table: str) -> str:
    """Rows of a table that may not exist (no published marts yet): evaluated only when it does."""
    return (f"case when to_regclass('{schema}.{table}') is null then 0 else (xpath('/row/n/text()', "
            f"query_to_xml('select count(*) as n from {schema}.{table}', false, true, '')))[1]::text::bigint end")


def facts_kept(run_id: int) -> list:
    counts = " union all ".join(
        f"select '{t}' as fact, {_count(BUILD_SCHEMA, t)} as built, {_count(PUBLISHED_SCHEMA, t)} as published"
        for t in CUMULATIVE_FACTS)
    query = f"""
        select c.fact, c.built, c.published
        from {{batch}} as r
        cross join ({counts}) as c
        where r.run_id = {int(run_id)} and c.built < c.published * {1 - FACT_LOSS_BLOCK}"""
    return [rule("facts_kept", query,
                 f"no cumulative fact table has lost {FACT_LOSS_BLOCK:.0%} of the rows readers see now",
                 "lessons, runs and their metrics only accumulate; a build with fewer of them than the "
                 "published marts lost data")]


def expected_suites() -> list[str]:
    """Suite names the marts gate builds when every mart is present (for the docs and the tests)."""
    return [s.name for s in mart_suites(set(MART_TABLES))] + ["marts.build"]


def settings_summary() -> dict[str, float]:
    s = get_gate_settings()
    return {"mode_mix_warn": s.mode_mix_warn, "mode_mix_block": s.mode_mix_block}
