"""Activity logs of the teaching-research platform.

The year is planned first (offices' activity levels and inactive stretches, activities
with their creation and meeting days, resources, membership joins and leaves, lesson
observations and scorings from the rubric plan); each day then draws its events —
attendance (sometimes from other universities), discussion posts and logins filling
the day up to its volume, which follows the week, the terms and the holidays. Lines
are encoded with Arrow string kernels (no per-event Python), so a million-event day
takes seconds.
"""

from __future__ import annotations

import datetime as dt
import gzip
import zlib
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from jiaoyan.contracts import sources
from jiaoyan.demo_world import calendar
from jiaoyan.demo_world.randomness import stream
from jiaoyan.demo_world.reference import Reference
from jiaoyan.demo_world.scales import Knobs

EVENT_TYPES = sources.EVENT_TYPES
ACTIVITY_KIND_WEIGHT = {"lesson_analysis": 0.2, "excellent_lesson_selection": 0.06, "large_scale_event": 0.04,
                        "collective_preparation": 0.22, "lesson_polishing": 0.14, "theme_seminar": 0.2,
                        "training": 0.14}
RESOURCE_KIND_WEIGHT = {"training_programme": 0.05, "syllabus": 0.08, "knowledge_graph": 0.08,
                        "teaching_video": 0.12, "courseware": 0.22, "exercise_bank": 0.12, "teaching_case": 0.14,
                        "experiment_project": 0.07, "practice_project": 0.06, "dataset": 0.06}
ATTEND_SHARE = {"large_scale_event": 0.55, "training": 0.45, "excellent_lesson_selection": 0.35}  # else 0.25
EXTERNAL = {"large_scale_event": (40, 300), "training": (10, 80)}  # attendees from other offices (min, max)
CROSS_UNIVERSITY_RATE = 0.25  # other activities with a few guests from other universities
INACTIVE_RATE = 0.12  # offices with one long quiet stretch
DORMANT_RATE = 0.03  # offices quiet all year (small offices more often)
LOGIN_SHARE = 0.62  # of the volume left after the structured events; the rest are discussion posts
LATE_RATE, DUPLICATE_RATE, BROKEN_RATE = 0.02, 0.01, 0.001
BROKEN_KINDS = ("truncated_json", "not_an_object", "missing_required_field", "bad_timestamp", "unknown_event_type")
PART_LINES = 500_000  # lines per activity file part
_TYPE = {t: i for i, t in enumerate(EVENT_TYPES)}


# --- the plan ------------------------------------------------------------------------------------
@dataclass
class Plan:
    start: dt.date
    actors: np.ndarray  # teacher ids; events refer to actors by index
    actor_weight: np.ndarray  # how active each actor is
    actor_from: np.ndarray  # day ordinal from which an actor uses the platform
    offices: pd.DataFrame  # vtro_id, level, quiet_from, quiet_to (day ordinals; quiet_from > quiet_to = never)
    members: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # per office: actor, from, to, is_core
    activities: pd.DataFrame  # activity_id, office, kind, creator, created_day, created_s, held_day, held_s, ...
    resources: pd.DataFrame  # day, office, actor, kind, s
    fixed: pd.DataFrame  # events fixed by other plans: day, s, actor, office, type, object_id, attr_key, attr_value
    volume: np.ndarray  # target events per day
    vtro_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, object))

    def day_of(self, d: dt.date) -> int:
        return (d - self.start).days


def plan(k: Knobs, ref: Reference, lessons: pd.DataFrame, submissions: pd.DataFrame) -> Plan:
    rng = stream(k.seed, "activity", "plan")
    actors, actor_from = _actors(k, ref, lessons)
    index = {a: i for i, a in enumerate(actors)}
    offices = _offices(k, rng, ref)
    members = _members(k, ref, offices, index)
    activities = _activities(k, rng, offices, members)
    resources = _resources(k, rng, offices, members)
    fixed = pd.concat([_membership_events(k, ref, index), _lesson_events(k, rng, lessons, submissions, index)],
                      ignore_index=True)
    factors = np.array([calendar.activity_factor(d) for d in k.dates()])
    volume = np.rint(k.events_per_day * factors / _mean_factor()).astype(np.int64)
    weight = rng.lognormal(0, 0.8, len(actors))
    return Plan(k.start, actors, weight, actor_from, offices, members, activities, resources, fixed, volume,
                offices["vtro_id"].to_numpy())


