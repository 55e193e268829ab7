"""The tag dictionary (评价标签): the dimensions of 第九条, one code each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class TagCode(StrEnum):
    ITEM_MANAGEMENT = "ITEM_MANAGEMENT"
    ITEM_PROCESS = "ITEM_PROCESS"
    ITEM_MATERIALS = "ITEM_MATERIALS"
    ITEM_NORMS = "ITEM_NORMS"
    ITEM_EFFICIENCY = "ITEM_EFFICIENCY"
    ITEM_FEES = "ITEM_FEES"
    ITEM_CONVENIENCE = "ITEM_CONVENIENCE"
    PLATFORM_CONVENIENCE = "PLATFORM_CONVENIENCE"
    PLATFORM_STABILITY = "PLATFORM_STABILITY"
    PLATFORM_EFFICIENCY = "PLATFORM_EFFICIENCY"
    PLATFORM_SECURITY = "PLATFORM_SECURITY"
    STAFF_ATTITUDE = "STAFF_ATTITUDE"
    STAFF_SKILL = "STAFF_SKILL"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Tag:
    code: TagCode
    dimension_zh: str
    dimension: str
    negative_zh: str
    positive_zh: str

    @property
    def labels(self) -> tuple[str, ...]:
        """Every text a source may send for this tag: whole labels and their 、-separated parts."""
        texts = {self.negative_zh, self.positive_zh, self.dimension_zh}
        for label in (self.negative_zh, self.positive_zh):
            texts.update(part for part in label.split("、") if part)
        return tuple(sorted(texts))


TAGS: tuple[Tag, ...] = (
    Tag(TagCode.ITEM_MANAGEMENT, "服务事项管理", "service item management", "事项信息不准确", "事项信息准确"),
    Tag(TagCode.ITEM_PROCESS, "办事流程", "process", "办事流程繁琐", "办事流程简便"),
    Tag(TagCode.ITEM_MATERIALS, "办事材料", "materials", "材料要求不合理、重复提交", "材料要求合理、无需重复提交"),
    Tag(TagCode.ITEM_NORMS, "服务规范", "service norms", "服务不规范", "服务规范"),
    Tag(TagCode.ITEM_EFFICIENCY, "服务效率", "efficiency", "办理时间过长、等候时间长", "办理快捷、等候时间短"),
    Tag(TagCode.ITEM_FEES, "服务收费", "fees", "收费不合理", "收费合理"),
    Tag(TagCode.ITEM_CONVENIENCE, "服务便民度", "convenience", "办事不方便、跑腿多", "办事方便、少跑腿"),
    Tag(TagCode.PLATFORM_CONVENIENCE, "平台便捷性", "platform ease of use", "操作不便捷", "操作便捷"),
    Tag(TagCode.PLATFORM_STABILITY, "平台稳定性", "platform stability", "系统运行不稳定", "系统运行稳定"),
    Tag(TagCode.PLATFORM_EFFICIENCY, "平台高效性", "platform responsiveness", "系统响应慢", "系统响应快"),
    Tag(TagCode.PLATFORM_SECURITY, "平台安全性", "platform security", "担心信息安全", "信息安全有保障"),
    Tag(TagCode.STAFF_ATTITUDE, "工作人员服务态度", "staff attitude", "服务态度差", "服务态度好"),
    Tag(TagCode.STAFF_SKILL, "工作人员服务水平", "staff skill", "业务不熟练", "业务熟练"),
    Tag(TagCode.OTHER, "其他", "other", "其他", "其他"),
)

TAGS_BY_CODE: dict[TagCode, Tag] = {tag.code: tag for tag in TAGS}


def _label_index() -> dict[str, TagCode]:
    index: dict[str, TagCode] = {}
    for tag in TAGS:
        for text in tag.labels:
            index.setdefault(text, tag.code)
    return index


LABEL_INDEX: dict[str, TagCode] = _label_index()


def match_label(text: str) -> TagCode | None:
    """The tag a label text names, by the dictionary's Chinese texts; None when nothing matches."""
    return LABEL_INDEX.get(text.strip())
