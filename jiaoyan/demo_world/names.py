"""Plausible generated Chinese names: people, places, schools, universities, offices.

Place names are generated (two characters from the common stock of real place names),
so codes look real (PPCCDD) but no generated city claims to be a real one.
"""

from __future__ import annotations

import numpy as np

# The most common surnames, roughly by frequency (weights fall off with rank).
SURNAMES = tuple(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾"
    "夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_F = tuple("芳娜敏静丽艳娟霞秀英华慧婷雪琳颖洁佳欣怡萍红玲燕倩晶梅兰菲璐瑶晨曦雯蕾薇露琪嘉悦宁馨月")
GIVEN_M = tuple("伟强磊军勇杰涛明超刚平辉鹏华飞鑫波斌宇浩凯健俊帆峰志建国文博然宏晨阳昊旭东林海松亮")
GIVEN_ANY = tuple("子一思雨欣梓晓晨天文嘉明立云永春建新海家")

PLACE_FIRST = tuple("清安平长永兴和宁丰新华龙云金石桂临开嘉瑞泰宜昌阳江河山湖溪东西南北中高明德宝庆富")
PLACE_SECOND = tuple("源泉阳川城水山林桥岭州溪河沙湾洲坪田原江塘谷陵宁安丰乐平宾化昌")

COURSES = (
    "大学物理", "高等数学", "线性代数", "概率论与数理统计", "大学英语", "程序设计基础", "数据结构", "有机化学",
    "分析化学", "细胞生物学", "人体解剖学", "病理学", "中国近现代史纲要", "思想道德与法治", "马克思主义基本原理",
    "大学语文", "工程制图", "电路原理", "机械原理", "材料力学", "理论力学", "微观经济学", "会计学原理",
    "管理学", "教育学原理", "心理学导论", "中国古代文学", "现代汉语", "新闻传播学概论", "设计基础", "体育",
    "人工智能导论", "计算机网络", "操作系统", "数字电子技术", "土木工程概论", "生态学", "遗传学", "药理学",
    "临床医学导论", "护理学基础", "农学概论", "植物生理学", "地理信息系统", "统计学", "金融学", "法学导论",
)
SPECIALTIES = (
    "计算机科学与技术", "软件工程", "电子信息工程", "机械设计制造及其自动化", "土木工程", "化学工程与工艺",
    "临床医学", "护理学", "药学", "汉语言文学", "英语", "数学与应用数学", "物理学", "化学", "生物科学",
    "小学教育", "学前教育", "思想政治教育", "历史学", "地理科学", "会计学", "工商管理", "金融学", "法学",
    "新闻学", "农学", "动物医学", "环境工程", "材料科学与工程", "人工智能", "数据科学与大数据技术",
    "电气工程及其自动化", "交通运输", "建筑学", "食品科学与工程", "音乐学", "美术学", "体育教育",
)
REFORM_TOPICS = (
    "课程思政教学改革", "新工科人才培养模式改革", "新医科教学改革", "新农科人才培养", "新文科建设",
    "一流课程建设", "混合式教学改革", "实验教学改革", "创新创业教育改革", "教师教学发展", "智慧教学与评价改革",
    "拔尖创新人才培养", "产教融合协同育人", "基础学科教学改革", "教学质量保障", "知识图谱与课程数字化",
    "师范生培养质量提升", "职业教育教学改革", "跨学科教学研究", "人工智能赋能教学",
)
UNIVERSITY_KINDS = (
    "大学", "师范大学", "理工大学", "科技大学", "工业大学", "医科大学", "农业大学", "财经大学", "中医药大学",
    "外国语大学", "交通大学", "师范学院", "医学院", "工程学院", "职业技术大学", "民族大学", "艺术学院", "体育学院",
)
STAGE_SCHOOL = {"primary": "小学", "junior_secondary": "初级中学", "senior_secondary": "高级中学"}
ORDINALS = "一二三四五六七八九十"


def _weights(n: int, power: float = 0.8) -> np.ndarray:
    w = 1.0 / np.arange(1, n + 1) ** power
    return w / w.sum()


def person_names(rng: np.random.Generator, genders: np.ndarray) -> list[str]:
    """A name per gender ('F' / 'M'): surname plus one or two given characters."""
    n = len(genders)
    surnames = rng.choice(len(SURNAMES), n, p=_weights(len(SURNAMES)))
    two = rng.random(n) < 0.72
    first_any = rng.random(n) < 0.35
    g1 = rng.integers(0, 1 << 30, n)
    g2 = rng.integers(0, 1 << 30, n)
    a1 = rng.integers(0, len(GIVEN_ANY), n)
    out = []
    for i in range(n):
        stock = GIVEN_F if genders[i] == "F" else GIVEN_M
        last = stock[g2[i] % len(stock)]
        if two[i]:
            first = GIVEN_ANY[a1[i]] if first_any[i] else stock[g1[i] % len(stock)]
            out.append(SURNAMES[surnames[i]] + first + last)
        else:
            out.append(SURNAMES[surnames[i]] + last)
    return out


def place_names(rng: np.random.Generator, n: int, taken: set[str] | None = None) -> list[str]:
    """``n`` distinct two-character place stems, avoiding ``taken`` (updated in place)."""
    taken = set() if taken is None else taken
    out: list[str] = []
    while len(out) < n:
        stem = PLACE_FIRST[rng.integers(len(PLACE_FIRST))] + PLACE_SECOND[rng.integers(len(PLACE_SECOND))]
        if stem not in taken and stem[0] != stem[1]:
            taken.add(stem)
            out.append(stem)
    return out


def province_stem(name: str) -> str:
    """湖南省 → 湖南, 广西壮族自治区 → 广西, 北京市 → 北京."""
    for suffix in ("壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "省", "市"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def school_name(district: str, stage: str, rural: bool, ordinal: int, town: str) -> str:
    """E.g. 清源区第三小学, 安平县永兴镇中心小学, 长宁区实验初级中学."""
    kind = STAGE_SCHOOL[stage]
    if rural and stage == "primary":
        return f"{district}{town}镇中心小学" if ordinal == 0 else f"{district}{town}镇第{_ordinal(ordinal)}小学"
    if ordinal == 0:
        return f"{district}实验{kind}"
    return f"{district}第{_ordinal(ordinal)}{kind}"


def _ordinal(i: int) -> str:
    if i <= 10:
        return ORDINALS[i - 1]
    tens, ones = divmod(i, 10)
    return ("" if tens == 1 else ORDINALS[tens - 1]) + "十" + (ORDINALS[ones - 1] if ones else "")


def vtro_name(rng: np.random.Generator, content_type: str, prefix: str) -> str:
    """E.g. 全国高校大学物理课程群虚拟教研室, 湖南高校课程思政教学改革虚拟教研室."""
    if content_type == "course_group":
        course = COURSES[rng.integers(len(COURSES))]
        return f"{prefix}{course}课程{'群' if rng.random() < 0.4 else ''}虚拟教研室"
    if content_type == "specialty_building":
        return f"{prefix}{SPECIALTIES[rng.integers(len(SPECIALTIES))]}专业虚拟教研室"
    return f"{prefix}{REFORM_TOPICS[rng.integers(len(REFORM_TOPICS))]}虚拟教研室"
