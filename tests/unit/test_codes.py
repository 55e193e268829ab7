"""Identification codes: USCC (GB 32100), division codes (R3), resident ID numbers (GB 11643), mobiles."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.codes import (
    PROVINCES,
    CodeError,
    Level,
    check_id_number,
    check_mobile,
    check_region_code,
    check_uscc,
    county_of,
    region_level,
    uscc_check_character,
)

USCC_CHARS = "0123456789ABCDEFGHJKLMNPQRTUWXY"


@pytest.mark.parametrize("code", ["11360704MB1C000102", "91360702MA35XY7K1U", "11360704MB1C000607"])
def test_sample_agency_codes_pass_their_check_character(code: str) -> None:
    assert check_uscc(code) == code


def test_purchaser_code_of_the_intermediary_sample_fails_its_check() -> None:
    with pytest.raises(CodeError) as err:
        check_uscc("91360721MA3A1B2C3D")
    assert err.value.code == "USCC_CHECK_FAILED"


@given(st.text(alphabet=USCC_CHARS, min_size=17, max_size=17), st.sampled_from(USCC_CHARS))
def test_exactly_one_check_character_is_right(first17: str, check: str) -> None:
    code = first17 + check
    if check == uscc_check_character(first17):
        assert check_uscc(code) == code
    else:
        with pytest.raises(CodeError):
            check_uscc(code)


@given(st.text(alphabet=USCC_CHARS, min_size=17, max_size=17), st.integers(0, 16), st.sampled_from(USCC_CHARS))
def test_any_single_character_change_is_caught(first17: str, position: int, replacement: str) -> None:
    code = first17 + uscc_check_character(first17)
    changed = code[:position] + replacement + code[position + 1 :]
    if changed != code:
        with pytest.raises(CodeError):
            check_uscc(changed)


@pytest.mark.parametrize(
    ("code", "level"),
    [
        ("360000000000", Level.PROVINCE),
        ("360700000000", Level.CITY),
        ("360704000000", Level.COUNTY),
        ("360704101000", Level.TOWNSHIP),
        ("360704101201", Level.VILLAGE),
    ],
)
def test_level_follows_from_the_division_code_R3(code: str, level: Level) -> None:
    assert region_level(check_region_code(code)) is level


def test_six_digit_county_codes_are_padded() -> None:
    assert check_region_code("360704") == "360704000000"


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("990704000000", "REGION_PROVINCE_UNKNOWN"),
        ("36070", "REGION_CODE_INVALID"),
        ("36070400000X", "REGION_CODE_INVALID"),
        ("360004000000", "REGION_CODE_INVALID"),
    ],
)
def test_bad_division_codes_are_refused(code: str, error: str) -> None:
    with pytest.raises(CodeError) as err:
        check_region_code(code)
    assert err.value.code == error


@given(st.sampled_from(sorted(PROVINCES)), st.from_regex(r"\d{10}", fullmatch=True))
def test_townships_and_villages_belong_to_their_county_R18(province: str, rest: str) -> None:
    code = province + rest
    try:
        code = check_region_code(code)
    except CodeError:
        return
    county = county_of(code)
    assert county[:6] == code[:6] and region_level(code) in set(Level)


def test_sample_id_number_passes_and_a_changed_digit_fails() -> None:
    assert check_id_number("360721198501011233") == "360721198501011233"
    with pytest.raises(CodeError) as err:
        check_id_number("360721198501011234")
    assert err.value.code == "ID_NUMBER_CHECK_FAILED"


@pytest.mark.parametrize("number", ["36072119850101123", "360721198513011233", "990721198501011233", "abc"])
def test_malformed_id_numbers_are_refused(number: str) -> None:
    with pytest.raises(CodeError):
        check_id_number(number)


@pytest.mark.parametrize(("raw", "clean"), [("13907970001", "13907970001"), ("+86 139-0797-0001", "13907970001")])
def test_mobile_numbers_are_normalized(raw: str, clean: str) -> None:
    assert check_mobile(raw) == clean


@pytest.mark.parametrize("raw", ["12907970001", "1390797000", "0797-8888888", "139079700011"])
def test_non_mobile_numbers_are_refused(raw: str) -> None:
    with pytest.raises(CodeError):
        check_mobile(raw)


# The check computations are arithmetic shortcuts (a base-34 and a base-13 numeral); the standards' weighted sums,
# written out, must agree with them on every input.
_ID_WEIGHTS_GB11643 = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


@given(st.text(alphabet=USCC_CHARS, min_size=18, max_size=18))
def test_uscc_check_agrees_with_the_weighted_sum_of_gb32100(code: str) -> None:
    expected = uscc_check_character(code[:17])  # the loop over the standard's weights
    if code[17] == expected:
        assert check_uscc(code) == code
    else:
        with pytest.raises(CodeError) as err:
            check_uscc(code)
        assert err.value.code == "USCC_CHECK_FAILED" and err.value.detail.endswith(f"expected {expected}")


@given(st.sampled_from(sorted(PROVINCES)), st.text(alphabet="0123456789", min_size=4, max_size=4),
       st.dates(), st.text(alphabet="0123456789", min_size=3, max_size=3), st.sampled_from("0123456789X"))
def test_id_number_check_agrees_with_the_weighted_sum_of_gb11643(
    province: str, county: str, born: date, serial: str, check: str
) -> None:
    first17 = f"{province}{county}{born:%Y%m%d}{serial}"
    if len(first17) != 17:
        return  # a year before 1000 prints short: the shape check refuses it, not the sum
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS_GB11643, strict=True))
    expected = "10X98765432"[total % 11]
    if check == expected:
        assert check_id_number(first17 + check) == first17 + check
    else:
        with pytest.raises(CodeError) as err:
            check_id_number(first17 + check)
        assert err.value.code == "ID_NUMBER_CHECK_FAILED"
