"""Every source of a nightly batch, and the behaviour codes inference writes.

A batch folder (``<landing>/<YYYY-MM-DD>/``) holds the files below; any may be absent
on a given night. Code lists (subjects, kinds, roles, titles, …) are read from the
warehouse seeds through :mod:`jiaoyan.codes`, so the contract and the warehouse allow
the same codes.
"""

from __future__ import annotations

import pyarrow as pa

from jiaoyan import codes
from jiaoyan.contracts.model import ID_PATTERN, Contract, Field

SUBJECTS = codes.seed_codes("subjects")
ACTIVITY_KINDS = codes.seed_codes("activity_kinds")
RESOURCE_KINDS = codes.seed_codes("resource_kinds")
EVENT_TYPES = codes.seed_codes("event_types")
OBSERVER_ROLES = codes.seed_codes("observer_roles")
TITLES = codes.seed_codes("teacher_titles")
VTRO_SCOPES = codes.seed_codes("vtro_scopes")
VTRO_CONTENT_TYPES = codes.seed_codes("vtro_content_types")
REGION_GROUPS = ("east", "central", "western")
SCHOOL_STAGES = ("primary", "junior_secondary", "senior_secondary")
RUBRIC_KINDS = ("teaching_design", "classroom_teaching")
SHARE_SUM_TOLERANCE = 0.01  # student shares of a point must sum to 1 within this

STR = pa.string()
TS = pa.timestamp("us", tz="UTC")


def _id(name: str, description: str, required: bool = True) -> Field:
    return Field(name, STR, description, required=required, pattern=ID_PATTERN)


REGIONS = Contract(
    name="regions",
    description="Administrative divisions: province → city → district, with GB/T 2260 codes.",
    location="reference/regions.csv",
    format="csv",
    key=("region_code",),
    fields=(
        Field("region_code", STR, "6-digit administrative division code (GB/T 2260), e.g. 440106", pattern=r"^\d{6}$"),
        Field("region_name", STR, "official name, e.g. 天河区"),
        Field("level", STR, "level in the hierarchy", allowed=("province", "city", "district")),
        Field("parent_code", STR, "code of the enclosing region; empty for provinces", required=False,
              pattern=r"^\d{6}$"),
    ),
    notes=("A province's code ends in 0000, a city's in 00; a district's first four digits are its city's.",),
)

SCHOOLS = Contract(
    name="schools",
    description="Primary and secondary schools whose teachers are analysed.",
    location="reference/schools.csv",
    format="csv",
    key=("school_id", "valid_from"),
    fields=(
        _id("school_id", "school identifier"),
        Field("school_name", STR, "name of the school"),
        Field("district_code", STR, "the district (region_code) the school is in", pattern=r"^\d{6}$"),
        Field("urban_rural", STR, "urban or rural location", allowed=("urban", "rural")),
        Field("is_weak", pa.bool_(), "a 'weak school' (薄弱学校) receiving targeted support"),
        Field("stage", STR, "school stage", allowed=SCHOOL_STAGES),
        Field("valid_from", pa.date32(), "date from which this row describes the school"),
    ),
)

UNIVERSITIES = Contract(
    name="universities",
    description="Universities hosting virtual teaching-research offices (VTROs).",
    location="reference/universities.csv",
    format="csv",
    key=("university_id",),
    fields=(
        _id("university_id", "university identifier"),
        Field("university_name", STR, "name of the university"),
        Field("province_code", STR, "province (region_code) of the main campus", pattern=r"^\d{6}$"),
        Field("region_group", STR, "east / central / western grouping of its province", allowed=REGION_GROUPS),
    ),
)

