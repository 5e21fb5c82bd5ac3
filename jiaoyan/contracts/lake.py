"""Contracts of the datasets the Spark activity job writes to the lake.

Each dataset lives at ``<lake>/activity/<name>/event_date=<YYYY-MM-DD>/*.parquet``
(:func:`jiaoyan.lake.activity_dataset_dir`). Spark keeps the partition value out of
the data files, so every dataset also carries it as an ordinary column, ``fact_date``
(equal to the ``event_date`` folder), and each Parquet file is complete on its own:
the loader can read and conform files one by one against these contracts.

A run rewrites whole partitions, never single rows: ``activity/_runs/<batch_id>.json``
lists, per dataset, the partitions it rewrote (``partitions``) and removed, so the
warehouse replaces exactly those ``fact_date`` values (delete, then load) and nothing
else. Days are China Standard Time (the day an event happened, not the day it arrived).

Allowed values come from the seeds, through :mod:`jiaoyan.contracts.sources`.
"""

from __future__ import annotations

import pyarrow as pa

from jiaoyan import codes
from jiaoyan.contracts.model import ID_PATTERN, Contract, Field
from jiaoyan.contracts.sources import ACTIVITY_KINDS, EVENT_TYPES, RESOURCE_KINDS

STR = pa.string()
TS = pa.timestamp("us", tz="UTC")
DATE = pa.date32()
COUNT = pa.int32()
PARTITION_COLUMN = "event_date"  # the folder name; its value is the data column FACT_DATE
FACT_DATE = "fact_date"

# Event types whose attrs.kind is required, and the union of the kinds they allow (from the seed).
KIND_EVENT_TYPES = tuple(row["code"] for row in codes.seed_rows("event_types") if row["needs_kind"] == "true")
ALL_KINDS = tuple(dict.fromkeys((*ACTIVITY_KINDS, *RESOURCE_KINDS)))
# Research actions: event types that act on an activity, resource, discussion or lesson
# (the seed's `object` column) — not joining, leaving or logging in.
RESEARCH_OBJECTS = ("activity", "resource", "discussion", "lesson")
RESEARCH_EVENT_TYPES = tuple(row["code"] for row in codes.seed_rows("event_types")
                             if row["object"] in RESEARCH_OBJECTS)


def _id(name: str, description: str, required: bool = True) -> Field:
    return Field(name, STR, description, required=required, pattern=ID_PATTERN)


def _count(name: str, description: str) -> Field:
    return Field(name, COUNT, description, min=0)


def _fact_date(meaning: str) -> Field:
    return Field(FACT_DATE, DATE, f"{meaning} (China Standard Time); equals the `{PARTITION_COLUMN}` partition")


def _location(name: str) -> str:
    return f"lake: activity/{name}/{PARTITION_COLUMN}=<YYYY-MM-DD>/*.parquet"


_REWRITE_NOTE = ("A run rewrites whole `fact_date` partitions; activity/_runs/<batch_id>.json lists them — "
                 "replace those days in the warehouse, nothing else.")

ACTIVITY_EVENTS_CLEAN = Contract(
    name="activity_events_clean",
    description="The activity log after validation and deduplication: one row per event id (the first "
    "occurrence by ts), filed under the day it happened. Also the job's deduplication state.",
    location=_location("activity_events_clean"),
    format="parquet",
    key=("event_id",),
    fields=(
        _fact_date("day the event happened"),
        _id("event_id", "event id, unique in the dataset"),
        Field("ts", TS, "when the event happened"),
        _id("member_id", "teacher id of the member who acted"),
        _id("vtro_id", "office the event belongs to; empty outside an office", required=False),
        Field("event_type", STR, "what happened", allowed=EVENT_TYPES),
        Field("object_id", STR, "the activity, resource, discussion, lesson or office acted on", required=False),
        Field("kind", STR, "attrs.kind: activity or resource kind (required for activity and resource events)",
              required=False),
        Field("attrs", pa.map_(pa.string(), pa.string()), "all attributes as delivered", required=False),
        Field("batch_id", STR, "batch that delivered the kept occurrence (its date, YYYY-MM-DD)"),
        Field("source_file", STR, "file of the kept occurrence, relative to its batch folder"),
        Field("line", pa.int64(), "line of the kept occurrence in that file, from 1", min=1),
    ),
    notes=("Late events: fact_date < batch_id. A duplicate delivered later (within the job's look-back "
           "window) is dropped; one with an earlier ts replaces the stored occurrence.", _REWRITE_NOTE),
)

