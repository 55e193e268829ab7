"""A connector's scope (R20): the agencies and regions it may rate for. Apart from `hub.registry`, so that the
ingest path checks scope without building the registry's models (a cold start, issue 15)."""

from __future__ import annotations

from hub.errors import Problem, problem
from hub.ports import Connector


def out_of_scope(
    connector: Connector,
    index: int,
    agency_code: str,
    region_code: str,
    paths: tuple[str, str] = ("target.agency_code", "target.region_code"),
) -> list[Problem]:
    """The problems of item `index` for an agency or region the connector may not rate for (empty: in scope)."""
    found = []
    if connector.agencies and agency_code not in connector.agencies:
        found.append(problem("CONNECTOR_OUT_OF_SCOPE", f"[{index}].{paths[0]}", f"agency {agency_code[:18]}"))
    if connector.regions and not any(region_code.startswith(p) for p in connector.regions):
        found.append(problem("CONNECTOR_OUT_OF_SCOPE", f"[{index}].{paths[1]}", f"region {region_code[:12]}"))
    return found
