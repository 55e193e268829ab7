"""What the provincial stub (`infra.province.stub`) checks a request against, and who it is: its test app id,
secret and SM2 keys (published on purpose: the stub is the province here), the published schemas of ratings and
work-order outcomes and each profile's record schema, and how a refusal names its problems (fields and rules,
never values: they may be personal data, R20).
"""

from __future__ import annotations

import json
from functools import cache

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from infra.province.payload import ProvincialOutcome, ProvincialRating
from infra.province.profile import ProvinceProfile, RecordKind

STUB_APP_ID = "hcp-hub"
STUB_SECRET = "province-stub-secret"
# Test keys, published on purpose: the stub is the province here. Never a real province's or hub's key.
STUB_PROVINCE_SM2_KEY = "52c3a7a0fac03bd5d4f18d979acff76c3e78ec3d6925ab4dc3feaa12251d5883"
STUB_PROVINCE_SM2_PUBLIC = (
    "048cdb2e9752d5f89a5ccd4f02d2cde35ddc9b25c419b7033d7530322365f48a62"
    "5b3681dca6252d6694770f7c69a60b48cc22129b3a429134aa057a419d3200b8"
)
STUB_HUB_SM2_KEY = "4c389c72befd15e657d66a04e156f33d721f1c6cabda25def204f64892f4ae13"
STUB_HUB_SM2_PUBLIC = (
    "044fa1022f2b97968f02992e8a749c9d5d4aa1ec2ecd76a55ee1f29ab9e64591ac"
    "98f3fd763d384448a4e2f5a4f3978a3925f50239dd9e20e03880116fc8414c2c"
)


def stub_credentials() -> dict[str, str]:
    """The province secret that talks to the stub (any profile): what the local cloud seeds."""
    return {
        "app_id": STUB_APP_ID,
        "secret": STUB_SECRET,
        "sm2_private_key": STUB_HUB_SM2_KEY,
        "province_public_key": STUB_PROVINCE_SM2_PUBLIC,
    }


@cache
def provincial_validator() -> Draft202012Validator:
    """The published schema (`schemas/provincial.json` is generated from the same model)."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **ProvincialRating.model_json_schema(mode="serialization"),
    }
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


@cache
def outcome_validator() -> Draft202012Validator:
    """The published schema of work-order outcomes (`schemas/provincial-outcome.json`)."""
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **ProvincialOutcome.model_json_schema(mode="serialization"),
    }
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_reason(errors: list[ValidationError], shown: int = 3) -> str:
    """The problems, by field and rule. Values are left out: they may be personal data (R20)."""
    texts = []
    for error in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), str(e.validator))):
        where = "/".join(str(part) for part in error.absolute_path) or "(record)"
        if error.validator in ("required", "additionalProperties"):
            texts.append(error.message)  # names fields, never values
        else:
            texts.append(f"{where}: fails {error.validator} {json.dumps(error.validator_value, ensure_ascii=False)}")
    more = len(texts) - shown
    return "; ".join(texts[:shown]) + (f" (and {more} more)" if more > 0 else "")


class Refusal(Exception):
    """A request the stub refuses: its HTTP status, a stable code, and why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def profile_validator(profile: ProvinceProfile, kind: RecordKind) -> Draft202012Validator:
    """The profile's record schema (kept per profile object: profiles are immutable but not hashable)."""
    key = (id(profile), kind)
    held = _PROFILE_VALIDATORS.get(key)
    if held is None:
        schema = profile.schema(kind)
        Draft202012Validator.check_schema(schema)
        validator = Draft202012Validator(schema)
        _PROFILE_VALIDATORS[key] = (profile, validator)  # holding the profile keeps its id unique
        return validator
    return held[1]


_PROFILE_VALIDATORS: dict[tuple[int, str], tuple[ProvinceProfile, Draft202012Validator]] = {}
