"""The functions' roles in the translated template: least privilege, and ARNs for every partition (issue 10).

Over every `AWS::Lambda::Function` the translator produces (not a list of today's functions), for a
global region and both China regions. The evaluator the local cloud enforces them with
(infra/localcloud/iam.py) is checked here against IAM's own rules, each with the case that must fail.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from infra.localcloud import iam
from infra.localcloud.hubcloud import TEMPLATE
from infra.localcloud.translate import Template, load_template, translate

REGIONS = ("us-east-1", "cn-north-1", "cn-northwest-1")
HARD_CODED_PARTITION = re.compile(r"arn:aws(-[a-z]+)*:")

# Every statement of a role that allows an action on any resource ("*"), and why nothing narrower exists.
# Our own `Policies:` blocks need none: each names its table, queue, topic, key or secret.
JUSTIFIED_STAR: dict[str, str] = {
    # SAM attaches these managed policies itself; their statements are AWS's
    "AWSLambdaBasicExecutionRole": "logs:CreateLogGroup/CreateLogStream/PutLogEvents for the function's own "
    "log group, which Lambda names at run time; attached by SAM to every function",
    "AWSXrayWriteOnlyAccess": "X-Ray's PutTraceSegments, PutTelemetryRecords and GetSampling* support no "
    "resource-level permissions: `*` is the only resource they take (Tracing: Active)",
    "AWSXRayDaemonWriteAccess": "the same X-Ray actions: SAM's choice in the China regions, which lack "
    "AWSXrayWriteOnlyAccess",
    "AWSLambdaSQSQueueExecutionRole": "attached by SAM for an SQS event source (the Lambda service polls the "
    "queue under the role); SAM offers no narrower one short of a hand-written Role",
    "AWSLambdaDynamoDBExecutionRole": "attached by SAM for a DynamoDB stream event source (ReportingFunction: the "
    "Lambda service reads the ratings' and work orders' streams under the role); the same reason",
}


def translated(region: str) -> Template:
    return translate(TEMPLATE, {"ProvinceEndpoint": "https://province.example"}, region).cloudformation


def roles(cfn: Template) -> dict[str, Template]:
    """Function logical id -> its role's properties, for every function of the template."""
    found = {}
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Function":
            role_id = resource["Properties"]["Role"]["Fn::GetAtt"][0]
            found[logical_id] = cfn["Resources"][role_id]["Properties"]
    return found


def statements(role: Template) -> list[Template]:
    return [s for policy in role.get("Policies", []) for s in policy["PolicyDocument"]["Statement"]]


def hard_coded_partitions(node: Any) -> list[str]:
    """Literal `arn:aws...:` strings in a policy fragment (an ARN built with ${AWS::Partition} has none)."""
    if isinstance(node, str):
        return [node] if HARD_CODED_PARTITION.search(node) else []
    if isinstance(node, dict):
        return [hit for value in node.values() for hit in hard_coded_partitions(value)]
    if isinstance(node, list):
        return [hit for value in node for hit in hard_coded_partitions(value)]
    return []


@pytest.fixture(scope="module", params=REGIONS)
def cfn(request: pytest.FixtureRequest) -> Template:
    return translated(request.param)


def test_every_function_has_its_own_role_with_its_own_policies(cfn: Template) -> None:
    found = roles(cfn)
    assert "SweepFunction" in found and "ForwardFunction" in found
    role_ids = [r["Fn::GetAtt"][0] for r in (cfn["Resources"][f]["Properties"]["Role"] for f in found)]
    assert len(set(role_ids)) == len(role_ids)


def test_no_policy_statement_hard_codes_a_partition(cfn: Template) -> None:
    hits = {f: hard_coded_partitions(statements(role)) for f, role in roles(cfn).items()}
    assert not {f: h for f, h in hits.items() if h}, "build ARNs with ${AWS::Partition}"


def test_the_partition_check_finds_a_literal_arn() -> None:
    assert hard_coded_partitions([{"Resource": {"Fn::Sub": "arn:aws-cn:s3:::${Bucket}/*"}}])
    assert not hard_coded_partitions([{"Resource": {"Fn::Sub": "arn:${AWS::Partition}:s3:::${Bucket}/*"}}])


@pytest.mark.parametrize("region", REGIONS)
def test_managed_policies_are_named_in_the_region_s_partition(region: str) -> None:
    partition = iam.partition_of(region)
    arns = {arn for role in roles(translated(region)).values() for arn in role.get("ManagedPolicyArns", [])}
    assert arns and all(arn.startswith(f"arn:{partition}:iam::aws:policy/") for arn in arns), arns


