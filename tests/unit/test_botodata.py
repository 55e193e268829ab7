"""infra.botodata: botocore's models read faster (and from the build's model cache) are the same models, and an
unknown service is still unknown."""

from __future__ import annotations

import importlib.util
import marshal
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import UnknownServiceError
from botocore.loaders import Loader

from infra.botodata import (
    STAMP,
    FastLoader,
    OrjsonFileLoader,
    cache_stamp,
    fast_session,
    model_cache,
    shared_loader,
)

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


# -- the build's model cache (deploy/build.py `botocore_cache`): parsed once at build time, read as marshal data --


def _build_module() -> Any:
    spec = importlib.util.spec_from_file_location("deploy_build", Path(__file__).parents[2] / "deploy" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache the build writes, here by this interpreter (its stamp then names this Python)."""
    out = tmp_path_factory.mktemp("layer") / "botocore_marshal"
    written = _build_module().botocore_cache(Path(Loader.BUILTIN_DATA_PATH), out, python=sys.executable)
    assert written > len(SERVICES) * 2  # every service's model and rules, and botocore's top-level data
    return out


def _cached_loader(cache: Path) -> FastLoader:
    root = model_cache(str(cache))
    assert root == str(cache)  # its stamp names this botocore and this Python
    return FastLoader(file_loader=OrjsonFileLoader(root))


@pytest.mark.parametrize("service", SERVICES)
def test_the_build_caches_every_model_a_client_reads_and_they_are_botocores_own(
    cache: Path, service: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = Loader()
    expected = {t: plain.load_service_model(service, t) for t in TYPES}
    top = {n: plain.load_data(n) for n in ("endpoints", "partitions", "_retry", "sdk-default-configuration")}
    # from now on no JSON file is read (botocore still looks for files no service has, sdk-extras: not there)

    def no_json(loader: Any, path: str, open_method: Any) -> None:
        assert not os.path.isfile(path), f"read the JSON {path}"

    monkeypatch.setattr(OrjsonFileLoader, "_load_file", no_json)
    cached = _cached_loader(cache)
    for type_name in TYPES:
        assert cached.load_service_model(service, type_name) == expected[type_name]
    for name, data in top.items():
        assert cached.load_data(name) == data


def test_a_cache_for_another_botocore_or_python_is_not_read(cache: Path, tmp_path: Path) -> None:
    stale = tmp_path / "stale"
    shutil.copytree(cache, stale)
    assert (stale / STAMP).read_text().strip() == cache_stamp()
    (stale / STAMP).write_text(cache_stamp(botocore_version="0.0.1"))
    assert model_cache(str(stale)) is None
    (stale / STAMP).write_text(cache_stamp(python=(3, 11 if sys.version_info[:2] != (3, 11) else 12)))
    assert model_cache(str(stale)) is None
    (stale / STAMP).unlink()
    assert model_cache(str(stale)) is None
    assert model_cache(str(tmp_path / "none")) is None


def test_a_file_the_cache_lacks_is_read_from_botocores_json(cache: Path, tmp_path: Path) -> None:
    partial = tmp_path / "partial"
    shutil.copytree(cache, partial)
    shutil.rmtree(partial / "s3")
    loader = _cached_loader(partial)
    assert loader.load_service_model("s3", "service-2") == Loader().load_service_model("s3", "service-2")
    # negative control: what the cache holds is what is read (a changed cached file shows through)
    rules = next((partial / "sqs").glob("*/service-2.marshal"))
    rules.write_bytes(marshal.dumps({"metadata": {"serviceId": "changed"}, "operations": {}, "shapes": {}}))
    assert _cached_loader(partial).load_service_model("sqs", "service-2")["metadata"] == {"serviceId": "changed"}
