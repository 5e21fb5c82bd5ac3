"""``jiaoyan model``: train, evaluate, promote, roll back and list the behaviour model.

Each command prints one line per decision on stdout (progress goes to stderr); errors a user
can act on are :class:`jiaoyan.errors.UserError` (one line, exit status 2). The Airflow DAG calls
the same functions directly: :func:`behaviour_model.train.train_from_warehouse`,
:func:`behaviour_model.registry.promote` and :func:`behaviour_model.registry.rollback`."""

from __future__ import annotations

import json

import click

from jiaoyan.errors import UserError


def _lessons(landing: str | None, lessons: str | None) -> tuple[list, str]:
    from behaviour_model import dataset

    if bool(landing) == bool(lessons):
        raise UserError("give exactly one of --landing (a landing zone's gold lessons) or --lessons (a lesson list)")
    if landing:
        return dataset.from_landing(landing), f"landing:{landing}"
    return dataset.from_list(lessons or ""), f"lessons:{lessons}"


def _metrics_line(m: dict) -> str:
    per = ", ".join(f"{k.removeprefix('f1_')} {v:.3f}" for k, v in m.items() if k.startswith("f1_"))
    return (f"teacher macro-F1 {m['teacher_macro_f1']:.3f} (kappa {m['teacher_kappa']:.3f}; {per}); "
            f"share MAE {m['share_mae']:.3f}; S/T agreement {m['st_agreement']:.3f}; {m['points']} points")


@click.group("model")
def model() -> None:
    """Train, evaluate and inspect the behaviour model (MLflow registry)."""


@model.command("train")
@click.option("--warehouse", is_flag=True, help="train from the warehouse's gold codes (raw.gold_codes, read as the "
              "transformer role); --landing then says where the videos are (default JIAOYAN_LANDING_URI)")
@click.option("--landing", default=None, help="train from every gold-coded lesson of this landing zone")
@click.option("--lessons", default=None, help="or from a lesson list CSV (lesson_id, teacher_id, video_uri, gold_uri)")
@click.option("--extractors", default="scene,board,speech", show_default=True, help="feature extractors")
@click.option("--holdout", default=None, type=float, help="share of teachers held out for scoring "
              "(default JIAOYAN_MLFLOW_HOLDOUT_SHARE, 0.2)")
@click.option("--max-iter", default=None, type=int, help="boosting iterations (default: the model's)")
@click.option("--workers", default=2, show_default=True, help="processes computing features")
@click.option("--seed", default=0, show_default=True)
@click.option("--register/--no-register", default=True, show_default=True, help="register a model version")
@click.option("--shuffle-labels", is_flag=True, hidden=True, help="negative control: permute the training labels")
def train_command(warehouse: bool, landing: str | None, lessons: str | None, extractors: str, holdout: float | None,
                  max_iter: int | None, workers: int, seed: int, register: bool, shuffle_labels: bool) -> None:
    """Train on gold lessons, score a hold-out, log to MLflow and register (champion if none, else challenger)."""
    from behaviour_model import dataset
    from behaviour_model.model import DEFAULT_PARAMS
    from behaviour_model.train import train

    snapshot = ""
    if warehouse:
        if lessons:
            raise UserError("--warehouse reads the gold lessons from the warehouse; --lessons cannot be combined")
        items, marker = dataset.from_warehouse(landing)
        snapshot, source = marker.marker(), f"warehouse:raw.gold_codes (landing {landing or 'JIAOYAN_LANDING_URI'})"
        click.echo(f"warehouse: {marker.lessons} gold lessons, {marker.rows} points ({snapshot})", err=True)
    else:
        items, source = _lessons(landing, lessons)
    params = dict(DEFAULT_PARAMS) | ({"max_iter": max_iter} if max_iter else {})
    click.echo(f"training on {len(items)} gold lessons ({source})", err=True)
    result = train(items, [e.strip() for e in extractors.split(",") if e.strip()], params=params, holdout=holdout,
                   seed=seed, workers=workers, register=register, source=source, data_snapshot=snapshot,
                   shuffle_labels=shuffle_labels, log_fn=lambda m: click.echo(m, err=True))
    if result.quarantined:
        click.echo(f"{len(result.quarantined)} lesson(s) unusable: " + "; ".join(
            f"{k}: {v}" for k, v in list(result.quarantined.items())[:5]), err=True)
    if result.holdout:
        click.echo(f"hold-out ({len(result.holdout_lessons)} lessons): {_metrics_line(result.holdout)}")
    where = f"registered {result.model_uri} as {result.alias}" if register else "not registered"
    click.echo(f"run {result.run_id}: {where}; data {result.data_version[:19]}, code {result.code_version}")


