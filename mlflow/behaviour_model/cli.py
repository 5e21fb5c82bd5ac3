"""``jiaoyan model``: train, evaluate and inspect the behaviour model (minimal; the retraining
workflow extends it with a promotion gate and rollback)."""

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
@click.option("--landing", default=None, help="train from every gold-coded lesson of this landing zone")
@click.option("--lessons", default=None, help="or from a lesson list CSV (lesson_id, teacher_id, video_uri, gold_uri)")
@click.option("--extractors", default="scene,board,speech", show_default=True, help="feature extractors")
@click.option("--holdout", default=0.2, show_default=True, help="share of teachers held out for scoring")
@click.option("--max-iter", default=None, type=int, help="boosting iterations (default: the model's)")
@click.option("--workers", default=2, show_default=True, help="processes computing features")
@click.option("--seed", default=0, show_default=True)
@click.option("--register/--no-register", default=True, show_default=True, help="register a model version")
def train_command(landing: str | None, lessons: str | None, extractors: str, holdout: float, max_iter: int | None,
                  workers: int, seed: int, register: bool) -> None:
    """Train on gold lessons, score a hold-out, log to MLflow and register (champion if none)."""
    from behaviour_model.model import DEFAULT_PARAMS
    from behaviour_model.train import train

    items, source = _lessons(landing, lessons)
    params = dict(DEFAULT_PARAMS) | ({"max_iter": max_iter} if max_iter else {})
    click.echo(f"training on {len(items)} gold lessons ({source})", err=True)
    result = train(items, [e.strip() for e in extractors.split(",") if e.strip()], params=params, holdout=holdout,
                   seed=seed, workers=workers, register=register, source=source,
                   log_fn=lambda m: click.echo(m, err=True))
    if result.quarantined:
        click.echo(f"{len(result.quarantined)} lesson(s) unusable: " + "; ".join(
            f"{k}: {v}" for k, v in list(result.quarantined.items())[:5]), err=True)
    if result.holdout:
        click.echo(f"hold-out ({len(result.holdout_lessons)} lessons): {_metrics_line(result.holdout)}")
    where = f"registered {result.model_uri}" + (" as champion" if result.champion else "") if register else \
        "not registered"
    click.echo(f"run {result.run_id}: {where}")


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
