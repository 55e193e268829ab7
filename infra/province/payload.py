"""The provincial payload: the record the provincial 好差评 system receives for one rating.

Field names follow the push interfaces that provincial 好差评 systems share (the national names, which the
vertical business systems also send us): projectNo, taskCode, deptCode, areaCode, pf, satisfaction, ….
This model is the *default* wire format and the published contract (`schemas/provincial.json`); a province
whose gateway differs is served by `infra.province.mapping.ProvincialMapping` (renames, code tables, grade
direction, time format, envelope), never by another model. The stub validates what it receives against
this schema after undoing the mapping's renames and envelope, so both ends check the same contract.

Personal data (R20, 第十六条): the default mapping sends none of the rater's identity — no name, mobile,
ID number or credit code, masked or not. The province needs the rating, the case and who was rated; the
rater is followed up (R13) by the unit that owns the work order, through the hub, which holds the contact
encrypted. `realName` still tells the province that a real-name rating was given (R13's 100% follow-up rate
is counted on it). Provinces that require the rater's identity for real-name ratings turn it on with
`ProvincialMapping.personal_data = "masked" | "clear"`; even then it is sent for real-name ratings only,
since an anonymous rater chose not to be known. The staff member's id and name are sent: the staff are
rated in their official capacity (R4), and the province attributes the rating by them.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

TIME_PATTERN = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$"
CODE_1_5 = r"^[1-5]$"

# A field the mapping may leave out: absent on the wire (never null), so the schema shows only the string.
_Opt = SkipJsonSchema[None]


def _absent_not_null(schema: dict[str, Any]) -> None:
    """Optional fields are left out, never null: a `"default": null` in the schema would say otherwise."""
    for prop in schema.get("properties", {}).values():
        if prop.get("default", ...) is None:
            del prop["default"]


def _text(max_length: int, description: str, **kw: object) -> object:
    return Field(None, max_length=max_length, description=description, **kw)  # type: ignore[call-overload]


class ProvincialRating(BaseModel):
    """One rating as pushed to the provincial 好差评 system (default mapping, national field names).

    Every value is a string, as the provincial push interfaces expect. Optional fields are left out when
    empty, never sent as null. `evalId` is the idempotency key: the hub's rating_id, identical on every retry.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="ProvincialRating",
        field_title_generator=lambda name, _info: name,
        json_schema_extra=_absent_not_null,
    )

    evalId: Annotated[
        str,
        Field(
            min_length=1,
            max_length=64,
            description="评价唯一标识 — the hub's rating_id; the idempotency key, the same for every retry",
        ),
    ]
    projectNo: Annotated[str, Field(min_length=1, max_length=64, description="办件编号 (case number)")]
    taskCode: Annotated[str | _Opt, _text(64, "事项编码 (service item code)")] = None
    taskName: Annotated[str | _Opt, _text(200, "事项名称 (service item name)")] = None
    nodeName: Annotated[str | _Opt, _text(64, "办理环节 (step, when one rating per step is given online)")] = None
    deptCode: Annotated[
        str,
        Field(
            pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$",
            description="实施机构统一社会信用代码 (agency's unified social credit code, GB 32100)",
        ),
    ]
    deptName: Annotated[str | _Opt, _text(200, "实施机构名称 (agency name)")] = None
    areaCode: Annotated[
        str, Field(pattern=r"^\d{12}$", description="行政区划代码, 12 digits (R3: its digits give the level)")
    ]
    pf: Annotated[
        str,
        Field(
            pattern=r"^\d{1,2}$",
            description=(
                "评价渠道 (channel). Default table: 1 PC/web portal, 2 mobile app, 3 QR code, "
                "4 hall tablet / window evaluator, 5 other hall terminal (kiosk), 6 phone, 7 SMS; "
                "6, 7 and a 'system default' code are per-province settings"
            ),
        ),
    ]
    satisfaction: Annotated[
        str,
        Field(
            pattern=CODE_1_5,
            description=(
                "评价等级 of the service item. Default 5 = 非常满意, 4 满意, 3 基本满意, 2 不满意, 1 非常不满意; "
                "a province on GB/T 39046-2020 codes it the other way (1 = 非常满意)"
            ),
        ),
    ]
    staffId: Annotated[str | _Opt, _text(64, "工作人员工号 (window staff rated, R4)")] = None
    staffName: Annotated[str | _Opt, _text(50, "工作人员姓名")] = None
    staffSatisfaction: Annotated[
        str | _Opt, Field(None, pattern=CODE_1_5, description="评价等级 of the staff member (R4), same scale")
    ] = None
    evalDetail: Annotated[
        str | _Opt,
        Field(
            None,
            pattern=r"^[0-9A-Za-z_]{1,32}(,[0-9A-Za-z_]{1,32})*$",
            max_length=500,
            description="评价标签 (tag codes, comma-separated; default: the hub's dictionary codes, 第九条)",
        ),
    ] = None
    writingEvaluation: Annotated[str | _Opt, _text(2000, "文字评价 (the rater's reason or comment)")] = None
    assessTime: Annotated[
        str, Field(pattern=TIME_PATTERN, description="评价时间, yyyy-MM-dd HH:mm:ss in Beijing time (UTC+8)")
    ]
    handleTime: Annotated[
        str | _Opt, Field(None, pattern=TIME_PATTERN, description="办结/办理时间, yyyy-MM-dd HH:mm:ss Beijing time")
    ] = None
    assessNumber: Annotated[
        Literal["1", "2"], Field(description="评价次数: 1 first rating (or the default one), 2 additional (追评)")
    ]
    userProp: Annotated[Literal["1", "2"], Field(description="评价人类型: 1 natural person, 2 legal person")]
    realName: Annotated[
        Literal["0", "1"] | _Opt, Field(None, description="实名评价: 1 real-name, 0 anonymous (R13 follow-up)")
    ] = None
    isDefault: Annotated[
        Literal["0", "1"] | _Opt,
        Field(None, description="默认评价: 1 when the system gave the default rating (R6); absent if pf marks it"),
    ] = None
    userName: Annotated[
        str | _Opt, _text(100, "评价人姓名 — only when the mapping sends personal data, real-name ratings only")
    ] = None
    mobile: Annotated[
        str | _Opt, _text(20, "评价人手机号 — only when the mapping sends personal data, real-name ratings only")
    ] = None
    userCert: Annotated[
        str | _Opt,
        _text(32, "评价人证件号 (ID number, or credit code of a legal person) — only when the mapping sends it"),
    ] = None


