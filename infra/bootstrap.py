"""The composition root: the one place that turns settings into services.

Functions call `ingest_from_env()` once per container (on the first invocation); tests call
`build_ingest()` with fakes, or `ingest_from_env()` inside moto. Nothing else constructs adapters.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from hub.ingest import IngestService
from hub.ports import ConnectorStore, ForwardQueue, NonceStore, Normalizer, RatingStore, RawArchive
from infra.settings import IngestSettings


@dataclass(frozen=True, slots=True)
class IngestServices:
    """What the ingest function needs: the use case, and the two stores request signing reads."""

    service: IngestService
    connectors: ConnectorStore
    nonces: NonceStore


def normalizer(calendar: Any = None, policy: Any = None) -> Normalizer:
    """`connectors.normalize.normalize` with the working-day calendar and the rating policy bound."""
    from connectors.normalize import normalize
    from hub.calendar import WorkingDayCalendar

    return partial(normalize, calendar=calendar or WorkingDayCalendar(), policy=policy)


def calendar_normalizer(calendars: Callable[[], Any], policy: Any = None) -> Normalizer:
    """`connectors.normalize.normalize` counting with the calendar as `calendars()` gives it at each call."""
    from connectors.normalize import normalize

    def run(adapter: Any, body: bytes, content_type: str | None, **kwargs: Any) -> Any:
        return normalize(adapter, body, content_type, calendar=calendars(), policy=policy, **kwargs)

    return run


def build_ingest(
    *,
    ratings: RatingStore,
    archive: RawArchive,
    queue: ForwardQueue,
    connectors: ConnectorStore,
    nonces: NonceStore,
    normalize: Normalizer | None = None,
) -> IngestServices:
    return IngestServices(IngestService(ratings, archive, queue, normalize or normalizer()), connectors, nonces)


# Called with every client built here; the local cloud adds its IAM check (infra/localcloud/iam.py).
CLIENT_HOOKS: list[Callable[[Any], None]] = []


def aws_clients(session: Any = None, services: tuple[str, ...] = ("dynamodb", "s3", "sqs")) -> dict[str, Any]:
    """Clients (by default DynamoDB, S3, SQS) from one botocore session, timeouts well inside 15 s.

    botocore, not boto3: boto3 adds nothing these low-level clients use, and its import (s3transfer,
    resources) is ~50 ms of a cold start. Pass a session to share loaded service models (tests do).
    """
    import botocore.session
    from botocore.config import Config

    session = session or botocore.session.get_session()
    config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "max_attempts": 3})
    clients = {name: session.create_client(name, config=config) for name in services}
    for hook in CLIENT_HOOKS:
        for client in clients.values():
            hook(client)
    return clients


def sealed_stores(clients: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """R20: the `sealer` and `lookup_hash` every Dynamo store of ratings and cases is built with
    (`infra.sealing`: the KMS envelope under DATA_KEY_ID, HMAC look-ups keyed by LOOKUP_KEY_SECRET_ARN).
    Needs `kms` and `secretsmanager` among `clients`; one data key cache per process."""
    from infra.sealing import personal_data_from_env

    sealer, lookup_hash = personal_data_from_env(clients["kms"], clients["secretsmanager"], environ)
    return {"sealer": sealer, "lookup_hash": lookup_hash}


SEALING_CLIENTS = ("kms", "secretsmanager")


def ingest_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> IngestServices:
    """Raises `infra.settings.MissingSettings`, naming every variable that is missing."""
    from infra.archive import S3RawArchive
    from infra.connector_store import DynamoConnectorStore
    from infra.forward_queue import SqsForwardQueue
    from infra.rating_store import DynamoRatingStore
    from infra.signing import DynamoNonceStore

    settings = IngestSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "s3", "sqs", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    sealed = sealed_stores(clients, environ)
    # With the calendar table, the rating window (R5) counts with the notices an operator loaded
    calendar_table = (os.environ if environ is None else environ).get("CALENDAR_TABLE", "").strip()
    return build_ingest(
        ratings=DynamoRatingStore(dynamodb, settings.ratings_table, **sealed),
        archive=S3RawArchive(clients["s3"], settings.raw_bucket),
        queue=SqsForwardQueue(clients["sqs"], settings.forward_queue_url),
        connectors=DynamoConnectorStore(dynamodb, settings.connectors_table, sealed["sealer"]),
        nonces=DynamoNonceStore(dynamodb, settings.nonces_table),
        normalize=calendar_normalizer(_calendars(dynamodb, calendar_table, environ)) if calendar_table else None,
    )


def in_memory_ingest(normalize: Normalizer | None = None) -> tuple[IngestServices, dict[str, Any]]:
    """The ingest services over fresh `InMemory*` fakes, and the fakes by name (for tests and demos)."""
    from infra.memory import (
        InMemoryConnectorStore,
        InMemoryForwardQueue,
        InMemoryNonceStore,
        InMemoryRatingStore,
        InMemoryRawArchive,
    )

    fakes: dict[str, Any] = {
        "ratings": InMemoryRatingStore(),
        "archive": InMemoryRawArchive(),
        "queue": InMemoryForwardQueue(),
        "connectors": InMemoryConnectorStore(),
        "nonces": InMemoryNonceStore(),
    }
    return build_ingest(**fakes, normalize=normalize), fakes


# --------------------------------------------------------------------------------------------------
# The connector registry (people register and manage connectors; hub/registry.py)


@dataclass(frozen=True, slots=True)
class RegistryServices:
    registry: Any  # hub.registry.RegistryService
    normalize: Normalizer  # for dry-runs: the same check ingest runs, kept nowhere


def build_registry(connectors: ConnectorStore, normalize: Normalizer | None = None) -> RegistryServices:
    from connectors.registry import check_registration
    from hub.registry import RegistryService

    return RegistryServices(RegistryService(connectors, check_registration), normalize or normalizer())


def registry_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> RegistryServices:
    """The registry over the ConnectorsTable; dry-runs count windows with the loaded calendar notices."""
    from infra.connector_store import DynamoConnectorStore
    from infra.settings import MissingSettings

    env = os.environ if environ is None else environ
    table = env.get("CONNECTORS_TABLE", "").strip()
    if not table:
        raise MissingSettings("the registry", ["CONNECTORS_TABLE"])
    clients = aws_clients(session, services=("dynamodb", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    calendar_table = env.get("CALENDAR_TABLE", "").strip()
    normalize = calendar_normalizer(_calendars(dynamodb, calendar_table, environ)) if calendar_table else None
    # connectors' secrets are sealed like raters' personal data (the KMS envelope)
    store = DynamoConnectorStore(dynamodb, table, sealed_stores(clients, environ)["sealer"])
    return build_registry(store, normalize)


@dataclass
class ForwardServices:
    forward: Any  # hub.forwarding.ForwardService
    settings: Any  # infra.settings.ForwardSettings
    sqs: Any


def forward_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> ForwardServices:
    """The forwarding service over DynamoDB, SQS and the provincial client; names missing variables."""
    from hub.forwarding import ForwardService
    from infra.forward_queue import SqsForwardQueue
    from infra.province.client import ProvincialClient
    from infra.province.sink import ClientSink
    from infra.rating_store import DynamoRatingStore
    from infra.settings import ForwardSettings

    settings = ForwardSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "sqs", *SEALING_CLIENTS))
    client = ProvincialClient.from_env(environ, secrets_client=clients["secretsmanager"])
    env = os.environ if environ is None else environ
    service = ForwardService(
        ratings=DynamoRatingStore(clients["dynamodb"], settings.ratings_table, **sealed_stores(clients, environ)),
        province=ClientSink(client),
        queue=SqsForwardQueue(clients["sqs"], settings.forward_queue_url, dead_letter_url=env.get("FORWARD_DLQ_URL")),
        **_work_order_creation(clients["dynamodb"], environ),
    )
    return ForwardServices(service, settings, clients["sqs"])


def _work_order_creation(dynamodb: Any, environ: Mapping[str, str] | None) -> dict[str, Any]:
    """R10 on the forward path: the work-order store, and the calendar as loaded, when the template gives them."""
    from infra.workorder_store import DynamoWorkOrderStore

    env = os.environ if environ is None else environ
    table = env.get("WORK_ORDERS_TABLE", "").strip()
    if not table:
        return {}
    created: dict[str, Any] = {"work_orders": DynamoWorkOrderStore(dynamodb, table)}
    calendar_table = env.get("CALENDAR_TABLE", "").strip()
    if calendar_table:
        created["calendars"] = _calendars(dynamodb, calendar_table, environ)
    return created


def work_orders_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> WorkOrderServices:
    """The work-order API's services over DynamoDB; raises `MissingSettings` naming what is missing."""
    from infra.settings import WorkOrderSettings
    from infra.workorder_store import DynamoWorkOrderStore

    settings = WorkOrderSettings.from_env(environ)
    dynamodb = aws_clients(session, services=("dynamodb",))["dynamodb"]
    return WorkOrderServices(
        store=DynamoWorkOrderStore(dynamodb, settings.work_orders_table),
        calendars=_calendars(dynamodb, settings.calendar_table, environ),
    )


