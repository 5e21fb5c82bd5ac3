"""Distribution checks that need the previous nights: a small history, ``ops.gate_metrics``.

Each gate run records the night's distributions before it validates (replacing that batch's rows, so a rerun
records the same): the raw gate the behaviour shares of each model version (teacher behaviours as shares of
points, student behaviours as mean shares), the marts gate the teaching-mode mix of the night's lessons per
province and nationally. The baseline is the same figures over the last ``baseline_nights`` *published* batches
(ops.publications), weighted by their points or lessons — a held night never becomes anyone's baseline.

- ``model.shift`` (blocking): a model version the baseline never saw moves a behaviour's share by
  ``model_shift_block`` or more from that model's earlier versions: portraits would jump for every teacher
  because the ruler changed, not the teaching (the promotion gate in MLflow should have caught it).
- ``behaviour_share.drift`` (warning): the same model version drifts by ``share_drift_warn``: classrooms change
  (exam season, a new region) — publish, and tell someone.
- ``mode_mix.drift`` (warning at ``mode_mix_warn``) and ``mode_mix.jump`` (blocking at ``mode_mix_block``):
  the total-variation distance between a province's (or the nation's) mode mix tonight and in the baseline,
  when both have at least ``drift_min_lessons`` lessons.
"""

from __future__ import annotations

import psycopg

from expectations.checks import literal, rule
from expectations.settings import get_gate_settings
from jiaoyan import codes
from jiaoyan.contracts import sources as src

BEHAVIOUR_SHARE, MODE_SHARE = "behaviour_share", "mode_share"
NATION = "CN"


def record_behaviour_shares(conn: psycopg.Connection, batch_id: str) -> int:
    """The night's behaviour shares per model version into ops.gate_metrics (gate ``raw``)."""
    teacher = [b.code for b in codes.behaviours() if b.actor == "teacher"]
    student = [(b.code, b.share_column) for b in codes.behaviours() if b.actor == "student"]
    measures = [f"avg((teacher_behaviour = '{c}')::int)::float8 as {c}" for c in teacher] + \
               [f"avg({column})::float8 as {c}" for c, column in student]
    unpivot = ", ".join(f"('{c}', s.{c})" for c in [*teacher, *(c for c, _ in student)])
    return _replace(conn, batch_id, "raw", BEHAVIOUR_SHARE, f"""
        select s.model_name || '|' || s.model_version || '|' || v.code, v.value, s.n
        from (select model_name, model_version, count(*) as n, {", ".join(measures)}
              from raw.{src.BEHAVIOUR_CODES.name} where _batch_id = %(batch)s
              group by model_name, model_version) as s
        cross join lateral (values {unpivot}) as v (code, value)""")


def record_mode_mix(conn: psycopg.Connection, batch_id: str, schema: str) -> int:
    """The teaching-mode mix of the night's lessons (current runs delivered by the batch) per province and nation."""
    modes = ", ".join(f"('{m}')" for m in codes.seed_codes("teaching_modes"))
    return _replace(conn, batch_id, "marts", MODE_SHARE, f"""
        with night as (
            select coalesce(grouping_area, '{NATION}') as area, teaching_mode, count(*) as n
            from (select l.province_code as grouping_area, m.teaching_mode
                  from {schema}.fct_lessons as l
                  join {schema}.fct_lesson_runs as r on r.lesson_run_id = l.current_lesson_run_id
                  join {schema}.fct_lesson_behaviour_metrics as m on m.lesson_run_id = l.current_lesson_run_id
                  where r.batch_id = %(batch)s) as lessons
            group by grouping sets ((grouping_area, teaching_mode), (teaching_mode))
            having grouping(grouping_area) = 1 or grouping_area is not null
        ),
        areas as (select area, sum(n) as n from night group by area)
        select a.area || '|' || t.mode, coalesce(x.n, 0)::float8 / a.n, a.n
        from areas as a cross join (values {modes}) as t (mode)
        left join night as x on x.area = a.area and x.teaching_mode = t.mode""")


def _replace(conn: psycopg.Connection, batch_id: str, gate: str, metric: str, select: str) -> int:
    with conn.transaction():
        conn.execute("delete from ops.gate_metrics where batch_id = %s and gate = %s and metric = %s",
                     (batch_id, gate, metric))
        cur = conn.execute(f"insert into ops.gate_metrics (batch_id, gate, metric, dimension, value, n) "
                           f"select %(batch)s, %(gate)s, %(metric)s, s.* from ({select}) as s",
                           {"batch": batch_id, "gate": gate, "metric": metric})
        return cur.rowcount


def _baseline(batch_id: str, gate: str, metric: str) -> str:
    """Per dimension: the weighted mean value and total n over the last published nights before the batch."""
    nights = get_gate_settings().baseline_nights
    return f"""
        select g.dimension, sum(g.value * g.n) / nullif(sum(g.n), 0) as value, sum(g.n) as n
        from ops.gate_metrics as g
        join (select batch_id from ops.publications where batch_id < {literal(batch_id)}
              group by batch_id order by batch_id desc limit {nights}) as p on p.batch_id = g.batch_id
        where g.gate = '{gate}' and g.metric = '{metric}'
        group by g.dimension"""