MEMBER_DAY = Contract(
    name="member_day",
    description="One row per member and day with any event: what the member did on the platform that day.",
    location=_location("member_day"),
    format="parquet",
    key=("member_id", FACT_DATE),
    fields=(
        _fact_date("the day"),
        _id("member_id", "teacher id of the member"),
        _count("events", "events of the member that day"),
        _count("research_actions", "events acting on an activity, resource, discussion or lesson"),
        _count("activities_created", "activities created (any kind)"),
        _count("activities_attended", "activity attendances (any kind)"),
        _count("trainings_attended", "attendances of training activities (activity kinds flagged is_training)"),
        _count("resources_published", "resources published (any kind)"),
        _count("knowledge_graphs_published", "resources published whose kind is flagged is_knowledge_graph"),
        _count("discussions_posted", "discussion posts"),
        _count("lessons_observed", "lessons observed (peers' lessons)"),
        _count("lessons_scored", "lessons scored (peers' lessons)"),
        _count("logins", "logins"),
        _count("offices_active", "distinct offices the member acted in"),
        _count("sessions", "sessions (see member_sessions)"),
        Field("active_seconds", pa.float64(), "sum of the sessions' durations", min=0),
        Field("first_ts", TS, "first event of the day"),
        Field("last_ts", TS, "last event of the day"),
    ),
    notes=("Counts by activity or resource kind are in member_day_kinds.", _REWRITE_NOTE),
)

MEMBER_DAY_KINDS = Contract(
    name="member_day_kinds",
    description="Activities created or attended and resources published, by kind: one row per day, member, "
    "office, event type and kind. Sum over members for an office's counts by kind.",
    location=_location("member_day_kinds"),
    format="parquet",
    key=(FACT_DATE, "member_id", "vtro_id", "event_type", "kind"),
    fields=(
        _fact_date("the day"),
        _id("member_id", "teacher id of the member"),
        _id("vtro_id", "office; empty outside an office", required=False),
        Field("event_type", STR, "the event type", allowed=KIND_EVENT_TYPES),
        Field("kind", STR, "activity kind or resource kind (by event type, from the event_types seed)",
              allowed=ALL_KINDS),
        _count("events", "events"),
        _count("objects", "distinct activities or resources"),
    ),
    notes=(_REWRITE_NOTE,),
)

VTRO_DAY = Contract(
    name="vtro_day",
    description="One row per office and day with any event in the office.",
    location=_location("vtro_day"),
    format="parquet",
    key=("vtro_id", FACT_DATE),
    fields=(
        _fact_date("the day"),
        _id("vtro_id", "office"),
        _count("events", "events in the office"),
        _count("active_members", "distinct members with an event in the office"),
        _count("members_joined", "members who joined"),
        _count("members_left", "members who left"),
        _count("activities_created", "activities created"),
        _count("activities_attended", "activity attendances"),
        _count("activities_held", "distinct activities with an attendance that day"),
        _count("participants", "distinct members attending an activity"),
        _count("trainings_attended", "attendances of training activities"),
        _count("resources_published", "resources published"),
        _count("knowledge_graphs_published", "knowledge graphs published"),
        _count("discussions_posted", "discussion posts"),
        _count("lessons_observed", "lessons observed"),
        _count("lessons_scored", "lessons scored"),
    ),
    notes=(_REWRITE_NOTE,),
)

