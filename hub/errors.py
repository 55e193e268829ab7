"""Refusals: every one has a stable machine code, a field path, English and Chinese messages.

`CATALOG` is the single list of codes the hub refuses with; docs and tests read it from here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")

# code -> (rule or None, English message, Chinese message). Messages may use {detail}.
CATALOG: dict[str, tuple[str | None, str, str]] = {
    "BODY_MALFORMED": (None, "the body cannot be parsed: {detail}", "报文无法解析：{detail}"),
    "BODY_UNDECODABLE": (None, "the body is not valid {detail}", "报文不是有效的 {detail}"),
    "BODY_EMPTY": (None, "the body is empty", "报文为空"),
    "CONTENT_TYPE_UNSUPPORTED": (None, "unsupported content type: {detail}", "不支持的内容类型：{detail}"),
    "BATCH_TOO_LARGE": (None, "a batch holds at most {detail} items", "一批最多 {detail} 条"),
    "FIELD_REQUIRED": (None, "this field is required", "缺少必填字段"),
    "FIELD_INVALID": (None, "invalid value: {detail}", "字段值无效：{detail}"),
    "FIELD_TOO_LONG": (None, "too long: {detail}", "内容过长：{detail}"),
    "FIELD_UNKNOWN": (None, "unknown field{detail}", "未知字段{detail}"),
    "VALUE_UNMAPPED": (None, "value not in this connector's table: {detail}", "取值不在该接入方码表中：{detail}"),
    "TIME_INVALID": (None, "not a time in the expected format: {detail}", "时间格式不正确：{detail}"),
    "TIME_NAIVE": (None, "a time needs its UTC offset", "时间必须带时区偏移"),
    "USCC_INVALID": (None, "not a unified social credit code: {detail}", "不是有效的统一社会信用代码：{detail}"),
    "USCC_CHECK_FAILED": (None, "unified social credit code check failed: {detail}",
                          "统一社会信用代码校验位错误：{detail}"),
    "REGION_CODE_INVALID": (None, "not an administrative division code: {detail}", "行政区划代码无效：{detail}"),
    "REGION_PROVINCE_UNKNOWN": (None, "unknown province: {detail}", "省级区划代码不存在：{detail}"),
    "LEVEL_MISMATCH": ("R3", "level does not match the division code: {detail}",
                       "评价对象层级与行政区划代码不符：{detail}"),
    "PHONE_INVALID": (None, "not a mobile number: {detail}", "手机号码无效：{detail}"),
    "ID_NUMBER_INVALID": (None, "not a resident ID number: {detail}", "身份证号码无效：{detail}"),
    "ID_NUMBER_CHECK_FAILED": (None, "resident ID number check failed: {detail}", "身份证号码校验位错误：{detail}"),
    "GRADE_UNKNOWN": ("R1", "grade outside the five-grade scale: {detail}", "评价等级不在五级之内：{detail}"),
    "TAG_UNKNOWN": (None, "not a tag of the dictionary: {detail}", "不是评价标签字典中的标签：{detail}"),
    "CHANNEL_UNKNOWN": (None, "unknown channel: {detail}", "未知的评价渠道：{detail}"),
    "BAD_RATING_WITHOUT_REASON": ("R2", "a bad rating needs at least one tag or a non-blank reason",
                                  "差评须选择评价标签或填写不满意原因"),
    "STAFF_RATING_NOT_ALLOWED": ("R4", "only window handling may rate the staff member ({detail})",
                                 "仅窗口办理可评价工作人员（{detail}）"),
    "RATED_BEFORE_HANDLED": (None, "rated before the service was handled", "评价时间早于办理时间"),
    "RATED_IN_FUTURE": (None, "rated in the future beyond the allowed clock skew: {detail}",
                        "评价时间超前于当前时间，超出允许的时钟偏差：{detail}"),
    "SIGNATURE_MISSING": (None, "the request is not signed: {detail}", "请求未签名：{detail}"),
    "SIGNATURE_INVALID": (None, "the request signature does not match", "请求签名不正确"),
    "TIMESTAMP_EXPIRED": (None, "the request timestamp is outside 5 minutes of the hub's clock: {detail}",
                          "请求时间戳超出允许的 5 分钟范围：{detail}"),
    "NONCE_REUSED": (None, "this nonce was used before (a replayed request)", "该随机数已使用过（重放请求）"),
    "CONNECTOR_UNKNOWN": (None, "unknown connector: {detail}", "未知的接入方：{detail}"),
    "CONNECTOR_DISABLED": (None, "the connector is disabled", "该接入方已停用"),
    "BODY_TOO_LARGE": (None, "the body is larger than {detail}", "报文超过 {detail}"),
    "RATING_CONFLICT": (None, "a rating with this source id and different content was accepted before; it stays",
                        "该来源评价编号已有内容不同的评价，以原评价为准"),
    "ALREADY_RATED": ("R8", "this case (step, visit) has its rating already; a default rating counts (R6)",
                      "该办件（环节、服务）已有评价：一事一评、一次一评，系统默认评价同样计入"),
    "ROUTE_UNKNOWN": (None, "no such route: {detail}", "接口不存在：{detail}"),
    "INTERNAL_ERROR": (None, "the hub could not finish this request; nothing accepted is lost, send it again later "
                       "({detail})", "系统暂时无法完成该请求，已接收的评价不会丢失，请稍后重新发送（{detail}）"),
    "HUB_BUSY": ("R8", "the hub could not finish this request in time ({detail}); nothing accepted is lost: send the "
                 "same ratings again after Retry-After seconds, and each one this request stored is answered "
                 "duplicate with its rating id", "系统繁忙，未能及时完成该请求（{detail}）；已接收的评价不会丢失："
                 "请按响应头所示秒数稍后重新发送同样的评价，本次已保存的评价将答复为重复并附评价编号"),
    "RATING_WINDOW_CLOSED": ("R5", "the rating window closed at {detail}", "评价期限已于 {detail} 截止"),
    "HANDLED_IN_FUTURE": (None, "handled in the future beyond the allowed clock skew: {detail}",
                          "办结时间超前于当前时间，超出允许的时钟偏差：{detail}"),
    "CASE_ALREADY_RATED": ("R8", "this case (step) is rated already ({detail}); no window is opened, no reminder sent",
                           "该办件（环节）已有评价（{detail}），不再开启评价期限或发送提醒"),
    "CASE_CONFLICT": (None, "a notice for this case (step) with different content was accepted before; it stays",
                      "该办件（环节）已有内容不同的办结信息，以原信息为准"),
    "PHONE_NOT_MOBILE": ("R7", "the applicant's phone is not a mainland mobile number: the notice is accepted, "
                         "no SMS reminder will be sent",
                         "申请人电话不是有效手机号码：办结信息已接收，但不发送短信提醒"),
    "NO_PHONE": ("R7", "no applicant phone: the notice is accepted, no SMS reminder will be sent",
                 "未提供申请人电话：办结信息已接收，但不发送短信提醒"),
    "OPERATOR_ONLY": (None, "only an operator credential may {detail}", "仅运维管理凭据可{detail}"),
    "NOTICE_INVALID": (None, "not a valid holiday notice: {detail}", "节假日安排通知文件无效：{detail}"),
    "NOTICE_REFUSED": (None, "{detail}", "官方日历已包含该年度，如需覆盖请指定 force（{detail}）"),
    # -- people signing in (hub/access.py)
    "TOKEN_MISSING": (None, "not signed in: {detail}", "未登录：{detail}"),
    "TOKEN_INVALID": (None, "the token is not valid: {detail}", "令牌无效：{detail}"),
    "TOKEN_EXPIRED": (None, "the token has expired; sign in again", "令牌已过期，请重新登录"),
    "SIGN_IN_UNAVAILABLE": (None, "sign-in is unavailable for now: {detail}", "登录服务暂不可用：{detail}"),
    "ACCOUNT_UNSCOPED": (None, "the account cannot be used: {detail}", "该账号不可用：{detail}"),
    "FORBIDDEN": ("R20", "not yours to {detail}", "无权访问或操作（{detail}）"),
    # -- the connector registry (hub/registry.py)
    "CONNECTOR_OUT_OF_SCOPE": ("R20", "this connector may not rate for {detail}; nothing of the request was kept",
                               "该接入方无权评价 {detail}，本次请求的内容均未保存"),
    "KEY_RETIRED": (None, "signed with a secret retired at {detail}; sign with the secret the last rotation gave",
                    "签名所用密钥已于 {detail} 停用，请使用最近一次轮换得到的新密钥"),
    "CONNECTOR_NOT_FOUND": (None, "no connector {detail}", "接入方不存在：{detail}"),
    "CONNECTOR_CHANGED": (None, "the connector changed while this request ran ({detail}); read it and try again",
                          "该接入方在本次操作期间已被修改（{detail}），请重新读取后再试"),
    "KIND_UNKNOWN": (None, "not a built-in source family: {detail}", "不是内置的接入类型：{detail}"),
    "SCOPE_INVALID": ("R20", "scope not allowed: {detail}", "接入范围不允许：{detail}"),
    # spec problems carry their own message and line (connectors/spec_loader.py); these say what the code means
    "SPEC_SYNTAX": (None, "the file is not valid JSON or YAML", "文件不是有效的 JSON 或 YAML"),
    "SPEC_INVALID": (None, "the spec does not fit its schema (schemas/connector-spec.json) or contradicts itself",
                     "接入规范不符合其结构定义（schemas/connector-spec.json）或自相矛盾"),
    "SPEC_PATH_INVALID": (None, "a path is not a JMESPath / XML path", "路径不是有效的 JMESPath 或 XML 路径"),
    "SPEC_TIME_FORMAT_UNKNOWN": (None, "a time format the hub cannot read", "无法识别的时间格式"),
    "SPEC_CHARSET_UNKNOWN": (None, "a charset the hub does not know", "无法识别的字符集"),
    "SPEC_TIMEZONE_UNKNOWN": (None, "a time zone the hub does not know", "无法识别的时区"),
    "SPEC_VALUE_INVALID": (None, "a table value, const or default outside the unified vocabulary",
                           "码表取值、常量或默认值不在统一取值范围内"),
    "SPEC_PATH_UNMATCHED": (None, "a path finds nothing in the sample payload", "路径在样例报文中找不到对应内容"),
    # -- personal data (R20)
    "PERSONAL_DATA_FORBIDDEN": ("R20", "only the auditor role reads personal data unmasked ({detail})",
                                "仅审计角色可查看未脱敏的个人信息（{detail}）"),
    "AUDIT_UNAVAILABLE": ("R20", "the read could not be written to the audit log, so nothing is returned; try "
                          "again later", "本次查询未能写入审计日志，故不返回数据，请稍后重试"),
    "RATING_NOT_FOUND": (None, "no rating {detail} that you may see", "不存在或无权查看的评价：{detail}"),
    # -- work orders (hub/workorders/ keeps its own REFUSALS)
    "WORK_ORDER_UNKNOWN": (None, "no work order {detail}", "工单不存在：{detail}"),
    "PERSONAL_DATA_IN_TEXT": ("R20", "{detail}: write no phone or ID number of the rater here",
                              "{detail}：此处不得填写评价人的手机号码或身份证号码"),
    "CURSOR_INVALID": (None, "not a cursor this list handed out: {detail}", "分页游标无效：{detail}"),
    # -- reports (R19; infra/reports/service.py)
    "REPORT_PERIOD_INVALID": ("R19", "not a period: {detail} (use 2026-11-28, 2026-W48, 2026-11, 2026-Q4 or 2026)",
                              "统计期无效：{detail}（应为 2026-11-28、2026-W48、2026-11、2026-Q4 或 2026）"),
    "REPORT_FORMAT_UNKNOWN": ("R19", "unknown report format: {detail} (json, html or xlsx)",
                              "不支持的通报格式：{detail}（可选 JSON、HTML 或电子表格）"),
    "REPORT_NOT_READY": ("R19", "this period has not ended, so its report is not generated yet ({detail})",
                         "该统计期尚未结束，通报尚未生成（{detail}）"),
    "REPORT_SCOPE_REQUIRED": ("R19", "give exactly one of region= and agency=",
                              "须且只能指定行政区划或单位之一"),
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Problem:
    """One field-level refusal. `source_path` names the field in the source's own payload."""

    code: str
    path: str
    message: str
    message_zh: str
    rule: str | None = None
    source_path: str | None = None

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["source_path"] is None:
            del data["source_path"]
        return data