def _night(batch_id: str, gate: str, metric: str) -> str:
    return f"""
        select dimension, value, n from ops.gate_metrics
        where batch_id = {literal(batch_id)} and gate = '{gate}' and metric = '{metric}'"""


def behaviour_share_checks(batch_id: str) -> list:
    """Raw gate: a new model version that moves the shares holds the batch; the same model drifting alerts."""
    s = get_gate_settings()
    split = """split_part({0}.dimension, '|', 1) as model_name, split_part({0}.dimension, '|', 2) as model_version,
               split_part({0}.dimension, '|', 3) as behaviour, {0}.value, {0}.n"""
    common = f"""
        with night as (select {split.format('n')} from ({_night(batch_id, 'raw', BEHAVIOUR_SHARE)}) as n),
        base as (select {split.format('b')} from ({_baseline(batch_id, 'raw', BEHAVIOUR_SHARE)}) as b),
        base_model as (
            select model_name, behaviour, sum(value * n) / nullif(sum(n), 0) as value, sum(n) as n,
                   string_agg(distinct model_version, ',') as versions
            from base group by model_name, behaviour
        )"""
    shift = f"""{common}
        select n.model_name, n.model_version, n.behaviour, round(n.value::numeric, 4) as tonight,
               round(m.value::numeric, 4) as baseline, m.versions as baseline_versions
        from {{batch}} as x
        join night as n on x.batch_id = {literal(batch_id)}
        join base_model as m on m.model_name = n.model_name and m.behaviour = n.behaviour
        where n.n >= {s.drift_min_points} and m.n >= {s.drift_min_points}
          and not (n.model_version = any(string_to_array(m.versions, ',')))
          and abs(n.value - m.value) >= {s.model_shift_block}"""
    drift = f"""{common}
        select n.model_name, n.model_version, n.behaviour, round(n.value::numeric, 4) as tonight,
               round(b.value::numeric, 4) as baseline
        from {{batch}} as x
        join night as n on x.batch_id = {literal(batch_id)}
        join base as b on b.model_name = n.model_name and b.model_version = n.model_version
                      and b.behaviour = n.behaviour
        where n.n >= {s.drift_min_points} and b.n >= {s.drift_min_points}
          and abs(n.value - b.value) >= {s.share_drift_warn}"""
    return [
        rule("model.shift", shift,
             f"a model version new to the last {s.baseline_nights} published nights moves no behaviour's share by "
             f"{s.model_shift_block:g} or more from the model's earlier versions",
             "every teacher's portrait would change because the model changed, not the teaching; promote models "
             "through the MLflow gate and reprocess, or accept the batch once the change is understood"),
        rule("behaviour_share.drift", drift,
             f"no behaviour's share moves by {s.share_drift_warn:g} or more from the same model version's "
             f"last {s.baseline_nights} published nights",
             "the same model seeing different classrooms is news, not an error: publish and alert",
             blocking=False),
    ]


def mode_mix_checks(batch_id: str, run_id: int) -> list:
    """Marts gate: the mode mix of a province (or the nation) moving night over night."""
    s = get_gate_settings()
    query = f"""
        with night as (
            select split_part(dimension, '|', 1) as area, split_part(dimension, '|', 2) as mode, value, n
            from ({_night(batch_id, 'marts', MODE_SHARE)}) as n
        ),
        base as (
            select split_part(dimension, '|', 1) as area, split_part(dimension, '|', 2) as mode, value, n
            from ({_baseline(batch_id, 'marts', MODE_SHARE)}) as b
        ),
        distance as (
            select n.area, max(n.n) as lessons_tonight, max(b.n) as lessons_baseline,
                   0.5 * sum(abs(n.value - b.value)) as distance,
                   string_agg(n.mode || ' ' || round(n.value::numeric, 2) || ' (was ' || round(b.value::numeric, 2)
                              || ')', ', ' order by n.mode) as mix
            from night as n join base as b on b.area = n.area and b.mode = n.mode
            group by n.area
        )
        select d.area, round(d.distance::numeric, 3) as distance, d.lessons_tonight, d.lessons_baseline, d.mix
        from {{batch}} as x
        join distance as d on x.run_id = {int(run_id)}
        where d.lessons_tonight >= {s.drift_min_lessons} and d.lessons_baseline >= {s.drift_min_lessons}
          and d.distance >= {{threshold}}"""
    return [
        rule("mode_mix.jump", query.replace("{threshold}", str(s.mode_mix_block)),
             f"no province's (or the nation's) teaching-mode mix moves by a total-variation distance of "
             f"{s.mode_mix_block:g} or more from the last {s.baseline_nights} published nights",
             "a mix that jumps this far in a night is a pipeline fault (codes of the wrong model, a broken "
             "mapping) far more often than a change in teaching; hold the night until someone looks"),
        rule("mode_mix.drift", query.replace("{threshold}", str(s.mode_mix_warn)),
             f"no province's (or the nation's) teaching-mode mix moves by {s.mode_mix_warn:g} or more",
             "a moderate move can be real (a new school joins, an exam week): publish and alert",
             blocking=False),
    ]
