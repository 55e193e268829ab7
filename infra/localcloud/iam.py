"""IAM as AWS enforces it, for the local cloud: every AWS call a function makes is checked against its own role.

moto enforces no IAM by default, and its enforcement (`INITIAL_NO_AUTH_ACTION_COUNT`) checks one set of
credentials per request, while here every function shares one process and one set of fake keys. So the
local cloud evaluates the calls itself: each client built by `infra.bootstrap.aws_clients` is hooked
(`before-parameter-build`), the call is turned into the IAM action and resource ARN AWS would authorize,
and evaluated against the policies of the role of the function whose handler the thread is running
(`infra.localcloud.lambdas.current_function`). The policies come from the *translated* template — SAM's
policy templates expanded by aws-sam-translator, its managed policies from moto's copy of AWS's —
with `Ref`, `Fn::GetAtt`, `Fn::Sub`, `Fn::Join` and `Fn::If` resolved to the deployed stack's physical
ARNs. Reading a secret or an object under a customer managed key is also the key's kms:Decrypt (an
upload its kms:GenerateDataKey), as Secrets Manager and S3 ask KMS on the caller's behalf. A call the
role does not allow raises the service's AccessDenied error in the function, with
AWS's wording, as it would in Lambda; every call is recorded (`Enforcer.calls`), so a denial a function
swallows is still found (tests/e2e/test_iam_enforced.py).

What this does not model (none of it is used by template.yaml today): condition keys (an Allow with a
Condition counts as allowing, a Deny with one as not denying), resource policies (key policies,
bucket and queue policies), permission boundaries, SCPs, and the calls the Lambda service itself makes
under the role (polling SQS, writing logs and traces).
"""

from __future__ import annotations

import contextlib
import json
import re
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from .lambdas import current_function

Template = dict[str, Any]
ACCOUNT_ID = "123456789012"  # moto's default account (infra.localcloud.cloud)
NO_VALUE = object()


class Unresolvable(ValueError):
    """A template fragment the local cloud cannot resolve to a literal."""


def partition_of(region: str) -> str:
    if region.startswith("cn-"):
        return "aws-cn"
    if region.startswith("us-gov-"):
        return "aws-us-gov"
    return "aws"


# --------------------------------------------------------------------------------------------------
# Policies and their evaluation


@dataclass(frozen=True)
class Statement:
    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] | None = None
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] | None = None
    sid: str = ""
    condition: bool = False

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        def strings(key: str) -> tuple[str, ...] | None:
            if key not in raw:
                return None
            value = raw[key]
            return tuple(str(v) for v in (value if isinstance(value, list) else [value]))

        return cls(
            effect=str(raw.get("Effect", "Allow")),
            actions=strings("Action") or (),
            not_actions=strings("NotAction"),
            resources=strings("Resource") or (),
            not_resources=strings("NotResource"),
            sid=str(raw.get("Sid", "")),
            condition=bool(raw.get("Condition")),
        )

    def applies(self, action: str, resource: str) -> bool:
        if self.not_actions is not None:
            acts = not any(_glob(p, action, ignore_case=True) for p in self.not_actions)
        else:
            acts = any(_glob(p, action, ignore_case=True) for p in self.actions)
        if not acts:
            return False
        if self.not_resources is not None:
            return not any(_glob(p, resource) for p in self.not_resources)
        return any(_glob(p, resource) for p in self.resources)


@lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards: `*` any run of characters, `?` one; nothing else is special (unlike fnmatch's `[]`)."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _glob(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    return _pattern(pattern, ignore_case).fullmatch(value) is not None


def allowed(statements: Iterable[Statement], action: str, resource: str) -> bool:
    """AWS's order for one identity policy set: an explicit Deny wins, then any Allow, else denied."""
    allow = False
    for statement in statements:
        if not statement.applies(action, resource):
            continue
        if statement.effect == "Deny" and not statement.condition:
            return False
        if statement.effect == "Allow":
            allow = True
    return allow


@dataclass(frozen=True)
class FunctionRole:
    """A function's execution role as deployed: its statements, and what could not be read."""

    function: str  # logical id
    role: str  # logical id of the role, or the literal ARN of a role from outside the stack
    statements: tuple[Statement, ...]
    managed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def function_roles(cfn: Template, resolver: Resolver) -> dict[str, FunctionRole]:
    """Every `AWS::Lambda::Function` of the translated template, generically, with its role's policies."""
    resources: Template = cfn.get("Resources", {})
    roles: dict[str, FunctionRole] = {}
    for logical_id, resource in resources.items():
        if resource.get("Type") != "AWS::Lambda::Function":
            continue
        role = resource.get("Properties", {}).get("Role")
        target = role.get("Fn::GetAtt") if isinstance(role, dict) else None
        role_id = (target[0] if isinstance(target, list) else str(target).split(".", 1)[0]) if target else None
        if role_id not in resources or resources[role_id].get("Type") != "AWS::IAM::Role":
            roles[logical_id] = FunctionRole(logical_id, str(role), (), notes=(f"role {role!r} is not in the stack",))
            continue
        roles[logical_id] = role_policies(logical_id, role_id, resources[role_id], resolver)
    return roles


def role_policies(function: str, role_id: str, role: Template, resolver: Resolver) -> FunctionRole:
    props = role.get("Properties", {})
    statements: list[Statement] = []
    notes: list[str] = []
    for policy in props.get("Policies", []):
        try:
            resolved = resolver.resolve(policy)
        except Unresolvable as exc:  # its statements allow nothing locally; the note says why
            notes.append(f"policy {policy.get('PolicyName', '?')} of {role_id} is not resolvable locally: {exc}")
            continue
        if resolved is NO_VALUE:
            continue
        raw = resolved.get("PolicyDocument", {}).get("Statement", [])
        statements.extend(Statement.parse(s) for s in (raw if isinstance(raw, list) else [raw]))
    try:
        managed = tuple(str(arn) for arn in resolver.resolve(props.get("ManagedPolicyArns", [])) or [])
    except Unresolvable as exc:
        managed = ()
        notes.append(f"the managed policies of {role_id} are not resolvable locally: {exc}")
    for arn in managed:
        found = managed_statements(arn)
        if found is None:
            notes.append(f"managed policy {arn} is unknown locally: its statements are not counted")
        statements.extend(found or ())
    if any(s.condition for s in statements):
        notes.append("conditions are not evaluated locally: an Allow with a Condition counts as allowing")
    return FunctionRole(function, role_id, tuple(statements), managed, tuple(notes))


def managed_statements(arn: str) -> tuple[Statement, ...] | None:
    """The statements of an AWS managed policy (moto keeps a copy of AWS's), or None if unknown."""
    document = _aws_managed_policies().get(arn.rsplit("/", 1)[-1])
    if document is None:
        return None
    raw = document["Statement"]
    return tuple(Statement.parse(s) for s in (raw if isinstance(raw, list) else [raw]))


@lru_cache(maxsize=1)
def _aws_managed_policies() -> dict[str, Template]:
    from moto.iam.aws_managed_policies import aws_managed_policies_data

    return {name: entry["Document"] for name, entry in json.loads(aws_managed_policies_data).items()}


# --------------------------------------------------------------------------------------------------
# Resolving the translated template against the deployed stack


class Resolver:
    """Literal values for a template's intrinsics, from the deployed resources' physical ids.

    `types` and `physical` are by logical id; attributes (`Arn`, `QueueName`, `TopicName` ...) are
    derived from the physical id the way AWS forms them.
    """

    def __init__(
        self,
        template: Template,
        physical: Mapping[str, str],
        types: Mapping[str, str],
        parameters: Mapping[str, str],
        region: str,
        account: str = ACCOUNT_ID,
        stack_name: str = "local",
    ) -> None:
        self.template = template
        self.physical = physical
        self.types = types
        self.partition = partition_of(region)
        self.region = region
        self.account = account
        declared = template.get("Parameters", {})
        self.parameters = {name: str(p["Default"]) for name, p in declared.items() if "Default" in p}
        self.parameters.update(parameters)
        self.pseudo = {"AWS::Partition": self.partition, "AWS::Region": region, "AWS::AccountId": account,
                       "AWS::StackName": stack_name, "AWS::URLSuffix": "amazonaws.com.cn" if region.startswith("cn-")
                       else "amazonaws.com"}  # fmt: skip
        self._conditions: dict[str, bool] = {}

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.parameters:
            return self.parameters[name]
        if name in self.physical:
            return self.physical[name]
        raise Unresolvable(f"Ref {name}")

    def attribute(self, name: str, attribute: str) -> str:
        physical = self.physical.get(name)
        kind = self.types.get(name, "")
        if physical is None:
            raise Unresolvable(f"Fn::GetAtt {name}.{attribute}: not deployed")
        p, r, a = self.partition, self.region, self.account
        derived: dict[str, dict[str, str]] = {
            "AWS::DynamoDB::Table": {"Arn": f"arn:{p}:dynamodb:{r}:{a}:table/{physical}"},
            "AWS::SQS::Queue": {"Arn": f"arn:{p}:sqs:{r}:{a}:{physical.rsplit('/', 1)[-1]}",
                                "QueueName": physical.rsplit("/", 1)[-1], "QueueUrl": physical},
            "AWS::SNS::Topic": {"TopicArn": physical, "TopicName": physical.rsplit(":", 1)[-1]},
            "AWS::KMS::Key": {"Arn": f"arn:{p}:kms:{r}:{a}:key/{physical}", "KeyId": physical},
            "AWS::S3::Bucket": {"Arn": f"arn:{p}:s3:::{physical}", "BucketName": physical},
            "AWS::SecretsManager::Secret": {"Id": physical},
            "AWS::IAM::Role": {"Arn": f"arn:{p}:iam::{a}:role/{physical}", "RoleId": physical},
            "AWS::Lambda::Function": {"Arn": f"arn:{p}:lambda:{r}:{a}:function:{physical}"},
            "AWS::Cognito::UserPool": {"Arn": f"arn:{p}:cognito-idp:{r}:{a}:userpool/{physical}"},
            "AWS::Events::Rule": {"Arn": f"arn:{p}:events:{r}:{a}:rule/{physical}"},
        }  # fmt: skip
        try:
            return derived[kind][attribute]
        except KeyError:
            raise Unresolvable(f"Fn::GetAtt {name}.{attribute} ({kind or 'unknown type'})") from None

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = bool(self._condition(self.template.get("Conditions", {})[name]))
        return self._conditions[name]

    def _condition(self, node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (key, value), = node.items()
            if key == "Fn::Equals":
                left, right = (self.resolve(v) for v in value)
                return str(left) == str(right)
            if key == "Fn::Not":
                return not self._condition(value[0])
            if key == "Fn::And":
                return all(self._condition(v) for v in value)
            if key == "Fn::Or":
                return any(self._condition(v) for v in value)
            if key == "Condition":
                return self.condition(value)
        return self.resolve(node)

    def resolve(self, node: Any) -> Any:
        """`node` with every intrinsic replaced; `AWS::NoValue` removes the item or key it stands for."""
        if isinstance(node, list):
            items = [self.resolve(item) for item in node]
            return [item for item in items if item is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, value), = node.items()
            if key == "Ref":
                return self.ref(value)
            if key == "Fn::GetAtt":
                name, attribute = value if isinstance(value, list) else str(value).split(".", 1)
                return self.attribute(name, attribute)
            if key == "Fn::Sub":
                return self._sub(value)
            if key == "Fn::Join":
                delimiter, parts = value
                return str(delimiter).join(str(p) for p in self.resolve(parts))
            if key == "Fn::If":
                name, when_true, when_false = value
                return self.resolve(when_true if self.condition(name) else when_false)
            if key.startswith("Fn::"):
                raise Unresolvable(key)
        resolved = {key: self.resolve(value) for key, value in node.items()}
        return {key: value for key, value in resolved.items() if value is not NO_VALUE}

    def _sub(self, value: Any) -> str:
        text, variables = (value[0], self.resolve(value[1])) if isinstance(value, list) else (value, {})

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name.startswith("!"):
                return "${" + name[1:] + "}"
            if name in variables:
                return str(variables[name])
            if "." in name and not name.startswith("AWS::"):
                return self.attribute(*name.split(".", 1))
            return str(self.ref(name))

        return re.sub(r"\$\{([^}]+)\}", replace, str(text))


# --------------------------------------------------------------------------------------------------
# A call, as IAM authorizes it


_SQS_BATCH = {"SendMessageBatch": "SendMessage", "DeleteMessageBatch": "DeleteMessage",
              "ChangeMessageVisibilityBatch": "ChangeMessageVisibility"}  # fmt: skip
_S3_ACTIONS = {"HeadObject": "GetObject", "ListObjectsV2": "ListBucket", "ListObjects": "ListBucket",
               "HeadBucket": "ListBucket", "DeleteObjects": "DeleteObject", "ListObjectVersions": "ListBucketVersions",
               "GetObjectAttributes": "GetObject"}  # fmt: skip
_TRANSACT = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem",
             "Get": "GetItem"}  # fmt: skip
_NEEDS_NO_PERMISSION = {("sts", "GetCallerIdentity")}
_PREFIX = {"monitoring": "cloudwatch", "email": "ses"}
_DENIED_CODE = {"sqs": "AccessDenied", "s3": "AccessDenied", "sns": "AuthorizationError", "sts": "AccessDenied",
                "iam": "AccessDenied", "cloudwatch": "AccessDenied"}  # fmt: skip


@dataclass(frozen=True)
class Arns:
    partition: str
    region: str
    account: str
    secret_arns: tuple[str, ...] = ()  # the stack's secrets, to name one given by name
    key_ids: Mapping[str, str] = field(default_factory=dict)  # alias name -> key id
    # secret ARN or bucket name -> the customer managed key it is encrypted under: reading it is also a
    # kms:Decrypt (an upload a kms:GenerateDataKey) by the caller, as Secrets Manager and S3 ask KMS for it
    encrypted_by: Mapping[str, str] = field(default_factory=dict)

    def table(self, name: str) -> str:
        if name.startswith("arn:"):
            return name
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{name}"

    def queue(self, url_or_name: str, account: str | None = None) -> str:
        if url_or_name.startswith("arn:"):
            return url_or_name
        parts = url_or_name.rstrip("/").split("/")
        owner = parts[-2] if len(parts) >= 2 and parts[-2].isdigit() else (account or self.account)
        return f"arn:{self.partition}:sqs:{self.region}:{owner}:{parts[-1]}"

    def key(self, key_id: str) -> str:
        if key_id.startswith("arn:") and ":key/" in key_id:
            return key_id
        if key_id.startswith("arn:") and ":alias/" in key_id:
            key_id = "alias/" + key_id.split(":alias/", 1)[1]
        key_id = self.key_ids.get(key_id, key_id)
        return f"arn:{self.partition}:kms:{self.region}:{self.account}:key/{key_id}"

    def secret(self, secret_id: str) -> str:
        if secret_id.startswith("arn:"):
            return secret_id
        for arn in self.secret_arns:
            if re.fullmatch(rf".*:secret:{re.escape(secret_id)}-[A-Za-z0-9]{{6}}", arn):
                return arn
        return f"arn:{self.partition}:secretsmanager:{self.region}:{self.account}:secret:{secret_id}"


def authorizations(service: str, operation: str, params: Mapping[str, Any], arns: Arns) -> list[tuple[str, str]]:
    """The (action, resource ARN) pairs AWS authorizes for one API call; `[]` for calls needing none."""
    prefix = _PREFIX.get(service, service)
    if (prefix, operation) in _NEEDS_NO_PERMISSION:
        return []
    if prefix == "dynamodb":
        return _dynamodb(operation, params, arns)
    if prefix == "sqs":
        action = f"sqs:{_SQS_BATCH.get(operation, operation)}"
        if "QueueUrl" in params:
            return [(action, arns.queue(params["QueueUrl"]))]
        if "QueueName" in params:
            return [(action, arns.queue(params["QueueName"], params.get("QueueOwnerAWSAccountId")))]
        return [(action, "*")]
    if prefix == "sns":
        target = params.get("TopicArn") or params.get("TargetArn")
        # A text message to a phone number names no resource: "*" (and the number stays out of the record)
        return [(f"sns:{operation}", str(target) if target else "*")]
    if prefix == "kms":
        key = params.get("KeyId") or params.get("DestinationKeyId") or _moto_blob_key(params.get("CiphertextBlob"))
        return [(f"kms:{operation}", arns.key(str(key)) if key else "*")]
    if prefix == "secretsmanager":
        secret = arns.secret(str(params["SecretId"])) if params.get("SecretId") else "*"
        found = [(f"secretsmanager:{operation}", secret)]
        if operation == "GetSecretValue" and secret in arns.encrypted_by:
            found.append(("kms:Decrypt", arns.encrypted_by[secret]))
        return found
    if prefix == "s3":
        bucket = str(params.get("Bucket", ""))
        bucket_arn = f"arn:{arns.partition}:s3:::{bucket}"
        if operation == "CopyObject":
            source = params.get("CopySource")
            source = f"{source['Bucket']}/{source['Key']}" if isinstance(source, dict) else str(source).lstrip("/")
            return [("s3:GetObject", f"arn:{arns.partition}:s3:::{source}"),
                    ("s3:PutObject", f"{bucket_arn}/{params.get('Key', '')}")]  # fmt: skip
        action = f"s3:{_S3_ACTIONS.get(operation, operation)}"
        if "Key" in params and action != "s3:ListBucket":
            key = arns.encrypted_by.get(bucket)
            implied = {"s3:PutObject": "kms:GenerateDataKey", "s3:GetObject": "kms:Decrypt"}.get(action)
            return [(action, f"{bucket_arn}/{params['Key']}"), *([(implied, key)] if key and implied else [])]
        if operation == "DeleteObjects":
            return [(action, f"{bucket_arn}/{o['Key']}") for o in params.get("Delete", {}).get("Objects", [])]
        return [(action, bucket_arn)]
    return [(f"{prefix}:{operation}", "*")]


def _dynamodb(operation: str, params: Mapping[str, Any], arns: Arns) -> list[tuple[str, str]]:
    if operation in ("TransactWriteItems", "TransactGetItems"):
        found = []
        for item in params.get("TransactItems", []):
            for kind, op in item.items():
                found.append((f"dynamodb:{_TRANSACT[kind]}", arns.table(op["TableName"])))
        return found
    if operation in ("BatchWriteItem", "BatchGetItem"):
        return [(f"dynamodb:{operation}", arns.table(name)) for name in params.get("RequestItems", {})]
    if "TableName" not in params:
        return [(f"dynamodb:{operation}", "*")]
    table = arns.table(params["TableName"])
    if params.get("IndexName"):
        table = f"{table}/index/{params['IndexName']}"
    return [(f"dynamodb:{operation}", table)]


def _moto_blob_key(blob: Any) -> str | None:
    """The key id moto writes in front of its ciphertext blobs (KMS's own blobs name their key too)."""
    if isinstance(blob, bytes | bytearray) and len(blob) >= 36:
        head = bytes(blob[:36]).decode("ascii", "replace")
        if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", head):
            return head
    return None


# --------------------------------------------------------------------------------------------------
# Enforcement in the local cloud


@dataclass(frozen=True)
class Call:
    function: str
    action: str
    resource: str
    allowed: bool


class Enforcer:
    """One local cloud's roles, the calls its functions made, and the AccessDenied errors AWS would answer."""

    def __init__(self, roles: Mapping[str, FunctionRole], principals: Mapping[str, str], arns: Arns) -> None:
        self.roles = dict(roles)
        self.principals = dict(principals)  # function logical id -> the assumed-role ARN it calls as
        self.arns = arns
        self.calls: Counter[Call] = Counter()
        self._lock = threading.Lock()
        self._revoked: dict[str, tuple[Statement, ...]] = {}
        self._decided: dict[tuple[str, str, str, int], bool] = {}  # a revoke starts it anew

    @classmethod
    def for_cloud(cls, cloud: Any, template: Template | None = None) -> Enforcer:
        """From a started `LocalCloud`; `template` replaces its translated template (a negative control)."""
        translation = cloud.translation
        cfn = template if template is not None else translation.cloudformation
        types = {lid: r["Type"] for lid, r in {**translation.self_created, **cfn.get("Resources", {})}.items()}
        resolver = Resolver(cfn, cloud.resources, types, cloud.parameters, cloud.region, ACCOUNT_ID, cloud.stack_name)
        roles = function_roles(cfn, resolver)
        partition = partition_of(cloud.region)
        principals = {
            lid: f"arn:{partition}:sts::{ACCOUNT_ID}:assumed-role/{cloud.resources.get(role.role, role.role)}/"
                 f"{cloud.resources.get(lid, lid)}"
            for lid, role in roles.items()
        }  # fmt: skip
        secrets = tuple(arn for lid, arn in cloud.resources.items() if types.get(lid) == "AWS::SecretsManager::Secret")
        aliases = {}
        for lid, resource in cfn.get("Resources", {}).items():
            if resource["Type"] == "AWS::KMS::Alias" and lid in cloud.resources:
                with contextlib.suppress(Unresolvable, KeyError):
                    aliases[cloud.resources[lid]] = str(resolver.resolve(resource["Properties"]["TargetKeyId"]))
        return cls(roles, principals, Arns(partition, cloud.region, ACCOUNT_ID, secrets, aliases,
                                           encryption_keys(cfn, translation.self_created, cloud.resources, resolver)))

    def check(self, function: str, service: str, operation: str, params: Mapping[str, Any]) -> str | None:
        """Record the call; the AccessDenied message AWS would give, or None when the role allows it."""
        role = self.roles.get(function)
        if role is None:
            return None  # not a function of this stack
        statements = self._revoked.get(function, role.statements)
        for action, resource in authorizations(service, operation, params, self.arns):
            key = (function, action, resource, id(statements))
            ok = self._decided.get(key)
            if ok is None:
                ok = self._decided[key] = allowed(statements, action, resource)
            with self._lock:
                self.calls[Call(function, action, resource, ok)] += 1
            if not ok:
                return self.message(Call(function, action, resource, False))
        return None

    def message(self, call: Call) -> str:
        """AWS's wording for a denied call (IAM's implicit deny)."""
        return (f"User: {self.principals[call.function]} is not authorized to perform: {call.action} on resource: "
                f"{call.resource} because no identity-based policy allows the {call.action} action")  # fmt: skip

    def denials(self) -> list[Call]:
        with self._lock:
            return sorted((c for c in self.calls if not c.allowed), key=lambda c: (c.function, c.action, c.resource))

    def summary(self) -> str:
        """Per function: how many calls were checked, and each distinct action and resource."""
        with self._lock:
            calls = dict(self.calls)
        lines = []
        for function in sorted(self.roles):
            mine: Counter[tuple[str, str, bool]] = Counter()
            for c, n in calls.items():
                if c.function == function:  # objects of one bucket as one line
                    resource = re.sub(r"^(arn:[^:]+:s3:::[^/]+)/.+$", r"\1/*", c.resource)
                    mine[(c.action, resource, c.allowed)] += n
            lines.append(f"{function}: {sum(mine.values())} calls checked")
            lines += [f"  {'allowed' if ok else 'DENIED '} {n:6d}x {action} {resource}"
                      for (action, resource, ok), n in sorted(mine.items())]  # fmt: skip
        return "\n".join(lines)

    def evaluate(self, roles: Mapping[str, FunctionRole]) -> list[Call]:
        """The calls recorded so far, evaluated against other roles (the template with a fix reverted):
        those they would deny."""
        with self._lock:
            calls = sorted({(c.function, c.action, c.resource) for c in self.calls})
        return [Call(f, a, r, False) for f, a, r in calls if f in roles and not allowed(roles[f].statements, a, r)]

    def revoke(self, function: str, action: str) -> Callable[[], None]:
        """Take `action` out of every statement of `function`'s role until the returned undo is called."""
        role = self.roles[function]
        kept = []
        for s in role.statements:
            actions = tuple(a for a in s.actions if not _glob(a, action, ignore_case=True))
            if s.not_actions is None and not actions:
                continue
            kept.append(Statement(s.effect, actions, s.not_actions, s.resources, s.not_resources, s.sid, s.condition))
        self._revoked[function] = tuple(kept)
        self._decided.clear()

        def undo() -> None:
            self._revoked.pop(function, None)
            self._decided.clear()
            with self._lock:  # the denials asked for are not the suite's
                for call in [c for c in self.calls if c.function == function and not c.allowed
                             and _glob(action, c.action, ignore_case=True)]:  # fmt: skip
                    del self.calls[call]

        return undo


def encryption_keys(
    cfn: Template, self_created: Mapping[str, Template], physical: Mapping[str, str], resolver: Resolver
) -> dict[str, str]:
    """Secrets (`KmsKeyId`) and buckets (SSE-KMS by default) under a customer managed key: physical id -> key ARN."""
    found: dict[str, str] = {}
    for logical_id, resource in {**self_created, **cfn.get("Resources", {})}.items():
        props = resource.get("Properties", {})
        key: Any = None
        if resource["Type"] == "AWS::SecretsManager::Secret":
            key = props.get("KmsKeyId")
        elif resource["Type"] == "AWS::S3::Bucket":
            for rule in props.get("BucketEncryption", {}).get("ServerSideEncryptionConfiguration", []):
                default = rule.get("ServerSideEncryptionByDefault", {})
                if str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
                    key = default.get("KMSMasterKeyID")
        if key is None or logical_id not in physical:
            continue
        with contextlib.suppress(Unresolvable):
            value = str(resolver.resolve(key))
            if not value.startswith("alias/aws/"):  # an AWS managed key asks nothing of the caller
                found[physical[logical_id]] = value if value.startswith("arn:") else (
                    f"arn:{resolver.partition}:kms:{resolver.region}:{resolver.account}:key/{value}")
    return found


_enforcers: weakref.WeakKeyDictionary[Any, Enforcer] = weakref.WeakKeyDictionary()
_enforcers_lock = threading.Lock()


def enforcer(cloud: Any) -> Enforcer:
    """The enforcer of a started local cloud (built on first use)."""
    with _enforcers_lock:
        found = _enforcers.get(cloud)
        if found is None:
            found = _enforcers[cloud] = Enforcer.for_cloud(cloud)
        return found


def _cloud_at(endpoint: str) -> Any:
    from .cloud import _running, _running_lock

    with _running_lock:
        return next((c for c in reversed(_running) if c.aws_endpoint and c.aws_endpoint == endpoint), None)


def _check_call(client: Any) -> Callable[..., None]:
    endpoint = (client.meta.endpoint_url or "").rstrip("/")

    def check(params: Mapping[str, Any], model: Any, **_: Any) -> None:
        spec = current_function()
        if spec is None:
            return  # not inside a function: the local cloud's own work, a test's set-up
        service = model.service_model.signing_name or model.service_model.endpoint_prefix
        cloud = _cloud_at(endpoint)
        if cloud is None or cloud.translation is None:
            return
        message = enforcer(cloud).check(spec.logical_id, service, model.name, params)
        if message is not None:
            code = _DENIED_CODE.get(_PREFIX.get(service, service), "AccessDeniedException")
            error = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}}
            raise client.exceptions.from_code(code)(error, model.name)

    return check