@model.command("evaluate")
@click.option("--landing", default=None, help="evaluate on every gold-coded lesson of this landing zone")
@click.option("--lessons", default=None, help="or on a lesson list CSV (lesson_id, teacher_id, video_uri, gold_uri)")
@click.option("--model-alias", default=None, help="registry alias (default: JIAOYAN_INFER_MODEL_ALIAS or champion)")
@click.option("--out", "lake_uri", default=None, help="keep the codes in this lake (default: a temporary one)")
@click.option("--json", "as_json", is_flag=True, help="print the metrics as JSON")
def evaluate_command(landing: str | None, lessons: str | None, model_alias: str | None, lake_uri: str | None,
                     as_json: bool) -> None:
    """Run the Ray pipeline on gold lessons and score its codes against the gold codes."""
    from behaviour_model.evaluate import evaluate_pipeline
    from ray_inference.settings import InferenceSettings

    items, _ = _lessons(landing, lessons)
    settings = InferenceSettings(**({"model_alias": model_alias} if model_alias else {}))
    result = evaluate_pipeline(items, lake_uri=lake_uri, settings=settings)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    elif "teacher_macro_f1" in result:
        s = result["summary"]
        click.echo(f"{s['model_name']} v{s['model_version']} on {s['coded']}/{s['lessons']} lessons: "
                   f"{_metrics_line(result)}")
    else:
        click.echo("no lesson could be coded: " + json.dumps(result["summary"]["quarantine_reasons"]))


@model.command("promote")
@click.option("--version", default=None, help="version to gate (default: the one behind @challenger)")
@click.option("--margin", default=None, type=float, help="macro-F1 the challenger must gain "
              "(default JIAOYAN_MLFLOW_PROMOTION_MARGIN, 0.01)")
@click.option("--max-f1-drop", default=None, type=float, help="largest F1 fall allowed for any teacher behaviour "
              "(default JIAOYAN_MLFLOW_PROMOTION_MAX_F1_DROP, 0.05)")
@click.option("--max-share-mae-rise", default=None, type=float, help="largest student-share MAE rise allowed "
              "(default JIAOYAN_MLFLOW_PROMOTION_MAX_SHARE_MAE_RISE, 0.01)")
@click.option("--force", is_flag=True, help="promote whatever the checks say (recorded as forced)")
@click.option("--workers", default=2, show_default=True, help="processes computing features")
@click.option("--cache-dir", default=None, help="feature cache (default .data/inference/feature-cache)")
@click.option("--json", "as_json", is_flag=True, help="print the decision as JSON")
def promote_command(version: str | None, margin: float | None, max_f1_drop: float | None,
                    max_share_mae_rise: float | None, force: bool, workers: int, cache_dir: str | None,
                    as_json: bool) -> None:
    """Score challenger and champion on the challenger's held-out lessons; promote only if it beats the champion."""
    from behaviour_model.registry import promote

    decision = promote(version, margin=margin, max_f1_drop=max_f1_drop, max_share_mae_rise=max_share_mae_rise,
                       force=force, workers=workers, cache_dir=cache_dir, log_fn=lambda m: click.echo(m, err=True))
    if as_json:
        click.echo(json.dumps(decision.as_dict(), indent=2, ensure_ascii=False))
        return
    for reason in decision.reasons:
        click.echo(f"  {reason}", err=True)
    click.echo(decision.line())


