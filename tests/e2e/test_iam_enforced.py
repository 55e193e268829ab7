"""IAM as AWS enforces it, on the local cloud (issue 10 item 3): each function calls AWS under its own role.

Every AWS call a function makes is checked against its role's policies from the translated template
(infra/localcloud/iam.py); a call the role does not allow raises AccessDenied in the function, as in
Lambda. This file runs after the rest of the e2e suite (tests/e2e/conftest.py), so its last test sees
every call the suite made, including denials a function caught and logged.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from infra.localcloud import iam
from infra.localcloud.translate import load_template, translate
from tests.e2e.conftest import Hub
from tests.e2e.test_pipeline import kiosk_batch

pytestmark = pytest.mark.e2e

# The statements that close the two gaps moto's missing IAM hid (template.yaml, by Sid)
FIXES = {"SweepFunction": "ReadProvinceCredentials", "ForwardFunction": "BackOffForwardRetries"}


def test_every_function_of_the_template_runs_under_its_own_role(hub: Hub) -> None:
    enforcer = iam.enforcer(hub.cloud)
    assert set(enforcer.roles) == set(hub.cloud.functions)
    principals = list(enforcer.principals.values())
    assert len(set(principals)) == len(principals)
    assert all(not role.notes for role in enforcer.roles.values()), {f: r.notes for f, r in enforcer.roles.items()}


def test_a_call_its_role_does_not_allow_fails_in_the_function_as_in_aws(hub: Hub) -> None:
    enforcer = iam.enforcer(hub.cloud)
    table = f"arn:aws:dynamodb:us-east-1:123456789012:table/{hub.cloud.resources['RatingsTable']}"
    # GIVEN the sweep's role without dynamodb:Query (it finds what is due through an index)
    undo = enforcer.revoke("SweepFunction", "dynamodb:Query")
    try:
        # WHEN the sweep runs
        with pytest.raises(ClientError) as denied:
            hub.cloud.invoke("SweepFunction", {})
    finally:
        undo()
    # THEN it failed on the call, with DynamoDB's code and IAM's wording, naming the role and the resource
    error = denied.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    role = hub.cloud.resources["SweepFunctionRole"]
    assert error["Message"].startswith(
        f"User: arn:aws:sts::123456789012:assumed-role/{role}/{hub.cloud.resources['SweepFunction']} "
        f"is not authorized to perform: dynamodb:Query on resource: {table}/index/"
    )
    # and with its role whole, it runs
    assert "requeued" in hub.cloud.invoke("SweepFunction", {})


def test_the_ingest_may_store_a_rating_but_neither_scan_nor_delete_ratings(hub: Hub) -> None:
    """Least privilege (issue 16): the roles name the actions each function's code calls, not DynamoDBCrudPolicy's
    set; checked on the deployed names, as the functions' own calls are (tests/integration/test_iam_policies.py
    has every function's list)."""
    enforcer = iam.enforcer(hub.cloud)
    before = set(enforcer.denials())
    ratings = {"TableName": hub.cloud.resources["RatingsTable"]}
    key = {**ratings, "Key": {"rating_id": {"S": "r1"}}}
    assert enforcer.check("IngestFunction", "dynamodb", "GetItem", key) is None
    for operation, params in (("Scan", ratings), ("DeleteItem", key)):
        denied = enforcer.check("IngestFunction", "dynamodb", operation, params)
        assert denied and f"dynamodb:{operation} on resource" in denied, operation
    with enforcer._lock:  # asked for here, not denials of the suite's own calls (the last test counts those)
        for call in [c for c in enforcer.calls if not c.allowed and c not in before and c.function == "IngestFunction"
                     and c.action in ("dynamodb:Scan", "dynamodb:DeleteItem")]:  # fmt: skip
            del enforcer.calls[call]


def reverted(cloud: Any, tmp_path: Path) -> dict[str, iam.FunctionRole]:
    """The roles of template.yaml with the statements in FIXES taken out, resolved against the running stack."""
    sam = load_template(cloud.template)
    for function, sid in FIXES.items():
        policies = sam["Resources"][function]["Properties"]["Policies"]
        for policy in policies:
            if isinstance(policy, dict) and "Statement" in policy:
                policy["Statement"] = [s for s in policy["Statement"] if s.get("Sid") != sid]
        sam["Resources"][function]["Properties"]["Policies"] = [
            p for p in policies if not (isinstance(p, dict) and p.get("Statement") == [])
        ]
    path = tmp_path / "template.json"
    path.write_text(json.dumps(sam), encoding="utf-8")
    return iam.Enforcer.for_cloud(cloud, translate(path, cloud.parameters, cloud.region).cloudformation).roles


def test_with_the_two_fixes_reverted_the_suite_s_own_calls_are_denied(hub: Hub, tmp_path: Path) -> None:
    enforcer = iam.enforcer(hub.cloud)
    resources = hub.cloud.resources
    # GIVEN the calls of a retry while the province is down, and of a sweep run
    hub.province.set_faults(down=True)
    try:
        hub.post("kiosk", kiosk_batch("IAMRETRY", 1))
        hub.wait_until(lambda: any(c.function == "ForwardFunction" and c.action == "sqs:ChangeMessageVisibility"
                                   for c in enforcer.calls), 60, "a forward retry")  # fmt: skip
    finally:
        hub.province.set_faults()
    hub.cloud.invoke("SweepFunction", {})
    # WHEN they are evaluated against template.yaml without the two fixes
    denied = {(c.function, c.action, c.resource): enforcer.message(c) for c in enforcer.evaluate(
        reverted(hub.cloud, tmp_path))}  # fmt: skip
    # THEN both gaps are named: the function, the action and the resource
    queue = f"arn:aws:sqs:us-east-1:123456789012:{resources['ForwardQueue'].rsplit('/', 1)[1]}"
    secret = resources["ProvinceCredentialsSecret"]
    assert set(denied) == {
        ("SweepFunction", "secretsmanager:GetSecretValue", secret),
        ("ForwardFunction", "sqs:ChangeMessageVisibility", queue),
    }, denied
    print("\n".join(denied.values()))


def test_no_function_called_what_its_role_does_not_allow(hub: Hub) -> None:
    """Runs last: every call of the e2e suite, allowed by the calling function's role."""
    enforcer = iam.enforcer(hub.cloud)
    assert sum(enforcer.calls.values()) > 0
    print(enforcer.summary())
    denials = enforcer.denials()
    assert not denials, "\n".join(enforcer.message(c) + f" ({c.function}, {enforcer.calls[c]}x)" for c in denials)
