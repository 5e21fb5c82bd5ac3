"""The synthetic lesson renderer: file structure, determinism, and whether the pixels and the
sound carry the script's ground truth. The content checks are deliberately naive measurements
on the decoded file (a temporal-median empty room, blobs, bright chalk pixels, RMS, an
autocorrelation pitch tracker); they never call the renderer's drawing code."""

from __future__ import annotations

from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from scipy import signal, stats

from jiaoyan import codes
from jiaoyan.demo_world import bad_videos, video
from jiaoyan.demo_world.script import LessonScript

SR = 16000
TEACHER = {c: i for i, c in enumerate(codes.teacher_codes())}
LEC, WRI, PAT, TSI = (
    TEACHER[c] for c in ("lecturing", "blackboard_writing", "patrolling", "teacher_student_interaction")
)
N = 30


def counts(listen: int = 0, hand: int = 0, answer: int = 0, read: int = 0, talk: int = 0) -> list[int]:
    """A row of student counts in code order; listening takes whoever is left."""
    row = dict(zip(codes.student_codes(), (listen, hand, answer, read, talk), strict=True))
    row["listening"] += N - sum(row.values())
    return list(row.values())


def script(lesson_id: str, seed: int, teacher: list[int], rows: list[list[int]]) -> LessonScript:
    return LessonScript(lesson_id, seed, N, np.array(teacher, np.int8), np.array(rows, np.int16))


# The teacher does everything once or twice; the class reads quietly (3 answer in the interaction).
TEACHER_SCRIPT = script(
    "teacher", 11, [LEC, LEC, PAT, PAT, WRI, WRI, TSI, PAT, WRI, PAT],
    [counts(read=N)] * 6 + [counts(answer=3, read=N - 3)] + [counts(read=N)] * 3,
)
# The teacher lectures; more or fewer students raise a hand or stand up to answer.
STUDENT_SCRIPT = script("students", 5, [LEC] * 9, [
    counts(), counts(), counts(hand=4), counts(hand=12), counts(answer=2), counts(hand=20), counts(answer=6),
    counts(hand=8, answer=4), counts(),
])


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, video.RenderResult]:
    out = tmp_path_factory.mktemp("videos")
    return {
        "teacher": video.render_lesson(TEACHER_SCRIPT, out / "teacher.mp4"),
        "students": video.render_lesson(STUDENT_SCRIPT, out / "students.mp4"),
    }


# --- decoding helpers --------------------------------------------------------------------------
def frames(path: Path, wanted: set[int] | None = None) -> dict[int, np.ndarray]:
    with av.open(str(path)) as box:
        return {i: f.to_ndarray(format="bgr24") for i, f in enumerate(box.decode(video=0))
                if wanted is None or i in wanted}


def sound(path: Path) -> np.ndarray:
    with av.open(str(path)) as box:
        return np.concatenate([f.to_ndarray()[0] for f in box.decode(audio=0)])


def window_frames(k: int, fps: int = 10, offsets: tuple[float, ...] = (0.6, 1.8, 3.0, 4.2, 5.4)) -> list[int]:
    return [round((6 * k + o) * fps) for o in offsets]


def empty_room(path: Path, step: int = 5) -> np.ndarray:
    """Temporal median: what never (or rarely) moves."""
    with av.open(str(path)) as box:
        picked = [f.to_ndarray(format="bgr24") for i, f in enumerate(box.decode(video=0)) if i % step == 0]
    return np.median(np.stack(picked), axis=0).astype(np.uint8)


