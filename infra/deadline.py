"""An invocation's time for its AWS calls: no attempt starts that could not be answered before the function must.

Lambda stops a function at its timeout, and API Gateway then answers the caller 502 with nothing of the function's
own answer. A botocore client does not know the invocation's time: with 1 s to connect and 3 s to read, three
attempts and their backoff, one slow DynamoDB or SQS call can outlast what is left. So, within `within(...)`, every
attempt of a client `guard` was given (an `infra.bootstrap.CLIENT_HOOKS` hook: it checks before each HTTP attempt,
botocore's own retries included) is refused with `OutOfTime` when less than the attempt's worst case (connect + read
timeout) plus `spare_ms` is left. What started is answered (or times out) in time, and the function has its spare to
answer the caller itself: a 503 to send again (`retryable`). Outside `within`, or in a thread that did not enter
it, the guard does nothing, so clients of other functions sharing the process (the local cloud) are not touched.

`OutOfTime` is a `BotoCoreError`, as a call without an answer is: the adapters already treat it so (the forward
queue leaves the ratings for the sweep; the rating store lets it through, the rating not stored).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, HTTPClientError
from botocore.exceptions import ConnectionError as AwsConnectionError

SPARE_MS = 1500  # what the function keeps to answer its caller: the reply, its log line, the metrics flush
RETRY_AFTER_S = 5  # what the 503 asks the caller to wait before sending again

_remaining: contextvars.ContextVar[tuple[Callable[[], int], int] | None] = contextvars.ContextVar(
    "hcp_deadline", default=None
)

# DynamoDB, SQS, S3, KMS answers that mean "not now" (throttled, a transaction on the same keys running).
THROTTLED = frozenset({
    "ProvisionedThroughputExceededException", "ThrottlingException", "Throttling", "RequestLimitExceeded",
    "TransactionInProgressException", "RequestThrottled", "SlowDown", "ServiceUnavailable", "InternalServerError",
    "InternalError", "KMSInternalException", "LimitExceededException",
})  # fmt: skip


CONFLICTED = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"})


class OutOfTime(BotoCoreError):
    """An AWS call not attempted: the invocation could not have waited for its answer."""

    fmt = "{operation} not attempted: {remaining_ms} ms left, an attempt may take {needs_ms} ms"


@contextmanager
def within(remaining_ms: Callable[[], int], spare_ms: int = SPARE_MS) -> Iterator[None]:
    """The guarded clients' calls in this block (this thread) fit in `remaining_ms()` less `spare_ms`
    (a Lambda context's `get_remaining_time_in_millis`)."""
    token = _remaining.set((remaining_ms, spare_ms))
    try:
        yield
    finally:
        _remaining.reset(token)


def guard(client: Any) -> None:
    """Refuse each attempt of `client` that could not be answered within the current `within` block."""
    config = client.meta.config
    needs_ms = int(((config.connect_timeout or 60) + (config.read_timeout or 60)) * 1000)

    def before_send(request: Any, **kwargs: Any) -> None:
        deadline = _remaining.get()
        if deadline is None:
            return
        remaining_ms, spare_ms = deadline
        left = remaining_ms()
        if left < needs_ms + spare_ms:
            raise OutOfTime(operation=kwargs.get("event_name", "a call").rsplit(".", 1)[-1], remaining_ms=left,
                            needs_ms=needs_ms + spare_ms)  # fmt: skip

    # first: before any other handler answers or sends the request (moto's in-process stub is one)
    client.meta.events.register_first("before-send", before_send, unique_id="hcp-deadline-guard")


def retryable(exc: BaseException) -> bool:
    """Whether a request failed for want of an AWS answer in time (no answer, out of time, throttled): the
    caller may send it again as it is, and what it stored is answered `duplicate` then (R8)."""
    if isinstance(exc, (OutOfTime, HTTPClientError, AwsConnectionError)):  # not attempted, or no answer (a timeout,
        return True  # a closed or refused connection); other BotoCoreErrors (no credentials, a bad parameter) are not
    if isinstance(exc, ClientError):
        code = exc.response.get("Error", {}).get("Code")
        if code == "TransactionCanceledException":  # another write to the same keys running: a resend racing its
            reasons = exc.response.get("CancellationReasons") or []  # first attempt, still being applied
            return any((r or {}).get("Code") in CONFLICTED for r in reasons)
        return code in THROTTLED or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") in (500, 503)
    return False
