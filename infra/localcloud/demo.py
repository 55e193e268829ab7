"""Demo data for the local cloud: the provincial stub, one demo connector per built-in family, the demo
business system that pushes completed cases, and an operator credential.

The stub listens where the template's `ProvinceEndpoint` points (chosen before deploying) and signs
with the credentials the local cloud generated into the province secret, so the forward function
talks to it exactly as it would to a real province.
"""

from __future__ import annotations

import json
from typing import Any

MARKET = "11360704MB1C000102"  # 赣州市赣县区市场监督管理局 (the market-dept demo user's agency)
MARKET_TOWNSHIP = "11360704MB1C000203"  # its township office in 360704101000
CENTRE = "11360704MB1C000014"  # 赣州市赣县区行政服务中心 (made up, with a valid check character)
GANXIAN = "360704"
# kind -> (name, department, owner agency, agencies, region prefixes): every sample in ../shared/samples is in
# scope (R20); the county's hall serves every agency of the county, so its connectors are scoped by region only.
DEMO_CONNECTORS = {
    "vertical_system": ("赣县区市场监管业务系统 (demo)", "赣州市赣县区市场监督管理局", MARKET,
                        (MARKET, MARKET_TOWNSHIP), (GANXIAN,)),
    "kiosk": ("赣县区政务服务中心自助终端 (demo)", "赣州市赣县区行政服务中心", CENTRE, (), (GANXIAN,)),
    "intermediary": ("网上中介服务超市 (demo)", "赣州市赣县区行政服务中心", CENTRE, (), (GANXIAN,)),
    "window_device": ("赣县区政务服务中心窗口评价器 (demo)", "赣州市赣县区行政服务中心", CENTRE, (), (GANXIAN,)),
    "unified": ("统一格式接入 (demo)", "赣州市赣县区行政服务中心", CENTRE, (), (GANXIAN,)),
}  # fmt: skip
# A hall's window evaluator sends its department's code only (`dept`), never its name: the demo hall's evaluators
# are configured, as their settings, with the departments at its windows (a code of another is VALUE_UNMAPPED).
WINDOW_DEPARTMENTS = {
    MARKET: "赣州市赣县区市场监督管理局",
    "11360704MB1C000405": "赣州市赣县区公安局",
    "11360704MB1C000607": "赣州市赣县区生态环境局",
    CENTRE: "赣州市赣县区行政服务中心",
}
DEMO_SETTINGS: dict[str, dict[str, Any]] = {
    "window_device": {"fields": {"target.agency_name": {"path": "dept", "table": WINDOW_DEPARTMENTS}}},
}
# Seeded under a name that is not their kind: the business system that pushes completed cases
# (`hcp send --kind cases`), and the operator credential of `hcp calendar load` (docs/cases.md).
DEMO_ROLES = {
    "cases": ("vertical_system", "赣县区市场监管业务系统 办结推送 (demo)", "赣州市赣县区市场监督管理局", MARKET,
              (MARKET, MARKET_TOWNSHIP), (GANXIAN,)),
    "operator": ("operator", "运维管理 (demo)", "赣州市赣县区行政服务中心", CENTRE, (), (GANXIAN,)),
}  # fmt: skip


def seed(cloud: Any) -> dict[str, Any]:
    from infra.connector_store import DynamoConnectorStore
    from infra.province.profile import ProvinceProfile
    from infra.province.stub import ProvinceStub, stub_credentials

    secret_arn = cloud.resources["ProvinceCredentialsSecret"]
    secrets = cloud.client("secretsmanager")
    credentials = json.loads(secrets.get_secret_value(SecretId=secret_arn)["SecretString"])
    profile_name = getattr(cloud, "province_profile", "national")
    profile = ProvinceProfile.load(profile_name) if profile_name != "national" else None
    if profile is not None and profile.sm2 is not None:  # the stub's test SM2 keys, both ends
        sm2_keys = {k: v for k, v in stub_credentials().items() if k not in ("app_id", "secret")}
        credentials = {**credentials, **sm2_keys}
        secrets.put_secret_value(SecretId=secret_arn, SecretString=json.dumps(credentials))
    stub = ProvinceStub(
        port=getattr(cloud, "province_port", 0), app_id=credentials["app_id"], secret=credentials["secret"],
        profile=profile,
    )
    stub.start()
    cloud.add_cleanup(stub.stop)
    cloud.province = stub

    # sealed under the template's KMS key, as the registry writes them (the algorithm does not matter for
    # reading: each sealed value names its own)
    from infra.sealing import EnvelopeSealer

    sealer = EnvelopeSealer(cloud.client("kms"), cloud.resources["DataKey"])
    store = DynamoConnectorStore(cloud.client("dynamodb"), cloud.resources["ConnectorsTable"], sealer)
    connectors: dict[str, dict[str, str]] = {}
    roles = {kind: (kind, *details) for kind, details in DEMO_CONNECTORS.items()} | DEMO_ROLES
    for role, (kind, name, department, owner, agencies, regions) in roles.items():
        connector, secret = store.create(
            kind, name, department, DEMO_SETTINGS.get(role), now=cloud.clock.now(), owner_agency=owner,
            agencies=agencies, regions=regions,
        )  # fmt: skip
        connectors[role] = {"connector_id": connector.connector_id, "secret": secret, "name": name}
    from .people import seed_users

    # the demo people (docs/people.md): user_pool_id, user_pool_client_id, cognito_endpoint, users
    return {"province_url": stub.url, "connectors": connectors, **seed_users(cloud)}