TEACHERS = Contract(
    name="teachers",
    description="Teachers: school teachers (analysed lessons, portraits) and university teachers (VTRO members). "
    "A teacher who changes school or title gets a new row with a later valid_from.",
    location="reference/teachers.csv",
    format="csv",
    key=("teacher_id", "valid_from"),
    fields=(
        _id("teacher_id", "teacher identifier, also the member id in activity logs"),
        Field("teacher_name", STR, "personal name — personal data, pseudonymised outside the teacher's own view"),
        Field("gender", STR, "gender", allowed=("F", "M")),
        Field("birth_year", pa.int16(), "year of birth — personal data", min=1940, max=2010),
        Field("title", STR, "professional title (职称)", allowed=TITLES),
        Field("subject", STR, "main subject taught; empty for university teachers", required=False, allowed=SUBJECTS),
        Field("grade", pa.int8(), "grade taught (1–12); empty for university teachers", required=False, min=1, max=12),
        _id("school_id", "school of a school teacher; empty for university teachers", required=False),
        _id("university_id", "university of a university teacher; empty for school teachers", required=False),
        Field("valid_from", pa.date32(), "date from which this row describes the teacher"),
    ),
    notes=("Exactly one of school_id and university_id is set.",),
)

VTROS = Contract(
    name="vtros",
    description="Virtual teaching-research offices (虚拟教研室).",
    location="reference/vtros.csv",
    format="csv",
    key=("vtro_id",),
    fields=(
        _id("vtro_id", "office identifier"),
        Field("vtro_name", STR, "name of the office"),
        _id("university_id", "host university"),
        Field("scope", STR, "scope of the office", allowed=VTRO_SCOPES),
        Field("content_type", STR, "content type of the office", allowed=VTRO_CONTENT_TYPES),
        _id("leader_teacher_id", "the office's leader (a renowned teacher)"),
        Field("founded_on", pa.date32(), "date the office was approved"),
        Field("pilot_batch", pa.int8(), "pilot batch the office belongs to", min=1, max=9),
    ),
)

VTRO_MEMBERS = Contract(
    name="vtro_members",
    description="Membership of teachers in offices, with when they joined and left.",
    location="reference/vtro_members.csv",
    format="csv",
    key=("vtro_id", "teacher_id", "joined_on"),
    fields=(
        _id("vtro_id", "office"),
        _id("teacher_id", "member"),
        Field("role", STR, "role in the office", allowed=("leader", "core", "member")),
        Field("joined_on", pa.date32(), "date the teacher joined"),
        Field("left_on", pa.date32(), "date the teacher left; empty while a member", required=False),
    ),
)

LESSON_MANIFEST = Contract(
    name="lesson_manifest",
    description="Lessons recorded that day, with where their video is.",
    location="lessons/manifest.csv",
    format="csv",
    key=("lesson_id",),
    fields=(
        _id("lesson_id", "lesson identifier"),
        _id("teacher_id", "teacher giving the lesson"),
        _id("school_id", "school where the lesson was given"),
        Field("subject", STR, "subject of the lesson", allowed=SUBJECTS),
        Field("grade", pa.int8(), "grade of the class", min=1, max=12),
        Field("lesson_date", pa.date32(), "date of the lesson"),
        Field("start_time", STR, "local start time HH:MM:SS (China Standard Time)",
              pattern=r"^([01]\d|2[0-3]):[0-5]\d:[0-5]\d$"),
        Field("video_uri", STR, "video location, relative to the batch folder or any fsspec URI; empty when the "
              "lesson arrives already coded (behaviour_codes/)", required=False),
        Field("class_size", pa.int16(), "students enrolled in the class", required=False, min=1, max=120),
        Field("duration_s", pa.float64(), "recorded duration in seconds, when the recorder reports it",
              required=False, min=0, max=4 * 3600),
    ),
)

RUBRIC_INDICATORS = Contract(
    name="rubric_indicators",
    description="Rubric indicator trees, flattened from rubrics/rubrics.json (one row per indicator).",
    location="rubrics/rubrics.json",
    format="json",
    key=("rubric_id", "indicator_id"),
    fields=(
        _id("rubric_id", "rubric"),
        Field("rubric_name", STR, "name of the rubric"),
        Field("kind", STR, "teaching design (教学设计) or classroom teaching (课堂教学)", allowed=RUBRIC_KINDS),
        Field("version", pa.int16(), "version of the rubric", min=1),
        Field("published_on", pa.date32(), "date the rubric version was published"),
        Field("subject", STR, "subject the rubric is for; empty for all", required=False, allowed=SUBJECTS),
        Field("indicator_id", STR, "indicator identifier within the rubric", pattern=r"^[A-Za-z0-9_.-]{1,40}$"),
        Field("parent_id", STR, "parent indicator; empty at level 1", required=False),
        Field("level", pa.int8(), "1 = observation perspective, 2 = observation point, 3 = detail", min=1, max=3),
        Field("name", STR, "indicator text"),
        Field("position", pa.int16(), "order among siblings", min=1),
        Field("max_score", pa.float64(), "maximum score (leaves only)", required=False, min=0),
        Field("weight", pa.float64(), "weight in the roll-up (leaves only)", required=False, min=0),
    ),
    notes=("The JSON document is validated as a whole by jiaoyan.contracts.Rubric (tree shape, leaves carry "
           "max_score and weight, 2–3 levels, bands best first ending at 0).",),
)