def _mean_factor() -> float:
    """Mean activity factor over a typical year, so the yearly mean volume is the configured rate."""
    year = [dt.date(2025, 11, 21) + dt.timedelta(days=i) for i in range(365)]
    return float(np.mean([calendar.activity_factor(d) for d in year]))


def _actors(k: Knobs, ref: Reference, lessons: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Platform users: every teacher of the world, from the day they appear."""
    first = ref.teachers.sort_values(["teacher_id", "delivered_on"]).drop_duplicates("teacher_id")
    days = np.array([(d - k.start).days for d in first["delivered_on"]])
    return first["teacher_id"].to_numpy(), np.maximum(days, 0)


def _offices(k: Knobs, rng: np.random.Generator, ref: Reference) -> pd.DataFrame:
    """Activity level per office and its quiet stretch, if any (so there are offices to remind)."""
    v = ref.vtros
    n = len(v)
    level = rng.lognormal(0, 0.6, n) * np.where(v["scope"] == "national", 1.3, 1.0)
    dormant = rng.random(n) < np.where(v["rule_small"], 0.3, DORMANT_RATE)
    quiet = (rng.random(n) < INACTIVE_RATE) & ~dormant
    length = rng.integers(40, 151, n)
    begin = rng.integers(-60, max(1, k.days - 20), n)
    quiet_from = np.where(dormant, -10_000, np.where(quiet, begin, 1))
    quiet_to = np.where(dormant, 10_000, np.where(quiet, begin + length, 0))
    founded = np.array([(f - k.start).days for f in v["founded_on"]])
    return pd.DataFrame({"vtro_id": v["vtro_id"].to_numpy(), "level": level.round(3), "founded": founded,
                         "quiet_from": quiet_from, "quiet_to": quiet_to, "dormant": dormant})


def _members(k: Knobs, ref: Reference, offices: pd.DataFrame,
             index: dict[str, int]) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    rows = ref.members.sort_values(["vtro_id", "teacher_id", "joined_on", "delivered_on"])
    rows = rows.drop_duplicates(["vtro_id", "teacher_id", "joined_on"], keep="last")  # a leave replaces the row
    out = []
    groups = dict(iter(rows.groupby("vtro_id", sort=False)))  # iter: a groupby looks like a mapping
    far = 10**6
    for vtro_id in offices["vtro_id"]:
        g = groups[vtro_id]
        joined = np.array([(d - k.start).days for d in g["joined_on"]])
        left = np.array([far if d is None or pd.isna(d) else (d - k.start).days for d in g["left_on"]])
        out.append((np.array([index[t] for t in g["teacher_id"]]), joined, left,
                    g["role"].isin(["leader", "core"]).to_numpy()))
    return out


def active_days(offices: pd.DataFrame, days: int) -> np.ndarray:
    """(office, day) → the office exists and is not in its quiet stretch."""
    d = np.arange(days)[None, :]
    founded, q0, q1 = (offices[c].to_numpy()[:, None] for c in ("founded", "quiet_from", "quiet_to"))
    return (d >= founded) & ~((q0 <= d) & (d <= q1))


def _present(members: tuple, day: int) -> np.ndarray:
    _actor, joined, left, _core = members
    return (joined <= day) & (left > day)


def _activities(k: Knobs, rng: np.random.Generator, offices: pd.DataFrame, members: list) -> pd.DataFrame:
    active = active_days(offices, k.days)
    kinds, p = _weights(sources.ACTIVITY_KINDS, ACTIVITY_KIND_WEIGHT)
    factors = np.array([calendar.activity_factor(d) for d in k.dates()])
    rows = []
    for o, office in enumerate(offices.itertuples()):
        weekly = office.level * (0.5 + 0.02 * min(len(members[o][0]), 200))  # activities in an ordinary week
        counts = rng.poisson(weekly * factors / 5.0)
        for day in np.flatnonzero(counts):
            if not active[o, day]:
                continue
            for _ in range(counts[day]):
                kind = kinds[rng.choice(len(kinds), p=p)]
                lead = _pick(rng, members[o], int(day), core=True)
                if lead is None:
                    continue
                wait = int(rng.integers(7, 31)) if kind in ("large_scale_event", "training") else int(rng.integers(0,
                                                                                                                  15))
                rows.append((o, kind, lead, int(day), int(rng.integers(8 * 3600, 18 * 3600)), int(day) + wait,
                             int(rng.choice([9, 10, 14, 15, 16, 19, 20])) * 3600 + int(rng.choice([0, 1800]))))
    frame = pd.DataFrame(rows, columns=["office", "kind", "creator", "created_day", "created_s", "held_day",
                                        "held_s"])
    frame = frame.sort_values(["created_day", "created_s", "office"], kind="stable").reset_index(drop=True)
    frame["activity_id"] = [f"ACT{(k.start + dt.timedelta(days=int(d))):%Y%m%d}{i:05d}" for d, i in
                            zip(frame["created_day"], frame.groupby("created_day").cumcount() + 1, strict=True)]
    return frame


def _weights(codes_: tuple[str, ...], weight: dict[str, float]) -> tuple[list[str], np.ndarray]:
    """The seed's codes with their weights (a code added to the seed later gets a small share)."""
    w = np.array([weight.get(c, 0.03) for c in codes_])
    return list(codes_), w / w.sum()


def _pick(rng: np.random.Generator, members: tuple, day: int, core: bool = False) -> int | None:
    here = _present(members, day) & (members[3] if core else True)
    if not here.any():
        here = _present(members, day)
    idx = np.flatnonzero(here)
    return int(members[0][idx[rng.integers(len(idx))]]) if len(idx) else None


def _resources(k: Knobs, rng: np.random.Generator, offices: pd.DataFrame, members: list) -> pd.DataFrame:
    active = active_days(offices, k.days)
    kinds, p = _weights(sources.RESOURCE_KINDS, RESOURCE_KIND_WEIGHT)
    factors = np.array([calendar.activity_factor(d) for d in k.dates()])
    rows = []
    for o, office in enumerate(offices.itertuples()):
        rate = office.level * 0.004 * len(members[o][0])
        counts = rng.poisson(rate * factors)
        for day in np.flatnonzero(counts):
            if not active[o, day]:
                continue
            for _ in range(counts[day]):
                who = _pick(rng, members[o], int(day), core=rng.random() < 0.5)
                if who is not None:
                    rows.append((int(day), o, who, kinds[rng.choice(len(kinds), p=p)],
                                 int(rng.integers(8 * 3600, 23 * 3600))))
    return pd.DataFrame(rows, columns=["day", "office", "actor", "kind", "s"])


def _membership_events(k: Knobs, ref: Reference, index: dict[str, int]) -> pd.DataFrame:
    m = ref.members
    offices = {v: i for i, v in enumerate(ref.vtros["vtro_id"])}
    joins = m[np.array([k.start <= d for d in m["joined_on"]], bool) & m["left_on"].isna().to_numpy()]
    leaves = m[m["left_on"].notna()]
    rows = [((d - k.start).days, 9 * 3600 + (hash_s(t) % 36000), index[t], offices[v], "member_joined", v)
            for v, t, d in zip(joins["vtro_id"], joins["teacher_id"], joins["joined_on"], strict=True)]
    rows += [((d - k.start).days, 9 * 3600 + (hash_s(t) % 36000), index[t], offices[v], "member_left", v)
             for v, t, d in zip(leaves["vtro_id"], leaves["teacher_id"], leaves["left_on"], strict=True)]
    frame = pd.DataFrame(rows, columns=["day", "s", "actor", "office", "type", "object_id"])
    return frame.assign(attr_key="", attr_value="")


def hash_s(text: str) -> int:
    """A stable pseudo-random number from a string (Python's hash() is salted per process)."""
    return zlib.crc32(text.encode())


def _lesson_events(k: Knobs, rng: np.random.Generator, lessons: pd.DataFrame, submissions: pd.DataFrame,
                   index: dict[str, int]) -> pd.DataFrame:
    """Scorings from the rubric plan, the observations before them, and colleagues watching lesson videos."""
    subs = submissions
    local = pd.to_datetime(subs["scored_at"])
    day = np.array([(d - k.start).days for d in local.dt.date])
    secs = (local.dt.hour * 3600 + local.dt.minute * 60 + local.dt.second).to_numpy()
    actor = subs["observer_id"].map(index).to_numpy()
    scored = pd.DataFrame({"day": day, "s": secs, "actor": actor, "office": -1, "type": "lesson_scored",
                           "object_id": subs["lesson_id"].to_numpy(), "attr_key": "rubric_id",
                           "attr_value": subs["rubric_id"].to_numpy()})
    first = subs.drop_duplicates(["lesson_id", "observer_id"])
    start = pd.to_datetime(first["lesson_date"].astype(str) + " " + first["start_time"])
    lesson_day = np.array([(d - k.start).days for d in first["lesson_date"]])
    live = pd.to_datetime(first["scored_at"]).dt.date.to_numpy() == first["lesson_date"].to_numpy()
    obs_s = np.where(live, (start.dt.hour * 3600 + start.dt.minute * 60).to_numpy() + rng.integers(0, 300, len(first)),
                     np.maximum(0, secs[first.index.to_numpy()] - rng.integers(600, 3600, len(first))))
    obs_day = np.where(live, lesson_day, day[first.index.to_numpy()])
    observed = pd.DataFrame({"day": obs_day, "s": obs_s, "actor": first["observer_id"].map(index).to_numpy(),
                             "office": -1, "type": "lesson_observed", "object_id": first["lesson_id"].to_numpy(),
                             "attr_key": "", "attr_value": ""})
    return pd.concat([scored, observed, _video_views(k, rng, lessons, index)], ignore_index=True)


def _video_views(k: Knobs, rng: np.random.Generator, lessons: pd.DataFrame, index: dict[str, int]) -> pd.DataFrame:
    """Colleagues of the same school watching a lesson's video within a week (no score)."""
    pairs = lessons[["school_id", "teacher_id"]].drop_duplicates().sort_values(["school_id", "teacher_id"])
    school_codes, schools = pd.factorize(pairs["school_id"], sort=True)
    start = np.searchsorted(school_codes, np.arange(len(schools)))
    count = np.bincount(school_codes, minlength=len(schools))
    views = rng.poisson(0.8, len(lessons))
    lesson = np.repeat(np.arange(len(lessons)), views)
    school = schools.get_indexer(lessons["school_id"].to_numpy()[lesson])
    viewer = pairs["teacher_id"].to_numpy()[start[school] + (rng.random(len(lesson)) * count[school]).astype(int)]
    own = viewer == lessons["teacher_id"].to_numpy()[lesson]
    days = np.array([(d - k.start).days for d in lessons["lesson_date"]], dtype=np.int64)[lesson]
    frame = pd.DataFrame({"day": days + rng.integers(0, 8, len(lesson)),
                          "s": rng.integers(12 * 3600, 23 * 3600, len(lesson)),
                          "actor": [index[t] for t in viewer], "office": -1, "type": "lesson_observed",
                          "object_id": lessons["lesson_id"].to_numpy()[lesson], "attr_key": "", "attr_value": ""})
    return frame[~own]  # nobody watches their own lesson here


# --- one day's events ----------------------------------------------------------------------------
@dataclass
class Events:
    """One day's events, sorted by time; ids follow that order."""

    day: dt.date
    s: np.ndarray  # seconds after local midnight
    actor: np.ndarray
    office: np.ndarray  # -1 outside an office
    type: np.ndarray  # index into EVENT_TYPES
    object_id: pa.Array  # strings, null when none
    attr_key: pa.Array
    attr_value: pa.Array

    def __len__(self) -> int:
        return len(self.s)


def day_events(k: Knobs, p: Plan, day: dt.date, volume: int | None = None) -> Events:
    rng = stream(k.seed, "activity", "day", day.toordinal())
    d = p.day_of(day)
    target = int(p.volume[d]) if volume is None else volume
    parts = [_fixed_today(p, d), _created_today(p, d), _attended_today(rng, p, d), _published_today(p, d)]
    structured = pd.concat([x for x in parts if len(x)], ignore_index=True) if any(len(x) for x in parts) else \
        _empty()
    if len(structured) > target:  # a benchmark asking for fewer events than the plan holds: keep a sample
        structured = structured.iloc[np.sort(rng.choice(len(structured), target, replace=False))]
    fill = target - len(structured)
    posts = _posts(rng, p, d, round(fill * (1 - LOGIN_SHARE)))
    logins = _logins(rng, p, d, fill - len(posts))
    frame = pd.concat([x for x in (structured, posts, logins) if len(x)], ignore_index=True) if target else _empty()
    order = np.lexsort((np.arange(len(frame)), frame["s"].to_numpy()))
    frame = frame.iloc[order]
    return Events(day=day, s=frame["s"].to_numpy().astype(np.int64), actor=frame["actor"].to_numpy().astype(np.int64),
                  office=frame["office"].to_numpy().astype(np.int64),
                  type=np.array([_TYPE[t] for t in frame["type"]], dtype=np.int64),
                  object_id=_nullable(frame["object_id"]), attr_key=_nullable(frame["attr_key"]),
                  attr_value=_nullable(frame["attr_value"]))


_COLUMNS = ["s", "actor", "office", "type", "object_id", "attr_key", "attr_value"]


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object if c in ("type", "object_id", "attr_key", "attr_value") else int)
                         for c in _COLUMNS})


