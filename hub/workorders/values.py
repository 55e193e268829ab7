"""What every part of an order is made of: frozen models, and free texts that carry no personal numbers (R20)."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints
from pydantic_core import PydanticCustomError

from hub.codes import CodeError, check_id_number

__all__ = ["Frozen", "Name", "Text"]


class Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


_MOBILE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d(?:[\s-]?\d){8}(?!\d)")
_ID_NUMBER_IN_TEXT = re.compile(r"(?<![\dXx])\d{17}[\dXx](?![\dXx])")


def _no_personal_numbers(text: str) -> str:
    """R20: free texts travel in events to the province and SNS; a rater's phone or ID number must not."""
    if _MOBILE_IN_TEXT.search(text):
        raise PydanticCustomError("PERSONAL_DATA_IN_TEXT", "the text contains a mobile number")
    for candidate in _ID_NUMBER_IN_TEXT.findall(text):
        try:
            check_id_number(candidate)
        except CodeError:
            continue
        raise PydanticCustomError("PERSONAL_DATA_IN_TEXT", "the text contains a resident ID number")
    return text


Text = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_no_personal_numbers)
]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
