"""The registry workflow: aliases, the promotion gate, rollback, and a listing.

Aliases of the registered model (``JIAOYAN_MLFLOW_MODEL_NAME``):

- ``champion``: what inference runs (``models:/<name>@champion``);
- ``challenger``: the newest trained version waiting for the gate (training sets it; the first
  version of a model becomes champion directly).

**Promotion gate** (:func:`promote`): the challenger and the champion are scored on the *same*
held-out lessons — the challenger run's hold-out (``holdout/lessons.csv`` and the gold codes it
was scored against, ``holdout/gold.parquet``), less any lesson the champion trained on — each
with its own feature set, through the registered pyfunc itself. The challenger is promoted only if

1. its teacher macro-F1 ≥ the champion's + ``JIAOYAN_MLFLOW_PROMOTION_MARGIN`` (0.01),
2. no teacher behaviour's F1 falls by more than ``JIAOYAN_MLFLOW_PROMOTION_MAX_F1_DROP`` (0.05),
3. the student-share MAE rises by no more than ``JIAOYAN_MLFLOW_PROMOTION_MAX_SHARE_MAE_RISE`` (0.01).

The decision, each check and the scores are written on the challenger's run (tags
``promotion.*``, metrics ``gate_*``, artifact ``promotion/decision-<time>.json``) and on its model
version (tag ``promotion_decision``). A refusal changes no alias.

**History and rollback**: the registered model's tag ``champion_history`` lists the versions that
were champion, oldest first (a stack); each version carries ``champion_since`` / ``champion_until``
tags. :func:`rollback` pops the current champion and points the alias at the one before it, or
at a given version (pushed on the stack).
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from behaviour_model import dataset, metrics
from behaviour_model.settings import MlflowSettings, configure
from behaviour_model.train import CHALLENGER, CHAMPION, HOLDOUT_GOLD, HOLDOUT_LESSONS
from jiaoyan import codes, log
from jiaoyan.errors import UserError

LOG = log.get(__name__)
HISTORY_TAG = "champion_history"
HISTORY_KEEP = 50


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def _client() -> Any:
    from mlflow import MlflowClient

    return MlflowClient()


def alias_version(client: Any, name: str, alias: str) -> str | None:
    """The version behind an alias, or None."""
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, alias).version)
    except MlflowException:
        return None


# --- history -------------------------------------------------------------------------------------------
def champion_history(client: Any, name: str) -> list[str]:
    """Versions that were champion, oldest first."""
    from mlflow.exceptions import MlflowException

    try:
        raw = client.get_registered_model(name).tags.get(HISTORY_TAG, "")
    except MlflowException as exc:
        raise UserError(f"no registered model {name}: train one with `jiaoyan model train`") from exc
    return [v for v in raw.split(",") if v]


def _save_history(client: Any, name: str, history: list[str]) -> None:
    compact = [v for i, v in enumerate(history) if i == 0 or history[i - 1] != v][-HISTORY_KEEP:]
    client.set_registered_model_tag(name, HISTORY_TAG, ",".join(compact))


def _make_champion(client: Any, name: str, version: str, how: str, history: list[str] | None = None) -> str | None:
    """Point ``champion`` at ``version`` and tag both versions. ``history``: the champion history to save
    (default: the stored one with ``version`` pushed). Returns the previous champion."""
    previous = alias_version(client, name, CHAMPION)
    now = _now()
    if history is None:
        history = champion_history(client, name)
        if previous and (not history or history[-1] != previous):
            history.append(previous)  # the alias was moved outside this workflow
        history.append(version)
    client.set_registered_model_alias(name, CHAMPION, version)
    client.set_model_version_tag(name, version, "champion_since", now)
    client.set_model_version_tag(name, version, "champion_by", how)
    if previous and previous != version:
        client.set_model_version_tag(name, previous, "champion_until", now)
    if alias_version(client, name, CHALLENGER) == version:
        client.delete_registered_model_alias(name, CHALLENGER)
    _save_history(client, name, history)
    return previous


def register_new(ms: MlflowSettings, version: str, feature_set: str, held: dict[str, Any], data_version: str,
                 code_version: str) -> str:
    """Tag a freshly registered version; ``champion`` if the model has none, else ``challenger``. Returns the alias."""
    client = _client()
    name = ms.model_name
    tags = {"feature_set": feature_set, "data_version": data_version, "code_version": code_version}
    if held:
        tags |= {"holdout_teacher_macro_f1": f"{held['teacher_macro_f1']:.4f}",
                 "holdout_teacher_kappa": f"{held['teacher_kappa']:.4f}",
                 "holdout_share_mae": f"{held['share_mae']:.4f}"}
    for key, value in tags.items():
        client.set_model_version_tag(name, version, key, value)
    if alias_version(client, name, CHAMPION) is None:
        _make_champion(client, name, version, "first")
        return CHAMPION
    client.set_registered_model_alias(name, CHALLENGER, version)
    return CHALLENGER


# --- scoring on a shared hold-out ----------------------------------------------------------------------
class Incomparable(Exception):
    """A model the current code cannot score (its feature set cannot be computed any more)."""


def holdout_lessons(client: Any, run_id: str) -> list[dataset.GoldLesson]:
    """The hold-out a training run recorded, with its gold codes in memory."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="jiaoyan-gate-") as tmp:
        try:
            lessons = pd.read_csv(client.download_artifacts(run_id, HOLDOUT_LESSONS, tmp), dtype=str)
            gold = pd.read_parquet(client.download_artifacts(run_id, HOLDOUT_GOLD, tmp))
        except (MlflowException, OSError) as exc:
            raise UserError(f"run {run_id} recorded no hold-out lessons ({HOLDOUT_LESSONS}); retrain it with a "
                            "hold-out share above 0") from exc
    by_lesson = {k: f.drop(columns="lesson_id").set_index("point_index").sort_index()
                 for k, f in gold.groupby("lesson_id", sort=False)}
    return [dataset.GoldLesson(r.lesson_id, r.teacher_id, r.video_uri, r.gold_uri, by_lesson[r.lesson_id])
            for r in lessons.itertuples() if r.lesson_id in by_lesson]


