"""Annotated field types that carry their checks, shared by every contract model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import pydantic
from pydantic import AfterValidator, BeforeValidator, Field
from pydantic_core import PydanticCustomError

from hub.codes import CodeError, check_id_number, check_mobile, check_region_code, check_uscc


def _checked(check: Callable[[str], str]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        try:
            return check(value)
        except CodeError as exc:
            raise PydanticCustomError(exc.code, exc.detail, {"detail_zh": exc.detail_zh}) from None

    return validate


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value


CreditCode = Annotated[
    str,
    AfterValidator(_checked(check_uscc)),
    Field(
        description="统一社会信用代码 (GB 32100, check character verified)",
        json_schema_extra={"pattern": r"^[0-9A-HJ-NPQRTUWXY]{18}$"},
    ),
]
RegionCode = Annotated[
    str,
    AfterValidator(_checked(check_region_code)),
    Field(
        description="12-digit administrative division code (GB/T 2260 + 3+3)",
        json_schema_extra={"pattern": r"^\d{12}$"},
    ),
]
Mobile = Annotated[
    str,
    AfterValidator(_checked(check_mobile)),
    Field(description="mainland mobile number", json_schema_extra={"pattern": r"^1[3-9]\d{9}$"}),
]
IdNumber = Annotated[
    str,
    AfterValidator(_checked(check_id_number)),
    Field(
        description="resident ID number (GB 11643, check digit verified)",
        json_schema_extra={"pattern": r"^\d{17}[\dX]$"},
    ),
]
AwareDatetime = pydantic.AwareDatetime  # checked in pydantic-core; a naive time is TIME_NAIVE


# Text that may be absent: blank counts as absent, and the limit applies to the text only, written where it is used
# (mypy takes no call as a type): `Annotated[Annotated[str, Field(max_length=N)] | None, BLANK_IS_ABSENT]`.
BLANK_IS_ABSENT = BeforeValidator(_blank_to_none)
