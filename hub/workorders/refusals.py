"""Why a work-order action is refused: one stable code each, its rule, HTTP status, English and Chinese."""

from __future__ import annotations

from hub.errors import Problem

__all__ = ["REFUSALS", "VersionConflict", "WorkOrderError"]

# code -> (rule, HTTP status, English, Chinese). Messages may use {detail}.
REFUSALS: dict[str, tuple[str | None, int, str, str]] = {
    "NOT_A_BAD_RATING": ("R10", 409, "only a bad rating (dissatisfied or very dissatisfied, item or staff) opens a "
                         "work order", "仅“不满意”或“非常不满意”的差评生成差评工单"),
    "WORK_ORDER_STATE": (None, 409, "not allowed now: {detail}", "工单当前状态不允许此操作：{detail}"),
    "ORDER_CLOSED": (None, 409, "the work order is closed; nothing more can be done on it",
                     "工单已关闭，不能再进行任何操作"),
    "NOT_YOUR_ORDER": (None, 403, "this work order is not yours: {detail}", "无权操作该工单：{detail}"),
    "ACTION_NOT_FOR_ROLE": (None, 403, "this role may not take this action: {detail}",
                            "该角色无权执行此操作：{detail}"),
    "EXTENSION_LIMIT": ("R15", 409, "at most 2 extensions per work order, and {detail} approved already",
                        "延期办理以2次为限，已批准 {detail} 次"),
    "EXTENSION_AFTER_DEADLINE": ("R15", 409, "an extension must be requested before the deadline, which passed at "
                                 "{detail}", "延期申请须在办理期限届满前提出，期限已于 {detail} 届满"),
    "EXTENSION_PENDING": ("R15", 409, "an extension request is awaiting the managing department's decision",
                          "已有延期申请正待同级政务服务管理部门审核"),
    "NO_PENDING_EXTENSION": ("R15", 409, "there is no extension request to decide", "没有待审核的延期申请"),
    "EXTENSION_TIME_LIMIT_INVALID": ("R15", 409, "the new time limit must be later than the current deadline "
                                     "({detail})", "新的整改时限须晚于当前办理期限（{detail}）"),
    "APPEAL_WINDOW_CLOSED": ("R17", 409, "an appeal must be filed within 3 working days after dispatch; the window "
                             "closed at {detail}", "申诉须在工单派发后3个工作日内提出，已于 {detail} 截止"),
    "APPEAL_ALREADY_FILED": ("R17", 409, "this work order has been appealed already", "该工单已提出过申诉"),
    "APPEAL_PENDING": ("R17", 409, "an appeal is awaiting the managing department's review",
                       "申诉正待同级政务服务管理部门核实"),
    "APPEAL_REJECTED": ("R17", 409, "the managing department rejected the appeal; the rating stands",
                        "申诉经核实未予支持，差评结果予以采纳"),
    "NO_PENDING_APPEAL": ("R17", 409, "there is no appeal to decide", "没有待核实的申诉"),
    "FOLLOW_UP_REQUIRED": ("R13", 409, "a real-name bad rating needs its follow-up visit first",
                           "实名差评件须先由专人回访核实"),
    "SURVEY_REQUIRED": ("R16", 409, "the rater's satisfaction with the handling must be surveyed first",
                        "须先完成差评整改回访满意度测评"),
    "ESCALATION_NOT_DUE": (None, 409, "no escalation is due: {detail}", "无需升级督办：{detail}"),
    "REMINDER_NOT_DUE": (None, 409, "no reminder is due: {detail}", "无需提醒：{detail}"),
    "DEADLINES_CURRENT": (None, 409, "no provisional deadline changes with the calendar as loaded",
                          "按当前已加载的日历，暂定期限无需重算"),
    "TIME_BEFORE_HISTORY": (None, 409, "the action's time {detail} is earlier than the order's last event",
                            "操作时间 {detail} 早于工单的最近一条记录"),
    "VERSION_CONFLICT": (None, 409, "the work order changed meanwhile ({detail}); reload it and try again",
                         "工单已被修改（{detail}），请刷新后重试"),
}  # fmt: skip


class WorkOrderError(Exception):
    """A refused work-order action. `http_status` is 403 for ownership and role, 409 for state and deadline."""

    def __init__(self, code: str, detail: str = "", detail_zh: str | None = None) -> None:
        """`detail_zh` says the detail in Chinese; without it the detail is a value (a count) and reads the same."""
        rule, status, en, zh = REFUSALS[code]
        self.code = code
        self.rule = rule
        self.http_status = status
        self.detail = detail
        self.message = en.format(detail=detail)
        self.message_zh = zh.format(detail=detail if detail_zh is None else detail_zh)
        super().__init__(f"{code}: {self.message}")

    def as_problem(self, path: str = "") -> Problem:
        return Problem(self.code, path, self.message, self.message_zh, self.rule)


class VersionConflict(WorkOrderError):
    """Someone saved the order after it was read: optimistic locking refuses the lost update."""

    def __init__(self, order_id: str, expected: int, actual: int | None) -> None:
        super().__init__(
            "VERSION_CONFLICT", f"{order_id}: expected version {expected}, found {actual}",
            f"{order_id}：应为第 {expected} 版，实为第 {actual} 版",
        )  # fmt: skip
        self.order_id = order_id
        self.expected = expected
        self.actual = actual
