"""The whole world: plan it, then write it night by night into the landing zone.

:func:`build` plans the world in memory (reference data, lesson schedule, rubrics and
scores, the activity plan) without writing anything; :func:`generate` writes it. Each
night's heavy work (the lessons' points and codes, the activity log) is a job that
depends only on the plan and that night's random streams, so nights run in a process
pool and the output does not depend on the number of workers. The main process writes
what crosses nights (late log lines, scores, gold codes, reference deltas), renders
the videos in the same pool, and writes each ``_batch.json`` last.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import multiprocessing
import multiprocessing.pool
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from jiaoyan import codes, landing
from jiaoyan.contracts import BatchFile, sources
from jiaoyan.demo_world import activity, defects, lessons, reference, rubrics
from jiaoyan.demo_world.randomness import stream
from jiaoyan.demo_world.scales import Knobs
from jiaoyan.demo_world.script import LessonScript
from jiaoyan.demo_world.writer import Batch, csv_bytes, fmt, parquet_bytes
from jiaoyan.errors import UserError

TRUTH = "_truth"
WORLD_FILE = "world.json"
PRODUCER_PREFIX = "jiaoyan-demo-world"
CODES_FILE = "behaviour_codes/simulated-coder.parquet"
CORRUPT_KIND = "truncated"  # the last night's corrupt video (see bad_videos)


@dataclass
class World:
    k: Knobs
    ref: reference.Reference
    profiles: pd.DataFrame
    schedule: lessons.Schedule
    rubric_set: rubrics.RubricSet
    observers: pd.DataFrame
    scores: rubrics.Scores
    plan: activity.Plan

    def lessons_on(self, day: dt.date) -> pd.DataFrame:
        frame = self.schedule.lessons
        return frame[frame["lesson_date"] == day].reset_index(drop=True)


def build(k: Knobs) -> World:
    """Plan the world (no files): what every night will carry."""
    ref = reference.build(k)
    profiles = lessons.teacher_profiles(k, ref)
    schedule = lessons.schedule(k, ref, profiles)
    rubric_set = rubrics.build(k)
    observers = rubrics.observers(k, ref)
    scores = rubrics.score(k, rubric_set, schedule.lessons, ref, observers)
    plan = activity.plan(k, ref, schedule.lessons, scores.submissions)
    return World(k, ref, profiles, schedule, rubric_set, observers, scores, plan)


# --- one night ------------------------------------------------------------------------------------------
@dataclass
class Night:
    """What a night's job made: files written, and what the main process still has to place."""

    day: dt.date
    files: list[BatchFile] = field(default_factory=list)
    lesson_truth: pd.DataFrame | None = None
    scripts: list[tuple[LessonScript, bool]] = field(default_factory=list)  # (script, corrupt)
    gold: list[tuple[dt.date, str, bytes, int]] = field(default_factory=list)  # (arrival, path, data, rows)
    deferred: list[activity.Deferred] = field(default_factory=list)
    defects: list[dict] = field(default_factory=list)
    activity_defects: list[dict] = field(default_factory=list)
    event_counts: Counter = field(default_factory=Counter)


def lesson_points(world: World, day: dt.date) -> tuple[pd.DataFrame, lessons.Points]:
    """The night's lessons and their ground-truth points (the same draw every time)."""
    frame = world.lessons_on(day)
    return frame, lessons.generate_points(stream(world.k.seed, "lessons", "points", day.toordinal()), frame)


def lesson_script(world: World, lesson_id: str) -> LessonScript:
    """The ground-truth script of one lesson, exactly as the world generated (and rendered) it."""
    row = world.schedule.lessons.loc[world.schedule.lessons["lesson_id"] == lesson_id]
    if row.empty:
        raise KeyError(f"no lesson {lesson_id!r} in this world")
    frame, points = lesson_points(world, row["lesson_date"].iloc[0])
    i = int(np.flatnonzero(frame["lesson_id"] == lesson_id)[0])
    return points.script(i, lesson_id, int(frame["render_seed"].iloc[i]))