def trained_lessons(client: Any, run_id: str) -> set[str]:
    """Lessons a training run fitted on (its ``lessons.json``), empty if not recorded."""
    from mlflow.exceptions import MlflowException

    with tempfile.TemporaryDirectory(prefix="jiaoyan-gate-") as tmp:
        try:
            with open(client.download_artifacts(run_id, "lessons.json", tmp), encoding="utf-8") as handle:
                return set(json.load(handle).get("train", []))
        except (MlflowException, OSError, ValueError):
            return set()


@dataclass
class Scored:
    version: str
    feature_set: str
    lessons: list[str]
    true_teacher: np.ndarray
    true_shares: np.ndarray
    pred: pd.DataFrame
    lesson: np.ndarray


def score_version(name: str, version: str, lessons: Sequence[dataset.GoldLesson], workers: int = 2,
                  cache_dir: str | None = None, log_fn: Callable[[str], None] | None = None) -> Scored:
    """A registered version's predictions on the lessons (features as the pipeline computes them for it)."""
    import mlflow
    from ray_inference.features import build, feature_set
    from ray_inference.settings import InferenceSettings

    uri = f"models:/{name}/{version}"
    info = mlflow.models.get_model_info(uri)
    meta = info.metadata or {}
    fset = meta.get("feature_set", "")
    names = info.signature.inputs.input_names() if info.signature else []
    if not fset or not names:
        raise Incomparable(f"v{version} has no feature set or signature")
    specs = [part.split("@", 1)[0] for part in fset.split("+")]
    try:
        current = feature_set(build(specs))
    except (KeyError, ValueError) as exc:
        raise Incomparable(f"v{version}'s extractors {fset} are not available: {exc}") from exc
    if current != fset:
        raise Incomparable(f"v{version} was trained on features {fset}; the current extractors make {current}")
    options = InferenceSettings().decode_options(json.loads(meta["sampling"]) if "sampling" in meta else None)
    ts = dataset.build_training_set(lessons, specs, options, workers=workers,
                                    cache_dir=cache_dir or dataset.default_cache_dir(), log_fn=log_fn)
    model = mlflow.pyfunc.load_model(uri)
    pred = model.predict(ts.features[names].astype(np.float32)).reset_index(drop=True)
    return Scored(version, fset, sorted(set(ts.lesson.tolist())), ts.teacher, ts.shares, pred, ts.lesson)