def _nullable(values: pd.Series) -> pa.Array:
    """Strings with "" meaning absent."""
    arr = pa.array(values.to_numpy(dtype=object), pa.string(), from_pandas=True)
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)


def _fixed_today(p: Plan, d: int) -> pd.DataFrame:
    return p.fixed.loc[p.fixed["day"] == d, _COLUMNS]


def _created_today(p: Plan, d: int) -> pd.DataFrame:
    a = p.activities[p.activities["created_day"] == d]
    return pd.DataFrame({"s": a["created_s"], "actor": a["creator"], "office": a["office"], "type": "activity_created",
                         "object_id": a["activity_id"], "attr_key": "kind", "attr_value": a["kind"]})


def _attended_today(rng: np.random.Generator, p: Plan, d: int) -> pd.DataFrame:
    """Attendance: a share of the office's members, guests from other universities for big events."""
    held = p.activities[p.activities["held_day"] == d]
    frames = []
    for row in held.itertuples():
        members = p.members[row.office]
        here = members[0][_present(members, d)]
        share = ATTEND_SHARE.get(row.kind, 0.25)
        who = here[rng.random(len(here)) < share]
        lo, hi = EXTERNAL.get(row.kind, (2, 10) if rng.random() < CROSS_UNIVERSITY_RATE else (0, 0))
        guests = _guests(rng, p, row.office, d, int(rng.integers(lo, hi + 1)) if hi else 0)
        who = np.unique(np.concatenate([who, guests]))
        if len(who):
            frames.append(pd.DataFrame({"s": row.held_s + rng.integers(-600, 900, len(who)), "actor": who,
                                        "office": row.office, "type": "activity_attended",
                                        "object_id": row.activity_id, "attr_key": "kind", "attr_value": row.kind}))
    return pd.concat(frames, ignore_index=True) if frames else _empty()


