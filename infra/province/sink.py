"""The provincial client as the domain's `ProvincialSink`: its failures translated to the domain's two."""

from __future__ import annotations

from collections.abc import Callable

from hub.forwarding import ProvinceReceipt, ProvinceRefusedRating, ProvinceUnreachable
from hub.ports import ProvincialSink
from hub.rating import Rating
from infra.province.client import ProvinceRejected, ProvinceUnavailable, ProvincialClient, Receipt


def translated(send: Callable[[], Receipt]) -> ProvinceReceipt:
    """One call to the province, its failures as the domain knows them: refused (judged; sending again
    cannot help) or unreachable (retry later). Ratings and work-order outcomes go through here alike."""
    try:
        receipt = send()
    except ProvinceRejected as exc:
        raise ProvinceRefusedRating(f"{exc.status} {exc.code or ''} {exc.reason}".replace("  ", " ").strip()) from exc
    except ProvinceUnavailable as exc:
        raise ProvinceUnreachable(str(exc), status=exc.status) from exc
    return ProvinceReceipt(receipt.receipt_id or receipt.idempotency_key, receipt.duplicate)


class ClientSink(ProvincialSink):
    def __init__(self, client: ProvincialClient) -> None:
        self.client = client

    def send(self, rating: Rating) -> ProvinceReceipt:
        return translated(lambda: self.client.send(rating))

    def send_service(self, rating: Rating) -> ProvinceReceipt | None:
        if not self.client.two_step:
            return None
        return translated(lambda: self.client.send_service(rating))  # type: ignore[return-value,arg-type]