MEMBER_SESSIONS = Contract(
    name="member_sessions",
    description="Sessions: a member's consecutive events with no gap longer than the inactivity gap "
    "(JIAOYAN_SPARK_SESSION_GAP_MINUTES, default 30). A session never spans midnight (CST): each day is "
    "sessionised on its own, so a day can be rebuilt alone.",
    location=_location("member_sessions"),
    format="parquet",
    key=("member_id", "session_start"),
    fields=(
        _fact_date("day of the session"),
        _id("member_id", "teacher id of the member"),
        Field("session_no", COUNT, "1 for the member's first session of the day, 2 for the next, …", min=1),
        Field("session_start", TS, "first event of the session"),
        Field("session_end", TS, "last event of the session"),
        _count("events", "events in the session"),
        _count("research_actions", "research actions in the session"),
        Field("duration_seconds", pa.float64(), "session_end − session_start (0 for a single event)", min=0),
        Field("gap_minutes", pa.float64(), "inactivity gap the session was cut with", min=0),
    ),
    notes=(_REWRITE_NOTE,),
)

ACTIVITY_ATTENDANCE = Contract(
    name="activity_attendance",
    description="Who attended which activity on which day (one row per activity, member and day).",
    location=_location("activity_attendance"),
    format="parquet",
    key=("activity_id", "member_id", FACT_DATE),
    fields=(
        _fact_date("day of the attendance"),
        Field("activity_id", STR, "the activity (object_id of the event)"),
        _id("member_id", "attending member"),
        _id("vtro_id", "office of the first attendance event that day", required=False),
        Field("kind", STR, "activity kind of the first attendance event that day", allowed=ACTIVITY_KINDS),
        _count("attendances", "attendance events that day"),
        Field("first_ts", TS, "first attendance event that day"),
        Field("last_ts", TS, "last attendance event that day"),
    ),
    notes=(_REWRITE_NOTE,),
)

ACTIVITIES = Contract(
    name="activities",
    description="One row per activity, accumulated over every day it has events: kind, host office, creator, "
    "participants and their universities. Filed under the day of its earliest event; a late or later "
    "attendance rewrites that partition (listed in the run file).",
    location=_location("activities"),
    format="parquet",
    key=("activity_id",),
    fields=(
        _fact_date("day of the activity's earliest event (creation or attendance)"),
        Field("activity_id", STR, "the activity"),
        Field("kind", STR, "activity kind: from the creation event, else the most frequent attendance kind",
              allowed=ACTIVITY_KINDS),
        Field("is_training", pa.bool_(), "the kind is flagged is_training in the activity_kinds seed"),
        _id("host_vtro_id", "office of the creation event, else the most frequent office of its attendances",
            required=False),
        _id("creator_id", "member who created it; empty when the creation event was never seen", required=False),
        Field("created_at", TS, "ts of the creation event", required=False),
        Field("first_attended_at", TS, "first attendance", required=False),
        Field("last_attended_at", TS, "last attendance", required=False),
        _count("attendances", "attendance events, all days"),
        _count("participants", "distinct attending members"),
        _count("participant_universities", "distinct universities of the participants (university teachers; "
               "from reference/teachers.csv as of the attendance day)"),
        _count("participant_schools", "distinct schools of the participants (school teachers)"),
        Field("cross_university", pa.bool_(), "participants come from two or more universities"),
        Field("last_fact_date", DATE, "latest day with an event of the activity"),
    ),
    notes=(_REWRITE_NOTE,),
)

RESOURCES_PUBLISHED = Contract(
    name="resources_published",
    description="One row per resource-publication event (a resource published twice appears twice; count "
    "distinct resource_id for resources).",
    location=_location("resources_published"),
    format="parquet",
    key=("event_id",),
    fields=(
        _fact_date("day of publication"),
        _id("event_id", "the publication event"),
        Field("resource_id", STR, "the resource (object_id)", required=False),
        Field("kind", STR, "resource kind", allowed=RESOURCE_KINDS),
        Field("is_knowledge_graph", pa.bool_(), "the kind is flagged is_knowledge_graph in the resource_kinds seed"),
        _id("member_id", "publishing member"),
        _id("vtro_id", "office it was published in", required=False),
        Field("published_at", TS, "ts of the event"),
    ),
    notes=(_REWRITE_NOTE,),
)

