"""The indicators of a 通报, each defined once: its numerator and denominator in Chinese and English.

Every figure is computed from a cell's counters (`hub.reports.cells`), never from ratings, so a report
and a rebuild agree by construction. The counter names:

  g.<grade>   adopted ratings that are not default ratings, per grade (R1)
  d.<grade>   adopted default ratings (R6), per grade
  act         adopted active ratings (evaluation_type active); additional ones are g.* but not act
  na          ratings not adopted (R14, R17): out of every figure, shown as a count
  t           (tag cells) adopted bad ratings carrying the tag (第九条)
  wo          work orders of adopted bad ratings (应整改)            wo_fixed    ...replied (R11) or resolved (R12)
  wo_on_time  ...of those, within the deadline                        wo_real     ...of real-name ratings (R13)
  wo_visited  ...of those, visited by a named person (R13)            sv.<grade>  follow-up survey answers (R16)
  od          orders overdue now (escalated and still in handling)    ext         extensions approved (R15)
  ap          appeals filed (R17)                                     ap_up       ...upheld (R17)
"""

from __future__ import annotations

from collections.abc import Mapping

from hub.rating import Grade
from hub.reports.document import IndicatorDefinition, IndicatorValue
from hub.reports.settings import ReportSettings

BAD_GRADES = frozenset(g for g in Grade if g.is_bad)

RATED_TOTAL = "rated_total"
GOOD_RATE = "good_rate"
SATISFIED_RATE = "satisfied_rate"
BAD_COUNT = "bad_count"
BAD_RATE = "bad_rate"
ACTIVE_RATE = "active_rate"
DEFAULT_COUNT = "default_count"
NOT_ADOPTED = "not_adopted"
RECTIFICATION_RATE = "rectification_rate"
ON_TIME_RATE = "on_time_rate"
REVISIT_RATE = "revisit_rate"
REVISIT_SATISFACTION = "revisit_satisfaction"
OVERDUE_NOW = "overdue_now"
EXTENSIONS_USED = "extensions_used"
APPEALS_FILED = "appeals_filed"
APPEALS_UPHELD = "appeals_upheld"
TAG_COUNT = "tag_count"


def _zh(grades: frozenset[Grade]) -> str:
    return "、".join(g.zh for g in Grade if g in grades)


def definitions(settings: ReportSettings | None = None) -> tuple[IndicatorDefinition, ...]:
    """The footnotes, worded for the settings in force (which grades are 好评, whether defaults count)."""
    s = settings or ReportSettings()
    counted_zh = "含默认评价" if s.count_default_ratings else "不含默认评价"
    counted_en = "default ratings included" if s.count_default_ratings else "default ratings left out"
    total_zh = f"评价总量（{counted_zh}，不含不予采纳的评价）"
    total_en = f"ratings counted ({counted_en}, not-adopted ratings left out)"
    d = IndicatorDefinition
    return (
        d(code=RATED_TOTAL, name_zh="评价总量", name_en="ratings counted", unit="count",
          numerator_zh=f"统计期内评价数，{counted_zh}；经核实不予采纳（第十七条(四)）或申诉成立（第十九条）的评价不计",
          numerator_en=f"ratings in the period, {counted_en}; ratings not adopted (R14) or appealed successfully "
                       "(R17) are left out", rule="R1, R14, R17"),
        d(code=GOOD_RATE, name_zh="好评率", name_en="good-rating rate", unit="ratio",
          numerator_zh=f"评价等级为{_zh(s.good_grades)}的评价数", numerator_en="ratings graded "
          + ", ".join(g.value for g in Grade if g in s.good_grades), denominator_zh=total_zh, denominator_en=total_en,
          rule="R1"),
        d(code=SATISFIED_RATE, name_zh="满意率", name_en="satisfaction rate", unit="ratio",
          numerator_zh=f"评价等级为{_zh(s.satisfied_grades)}的评价数", numerator_en="ratings graded "
          + ", ".join(g.value for g in Grade if g in s.satisfied_grades), denominator_zh=total_zh,
          denominator_en=total_en, rule="R1"),
        d(code=BAD_COUNT, name_zh="差评数", name_en="bad ratings", unit="count",
          numerator_zh="评价等级为不满意、非常不满意的评价数", numerator_en="ratings graded dissatisfied or very "
          "dissatisfied", rule="R1"),
        d(code=BAD_RATE, name_zh="差评率", name_en="bad-rating rate", unit="ratio",
          numerator_zh="差评数", numerator_en="bad ratings", denominator_zh=total_zh, denominator_en=total_en,
          note_zh="差评率 = 差评数 / 评价数", note_en="bad ratings / ratings counted", rule="R1"),
        d(code=ACTIVE_RATE, name_zh="主动评价率", name_en="active-rating rate", unit="ratio",
          numerator_zh="评价人主动作出的评价数（首次评价，不含追加评价）", numerator_en="active ratings (the rater's "
          "first rating; additional ones left out)", denominator_zh="全部评价数（含默认评价，不含不予采纳）",
          denominator_en="all ratings (default ratings included, not-adopted left out)", rule="R6"),
        d(code=DEFAULT_COUNT, name_zh="默认评价数", name_en="default ratings", unit="count",
          numerator_zh="评价期满未评价、系统默认为满意的评价数（单列）", numerator_en="ratings defaulted to satisfied "
          "when the rating window closed (counted apart)", rule="R6"),
        d(code=NOT_ADOPTED, name_zh="不予采纳数", name_en="ratings not adopted", unit="count",
          numerator_zh="经核实不予采纳或申诉成立的评价数", numerator_en="ratings not adopted after verification or "
          "an upheld appeal", rule="R14, R17"),
        d(code=RECTIFICATION_RATE, name_zh="差评整改率", name_en="rectification rate", unit="ratio",
          numerator_zh="已回复（简单工单）或已整改（复杂工单）的差评工单数", numerator_en="work orders replied "
          "(simple) or resolved (complex)", denominator_zh="应整改的差评工单数（不含不予采纳）",
          denominator_en="work orders due (not-adopted ones left out)", rule="R10–R12"),
        d(code=ON_TIME_RATE, name_zh="按时整改率", name_en="on-time rectification rate", unit="ratio",
          numerator_zh="在时限内回复或整改的工单数", numerator_en="work orders replied or resolved within the "
          "deadline (extensions granted included)", denominator_zh="已回复或已整改的工单数",
          denominator_en="work orders replied or resolved", rule="R11, R12, R15"),
        d(code=REVISIT_RATE, name_zh="实名差评回访率", name_en="real-name follow-up rate", unit="ratio",
          numerator_zh="已由专人回访核实的实名差评工单数", numerator_en="real-name work orders visited by a named "
          "person", denominator_zh="实名差评工单数", denominator_en="work orders of real-name bad ratings",
          note_zh="目标 100%", note_en="target 100 %", rule="R13"),
        d(code=REVISIT_SATISFACTION, name_zh="回访满意度", name_en="follow-up satisfaction", unit="ratio",
          numerator_zh=f"回访测评为{_zh(s.satisfied_grades)}的工单数", numerator_en="surveys answering "
          + ", ".join(g.value for g in Grade if g in s.satisfied_grades),
          denominator_zh="作出回访测评的工单数（拒绝或无法联系的不计）", denominator_en="surveys answered (declined "
          "or unreachable left out)", rule="R16"),
        d(code=OVERDUE_NOW, name_zh="当前超期工单数", name_en="orders overdue now", unit="count",
          numerator_zh="已超过时限、仍在办理中的工单数", numerator_en="work orders past a deadline and still in "
          "handling", rule="R11, R12"),
        d(code=EXTENSIONS_USED, name_zh="延期次数", name_en="extensions used", unit="count",
          numerator_zh="经同级管理部门批准的延期次数", numerator_en="extensions approved by the managing department",
          rule="R15"),
        d(code=APPEALS_FILED, name_zh="申诉数", name_en="appeals filed", unit="count",
          numerator_zh="承办单位提出申诉的工单数", numerator_en="work orders appealed by the unit", rule="R17"),
        d(code=APPEALS_UPHELD, name_zh="申诉成立数", name_en="appeals upheld", unit="count",
          numerator_zh="经核实申诉成立的工单数（评价不予采纳）", numerator_en="appeals upheld (the rating is not "
          "adopted)", rule="R17"),
        d(code=TAG_COUNT, name_zh="差评标签次数", name_en="bad-rating tag count", unit="count",
          numerator_zh="带有该标签的差评数（一条差评可有多个标签）", numerator_en="bad ratings carrying the tag (one "
          "rating may carry several)", rule="第九条"),
    )  # fmt: skip