def _guests(rng: np.random.Generator, p: Plan, office: int, d: int, n: int) -> np.ndarray:
    """Members of other offices (mostly other universities): cross-university participation."""
    if n == 0:
        return np.zeros(0, np.int64)
    others = rng.choice(len(p.members), n)
    out = []
    for o in others[others != office]:
        member = _pick(rng, p.members[o], d)
        if member is not None:
            out.append(member)
    return np.array(out, np.int64)


def _published_today(p: Plan, d: int) -> pd.DataFrame:
    r = p.resources[p.resources["day"] == d]
    ids = [f"RES{p.start + dt.timedelta(days=d):%Y%m%d}{i + 1:05d}" for i in range(len(r))]
    return pd.DataFrame({"s": r["s"], "actor": r["actor"], "office": r["office"], "type": "resource_published",
                         "object_id": ids, "attr_key": "kind", "attr_value": r["kind"]})


def _posts(rng: np.random.Generator, p: Plan, d: int, n: int) -> pd.DataFrame:
    """Posts in the threads of recent activities of active offices (or the office's general thread)."""
    live = active_days(p.offices, d + 1)[:, d]
    if n <= 0 or not live.any():
        return _empty()
    level = np.where(live, p.offices["level"].to_numpy(), 0.0)
    office = np.sort(rng.choice(len(level), n, p=level / level.sum()))
    recent = p.activities[(p.activities["held_day"] <= d) & (p.activities["held_day"] > d - 14)]
    threads = recent.groupby("office")["activity_id"].apply(list).to_dict()
    actor = np.empty(n, np.int64)
    thread = np.empty(n, object)
    for o in np.unique(office):
        idx = np.flatnonzero(office == o)
        here = p.members[o][0][_present(p.members[o], d)]
        actor[idx] = here[rng.integers(0, len(here), len(idx))] if len(here) else p.members[o][0][0]
        options = [f"DSC-{a}" for a in threads.get(o, [])] + [f"DSC-{p.vtro_ids[o]}-GEN"]
        thread[idx] = np.array(options, object)[rng.integers(0, len(options), len(idx))]
    return pd.DataFrame({"s": _daytime(rng, n), "actor": actor, "office": office, "type": "discussion_posted",
                         "object_id": thread, "attr_key": "", "attr_value": ""})


