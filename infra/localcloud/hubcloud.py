"""The hub's own local cloud: template.yaml, the provincial endpoint on loopback, the demo seed."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from .cloud import LocalCloud

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template.yaml"
STACK_NAME = "hcp-hub-local"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


LOCAL_RATING_LINK = "https://hcp.local.gov.cn/rate"  # what the local SMS reminders link to (R7)


class HubLocalCloud(LocalCloud):
    """`LocalCloud` for template.yaml. The provincial stub's port must be known before deploying,
    since the functions get `PROVINCE_URL` from the `ProvinceEndpoint` parameter; `demo.seed`
    starts the stub on `province_port` and creates the demo connectors."""

    def __init__(
        self,
        *,
        port: int = 0,
        province_port: int = 0,
        aws_port: int = 0,
        state_dir: str | Path | None = None,
        seed: bool = True,
        province_profile: str = "national",
        **options: Any,
    ) -> None:
        self.province_profile = province_profile  # the stub plays it; the functions get it as ProvinceProfile
        self.province_port = province_port or free_port()
        self.province_url = f"http://127.0.0.1:{self.province_port}"
        options.setdefault("stack_name", STACK_NAME)
        super().__init__(
            TEMPLATE,
            port=port,
            aws_port=aws_port,
            state_dir=state_dir,
            # The template's required parameters (no placeholder defaults): the stub, and the rating page's link.
            parameters={
                "ProvinceEndpoint": self.province_url,
                "RatingLink": LOCAL_RATING_LINK,
                "ProvinceProfile": province_profile,
                **options.pop("parameters", {}),
            },
            seed=_demo_seed if seed else None,
            **options,
        )


def _demo_seed(cloud: LocalCloud) -> dict[str, Any]:
    from .demo import seed

    return seed(cloud)
