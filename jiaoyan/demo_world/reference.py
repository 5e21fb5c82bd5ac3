"""Reference data: regions, schools, universities, teachers, offices (VTROs) and membership.

Every table keeps its full history with a ``delivered_on`` column, the night the row
arrives: the first night carries a snapshot (the version valid that day), later nights
only rows that changed or are new (a teacher's new title or school, new hires, a
school that stops being weak, new offices, members joining or leaving — a leave is the
membership row again with ``left_on`` set).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from jiaoyan import codes
from jiaoyan.contracts import sources
from jiaoyan.demo_world import names
from jiaoyan.demo_world.randomness import stream
from jiaoyan.demo_world.scales import Knobs

STAGE_GRADES = {"primary": (1, 6), "junior_secondary": (7, 9), "senior_secondary": (10, 12)}
STAGE_SHARE = {"primary": 0.55, "junior_secondary": 0.3, "senior_secondary": 0.15}
SUBJECT_WEIGHT = {
    "chinese": 0.2, "mathematics": 0.19, "english": 0.13, "physics": 0.05, "chemistry": 0.04, "biology": 0.04,
    "history": 0.03, "geography": 0.03, "politics": 0.05, "science": 0.05, "information_technology": 0.03,
    "music": 0.04, "art": 0.04, "physical_education": 0.06,
}
# Title → (share among K-12 teachers, mean age, age spread); university titles likewise.
K12_TITLES = {"teacher_level_3": (0.1, 26, 2.5), "teacher_level_2": (0.3, 32, 4.5), "teacher_level_1": (0.38, 41, 6),
              "senior_teacher": (0.2, 48, 5), "principal_senior_teacher": (0.02, 53, 4)}
UNI_TITLES = {"teaching_assistant": (0.07, 29, 2.5), "lecturer": (0.33, 36, 5), "associate_professor": (0.35, 44, 5.5),
              "professor": (0.25, 52, 6)}
PILOT_BATCHES = {1: (dt.date(2022, 2, 10), 0.56), 2: (dt.date(2023, 1, 12), 0.28), 3: (dt.date(2023, 11, 20), 0.16)}
SCOPE_SHARE = {"national": 0.45, "regional": 0.2, "school": 0.35}
CONTENT_SHARE = {"course_group": 0.5, "specialty_building": 0.25, "reform_topic": 0.25}
HOST_SHARE = {"school": 1.0, "regional": 0.55, "national": 0.4}  # share of an office's members from its host
SMALL_OFFICE_RATE = 0.02  # offices with fewer than 10 members (breaking the rule)
EAST_ONLY_RATE = 0.06  # national offices with no member from a central or western university
MUNICIPALITIES = ("110000", "120000", "310000", "500000")


@dataclass
class Reference:
    regions: pd.DataFrame
    districts: pd.DataFrame  # region_code, region_name, city_code, province_code, rural
    schools: pd.DataFrame  # every version, with delivered_on
    universities: pd.DataFrame
    teachers: pd.DataFrame  # every version, with delivered_on
    vtros: pd.DataFrame  # with delivered_on and the rule-breaking flags
    members: pd.DataFrame  # membership rows as delivered (a leave is re-delivered with left_on)

    def k12_versions(self) -> pd.DataFrame:
        return self.teachers[self.teachers["school_id"] != ""]

    def university_teachers(self) -> pd.DataFrame:
        return self.teachers[self.teachers["university_id"] != ""].drop_duplicates("teacher_id")


def build(k: Knobs) -> Reference:
    provinces = pd.DataFrame(codes.seed_rows("provinces"))
    regions, districts = _regions(k, provinces)
    schools = _schools(k, districts)
    universities = _universities(k, provinces)
    k12 = _k12_teachers(k, schools)
    vtros, members, uni_teachers = _offices(k, universities, k12, schools, districts)
    teachers = pd.concat([k12, uni_teachers], ignore_index=True)
    schools = _school_changes(k, schools)
    return Reference(regions=regions, districts=districts, schools=schools, universities=universities,
                     teachers=teachers, vtros=vtros, members=members)


# --- regions -----------------------------------------------------------------------------------
def _regions(k: Knobs, provinces: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = stream(k.seed, "reference", "regions")
    rows = [(p.province_code, p.name_zh, "province", "") for p in provinces.itertuples()]
    pilot = k.scale.k12_provinces or tuple(provinces["province_code"])
    taken: set[str] = set()
    district_rows = []
    for code in pilot:
        pp = code[:2]
        municipality = code in MUNICIPALITIES
        city_code = f"{pp}0100" if municipality else f"{pp}{rng.integers(2, 30):02d}00"
        city_name = "市辖区" if municipality else names.place_names(rng, 1, taken)[0] + "市"
        rows.append((city_code, city_name, "city", code))
        n_urban, n_rural = k.scale.urban_districts, k.scale.rural_counties
        stems = names.place_names(rng, n_urban + n_rural, taken)
        for i in range(n_urban + n_rural):
            rural = i >= n_urban
            if not rural:
                dd, suffix = 2 + i, "区"
            elif i - n_urban == 2 and not municipality:
                dd, suffix = 81, "市"  # a county-level city
            else:
                dd, suffix = 21 + (i - n_urban), "区" if municipality else "县"
            dcode = f"{city_code[:4]}{dd:02d}"
            rows.append((dcode, stems[i] + suffix, "district", city_code))
            district_rows.append((dcode, stems[i] + suffix, city_code, code, rural))
    regions = pd.DataFrame(rows, columns=list(sources.REGIONS.field_names))
    districts = pd.DataFrame(district_rows, columns=["region_code", "region_name", "city_code", "province_code",
                                                     "rural"])
    return regions, districts


# --- schools -----------------------------------------------------------------------------------
def _schools(k: Knobs, districts: pd.DataFrame) -> pd.DataFrame:
    rng = stream(k.seed, "reference", "schools")
    n = k.scale.schools
    # urban districts are denser: 60 % of schools, whatever the district counts
    weight = np.where(districts["rural"], 0.4 / max(1, districts["rural"].sum()),
                      0.6 / max(1, (~districts["rural"]).sum()))
    district = _spread(rng, n, weight / weight.sum())
    stages = list(STAGE_SHARE)
    stage = rng.choice(len(stages), n, p=list(STAGE_SHARE.values()))
    county = districts["rural"].to_numpy()[district]
    urban_rural = np.where(county, np.where(rng.random(n) < 0.8, "rural", "urban"),
                           np.where(rng.random(n) < 0.06, "rural", "urban"))
    weak = rng.random(n) < np.where(urban_rural == "rural", 0.28, 0.05)
    towns = names.place_names(rng, n)
    counters: dict[tuple[int, int], int] = {}
    rows = []
    for i in range(n):
        key = (int(district[i]), int(stage[i]))
        ordinal = counters.get(key, 0)
        counters[key] = ordinal + 1
        d = districts.iloc[district[i]]
        name = names.school_name(d.region_name, stages[stage[i]], urban_rural[i] == "rural", ordinal, towns[i])
        rows.append((f"SCH{i + 1:05d}", name, d.region_code, urban_rural[i], bool(weak[i]), stages[stage[i]]))
    schools = pd.DataFrame(rows, columns=["school_id", "school_name", "district_code", "urban_rural", "is_weak",
                                          "stage"])
    schools["valid_from"] = [k.start - dt.timedelta(days=int(x)) for x in rng.integers(200, 3000, n)]
    schools["delivered_on"] = k.start
    return schools


def _spread(rng: np.random.Generator, n: int, p: np.ndarray) -> np.ndarray:
    """``n`` items over the bins of ``p``, every bin with p > 0 getting at least one when n allows."""
    base = np.flatnonzero(p > 0)[:n]
    rest = rng.choice(len(p), n - len(base), p=p)
    return np.sort(np.concatenate([base, rest]))


def _school_changes(k: Knobs, schools: pd.DataFrame) -> pd.DataFrame:
    """A few weak schools leave the programme after targeted support, from the autumn term."""
    rng = stream(k.seed, "reference", "school_changes")
    when = _change_date(k, (9, 1))
    weak = schools.index[schools["is_weak"]]
    if when is None or len(weak) == 0:
        return schools
    chosen = rng.choice(weak, max(1, len(weak) // 12), replace=False)
    changed = schools.loc[np.sort(chosen)].copy()
    changed["is_weak"] = False
    changed["valid_from"] = when
    changed["delivered_on"] = when
    return pd.concat([schools, changed], ignore_index=True)


def _change_date(k: Knobs, month_day: tuple[int, int]) -> dt.date | None:
    """The last date with this month and day inside the world (after its first night), if any."""
    for year in range(k.end.year, k.start.year - 1, -1):
        day = dt.date(year, *month_day)
        if k.start < day <= k.end:
            return day
    return None


# --- universities --------------------------------------------------------------------------------
def _universities(k: Knobs, provinces: pd.DataFrame) -> pd.DataFrame:
    rng = stream(k.seed, "reference", "universities")
    n = k.scale.universities
    group = provinces["region_group"].to_numpy()
    weight = np.where(group == "east", 1.6, np.where(group == "central", 1.1, 0.8)) * rng.uniform(0.6, 1.4,
                                                                                                  len(provinces))
    codes_all = provinces["province_code"].to_numpy()
    weight = weight * np.where(np.isin(codes_all, k.scale.k12_provinces), 3.0, 1.0)  # the pilot province hosts more
    if k.scale.university_provinces:
        chosen = _provinces_with_all_groups(rng, provinces, k.scale.university_provinces, k.scale.k12_provinces)
        weight = np.where(np.isin(codes_all, chosen), weight, 0.0)
    picked = _spread(rng, n, weight / weight.sum())
    taken: set[str] = set()
    place_taken: set[str] = set()
    rows = []
    for i, p in enumerate(picked):
        stem = names.province_stem(provinces["name_zh"].iloc[p])
        rows.append((f"UNI{i + 1:04d}", _university_name(rng, stem, taken, place_taken), codes_all[p], group[p]))
    return pd.DataFrame(rows, columns=list(sources.UNIVERSITIES.field_names))


def _provinces_with_all_groups(rng: np.random.Generator, provinces: pd.DataFrame, n: int,
                               must: tuple[str, ...]) -> list[str]:
    chosen = list(must)
    for g in sources.REGION_GROUPS:
        pool = [c for c, grp in zip(provinces["province_code"], provinces["region_group"], strict=True)
                if grp == g and c not in chosen]
        if not any(provinces.set_index("province_code").loc[c, "region_group"] == g for c in chosen):
            chosen.append(pool[rng.integers(len(pool))])
    rest = [c for c in provinces["province_code"] if c not in chosen]
    extra = rng.choice(len(rest), max(0, n - len(chosen)), replace=False)
    return chosen + [rest[i] for i in sorted(extra)]


def _university_name(rng: np.random.Generator, stem: str, taken: set[str], place_taken: set[str]) -> str:
    for _ in range(50):
        kind = names.UNIVERSITY_KINDS[rng.integers(len(names.UNIVERSITY_KINDS))]
        base = stem if rng.random() < 0.55 else names.place_names(rng, 1, place_taken)[0]
        name = base + kind
        if name not in taken:
            taken.add(name)
            return name
    raise RuntimeError("could not name a university")


# --- teachers ---------------------------------------------------------------------------------
def _titles_and_birth(rng: np.random.Generator, n: int, table: dict, year: int) -> tuple[np.ndarray, np.ndarray]:
    titles = np.array(list(table))
    share = np.array([v[0] for v in table.values()])
    idx = rng.choice(len(titles), n, p=share / share.sum())
    mean = np.array([v[1] for v in table.values()])[idx]
    sd = np.array([v[2] for v in table.values()])[idx]
    age = np.clip(np.rint(rng.normal(mean, sd)), 22, 64).astype(int)
    return titles[idx], (year - age).astype(np.int16)


def _k12_teachers(k: Knobs, schools: pd.DataFrame) -> pd.DataFrame:
    rng = stream(k.seed, "reference", "k12")
    n = k.scale.school_teachers
    size = np.array([{"primary": 1.0, "junior_secondary": 1.2, "senior_secondary": 1.5}[s] for s in schools["stage"]])
    size = size * np.where(schools["urban_rural"] == "rural", 0.7, 1.0) * rng.lognormal(0, 0.3, len(schools))
    school = _spread(rng, n, size / size.sum())
    frame = _k12_frame(rng, schools, school, k.start.year)
    frame["valid_from"] = [k.start - dt.timedelta(days=int(x)) for x in rng.integers(30, 2500, n)]
    frame["delivered_on"] = k.start
    frame["teacher_id"] = [f"TS{i + 1:06d}" for i in range(n)]
    changes = _k12_changes(k, rng, frame, schools)
    hires = _k12_hires(k, rng, schools, n)
    return pd.concat([frame, changes, hires], ignore_index=True)[[*sources.TEACHERS.field_names, "delivered_on"]]


def _k12_frame(rng: np.random.Generator, schools: pd.DataFrame, school: np.ndarray, year: int,
               young: bool = False) -> pd.DataFrame:
    n = len(school)
    stage = schools["stage"].to_numpy()[school]
    gender = np.where(rng.random(n) < np.where(stage == "primary", 0.78, 0.62), "F", "M")
    young_titles = ("teacher_level_3", "teacher_level_2")
    table = {t: v for t, v in K12_TITLES.items() if t in young_titles} if young else K12_TITLES
    title, birth = _titles_and_birth(rng, n, table, year)
    subjects = _subjects(rng, stage)
    lo = np.array([STAGE_GRADES[s][0] for s in stage])
    hi = np.array([STAGE_GRADES[s][1] for s in stage])
    grade = lo + (rng.random(n) * (hi - lo + 1)).astype(int)
    return pd.DataFrame({
        "teacher_name": names.person_names(rng, gender), "gender": gender, "birth_year": birth, "title": title,
        "subject": subjects, "grade": grade.astype(np.int16), "school_id": schools["school_id"].to_numpy()[school],
        "university_id": "",
    })


def _subjects(rng: np.random.Generator, stages: np.ndarray) -> np.ndarray:
    """A subject taught at each teacher's stage (the seed's ``stages`` column), weighted by timetable share."""
    out = np.empty(len(stages), dtype=object)
    u = rng.random(len(stages))
    for stage in STAGE_GRADES:
        allowed = [r["code"] for r in codes.seed_rows("subjects") if stage in r["stages"].split("|")]
        w = np.cumsum([SUBJECT_WEIGHT.get(s, 0.02) for s in allowed])
        here = stages == stage
        out[here] = np.array(allowed, dtype=object)[np.minimum(np.searchsorted(w / w[-1], u[here]), len(allowed) - 1)]
    return out


def _k12_changes(k: Knobs, rng: np.random.Generator, frame: pd.DataFrame, schools: pd.DataFrame) -> pd.DataFrame:
    """Promotions (January, September), rotations to another school and grade moves (September).

    Changes on the same date build on each other: one new row per teacher and date.
    """
    rank = {r["code"]: int(r["rank"]) for r in codes.seed_rows("teacher_titles") if r["sector"] == "k12"}
    by_rank = {v: c for c, v in rank.items()}
    autumn, january = _change_date(k, (9, 1)), _change_date(k, (1, 1))
    state = frame.set_index("teacher_id")
    out = []
    for when in sorted(d for d in {autumn, january} if d is not None):
        changed: set[str] = set()
        promote = state.index[(rng.random(len(state)) < 0.03) & (state["title"] != "principal_senior_teacher")]
        state.loc[promote, "title"] = [by_rank[rank[t] + 1] for t in state.loc[promote, "title"]]
        changed.update(promote)
        if when == autumn:
            changed.update(_rotate(rng, state, schools))
            changed.update(_follow_class(rng, state, schools))
        rows = state.loc[sorted(changed)].reset_index()
        rows["valid_from"] = when
        rows["delivered_on"] = when
        out.append(rows)
    return pd.concat(out, ignore_index=True) if out else frame.iloc[:0]


def _follow_class(rng: np.random.Generator, state: pd.DataFrame, schools: pd.DataFrame) -> list[str]:
    """Teachers who move up with their class (循环教学); at the top grade they start again."""
    moved = state.index[rng.random(len(state)) < 0.2]
    stage = schools.set_index("school_id").loc[state.loc[moved, "school_id"], "stage"].to_numpy()
    lo = np.array([STAGE_GRADES[s][0] for s in stage])
    hi = np.array([STAGE_GRADES[s][1] for s in stage])
    grade = state.loc[moved, "grade"].to_numpy().astype(int) + 1
    state.loc[moved, "grade"] = np.where(grade > hi, lo, grade).astype(np.int16)
    return list(moved)


def _rotate(rng: np.random.Generator, state: pd.DataFrame, schools: pd.DataFrame) -> list[str]:
    """Teacher exchange (轮岗): 2 % move, mostly between urban and rural schools of the same stage."""
    info = schools.set_index("school_id")
    moved = state.index[rng.random(len(state)) < 0.02]
    for teacher_id in moved:
        here = state.loc[teacher_id, "school_id"]
        stage, urban = info.loc[here, "stage"], info.loc[here, "urban_rural"]
        mask = (info["stage"] == stage).to_numpy() & (info.index != here)
        if rng.random() < 0.7:
            mask &= (info["urban_rural"] != urban).to_numpy()
        pool = info.index[mask]
        if len(pool):
            state.loc[teacher_id, "school_id"] = pool[rng.integers(len(pool))]
    return list(moved)


def _k12_hires(k: Knobs, rng: np.random.Generator, schools: pd.DataFrame, n_existing: int) -> pd.DataFrame:
    when = _change_date(k, (9, 1))
    if when is None:
        return pd.DataFrame(columns=[*sources.TEACHERS.field_names, "delivered_on"])
    n = max(1, round(0.03 * n_existing))
    school = np.sort(rng.integers(0, len(schools), n))
    frame = _k12_frame(rng, schools, school, when.year, young=True)
    frame["teacher_id"] = [f"TS{n_existing + i + 1:06d}" for i in range(n)]
    frame["valid_from"] = when
    frame["delivered_on"] = when
    return frame


# --- offices and members ------------------------------------------------------------------------
@dataclass
class _Slots:
    office: list[int]
    university: list[int]  # -1 for a school teacher slot


def _offices(k: Knobs, universities: pd.DataFrame, k12: pd.DataFrame, schools: pd.DataFrame,
             districts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = stream(k.seed, "reference", "offices")
    vtros = _vtro_frame(k, rng, universities)
    sizes = _office_sizes(k, rng, vtros)
    slots = _slots(k, rng, vtros, sizes, universities)
    uni_teachers, slot_teacher = _fill_university_slots(k, rng, vtros, slots, universities)
    school_members = _school_teacher_slots(k, rng, vtros, universities, k12, schools, districts)
    members = _membership_rows(k, rng, vtros, slots, slot_teacher, school_members)
    members = _membership_changes(k, rng, vtros, members, uni_teachers)
    vtros["leader_teacher_id"] = members[members["role"] == "leader"].set_index("vtro_id").loc[
        vtros["vtro_id"], "teacher_id"].to_numpy()
    return vtros, members, uni_teachers


def _vtro_frame(k: Knobs, rng: np.random.Generator, universities: pd.DataFrame) -> pd.DataFrame:
    n, n_new = k.scale.vtros, k.scale.new_vtros
    n_uni = len(universities)
    hosts = np.concatenate([np.arange(min(n, n_uni)), rng.choice(n_uni, max(0, n - n_uni),
                                                                   p=_zipf(n_uni, 0.9, rng))])
    rng.shuffle(hosts)
    scope = rng.choice(list(SCOPE_SHARE), n, p=list(SCOPE_SHARE.values()))
    _pilot_regional_offices(k, rng, universities, hosts, scope)
    content = rng.choice(list(CONTENT_SHARE), n, p=list(CONTENT_SHARE.values()))
    batches = list(PILOT_BATCHES)
    batch = rng.choice(batches, n, p=[PILOT_BATCHES[b][1] for b in batches]).astype(np.int8)
    founded = [PILOT_BATCHES[int(b)][0] + dt.timedelta(days=int(rng.integers(0, 20))) for b in batch]
    new_days = sorted(rng.choice(np.arange(1, k.days), min(n_new, k.days - 1), replace=False)) if k.days > 1 else []
    for j, offset in enumerate(new_days):  # the last offices are the new ones
        i = n - len(new_days) + j
        batch[i] = 4
        founded[i] = k.start + dt.timedelta(days=int(offset))
    frame = pd.DataFrame({"vtro_id": [f"VTRO{i + 1:04d}" for i in range(n)],
                          "university_id": universities["university_id"].to_numpy()[hosts], "scope": scope,
                          "content_type": content, "founded_on": founded, "pilot_batch": batch})
    frame = frame.merge(universities[["university_id", "university_name", "province_code", "region_group"]],
                        on="university_id", how="left")
    provinces = {r["province_code"]: names.province_stem(r["name_zh"]) for r in codes.seed_rows("provinces")}
    frame["vtro_name"] = [_office_name(rng, r, provinces) for r in frame.itertuples()]
    frame["delivered_on"] = [max(f, k.start) for f in frame["founded_on"]]
    return frame


def _pilot_regional_offices(k: Knobs, rng: np.random.Generator, universities: pd.DataFrame, hosts: np.ndarray,
                            scope: np.ndarray) -> None:
    """Make sure the K-12 pilot province hosts regional offices (which take in its school teachers)."""
    local = np.flatnonzero(np.isin(universities["province_code"], k.scale.k12_provinces))
    if not len(local) or not k.scale.k12_provinces:
        return
    for _ in range(max(2, round(0.1 * len(hosts)))):
        counts = np.bincount(hosts, minlength=len(universities))
        movable = np.flatnonzero((counts[hosts] > 1) & ~np.isin(hosts, local))
        if not len(movable):
            return
        i = movable[rng.integers(len(movable))]
        hosts[i] = local[rng.integers(len(local))]
        scope[i] = "regional"


def _office_name(rng: np.random.Generator, row: object, provinces: dict[str, str]) -> str:
    prefix = {"national": "全国高校" if rng.random() < 0.5 else "",
              "regional": provinces[row.province_code] + ("地区" if rng.random() < 0.5 else "高校"),  # type: ignore[attr-defined]
              "school": row.university_name}[row.scope]  # type: ignore[attr-defined]
    return names.vtro_name(rng, row.content_type, prefix)  # type: ignore[attr-defined]


def _zipf(n: int, power: float, rng: np.random.Generator) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** power
    w = w[rng.permutation(n)]
    return w / w.sum()


def _office_sizes(k: Knobs, rng: np.random.Generator, vtros: pd.DataFrame) -> np.ndarray:
    """University-member slots per office, summing exactly to the scale's target; a few offices stay under 10."""
    n = len(vtros)
    target = k.scale.memberships - k.scale.school_teacher_members
    raw = rng.lognormal(0, 0.65, n) * np.where(vtros["scope"] == "national", 1.4, 1.0)
    small = np.zeros(n, bool)
    small[rng.choice(n, max(1, round(SMALL_OFFICE_RATE * n)), replace=False)] = True
    sizes = np.where(small, rng.integers(3, 10, n), 0)
    big = ~small
    scaled = raw[big] / raw[big].sum() * (target - sizes.sum())
    sizes[big] = np.maximum(12, np.floor(scaled)).astype(int)
    short = target - sizes.sum()  # hand the remainder out one by one to the largest
    order = np.argsort(-np.where(big, raw, -1), kind="stable")
    step = 1 if short > 0 else -1
    i = 0
    while short != 0:
        j = order[i % big.sum()]
        if step > 0 or sizes[j] > 12:
            sizes[j] += step
            short -= step
        i += 1
    vtros["rule_small"] = small
    return sizes