def night(world: World, day: dt.date, out: str) -> Night:
    result = Night(day)
    batch = Batch(out, day)
    _lessons_of_night(world, day, out, batch, result)
    _activity_of_night(world, day, out, batch, result)
    result.files = batch.files
    return result


def _lessons_of_night(world: World, day: dt.date, out: str, batch: Batch, result: Night) -> None:
    k = world.k
    frame, points = lesson_points(world, day)
    if frame.empty:
        return
    rt, ch = lessons.rt_ch(points)
    result.lesson_truth = frame.assign(rt=rt.round(4), ch=ch.round(4), expected_mode=lessons.teaching_mode(rt, ch))
    landing.write_bytes(landing.join(out, TRUTH, "points", f"{day.isoformat()}.parquet"),
                        parquet_bytes(lessons.truth_table(frame, points)))
    rng = stream(k.seed, "defects", "lessons", day.toordinal())
    pre = np.flatnonzero(frame["delivery"] == "precoded")
    if len(pre):
        sub = _subset(points, pre)
        table = lessons.simulated_codes(stream(k.seed, "lessons", "coder", day.toordinal()), frame.iloc[pre], sub)
        if k.defects:
            table, found = defects.behaviour_codes(rng, day, table, CODES_FILE)
            result.defects += [d.row() for d in found]
        batch.put(CODES_FILE, parquet_bytes(table), sources.BEHAVIOUR_CODES.name, table.num_rows)
    _manifest(world, frame, batch, rng, result)
    for i in np.flatnonzero(frame["delivery"] != "precoded"):
        script = points.script(int(i), frame["lesson_id"].iloc[i], int(frame["render_seed"].iloc[i]))
        result.scripts.append((script, bool(frame["corrupt"].iloc[i])))
        if frame["delivery"].iloc[i] == "gold":
            result.gold.append(_gold(world, frame.iloc[i], script))


def _subset(points: lessons.Points, idx: np.ndarray) -> lessons.Points:
    spans = [np.arange(points.offsets[i], points.offsets[i + 1]) for i in idx]
    rows = np.concatenate(spans) if spans else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in spans])])
    return lessons.Points(offsets, points.teacher[rows], points.counts[rows], points.class_size[rows])


def video_path(lesson_id: str) -> str:
    return f"lessons/videos/{lesson_id}.mp4"


def _manifest(world: World, frame: pd.DataFrame, batch: Batch, rng: np.random.Generator, result: Night) -> None:
    header = sources.LESSON_MANIFEST.field_names
    video = frame["delivery"] != "precoded"
    duration = np.where(video, frame["n_points"] * codes.SAMPLING_INTERVAL_S,
                        frame["n_points"] * codes.SAMPLING_INTERVAL_S + frame["record_extra_s"])
    rows = [[lid, tid, sid, subj, str(int(g)), d.isoformat(), st, video_path(lid) if v else "", str(int(cs)),
             f"{dur:.1f}"]
            for lid, tid, sid, subj, g, d, st, v, cs, dur in zip(
                frame["lesson_id"], frame["teacher_id"], frame["school_id"], frame["subject"], frame["grade"],
                frame["lesson_date"], frame["start_time"], video, frame["class_size"], duration, strict=True)]
    path = sources.LESSON_MANIFEST.location
    if world.k.defects:
        rows, found = defects.manifest(rng, batch.day, header, rows, list(np.flatnonzero(~video)), path)
        result.defects += [d.row() for d in found]
    batch.put(path, csv_bytes(header, rows), sources.LESSON_MANIFEST.name, len(rows))