RUBRIC_BANDS = Contract(
    name="rubric_bands",
    description="Each rubric's own level bands, flattened from rubrics/rubrics.json.",
    location="rubrics/rubrics.json",
    format="json",
    key=("rubric_id", "band"),
    fields=(
        _id("rubric_id", "rubric"),
        Field("band", STR, "band code, e.g. excellent"),
        Field("label_zh", STR, "band label, e.g. 优秀"),
        Field("min_ratio", pa.float64(), "lowest score/maximum ratio in the band, inclusive", min=0, max=1),
        Field("rank", pa.int8(), "1 = best band", min=1),
    ),
)

RUBRIC_SCORES = Contract(
    name="rubric_scores",
    description="Observers' scores of a lesson's rubric leaves, live or from the video, possibly days later.",
    location="rubric_scores/*.csv",
    format="csv",
    key=("lesson_id", "rubric_id", "indicator_id", "observer_id"),
    fields=(
        _id("lesson_id", "lesson scored"),
        _id("rubric_id", "rubric used"),
        Field("indicator_id", STR, "leaf indicator scored", pattern=r"^[A-Za-z0-9_.-]{1,40}$"),
        _id("observer_id", "teacher id of the observer"),
        Field("observer_role", STR, "the observer's role", allowed=OBSERVER_ROLES),
        Field("score", pa.float64(), "score given, between 0 and the indicator's max_score", min=0),
        Field("scored_at", TS, "when the score was given, ISO 8601 with UTC offset"),
    ),
    notes=("A later row for the same key (a corrected score) replaces the earlier one.",
           "The score must not exceed the indicator's max_score (checked against the rubric by the loader)."),
)

ACTIVITY_EVENTS = Contract(
    name="activity_events",
    description="Activity log of the teaching-research platform, JSON Lines, optionally gzip-compressed.",
    location="activity/*.jsonl*",
    format="jsonl",
    key=("event_id",),
    fields=(
        _id("event_id", "unique event id; the same event may be delivered more than once"),
        Field("ts", TS, "when the event happened, ISO 8601 with UTC offset; may be days before the batch date"),
        _id("member_id", "teacher id of the member who acted"),
        _id("vtro_id", "office the event belongs to; empty for events outside an office", required=False),
        Field("event_type", STR, "what happened", allowed=EVENT_TYPES),
        Field("object_id", STR, "the activity, resource, discussion, lesson or office acted on", required=False),
        Field("attrs", pa.map_(pa.string(), pa.string()), "further attributes; `kind` is required for activity and "
              "resource events (activity or resource kind)", required=False),
    ),
    notes=("Lines that are not JSON objects, or miss a required field, are quarantined with file and line number.",
           "Duplicated event ids are delivered; the first by ts is kept.",
           "Late events belong to the day they happened (ts, in China Standard Time), not the day they arrived."),
)

GOLD_CODES = Contract(
    name="gold_codes",
    description="Lessons coded by trained observers with the same 9 behaviours, for training and evaluation.",
    location="gold/*.csv",
    format="csv",
    key=("lesson_id", "point_index"),
    fields=(
        _id("lesson_id", "lesson coded (its video is in the lesson manifest)"),
        Field("point_index", pa.int32(), "6-second point, 0-based", min=0),
        Field("teacher_behaviour", STR, "the teacher's behaviour at the point", allowed=codes.teacher_codes()),
        *(Field(col, pa.float32(), f"share of students {code.replace('_', ' ')}", min=0, max=1)
          for col, code in zip(codes.share_columns(), codes.student_codes(), strict=True)),
        _id("coder_id", "observer who coded the lesson"),
        Field("coded_at", TS, "when the coding was finished"),
    ),
    notes=("The five shares of a point sum to 1 (within 0.01).",),
)

