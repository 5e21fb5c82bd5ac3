"""Decoding for inference: the index pass, the frame plan (keyframes, long-GOP fallback, exact, full),
time-based sampling, orientation and the bad-video reasons — on small rendered lessons."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from jiaoyan import codes
from jiaoyan.demo_world import bad_videos, video
from jiaoyan.demo_world.script import LessonScript
from ray_inference.video import DecodeOptions, Probe, VideoError, plan, read_lesson

N_POINTS = 5
CLASS = 20


def _script(seed: int, n: int = N_POINTS) -> LessonScript:
    teacher = np.array([0, 1, 2, 3, 0, 1, 2, 3][:n], np.int8)
    counts = np.tile(np.array([[14, 2, 1, 2, 1]], np.int16), (n, 1))
    return LessonScript(f"dec{seed}", seed, CLASS, teacher, counts)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("decoding")
    script = _script(3)
    good = video.render_lesson(script, out / "good.mp4").path
    long_gop = video.render_lesson(script, out / "long_gop.mp4", replace(video.preset("default"), gop=100)).path
    made = {"good": good, "long_gop": long_gop}
    for kind in ("unreadable", "zero_length", "truncated", "no_audio", "variable_frame_rate", "rotated", "portrait",
                 "tiny", "unusual_resolution"):
        made[kind] = bad_videos.make_bad_video(kind, out / f"{kind}.mp4", good=good, script=script)
    return made


def test_index_finds_points_keyframes_and_sound(videos: dict[str, Path]) -> None:
    lesson = read_lesson(str(videos["good"]))
    p = lesson.probe
    assert p.n_points == N_POINTS
    assert p.duration_s == pytest.approx(N_POINTS * codes.SAMPLING_INTERVAL_S, abs=0.11)
    assert np.allclose(np.diff(p.keyframes), 2.0)  # the default preset: a keyframe every 20 frames at 10 fps
    assert p.audio is not None and len(p.audio) / p.audio_rate == pytest.approx(p.duration_s, abs=0.1)
    assert not p.variable_rate


def test_keyframe_strategy_decodes_one_picture_per_slot(videos: dict[str, Path]) -> None:
    lesson = read_lesson(str(videos["good"]), DecodeOptions(frames_per_point=2))
    f = lesson.frames
    assert f.images.shape == (2 * N_POINTS, 216, 384, 3)
    assert f.decoded == 2 * N_POINTS and f.fallback == 0
    assert np.isin(f.times, lesson.probe.keyframes).all()
    lo = f.points * 6.0 + f.slots * 3.0
    assert ((f.times >= lo - 1e-6) & (f.times < lo + 3.0)).all()  # each picture inside its own slot


def test_keyframes_match_full_decode(videos: dict[str, Path]) -> None:
    """The same instants decoded by seeking to keyframes and by decoding everything give the same pictures."""
    fast = read_lesson(str(videos["good"]))
    full = read_lesson(str(videos["good"]), DecodeOptions(strategy="full"))
    exact = read_lesson(str(videos["good"]), DecodeOptions(strategy="exact"))
    assert full.frames.decoded == len(full.probe.frames)
    same = np.isin(full.frames.times, fast.frames.times)
    for t in full.frames.times[same]:
        a = fast.frames.images[fast.frames.times == t][0]
        b = full.frames.images[full.frames.times == t][0]
        assert np.array_equal(a, b)
    assert exact.frames.images.shape == fast.frames.images.shape
    assert exact.frames.decoded > fast.frames.decoded


def test_long_gop_falls_back_to_decoding_forward(videos: dict[str, Path]) -> None:
    lesson = read_lesson(str(videos["long_gop"]), DecodeOptions(frames_per_point=2))
    f = lesson.frames
    assert len(lesson.probe.keyframes) < N_POINTS  # sparser than the points
    assert f.fallback > 0
    assert len(np.unique(f.times)) == len(f.times)  # still one picture per slot
    lo = f.points * 6.0 + f.slots * 3.0
    assert ((f.times >= lo - 1e-6) & (f.times < lo + 3.0)).all()


def test_plan_prefers_keyframes_and_falls_back_per_slot() -> None:
    frames = np.arange(0, 24, 0.1)
    p = Probe(declared_s=24.0, duration_s=24.0, fps=10.0, width=640, height=360, rotation=0, quarter_turns=0,
              keyframes=np.array([0.0, 4.0, 8.0, 16.0]), frames=frames, audio=None, audio_rate=16000)
    pl = plan(p, DecodeOptions(frames_per_point=2))
    assert pl.times.tolist()[:4] == pytest.approx([0.0, 4.0, 8.0, 9.0])  # window 1, slot 2: no keyframe in [9, 12)
    assert pl.keyframe.tolist()[:4] == [True, True, True, False]
    assert len(pl.times) == 2 * p.n_points == 8


def test_one_picture_per_point_by_default(videos: dict[str, Path]) -> None:
    f = read_lesson(str(videos["good"])).frames
    assert f.points.tolist() == list(range(N_POINTS)) and (f.slots == 0).all()
    assert ((f.times >= f.points * 6.0) & (f.times < (f.points + 1) * 6.0)).all()


def test_variable_frame_rate_is_sampled_by_time(videos: dict[str, Path]) -> None:
    lesson = read_lesson(str(videos["variable_frame_rate"]))
    assert lesson.probe.variable_rate
    assert lesson.n_points == N_POINTS
    f = lesson.frames
    assert ((f.times >= f.points * 6.0 - 1e-6) & (f.times < (f.points + 1) * 6.0)).all()


@pytest.mark.parametrize("kind", ["rotated", "portrait"])
def test_turned_pictures_come_out_upright(videos: dict[str, Path], kind: str) -> None:
    good = read_lesson(str(videos["good"])).frames.images.astype(np.float32)
    turned = read_lesson(str(videos[kind])).frames.images.astype(np.float32)
    assert turned.shape == good.shape
    assert np.abs(turned - good).mean() < 12  # upright again (turned by 90 degrees it would differ by ~50)


def test_no_audio_is_coded_without_sound(videos: dict[str, Path]) -> None:
    lesson = read_lesson(str(videos["no_audio"]))
    assert lesson.probe.audio is None and lesson.n_points == N_POINTS


def test_unusual_resolution_is_scaled_to_the_analysis_size(videos: dict[str, Path]) -> None:
    lesson = read_lesson(str(videos["unusual_resolution"]))
    assert (lesson.probe.width, lesson.probe.height) == bad_videos.UNUSUAL_SIZE
    assert lesson.frames.images.shape[1:] == (216, 384, 3)


@pytest.mark.parametrize(("kind", "reason"), [
    ("unreadable", "unreadable video"),
    ("zero_length", "unreadable video"),
    ("truncated", "truncated"),
    ("tiny", "below the minimum"),
])
def test_bad_videos_give_a_reason(videos: dict[str, Path], kind: str, reason: str) -> None:
    with pytest.raises(VideoError, match=reason):
        read_lesson(str(videos[kind]))


def test_missing_file_is_a_reason(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"not found|unreadable"):
        read_lesson(str(tmp_path / "nothing.mp4"))


def test_fsspec_uri_reads_like_a_path(videos: dict[str, Path]) -> None:
    local = read_lesson(str(videos["good"]))
    remote = read_lesson(f"file://{videos['good']}")
    assert np.array_equal(local.frames.images, remote.frames.images)


@pytest.mark.parametrize(("codec", "fmt", "layout", "rate"), [
    ("aac", "fltp", "mono", 16000),  # what cameras and the demo world write
    ("aac", "fltp", "stereo", 48000),  # planar, two channels, resampled
    ("pcm_s16le", "s16", "stereo", 44100),  # interleaved integers
    ("pcm_u8", "u8", "mono", 8000),
    ("pcm_f64le", "dbl", "stereo", 16000),
])
def test_sound_is_read_from_the_planes_as_pyav_converts_it(tmp_path: Path, codec: str, fmt: str, layout: str,
                                                           rate: int) -> None:
    """The sound reader reads samples straight from the frames' planes into one buffer: the mono samples must
    be those of PyAV's general conversion (``to_ndarray``), for planar and interleaved formats alike."""
    import av

    from ray_inference.video import _SoundReader

    path = tmp_path / f"sound-{codec}-{layout}.mkv"
    channels = 1 if layout == "mono" else 2
    t = np.arange(rate * 3) / rate
    tone = np.stack([np.sin(2 * np.pi * 220 * (c + 1) * t) * 0.3 for c in range(channels)]).astype(np.float32)
    with av.open(str(path), "w") as box:
        stream = box.add_stream(codec, rate=rate, layout=layout)
        for start in range(0, tone.shape[1], 1024):
            frame = av.AudioFrame.from_ndarray(tone[:, start:start + 1024], format="fltp", layout=layout)
            frame.sample_rate = rate
            for converted in av.AudioResampler(format=fmt, layout=layout, rate=rate).resample(frame):
                for packet in stream.encode(converted):
                    box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    reference = []
    with av.open(str(path)) as box:
        for packet in box.demux(box.streams.audio[0]):
            for frame in packet.decode():
                data = frame.to_ndarray()
                data = data.reshape(-1, channels).T if not frame.format.is_planar else data
                reference.append(_reference_mono(data, frame.format.name))
    with av.open(str(path)) as box:  # the reader decodes the same packets itself
        sound = box.streams.audio[0]
        reader = _SoundReader(sound, rate)
        for packet in box.demux(sound):
            reader.add(packet)
    assert reader.stream.codec_context.format.name.removesuffix("p") == fmt.removesuffix("p")
    got = reader.result(reader.first_pts or 0.0)
    assert got is not None and np.array_equal(got, np.concatenate(reference))


