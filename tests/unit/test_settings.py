"""Settings read from the environment the template gives each function (issue 12, item 3): required ones named
when missing, optional ones typed fields with their defaults, and each builder's variables known to BuiltOnce."""

from __future__ import annotations

import pytest

from infra import bootstrap
from infra.settings import (
    PERSONAL_DATA_ALGORITHMS,
    ForwardSettings,
    MissingSettings,
    PersonalDataSettings,
    ProvinceSettings,
    SchedulerSettings,
    TelemetrySettings,
)

FORWARD = {"RATINGS_TABLE": "ratings", "FORWARD_QUEUE_URL": "q", "PROVINCE_URL": "http://p", "PROVINCE_SECRET_ARN": "s"}


def test_optional_variables_are_typed_fields_with_their_defaults() -> None:
    settings = ForwardSettings.from_env(FORWARD)
    assert (settings.concurrency, settings.max_receives, settings.retry_base_seconds) == (10, 0, 10.0)
    assert (settings.dead_letter_url, settings.work_orders_table) == ("", "")

    tuned = ForwardSettings.from_env({**FORWARD, "FORWARD_CONCURRENCY": " 4 ", "FORWARD_RETRY_BASE_SECONDS": "0.5",
                                      "FORWARD_DLQ_URL": "dlq", "FORWARD_SAFETY_MARGIN_MS": ""})  # fmt: skip
    assert (tuned.concurrency, tuned.retry_base_seconds, tuned.dead_letter_url) == (4, 0.5, "dlq")
    assert tuned.safety_margin_ms == 3000  # blank: the default


def test_a_missing_required_variable_is_named_and_a_bad_number_names_its_variable() -> None:
    with pytest.raises(MissingSettings, match="PROVINCE_URL"):
        ForwardSettings.from_env({k: v for k, v in FORWARD.items() if k != "PROVINCE_URL"})
    with pytest.raises(ValueError, match="FORWARD_CONCURRENCY='ten' is not a int"):
        ForwardSettings.from_env({**FORWARD, "FORWARD_CONCURRENCY": "ten"})


def test_the_sms_gateway_and_the_tracer_are_settings_too() -> None:
    required = {"RATINGS_TABLE": "r", "CASES_TABLE": "c", "CALENDAR_TABLE": "k", "FORWARD_QUEUE_URL": "q",
                "RATING_LINK": "https://rate.example"}  # fmt: skip
    assert SchedulerSettings.from_env(required).sms_gateway_url == ""
    assert SchedulerSettings.from_env({**required, "SMS_GATEWAY_URL": "http://sms"}).sms_gateway_url == "http://sms"
    assert TelemetrySettings.from_env({}).service == "hcp-hub" and not TelemetrySettings.from_env({}).tracing
    in_lambda = {"LAMBDA_TASK_ROOT": "/var/task"}
    assert TelemetrySettings.from_env(in_lambda).tracing
    assert not TelemetrySettings.from_env({**in_lambda, "POWERTOOLS_TRACE_DISABLED": "true"}).tracing


def test_a_builder_is_built_again_only_when_a_variable_it_reads_changes(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []

    @bootstrap.reads("HCP_TEST_TABLE")
    def build() -> str:
        built.append("x")
        return f"services {len(built)}"

    services = bootstrap.BuiltOnce(build)
    monkeypatch.setenv("HCP_TEST_TABLE", "a")
    assert services() == services() == "services 1"
    monkeypatch.setenv("HCP_UNRELATED", "b")  # a variable it does not read: still the same services
    assert services() == "services 1"
    monkeypatch.setenv("HCP_TEST_TABLE", "c")
    assert services() == "services 2"


def test_the_province_and_personal_data_variables_are_settings_and_a_bad_value_is_named() -> None:
    province = ProvinceSettings.from_env(FORWARD)
    assert (province.connect_timeout, province.read_timeout, province.pool_size) == (2.0, 5.0, 10)
    assert (province.profile, province.mapping, province.outcome_url) == ("", "", "")
    assert ProvinceSettings.from_env({**FORWARD, "PROVINCE_READ_TIMEOUT": " 0.5 "}).read_timeout == 0.5
    with pytest.raises(ValueError, match="PROVINCE_CONNECT_TIMEOUT='soon' is not a float"):
        ProvinceSettings.from_env({**FORWARD, "PROVINCE_CONNECT_TIMEOUT": "soon"})
    with pytest.raises(RuntimeError, match="the provincial client needs PROVINCE_URL and PROVINCE_SECRET_ARN in"):
        ProvinceSettings.from_env({})

    keys = {"DATA_KEY_ID": "alias/data", "LOOKUP_KEY_SECRET_ARN": "arn:lookup"}
    assert PersonalDataSettings.from_env(keys).algorithm == "AES-256-GCM"
    assert PersonalDataSettings.from_env({**keys, "PERSONAL_DATA_ALGORITHM": "SM4-GCM"}).algorithm == "SM4-GCM"
    with pytest.raises(ValueError, match="PERSONAL_DATA_ALGORITHM must be one of AES-256-GCM, SM4-GCM"):
        PersonalDataSettings.from_env({**keys, "PERSONAL_DATA_ALGORITHM": "DES"})
    with pytest.raises(MissingSettings, match=r"PersonalDataSettings needs .* DATA_KEY_ID, LOOKUP_KEY_SECRET_ARN"):
        PersonalDataSettings.from_env({})


def test_the_settings_algorithms_are_the_sealers() -> None:
    from infra.sealing import ALGORITHMS

    assert tuple(ALGORITHMS) == PERSONAL_DATA_ALGORITHMS