BEHAVIOUR_CODES = Contract(
    name="behaviour_codes",
    description="Machine behaviour codes, one row per 6-second point: what inference writes (and what a batch "
    "carries for lessons that arrive already coded).",
    location="behaviour_codes/*.parquet",
    format="parquet",
    key=("lesson_id", "model_name", "model_version", "point_index"),
    fields=(
        _id("lesson_id", "lesson coded"),
        Field("point_index", pa.int32(), "6-second point, 0-based", min=0),
        Field("t_start_s", pa.float64(), "start of the point's window in seconds from the lesson start", min=0),
        Field("teacher_behaviour", STR, "predicted teacher behaviour", allowed=codes.teacher_codes()),
        Field("teacher_prob", pa.float32(), "the model's probability of that behaviour", min=0, max=1),
        *(Field(col, pa.float32(), f"predicted share of students {code.replace('_', ' ')}", min=0, max=1)
          for col, code in zip(codes.share_columns(), codes.student_codes(), strict=True)),
        Field("students_seen", pa.int16(), "students detected at the point", min=0),
        Field("st_code", STR, "S or T point for S-T analysis (mapping in dbt/seeds/behaviour_codes.csv)",
              allowed=("S", "T")),
        Field("model_name", STR, "model that produced the codes"),
        Field("model_version", STR, "registry version of that model"),
        Field("audio_present", pa.bool_(), "whether audio features were available for the point"),
    ),
    notes=("The five shares of a point sum to 1 (within 0.01).",
           "Points of a lesson are contiguous from 0 to n-1 where n = floor(duration / 6)."),
)

LESSON_RUNS = Contract(
    name="lesson_runs",
    description="One row per lesson video inference tried: coded, or quarantined with the reason. Written by "
    "inference to the lake beside the behaviour codes.",
    location="lake: inference/<batch_id>/lesson_runs/*.parquet",
    format="parquet",
    key=("lesson_id", "model_name", "model_version"),
    fields=(
        _id("lesson_id", "lesson"),
        Field("model_name", STR, "model used"),
        Field("model_version", STR, "registry version of the model"),
        Field("status", STR, "outcome", allowed=("coded", "quarantined")),
        Field("reason", STR, "why the video was quarantined; empty when coded", required=False),
        Field("video_uri", STR, "video read"),
        Field("duration_s", pa.float64(), "duration found in the video", required=False, min=0),
        Field("n_points", pa.int32(), "6-second points coded (floor(duration / 6))", required=False, min=0),
        Field("fps", pa.float64(), "average frame rate", required=False, min=0),
        Field("width", pa.int32(), "frame width after rotation", required=False, min=0),
        Field("height", pa.int32(), "frame height after rotation", required=False, min=0),
        Field("audio_present", pa.bool_(), "whether the video has a usable audio track", required=False),
        Field("decode_seconds", pa.float64(), "time spent decoding", required=False, min=0),
        Field("total_seconds", pa.float64(), "time spent on the lesson", required=False, min=0),
    ),
)

REFERENCE_CONTRACTS = (REGIONS, SCHOOLS, UNIVERSITIES, TEACHERS, VTROS, VTRO_MEMBERS)
ALL_CONTRACTS = (
    *REFERENCE_CONTRACTS,
    LESSON_MANIFEST,
    RUBRIC_INDICATORS,
    RUBRIC_BANDS,
    RUBRIC_SCORES,
    ACTIVITY_EVENTS,
    GOLD_CODES,
    BEHAVIOUR_CODES,
    LESSON_RUNS,
)


def by_name(name: str) -> Contract:
    for contract in ALL_CONTRACTS:
        if contract.name == name:
            return contract
    raise KeyError(f"no contract named {name!r}; known: {', '.join(c.name for c in ALL_CONTRACTS)}")
