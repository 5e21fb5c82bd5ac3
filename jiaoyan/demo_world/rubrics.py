"""Rubrics (量规) and observers' scores.

Four rubrics, both kinds, two and three levels, each with its own bands; the general
classroom rubric gets a second version mid-year (one more leaf, new weights). A score
is the teacher's skill that term, the effect of the teacher's style on that indicator
(dialogue teachers do better on question design and classroom culture, lecturers on
the basics), the teacher's own strengths and weaknesses, the lesson, the observer's
bias and noise. Scores arrive 0–10 days after the lesson; a few are corrected later
(same key, later ``scored_at``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd

from jiaoyan.contracts import Rubric, RubricFile
from jiaoyan.demo_world.lessons import STYLES
from jiaoyan.demo_world.randomness import stream
from jiaoyan.demo_world.reference import Reference
from jiaoyan.demo_world.scales import Knobs

BANDS_4 = [("excellent", "优秀", 0.9), ("good", "良好", 0.75), ("pass", "合格", 0.6), ("improve", "待改进", 0.0)]
BANDS_4B = [("excellent", "优秀", 0.88), ("good", "良好", 0.72), ("pass", "合格", 0.6), ("improve", "待改进", 0.0)]
BANDS_3 = [("excellent", "优秀", 0.85), ("meets", "达标", 0.6), ("below", "待提高", 0.0)]
# How each facet of teaching responds to the style (lecture, dialogue, practice, mixed), as a share of the maximum.
FACET_EFFECT = {
    "questions": (-0.05, 0.06, -0.01, 0.0), "culture": (-0.05, 0.05, 0.01, 0.01),
    "methods": (-0.04, 0.03, 0.03, 0.02), "practice": (-0.03, 0.0, 0.05, 0.01), "basics": (0.03, -0.01, 0.0, 0.0),
}
# (name, facet, children) for a branch; (name, max_score) for a leaf
TD_GENERAL = [
    ("教学目标", "goals", [("目标表述清晰、可检测", 10), ("目标与课程标准一致", 10)]),
    ("学情分析", "analysis", [("学生已有知识与经验分析", 8), ("学习困难预判", 7)]),
    ("教学重难点", "analysis", [("重难点确定准确", 8), ("突破策略得当", 7)]),
    ("教学过程设计", "methods", [("环节清晰、逻辑连贯", 10), ("学生活动设计充分", 10), ("信息技术融合恰当", 5)]),
    ("作业设计", "practice", [("分层设计", 5), ("数量与难度适当", 5)]),
    ("板书设计", "basics", [("结构清晰、突出重点", 5)]),
]
CT_GENERAL = [
    ("目标达成", "goals", [("教学目标达成度", 10), ("学生学习效果", 10)]),
    ("问题设计", "questions", [("问题的层次与开放性", 10), ("追问与反馈", 10)]),
    ("教学方法", "methods", [("方法选择与学情匹配", 10), ("学生主体参与", 10), ("信息技术运用", 5)]),
    ("课堂文化与氛围", "culture", [("师生关系民主平等", 10), ("学生积极参与、敢于表达", 10)]),
    ("教学基本功", "basics", [("语言表达准确生动", 5), ("板书与教态", 5), ("时间把控", 5)]),
]
CT_GENERAL_V2_EXTRA = ("教学方法", ("差异化指导", 5))
CT_MATH = [
    ("数学思维", "questions", [("问题情境", "questions", [("情境真实、指向核心概念", 6), ("问题链设计", 6)]),
                              ("推理论证", "methods", [("学生说理充分", 6), ("变式训练", 6)])]),
    ("学生学习", "culture", [("参与", "culture", [("独立思考时间", 6), ("合作交流", 6)]),
                             ("反馈", "practice", [("错误资源利用", 6)])]),
    ("课堂评价", "basics", [("评价", "basics", [("评价及时、多元", 6)])]),
]
CT_ENGLISH = [
    ("语言技能", "methods", [("听说", "methods", [("听力输入充分", 5), ("口语输出机会", 5)]),
                             ("读写", "methods", [("阅读策略指导", 5), ("写作支架", 5)])]),
    ("练习效果", "practice", [("练习设计", "practice", [("练习层次", 5), ("真实语境", 5)]),
                              ("完成质量", "practice", [("正确率", 5)])]),
    ("反馈与评价", "questions", [("反馈方式和评价效果", "questions", [("反馈及时", 5), ("评价促进学习", 5)])]),
    ("课堂文化", "culture", [("氛围", "culture", [("学生敢于表达", 5)])]),
]


@dataclass(frozen=True)
class Leaf:
    rubric_id: str
    version: int
    indicator_id: str
    level1: str  # id of its level-1 ancestor
    facet: str
    max_score: float


@dataclass
class RubricSet:
    documents: list[Rubric]  # every version
    leaves: pd.DataFrame  # rubric_id, version, indicator_id, level1, facet, max_score, weight

    def published(self, day: dt.date) -> list[Rubric]:
        return [r for r in self.documents if r.published_on == day]


def build(k: Knobs) -> RubricSet:
    published = dt.date(2025, 8, 25)
    v2_day = _mid(k)
    specs = [
        ("RUB-TD-GEN", "教学设计评价量规（通用）", "teaching_design", None, TD_GENERAL, BANDS_4),
        ("RUB-CT-GEN", "课堂教学评价量规（通用）", "classroom_teaching", None, CT_GENERAL, BANDS_4),
        ("RUB-CT-MATH", "数学课堂教学观察量规", "classroom_teaching", "mathematics", CT_MATH, BANDS_3),
        ("RUB-CT-ENG", "英语课堂教学观察量规", "classroom_teaching", "english", CT_ENGLISH, BANDS_4B),
    ]
    documents = [_rubric(rid, name, kind, subject, 1, min(published, k.start), tree, bands)
                 for rid, name, kind, subject, tree, bands in specs]
    if v2_day is not None:
        documents.append(_rubric("RUB-CT-GEN", "课堂教学评价量规（通用）", "classroom_teaching", None, 2, v2_day,
                                 _with_extra(CT_GENERAL), BANDS_4))
    return RubricSet(documents, _leaves(documents, specs))


def _mid(k: Knobs) -> dt.date | None:
    """The spring term's first day if the world spans it, else the middle of the world (None if one day)."""
    spring = dt.date(2026, 3, 2)
    if k.start < spring <= k.end:
        return spring
    return k.start + dt.timedelta(days=k.days // 2) if k.days > 1 else None


def _with_extra(tree: list) -> list:
    parent, leaf = CT_GENERAL_V2_EXTRA
    return [(name, facet, [*children, leaf] if name == parent else children) for name, facet, children in tree]


def _rubric(rubric_id: str, name: str, kind: str, subject: str | None, version: int, published_on: dt.date,
            tree: list, bands: list) -> Rubric:
    indicators: list[dict] = []
    _flatten(tree, None, 1, indicators)
    total = sum(i["max_score"] for i in indicators if i.get("max_score"))
    for ind in indicators:
        if ind.get("max_score"):
            ind["weight"] = round(ind["max_score"] / total, 4)
        ind.pop("facet")
    return Rubric(rubric_id=rubric_id, rubric_name=name, kind=kind, version=version, published_on=published_on,
                  subject=subject, bands=[{"band": b, "label_zh": z, "min_ratio": r} for b, z, r in bands],
                  indicators=indicators)


def _flatten(tree: list, parent: str | None, level: int, out: list[dict], facet: str = "") -> None:
    for position, node in enumerate(tree, start=1):
        ident = f"{parent}.{position}" if parent else str(position)
        if len(node) == 2:  # a leaf
            out.append({"indicator_id": ident, "parent_id": parent, "level": level, "name": node[0],
                        "position": position, "max_score": float(node[1]), "facet": facet})
        else:
            name, node_facet, children = node
            out.append({"indicator_id": ident, "parent_id": parent, "level": level, "name": name,
                        "position": position, "facet": node_facet})
            _flatten(children, ident, level + 1, out, node_facet)


def _leaves(documents: list[Rubric], specs: list) -> pd.DataFrame:
    facets: dict[tuple[str, str], str] = {}
    for rid, _name, _kind, _subject, tree, _bands in specs:
        flat: list[dict] = []
        _flatten(_with_extra(tree) if rid == "RUB-CT-GEN" else tree, None, 1, flat)
        facets.update({(rid, i["indicator_id"]): i["facet"] for i in flat})
    rows = []
    for doc in documents:
        for leaf in doc.leaves():
            rows.append((doc.rubric_id, doc.version, doc.published_on, leaf.indicator_id,
                         leaf.indicator_id.split(".")[0], facets[(doc.rubric_id, leaf.indicator_id)],
                         leaf.max_score, leaf.weight))
    return pd.DataFrame(rows, columns=["rubric_id", "version", "published_on", "indicator_id", "level1", "facet",
                                       "max_score", "weight"])


def document_bytes(rubrics: list[Rubric]) -> bytes:
    payload = RubricFile(rubrics=rubrics).model_dump(mode="json")
    return orjson.dumps(payload, option=orjson.OPT_INDENT_2) + b"\n"


# --- observers --------------------------------------------------------------------------------------
ROLE_OFFSET = {"self": 0.03, "peer": 0.01, "researcher": -0.01, "expert": -0.02, "principal": 0.0}
OBSERVER_NOISE = 0.06
LESSON_NOISE = 0.035
BIAS = 0.11


def observers(k: Knobs, ref: Reference) -> pd.DataFrame:
    """Observer pools: district researchers (兼职教研员), school principals, university experts; some biased."""
    rng = stream(k.seed, "rubrics", "observers")
    k12 = ref.k12_versions()
    k12 = k12[k12["delivered_on"] == k.start].merge(ref.schools.drop_duplicates("school_id")[
        ["school_id", "district_code"]], on="school_id")
    senior = k12[k12["title"].isin(["senior_teacher", "principal_senior_teacher"])]
    rows = []
    for _district, group in senior.groupby("district_code", sort=True):
        pick = rng.choice(len(group), min(len(group), int(rng.integers(2, 5))), replace=False)
        rows += [(t, "researcher", s) for t, s in zip(group["teacher_id"].iloc[np.sort(pick)],
                                                       group["school_id"].iloc[np.sort(pick)], strict=True)]
    rank = k12["title"].map({"principal_senior_teacher": 0, "senior_teacher": 1}).fillna(2)
    heads = k12.assign(_rank=rank).sort_values(["school_id", "_rank", "birth_year", "teacher_id"])
    rows += [(t, "principal", s) for t, s in heads.drop_duplicates("school_id")[["teacher_id", "school_id"]]
             .itertuples(index=False)]
    uni = ref.university_teachers()
    prof = uni[uni["title"].isin(["professor", "associate_professor"])]
    local = prof[prof["university_id"].isin(ref.universities.loc[ref.universities["province_code"].isin(
        k.scale.k12_provinces or ref.universities["province_code"]), "university_id"])]
    pool = local if len(local) >= 5 else prof
    n_expert = min(len(pool), max(6, len(ref.districts) * 2))
    rows += [(t, "expert", "") for t in pool["teacher_id"].iloc[np.sort(rng.choice(len(pool), n_expert,
                                                                                   replace=False))]]
    frame = pd.DataFrame(rows, columns=["observer_id", "role", "school_id"])
    frame["bias"] = 0.0
    biasable = frame.index[frame["role"].isin(["researcher", "expert"])]
    n_biased = min(k.scale.biased_observers, len(biasable))
    chosen = rng.choice(biasable, n_biased, replace=False)
    frame.loc[chosen, "bias"] = np.where(np.arange(n_biased) % 2 == 0, BIAS, -BIAS)
    return frame


# --- scores -----------------------------------------------------------------------------------------
@dataclass
class Scores:
    rows: pd.DataFrame  # contract fields + arrival (the batch date) + correction flag
    submissions: pd.DataFrame  # lesson_id, observer_id, role, rubric_id, scored_at (one per observer and rubric)


def score(k: Knobs, rubric_set: RubricSet, lessons: pd.DataFrame, ref: Reference, pool: pd.DataFrame) -> Scores:
    rng = stream(k.seed, "rubrics", "scores")
    chosen = (lessons["delivery"] != "precoded").to_numpy() | (rng.random(len(lessons)) < 0.25)
    scored = lessons.loc[chosen, ["lesson_id", "teacher_id", "school_id", "lesson_date", "start_time", "subject",
                                  "style", "trend", "skill", "terms_on"]]
    pairs = _observer_pairs(rng, scored, ref, pool)
    if pairs.empty:
        return _no_scores()
    subs = _submissions(rng, k, pairs, rubric_set)
    leaves = _explode(subs, rubric_set)
    strengths = _strengths(k, lessons["teacher_id"].unique())
    leaves["score"] = _score_values(rng, leaves, strengths, pool)
    leaves = leaves[["lesson_id", "rubric_id", "indicator_id", "observer_id", "role", "score", "scored_at", "arrival",
                     "max_score", "lesson_date", "teacher_id"]]
    rows = pd.concat([leaves.assign(correction=False), _corrections(rng, leaves)], ignore_index=True)
    rows = rows[rows["arrival"] <= k.end]
    rows = rows.sort_values(["arrival", "scored_at", "lesson_id", "observer_id", "rubric_id", "indicator_id"],
                            kind="stable").reset_index(drop=True)
    return Scores(rows, subs[subs["arrival"] <= k.end].reset_index(drop=True))


def _no_scores() -> Scores:
    rows = pd.DataFrame(columns=["lesson_id", "rubric_id", "indicator_id", "observer_id", "role", "score",
                                 "scored_at", "arrival", "max_score", "lesson_date", "teacher_id", "correction"])
    subs = pd.DataFrame(columns=["lesson_id", "observer_id", "role", "rubric_id", "scored_at", "arrival",
                                 "lesson_date", "start_time"])
    return Scores(rows, subs)


def _observer_pairs(rng: np.random.Generator, lessons: pd.DataFrame, ref: Reference,
                    pool: pd.DataFrame) -> pd.DataFrame:
    """Who observed each scored lesson: self, one or two peers, maybe a researcher, an expert, the principal."""
    k12 = ref.k12_versions().drop_duplicates("teacher_id")
    colleagues = k12.groupby("school_id")["teacher_id"].apply(np.array).to_dict()
    district = ref.schools.drop_duplicates("school_id").set_index("school_id")["district_code"]
    researchers = pool[pool["role"] == "researcher"].merge(district.rename("district_code"), left_on="school_id",
                                                           right_index=True)
    by_district = researchers.groupby("district_code")["observer_id"].apply(np.array).to_dict()
    principal = pool[pool["role"] == "principal"].set_index("school_id")["observer_id"].to_dict()
    experts = pool.loc[pool["role"] == "expert", "observer_id"].to_numpy()
    out = []
    u = rng.random((len(lessons), 6))
    for i, row in enumerate(lessons[["lesson_id", "teacher_id", "school_id"]].itertuples(index=False)):
        chosen = [(row.teacher_id, "self")] if u[i, 0] < 0.8 else []
        mates = colleagues.get(row.school_id, np.array([]))
        mates = mates[mates != row.teacher_id]
        n_peer = (1 + (u[i, 1] < 0.4)) if len(mates) else 0
        chosen += [(t, "peer") for t in rng.choice(mates, min(n_peer, len(mates)), replace=False)]
        local = by_district.get(district.get(row.school_id), np.array([]))
        if u[i, 2] < 0.45 and len(local):
            chosen.append((local[rng.integers(len(local))], "researcher"))
        if u[i, 3] < 0.15 and len(experts):
            chosen.append((experts[rng.integers(len(experts))], "expert"))
        head = principal.get(row.school_id)
        if u[i, 4] < 0.25 and head and head != row.teacher_id:
            chosen.append((head, "principal"))
        seen: set[str] = set()
        for observer, role in chosen:
            if observer not in seen:
                seen.add(observer)
                out.append((row.lesson_id, observer, role))
    pairs = pd.DataFrame(out, columns=["lesson_id", "observer_id", "role"])
    return pairs.merge(lessons, on="lesson_id")


def _submissions(rng: np.random.Generator, k: Knobs, pairs: pd.DataFrame, rubric_set: RubricSet) -> pd.DataFrame:
    """One submission per observer and rubric: the classroom rubric always, the design rubric often."""
    n = len(pairs)
    subject_rubric = pairs["subject"].map({"mathematics": "RUB-CT-MATH", "english": "RUB-CT-ENG"})
    use_subject = subject_rubric.notna() & (rng.random(n) < 0.7)
    classroom = pairs.assign(rubric_id=np.where(use_subject, subject_rubric, "RUB-CT-GEN"))
    design = pairs[(pairs["role"] != "principal").to_numpy() & (rng.random(n) < 0.6)].assign(rubric_id="RUB-TD-GEN")
    subs = pd.concat([classroom, design], ignore_index=True)
    m = len(subs)
    delay = np.where(rng.random(m) < 0.35, 0, 1 + np.minimum(9, rng.geometric(0.3, m) - 1))
    seconds = rng.integers(16 * 3600, 22 * 3600, m)
    day = pd.to_datetime(subs["lesson_date"]) + pd.to_timedelta(delay, unit="D")
    subs["scored_at"] = day + pd.to_timedelta(seconds, unit="s")
    subs["arrival"] = day.dt.date
    subs["version"] = _version_on(rubric_set, subs["rubric_id"].to_numpy(), subs["arrival"].to_numpy())
    return subs


def _version_on(rubric_set: RubricSet, rubric_ids: np.ndarray, days: np.ndarray) -> np.ndarray:
    versions = np.ones(len(rubric_ids), np.int16)
    for doc in rubric_set.documents:
        versions = np.where((rubric_ids == doc.rubric_id) & (days >= doc.published_on),
                            np.maximum(versions, doc.version), versions)
    return versions


def _explode(subs: pd.DataFrame, rubric_set: RubricSet) -> pd.DataFrame:
    leaves = rubric_set.leaves[["rubric_id", "version", "indicator_id", "facet", "max_score"]]
    return subs.merge(leaves, on=["rubric_id", "version"], how="inner")


def _strengths(k: Knobs, teacher_ids: np.ndarray) -> pd.DataFrame:
    """Each teacher's own strengths and weaknesses per facet (fixed over the year)."""
    rng = stream(k.seed, "rubrics", "strengths")
    facets = sorted({"goals", "analysis", "methods", "practice", "basics", "questions", "culture"})
    ids = np.sort(teacher_ids)
    values = np.round(rng.normal(0, 0.05, (len(ids), len(facets))), 3)
    return pd.DataFrame(values, index=ids, columns=facets)


def _score_values(rng: np.random.Generator, leaves: pd.DataFrame, strengths: pd.DataFrame,
                  pool: pd.DataFrame) -> np.ndarray:
    n = len(leaves)
    style = pd.Categorical(leaves["style"], categories=STYLES).codes
    facets = sorted(set(leaves["facet"]))
    table = np.array([FACET_EFFECT.get(f, (0.0, 0.0, 0.0, 0.0)) for f in facets])
    effect = table[pd.Categorical(leaves["facet"], categories=facets).codes, style]
    gain = np.select([leaves["trend"] == "improving", leaves["trend"] == "declining"], [0.025, -0.02], 0.0)
    own = strengths.to_numpy()[strengths.index.get_indexer(leaves["teacher_id"]),
                               strengths.columns.get_indexer(leaves["facet"])]
    lesson_key = pd.factorize(leaves["lesson_id"])[0]
    lesson_noise = rng.normal(0, LESSON_NOISE, lesson_key.max() + 1 if n else 0)[lesson_key] if n else 0
    bias = leaves["observer_id"].map(pool.drop_duplicates("observer_id").set_index("observer_id")["bias"]).fillna(0)
    ratio = (leaves["skill"].to_numpy() + gain * leaves["terms_on"].to_numpy() + effect + own + lesson_noise
             + bias.to_numpy() + leaves["role"].map(ROLE_OFFSET).to_numpy() + rng.normal(0, OBSERVER_NOISE, n))
    ratio = np.clip(ratio, 0.25, 1.0)
    return np.round(ratio * leaves["max_score"].to_numpy() * 2) / 2  # half points


def _corrections(rng: np.random.Generator, leaves: pd.DataFrame) -> pd.DataFrame:
    """About 2 % of submissions get one leaf corrected 1–5 days later (same key, later scored_at)."""
    first = leaves.drop_duplicates(["lesson_id", "observer_id", "rubric_id"])
    picked = first[rng.random(len(first)) < 0.02]
    fixes = leaves.merge(picked[["lesson_id", "observer_id", "rubric_id"]]).groupby(
        ["lesson_id", "observer_id", "rubric_id"], sort=True).head(1).copy()
    days = rng.integers(1, 6, len(fixes))
    fixes["scored_at"] = (fixes["scored_at"] + pd.to_timedelta(days, unit="D")
                          + pd.to_timedelta(rng.integers(0, 600, len(fixes)), unit="m"))
    fixes["arrival"] = fixes["scored_at"].dt.date
    step = rng.choice([-2.0, -1.0, 1.0, 2.0], len(fixes))
    fixes["score"] = np.clip(fixes["score"].to_numpy() + step, 0, fixes["max_score"].to_numpy())
    return fixes.assign(correction=True)
