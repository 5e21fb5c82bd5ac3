"""Units of the retraining loop: the teacher-hash split, label shuffling, data and code versions, the gate's
checks and decision line, MLflow settings (embedded store or server), metrics and the confusion figure."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from behaviour_model import metrics, provenance
from behaviour_model.dataset import GoldLesson, TrainingSet
from behaviour_model.registry import PromotionDecision, _checks
from behaviour_model.settings import MlflowSettings
from behaviour_model.train import holdout_teachers, shuffled, split, teacher_draw, unique_lessons

from jiaoyan import codes

TEACHER = list(codes.teacher_codes())


def _set(lessons: dict[str, str], points: int = 4, seed: int = 0) -> TrainingSet:
    """A training set with ``points`` rows per lesson; ``lessons``: lesson -> teacher."""
    rng = np.random.default_rng(seed)
    lesson = np.repeat(list(lessons), points)
    n = len(lesson)
    shares = rng.dirichlet(np.ones(5), n).astype(np.float32)
    return TrainingSet(pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)}),
                       rng.choice(TEACHER, n), shares, lesson, np.array([lessons[x] for x in lesson]), "x@1", {})


def test_teacher_draw_is_fixed_and_salted() -> None:
    assert teacher_draw("T1", "s") == teacher_draw("T1", "s")
    assert teacher_draw("T1", "s") != teacher_draw("T1", "t")
    assert 0.0 <= teacher_draw("T9", "s") < 1.0


def test_holdout_teachers_do_not_depend_on_the_other_teachers() -> None:
    teachers = [f"T{i}" for i in range(200)]
    held = holdout_teachers(teachers, 0.2, "salt")
    assert 20 < len(held) < 60
    more = holdout_teachers([*teachers, *(f"N{i}" for i in range(100))], 0.2, "salt")
    assert held == {t for t in more if t.startswith("T")}


def test_holdout_teachers_edge_cases() -> None:
    assert holdout_teachers(["T1", "T2"], 0.0, "s") == set()
    assert holdout_teachers(["T1"], 0.5, "s") == set()
    two = holdout_teachers(["T1", "T2"], 1e-9, "s")  # nobody draws that low: the lowest draw is held out
    assert len(two) == 1
    almost_all = holdout_teachers(["T1", "T2", "T3"], 0.999999, "s")  # everyone: the highest draw is kept
    assert len(almost_all) == 2


def test_split_keeps_each_teacher_and_lesson_on_one_side() -> None:
    ts = _set({f"L{i}": f"T{i // 3}" for i in range(30)})
    train, test = split(ts, 0.3, "salt")
    assert train.any() and test.any() and not (train & test).any()
    assert not set(ts.teacher_id[train]) & set(ts.teacher_id[test])
    assert not set(ts.lesson[train]) & set(ts.lesson[test])
    again = split(ts, 0.3, "salt")
    assert (again[1] == test).all()


def test_unique_lessons_keeps_the_first() -> None:
    a, b, c = GoldLesson("L1", "T1", "v", "g"), GoldLesson("L1", "T2", "v2", "g2"), GoldLesson("L2", "T1", "v", "g")
    assert unique_lessons([a, b, c]) == [a, c]


def test_shuffled_permutes_labels_only() -> None:
    ts = _set({"L1": "T1", "L2": "T2"}, points=20)
    out = shuffled(ts, 3)
    assert sorted(out.teacher) == sorted(ts.teacher) and not (out.teacher == ts.teacher).all()
    assert out.features is ts.features and (out.lesson == ts.lesson).all()
    assert np.allclose(np.sort(out.shares, axis=0), np.sort(ts.shares, axis=0))


def test_data_version_hashes_the_codes_not_their_order_or_noise() -> None:
    ts = _set({"L1": "T1", "L2": "T2", "L3": "T1"})
    base = provenance.data_version(ts.lesson, ts.teacher_id, ts.teacher, ts.shares)
    assert base.startswith("sha256:") and len(base) == 7 + 64
    order = np.argsort(ts.lesson, kind="stable")[::-1]  # lessons reversed, points of a lesson reversed too
    by_lesson = np.concatenate([np.flatnonzero(ts.lesson == x) for x in ("L3", "L1", "L2")])
    assert provenance.data_version(ts.lesson[by_lesson], ts.teacher_id[by_lesson], ts.teacher[by_lesson],
                                   ts.shares[by_lesson]) == base
    assert provenance.data_version(ts.lesson[order], ts.teacher_id[order], ts.teacher[order],
                                   ts.shares[order]) != base  # point order within a lesson matters
    assert provenance.data_version(ts.lesson, ts.teacher_id, ts.teacher, ts.shares + 1e-7) == base
    recoded = ts.teacher.copy()
    recoded[0] = next(t for t in TEACHER if t != recoded[0])
    assert provenance.data_version(ts.lesson, ts.teacher_id, recoded, ts.shares) != base


def test_code_version(monkeypatch: pytest.MonkeyPatch) -> None:
    provenance.code_version.cache_clear()
    monkeypatch.setenv("JIAOYAN_CODE_VERSION", "image:2026.11.1")
    assert provenance.code_version() == "image:2026.11.1"
    provenance.code_version.cache_clear()
    monkeypatch.delenv("JIAOYAN_CODE_VERSION")
    assert provenance.code_version().startswith(("git:", "jiaoyan=="))
    provenance.code_version.cache_clear()


def _m(macro: float, f1: list[float], mae: float) -> dict[str, float]:
    return {"teacher_macro_f1": macro, "share_mae": mae, **{f"f1_{c}": v for c, v in zip(TEACHER, f1, strict=True)}}


def test_gate_checks() -> None:
    old = _m(0.70, [0.8, 0.6, 0.7, 0.7], 0.05)
    good = _checks(_m(0.75, [0.82, 0.58, 0.8, 0.8], 0.052), old, 0.01, 0.05, 0.01)
    assert all(ok for ok, _ in good)
    small_gain = _checks(_m(0.705, [0.8, 0.6, 0.72, 0.7], 0.05), old, 0.01, 0.05, 0.01)
    assert [ok for ok, _ in small_gain] == [False, True, True]
    assert "< champion 0.7000 + margin 0.0100" in small_gain[0][1]
    tie = _checks(_m(0.70, [0.8, 0.6, 0.7, 0.7], 0.05), old, 0.0, 0.05, 0.01)
    assert all(ok for ok, _ in tie)  # margin 0: equal is enough
    regress = _checks(_m(0.80, [0.95, 0.50, 0.9, 0.85], 0.05), old, 0.01, 0.05, 0.01)
    assert [ok for ok, _ in regress] == [True, False, True] and TEACHER[1] in regress[1][1]
    shares = _checks(_m(0.80, [0.9, 0.7, 0.8, 0.8], 0.08), old, 0.01, 0.05, 0.01)
    assert [ok for ok, _ in shares] == [True, True, False]


def test_decision_line() -> None:
    refused = PromotionDecision("m", "3", "2", False, ["FAIL: macro-F1 0.3 < champion 0.7 + margin 0.01",
                                                     "pass: no behaviour's F1 fell"], lessons=4, points=40,
                                challenger=_m(0.3, [0.3] * 4, 0.1), champion=_m(0.7, [0.7] * 4, 0.05))
    line = refused.line()
    assert line.startswith("refused m v3 (champion stays v2): macro-F1 0.3 < champion 0.7")
    assert "on 4 held-out lessons (40 points)" in line and "\n" not in line
    first = PromotionDecision("m", "1", None, True, ["pass: m had no champion"])
    assert first.line() == "promoted m v1 to champion: m had no champion"
    assert first.as_dict()["decision"] == "promoted"


def test_settings_embedded_or_server(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    for name in ("TRACKING_URI", "ARTIFACT_LOCATION", "PROMOTION_MARGIN"):
        monkeypatch.delenv(f"JIAOYAN_MLFLOW_{name}", raising=False)
    local = MlflowSettings()
    assert local.embedded and local.tracking_uri.startswith("sqlite:///")
    assert (local.experiment_artifacts() or "").endswith("/mlflow/artifacts")
    monkeypatch.setenv("JIAOYAN_MLFLOW_TRACKING_URI", "http://mlflow:5000")
    server = MlflowSettings()
    assert not server.embedded and server.experiment_artifacts() is None  # the server proxies to its store
    monkeypatch.setenv("JIAOYAN_MLFLOW_ARTIFACT_LOCATION", "s3://mlflow/behaviour-model")
    monkeypatch.setenv("JIAOYAN_MLFLOW_PROMOTION_MARGIN", "0.02")
    direct = MlflowSettings()
    assert direct.experiment_artifacts() == "s3://mlflow/behaviour-model" and direct.promotion_margin == 0.02


def test_score_has_per_behaviour_precision_recall_and_a_figure() -> None:
    true = np.array(TEACHER * 5)
    pred = true.copy()
    pred[:3] = TEACHER[0]
    shares = np.full((len(true), 5), 0.2)
    out = metrics.score(true, pred, shares, shares)
    for code in TEACHER:
        assert {f"precision_{code}", f"recall_{code}", f"f1_{code}", f"support_{code}"} <= set(out)
    assert out["support_" + TEACHER[0]] == 5 and out["recall_" + TEACHER[0]] == 1.0
    assert out["precision_" + TEACHER[0]] == pytest.approx(5 / 7)
    absent = metrics.score(true[true != TEACHER[1]], pred[true != TEACHER[1]], shares[:15], shares[:15])
    present = [absent[f"f1_{c}"] for c in TEACHER if c != TEACHER[1]]
    assert absent["teacher_macro_f1"] == pytest.approx(np.mean(present))  # an absent, unpredicted class: not a 0
    fig = metrics.confusion_figure(out)
    assert "macro-F1" in fig.axes[0].get_title()
    import matplotlib.pyplot as plt

    plt.close(fig)
