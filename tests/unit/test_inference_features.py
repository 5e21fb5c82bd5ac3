"""Feature extractors and the model bundle: registry and feature set, robustness of the vision features
to exposure and resolution, the speech features on synthetic voices, board finding, the pose
post-processing (with a stand-in network), and the estimator's outputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from behaviour_model.model import BehaviourEstimator

from jiaoyan import codes
from jiaoyan.demo_world import video
from jiaoyan.demo_world.script import LessonScript
from ray_inference.features import ExtractorConfig, LessonInput, audio_feature_names, build, extract, feature_names
from ray_inference.features import feature_set as feature_set_of
from ray_inference.features.audio import Speech
from ray_inference.features.pose import Pose, describe, people
from ray_inference.features.vision import Board, Scene, find_board
from ray_inference.video import DecodeOptions, read_lesson

SR = 16000


def _lesson(images: np.ndarray | None = None, audio: np.ndarray | None = None, n_points: int = 4,
            per_point: int = 2) -> LessonInput:
    if images is None:
        images = np.full((n_points * per_point, 216, 384, 3), 128, np.uint8)
    return LessonInput("t", n_points, 6.0, images, np.arange(n_points * per_point) * 3.0,
                       np.repeat(np.arange(n_points), per_point), np.tile(np.arange(per_point), n_points), per_point,
                       audio, SR)


def _from_video(path: Path) -> LessonInput:
    lesson = read_lesson(str(path))
    f = lesson.frames
    return LessonInput("v", lesson.n_points, 6.0, f.images, f.times, f.points, f.slots,
                       len(f.images) // lesson.n_points, lesson.probe.audio, SR)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("features")
    teacher = np.array([0, 1, 2, 3, 0, 3], np.int8)
    counts = np.array([[20, 0, 0, 4, 0], [4, 0, 0, 20, 0], [2, 0, 0, 6, 16], [6, 14, 2, 2, 0], [22, 0, 0, 2, 0],
                       [10, 0, 12, 2, 0]], np.int16)
    script = LessonScript("feat", 21, 24, teacher, counts)
    base = video.preset("default")
    return {"small": video.render_lesson(script, out / "small.mp4").path,
            "large": video.render_lesson(script, out / "large.mp4", replace(base, width=854, height=478)).path}


# --- registry -------------------------------------------------------------------------------------
def test_registry_builds_named_extractors_and_a_feature_set() -> None:
    extractors = build(["scene", "board", "speech"])
    names = feature_names(extractors)
    assert feature_set_of(extractors) == "scene@1+board@1+speech@2"
    assert len(names) == len(set(names))
    assert all(n.startswith(("scene.", "board.", "speech.")) for n in names)
    assert set(audio_feature_names(extractors)) == {n for n in names if n.startswith("speech.")}


def test_an_operator_extractor_is_named_by_module_and_factory() -> None:
    extractors = build(["ray_inference.features.vision:_board"])
    assert isinstance(extractors[0], Board)


def test_unknown_extractor_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown feature extractor"):
        build(["nonsense"])


def test_an_extractor_with_the_wrong_shape_is_caught() -> None:
    class Broken:
        name, version, modality = "broken", 1, "video"

        def feature_names(self) -> list[str]:
            return ["a", "b"]

        def extract(self, lesson: LessonInput) -> np.ndarray:
            return np.zeros((lesson.n_points, 1))

    with pytest.raises(ValueError, match="returned"):
        extract([Broken()], _lesson())


# --- vision ---------------------------------------------------------------------------------------
def test_scene_features_survive_an_exposure_change(rendered: dict[str, Path]) -> None:
    lesson = _from_video(rendered["small"])
    scene = Scene(ExtractorConfig())
    base = scene.extract(lesson)
    darker = replace(lesson, images=(lesson.images * 0.65).astype(np.uint8), cache={})
    moved = scene.extract(darker)
    assert base.shape == (6, len(scene.feature_names()))
    assert np.nanmean(np.abs(moved - base)) < 0.1 * np.nanmean(np.abs(base)) + 1e-3


def test_scene_features_do_not_depend_on_resolution(rendered: dict[str, Path]) -> None:
    scene = Scene(ExtractorConfig())
    small = scene.extract(_from_video(rendered["small"]))
    large = scene.extract(_from_video(rendered["large"]))
    names = scene.feature_names()
    rows = [i for i, n in enumerate(names) if "_row" in n and "per_occupancy" not in n]
    r = np.corrcoef(np.nan_to_num(small[:, rows]).ravel(), np.nan_to_num(large[:, rows]).ravel())[0, 1]
    assert r > 0.9


def test_scene_sees_students_stand_and_heads_go_down(rendered: dict[str, Path]) -> None:
    feats = Scene(ExtractorConfig()).extract(_from_video(rendered["small"]))
    names = Scene(ExtractorConfig()).feature_names()
    fg = feats[:, [i for i, n in enumerate(names) if n.startswith("fg_row")]].sum(axis=1)
    assert fg[5] > fg[4]  # half the class stands up to answer vs everyone listening
    assert (feats[:, names.index("students_seen")] > 0).all()


def test_motion_with_one_picture_per_point_is_the_change_since_the_previous_point() -> None:
    rng = np.random.default_rng(0)
    images = np.repeat(rng.integers(0, 255, (1, 216, 384, 3), dtype=np.uint8), 4, axis=0)
    images[2:, :27, :48] = 255 - images[2:, :27, :48]  # zone (0, 0) changes between points 1 and 2
    feats = Scene(ExtractorConfig()).extract(_lesson(images, per_point=1))
    motion = feats[:, Scene(ExtractorConfig()).feature_names().index("motion_z00")]
    assert np.isnan(motion[0])  # nothing before the first point
    assert motion[2] > 0.3 and motion[1] == motion[3] == 0.0


def test_motion_within_a_point_with_two_pictures(rendered: dict[str, Path]) -> None:
    lesson = read_lesson(str(rendered["small"]), DecodeOptions(frames_per_point=2))
    f = lesson.frames
    item = LessonInput("v", lesson.n_points, 6.0, f.images, f.times, f.points, f.slots, 2, None, SR)
    feats = Scene(ExtractorConfig()).extract(item)
    names = Scene(ExtractorConfig()).feature_names()
    motion = feats[:, [i for i, n in enumerate(names) if n.startswith("motion_row")]]
    assert np.isfinite(motion).all() and motion.max() > 0


def test_board_is_found_and_chalk_measured(rendered: dict[str, Path]) -> None:
    feats = Board(ExtractorConfig()).extract(_from_video(rendered["small"]))
    names = Board(ExtractorConfig()).feature_names()
    assert (feats[:, names.index("found")] == 1).all()
    chalk = feats[:, names.index("chalk")]
    assert chalk[2] > chalk[0]  # the teacher wrote during point 1


def test_find_board_needs_a_dark_wide_surface() -> None:
    wall = np.full((216, 384), 200, np.uint8)
    assert find_board(wall) is None
    wall[20:80, 100:300] = 60
    x0, y0, x1, y1 = find_board(wall)
    assert 95 <= x0 <= 110 and 290 <= x1 <= 305 and 15 <= y0 <= 30 and 70 <= y1 <= 85


# --- sound ----------------------------------------------------------------------------------------
def _voice(f0: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    tone = sum(np.sin(2 * np.pi * f0 * h * t) / h for h in range(1, 12))
    syllables = (np.sin(2 * np.pi * 3.0 * t) > -0.3).astype(float)
    return (0.05 * tone * syllables + 0.001 * rng.standard_normal(len(t))).astype(np.float32)


def test_speech_tells_a_low_voice_from_a_high_one_and_silence() -> None:
    rng = np.random.default_rng(1)
    audio = np.concatenate([0.001 * rng.standard_normal(6 * SR).astype(np.float32), _voice(120, 6, rng),
                            _voice(260, 6, rng),
                            np.concatenate([_voice(120, 1.5, rng), _voice(260, 1.5, rng)] * 2)])
    speech = Speech(ExtractorConfig())
    feats = speech.extract(_lesson(audio=audio))
    names = speech.feature_names()
    active, low, high = (feats[:, names.index(n)] for n in ("active", "low_of_voiced", "high_of_voiced"))
    switches = feats[:, names.index("switches")]
    assert active[0] < 0.1 < active[1]
    assert low[1] > 0.8 and high[2] > 0.8
    assert switches[3] >= 2 > switches[1]


def test_speech_in_chunks_equals_speech_in_one_piece(monkeypatch: pytest.MonkeyPatch) -> None:
    """The frame chunks (memory) must not change a value: every step is per frame, chunk edges included."""
    from ray_inference.features import audio

    rng = np.random.default_rng(3)
    sound = np.concatenate([_voice(120, 6, rng), 0.001 * rng.standard_normal(6 * SR).astype(np.float32),
                            _voice(260, 6, rng), _voice(180, 6.01, rng)])  # a last frame past the sound's end
    lesson = _lesson(audio=sound)
    monkeypatch.setattr(audio, "CHUNK", 10**9)
    whole = Speech(ExtractorConfig()).extract(lesson)
    monkeypatch.setattr(audio, "CHUNK", 97)  # not a divisor of the frame count: a short last chunk
    chunked = Speech(ExtractorConfig()).extract(lesson)
    assert np.array_equal(whole, chunked, equal_nan=True)
    assert np.isfinite(whole[:, 0]).all()


def test_no_sound_means_missing_speech_features() -> None:
    feats = Speech(ExtractorConfig()).extract(_lesson(audio=None))
    assert np.isnan(feats).all()


def test_silero_vad_scores_each_window() -> None:
    rng = np.random.default_rng(2)
    audio = np.concatenate([_voice(150, 6, rng), np.zeros(6 * SR, np.float32)])
    vad = build(["vad"])[0]
    feats = vad.extract(_lesson(audio=audio, n_points=2))
    assert feats.shape == (2, 2) and np.all((feats >= 0) & (feats <= 1))
    assert np.isnan(vad.extract(_lesson(audio=None, n_points=2))).all()


# --- pose (operator-provided network) -----------------------------------------------------------------
def _person(cx: float, cy: float, raised: bool) -> np.ndarray:
    """One detection row (56 values) in letterboxed 640 coordinates: a seated person, maybe a hand up."""
    kp = np.zeros((17, 3), np.float32)
    kp[[0, 3, 4], 1] = cy - 40
    kp[[5, 6], 0], kp[[5, 6], 1] = (cx - 20, cx + 20), cy
    kp[[9, 10], 0], kp[[9, 10], 1] = (cx - 25, cx + 25), (cy - 80 if raised else cy + 30, cy + 30)
    kp[[0, 3, 4, 5, 6, 9, 10], 2] = 0.9
    return np.concatenate([[cx, cy, 60, 160, 0.9], kp.ravel()]).astype(np.float32)


class _FakeSession:
    """Stands in for onnxruntime: two people in every picture, the first with a hand up."""

    def get_inputs(self) -> list:
        return [type("Input", (), {"name": "images"})()]

    def run(self, _: object, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        batch = len(feeds["images"])
        rows = np.stack([_person(200, 300, True), _person(400, 300, False)]).T  # (56, 2)
        return [np.repeat(rows[None], batch, axis=0)]


def test_pose_postprocessing_counts_raised_hands() -> None:
    kp = people(np.stack([_person(200, 300, True), _person(400, 300, False)]).T, (1.0, 0.0, 0.0))
    d = describe(kp, (640, 640))
    assert d[0] == 2 and d[1] == pytest.approx(0.5)


def test_pose_extractor_with_a_network_stand_in() -> None:
    pose = Pose(ExtractorConfig(batch_size=3), session=_FakeSession())
    feats = pose.extract(_lesson(n_points=3))
    assert feats.shape == (3, len(pose.feature_names()))
    assert (feats[:, 0] == 2).all() and np.allclose(feats[:, 1], 0.5)


def test_pose_without_weights_says_what_to_set() -> None:
    with pytest.raises(ValueError, match="pose_model"):
        Pose(ExtractorConfig())


# --- the estimator ------------------------------------------------------------------------------------
def test_estimator_predicts_codes_probabilities_and_shares_summing_to_one() -> None:
    rng = np.random.default_rng(3)
    n = 240
    x = pd.DataFrame(rng.normal(size=(n, 6)).astype(np.float32), columns=[f"f{i}" for i in range(6)])
    x.iloc[::7, 2] = np.nan  # missing values are allowed
    teacher = np.array(codes.teacher_codes())[(x["f0"].fillna(0) > 0).astype(int) + 2 * (x["f1"] > 0)]
    shares = rng.dirichlet(np.ones(5), n).astype(np.float32)
    est = BehaviourEstimator(list(x.columns), "test@1", {"max_iter": 10, "random_state": 0}).fit(x, teacher, shares)
    pred = est.predict(x)
    assert set(pred["teacher_behaviour"]) <= set(codes.teacher_codes())
    assert pred["teacher_prob"].between(0, 1).all()
    total = pred[list(codes.share_columns())].sum(axis=1)
    assert np.allclose(total, 1.0, atol=1e-5)
    assert (pred["teacher_behaviour"].to_numpy() == teacher).mean() > 0.8


def test_estimator_refuses_missing_features() -> None:
    x = pd.DataFrame({"a": np.arange(40, dtype=np.float32)})
    est = BehaviourEstimator(["a"], "t@1", {"max_iter": 2}).fit(x, np.array(["lecturing", "patrolling"] * 20),
                                                              np.full((40, 5), 0.2, np.float32))
    with pytest.raises(ValueError, match="feature"):
        est.predict(pd.DataFrame({"b": [1.0]}))


def test_decode_options_check_the_strategy() -> None:
    with pytest.raises(ValueError, match="strategy"):
        DecodeOptions(strategy="everything")


def test_zone_means_equal_a_float_mean_over_each_zone() -> None:
    """``zones`` sums bytes as integers, whole rows first; it must equal the plain float32 mean of each zone."""
    from ray_inference.features.vision import GRID, zones

    rng = np.random.default_rng(5)
    rows, cols = GRID
    for img in [(rng.random((216, 384)) > 0.6).astype(np.uint8), rng.integers(0, 256, (216, 384), dtype=np.uint8),
                np.full((217, 389), 255, np.uint8)]:
        bh, bw = img.shape[0] // rows, img.shape[1] // cols
        cut = img[: rows * bh, : cols * bw]
        expected = cut.reshape(rows, bh, cols, bw).mean(axis=(1, 3), dtype=np.float32)
        assert np.array_equal(zones(img), expected)
