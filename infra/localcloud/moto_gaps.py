"""What moto's CloudFormation leaves undone (checked with moto 5.2.5), done through each service's own API: the
secrets it skips, the table and bucket settings it drops. `LocalCloud` calls these while deploying.
"""

from __future__ import annotations

import json
from typing import Any

Template = dict[str, Any]


def create_secret(client: Any, stack_name: str, logical_id: str, props: dict[str, Any]) -> str:
    """An AWS::SecretsManager::Secret (moto's CloudFormation skips them): its string, or one generated as
    `GenerateSecretString` says; returns its ARN."""
    name = props.get("Name") if isinstance(props.get("Name"), str) else f"{stack_name}-{logical_id}"
    if isinstance(props.get("SecretString"), str):
        value = props["SecretString"]
    else:
        spec = props.get("GenerateSecretString", {})
        options = {
            key: spec[key]
            for key in ("PasswordLength", "ExcludeCharacters", "ExcludeNumbers", "ExcludePunctuation",
                        "ExcludeUppercase", "ExcludeLowercase", "IncludeSpace", "RequireEachIncludedType")
            if key in spec
        }
        password = client.get_random_password(**options)["RandomPassword"]
        if "SecretStringTemplate" in spec:
            document = json.loads(spec["SecretStringTemplate"])
            document[spec.get("GenerateStringKey", "password")] = password
            value = json.dumps(document)
        else:
            value = password
    description = props.get("Description") if isinstance(props.get("Description"), str) else ""
    arn: str = client.create_secret(Name=name, SecretString=value, Description=description)["ARN"]
    return arn


def apply_settings_moto_ignores(cfn: Template, resources: dict[str, str], dynamodb: Any, s3: Any) -> None:
    """Settings moto's CloudFormation drops (checked with moto 5.2.5), applied through each
    service's API so that the local resources behave as the template says."""
    for logical_id, resource in cfn["Resources"].items():
        props, physical = resource.get("Properties", {}), resources.get(logical_id)
        if physical is None:
            continue
        if resource["Type"] == "AWS::DynamoDB::Table":
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled") is True:
                dynamodb.update_time_to_live(TableName=physical, TimeToLiveSpecification={
                    "AttributeName": ttl["AttributeName"], "Enabled": True})
            pitr = props.get("PointInTimeRecoverySpecification", {})
            if pitr.get("PointInTimeRecoveryEnabled") is True:
                dynamodb.update_continuous_backups(TableName=physical, PointInTimeRecoverySpecification={
                    "PointInTimeRecoveryEnabled": True})
        elif resource["Type"] == "AWS::S3::Bucket":
            if props.get("VersioningConfiguration", {}).get("Status") == "Enabled":
                s3.put_bucket_versioning(Bucket=physical, VersioningConfiguration={"Status": "Enabled"})
            block = props.get("PublicAccessBlockConfiguration")
            if block and all(isinstance(v, bool) for v in block.values()):
                s3.put_public_access_block(Bucket=physical, PublicAccessBlockConfiguration=block)