def test_only_justified_statements_allow_any_resource(cfn: Template) -> None:
    # GIVEN each role's statements: ours from `Policies:`, AWS's from the managed policies SAM attaches
    stars: dict[str, set[str]] = {}
    for function, role in roles(cfn).items():
        for statement in statements(role):
            if "*" in _list(statement.get("Resource")):
                stars.setdefault(f"{function} Policies: {statement.get('Sid') or statement['Action']}", set())
        for arn in role.get("ManagedPolicyArns", []):
            name = arn.rsplit("/", 1)[-1]
            if any("*" in s.resources for s in iam.managed_statements(arn) or ()):
                stars.setdefault(name, set()).add(function)
    # THEN only the managed ones, each for a reason written down
    ours = sorted(name for name in stars if " Policies: " in name)
    assert not ours, f"name the resource: {ours}"
    assert set(stars) <= set(JUSTIFIED_STAR), set(stars) - set(JUSTIFIED_STAR)


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------------------------------
# The evaluator the local cloud enforces roles with: IAM's rules, each with its failing case


ARNS = iam.Arns("aws", "us-east-1", "123456789012", ("arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbC123",))
TABLE = "arn:aws:dynamodb:us-east-1:123456789012:table/Ratings"


def allow(**fields: Any) -> iam.Statement:
    return iam.Statement.parse({"Effect": "Allow", **fields})


def test_an_action_is_allowed_only_on_the_resources_named() -> None:
    crud = [allow(Action=["dynamodb:Query", "dynamodb:GetItem"], Resource=[TABLE, f"{TABLE}/index/*"])]
    assert iam.allowed(crud, "dynamodb:Query", f"{TABLE}/index/due")
    assert iam.allowed(crud, "DynamoDB:query", TABLE)  # actions are case-insensitive
    assert not iam.allowed(crud, "dynamodb:Query", TABLE.replace("Ratings", "Audit"))
    assert not iam.allowed(crud, "dynamodb:PutItem", TABLE)
    assert not iam.allowed(crud, "dynamodb:Query", TABLE.lower())  # resources are not


def test_an_explicit_deny_wins_and_not_resource_excludes() -> None:
    sms = allow(Action="sns:Publish", NotResource="arn:aws:sns:*:*:*")
    assert iam.allowed([sms], "sns:Publish", "*")  # a text to a phone number
    assert not iam.allowed([sms], "sns:Publish", "arn:aws:sns:us-east-1:123456789012:topic")
    deny = iam.Statement.parse({"Effect": "Deny", "Action": "sns:*", "Resource": "*"})
    assert not iam.allowed([sms, deny], "sns:Publish", "*")


def test_calls_become_the_actions_and_arns_iam_authorizes() -> None:
    transact = {"TransactItems": [{"Put": {"TableName": "Ratings"}}, {"ConditionCheck": {"TableName": "Cases"}}]}
    assert iam.authorizations("dynamodb", "TransactWriteItems", transact, ARNS) == [
        ("dynamodb:PutItem", TABLE), ("dynamodb:ConditionCheckItem", TABLE.replace("Ratings", "Cases"))]
    assert iam.authorizations("dynamodb", "Query", {"TableName": "Ratings", "IndexName": "due"}, ARNS) == [
        ("dynamodb:Query", f"{TABLE}/index/due")]
    url = "http://127.0.0.1:5000/123456789012/forward"
    assert iam.authorizations("sqs", "ChangeMessageVisibilityBatch", {"QueueUrl": url}, ARNS) == [
        ("sqs:ChangeMessageVisibility", "arn:aws:sqs:us-east-1:123456789012:forward")]
    assert iam.authorizations("secretsmanager", "GetSecretValue", {"SecretId": "s"}, ARNS) == [
        ("secretsmanager:GetSecretValue", "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbC123")]
    assert iam.authorizations("s3", "HeadObject", {"Bucket": "raw", "Key": "a/b"}, ARNS) == [
        ("s3:GetObject", "arn:aws:s3:::raw/a/b")]
    key = "0d3c0e52-1f7b-4a43-9a57-3a3c7d1c2b10"
    blob = key.encode() + b"\0" * 40  # moto's ciphertext blobs start with their key id
    assert iam.authorizations("kms", "Decrypt", {"CiphertextBlob": blob}, ARNS) == [
        ("kms:Decrypt", f"arn:aws:kms:us-east-1:123456789012:key/{key}")]
    assert iam.authorizations("sns", "Publish", {"PhoneNumber": "+8613900000000", "Message": "m"}, ARNS) == [
        ("sns:Publish", "*")]


