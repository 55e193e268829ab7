"""From the SAM template to what moto's CloudFormation can deploy, saying what was left out and why.

moto ignores the SAM transform, so the template is translated offline with aws-sam-translator (no
AWS calls: the managed-policy map is empty, the code locations are placeholders). The plain
CloudFormation is then adapted: resources moto cannot deploy are removed, together with whatever
refers to them, and each removal is recorded so `hcp local up` can print it (DESIGN.md §5).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import boto3
import yaml
from samtranslator.parser.parser import Parser
from samtranslator.translator.translator import Translator
from samtranslator.utils.py27hash_fix import to_py27_compatible_template, undo_mark_unicode_str_in_template
from samtranslator.yaml_helper import intrinsics_multi_constructor

Template = dict[str, Any]

# Resource types the local cloud removes before deploying, and why. Secrets Manager secrets and Cognito
# are created by the local cloud itself through moto's own API (see `SELF_CREATED`).
LEFT_OUT: dict[str, str] = {
    "AWS::ApiGateway::RestApi": "moto cannot deploy SAM's REST API; the local cloud serves its routes itself",
    "AWS::ApiGateway::Deployment": "part of the REST API, served by the local cloud",
    "AWS::ApiGateway::Stage": "part of the REST API, served by the local cloud",
    "AWS::ApiGateway::Account": "part of the REST API, served by the local cloud",
    "AWS::CloudWatch::Alarm": "alarms only matter in AWS (moto's CloudFormation skips them)",
    "AWS::SecretsManager::Secret": "moto's CloudFormation skips secrets; created through moto's Secrets Manager",
    "AWS::Cognito::UserPool": "moto's CloudFormation skips Cognito; created through moto's cognito-idp API",
    "AWS::Cognito::UserPoolClient": "moto's CloudFormation skips Cognito",
    "AWS::Cognito::UserPoolGroup": "moto's CloudFormation skips Cognito",
    "AWS::S3::BucketPolicy": "moto's CloudFormation does not know bucket policies; IAM is not enforced locally",
    "AWS::SQS::QueuePolicy": "moto's CloudFormation does not know queue policies; IAM is not enforced locally",
    "AWS::Lambda::LayerVersion": "the dependency layer: handlers run in-process with the project's own packages",
}
SELF_CREATED = frozenset(
    {"AWS::SecretsManager::Secret", "AWS::Cognito::UserPool", "AWS::Cognito::UserPoolClient",
     "AWS::Cognito::UserPoolGroup"}
)
PLACEHOLDER_CODE = "# The local cloud runs this function's handler in-process from the working tree.\n"


@dataclass(frozen=True)
class LeftOut:
    logical_id: str
    type: str
    reason: str


@dataclass(frozen=True)
class Translation:
    """The deployable template, plus what the local cloud needs that CloudFormation loses."""

    sam: Template
    cloudformation: Template
    left_out: tuple[LeftOut, ...]
    # Function logical id -> directory its handler is imported from (the CodeUri, as in Lambda).
    code_dirs: dict[str, Path]
    # Logical ids of removed resources that the local cloud creates itself; their `Ref` must be
    # substituted before deploying.
    self_created: dict[str, Template]


class _Loader(yaml.SafeLoader):
    """YAML loader that reads CloudFormation's short-form tags (!Ref, !GetAtt, !Sub ...)."""


_Loader.add_multi_constructor("!", intrinsics_multi_constructor)


def load_template(path: str | Path) -> Template:
    return cast(Template, yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_Loader))


def sam_to_cloudformation(sam: Template, parameters: dict[str, str], region: str) -> Template:
    """`samtranslator.translator.transform.transform`, offline: the region comes from an explicit
    session (no environment needed), and the managed-policy map is empty instead of loaded from IAM
    (only policies named by bare name need it; name them by ARN)."""
    fragment = copy.deepcopy(sam)
    to_py27_compatible_template(fragment, parameters)
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    cfn = translator.translate(fragment, parameter_values=parameters, get_managed_policy_map=dict)
    return cast(Template, undo_mark_unicode_str_in_template(cfn))


def translate(path: str | Path, parameters: dict[str, str] | None = None, region: str = "us-east-1") -> Translation:
    """Translate the SAM template at `path` and adapt it for moto."""
    path = Path(path).resolve()
    sam = load_template(path)
    code_dirs = _code_dirs(sam, path.parent)
    fragment = copy.deepcopy(sam)
    for logical_id in code_dirs:
        # The translator insists on an S3 location; the placeholder is replaced with inline code below.
        fragment["Resources"][logical_id]["Properties"]["CodeUri"] = f"s3://local-cloud-code/{logical_id}.zip"
    for logical_id, resource in fragment["Resources"].items():
        if resource.get("Type") == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = f"s3://local-cloud-code/{logical_id}.zip"
    cfn = sam_to_cloudformation(fragment, dict(parameters or {}), region)
    for logical_id in code_dirs:
        resource = cfn["Resources"].get(logical_id)
        if resource and resource["Type"] == "AWS::Lambda::Function":
            resource["Properties"]["Code"] = {"ZipFile": PLACEHOLDER_CODE}
            resource["Properties"].pop("Layers", None)  # the layer is left out (LEFT_OUT)
    adapted, left_out, self_created = adapt_for_moto(cfn)
    return Translation(sam, adapted, tuple(left_out), code_dirs, self_created)