def _sum(counters: Mapping[str, int], prefix: str, grades: frozenset[Grade] | None = None) -> int:
    return sum(counters.get(f"{prefix}{g.value}", 0) for g in Grade if grades is None or g in grades)


def counted_grades(counters: Mapping[str, int], settings: ReportSettings) -> dict[Grade, int]:
    """R1: the grade distribution of the ratings counted (defaults in or out, as set)."""
    return {
        g: counters.get(f"g.{g.value}", 0) + (counters.get(f"d.{g.value}", 0) if settings.count_default_ratings else 0)
        for g in Grade
    }


def _rate(code: str, numerator: int, denominator: int) -> IndicatorValue:
    value = numerator / denominator if denominator else None
    return IndicatorValue(code=code, value=value, numerator=numerator, denominator=denominator)


def _count(code: str, value: int) -> IndicatorValue:
    return IndicatorValue(code=code, value=value)


def compute(counters: Mapping[str, int], settings: ReportSettings) -> dict[str, IndicatorValue]:
    """Every indicator of one row from its counters; a rate over nothing is None, not 0."""
    grades = counted_grades(counters, settings)
    total = sum(grades.values())
    bad = sum(n for g, n in grades.items() if g in BAD_GRADES)
    defaults = _sum(counters, "d.")
    everything = _sum(counters, "g.") + defaults
    surveyed = _sum(counters, "sv.")
    out = [
        _count(RATED_TOTAL, total),
        _rate(GOOD_RATE, sum(n for g, n in grades.items() if g in settings.good_grades), total),
        _rate(SATISFIED_RATE, sum(n for g, n in grades.items() if g in settings.satisfied_grades), total),
        _count(BAD_COUNT, bad),
        _rate(BAD_RATE, bad, total),
        _rate(ACTIVE_RATE, counters.get("act", 0), everything),
        _count(DEFAULT_COUNT, defaults),
        _count(NOT_ADOPTED, counters.get("na", 0)),
        _rate(RECTIFICATION_RATE, counters.get("wo_fixed", 0), counters.get("wo", 0)),
        _rate(ON_TIME_RATE, counters.get("wo_on_time", 0), counters.get("wo_fixed", 0)),
        _rate(REVISIT_RATE, counters.get("wo_visited", 0), counters.get("wo_real", 0)),
        _rate(REVISIT_SATISFACTION, _sum(counters, "sv.", settings.satisfied_grades), surveyed),
        _count(OVERDUE_NOW, counters.get("od", 0)),
        _count(EXTENSIONS_USED, counters.get("ext", 0)),
        _count(APPEALS_FILED, counters.get("ap", 0)),
        _count(APPEALS_UPHELD, counters.get("ap_up", 0)),
    ]
    if "t" in counters:
        out.append(_count(TAG_COUNT, counters["t"]))
    return {v.code: v for v in out}