def score_lessons(lessons: Sequence[dataset.GoldLesson], version: str | None = None, alias: str = CHAMPION, *,
                  settings: MlflowSettings | None = None, workers: int = 2, cache_dir: str | None = None,
                  log_fn: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Metrics of a registered version (``version``, else the one behind ``alias``) on gold lessons: the
    registered pyfunc on the features the inference code computes, without Ray (``evaluate_pipeline`` runs
    the whole pipeline)."""
    ms = configure(settings)
    client = _client()
    number = version or alias_version(client, ms.model_name, alias)
    if number is None:
        raise UserError(f"no {ms.model_name}@{alias} in {ms.tracking_uri}")
    try:
        scored = score_version(ms.model_name, str(number), lessons, workers, cache_dir, log_fn)
    except Incomparable as exc:
        raise UserError(f"cannot score {ms.model_name}: {exc}") from exc
    result = _metrics_on(scored, set(scored.lessons))
    result |= {"model_version": str(number), "feature_set": scored.feature_set, "lessons": len(scored.lessons)}
    return result


def _metrics_on(scored: Scored, keep: set[str]) -> dict[str, Any]:
    mask = np.isin(scored.lesson, list(keep))
    pred = scored.pred[mask]
    return metrics.score(scored.true_teacher[mask], pred["teacher_behaviour"].to_numpy(), scored.true_shares[mask],
                         pred[list(codes.share_columns())].to_numpy())


# --- the gate --------------------------------------------------------------------------------------------
@dataclass
class PromotionDecision:
    model_name: str
    challenger_version: str
    champion_version: str | None  # the champion when the gate ran
    promoted: bool
    reasons: list[str]  # every check, "pass: …" or "FAIL: …", or why the gate could not compare
    lessons: int = 0  # held-out lessons both models were scored on
    points: int = 0
    challenger: dict[str, float] = field(default_factory=dict)
    champion: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    excluded_lessons: list[str] = field(default_factory=list)  # hold-out lessons the champion trained on
    forced: bool = False
    run_id: str = ""  # the challenger's training run (where the decision is logged)
    decided_at: str = ""

    @property
    def decision(self) -> str:
        return "promoted" if self.promoted else "refused"

    def line(self) -> str:
        """One line for a log or a terminal."""
        name, new, old = self.model_name, self.challenger_version, self.champion_version
        if self.challenger and self.champion:
            score = (f"macro-F1 {self.challenger['teacher_macro_f1']:.3f} vs {self.champion['teacher_macro_f1']:.3f}, "
                     f"share MAE {self.challenger['share_mae']:.3f} vs {self.champion['share_mae']:.3f} on "
                     f"{self.lessons} held-out lessons ({self.points} points)")
        else:
            score = ""
        failed = [r.removeprefix("FAIL: ") for r in self.reasons if r.startswith("FAIL")]
        if self.promoted:
            head = f"promoted {name} v{new} to champion" + (f" (was v{old})" if old else "")
            why = "forced: " + "; ".join(failed or self.reasons) if self.forced else "; ".join(
                r.removeprefix("pass: ") for r in self.reasons[:1])
        else:
            head = f"refused {name} v{new}" + (f" (champion stays v{old})" if old else "")
            why = "; ".join(failed or self.reasons)
        return f"{head}: {why}" + (f" [{score}]" if score else "")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"decision": self.decision}


def _checks(new: dict[str, Any], old: dict[str, Any], margin: float, max_drop: float,
            max_mae_rise: float) -> list[tuple[bool, str]]:
    out = []
    need = old["teacher_macro_f1"] + margin
    out.append((new["teacher_macro_f1"] >= need - 1e-12,
                f"macro-F1 {new['teacher_macro_f1']:.4f} {'≥' if new['teacher_macro_f1'] >= need - 1e-12 else '<'} "
                f"champion {old['teacher_macro_f1']:.4f} + margin {margin:.4f}"))
    drops = {c: old[f"f1_{c}"] - new[f"f1_{c}"] for c in codes.teacher_codes()}
    worst = max(drops, key=drops.__getitem__)
    bad = {c: d for c, d in drops.items() if d > max_drop + 1e-12}
    if bad:
        out.append((False, "F1 fell by more than " + f"{max_drop:.4f} for " + ", ".join(
            f"{c} ({old[f'f1_{c}']:.3f} → {new[f'f1_{c}']:.3f})" for c in bad)))
    else:
        out.append((True, f"no behaviour's F1 fell by more than {max_drop:.4f} (largest change: {worst} "
                          f"{old[f'f1_{worst}']:.3f} → {new[f'f1_{worst}']:.3f})"))
    rise = new["share_mae"] - old["share_mae"]
    ok = rise <= max_mae_rise + 1e-12
    out.append((ok, f"share MAE {new['share_mae']:.4f} vs champion {old['share_mae']:.4f} "
                    f"({'within' if ok else 'rose by more than'} {max_mae_rise:.4f})"))
    return out


def promote(version: str | None = None, *, settings: MlflowSettings | None = None, margin: float | None = None,
            max_f1_drop: float | None = None, max_share_mae_rise: float | None = None, force: bool = False,
            workers: int = 2, cache_dir: str | None = None,
            log_fn: Callable[[str], None] | None = None) -> PromotionDecision:
    """Run the gate for ``version`` (default: ``@challenger``) against ``@champion``; move the alias if it passes.

    Returns the decision (a refusal is a normal outcome, not an error); raises UserError when there is
    no challenger. ``force`` promotes whatever the checks say (recorded as forced).
    """
    ms = configure(settings)
    client = _client()
    name = ms.model_name
    thresholds = {"margin": ms.promotion_margin if margin is None else margin,
                  "max_f1_drop": ms.promotion_max_f1_drop if max_f1_drop is None else max_f1_drop,
                  "max_share_mae_rise": ms.promotion_max_share_mae_rise if max_share_mae_rise is None
                  else max_share_mae_rise}
    version = version or alias_version(client, name, CHALLENGER)
    if version is None:
        raise UserError(f"{name} has no @{CHALLENGER} in {ms.tracking_uri}: train one (`jiaoyan model train`) or "
                        "give --version")
    challenger = _version(client, name, version)
    champion = alias_version(client, name, CHAMPION)
    decision = PromotionDecision(name, version, champion, False, [], thresholds=thresholds, forced=force,
                                 run_id=challenger.run_id or "", decided_at=_now())
    if champion is None:
        decision.promoted, decision.reasons = True, [f"pass: {name} had no champion"]
    elif champion == version:
        decision.reasons = [f"v{version} is already the champion"]
    else:
        _compare(client, decision, champion, workers, cache_dir, log_fn)
        decision.promoted = all(r.startswith("pass") for r in decision.reasons)
    if force and not decision.promoted and champion != version:
        decision.promoted = True
    if decision.promoted:
        _make_champion(client, name, version, "forced" if force else "promotion")
    _record(client, decision)
    return decision


def _compare(client: Any, decision: PromotionDecision, champion: str, workers: int, cache_dir: str | None,
             log_fn: Callable[[str], None] | None) -> None:
    name, version = decision.model_name, decision.challenger_version
    lessons = holdout_lessons(client, decision.run_id)
    champion_run = _version(client, name, champion).run_id
    seen = trained_lessons(client, champion_run) if champion_run else set()
    decision.excluded_lessons = sorted(g.lesson_id for g in lessons if g.lesson_id in seen)
    lessons = [g for g in lessons if g.lesson_id not in seen]
    if not lessons:
        decision.reasons = ["FAIL: no held-out lesson of the challenger that the champion did not train on"
                            + (f" ({len(decision.excluded_lessons)} excluded)" if decision.excluded_lessons else "")]
        return
    if log_fn:
        log_fn(f"scoring v{version} and v{champion} on {len(lessons)} held-out lessons"
               + (f" ({len(decision.excluded_lessons)} excluded: the champion trained on them)"
                  if decision.excluded_lessons else ""))
    try:
        new = score_version(name, version, lessons, workers, cache_dir)
        old = score_version(name, champion, lessons, workers, cache_dir)
    except Incomparable as exc:
        decision.reasons = [f"FAIL: cannot compare on the same lessons: {exc}"]
        return
    common = set(new.lessons) & set(old.lessons)
    if not common:
        decision.reasons = ["FAIL: no held-out lesson could be featurized for both models"]
        return
    new_m, old_m = _metrics_on(new, common), _metrics_on(old, common)
    decision.lessons, decision.points = len(common), int(new_m["points"])
    decision.challenger, decision.champion = metrics.numeric(new_m), metrics.numeric(old_m)
    t = decision.thresholds
    checks = _checks(new_m, old_m, t["margin"], t["max_f1_drop"], t["max_share_mae_rise"])
    decision.reasons = [("pass: " if ok else "FAIL: ") + text for ok, text in checks]


def _version(client: Any, name: str, version: str) -> Any:
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version(name, str(version))
    except MlflowException as exc:
        raise UserError(f"{name} has no version {version}") from exc


def _record(client: Any, decision: PromotionDecision) -> None:
    """The decision on the challenger's run (tags, metrics, JSON artifact) and on its model version."""
    name, version = decision.model_name, decision.challenger_version
    client.set_model_version_tag(name, version, "promotion_decision",
                                 f"{decision.decision}{' (forced)' if decision.forced else ''} {decision.decided_at}")
    if not decision.run_id:
        return
    run = decision.run_id
    tags = {"promotion.decision": decision.decision + (" (forced)" if decision.forced else ""),
            "promotion.reasons": " | ".join(decision.reasons)[:5000],
            "promotion.champion_version": decision.champion_version or "none",
            "promotion.decided_at": decision.decided_at,
            "promotion.margin": f"{decision.thresholds['margin']}",
            "promotion.max_f1_drop": f"{decision.thresholds['max_f1_drop']}",
            "promotion.max_share_mae_rise": f"{decision.thresholds['max_share_mae_rise']}"}
    for key, value in tags.items():
        client.set_tag(run, key, value)
    for prefix, values in (("gate_challenger_", decision.challenger), ("gate_champion_", decision.champion)):
        for key in ("teacher_macro_f1", "teacher_kappa", "share_mae", *(f"f1_{c}" for c in codes.teacher_codes())):
            if key in values:
                client.log_metric(run, prefix + key, values[key])
    stamp = decision.decided_at.replace(":", "").replace("-", "")
    client.log_dict(run, decision.as_dict(), f"promotion/decision-{stamp}.json")


# --- rollback --------------------------------------------------------------------------------------------
@dataclass
class RollbackResult:
    model_name: str
    from_version: str | None
    to_version: str
    history: list[str]

    def line(self) -> str:
        was = f"v{self.from_version}" if self.from_version else "none"
        return f"rolled back {self.model_name}@{CHAMPION}: v{self.to_version} (was {was})"


def rollback(to: str | None = None, *, settings: MlflowSettings | None = None, reason: str = "") -> RollbackResult:
    """Point ``champion`` at the previous champion (from the history) or at version ``to``."""
    ms = configure(settings)
    client = _client()
    name = ms.model_name
    current = alias_version(client, name, CHAMPION)
    history = champion_history(client, name)
    if current and (not history or history[-1] != current):
        history.append(current)
    if to is not None:
        target = str(_version(client, name, to).version)
        if target == current:
            raise UserError(f"v{target} is already the champion of {name}")
        history = [*history, target]
    else:
        if current is None:
            raise UserError(f"{name} has no champion to roll back; give --to VERSION")
        stack = history[:-1] if history and history[-1] == current else list(history)
        while stack and (stack[-1] == current or not _exists(client, name, stack[-1])):
            stack.pop()
        if not stack:
            raise UserError(f"{name} has no earlier champion than v{current}; give --to VERSION")
        target, history = stack[-1], stack
    _make_champion(client, name, target, "rollback", history)
    now = _now()
    if current:
        client.set_model_version_tag(name, current, "rolled_back_at", now)
        if reason:
            client.set_model_version_tag(name, current, "rollback_reason", reason[:5000])
    return RollbackResult(name, current, target, champion_history(client, name))


def _exists(client: Any, name: str, version: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(name, version)
        return True
    except MlflowException:
        return False


# --- listing ---------------------------------------------------------------------------------------------
@dataclass
class VersionRow:
    version: str
    aliases: list[str]
    macro_f1: float | None
    share_mae: float | None
    feature_set: str
    created: str
    run_id: str
    data_version: str
    promotion: str


def list_versions(settings: MlflowSettings | None = None) -> list[VersionRow]:
    """Every version of the model, newest first."""
    from mlflow.exceptions import MlflowException

    ms = configure(settings)
    client = _client()
    try:
        versions = client.search_model_versions(f"name='{ms.model_name}'")
    except MlflowException as exc:
        raise UserError(f"cannot read {ms.model_name} from {ms.tracking_uri}: {exc}") from exc
    aliases: dict[str, list[str]] = {}
    if versions:  # search results do not carry aliases in every store; the registered model does
        for alias, number in (client.get_registered_model(ms.model_name).aliases or {}).items():
            aliases.setdefault(str(number), []).append(alias)
    rows = []
    for mv in sorted(versions, key=lambda v: int(v.version), reverse=True):
        tags = mv.tags or {}
        created = dt.datetime.fromtimestamp(mv.creation_timestamp / 1000, dt.UTC).isoformat(timespec="seconds")
        rows.append(VersionRow(str(mv.version), sorted(aliases.get(str(mv.version), [])),
                               _float(tags.get("holdout_teacher_macro_f1")), _float(tags.get("holdout_share_mae")),
                               tags.get("feature_set", ""), created, mv.run_id or "", tags.get("data_version", ""),
                               tags.get("promotion_decision", "")))
    return rows


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def write_decision(decision: PromotionDecision, path: str | Path) -> None:
    """The decision as JSON (for an Airflow task's XCom or a report)."""
    Path(path).write_text(json.dumps(decision.as_dict(), indent=2, ensure_ascii=False), encoding="utf-8")