def _logins(rng: np.random.Generator, p: Plan, d: int, n: int) -> pd.DataFrame:
    if n <= 0:
        return _empty()
    weight = np.where(p.actor_from <= d, p.actor_weight, 0.0)
    actor = rng.choice(len(weight), n, p=weight / weight.sum())
    client = np.array(["web", "app", "mini_program"])[rng.choice(3, n, p=[0.45, 0.35, 0.2])]
    return pd.DataFrame({"s": _daytime(rng, n), "actor": actor, "office": -1, "type": "logged_in", "object_id": "",
                         "attr_key": "client", "attr_value": client})


def _daytime(rng: np.random.Generator, n: int) -> np.ndarray:
    """Seconds after midnight: mornings, afternoons and evenings, a little at night."""
    windows = np.array([[8 * 3600, 11.5 * 3600], [14 * 3600, 17.5 * 3600], [19.5 * 3600, 22.75 * 3600],
                        [0, 24 * 3600 - 1]])
    pick = rng.choice(4, n, p=[0.35, 0.3, 0.3, 0.05])
    return rng.integers(windows[pick, 0].astype(np.int64), windows[pick, 1].astype(np.int64))


# --- encoding --------------------------------------------------------------------------------------
def event_ids(day: dt.date, n: int) -> pa.Array:
    seq = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 7, "0")
    return pc.binary_join_element_wise(f"E{day:%Y%m%d}", seq, "")