def _gold(world: World, lesson: pd.Series, script: LessonScript) -> tuple[dt.date, str, bytes, int]:
    """Human codes of a gold lesson: the truth, coded by a trained researcher 3–20 days later."""
    k = world.k
    rng = stream(k.seed, "gold", lesson["lesson_id"])
    arrival = min(k.end, lesson["lesson_date"] + dt.timedelta(days=int(rng.integers(3, 21))))
    coders = world.observers.loc[world.observers["role"] == "researcher", "observer_id"].to_numpy()
    coder = coders[rng.integers(len(coders))] if len(coders) else lesson["teacher_id"]
    coded_at = f"{arrival.isoformat()}T{int(rng.integers(17, 22)):02d}:{int(rng.integers(60)):02d}:00+08:00"
    shares = script.shares
    names = codes.teacher_codes()
    rows = [[script.lesson_id, str(i), names[script.teacher[i]], *(f"{x:.6f}" for x in shares[i]), coder, coded_at]
            for i in range(script.n_points)]
    data = csv_bytes(sources.GOLD_CODES.field_names, rows)
    return arrival, f"gold/{script.lesson_id}.csv", data, len(rows)


def _activity_of_night(world: World, day: dt.date, out: str, batch: Batch, result: Night) -> None:
    k, plan = world.k, world.plan
    events = activity.day_events(k, plan, day)
    ids = activity.event_ids(day, len(events))
    lines = activity.encode(events, ids, plan.actors, plan.vtro_ids)
    delivery = activity.deliver(k, events, lines, ids, defects=k.defects)
    for i, part in enumerate(delivery.parts):
        if part or i == 0:
            path = activity.part_name(day, "events", i).split("/", 1)[1]
            batch.put(path, activity.gzip_bytes(part), sources.ACTIVITY_EVENTS.name, part.count(b"\n"))
    broken = {d["event_id"] for d in delivery.defects if d["kind"] == "broken"}
    types = np.array(activity.EVENT_TYPES)[events.type]
    if broken:
        keep = ~np.isin(ids.to_numpy(zero_copy_only=False), list(broken))
        types = types[keep]
    result.event_counts = Counter(types.tolist())
    result.deferred = delivery.deferred
    result.activity_defects = delivery.defects


# --- writing the world ----------------------------------------------------------------------------------
_WORLD: World | None = None  # the plan, in each worker process of the pool
_OUT: str = ""


def _init_worker(world: World, out: str) -> None:
    global _WORLD, _OUT
    _WORLD, _OUT = world, out


def _night_job(day: dt.date) -> Night:
    assert _WORLD is not None
    return night(_WORLD, day, _OUT)


def _render_job(script: LessonScript, path: str, preset: str, corrupt: bool) -> tuple[str, str, int, float]:
    from jiaoyan.demo_world import bad_videos, video

    if landing.is_local(path):
        target = Path(path.removeprefix("file://"))
        if corrupt:
            with tempfile.TemporaryDirectory() as tmp:
                good = video.render_lesson(script, Path(tmp) / "good.mp4", preset)
                bad_videos.make_bad_video(CORRUPT_KIND, target, good=good.path)
        else:
            video.render_lesson(script, target, preset)
        data = target.read_bytes()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            local = Path(tmp) / "lesson.mp4"
            _render_job(script, str(local), preset, corrupt)
            data = local.read_bytes()
            landing.write_bytes(path, data)
    return script.lesson_id, hashlib.sha256(data).hexdigest(), len(data), script.duration_s


def generate(k: Knobs, out: str, log: Callable[[str], None] = lambda _m: None) -> dict:
    """Write the world into ``out``; returns the summary also written to ``_truth/world.json``."""
    t0 = time.perf_counter()
    prepare_output(out)
    landing.write_bytes(landing.join(out, TRUTH, WORLD_FILE), _world_json(k, {"status": "incomplete"}))
    world = build(k)
    log(f"planned the world in {time.perf_counter() - t0:.1f} s: {len(world.schedule.lessons):,} lessons, "
        f"{len(world.scores.rows):,} scores, {len(world.plan.activities):,} activities")
    summary = _write_nights(world, out, log)
    landing.write_bytes(landing.join(out, TRUTH, WORLD_FILE), _world_json(k, summary))
    log(f"wrote {k.days} nights to {out} in {time.perf_counter() - t0:.1f} s")
    return summary


