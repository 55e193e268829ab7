"""The provincial client as the domain's `ProvincialSink`: its failures translated to the domain's two."""

from __future__ import annotations

from hub.forwarding import ProvinceReceipt, ProvinceRefusedRating, ProvinceUnreachable, ProvincialSink
from hub.rating import Rating
from infra.province.client import ProvinceRejected, ProvinceUnavailable, ProvincialClient


class ClientSink(ProvincialSink):
    def __init__(self, client: ProvincialClient) -> None:
        self.client = client

    def send(self, rating: Rating) -> ProvinceReceipt:
        try:
            receipt = self.client.send(rating)
        except ProvinceRejected as exc:
            raise ProvinceRefusedRating(
                f"{exc.status} {exc.code or ''} {exc.reason}".replace("  ", " ").strip()
            ) from exc
        except ProvinceUnavailable as exc:
            raise ProvinceUnreachable(str(exc)) from exc
        return ProvinceReceipt(receipt.receipt_id or receipt.idempotency_key, receipt.duplicate)
