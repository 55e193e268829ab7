"""cfn-lint where AWS checks: on the SAM source and on the template aws-sam-translator makes of it, for a
global region and both China regions. cfn-lint on the SAM source alone misses what only the translated
template shows (a function Description over Lambda's 256 characters: E3033, issue 10).

    .venv/bin/python deploy/lint.py [--regions us-east-1 cn-north-1 cn-northwest-1]   (make lint)
"""

from __future__ import annotations

import argparse
import copy
import functools
import json
import sys
import tempfile
from pathlib import Path

from cfnlint.api import ManualArgs, lint_file
from cfnlint.match import Match

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


def translated_matches(region: str, sam: dict | None = None) -> tuple[dict, list[Match], list[str]]:
    """The translation of template.yaml (or `sam`) for `region`, and cfn-lint's findings on it, as matches and as
    lines. Of template.yaml itself, once per region and process: each lint takes seconds, and the tests ask
    for the same ones (tests/integration/test_lint.py, test_signin_regions.py). Read it, never change it."""
    return _translated_matches(region, sam) if sam is not None else _template_translated_matches(region)


def _translated_matches(region: str, sam: dict | None) -> tuple[dict, list[Match], list[str]]:
    cfn = translated(region, sam)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"translated-{region}.json"
        path.write_text(json.dumps(cfn, indent=1, ensure_ascii=False), encoding="utf-8")
        matches = lint_file(path, config=ManualArgs(regions=[region]))
        return cfn, matches, [str(m).replace(str(path), "translated.json") for m in matches]


@functools.cache
def _template_translated_matches(region: str) -> tuple[dict, list[Match], list[str]]:
    return _translated_matches(region, None)


def lint_translated(region: str, sam: dict | None = None) -> list[str]:
    return list(translated_matches(region, sam)[2])


@functools.cache
def _source_findings(region: str) -> tuple[str, ...]:
    return tuple(str(m) for m in lint_file(TEMPLATE, config=ManualArgs(regions=[region], include_checks=["I"])))


def lint_source(region: str) -> list[str]:
    """cfn-lint on template.yaml, informational checks included; once per region and process."""
    return list(_source_findings(region))


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