@dataclass(frozen=True, slots=True)
class WorkOrderServices:
    """What the work-order API needs: the store (with its list queries) and the calendar as loaded."""

    store: Any  # infra.workorder_store.DynamoWorkOrderStore
    calendars: Callable[[], Any]  # () -> hub.calendar.WorkingDayCalendar


class BuiltOnce:
    """Services built on first use, once per environment, whichever thread asks first.

    In Lambda the environment never changes within a container, so this builds exactly once. A
    process that hosts several local clouds in turn (a test session) gets services for the one whose
    environment is current, instead of clients pointing at a stopped moto server.
    """

    def __init__(self, build: Any, variables: Sequence[str]) -> None:
        self._build = build
        self._variables = (*variables, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")
        self._lock = threading.Lock()
        self._built: tuple[tuple[str | None, ...], Any] | None = None

    def __call__(self) -> Any:
        key = tuple(os.environ.get(name) for name in self._variables)
        built = self._built
        if built is None or built[0] != key:
            with self._lock:
                built = self._built
                if built is None or built[0] != key:
                    built = self._built = (key, self._build())
        return built[1]


# --------------------------------------------------------------------------------------------------
# Completed cases (R5-R7): the notices route, the operator's calendar route, the scheduler


@dataclass(frozen=True, slots=True)
class CaseServices:
    """What the case and calendar routes of the ingest function need."""

    intake: Any  # hub.case_intake.CaseIntake
    calendar: Any  # hub.calendar_admin.CalendarAdmin


@dataclass(frozen=True, slots=True)
class SchedulerServices:
    scheduler: Any  # hub.scheduler.CaseScheduler
    calendar: Any  # hub.calendar_admin.CalendarAdmin


def build_cases(
    *,
    ratings: RatingStore,
    cases: Any,
    timers: Any,
    archive: RawArchive,
    queue: ForwardQueue,
    calendar_store: Any,
    calendars: Any = None,
) -> CaseServices:
    from hub.calendar_admin import CalendarAdmin
    from hub.case_intake import CaseIntake
    from infra.calendar_store import StoredCalendars

    calendars = calendars or StoredCalendars(calendar_store)
    return CaseServices(
        intake=CaseIntake(ratings, cases, archive, queue, calendars),
        calendar=CalendarAdmin(calendar_store, cases, timers, on_change=calendars.invalidate),
    )


def build_scheduler(
    *,
    ratings: RatingStore,
    cases: Any,
    timers: Any,
    queue: ForwardQueue,
    sms: Any,
    log: Any,
    calendar_store: Any,
    rating_link: str,
) -> SchedulerServices:
    """The calendar is read afresh on every run (one small query a minute): no stale deadline ever fires."""
    from hub.calendar_admin import CalendarAdmin
    from hub.scheduler import CaseScheduler
    from infra.calendar_store import StoredCalendars

    calendars = StoredCalendars(calendar_store, ttl=0)
    scheduler = CaseScheduler(
        cases=cases, timers=timers, ratings=ratings, queue=queue, sms=sms, log=log,
        calendars=calendars, rating_link=rating_link,
    )  # fmt: skip
    return SchedulerServices(scheduler, CalendarAdmin(calendar_store, cases, timers))


def _calendars(dynamodb: Any, table: str, environ: Mapping[str, str] | None) -> Any:
    from infra.calendar_store import DEFAULT_CACHE_SECONDS, shared_calendars

    ttl = (os.environ if environ is None else environ).get("CALENDAR_CACHE_SECONDS", "").strip()
    return shared_calendars(dynamodb, table, float(ttl) if ttl else DEFAULT_CACHE_SECONDS)


def cases_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> CaseServices:
    """Raises `infra.settings.MissingSettings`, naming every variable that is missing."""
    from infra.archive import S3RawArchive
    from infra.calendar_store import DynamoCalendarStore
    from infra.case_store import DynamoCaseStore, DynamoTimerStore
    from infra.forward_queue import SqsForwardQueue
    from infra.rating_store import DynamoRatingStore
    from infra.settings import CaseSettings

    settings = CaseSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "s3", "sqs", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    sealed = sealed_stores(clients, environ)
    return build_cases(
        ratings=DynamoRatingStore(dynamodb, settings.ratings_table, **sealed),
        cases=DynamoCaseStore(dynamodb, settings.cases_table, sealer=sealed["sealer"]),
        timers=DynamoTimerStore(dynamodb, settings.cases_table),
        archive=S3RawArchive(clients["s3"], settings.raw_bucket),
        queue=SqsForwardQueue(clients["sqs"], settings.forward_queue_url),
        calendar_store=DynamoCalendarStore(dynamodb, settings.calendar_table),
        calendars=_calendars(dynamodb, settings.calendar_table, environ),
    )


def scheduler_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> SchedulerServices:
    """Raises `infra.settings.MissingSettings`, naming every variable that is missing."""
    from infra.calendar_store import DynamoCalendarStore
    from infra.case_store import DynamoCaseStore, DynamoNotificationLog, DynamoTimerStore
    from infra.forward_queue import SqsForwardQueue
    from infra.rating_store import DynamoRatingStore
    from infra.settings import SchedulerSettings
    from infra.sms import sms_sender_from_env

    settings = SchedulerSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "sqs", "sns", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    sealed = sealed_stores(clients, environ)
    return build_scheduler(
        ratings=DynamoRatingStore(dynamodb, settings.ratings_table, **sealed),
        cases=DynamoCaseStore(dynamodb, settings.cases_table, sealer=sealed["sealer"]),
        timers=DynamoTimerStore(dynamodb, settings.cases_table),
        queue=SqsForwardQueue(clients["sqs"], settings.forward_queue_url),
        sms=sms_sender_from_env(clients["sns"], environ),
        log=DynamoNotificationLog(dynamodb, settings.cases_table),
        calendar_store=DynamoCalendarStore(dynamodb, settings.calendar_table),
        rating_link=settings.rating_link,
    )


def in_memory_cases(
    rating_link: str = "https://hcp.example/rate",
) -> tuple[CaseServices, SchedulerServices, dict[str, Any]]:
    """The case services and the scheduler over one set of fresh `InMemory*` fakes, and the fakes by name."""
    from infra.memory import (
        InMemoryCalendarStore,
        InMemoryCaseStore,
        InMemoryForwardQueue,
        InMemoryNotificationLog,
        InMemoryRatingStore,
        InMemoryRawArchive,
        InMemorySmsSender,
    )

    cases = InMemoryCaseStore()
    fakes: dict[str, Any] = {
        "ratings": InMemoryRatingStore(),
        "cases": cases,
        "timers": cases.timers,
        "archive": InMemoryRawArchive(),
        "queue": InMemoryForwardQueue(),
        "sms": InMemorySmsSender(),
        "log": InMemoryNotificationLog(),
        "calendar_store": InMemoryCalendarStore(),
    }
    shared = {k: fakes[k] for k in ("ratings", "cases", "timers", "queue", "calendar_store")}
    intake = build_cases(**shared, archive=fakes["archive"])
    scheduler = build_scheduler(**shared, sms=fakes["sms"], log=fakes["log"], rating_link=rating_link)
    return intake, scheduler, fakes


# --------------------------------------------------------------------------------------------------
# People reading ratings (R20): the ratings query function


def build_rating_reads(*, ratings: RatingStore, audit: Any) -> Any:
    from hub.rating_reads import RatingReads

    return RatingReads(ratings, audit)


def rating_reads_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> Any:
    """`hub.rating_reads.RatingReads` over DynamoDB; raises `MissingSettings` naming what is missing."""
    from infra.audit_log import DynamoAuditLog
    from infra.rating_store import DynamoRatingStore
    from infra.settings import RatingReadSettings

    settings = RatingReadSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    return build_rating_reads(
        ratings=DynamoRatingStore(dynamodb, settings.ratings_table, **sealed_stores(clients, environ)),
        audit=DynamoAuditLog(dynamodb, settings.audit_table),
    )


# --------------------------------------------------------------------------------------------------
# Work orders on the clock, and their outbox: notices to departments, outcomes to the province


@dataclass(frozen=True, slots=True)
class OutboxServices:
    """`monitor` for the scheduler, `relay` for the sweep and right after actions, `delivery` (with the
    province) for the forward function's outcome messages."""

    store: Any  # hub.workorder.WorkOrderStore
    relay: Any  # hub.outcomes.OutboxRelay
    monitor: Any  # hub.workorder_monitor.WorkOrderMonitor
    delivery: Any = None  # hub.outcomes.OutcomeDelivery


def build_outbox(
    *, store: Any, notifier: Any, queue: Any, calendars: Any, province: Any = None, ratings: Any = None
) -> OutboxServices:
    from hub.outcomes import OutboxRelay, OutcomeDelivery
    from hub.workorder_monitor import WorkOrderMonitor

    relay = OutboxRelay(store, notifier, queue)
    delivery = OutcomeDelivery(store, province, notifier, ratings, queue) if province is not None else None
    return OutboxServices(store, relay, WorkOrderMonitor(store, calendars, relay), delivery)


def outbox_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, province: bool = False
) -> OutboxServices:
    """Raises `MissingSettings` naming what is missing. `province`: with the provincial client (forward only)."""
    from infra.calendar_store import DynamoCalendarStore, StoredCalendars
    from infra.forward_queue import SqsForwardQueue
    from infra.notify import SnsNotifier
    from infra.settings import OutboxSettings
    from infra.workorder_store import DynamoWorkOrderStore

    settings = OutboxSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "sqs", "sns", *(("secretsmanager",) if province else ())))
    dynamodb = clients["dynamodb"]
    extra: dict[str, Any] = {}
    if province:
        from infra.province.client import ProvincialClient
        from infra.province.outcome import ClientOutcomeSink
        from infra.rating_store import DynamoRatingStore

        client = ProvincialClient.from_env(environ, secrets_client=clients["secretsmanager"])
        # mark_not_adopted touches no personal data: the store needs no sealer for it
        extra = {"province": ClientOutcomeSink(client), "ratings": DynamoRatingStore(dynamodb, settings.ratings_table)}
    return build_outbox(
        store=DynamoWorkOrderStore(dynamodb, settings.work_orders_table),
        notifier=SnsNotifier(clients["sns"], settings.topic_arn),
        queue=SqsForwardQueue(clients["sqs"], settings.forward_queue_url),
        calendars=StoredCalendars(DynamoCalendarStore(dynamodb, settings.calendar_table), ttl=0),
        **extra,
    )
