"""Identification codes whose check rules carry meaning: USCC, division codes, ID numbers, mobiles.

Each check returns the normalized value or raises `CodeError(code, detail)`; the rating model turns
those into field-level refusals.
"""

from __future__ import annotations

import re
from datetime import date
from enum import StrEnum


class CodeError(ValueError):
    """`detail` says it in English, `detail_zh` in Chinese (message_zh reads as Chinese throughout)."""

    def __init__(self, code: str, detail: str, detail_zh: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.detail_zh = detail_zh


# GB 32100-2015: 31 characters (no I, O, S, V, Z) and the weights of the 17 leading positions.
_USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_VALUE = {ch: i for i, ch in enumerate(_USCC_ALPHABET)}
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(r"^[0-9A-HJ-NPQRTUWXY]{18}$")


def uscc_check_character(first17: str) -> str:
    total = 0
    for ch, weight in zip(first17, _USCC_WEIGHTS, strict=True):
        total += _USCC_VALUE[ch] * weight
    return _USCC_ALPHABET[(31 - total % 31) % 31]


# The weights are 3**i % 31, so the weighted sum is, modulo 31, the 17 values read right to left as a base-34 numeral
# (34 % 31 == 3): one int() in C instead of a loop, on every rating (bench/normalize.py). Tests hold it to the loop.
_USCC_AS_BASE34 = str.maketrans(_USCC_ALPHABET, "0123456789ABCDEFGHIJKLMNOPQRSTU")


def _uscc_expected(first17: str) -> str:
    total = int(first17[::-1].translate(_USCC_AS_BASE34), 34)
    return _USCC_ALPHABET[(31 - total % 31) % 31]


def check_uscc(value: str) -> str:
    """A unified social credit code (统一社会信用代码), check character included."""
    code = value.strip().upper()
    if len(code) != 18 or not _USCC_SHAPE.match(code):
        raise CodeError(
            "USCC_INVALID", "must be 18 characters of 0-9 and A-Y without I, O, S, V, Z",
            "应为 18 位，由数字 0-9 和除 I、O、S、V、Z 以外的大写字母组成",
        )  # fmt: skip
    expected = _uscc_expected(code[:17])
    if code[17] != expected:
        raise CodeError(
            "USCC_CHECK_FAILED", f"check character is {code[17]}, expected {expected}",
            f"第 18 位校验码为 {code[17]}，应为 {expected}",
        )  # fmt: skip
    return code


# GB/T 2260 province-level prefixes.
PROVINCES: dict[str, str] = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省",
    "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省",
    "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区",
    "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区",
    "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}  # fmt: skip


class Level(StrEnum):
    """R3: the five levels of evaluation objects."""

    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"


_DIGITS12 = re.compile(r"^\d{12}$")


def check_region_code(value: str) -> str:
    """A 12-digit division code (2+2+2+3+3); a 6-digit county code is padded (sources send both)."""
    code = value.strip()
    if len(code) in (2, 4, 6, 9) and code.isdigit():
        code = code.ljust(12, "0")
    if not _DIGITS12.match(code):
        raise CodeError(
            "REGION_CODE_INVALID", "must be a 12-digit administrative division code", "应为 12 位行政区划代码"
        )
    if code[:2] not in PROVINCES:
        raise CodeError(
            "REGION_PROVINCE_UNKNOWN", f"{code[:2]} is not a province-level division prefix",
            f"前两位 {code[:2]} 不是省级区划代码",
        )  # fmt: skip
    if code[2:4] == "00" and code[4:] != "00000000":
        raise CodeError(
            "REGION_CODE_INVALID", "a county or lower division needs its city digits", "县级及以下区划代码须含地市位"
        )
    return code


def region_level(code: str) -> Level:
    """R3: the level follows from which digit groups are non-zero."""
    if code[2:] == "0000000000":
        return Level.PROVINCE
    if code[4:] == "00000000":
        return Level.CITY
    if code[6:] == "000000":
        return Level.COUNTY
    if code[9:] == "000":
        return Level.TOWNSHIP
    return Level.VILLAGE


def county_of(code: str) -> str:
    """The county a division belongs to (R18: townships and villages are managed by it)."""
    return code[:6] + "000000"


# Mainland mobile numbers: 11 digits starting 13-19; +86 / 86 prefixes and separators tolerated.
_MOBILE = re.compile(r"^1[3-9]\d{9}$")
_MOBILE_SEPARATORS = re.compile(r"[\s-]")


def check_mobile(value: str) -> str:
    digits = _MOBILE_SEPARATORS.sub("", value)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.match(digits):
        raise CodeError(
            "PHONE_INVALID", "must be a mainland mobile number of 11 digits starting 13-19",
            "应为以 13-19 开头的 11 位大陆手机号码",
        )  # fmt: skip
    return digits


# GB 11643-1999: 17 digits and a check character.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_ID_SHAPE = re.compile(r"^\d{17}[\dX]$")


def check_id_number(value: str) -> str:
    """A resident ID number (居民身份证号码): province prefix, birth date and check digit."""
    number = value.strip().upper()
    if not _ID_SHAPE.match(number):
        raise CodeError(
            "ID_NUMBER_INVALID", "must be 18 characters: 17 digits and a digit or X", "应为 17 位数字加 1 位数字或 X"
        )
    if number[:2] not in PROVINCES:
        raise CodeError(
            "ID_NUMBER_INVALID", "the first two digits are not a province-level prefix", "前两位不是省级区划代码"
        )
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise CodeError(
            "ID_NUMBER_INVALID", "the birth date digits are not a real date", "出生日期不是有效日期"
        ) from None
    if number.isascii():  # the weights are 2**(17-i) % 11: twice the 17 digits read in base 13 (13 % 11 == 2)
        total = 2 * int(number[:17], 13)
    else:  # other Unicode digits match \d but count by their code point, as they always did
        total = sum((ord(digit) - 48) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    expected = _ID_CHECK[total % 11]
    if number[17] != expected:
        raise CodeError(
            "ID_NUMBER_CHECK_FAILED", f"check character is {number[17]}, expected {expected}",
            f"第 18 位校验码为 {number[17]}，应为 {expected}",
        )  # fmt: skip
    return number