def _slots(k: Knobs, rng: np.random.Generator, vtros: pd.DataFrame, sizes: np.ndarray,
           universities: pd.DataFrame) -> _Slots:
    uni_index = {u: i for i, u in enumerate(universities["university_id"])}
    group = universities["region_group"].to_numpy()
    province = universities["province_code"].to_numpy()
    national = np.flatnonzero((vtros["scope"] == "national").to_numpy() & (vtros["region_group"] == "east").to_numpy())
    east_only = np.zeros(len(vtros), bool)
    if len(national):
        east_only[rng.choice(national, max(1, round(EAST_ONLY_RATE * (vtros["scope"] == "national").sum())),
                             replace=False)] = True
    vtros["rule_east_only"] = east_only
    office, uni = [], []
    for i, row in enumerate(vtros.itertuples()):
        host = uni_index[row.university_id]
        n_host = sizes[i] if row.scope == "school" else max(1, round(HOST_SHARE[row.scope] * sizes[i]))
        others = np.arange(len(universities)) != host
        if row.scope == "regional":
            near = others & ((province == row.province_code) | (group == row.region_group))
            others = near if near.any() else others
        if east_only[i]:
            others = others & (group == "east")
        pool = np.flatnonzero(others)
        ext = rng.choice(pool, sizes[i] - n_host) if len(pool) else np.full(sizes[i] - n_host, host)
        if row.scope == "national" and not east_only[i] and len(ext) and not np.isin(group[ext], ["central",
                                                                                                  "western"]).any():
            cw = np.flatnonzero(others & (group != "east"))
            if len(cw):
                ext[0] = cw[rng.integers(len(cw))]  # the rule: national offices include central/western members
        office += [i] * sizes[i]
        uni += [host] * n_host + list(ext)
    return _Slots(office, uni)