@cache
def _clock() -> pa.Array:
    """"HH:MM:SS" for every second of a day, so a day's timestamps are one take."""
    return pa.array([f"{h:02d}:{m:02d}:{s:02d}" for h in range(24) for m in range(60) for s in range(60)])


def timestamps(day: dt.date, seconds: np.ndarray) -> pa.Array:
    """ISO 8601 local times with the +08:00 offset (seconds after local midnight of ``day``)."""
    clock = _clock().take(pa.array(np.clip(seconds, 0, 86_399)))
    return pc.binary_join_element_wise(f"{day.isoformat()}T", clock, "+08:00", "")


def encode(ev: Events, ids: pa.Array, actors: np.ndarray, vtro_ids: np.ndarray) -> pa.Array:
    """One JSON object per event, as strings ending in a newline (ids are plain ASCII, nothing to escape)."""
    member = _strings(actors).take(pa.array(ev.actor))
    office = _strings(vtro_ids).take(pa.array(np.where(ev.office < 0, len(vtro_ids), ev.office)))
    etype = pa.array(EVENT_TYPES, pa.string()).take(pa.array(ev.type))
    return _join(
        '{"event_id":"', ids, '","ts":"', timestamps(ev.day, ev.s), '","member_id":"', member, '"',
        _optional(',"vtro_id":"', office, '"'), ',"event_type":"', etype, '"',
        _optional(',"object_id":"', ev.object_id, '"'),
        _optional(',"attrs":{"', ev.attr_key, ""), _optional('":"', ev.attr_value, '"}'), "}\n",
    )