def test_the_resolver_forms_arns_in_the_stack_s_partition() -> None:
    resolver = iam.Resolver(
        {"Parameters": {"Stage": {"Default": "v1"}}, "Conditions": {"IsV1": {"Fn::Equals": [{"Ref": "Stage"}, "v1"]}}},
        {"Queue": "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "Key": "k1"},
        {"Queue": "AWS::SQS::Queue", "Key": "AWS::KMS::Key"},
        {},
        "cn-north-1",
    )
    assert resolver.resolve({"Fn::GetAtt": ["Queue", "Arn"]}) == "arn:aws-cn:sqs:cn-north-1:123456789012:q"
    assert resolver.resolve({"Fn::Sub": "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${Key}"}) == (
        "arn:aws-cn:kms:cn-north-1:123456789012:key/k1")
    assert resolver.resolve([{"Fn::If": ["IsV1", {"Ref": "AWS::NoValue"}, "x"]}, "y"]) == ["y"]
    with pytest.raises(iam.Unresolvable):
        resolver.resolve({"Ref": "Missing"})


def test_reading_a_secret_under_our_key_is_also_a_kms_decrypt_and_an_upload_a_data_key() -> None:
    # GIVEN the look-up key secret and the raw payload bucket under the stack's DataKey, as template.yaml has them
    key = "arn:aws:kms:us-east-1:123456789012:key/k1"
    secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:lookup-AbC123"
    arns = iam.Arns("aws", "us-east-1", "123456789012", (secret,), encrypted_by={secret: key, "raw": key})
    # THEN Secrets Manager and S3 ask KMS for the caller
    asked = iam.authorizations("secretsmanager", "GetSecretValue", {"SecretId": secret}, arns)
    assert asked == [("secretsmanager:GetSecretValue", secret), ("kms:Decrypt", key)]
    assert iam.authorizations("s3", "PutObject", {"Bucket": "raw", "Key": "a"}, arns)[1] == ("kms:GenerateDataKey", key)
    # and a role with the secret but not the key is denied the read
    only_secret = [allow(Action="secretsmanager:GetSecretValue", Resource=secret)]
    assert not all(iam.allowed(only_secret, action, resource) for action, resource in asked)
    with_key = [*only_secret, allow(Action="kms:Decrypt", Resource=key)]
    assert all(iam.allowed(with_key, action, resource) for action, resource in asked)


def test_the_template_s_secrets_and_bucket_under_the_data_key_are_found() -> None:
    translation = translate(TEMPLATE, {"ProvinceEndpoint": "https://province.example"})
    cfn = translation.cloudformation
    types = {lid: r["Type"] for lid, r in {**translation.self_created, **cfn["Resources"]}.items()}
    physical = {lid: lid for lid in types}
    resolver = iam.Resolver(cfn, physical, types, {}, "us-east-1")
    found = iam.encryption_keys(cfn, translation.self_created, physical, resolver)
    data_key = "arn:aws:kms:us-east-1:123456789012:key/DataKey"
    assert found == {"LookupKeySecret": data_key, "RawPayloadBucket": data_key, "ReportsBucket": data_key}


# --------------------------------------------------------------------------------------------------
# Least privilege on the tables: each function's role allows the DynamoDB actions its code calls, not
# DynamoDBCrudPolicy's whole set (issue 16). Found by running the functions' e2e tests under the local cloud's
# enforcement (infra/localcloud/iam.py records every call) and by reading the stores they build
# (infra/bootstrap.py). The read-only DynamoDBReadPolicy grants on tables a function only reads are left.

DYNAMODB_ACTIONS = ("GetItem", "BatchGetItem", "Query", "Scan", "PutItem", "UpdateItem", "DeleteItem",
                    "BatchWriteItem", "ConditionCheckItem", "DescribeTable")  # DynamoDBCrudPolicy's  # fmt: skip
LEAST: dict[str, dict[str, set[str]]] = {
    "RegistryFunction": {"ConnectorsTable": {"GetItem", "PutItem", "Scan"}},  # a scan lists a few dozen
    "IngestFunction": {
        "RatingsTable": {"GetItem", "PutItem"},
        "NoncesTable": {"PutItem"},
        "CasesTable": {"GetItem", "PutItem", "UpdateItem"},
        "CasesTable/index/by_provisional_year": {"Query"},
        "CalendarTable": {"PutItem", "Query"},
    },
    "WorkOrdersFunction": {
        "WorkOrdersTable": {"GetItem", "BatchGetItem", "PutItem", "UpdateItem"},
        "WorkOrdersTable/index/by_unit": {"Query"},
        "WorkOrdersTable/index/by_managing_region": {"Query"},
        "WorkOrdersTable/index/by_status": {"Query"},
    },
    "ForwardFunction": {
        "RatingsTable": {"GetItem", "UpdateItem"},
        "WorkOrdersTable": {"GetItem", "PutItem", "UpdateItem"},
    },
    "SweepFunction": {
        "RatingsTable": {"UpdateItem"},
        "RatingsTable/index/by_next_due": {"Query"},
        "WorkOrdersTable": {"GetItem", "UpdateItem"},
        "WorkOrdersTable/index/by_outbox": {"Query"},
    },
    "SchedulerFunction": {
        "CasesTable": {"GetItem", "PutItem", "UpdateItem"},
        "CasesTable/index/by_due": {"Query"},
        "CasesTable/index/by_provisional_year": {"Query"},
        "RatingsTable": {"GetItem", "PutItem"},
        "WorkOrdersTable": {"GetItem", "BatchGetItem", "PutItem", "UpdateItem"},
        "WorkOrdersTable/index/by_next_check": {"Query"},
        "WorkOrdersTable/index/by_outbox": {"Query"},
    },
    "ReportsFunction": {"RollupsTable": {"Query", "BatchWriteItem"}, "RollupsTable/index/by_agency": {"Query"}},
    "ReportingFunction": {"RollupsTable": {"PutItem", "UpdateItem"}},
    "RatingsQueryFunction": {"AuditTable": {"PutItem"}},  # R20: the audit entry is written, never changed
}


def table_grants(region: str, template: Path = TEMPLATE) -> dict[str, dict[str, set[str]]]:
    """Function -> table or index (as `Table/index/name`) -> the DynamoDB actions its role allows there."""
    translation = translate(template, {"ProvinceEndpoint": "https://province.example"}, region)
    cfn = translation.cloudformation
    types = {lid: r["Type"] for lid, r in {**translation.self_created, **cfn["Resources"]}.items()}
    resolver = iam.Resolver(cfn, {lid: lid for lid in types}, types, {}, region)
    tables = [lid for lid, kind in types.items() if kind == "AWS::DynamoDB::Table"]
    resources = tables + [
        f"{t}/index/{ix['IndexName']}"
        for t in tables
        for ix in cfn["Resources"][t]["Properties"].get("GlobalSecondaryIndexes", [])
    ]
    arn = f"arn:{iam.partition_of(region)}:dynamodb:{region}:123456789012:table/"
    grants: dict[str, dict[str, set[str]]] = {}
    for function, role in iam.function_roles(cfn, resolver).items():
        for resource in resources:
            found = {a for a in DYNAMODB_ACTIONS if iam.allowed(role.statements, f"dynamodb:{a}", arn + resource)}
            if found:
                grants.setdefault(function, {})[resource] = found
    return grants


@pytest.mark.parametrize("region", REGIONS)
def test_each_function_may_do_on_the_tables_it_writes_only_what_its_code_calls(region: str) -> None:
    grants = table_grants(region)
    # THEN on every table it writes, each function has exactly the actions listed (and nothing on the others'
    # indexes beyond them); the tables it only reads keep DynamoDBReadPolicy
    for function, expected in LEAST.items():
        written = {resource.split("/", 1)[0] for resource in expected}
        mine = {r: a for r, a in grants[function].items() if r.split("/", 1)[0] in written}
        assert mine == expected, function
    # e.g. the ingest can neither scan nor delete a rating, and no function may delete from any table but the
    # reports' rebuild (BatchWriteItem's deletes of cells no longer counted)
    assert not {"Scan", "DeleteItem", "BatchWriteItem"} & grants["IngestFunction"]["RatingsTable"]
    assert not [(f, r) for f, rs in grants.items() for r, a in rs.items() if "DeleteItem" in a]


def test_the_least_privilege_check_fails_with_the_broad_policy_back(tmp_path: Path) -> None:
    """The negative control: template.yaml with the ingest's DynamoDBCrudPolicy on RatingsTable put back (as it was)
    lets the ingest scan and delete ratings, and the check above names it."""
    sam = load_template(TEMPLATE)
    sam["Resources"]["IngestFunction"]["Properties"]["Policies"].append({"DynamoDBCrudPolicy": {"TableName": {
        "Ref": "RatingsTable"}}})  # fmt: skip
    path = tmp_path / "template.json"
    path.write_text(json.dumps(sam), encoding="utf-8")
    ratings = table_grants("us-east-1", path)["IngestFunction"]["RatingsTable"]
    assert {"Scan", "DeleteItem", "BatchWriteItem"} <= ratings != LEAST["IngestFunction"]["RatingsTable"]
