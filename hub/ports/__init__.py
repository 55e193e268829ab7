"""Ports: what the domain needs from the outside world, as small abstract classes, one module per area.

    clock          the clock (only the edges read it)
    connectors     registered sources, their secrets, the nonces of signed requests
    ratings        the rating store: written once, forwarded, read by scope
    personal_data  R20: the sealer, and the audit log of every read in clear
    intake         the raw archive, normalization (the adapters live in connectors/)
    cases          completed cases, their rating windows and timers (R5-R7)
    messaging      SMS (R7), the notification log, work-order notices (SNS)
    calendar       the State Council notices an operator loads
    province       the forward queue and the provincial system, for ratings (R9) and outcomes (R17)
    (work orders)  the work-order store port lives with its rules, `hub.workorders.store`; re-exported here

Adapters live in `infra/` and are named for their technology (`DynamoRatingStore`, `SqsForwardQueue`);
`infra/memory.py` holds an `InMemory*` fake of every port, and one contract test per port runs over both.
The domain's types are imported for annotations only, and the work-order names on first use, so the clock
(read by every edge) stays cheap to import.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hub.ports.calendar import (
    CalendarStore,
)
from hub.ports.cases import (
    CasePutOutcome,
    CaseStore,
    StoredCase,
    TimerStore,
)
from hub.ports.clock import (
    Clock,
)
from hub.ports.connectors import (
    CONNECTOR_ID,
    RETIRED_KEPT,
    Connector,
    ConnectorChanged,
    ConnectorStatus,
    ConnectorStore,
    NonceStore,
    UnknownConnector,
)
from hub.ports.intake import (
    NormalizedItem,
    Normalizer,
    RawArchive,
    archive_key,
)
from hub.ports.messaging import (
    Notification,
    NotificationLog,
    NotificationOutcome,
    Notifier,
    SmsFailed,
    SmsSender,
)
from hub.ports.personal_data import (
    AuditEntry,
    AuditLog,
    PersonalDataSealer,
)
from hub.ports.province import (
    ForwardQueue,
    OutcomeQueue,
    OutcomeSink,
    ProvincialSink,
)
from hub.ports.ratings import (
    ACCEPTED,
    DEAD_LETTERED_DUE,
    DUPLICATE,
    ConflictKind,
    ForwardState,
    PutOutcome,
    PutResult,
    RatingPage,
    RatingQuery,
    RatingStore,
    StoredRating,
    SweepPage,
    UnknownRating,
)

if TYPE_CHECKING:
    from hub.workorders.store import CursorInvalid, OrderFilter, OrderPage, OutboxEntry, WorkOrderStore

_WORK_ORDER_PORT = frozenset({"CursorInvalid", "OrderFilter", "OrderPage", "OutboxEntry", "WorkOrderStore"})


def __getattr__(name: str) -> Any:
    if name in _WORK_ORDER_PORT:
        from hub.workorders import store

        return getattr(store, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ACCEPTED",
    "CONNECTOR_ID",
    "DEAD_LETTERED_DUE",
    "DUPLICATE",
    "RETIRED_KEPT",
    "AuditEntry",
    "AuditLog",
    "CalendarStore",
    "CasePutOutcome",
    "CaseStore",
    "Clock",
    "ConflictKind",
    "Connector",
    "ConnectorChanged",
    "ConnectorStatus",
    "ConnectorStore",
    "CursorInvalid",
    "ForwardQueue",
    "ForwardState",
    "NonceStore",
    "NormalizedItem",
    "Normalizer",
    "Notification",
    "NotificationLog",
    "NotificationOutcome",
    "Notifier",
    "OrderFilter",
    "OrderPage",
    "OutboxEntry",
    "OutcomeQueue",
    "OutcomeSink",
    "PersonalDataSealer",
    "ProvincialSink",
    "PutOutcome",
    "PutResult",
    "RatingPage",
    "RatingQuery",
    "RatingStore",
    "RawArchive",
    "SmsFailed",
    "SmsSender",
    "StoredCase",
    "StoredRating",
    "SweepPage",
    "TimerStore",
    "UnknownConnector",
    "UnknownRating",
    "WorkOrderStore",
    "archive_key",
]
