"""cfn-lint where AWS checks: on the SAM source and on the template aws-sam-translator makes of it, for a
global region and both China regions. cfn-lint on the SAM source alone misses what only the translated
template shows (a function Description over Lambda's 256 characters: E3033, issue 10).

    .venv/bin/python deploy/lint.py [--regions us-east-1 cn-north-1 cn-northwest-1]   (make lint)
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path

from cfnlint.api import ManualArgs, lint_file

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from infra.localcloud.translate import load_template, sam_to_cloudformation  # noqa: E402

TEMPLATE = ROOT / "template.yaml"
REGIONS = ("us-east-1", "cn-north-1", "cn-northwest-1")


def translated(region: str, sam: dict | None = None) -> dict:
    """The CloudFormation SAM makes of template.yaml (or `sam`) in `region`, with the code where `sam deploy`
    puts it (S3)."""
    sam = copy.deepcopy(sam or load_template(TEMPLATE))
    for logical_id, resource in sam["Resources"].items():
        props = resource.setdefault("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function":
            props["CodeUri"] = f"s3://hcp-hub-artifacts/{logical_id}.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            props["ContentUri"] = f"s3://hcp-hub-artifacts/{logical_id}.zip"
    sam.get("Globals", {}).get("Function", {}).pop("CodeUri", None)
    return sam_to_cloudformation(sam, {}, region)


def lint_translated(region: str, sam: dict | None = None) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"translated-{region}.json"
        path.write_text(json.dumps(translated(region, sam), indent=1, ensure_ascii=False), encoding="utf-8")
        matches = lint_file(path, config=ManualArgs(regions=[region]))
        return [str(m).replace(str(path), "translated.json") for m in matches]


def lint_source(region: str) -> list[str]:
    return [str(m) for m in lint_file(TEMPLATE, config=ManualArgs(regions=[region], include_checks=["I"]))]


def lint(region: str) -> dict[str, list[str]]:
    """cfn-lint's findings on the source (informational ones included) and on the translation (errors and
    warnings: the translator writes its own ARNs with the region's partition spelled out, I3042), for `region`."""
    return {"source": lint_source(region), "translated": lint_translated(region)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--regions", nargs="+", default=list(REGIONS))
    args = parser.parse_args(argv)
    failed = 0
    for region in args.regions:
        for part, matches in lint(region).items():
            print(f"cfn-lint {part:10} {region:15} {'clean' if not matches else f'{len(matches)} finding(s)'}")
            for match in matches:
                print("   ", match.replace("\n", " "))
            failed += len(matches)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