# Fields whose value is a time in the mapping's time format (the stub converts them back).
TIME_FIELDS: tuple[str, ...] = ("assessTime", "handleTime")
PERSONAL_FIELDS: tuple[str, ...] = ("userName", "mobile", "userCert")
FIELD_NAMES: tuple[str, ...] = tuple(ProvincialRating.model_fields)


class ProvincialOutcome(BaseModel):
    """What became of a bad rating's work order, as pushed to the provincial 好差评 system (第十七条, 第十九条).

    One record per outcome the province tracks: the reply to the rater (R11), the rectification result (R12),
    the rating not adopted — by the unit after verification (R14) or by an upheld appeal (R17) — and the
    rater's satisfaction with the handling (R16). `outcomeId` (work order id and event version) is the
    idempotency key, the same on every retry; `evalId` ties it to the rating pushed before. No personal
    data (R20): the rater is the evalId; the opinion is the unit's text, which the hub refuses to hold a
    phone or ID number in.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="ProvincialOutcome",
        field_title_generator=lambda name, _info: name,
        json_schema_extra=_absent_not_null,
    )

    outcomeId: Annotated[
        str,
        Field(min_length=1, max_length=128, description="结果唯一标识 — work order id#event version; idempotency key"),
    ]
    evalId: Annotated[str, Field(min_length=1, max_length=64, description="评价唯一标识 — the rating's evalId")]
    workOrderNo: Annotated[str, Field(min_length=1, max_length=80, description="差评工单编号 (work order id)")]
    projectNo: Annotated[str, Field(min_length=1, max_length=64, description="办件编号 (case number)")]
    deptCode: Annotated[
        str, Field(pattern=r"^[0-9A-HJ-NPQRTUWXY]{18}$", description="承办单位统一社会信用代码 (handling unit)")
    ]
    areaCode: Annotated[str, Field(pattern=r"^\d{12}$", description="承办单位行政区划代码")]
    outcomeType: Annotated[
        Literal["1", "2", "3", "4"],
        Field(description="结果类型: 1 回复评价人 reply (R11), 2 整改结果 rectification (R12), 3 不予采纳 not adopted "
                          "(R14, R17), 4 回访满意度 follow-up satisfaction (R16)"),
    ]  # fmt: skip
    handleTime: Annotated[str, Field(pattern=TIME_PATTERN, description="处理时间, yyyy-MM-dd HH:mm:ss Beijing time")]
    workOrderType: Annotated[
        Literal["1", "2"] | _Opt, Field(None, description="工单类型: 1 简单 simple (R11), 2 复杂 complex (R12)")
    ] = None
    handleOpinion: Annotated[
        str | _Opt, _text(2000, "处理意见 / 整改情况 / 核实情况 (the unit's or department's text)")
    ] = None
    onTime: Annotated[
        Literal["0", "1"] | _Opt, Field(None, description="按时办结: 1 within the time limit, 0 late")
    ] = None
    notAdoptedBy: Annotated[
        Literal["1", "2"] | _Opt,
        Field(None, description="不予采纳方式: 1 承办单位核实 (R14), 2 申诉核实成立 (R17)"),
    ] = None
    notAdoptedReason: Annotated[
        Literal["1", "2"] | _Opt, Field(None, description="不予采纳原因: 1 误评 mistaken, 2 恶意差评 malicious")
    ] = None
    satisfaction: Annotated[
        str | _Opt,
        Field(None, pattern=CODE_1_5, description="回访满意度, same scale as the rating; absent: the rater declined"),
    ] = None
    visitMethod: Annotated[
        Literal["phone", "sms", "visit", "online"] | _Opt, Field(None, description="回访方式 (R16)")
    ] = None


OUTCOME_FIELD_NAMES: tuple[str, ...] = tuple(ProvincialOutcome.model_fields)

PROVINCIAL_SCHEMAS: dict[str, type[BaseModel]] = {
    "provincial.json": ProvincialRating,
    "provincial-outcome.json": ProvincialOutcome,
}
