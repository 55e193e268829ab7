"""What the local cloud's IAM check (infra/localcloud/iam.py) adds to each AWS call a function makes.

Printed as a ratio against botocore's own work for the same call, measured in the same run: building
and serializing a DynamoDB GetItem request (no network; moto's answer would only add to the baseline).
The check evaluates the call against the forward function's role from the translated template.

    .venv/bin/python bench/iam_check.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.localcloud import iam  # noqa: E402
from infra.localcloud.hubcloud import TEMPLATE  # noqa: E402
from infra.localcloud.translate import translate  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--number", type=int, default=2000)
    args = parser.parse_args()

    translation = translate(TEMPLATE, {"ProvinceEndpoint": "https://province.example"})
    cfn = translation.cloudformation
    types = {lid: r["Type"] for lid, r in {**translation.self_created, **cfn["Resources"]}.items()}
    physical = {lid: (f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{lid}-AbCdEf"
                      if t == "AWS::SecretsManager::Secret" else
                      f"https://sqs.us-east-1.amazonaws.com/123456789012/{lid}" if t == "AWS::SQS::Queue" else
                      f"arn:aws:sns:us-east-1:123456789012:{lid}" if t == "AWS::SNS::Topic" else lid)
                for lid, t in types.items()}  # fmt: skip
    resolver = iam.Resolver(cfn, physical, types, {"ProvinceEndpoint": "https://province.example"}, "us-east-1")
    roles = iam.function_roles(cfn, resolver)
    enforcer = iam.Enforcer(roles, {f: f"principal/{f}" for f in roles}, iam.Arns("aws", "us-east-1", "123456789012"))
    params = {"TableName": "RatingsTable", "Key": {"rating_id": {"S": "r1"}}}
    assert enforcer.check("ForwardFunction", "dynamodb", "GetItem", params) is None

    import botocore.session
    from botocore.awsrequest import prepare_request_dict
    from botocore.serialize import create_serializer

    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    model = client.meta.service_model.operation_model("GetItem")
    serializer = create_serializer("json")

    def baseline() -> None:  # what botocore does for every call before the network
        request = serializer.serialize_to_request(params, model)
        prepare_request_dict(request, "https://dynamodb.us-east-1.amazonaws.com")

    def check() -> None:
        enforcer.check("ForwardFunction", "dynamodb", "GetItem", params)

    base = min(timeit.repeat(baseline, number=args.number, repeat=args.rounds)) / args.number
    cost = min(timeit.repeat(check, number=args.number, repeat=args.rounds)) / args.number
    statements = len(roles["ForwardFunction"].statements)
    print(f"IAM check per call: {cost * 1e6:.1f} us over {statements} statements; "
          f"botocore's serialization of the same GetItem: {base * 1e6:.1f} us; ratio {cost / base:.2f}x")


if __name__ == "__main__":
    main()