def problem(
    code: str, path: str, detail: str = "", source_path: str | None = None, *, detail_zh: str | None = None
) -> Problem:
    """`detail` fills the English message; `detail_zh`, when the detail is prose, the Chinese one (a value,
    a code or a field path reads the same in both and needs none)."""
    rule, en, zh = CATALOG[code]
    zh_detail = detail if detail_zh is None else detail_zh
    text_zh = zh.format(detail=zh_detail)
    if not zh_detail:  # a template written for a detail, given none: no empty brackets or dangling colon
        text_zh = text_zh.replace("（）", "").rstrip("：")
    return Problem(code, path, en.format(detail=detail), text_zh, rule, source_path)


def beijing_time(at: datetime) -> str:
    """A time as people in China read it: 2026年11月28日 12:00 (Beijing time)."""
    local = at.astimezone(BEIJING)
    return f"{local.year}年{local.month}月{local.day}日 {local:%H:%M}（北京时间）"


def duration_zh(span: timedelta) -> str:
    """A span in 天/小时/分钟 (never Python's `37 days, 21:56:12.165103`)."""
    minutes = int(abs(span).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}天" if days else "", f"{hours}小时" if hours else "", f"{minutes}分钟" if minutes else ""]
    return "".join(parts) or "不足1分钟"


def duration_en(span: timedelta) -> str:
    minutes = int(abs(span).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{minutes} min" if minutes else ""]
    return " ".join(p for p in parts if p) or "under a minute"


def unknown_field(path: str, near: str | None = None) -> Problem:
    """FIELD_UNKNOWN at `path`, with the known name it most likely meant."""
    if near is None:
        return problem("FIELD_UNKNOWN", path)
    return problem("FIELD_UNKNOWN", path, f"; did you mean {near}?", detail_zh=f"，是否应为 {near}？")


@dataclass
class Refused(Exception):
    """Input refused with one or more problems; nothing of it is stored."""

    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{p.path}: {p.code}" for p in self.problems)