def _reference_mono(data: np.ndarray, fmt: str) -> np.ndarray:
    mono = data.mean(axis=0, dtype=np.float32) if len(data) > 1 else data[0].astype(np.float32)
    scale = {"s16": 1 / 32768, "s16p": 1 / 32768, "s32": 1 / 2**31, "s32p": 1 / 2**31}
    if fmt in scale:
        return mono * np.float32(scale[fmt])
    return (mono - 128.0) / 128.0 if fmt.startswith("u8") else mono


def _probe_both_ways(path: Path) -> tuple[Probe, Probe]:
    from ray_inference.video import open_container, probe

    options = DecodeOptions()
    with open_container(str(path), options) as box:
        demuxed = probe(box, options)  # no uri: every packet demuxed
    with open_container(str(path), options) as box:
        indexed = probe(box, options, str(path))
    return demuxed, indexed


def _same_probe(a: Probe, b: Probe) -> bool:
    arrays = ("keyframes", "frames", "audio")
    scalars = ("declared_s", "duration_s", "fps", "width", "height", "rotation", "quarter_turns", "audio_rate")
    return all(getattr(a, k) == getattr(b, k) for k in scalars) and all(
        (getattr(a, k) is None and getattr(b, k) is None) or np.array_equal(getattr(a, k), getattr(b, k))
        for k in arrays)