def _pool(world: World, out: str) -> multiprocessing.pool.Pool:
    # forkserver, not fork: the generator also runs in processes that already have threads (Ray, Spark's gateway,
    # Airflow, test suites), and a forked child can inherit a lock one of them held and hang. The planned world
    # (a few MB for a demo year) is pickled once per worker instead of inherited.
    return multiprocessing.get_context("forkserver").Pool(world.k.workers, initializer=_init_worker,
                                                           initargs=(world, out))


def _write_nights(world: World, out: str, log: Callable[[str], None]) -> dict:
    k = world.k
    state = _State(world, out)
    days = k.dates()
    if k.workers > 1:
        with _pool(world, out) as pool:
            renders = []
            for result in pool.imap(_night_job, days):
                state.night_done(result)
                renders += [pool.apply_async(_render_job, (s, state.video_uri(result.day, s.lesson_id), k.preset, c))
                            for s, c in result.scripts]
                state.progress(log)
            for job in renders:
                state.video_done(*job.get())
    else:
        for day in days:
            result = night(world, day, out)
            state.night_done(result)
            for s, c in result.scripts:
                state.video_done(*_render_job(s, state.video_uri(day, s.lesson_id), k.preset, c))
            state.progress(log)
    return state.finish()


class _State:
    """What the main process collects across nights, and the truth it writes at the end."""

    def __init__(self, world: World, out: str) -> None:
        self.world, self.out, self.k = world, out, world.k
        self.files: dict[dt.date, list[BatchFile]] = defaultdict(list)
        self.deferred: dict[dt.date, list[activity.Deferred]] = defaultdict(list)
        self.gold: dict[dt.date, list[tuple[str, bytes, int]]] = defaultdict(list)
        self.lesson_truth: list[pd.DataFrame] = []
        self.defects: list[dict] = []
        self.activity_defects: list[dict] = []
        self.event_counts: dict[dt.date, Counter] = {}
        self.videos: dict[str, tuple[str, int, float]] = {}
        self.video_day: dict[str, dt.date] = {}
        self.done = 0
        self.t0 = time.perf_counter()

    def video_uri(self, day: dt.date, lesson_id: str) -> str:
        self.video_day[lesson_id] = day
        return landing.join(landing.batch_uri(self.out, day), video_path(lesson_id))

    def night_done(self, result: Night) -> None:
        day = result.day
        self.files[day] += result.files
        for item in result.deferred:
            self.deferred[item.arrival].append(item)
        for arrival, path, data, rows in result.gold:
            self.gold[arrival].append((path, data, rows))
        if result.lesson_truth is not None:
            self.lesson_truth.append(result.lesson_truth)
        self.defects += result.defects
        self.activity_defects += result.activity_defects
        self.event_counts[day] = result.event_counts
        self.files[day] += self._cross_night_files(day)
        self.done += 1

    def _cross_night_files(self, day: dt.date) -> list[BatchFile]:
        """Files of ``day`` made from the plan or from earlier nights: all known once ``day``'s job is back."""
        batch = Batch(self.out, day)
        _reference(self.world, day, batch, self.defects)
        _rubric_files(self.world, day, batch, self.defects)
        for path, data, rows in self.gold.pop(day, []):
            batch.put(path, data, sources.GOLD_CODES.name, rows)
        parts, truth = activity.late_file(day, self.deferred.pop(day, []))
        for i, part in enumerate(parts):
            batch.put(activity.part_name(day, "late", i).split("/", 1)[1], activity.gzip_bytes(part),
                      sources.ACTIVITY_EVENTS.name, part.count(b"\n"))
        self.activity_defects += truth
        return batch.files

    def video_done(self, lesson_id: str, sha: str, size: int, duration: float) -> None:
        self.videos[lesson_id] = (sha, size, duration)
        day = self.video_day[lesson_id]
        self.files[day].append(BatchFile(path=video_path(lesson_id), contract="video", sha256=sha, bytes=size,
                                         rows=None))

    def progress(self, log: Callable[[str], None]) -> None:
        if self.done % 30 == 0 or self.done == self.k.days:
            log(f"  {self.done}/{self.k.days} nights in {time.perf_counter() - self.t0:.0f} s")

    def finish(self) -> dict:
        producer = self.k.producer()
        for day in self.k.dates():
            Batch(self.out, day).finish(producer, self.files[day])
        return write_truth(self)