def largest_blob(frame: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(x, y, w, h, area) of the largest changed region and its mask."""
    changed = (np.abs(frame.astype(np.int16) - background).sum(2) > 60).astype(np.uint8)
    changed = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    n, labels, blobs, _ = cv2.connectedComponentsWithStats(changed)
    assert n > 1, "nothing moves"
    j = 1 + int(np.argmax(blobs[1:, cv2.CC_STAT_AREA]))
    return blobs[j], labels == j


def board_box(background: np.ndarray) -> tuple[int, int, int, int]:
    """The blackboard: the largest dark green region of the empty room."""
    b, g, r = (background[..., c].astype(int) for c in range(3))
    green = ((g > r + 10) & (g > b + 10) & (g < 120)).astype(np.uint8)
    _, _, blobs, _ = cv2.connectedComponentsWithStats(green)
    x, y, w, h, _ = blobs[1 + int(np.argmax(blobs[1:, cv2.CC_STAT_AREA]))]
    return int(x), int(y), int(w), int(h)


def chalk_pixels(frame: np.ndarray, box: tuple[int, int, int, int]) -> int:
    x, y, w, h = box
    region = frame[y + 2 : y + h - 2, x + 2 : x + w - 2].astype(int)
    return int(((region.min(2) > 150) & (region.max(2) - region.min(2) < 50)).sum())


def rms_db(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x**2)) + 1e-9))


def pitches(x: np.ndarray) -> np.ndarray:
    """f0 of loud 40 ms frames: the autocorrelation peak between 70 and 400 Hz of the
    signal low-passed at 500 Hz, where the fundamental dominates."""
    y = signal.lfilter(*signal.butter(4, 500, fs=SR), x)
    lo, hi = SR // 400, SR // 70
    out = []
    for start in range(0, len(y) - 640, 320):
        if np.sqrt(np.mean(x[start : start + 640] ** 2)) < 0.01:
            continue
        seg = y[start : start + 640] - y[start : start + 640].mean()
        ac = np.correlate(seg, seg, "full")[639:]
        if ac[lo:hi].max() > 0.3 * ac[0]:
            out.append(SR / (lo + int(np.argmax(ac[lo:hi]))))
    return np.array(out)


# --- the file ----------------------------------------------------------------------------------
def test_file_structure(rendered: dict[str, video.RenderResult]) -> None:
    result = rendered["teacher"]
    assert (result.width, result.height, result.fps, result.frame_count) == (512, 288, 10.0, 600)
    assert result.has_audio and result.duration_s == 60.0
    assert result.sha256 == video.sha256_file(result.path)
    with av.open(str(result.path)) as box:
        assert [s.type for s in box.streams] == ["video", "audio"]
        v, a = box.streams.video[0], box.streams.audio[0]
        assert v.codec_context.name == "h264" and v.codec_context.pix_fmt == "yuv420p"
        assert (v.width, v.height) == (512, 288) and v.average_rate == 10
        assert a.codec_context.name == "aac" and a.sample_rate == SR and a.channels == 1
        assert box.duration / 1e6 == pytest.approx(60.0, abs=0.1)
        keyframes = [p.pts * p.time_base for p in box.demux(v) if p.is_keyframe]
    assert len(frames(result.path)) == 600
    assert keyframes[:4] == [0, 2, 4, 6]  # fixed 2-second GOP
    assert len(sound(result.path)) / SR == pytest.approx(60.0, abs=0.1)


def test_same_script_same_bytes(rendered: dict[str, video.RenderResult], tmp_path: Path) -> None:
    again = video.render_lesson(TEACHER_SCRIPT, tmp_path / "again.mp4")
    assert again.sha256 == rendered["teacher"].sha256
    short = script("short", 3, [LEC, PAT, WRI], [counts(hand=3), counts(talk=10), counts(answer=2)])
    first = video.render_lesson(short, tmp_path / "hard1.mp4", "hard")
    second = video.render_lesson(short, tmp_path / "hard2.mp4", "hard")
    assert first.sha256 == second.sha256
    assert (first.width, first.height, first.frame_count) == (960, 540, 270)
    assert not list(tmp_path.glob(".*.tmp")), "temporary files left behind"


def test_settings_change_the_file(tmp_path: Path) -> None:
    short = script("short", 3, [LEC, WRI], [counts(), counts(read=N)])
    plain = video.render_lesson(short, tmp_path / "a.mp4")
    noisy = video.render_lesson(short, tmp_path / "b.mp4", video.preset("default", sensor_noise=4.0, jitter_px=2))
    silent = video.render_lesson(short, tmp_path / "c.mp4", video.preset("default", with_audio=False))
    assert plain.sha256 != noisy.sha256
    with av.open(str(silent.path)) as box:
        assert not box.streams.audio and not silent.has_audio
    with pytest.raises(ValueError, match="unknown render preset"):
        video.preset("nope")
    with pytest.raises(ValueError, match="even"):
        video.render_lesson(short, tmp_path / "d.mp4", video.preset("default", width=641))
    assert not (tmp_path / "d.mp4").exists()


# --- the picture follows the script ------------------------------------------------------------------
def test_teacher_is_where_the_script_says(rendered: dict[str, video.RenderResult]) -> None:
    path = rendered["teacher"].path
    room = empty_room(path)
    height = room.shape[0]
    wanted = {k: window_frames(k) for k in range(TEACHER_SCRIPT.n_points)}
    decoded = frames(path, {i for v in wanted.values() for i in v})
    for k, code in enumerate(TEACHER_SCRIPT.teacher.tolist()):
        if code == TSI:  # standing students move more than the teacher there
            continue
        bottoms = [(b[1] + b[3]) / height for b in (largest_blob(decoded[i], room)[0] for i in wanted[k])]
        if code == PAT:
            assert np.median(bottoms) > 0.6, f"point {k}: a patrolling teacher walks among the desks"
        else:
            assert np.median(bottoms) < 0.52, f"point {k}: the teacher is at the front"


def test_teacher_faces_class_or_board(rendered: dict[str, video.RenderResult]) -> None:
    """Skin in the top of the teacher's silhouette: a face toward the camera when lecturing,
    the back of the head when writing."""
    path = rendered["teacher"].path
    room = empty_room(path)
    decoded = frames(path, {i for k in (0, 1, 4, 5, 8) for i in window_frames(k)})

    def skin_on_top(i: int) -> int:
        (_, y, _, h, _), mask = largest_blob(decoded[i], room)
        top = slice(y, y + max(3, h // 5))
        f = decoded[i][top].astype(int)
        b, g, r = f[..., 0], f[..., 1], f[..., 2]
        return int(((r > 150) & (r > b + 40) & (g > b + 15) & mask[top]).sum())

    lecturing = [skin_on_top(i) for k in (0, 1) for i in window_frames(k)]
    writing = [skin_on_top(i) for k in (4, 5, 8) for i in window_frames(k)]
    assert np.median(lecturing) >= 10 > 3 >= np.median(writing)


def test_board_ink_grows_only_while_writing(rendered: dict[str, video.RenderResult]) -> None:
    path = rendered["teacher"].path
    box = board_box(empty_room(path))
    assert box[2] > 0.25 * 512 and box[3] > 0.1 * 288
    decoded = frames(path)
    for k, code in enumerate(TEACHER_SCRIPT.teacher.tolist()):
        start, end = chalk_pixels(decoded[60 * k], box), chalk_pixels(decoded[60 * k + 59], box)
        if code == WRI:
            assert end - start > 40, f"point {k}: writing adds chalk"
        elif code == PAT:
            assert abs(end - start) <= 10, f"point {k}: nobody writes"
    assert chalk_pixels(decoded[599], box) > chalk_pixels(decoded[0], box) + 150


def test_raised_and_standing_students_follow_counts(rendered: dict[str, video.RenderResult]) -> None:
    """Changed pixels among the desks, against the all-listening start, rise with the number of
    students raising a hand or standing to answer."""
    path = rendered["students"].path
    wanted = {k: window_frames(k, offsets=(1.5, 3.0, 4.5)) for k in range(STUDENT_SCRIPT.n_points)}
    decoded = frames(path, {i for v in wanted.values() for i in v} | set(range(0, 120, 4)))
    calm = np.median(np.stack([decoded[i] for i in range(0, 120, 4)]), axis=0)
    rows = slice(int(0.45 * 288), 288)  # below the teacher's feet
    change = [np.mean([(np.abs(decoded[i][rows].astype(int) - calm[rows]).sum(2) > 60).sum() for i in wanted[k]])
              for k in range(STUDENT_SCRIPT.n_points)]
    hands, standing = STUDENT_SCRIPT.student_counts[:, 1], STUDENT_SCRIPT.student_counts[:, 2]
    only_hands = standing == 0
    assert stats.spearmanr(hands[only_hands], np.array(change)[only_hands]).statistic > 0.9
    assert change[5] > 3 * max(change[0], change[1], 50)  # 20 hands up vs none
    assert change[6] > 2 * change[4] > 2 * change[0]  # 6 standing vs 2 standing vs none
    assert change[7] > change[3]  # 12 hands vs 8 hands and 4 standing


# --- the sound follows the script ---------------------------------------------------------------------
def test_loudness_follows_who_talks(rendered: dict[str, video.RenderResult]) -> None:
    x = sound(rendered["teacher"].path)
    level = [rms_db(x[k * 6 * SR : (k + 1) * 6 * SR]) for k in range(TEACHER_SCRIPT.n_points)]
    code = TEACHER_SCRIPT.teacher.tolist()
    talk = [lv for lv, c in zip(level, code, strict=True) if c in (LEC, TSI)]
    quiet = [lv for lv, c in zip(level, code, strict=True) if c == PAT]  # patrolling, the class reading
    assert min(talk) > -30
    assert min(talk) - max(quiet) > 10
    assert np.median(quiet) < -45


def test_voices_low_teacher_high_student(rendered: dict[str, video.RenderResult]) -> None:
    x = sound(rendered["teacher"].path)
    lecture = pitches(x[0 : 12 * SR])
    interaction = pitches(x[36 * SR : 42 * SR])
    assert len(lecture) > 100 and 90 < np.median(lecture) < 170
    assert np.mean(lecture > 190) < 0.1
    assert np.mean(interaction > 190) > 0.25 and np.mean(interaction < 170) > 0.25  # turns of both voices


def test_answering_student_has_a_high_voice(tmp_path: Path) -> None:
    answering = script("answer", 21, [PAT, PAT], [counts(answer=20, read=10)] * 2)
    x = sound(video.render_lesson(answering, tmp_path / "a.mp4").path)
    f0 = pitches(x)
    assert len(f0) > 50 and np.median(f0) > 200 and np.mean(f0 > 190) > 0.7


# --- defective videos --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def good(rendered: dict[str, video.RenderResult]) -> Path:
    return rendered["students"].path


def test_unreadable_and_empty(tmp_path: Path) -> None:
    for kind in ("unreadable", "zero_length"):
        path = bad_videos.make_bad_video(kind, tmp_path / f"{kind}.mp4")
        with pytest.raises(av.error.InvalidDataError):
            av.open(str(path))
    assert (tmp_path / "zero_length.mp4").stat().st_size == 0
    assert (tmp_path / "unreadable.mp4").stat().st_size > 0


def test_truncated_stops_early(good: Path, tmp_path: Path) -> None:
    path = bad_videos.truncated(good, tmp_path / "cut.mp4")
    assert 0 < path.stat().st_size < good.stat().st_size
    decoded, failed = 0, False
    try:
        with av.open(str(path)) as box:
            promised = box.streams.video[0].frames
            for _ in box.decode(video=0):
                decoded += 1
    except av.error.FFmpegError:
        failed = True
    assert failed or decoded < promised


def test_no_audio(good: Path, tmp_path: Path) -> None:
    path = bad_videos.no_audio(good, tmp_path / "mute.mp4")
    with av.open(str(path)) as box:
        assert not box.streams.audio and len(box.streams.video) == 1
    assert len(frames(path)) == len(frames(good))


def test_variable_frame_rate(good: Path, tmp_path: Path) -> None:
    path = bad_videos.variable_frame_rate(good, tmp_path / "vfr.mp4")
    with av.open(str(path)) as box:
        times = np.array([f.time for f in box.decode(video=0)])
    gaps = np.diff(times)
    assert len(times) == len(frames(good))
    assert gaps.max() > 1.8 * gaps.min() and np.std(gaps) > 0.01


def test_odd_and_tiny_sizes(tmp_path: Path) -> None:
    short = script("sizes", 2, [LEC], [counts(hand=5)])
    for kind, size in (("unusual_resolution", (854, 478)), ("tiny", (128, 72))):
        path = bad_videos.make_bad_video(kind, tmp_path / f"{kind}.mp4", script=short)
        with av.open(str(path)) as box:
            first = next(box.decode(video=0))
            assert (first.width, first.height) == size


def test_rotated_and_portrait(good: Path, tmp_path: Path) -> None:
    with av.open(str(bad_videos.rotated(good, tmp_path / "rot.mp4"))) as box:
        first = next(box.decode(video=0))
        assert abs(first.rotation) == 90 and (first.width, first.height) == (512, 288)
    with av.open(str(bad_videos.portrait(good, tmp_path / "portrait.mp4"))) as box:
        first = next(box.decode(video=0))
        assert (first.width, first.height) == (288, 512) and box.streams.audio


def test_unknown_kind_and_missing_source(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown bad-video kind"):
        bad_videos.make_bad_video("wobbly", tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="needs a good video"):
        bad_videos.make_bad_video("truncated", tmp_path / "x.mp4")