_STRINGS: dict[int, tuple[np.ndarray, pa.Array]] = {}


def _strings(values: np.ndarray) -> pa.Array:
    """``values`` as an Arrow array with a null after the last, converted once per array."""
    hit = _STRINGS.get(id(values))
    if hit is None or hit[0] is not values:
        hit = (values, pa.array([*list(values), None], pa.string()))
        _STRINGS[id(values)] = hit
    return hit[1]


def _optional(before: str, values: pa.Array, after: str) -> pa.Array:
    return pc.fill_null(pc.binary_join_element_wise(before, values, after, ""), "")


def _join(*pieces: str | pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(*pieces, "")


def lines_bytes(lines: pa.Array) -> bytes:
    """The concatenated lines of a string array, without a Python string per line."""
    lines = lines.cast(pa.large_string()) if not isinstance(lines, pa.LargeStringArray) else lines
    if len(lines) == 0:
        return b""
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)[lines.offset: lines.offset + len(lines) + 1]
    return bytes(memoryview(lines.buffers()[2])[offsets[0]: offsets[-1]])


# --- delivery: late events, duplicates, broken lines ----------------------------------------------------
@dataclass
class Deferred:
    """A line that arrives in a later day's folder (late event or a repeat of one delivered earlier)."""

    arrival: dt.date
    kind: str  # "late" | "duplicate"
    event_id: str
    event_date: dt.date
    line: bytes


@dataclass
class Delivery:
    parts: list[bytes]  # the day's own files, uncompressed (one per PART_LINES lines)
    defects: list[dict]  # truth rows for the defects placed in these parts
    deferred: list[Deferred]
    n_events: int