@pytest.mark.parametrize("kind", ["good", "long_gop", "no_audio", "variable_frame_rate", "rotated", "portrait",
                                  "truncated"])
def test_the_sample_index_gives_what_demuxing_every_packet_gives(videos: dict[str, Path], kind: str) -> None:
    """An MP4's own sample index stands in for demuxing 110,000 packets of a lesson: the timing, keyframes and
    sound must be the same bit for bit; a truncated file's index promises samples past its end, so it is not used."""
    import av

    from ray_inference.video import _sample_index

    demuxed, indexed = _probe_both_ways(videos[kind])
    assert _same_probe(demuxed, indexed)
    with av.open(str(videos[kind])) as box:
        used = _sample_index(box, box.streams.video[0], str(videos[kind])) is not None
    assert used == (kind != "truncated")


def test_reordered_frames_are_read_from_the_packets(tmp_path: Path) -> None:
    """With B-frames the index holds decoding times, not presentation times: the packets are demuxed instead."""
    import av

    from ray_inference.video import _sample_index

    path = tmp_path / "bframes.mp4"
    with av.open(str(path), "w") as box:
        stream = box.add_stream("libx264", rate=10, options={"bf": "2", "g": "20", "preset": "fast"})
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        rng = np.random.default_rng(1)
        for i in range(80):
            picture = np.full((240, 320, 3), (i * 3) % 255, np.uint8)
            picture[rng.integers(0, 200) :, : 10 + 3 * i] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                box.mux(packet)
        for packet in stream.encode(None):
            box.mux(packet)
    with av.open(str(path)) as box:
        assert box.streams.video[0].codec_context.has_b_frames
        assert _sample_index(box, box.streams.video[0], str(path)) is None
    demuxed, indexed = _probe_both_ways(path)
    assert _same_probe(demuxed, indexed) and len(indexed.frames) == 80


def test_an_index_whose_last_gop_disagrees_is_not_used(videos: dict[str, Path],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The last GOP is demuxed through a second handle before anything is decoded: when it disagrees with the
    index (here forced), the packets are demuxed as without an index, with the same sound."""
    import av

    from ray_inference import video as video_module

    with av.open(str(videos["good"])) as box:
        assert video_module._sample_index(box, box.streams.video[0], str(videos["good"])) is not None
    monkeypatch.setattr(video_module, "_last_gop", lambda *_args: None)
    with av.open(str(videos["good"])) as box:
        assert video_module._sample_index(box, box.streams.video[0], str(videos["good"])) is None
    assert _same_probe(*_probe_both_ways(videos["good"]))