@model.command("score")
@click.option("--landing", default=None, help="score on every gold-coded lesson of this landing zone")
@click.option("--lessons", default=None, help="or on a lesson list CSV (lesson_id, teacher_id, video_uri, gold_uri)")
@click.option("--version", default=None, help="registered version (default: the one behind --alias)")
@click.option("--alias", default="champion", show_default=True)
@click.option("--workers", default=2, show_default=True, help="processes computing features")
@click.option("--cache-dir", default=None, help="feature cache (default .data/inference/feature-cache)")
@click.option("--json", "as_json", is_flag=True, help="print the metrics as JSON")
def score_command(landing: str | None, lessons: str | None, version: str | None, alias: str, workers: int,
                  cache_dir: str | None, as_json: bool) -> None:
    """Score a registered version on gold lessons (its pyfunc on the inference features, without Ray)."""
    from behaviour_model.registry import score_lessons

    items, source = _lessons(landing, lessons)
    result = score_lessons(items, version, alias, workers=workers, cache_dir=cache_dir,
                           log_fn=lambda m: click.echo(m, err=True))
    if as_json:
        click.echo(json.dumps(result, indent=2))
        return
    click.echo(f"v{result['model_version']} on {result['lessons']} lessons ({source}): {_metrics_line(result)}")


@model.command("rollback")
@click.option("--to", "to", default=None, help="version to make champion (default: the previous champion)")
@click.option("--reason", default="", help="why (kept as a tag on the version rolled back)")
def rollback_command(to: str | None, reason: str) -> None:
    """Point @champion back at the previous champion, or at a given version."""
    from behaviour_model.registry import rollback

    click.echo(rollback(to, reason=reason).line())


@model.command("list")
@click.option("--json", "as_json", is_flag=True, help="print the versions as JSON")
def list_command(as_json: bool) -> None:
    """Registered versions: aliases, hold-out macro-F1 and share MAE, feature set, creation time, gate decision."""
    from dataclasses import asdict

    from behaviour_model.registry import list_versions
    from behaviour_model.settings import MlflowSettings

    rows = list_versions()
    if as_json:
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        click.echo(f"no version of {MlflowSettings().model_name} registered")
        return
    click.echo(f"{'version':>7}  {'aliases':<20} {'macro-F1':>8} {'shareMAE':>8}  {'feature set':<26} "
               f"{'created (UTC)':<25} promotion")
    for r in rows:
        f1 = f"{r.macro_f1:.3f}" if r.macro_f1 is not None else "-"
        mae = f"{r.share_mae:.3f}" if r.share_mae is not None else "-"
        click.echo(f"{r.version:>7}  {','.join(r.aliases) or '-':<20} {f1:>8} {mae:>8}  {r.feature_set:<26} "
                   f"{r.created:<25} {r.promotion or '-'}")


@model.command("synthetic")
@click.option("--out", required=True, help="folder for the lesson set (videos/, gold/, manifest.csv)")
@click.option("--lessons", "n", default=20, show_default=True, help="how many lessons")
@click.option("--preset", default="default", show_default=True, help="renderer preset: default | hard | bench")
@click.option("--seed", default=7, show_default=True)
@click.option("--name", default="synthetic", show_default=True, help="lesson id prefix; different names, "
              "different lessons")
def synthetic_command(out: str, n: int, preset: str, seed: int, name: str) -> None:
    """Render synthetic gold lessons with the demo world's lesson logic (cached), for training or evaluation."""
    from ray_inference import synthetic

    items = synthetic.lesson_set(out, seed, name, n, preset, log=lambda m: click.echo(m, err=True))
    click.echo(f"{len(items)} lessons in {out} (lesson list: {out}/manifest.csv)")


@model.command("show")
@click.option("--alias", default="champion", show_default=True)
def show_command(alias: str) -> None:
    """The registered version behind an alias, its feature set and hold-out scores."""
    from mlflow.exceptions import MlflowException

    from behaviour_model.settings import configure
    from mlflow import MlflowClient

    ms = configure()
    try:
        mv = MlflowClient().get_model_version_by_alias(ms.model_name, alias)
    except MlflowException as exc:
        raise UserError(f"no {ms.model_name}@{alias} in {ms.tracking_uri}") from exc
    click.echo(f"{ms.model_name}@{alias} = version {mv.version} (run {mv.run_id})")
    for key, value in sorted(mv.tags.items()):
        click.echo(f"  {key}: {value}")