# --- reference data and rubrics per night --------------------------------------------------------------------
def _reference(world: World, day: dt.date, batch: Batch, found: list[dict]) -> None:
    ref, k = world.ref, world.k
    first = day == k.start
    tables = {
        "regions": ref.regions if first else ref.regions.iloc[:0],
        "schools": _snapshot(ref.schools, "school_id", day, first),
        "universities": ref.universities if first else ref.universities.iloc[:0],
        "teachers": _snapshot(ref.teachers, "teacher_id", day, first),
        "vtros": ref.vtros[ref.vtros["delivered_on"] == day],
        "vtro_members": _members_of(ref.members, day),
    }
    rng = stream(k.seed, "defects", "reference", day.toordinal())
    for contract in sources.REFERENCE_CONTRACTS:
        frame = tables[contract.name]
        if frame.empty:
            continue
        rows = [[fmt(v) for v in r] for r in frame[list(contract.field_names)].itertuples(index=False)]
        if contract is sources.VTRO_MEMBERS and k.defects and not first:
            rows, bad = defects.members(rng, day, contract.field_names, rows, contract.location)
            found += [d.row() for d in bad]
        batch.put(contract.location, csv_bytes(contract.field_names, rows), contract.name, len(rows))


def _snapshot(frame: pd.DataFrame, key: str, day: dt.date, first: bool) -> pd.DataFrame:
    """The first night: each entity's version valid that day; later nights: the rows that arrive."""
    if not first:
        return frame[frame["delivered_on"] == day]
    known = frame[frame["delivered_on"] <= day].sort_values([key, "valid_from"], kind="stable")
    return known.drop_duplicates(key, keep="last")


def _members_of(members: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    rows = members[members["delivered_on"] == day]
    return rows.sort_values(["vtro_id", "teacher_id", "joined_on"], kind="stable")


def _rubric_files(world: World, day: dt.date, batch: Batch, found: list[dict]) -> None:
    k = world.k
    docs = world.rubric_set.documents if day == k.start else world.rubric_set.published(day)
    if day == k.start:
        docs = [d for d in docs if d.published_on <= day]
    if docs:
        rows = sum(len(d.indicators) for d in docs)
        batch.put(sources.RUBRIC_INDICATORS.location, rubrics.document_bytes(docs), sources.RUBRIC_INDICATORS.name,
                  rows)
    scores = world.scores.rows
    today = scores[scores["arrival"] == day]
    if today.empty:
        return
    header = sources.RUBRIC_SCORES.field_names
    stamp = today["scored_at"].dt.strftime("%Y-%m-%dT%H:%M:%S+08:00")
    rows = [list(r) for r in zip(today["lesson_id"], today["rubric_id"], today["indicator_id"], today["observer_id"],
                                 today["role"], [fmt(float(x)) for x in today["score"]], stamp, strict=True)]
    path = "rubric_scores/scores.csv"
    if k.defects:
        rng = stream(k.seed, "defects", "scores", day.toordinal())
        rows, bad = defects.scores(rng, day, header, rows, list(today["max_score"]), path)
        found += [d.row() for d in bad]
    batch.put(path, csv_bytes(header, rows), sources.RUBRIC_SCORES.name, len(rows))


# --- the output folder ----------------------------------------------------------------------------------
def prepare_output(out: str) -> None:
    """Refuse a folder holding anything but a previous demo world; clear a previous world; check we can write."""
    try:
        fs, root = landing.filesystem(out)
        if fs.exists(root) and not fs.isdir(root):
            raise UserError(f"{out}: exists and is not a folder")
        entries = [e.rstrip("/").rsplit("/", 1)[-1] for e in fs.ls(root, detail=False)] if fs.exists(root) else []
        entries = [e for e in entries if e]
        foreign = [e for e in entries if not (landing.BATCH_NAME.match(e) or e == TRUTH)]
        if entries and (foreign or not _is_world(out)):
            what = ", ".join(sorted(foreign)[:3]) or "batch folders without _truth/world.json"
            raise UserError(f"{out}: holds something that is not a demo world ({what}); use an empty or new folder")
        for entry in entries:
            fs.rm(f"{root.rstrip('/')}/{entry}", recursive=True)
        probe = landing.join(out, ".jiaoyan-write-test")
        landing.write_bytes(probe, b"")
        fs.rm(landing.filesystem(probe)[1])
    except PermissionError as exc:
        raise UserError(f"{out}: cannot write there ({exc.strerror or exc})") from None
    except OSError as exc:
        raise UserError(f"{out}: cannot use it as the output folder ({exc.strerror or exc})") from None


def _is_world(out: str) -> bool:
    try:
        info = orjson.loads(landing.read_bytes(landing.join(out, TRUTH, WORLD_FILE)))
    except (OSError, orjson.JSONDecodeError):
        return False
    return isinstance(info, dict) and str(info.get("producer", "")).startswith(PRODUCER_PREFIX)


def _world_json(k: Knobs, summary: dict) -> bytes:
    payload = {"producer": k.producer(), "scale": k.scale.name, "seed": k.seed, "start": k.start.isoformat(),
               "end": k.end.isoformat(), **summary}
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS) + b"\n"


