"""infra.botodata: botocore's models read faster are the same models, and an unknown service is still unknown."""

from __future__ import annotations

import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

from infra.botodata import FastLoader, fast_session, shared_loader

# every service a function builds a client of (infra.bootstrap), and what creating one reads
SERVICES = ("dynamodb", "s3", "sqs", "kms", "secretsmanager", "sns")
TYPES = ("service-2", "endpoint-rule-set-1", "paginators-1")


@pytest.mark.parametrize("service", SERVICES)
def test_every_model_a_client_reads_is_botocores_own(service: str) -> None:
    fast, plain = FastLoader(), Loader()
    for type_name in TYPES:
        assert fast.load_service_model(service, type_name) == plain.load_service_model(service, type_name)
    for name in ("endpoints", "partitions", "_retry", "sdk-default-configuration"):
        assert fast.load_data(name) == plain.load_data(name)


def test_the_listing_of_services_is_botocores_and_an_unknown_one_is_refused_alike() -> None:
    fast, plain = FastLoader(), Loader()
    listed = fast.list_available_services("service-2")
    assert "s3" in listed and "dynamodb" in listed
    assert "no-such-service" not in listed and "" not in listed and "../s3" not in listed
    assert list(listed) == plain.list_available_services("service-2")  # iterated: every service, sorted
    with pytest.raises(UnknownServiceError):
        fast.load_service_model("no-such-service", "service-2")
    # a type only some services have: membership follows the files, as botocore's listing does
    assert ("dynamodb" in fast.list_available_services("waiters-2")) == (
        "dynamodb" in plain.list_available_services("waiters-2")
    )
    assert ("sqs" in fast.list_available_services("waiters-2")) == (
        "sqs" in plain.list_available_services("waiters-2")
    )


def test_sessions_share_one_loader_and_build_the_same_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "cn-north-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    first, second = fast_session(), fast_session()
    assert first.get_component("data_loader") is second.get_component("data_loader") is shared_loader()
    fast = first.create_client("s3")
    plain = botocore.session.get_session().create_client("s3")
    assert fast.meta.service_model.operation_names == plain.meta.service_model.operation_names
    assert fast.meta.endpoint_url == plain.meta.endpoint_url  # China's partition, from the same endpoint rules