def _code_dirs(sam: Template, base: Path) -> dict[str, Path]:
    default = sam.get("Globals", {}).get("Function", {}).get("CodeUri")
    dirs: dict[str, Path] = {}
    for logical_id, resource in sam.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = resource.setdefault("Properties", {})
        if "InlineCode" in props or "ImageUri" in props:
            raise ValueError(f"{logical_id}: the local cloud runs code from CodeUri only")
        code_uri = props.get("CodeUri", default)
        if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
            raise ValueError(f"{logical_id}: CodeUri must be a local directory for the local cloud, got {code_uri!r}")
        dirs[logical_id] = (base / code_uri).resolve()
    return dirs


def adapt_for_moto(cfn: Template) -> tuple[Template, list[LeftOut], dict[str, Template]]:
    """Remove what moto cannot deploy, then, until nothing changes, whatever refers to a removed
    resource (a dangling Ref or GetAtt fails the whole stack in moto). Self-created resources are
    kept referable: their `Ref` is substituted with the physical id before deploying."""
    cfn = copy.deepcopy(cfn)
    resources: Template = cfn["Resources"]
    left_out: list[LeftOut] = []
    self_created: dict[str, Template] = {}
    removed: set[str] = set()
    for logical_id, resource in list(resources.items()):
        reason = LEFT_OUT.get(resource["Type"])
        if reason is not None:
            left_out.append(LeftOut(logical_id, resource["Type"], reason))
            del resources[logical_id]
            if resource["Type"] in SELF_CREATED:
                self_created[logical_id] = resource
            else:
                removed.add(logical_id)
    changed = True
    while changed:
        changed = False
        for logical_id, resource in list(resources.items()):
            hit = sorted(references(resource) & removed)
            if hit:
                reason = f"refers to {', '.join(hit)}, which the local cloud left out"
                left_out.append(LeftOut(logical_id, resource["Type"], reason))
                del resources[logical_id]
                removed.add(logical_id)
                changed = True
    outputs: Template = cfn.get("Outputs", {})
    for name, output in list(outputs.items()):
        hit = sorted(references(output) & removed)
        if hit:
            left_out.append(LeftOut(name, "Output", f"refers to {', '.join(hit)}, which the local cloud left out"))
            del outputs[name]
    return cfn, left_out, self_created


def references(node: Any) -> set[str]:
    """Logical ids a template fragment refers to: Ref, Fn::GetAtt, ${X} / ${X.Attr} in Fn::Sub, DependsOn."""
    found: set[str] = set()
    for key, value in _walk(node):
        if key == "Ref" and isinstance(value, str):
            found.add(value)
        elif key == "Fn::GetAtt":
            target = value[0] if isinstance(value, list) else str(value).split(".", 1)[0]
            found.add(target)
        elif key == "Fn::Sub":
            text = value[0] if isinstance(value, list) else value
            if isinstance(text, str):
                found.update(_sub_names(text))
        elif key == "DependsOn":
            found.update([value] if isinstance(value, str) else value)
    return {name for name in found if not name.startswith("AWS::")}


def _sub_names(text: str) -> Iterator[str]:
    start = 0
    while (i := text.find("${", start)) != -1:
        end = text.find("}", i)
        if end == -1:
            return
        name = text[i + 2 : end]
        if not name.startswith("!"):
            yield name.split(".", 1)[0]
        start = end + 1


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield key, value
            yield from _walk(value)
    elif isinstance(node, list):
        for item in node:
            yield from _walk(item)


def substitute_refs(node: Any, refs: dict[str, str], attributes: dict[str, dict[str, str]] | None = None) -> Any:
    """Replace `{"Ref": X}`, `${X}` in Fn::Sub and `{"Fn::GetAtt": [X, A]}` with literals, for
    resources created outside the stack."""
    attributes = attributes or {}
    if isinstance(node, dict):
        if set(node) == {"Ref"} and node["Ref"] in refs:
            return refs[node["Ref"]]
        if set(node) == {"Fn::GetAtt"}:
            target = node["Fn::GetAtt"]
            name, attribute = target if isinstance(target, list) else str(target).split(".", 1)
            if name in attributes:
                if attribute not in attributes[name]:
                    raise ValueError(f"Fn::GetAtt {name}.{attribute}: not available for a resource created locally")
                return attributes[name][attribute]
        if set(node) == {"Fn::Sub"}:
            value = node["Fn::Sub"]
            text, variables = (value[0], value[1]) if isinstance(value, list) else (value, None)
            for name, literal in refs.items():
                text = text.replace("${" + name + "}", literal)
            for name, values in attributes.items():
                for attribute, literal in values.items():
                    text = text.replace("${" + f"{name}.{attribute}" + "}", literal)
            substituted = substitute_refs(variables, refs, attributes)
            return {"Fn::Sub": [text, substituted] if variables is not None else text}
        return {key: substitute_refs(value, refs, attributes) for key, value in node.items()}
    if isinstance(node, list):
        return [substitute_refs(item, refs, attributes) for item in node]
    return node


def describe(left_out: Iterable[LeftOut]) -> str:
    return "\n".join(f"  - {item.logical_id} ({item.type}): {item.reason}" for item in left_out)


def dumps(template: Template) -> str:
    return json.dumps(template, indent=1, ensure_ascii=False)