# --- ground truth -------------------------------------------------------------------------------------
def write_truth(state: _State) -> dict:
    world, out = state.world, state.out
    put = _truth_writer(out)
    lessons_truth = _lessons_truth(state)
    put("lessons.csv", lessons_truth)
    put("teachers.csv", world.profiles)
    put("teacher_terms.csv", _teacher_terms(world))
    put("observers.csv", world.observers)
    put("offices.csv", _offices_truth(world))
    put("defects.csv", pd.DataFrame(state.defects, columns=list(defects.Defect.__dataclass_fields__)))
    put("activity_defects.csv", pd.DataFrame(state.activity_defects, columns=["kind", "event_id", "event_date",
                                                                               "arrival_date", "file", "line",
                                                                               "detail"]))
    counts = pd.DataFrame([(d.isoformat(), t, n) for d, c in sorted(state.event_counts.items())
                           for t, n in sorted(c.items())], columns=["event_date", "event_type", "events"])
    put("activity_counts.csv", counts)
    return _summary(state, lessons_truth, counts)


def _truth_writer(out: str) -> Callable[[str, pd.DataFrame], None]:
    def put(name: str, frame: pd.DataFrame) -> None:
        buffer = io.BytesIO()
        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), buffer)
        landing.write_bytes(landing.join(out, TRUTH, name), buffer.getvalue())
    return put


LESSON_TRUTH_COLUMNS = ["lesson_id", "lesson_date", "term_code", "teacher_id", "school_id", "subject", "grade",
                        "style", "trend", "terms_on", "delivery", "corrupt", "n_points", "duration_s", "class_size",
                        "render_seed", "rt", "ch", "expected_mode", "video_sha256"]


def _lessons_truth(state: _State) -> pd.DataFrame:
    if not state.lesson_truth:
        return pd.DataFrame(columns=LESSON_TRUTH_COLUMNS)
    frame = pd.concat(state.lesson_truth, ignore_index=True)
    video = frame["delivery"] != "precoded"
    frame["duration_s"] = np.where(video, frame["n_points"] * 6.0,
                                   frame["n_points"] * 6.0 + frame["record_extra_s"]).round(1)
    frame["video_sha256"] = frame["lesson_id"].map(lambda x: state.videos.get(x, ("",))[0])
    return frame[LESSON_TRUTH_COLUMNS]