def _fill_university_slots(k: Knobs, rng: np.random.Generator, vtros: pd.DataFrame, slots: _Slots,
                           universities: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Teachers for the slots: exactly the scale's distinct count; the rest are teachers in two offices."""
    office = np.array(slots.office)
    uni = np.array(slots.university)
    n_univ = len(universities)
    demand = np.bincount(uni, minlength=n_univ)
    distinct = _apportion(demand, k.scale.distinct_university_members)
    spare = np.maximum(1, np.ceil(distinct * 0.12)).astype(int)  # non-members who may join later
    pool_size = distinct + spare
    first_id = np.concatenate([[0], np.cumsum(pool_size)[:-1]])
    teacher = np.full(len(office), -1)
    first_slot = np.r_[True, office[1:] != office[:-1]]  # the leader's slot opens each office
    repeats: list[tuple[int, np.ndarray]] = []
    for u in range(n_univ):
        idx = np.flatnonzero(uni == u)
        if not len(idx):
            continue
        order = np.concatenate([idx[first_slot[idx]], rng.permutation(idx[~first_slot[idx]])])
        teacher[order[: distinct[u]]] = first_id[u] + np.arange(min(len(order), distinct[u]))
        repeats.append((u, order[distinct[u]:]))
    in_office: dict[int, set[int]] = {}
    for slot in np.flatnonzero(teacher >= 0):
        in_office.setdefault(int(office[slot]), set()).add(int(teacher[slot]))
    for u, slots_u in repeats:  # teachers in a second office of the world, never twice in one office
        for slot in slots_u:
            taken = in_office.setdefault(int(office[slot]), set())
            for _ in range(20):
                t = int(first_id[u] + rng.integers(distinct[u]))
                if t not in taken:
                    break
            else:
                t = int(first_id[u] + distinct[u])  # a spare teacher: always free
            teacher[slot] = t
            taken.add(t)
    frame = _university_frame(rng, universities, pool_size, k.start.year)
    leaders = teacher[first_slot]
    frame.loc[leaders, "title"] = "professor"
    frame.loc[leaders, "birth_year"] = (k.start.year - rng.integers(46, 62, len(leaders))).astype(np.int16)
    frame["valid_from"] = [k.start - dt.timedelta(days=int(x)) for x in rng.integers(60, 3000, len(frame))]
    frame["delivered_on"] = k.start
    return frame, teacher


def _apportion(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total``, never above the weight."""
    exact = weights / weights.sum() * total
    out = np.minimum(np.floor(exact).astype(int), weights)
    out = np.where((weights > 0) & (out == 0), 1, out)
    rest = total - out.sum()
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    i = 0
    while rest > 0 and i < 10 * len(order):
        j = order[i % len(order)]
        if out[j] < weights[j]:
            out[j] += 1
            rest -= 1
        i += 1
    return out


def _university_frame(rng: np.random.Generator, universities: pd.DataFrame, pool_size: np.ndarray,
                      year: int) -> pd.DataFrame:
    n = int(pool_size.sum())
    gender = np.where(rng.random(n) < 0.48, "F", "M")
    title, birth = _titles_and_birth(rng, n, UNI_TITLES, year)
    return pd.DataFrame({
        "teacher_id": [f"TU{i + 1:06d}" for i in range(n)], "teacher_name": names.person_names(rng, gender),
        "gender": gender, "birth_year": birth, "title": title, "subject": "", "grade": pd.array([pd.NA] * n,
                                                                                                dtype="Int16"),
        "school_id": "", "university_id": np.repeat(universities["university_id"].to_numpy(), pool_size),
    })


def _school_teacher_slots(k: Knobs, rng: np.random.Generator, vtros: pd.DataFrame, universities: pd.DataFrame,
                          k12: pd.DataFrame, schools: pd.DataFrame, districts: pd.DataFrame) -> list[tuple[int, str]]:
    """School teachers of the pilot regions in regional offices hosted in their province."""
    initial = k12[k12["delivered_on"] == k.start].drop_duplicates("teacher_id")
    province = schools.merge(districts, left_on="district_code", right_on="region_code").set_index(
        "school_id")["province_code"]
    teacher_province = province.loc[initial["school_id"]].to_numpy()
    offices = np.flatnonzero((vtros["scope"] == "regional").to_numpy() & ~vtros["rule_small"].to_numpy()
                             & np.isin(vtros["province_code"], np.unique(teacher_province)))
    if not len(offices) or k.scale.school_teacher_members == 0:
        return []
    per_office = _apportion(np.full(len(offices), 10_000), k.scale.school_teacher_members)
    out: list[tuple[int, str]] = []
    for o, count in zip(offices, per_office, strict=True):
        pool = initial["teacher_id"].to_numpy()[teacher_province == vtros["province_code"].iloc[o]]
        pick = rng.choice(pool, min(count, len(pool)), replace=False)
        out += [(int(o), t) for t in sorted(pick)]
    return out


def _membership_rows(k: Knobs, rng: np.random.Generator, vtros: pd.DataFrame, slots: _Slots,
                     slot_teacher: np.ndarray, school_members: list[tuple[int, str]]) -> pd.DataFrame:
    """Rows at the world's start: the leader (first slot), a few core members (host teachers), members."""
    office = np.array(slots.office + [o for o, _ in school_members])
    frame = pd.DataFrame({"office": office,
                          "teacher_id": [f"TU{t + 1:06d}" for t in slot_teacher] + [t for _, t in school_members]})
    frame["leader"] = np.r_[True, office[1:len(slots.office)] != office[:len(slots.office) - 1],
                            np.zeros(len(school_members), bool)]
    position = frame.groupby("office").cumcount().to_numpy()
    size = frame.groupby("office")["office"].transform("size").to_numpy()
    n_core = np.where(size >= 4, np.maximum(1, np.rint(0.08 * size)), 0)
    frame["role"] = np.where(frame["leader"], "leader", np.where(position <= n_core, "core", "member"))
    founded = vtros["founded_on"].to_numpy()[office]
    horizon = np.array([max(1, (max(k.start, f) - f).days) for f in founded])
    delay = np.minimum(horizon - 1, rng.exponential(0.3, len(office)) * horizon).astype(int)
    delay = np.where(frame["leader"], 0, np.where(frame["role"] == "core", delay // 4, delay))
    frame["joined_on"] = [f + dt.timedelta(days=int(d)) for f, d in zip(founded, delay, strict=True)]
    frame["vtro_id"] = vtros["vtro_id"].to_numpy()[office]
    frame["left_on"] = None
    frame["delivered_on"] = [max(j, k.start) for j in frame["joined_on"]]
    return frame[["vtro_id", "teacher_id", "role", "joined_on", "left_on", "delivered_on"]]


def _membership_changes(k: Knobs, rng: np.random.Generator, vtros: pd.DataFrame, members: pd.DataFrame,
                        uni_teachers: pd.DataFrame) -> pd.DataFrame:
    """Members joining (from the universities' other teachers) and leaving during the world."""
    if k.days < 2:
        return members
    years = k.days / 365
    sizes = members.groupby("vtro_id").size()
    in_office = set(zip(members["vtro_id"], members["teacher_id"], strict=True))
    by_uni = uni_teachers.groupby("university_id")["teacher_id"].apply(list)
    by_office = dict(iter(members[members["role"] != "leader"].groupby("vtro_id", sort=False)))
    size = vtros["vtro_id"].map(sizes).fillna(0).to_numpy()
    n_join = np.where(vtros["rule_small"], 0, rng.poisson(0.12 * size * years))  # small offices stay small
    n_leave = rng.poisson(0.04 * size * years)
    biggest = int(np.argmax(size))
    n_join[biggest] = max(n_join[biggest], int(not n_join.any()))  # a world short enough to have none still
    n_leave[biggest] = max(n_leave[biggest], int(not n_leave.any()))  # shows one of each
    joins, leaves = [], []
    for i, row in enumerate(vtros.itertuples()):
        pool = by_uni.get(row.university_id, [])
        for _ in range(n_join[i]):
            t = pool[rng.integers(len(pool))]
            day = _day_after(k, rng, max(row.founded_on, k.start))
            if day is not None and (row.vtro_id, t) not in in_office:
                in_office.add((row.vtro_id, t))
                joins.append((row.vtro_id, t, "member", day, None, day))
        current = by_office.get(row.vtro_id, members.iloc[:0])
        leaving = min(len(current), n_leave[i])
        for j in rng.choice(len(current), leaving, replace=False) if leaving else []:
            m = current.iloc[j]
            day = _day_after(k, rng, max(m.joined_on, k.start))
            if day is not None:
                leaves.append((m.vtro_id, m.teacher_id, m.role, m.joined_on, day, day))
    extra = pd.DataFrame(joins + leaves, columns=members.columns)
    return pd.concat([members, extra], ignore_index=True)


def _day_after(k: Knobs, rng: np.random.Generator, first: dt.date) -> dt.date | None:
    span = (k.end - first).days
    if span < 1:
        return None
    return first + dt.timedelta(days=int(rng.integers(1, span + 1)))
