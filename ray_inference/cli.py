"""``jiaoyan infer``: code a batch of lesson videos with the registered behaviour model on Ray."""

from __future__ import annotations

import click

from ray_inference.pipeline import Progress


def _progress(p: Progress) -> None:
    run = p.last
    what = f"{run.n_points} points" if run and run.status == "coded" else f"QUARANTINED: {run.reason if run else ''}"
    click.echo(f"[{p.lessons_done}/{p.lessons_total}] {run.lesson_id if run else ''} {what} — "
               f"{p.points_per_second:.1f} points/s, {p.seconds:.0f} s", err=True)


@click.command("infer")
@click.option("--videos", required=True, help="batch folder, lessons/manifest.csv, a .txt list of video URIs, "
              "or a folder of videos (local or any fsspec URI)")
@click.option("--out", "lake_uri", default=None, help="lake URI (default: JIAOYAN_LAKE_URI)")
@click.option("--batch-id", default=None, help="default: the batch folder's date")
@click.option("--model-alias", default=None, help="registry alias to run (default: JIAOYAN_INFER_MODEL_ALIAS, "
              "champion)")
@click.option("--featurizers", type=int, default=None, help="decode/feature actors (JIAOYAN_INFER_FEATURIZERS)")
@click.option("--strategy", type=click.Choice(["keyframes", "exact", "full"]), default=None,
              help="decoding strategy (JIAOYAN_INFER_DECODE_STRATEGY)")
def infer(videos: str, lake_uri: str | None, batch_id: str | None, model_alias: str | None,
          featurizers: int | None, strategy: str | None) -> None:
    """Code every lesson video: one behaviour-code row per 6-second point, a run row per lesson."""
    from ray_inference.pipeline import run_inference
    from ray_inference.settings import InferenceSettings

    overrides = {k: v for k, v in {"model_alias": model_alias, "featurizers": featurizers,
                                   "decode_strategy": strategy}.items() if v is not None}
    summary = run_inference(videos, lake_uri=lake_uri, batch_id=batch_id, settings=InferenceSettings(**overrides),
                            progress=_progress, keep_ray=False)
    click.echo(f"batch {summary.batch_id}: {summary.coded} coded, {summary.quarantined} quarantined of "
               f"{summary.lessons} lessons; {summary.points:,} points in {summary.seconds:.1f} s "
               f"({summary.points_per_second:.1f} points/s; start-up {summary.startup_seconds:.1f} s); model "
               f"{summary.model_name} v{summary.model_version} ({summary.feature_set}) → {summary.lake_uri}")
    for lesson_id, reason in sorted(summary.quarantine_reasons.items()):
        click.echo(f"  quarantined {lesson_id}: {reason}")