def _teacher_terms(world: World) -> pd.DataFrame:
    """Each teacher's segment mix and expected rubric level per term of the world (the trends)."""
    p = world.profiles
    terms = sorted(set(world.schedule.lessons["term_code"])) or []
    frames = []
    for step, term in enumerate(terms):
        mix = lessons.style_mix(p["style"].to_numpy(), p["trend"].to_numpy(), p["trend_step"].to_numpy(),
                                np.full(len(p), step))
        gain = np.select([p["trend"] == "improving", p["trend"] == "declining"], [0.025, -0.02], 0.0) * step
        frame = pd.DataFrame(mix.round(4), columns=[f"share_{k}" for k in lessons.KINDS])
        frames.append(frame.assign(teacher_id=p["teacher_id"].to_numpy(), term_code=term,
                                   expected_skill=(p["skill"].to_numpy() + gain).round(3)))
    if not frames:
        return pd.DataFrame(columns=["teacher_id", "term_code"])
    out = pd.concat(frames, ignore_index=True)
    return out[["teacher_id", "term_code", "expected_skill", *[f"share_{k}" for k in lessons.KINDS]]]


def _offices_truth(world: World) -> pd.DataFrame:
    v, offices, k = world.ref.vtros, world.plan.offices, world.k
    start_members = world.ref.members[world.ref.members["delivered_on"] == k.start]
    uni_group = world.ref.universities.set_index("university_id")["region_group"]
    teacher_uni = world.ref.university_teachers().set_index("teacher_id")["university_id"]
    groups = start_members["teacher_id"].map(teacher_uni).map(uni_group)
    has_cw = groups.isin(["central", "western"]).groupby(start_members["vtro_id"]).any()
    size = start_members.groupby("vtro_id").size()
    first = k.start
    return pd.DataFrame({
        "vtro_id": v["vtro_id"], "scope": v["scope"], "content_type": v["content_type"],
        "members_at_start": v["vtro_id"].map(size).fillna(0).astype(int),
        "rule_small": v["rule_small"], "rule_east_only": v["rule_east_only"],
        "has_central_western_member": [bool(has_cw.get(x, False)) for x in v["vtro_id"]],
        "activity_level": offices["level"], "dormant": offices["dormant"],
        "quiet_from": [_day_or_none(first, a, b, a) for a, b in zip(offices["quiet_from"], offices["quiet_to"],
                                                                     strict=True)],
        "quiet_to": [_day_or_none(first, a, b, b) for a, b in zip(offices["quiet_from"], offices["quiet_to"],
                                                                   strict=True)],
    })


def _day_or_none(first: dt.date, a: int, b: int, which: int) -> dt.date | None:
    if a > b or abs(which) >= 10_000:
        return None
    return first + dt.timedelta(days=int(which))


def _summary(state: _State, lessons_truth: pd.DataFrame, counts: pd.DataFrame) -> dict:
    world = state.world
    ref = world.ref
    files = [f for fs in state.files.values() for f in fs]
    by_contract: Counter = Counter()
    rows_by_contract: Counter = Counter()
    for f in files:
        by_contract[f.contract] += 1
        if f.rows is not None:
            rows_by_contract[f.contract] += f.rows
    members = ref.members.drop_duplicates(["vtro_id", "teacher_id"])
    return {
        "status": "complete",
        "nights": world.k.days,
        "regions": len(ref.regions), "schools": ref.schools["school_id"].nunique(),
        "school_teachers": len(world.profiles), "universities": len(ref.universities),
        "university_teachers": ref.university_teachers()["teacher_id"].nunique(),
        "vtros": len(ref.vtros), "vtro_memberships": len(members),
        "vtro_distinct_members": int(members["teacher_id"].nunique()),
        "lessons": {str(k): int(v) for k, v in lessons_truth["delivery"].value_counts().sort_index().items()},
        "points": int(lessons_truth["n_points"].sum()),
        "videos": len(state.videos),
        "rubric_score_rows": int(rows_by_contract["rubric_scores"]),
        "activity_events": int(counts["events"].sum()) if len(counts) else 0,
        "activity_lines": int(rows_by_contract["activity_events"]),
        "files": dict(sorted(by_contract.items())), "rows": dict(sorted(rows_by_contract.items())),
        "defects": dict(sorted(Counter(d["source"] for d in state.defects).items())),
        "activity_defects": dict(sorted(Counter(d["kind"] for d in state.activity_defects).items())),
    }