def hook_client(client: Any) -> None:
    """Check every call `client` makes inside a function of a local cloud (infra.bootstrap.CLIENT_HOOKS)."""
    client.meta.events.register("before-parameter-build", _check_call(client), unique_id="hcp-local-iam")


class PerFunction(MutableMapping[Any, Any]):
    """A process-wide cache, one per function, as one Lambda container per function would have it.

    Without this, a secret read or a data key opened by one function would spare another the call
    (and hide a permission it lacks)."""

    def __init__(self, initial: Mapping[Any, Any] | None = None) -> None:
        self._maps: dict[str | None, dict[Any, Any]] = {None: dict(initial or {})}

    def _map(self) -> dict[Any, Any]:
        spec = current_function()
        return self._maps.setdefault(spec.arn if spec else None, {})

    def __getitem__(self, key: Any) -> Any:
        return self._map()[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self._map()[key] = value

    def __delitem__(self, key: Any) -> None:
        del self._map()[key]

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._map()))

    def __len__(self) -> int:
        return len(self._map())


_installed = threading.Lock()


def install() -> None:
    """Hook every client `infra.bootstrap` builds, and give each function its own process caches; idempotent."""
    import infra.bootstrap
    import infra.province.client
    import infra.sealing

    with _installed:
        if hook_client not in infra.bootstrap.CLIENT_HOOKS:
            infra.bootstrap.CLIENT_HOOKS.append(hook_client)
        for module, name in ((infra.sealing, "_shared"), (infra.province.client, "_credentials_cache")):
            current = getattr(module, name)
            if not isinstance(current, PerFunction):
                setattr(module, name, PerFunction(current))
