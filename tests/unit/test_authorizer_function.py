"""functions/authorizer.py's answer to API Gateway: an Allow that covers every route (the answer is cached per
token for all of them), a Deny whose context the gateway response pastes into JSON."""

from __future__ import annotations

import json

from functions.authorizer import _json_safe, api_wide, policy


def test_an_allow_covers_every_method_and_path_of_the_stage_in_any_partition() -> None:
    me = "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/prod/GET/v1/me"

    assert api_wide(me) == "arn:aws-cn:execute-api:cn-north-1:123456789012:abc123/prod/*"
    assert api_wide("arn:aws:execute-api:us-east-1:1:api/v1/POST/v1/connectors/x/rotate").endswith(":api/v1/*")


def test_the_policy_has_api_gateways_shape_and_string_context() -> None:
    stage = "arn:aws:execute-api:us-east-1:1:api/prod/*"
    answer = policy("sub-1", "Allow", stage, {"roles": "department"})

    assert answer == {
        "principalId": "sub-1",
        "policyDocument": {"Version": "2012-10-17", "Statement": [
            {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": stage}
        ]},
        "context": {"roles": "department"},
    }  # fmt: skip


def test_a_refusal_message_cannot_break_the_gateway_responses_json() -> None:
    hostile = 'algorithm "}],"code":"OK\\ \n'
    template = '{"message":"$m"}'

    assert json.loads(template.replace("$m", _json_safe(hostile)))["message"].startswith("algorithm '}]")