def deliver(k: Knobs, ev: Events, lines: pa.Array, ids: pa.Array, defects: bool = True) -> Delivery:
    """Place the day's lines: most in today's files, some late, some twice, a few broken (and so lost)."""
    rng = stream(k.seed, "activity", "delivery", ev.day.toordinal())
    n = len(lines)
    kind = np.zeros(n, np.int8)  # 0 on time, 1 late, 2 duplicated, 3 broken
    if defects and n:
        u = rng.random(n)
        kind = np.select([u < LATE_RATE, u < LATE_RATE + DUPLICATE_RATE,
                          u < LATE_RATE + DUPLICATE_RATE + BROKEN_RATE], [1, 2, 3], 0).astype(np.int8)
    days_left = (k.end - ev.day).days
    late_by = np.minimum(rng.geometric(0.45, n), 7)
    kind[(kind == 1) & (late_by > days_left)] = 0  # nothing arrives after the world's last night
    dup_later = (rng.random(n) < 0.5) & (np.minimum(rng.integers(1, 4, n), 3) <= days_left)
    dup_by = np.minimum(rng.integers(1, 4, n), max(days_left, 1))
    deferred: list[Deferred] = []
    for i in np.flatnonzero(kind == 1):
        deferred.append(Deferred(ev.day + dt.timedelta(days=int(late_by[i])), "late", ids[i].as_py(), ev.day,
                                 lines[i].as_py().encode()))
    for i in np.flatnonzero((kind == 2) & dup_later):
        deferred.append(Deferred(ev.day + dt.timedelta(days=int(dup_by[i])), "duplicate", ids[i].as_py(), ev.day,
                                 lines[i].as_py().encode()))
    order, is_copy = _file_order(rng, kind, dup_later)
    sequence = _break_lines(rng, lines, kind, ids).take(pa.array(order))
    parts = [lines_bytes(sequence.slice(start, PART_LINES)) for start in range(0, max(len(order), 1), PART_LINES)]
    truth = []
    for position in np.flatnonzero((kind[order] == 3) | is_copy):
        i = order[position]
        name = part_name(ev.day, "events", int(position // PART_LINES))
        line = int(position % PART_LINES) + 1
        if kind[i] == 3:
            truth.append(_defect_row("broken", ids[i].as_py(), ev.day, ev.day, name, line, BROKEN_KINDS[i % 5]))
        else:
            truth.append(_defect_row("duplicate", ids[i].as_py(), ev.day, ev.day, name, line, "same file"))
    return Delivery(parts, truth, deferred, n)


def _file_order(rng: np.random.Generator, kind: np.ndarray, dup_later: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices in file order: on-time lines by time, each same-file repeat somewhere after its original."""
    keep = np.flatnonzero(kind != 1)
    repeat = np.flatnonzero((kind == 2) & ~dup_later)
    n = len(kind)
    keys = np.concatenate([keep.astype(float), repeat + rng.random(len(repeat)) * (n - repeat) + 0.5])
    idx = np.concatenate([keep, repeat])
    copy = np.concatenate([np.zeros(len(keep), bool), np.ones(len(repeat), bool)])
    order = np.lexsort((copy, keys))
    return idx[order], copy[order]


def _break_lines(rng: np.random.Generator, lines: pa.Array, kind: np.ndarray, ids: pa.Array) -> pa.Array:
    """Replace the broken lines (kind 3) by one of five kinds of damage, chosen by index."""
    broken = np.flatnonzero(kind == 3)
    if not len(broken):
        return lines
    texts = [_damage(lines[i].as_py(), BROKEN_KINDS[i % 5], ids[i].as_py(), rng) for i in broken]
    mask = np.zeros(len(lines), bool)
    mask[broken] = True
    return pc.replace_with_mask(lines, pa.array(mask), pa.array(texts, lines.type))


def _damage(line: str, how: str, event_id: str, rng: np.random.Generator) -> str:
    body = line.rstrip("\n")
    if how == "truncated_json":
        return body[: int(rng.integers(12, len(body) - 2))] + "\n"
    if how == "not_an_object":
        return f'["{event_id}",{len(body)}]\n'
    if how == "missing_required_field":
        start = body.index(',"member_id":"')
        end = body.index('"', start + len(',"member_id":"')) + 1
        return body[:start] + body[end:] + "\n"
    if how == "bad_timestamp":
        return body.replace("+08:00", "", 1) + "\n"
    return body.replace('"event_type":"', '"event_type":"page_viewed_', 1) + "\n"  # unknown_event_type


def _defect_row(kind: str, event_id: str, event_date: dt.date, arrival: dt.date, file: str, line: int,
                detail: str) -> dict:
    return {"kind": kind, "event_id": event_id, "event_date": event_date.isoformat(),
            "arrival_date": arrival.isoformat(), "file": file, "line": line, "detail": detail}


def part_name(day: dt.date, stem: str, index: int) -> str:
    """Path of an activity part relative to the landing root."""
    return f"{day.isoformat()}/activity/{stem}-{index:03d}.jsonl.gz"


def late_file(arrival: dt.date, items: list[Deferred]) -> tuple[list[bytes], list[dict]]:
    """The day's file of lines that arrive late: events of earlier days and repeats, oldest first."""
    items = sorted(items, key=lambda x: (x.event_date, x.event_id, x.kind))
    parts, truth = [], []
    for p_i, start in enumerate(range(0, len(items), PART_LINES)):
        chunk = items[start: start + PART_LINES]
        parts.append(b"".join(x.line for x in chunk))
        name = part_name(arrival, "late", p_i)
        truth += [_defect_row(x.kind, x.event_id, x.event_date, arrival, name, j + 1,
                              f"{(arrival - x.event_date).days} day(s) later")
                  for j, x in enumerate(chunk)]
    return parts, truth


def gzip_bytes(data: bytes) -> bytes:
    """Gzip with mtime 0 and no file name, so the same lines give the same bytes; level 1 because a
    region-scale log is hundreds of megabytes a night and level 6 costs 3x the time for ~20 % less."""
    return gzip.compress(data, compresslevel=1, mtime=0)