RESEARCH_TRAJECTORY = Contract(
    name="research_trajectory",
    description="Each member's research actions (event types acting on an activity, resource, discussion or "
    "lesson) in time order, with the gap since the member's previous research action.",
    location=_location("research_trajectory"),
    format="parquet",
    key=("member_id", "event_id"),
    fields=(
        _fact_date("day of the action"),
        _id("member_id", "teacher id of the member"),
        _id("event_id", "the event"),
        Field("ts", TS, "when it happened"),
        Field("action", STR, "the event type", allowed=RESEARCH_EVENT_TYPES),
        Field("kind", STR, "activity or resource kind, when the action has one", required=False),
        _id("vtro_id", "office", required=False),
        Field("object_id", STR, "what was acted on", required=False),
        Field("prev_ts", TS, "the member's previous research action (ties broken by event_id)", required=False),
        Field("gap_days", pa.float64(), "(ts − prev_ts) in days; empty when no earlier action is within "
              "JIAOYAN_SPARK_TRAJECTORY_HISTORY_DAYS (default 400)", required=False, min=0),
    ),
    notes=("Order within a member: ts, then event_id.", _REWRITE_NOTE),
)

MEMBER_TERM_RESEARCH = Contract(
    name="member_term_research",
    description="Research engagement per member and term with the documented research-potential score "
    "(spark_jobs/activity/research.py; docs/metrics-ownership.md). A term's period runs from the day after "
    "the previous term ends to its own end (the holiday before a term counts towards it).",
    location=_location("member_term_research"),
    format="parquet",
    key=("member_id", "term_code"),
    fields=(
        _fact_date("first day of the term (term_start in the terms seed)"),
        Field("term_code", STR, "term (terms seed)"),
        _id("member_id", "teacher id of the member"),
        _count("actions", "research actions in the period"),
        _count("action_types", "distinct research event types used"),
        _count("activities_created", "activities created"),
        _count("activities_attended", "activity attendances"),
        _count("resources_published", "resources published"),
        _count("discussions_posted", "discussion posts"),
        _count("lessons_observed", "lessons observed"),
        _count("lessons_scored", "lessons scored"),
        _count("active_weeks", "distinct weeks (7-day steps from the period start) with an action"),
        Field("median_gap_days", pa.float64(), "median gap between consecutive research actions", required=False,
              min=0),
        Field("first_action_at", TS, "first research action in the period"),
        Field("last_action_at", TS, "last research action in the period"),
        Field("volume_score", pa.float64(), "component in [0, 1]", min=0, max=1),
        Field("breadth_score", pa.float64(), "component in [0, 1]", min=0, max=1),
        Field("contribution_score", pa.float64(), "component in [0, 1]", min=0, max=1),
        Field("continuity_score", pa.float64(), "component in [0, 1]", min=0, max=1),
        Field("research_potential", pa.float64(), "weighted sum of the components × 100", min=0, max=100),
        Field("computed_through", DATE, "last day of the period included so far (the term may be running)"),
    ),
    notes=("Rows exist only for members with at least one research action in the period.", _REWRITE_NOTE),
)

LAKE_CONTRACTS = (
    ACTIVITY_EVENTS_CLEAN,
    MEMBER_DAY,
    MEMBER_DAY_KINDS,
    VTRO_DAY,
    MEMBER_SESSIONS,
    ACTIVITY_ATTENDANCE,
    ACTIVITIES,
    RESOURCES_PUBLISHED,
    RESEARCH_TRAJECTORY,
    MEMBER_TERM_RESEARCH,
)


def lake_by_name(name: str) -> Contract:
    for contract in LAKE_CONTRACTS:
        if contract.name == name:
            return contract
    raise KeyError(f"no lake contract named {name!r}; known: {', '.join(c.name for c in LAKE_CONTRACTS)}")
