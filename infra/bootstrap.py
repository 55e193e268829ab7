"""The composition root: the one place that turns settings into services, and says when they are built.

Each function's `make_handler(build=bootstrap.x_from_env)` wraps its builder in `BuiltOnce`: built on the
first invocation (a missing variable is named then, not at import), once per container, again only if
one of the variables the builder `reads` changes (a process hosting several local clouds in turn). Every
service set carries the clock its function reads; tests call `build_x()` with fakes, or `x_from_env()`
inside moto, with a `LocalClock` of their own. Nothing else constructs adapters.

Imports of the adapters are inside the builders: a function imports what its first request needs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from infra import coldgc
from infra.clock import InstalledClock
from infra.lazy_client import LazyClient
from infra.settings import (
    CalendarCacheSettings,
    CaseSettings,
    ForwardSettings,
    IngestSettings,
    OutboxSettings,
    PersonalDataSettings,
    ProvinceSettings,
    RatingReadSettings,
    RegistrySettings,
    ReportsSettings,
    SchedulerSettings,
    SignInSettings,
    WorkOrderSettings,
)

if TYPE_CHECKING:
    from hub.calendar import WorkingDayCalendar
    from hub.calendar_admin import CalendarAdmin
    from hub.case_intake import CaseIntake
    from hub.forwarding import ForwardService
    from hub.ingest import DryRun, IngestService
    from hub.outcomes import OutboxRelay, OutcomeDelivery
    from hub.ports import (
        AuditLog,
        CalendarStore,
        CaseStore,
        Clock,
        ConnectorStore,
        ForwardQueue,
        NonceStore,
        Normalizer,
        NotificationLog,
        Notifier,
        OutcomeQueue,
        OutcomeSink,
        RatingStore,
        RawArchive,
        SmsSender,
        TimerStore,
    )  # fmt: skip
    from hub.rating_reads import RatingReads
    from hub.registry import RegistryService
    from hub.scheduler import CaseScheduler
    from hub.workorders import WorkOrderDesk, WorkOrderMonitor, WorkOrderStore
    from infra.calendar_store import StoredCalendars
    from infra.forward_queue import SqsForwardQueue
    from infra.oidc import OidcVerifier
    from infra.province.client import ProvincialClient
    from infra.reports.service import ReportService

T = TypeVar("T")
Calendars = Callable[[], "WorkingDayCalendar"]


def _clock() -> Clock:
    """The system's clock in production, the local cloud's under it (`infra.clock.InstalledClock`)."""
    return InstalledClock()


# What each builder reads from the environment: `BuiltOnce` builds again when one of them changes.
_READS: dict[Callable[..., Any], tuple[str, ...]] = {}
F = TypeVar("F", bound=Callable[..., Any])


def reads(*names: str | type[Any]) -> Callable[[F], F]:
    """Records the variables a builder reads: names, or settings classes (all their variables)."""
    variables = tuple(v for n in names for v in ([n] if isinstance(n, str) else n.variables()))

    def record(builder: F) -> F:
        _READS[builder] = variables
        return builder

    return record


class BuiltOnce(Generic[T]):
    """Services built on first use, once per environment, whichever thread asks first.

    In Lambda the environment never changes within a container, so this builds exactly once. A
    process that hosts several local clouds in turn (a test session) gets services for the one whose
    environment is current, instead of clients pointing at a stopped moto server. A builder a test
    passes (not one of this module's) is built once.
    """

    def __init__(self, build: Callable[[], T], variables: Sequence[str] | None = None) -> None:
        self._build = build
        named = _READS.get(build, ()) if variables is None else tuple(variables)
        self._variables = (*named, "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION")
        self._lock = threading.Lock()
        self._built: tuple[tuple[str | None, ...], T] | None = None

    def __call__(self) -> T:
        import os

        key = tuple(os.environ.get(name) for name in self._variables)
        built = self._built
        if built is None or built[0] != key:
            with self._lock:
                built = self._built
                if built is None or built[0] != key:
                    built = self._built = (key, self._build())
                    coldgc.resume()  # the cold start's long-lived objects are made: frozen (infra.coldgc)
        return built[1]


@dataclass(frozen=True, slots=True)
class IngestServices:
    """What the ingest function needs: the use case, the two stores request signing reads, the clock."""

    service: IngestService
    connectors: ConnectorStore
    nonces: NonceStore
    clock: Clock = field(default_factory=_clock)


def normalizer(calendar: WorkingDayCalendar | None = None, policy: Any = None) -> Normalizer:
    """`connectors.normalize.normalize` with the working-day calendar and the rating policy bound."""
    from connectors.normalize import normalize
    from hub.calendar import WorkingDayCalendar

    return partial(normalize, calendar=calendar or WorkingDayCalendar(), policy=policy)


def calendar_normalizer(calendars: Calendars, policy: Any = None) -> Normalizer:
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
    clock: Clock | None = None,
) -> IngestServices:
    from hub.ingest import IngestService

    service = IngestService(ratings, archive, queue, normalize or normalizer())
    return IngestServices(service, connectors, nonces, clock or _clock())


# Called with every client built here; the local cloud adds its IAM check (infra/localcloud/iam.py).
CLIENT_HOOKS: list[Callable[[Any], None]] = []


def aws_clients(
    session: Any = None, services: tuple[str, ...] = ("dynamodb", "s3", "sqs"), *, sent_once: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Clients (by default DynamoDB, S3, SQS) from one botocore session, timeouts well inside 15 s, each created
    on its first use (`LazyClient`): a request that never reaches a service (a refused signature: no S3, SQS,
    Secrets Manager) does not pay its model's loading, ~7-25 ms of CPU a client. Those of `sent_once` make one
    attempt per call: their caller retries, knowing what a call without an answer means. The others make three
    attempts in all (`total_max_attempts`: botocore's `max_attempts` counts retries, and 4 attempts of 1 s connect
    plus 3 s read, with backoff, outlast the ingest function's 15 s).

    botocore, not boto3: boto3 adds nothing these low-level clients use, and its import (s3transfer,
    resources) is ~50 ms of a cold start. Pass a session to share loaded service models (tests do); without one,
    a new session reads botocore's models through the process's shared `infra.botodata` loader (orjson, and no
    listing of every service before each model: ~60 ms of the ingest function's first request).
    """
    from botocore.config import Config

    from infra.botodata import fast_session

    session = session or fast_session()
    config = Config(connect_timeout=1, read_timeout=3, retries={"mode": "standard", "total_max_attempts": 3})
    once = config.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
    hooks, lock = tuple(CLIENT_HOOKS), threading.Lock()  # the hooks of now; one session creates one at a time

    def create(name: str) -> Any:
        client = session.create_client(name, config=once if name in sent_once else config)
        for hook in hooks:
            hook(client)
        return client

    return {name: LazyClient(partial(create, name), lock) for name in services}


def sealed_stores(clients: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """R20: the `sealer` and `lookup_hash` every Dynamo store of ratings and cases is built with
    (`infra.sealing`: the KMS envelope under DATA_KEY_ID, HMAC look-ups keyed by LOOKUP_KEY_SECRET_ARN).
    Needs `kms` and `secretsmanager` among `clients`; one data key cache per process."""
    from infra.sealing import personal_data

    settings = PersonalDataSettings.from_env(environ)
    sealer, lookup_hash = personal_data(clients["kms"], clients["secretsmanager"], settings)
    return {"sealer": sealer, "lookup_hash": lookup_hash}


def provincial_client(secrets_client: Any, environ: Mapping[str, str] | None = None) -> ProvincialClient:
    """The provincial client of `ProvinceSettings`, its credentials from Secrets Manager."""
    from infra.province.client import ProvincialClient

    return ProvincialClient.from_settings(ProvinceSettings.from_env(environ), secrets_client=secrets_client)


SEALING_CLIENTS = ("kms", "secretsmanager")
SEALING = tuple(PersonalDataSettings.variables())  # what sealed_stores reads
PROVINCE = tuple(ProvinceSettings.variables())  # what provincial_client reads


@reads(IngestSettings, CalendarCacheSettings, *SEALING)
def ingest_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, clock: Clock | None = None
) -> IngestServices:
    """Raises `infra.settings.MissingSettings`, naming every variable that is missing."""
    from infra.archive import S3RawArchive
    from infra.connector_store import CachedConnectorStore, DynamoConnectorStore
    from infra.forward_queue import SqsForwardQueue
    from infra.rating_store import DynamoRatingStore
    from infra.signing import DynamoNonceStore

    settings = IngestSettings.from_env(environ)
    # the queue's batches sent once by botocore: after no answer `SqsForwardQueue` sends them again without the
    # handoff, where botocore's own retry would send a second copy with it (a duplicate at the province, issue 16)
    clients = aws_clients(session, services=("dynamodb", "s3", "sqs", *SEALING_CLIENTS), sent_once=("sqs",))
    dynamodb = clients["dynamodb"]
    sealed = sealed_stores(clients, environ)
    calendars = _calendars(dynamodb, settings.calendar_table, environ) if settings.calendar_table else None
    return build_ingest(
        ratings=DynamoRatingStore(dynamodb, settings.ratings_table, **sealed),
        archive=S3RawArchive(clients["s3"], settings.raw_bucket),
        queue=SqsForwardQueue(clients["sqs"], settings.forward_queue_url),
        # a warm container's copies, 30 s: disabling and a second rotation reach it within that (docs/signing.md)
        connectors=CachedConnectorStore(
            DynamoConnectorStore(dynamodb, settings.connectors_table, sealed["sealer"]), clock or _clock()
        ),
        nonces=DynamoNonceStore(dynamodb, settings.nonces_table),
        normalize=calendar_normalizer(calendars) if calendars else None,
        clock=clock,
    )


def in_memory_ingest(
    normalize: Normalizer | None = None, clock: Clock | None = None
) -> tuple[IngestServices, dict[str, Any]]:
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
    return build_ingest(**fakes, normalize=normalize, clock=clock), fakes


# --------------------------------------------------------------------------------------------------
# The connector registry (people register and manage connectors; hub/registry.py)


@dataclass(frozen=True, slots=True)
class RegistryServices:
    registry: RegistryService
    dry_run: DryRun  # the same check ingest runs, kept nowhere
    clock: Clock = field(default_factory=_clock)


def build_registry(
    connectors: ConnectorStore, normalize: Normalizer | None = None, clock: Clock | None = None
) -> RegistryServices:
    from connectors.registry import check_registration
    from hub.ingest import DryRun
    from hub.registry import RegistryService

    registry = RegistryService(connectors, check_registration)
    return RegistryServices(registry, DryRun(normalize or normalizer()), clock or _clock())


@reads(RegistrySettings, CalendarCacheSettings, *SEALING)
def registry_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, clock: Clock | None = None
) -> RegistryServices:
    """The registry over the ConnectorsTable; dry-runs count windows with the loaded calendar notices."""
    from infra.connector_store import DynamoConnectorStore

    settings = RegistrySettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    calendars = _calendars(dynamodb, settings.calendar_table, environ) if settings.calendar_table else None
    # connectors' secrets are sealed like raters' personal data (the KMS envelope)
    store = DynamoConnectorStore(dynamodb, settings.connectors_table, sealed_stores(clients, environ)["sealer"])
    return build_registry(store, calendar_normalizer(calendars) if calendars else None, clock)


@dataclass(frozen=True, slots=True)
class ForwardServices:
    """The forward and sweep functions': the use case, the queue its messages come back through, the knobs."""

    forward: ForwardService
    queue: SqsForwardQueue
    settings: ForwardSettings
    clock: Clock = field(default_factory=_clock)


@reads(ForwardSettings, CalendarCacheSettings, *SEALING, *PROVINCE)
def forward_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, clock: Clock | None = None
) -> ForwardServices:
    """The forwarding service over DynamoDB, SQS and the provincial client; names missing variables."""
    from hub.forwarding import ForwardService
    from infra.forward_queue import SqsForwardQueue
    from infra.province.sink import ClientSink
    from infra.rating_store import DynamoRatingStore

    settings = ForwardSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "sqs", *SEALING_CLIENTS))
    client = provincial_client(clients["secretsmanager"], environ)
    dead_letter_url = settings.dead_letter_url or None
    queue = SqsForwardQueue(clients["sqs"], settings.forward_queue_url, dead_letter_url=dead_letter_url)
    service = ForwardService(
        ratings=DynamoRatingStore(clients["dynamodb"], settings.ratings_table, **sealed_stores(clients, environ)),
        province=ClientSink(client),
        queue=queue,
        **_work_order_creation(clients["dynamodb"], settings, environ),
    )
    return ForwardServices(service, queue, settings, clock or _clock())


def _work_order_creation(dynamodb: Any, settings: ForwardSettings, environ: Mapping[str, str] | None) -> dict[str, Any]:
    """R10 on the forward path: the work-order store, and the calendar as loaded, when the template gives them."""
    from infra.workorder_store import DynamoWorkOrderStore

    if not settings.work_orders_table:
        return {}
    created: dict[str, Any] = {"work_orders": DynamoWorkOrderStore(dynamodb, settings.work_orders_table)}
    if settings.calendar_table:
        created["calendars"] = _calendars(dynamodb, settings.calendar_table, environ)
    return created


@dataclass(frozen=True, slots=True)
class WorkOrderServices:
    """What the work-order API needs: the desk (act and list for a signed-in person) and the clock it reads."""

    desk: WorkOrderDesk
    clock: Clock = field(default_factory=_clock)


def build_work_orders(
    *,
    store: WorkOrderStore,
    calendars: Calendars,
    relay: Callable[[], OutboxRelay] | None = None,
    clock: Clock | None = None,
) -> WorkOrderServices:
    """`relay`: called after an action's save, to send its notices at once (None: the scheduler's next run)."""
    from hub.workorders import WorkOrderDesk

    return WorkOrderServices(WorkOrderDesk(store, calendars, relay=relay), clock or _clock())


@reads(WorkOrderSettings, CalendarCacheSettings, OutboxSettings)
def work_orders_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, clock: Clock | None = None
) -> WorkOrderServices:
    """The work-order API's services over DynamoDB; raises `MissingSettings` naming what is missing. The
    outbox relay (SNS, SQS) is built on the first action, so reading orders needs only the two tables."""
    from infra.workorder_store import DynamoWorkOrderStore

    settings = WorkOrderSettings.from_env(environ)
    dynamodb = aws_clients(session, services=("dynamodb",))["dynamodb"]
    outbox = BuiltOnce(lambda: outbox_from_env(environ, session=session), ())
    return build_work_orders(
        store=DynamoWorkOrderStore(dynamodb, settings.work_orders_table),
        calendars=_calendars(dynamodb, settings.calendar_table, environ),
        relay=lambda: outbox().relay,
        clock=clock,
    )


# --------------------------------------------------------------------------------------------------
# Completed cases (R5-R7): the notices route, the operator's calendar route, the scheduler


@dataclass(frozen=True, slots=True)
class CaseServices:
    """What the case and calendar routes of the ingest function need."""

    intake: CaseIntake
    calendar: CalendarAdmin
    clock: Clock = field(default_factory=_clock)


@dataclass(frozen=True, slots=True)
class SchedulerServices:
    scheduler: CaseScheduler
    calendar: CalendarAdmin
    clock: Clock = field(default_factory=_clock)


def build_cases(
    *,
    ratings: RatingStore,
    cases: CaseStore,
    timers: TimerStore,
    archive: RawArchive,
    queue: ForwardQueue,
    calendar_store: CalendarStore,
    calendars: StoredCalendars | None = None,
    clock: Clock | None = None,
) -> CaseServices:
    from hub.calendar_admin import CalendarAdmin
    from hub.case_intake import CaseIntake
    from infra.calendar_store import StoredCalendars

    calendars = calendars or StoredCalendars(calendar_store)
    return CaseServices(
        intake=CaseIntake(ratings, cases, archive, queue, calendars),
        calendar=CalendarAdmin(calendar_store, cases, timers, on_change=calendars.invalidate),
        clock=clock or _clock(),
    )


def build_scheduler(
    *,
    ratings: RatingStore,
    cases: CaseStore,
    timers: TimerStore,
    queue: ForwardQueue,
    sms: SmsSender,
    log: NotificationLog,
    calendar_store: CalendarStore,
    rating_link: str,
    clock: Clock | None = None,
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
    return SchedulerServices(scheduler, CalendarAdmin(calendar_store, cases, timers), clock or _clock())


def _calendars(dynamodb: Any, table: str, environ: Mapping[str, str] | None) -> StoredCalendars:
    from infra.calendar_store import shared_calendars

    return shared_calendars(dynamodb, table, CalendarCacheSettings.from_env(environ).seconds)


@reads(CaseSettings, CalendarCacheSettings, *SEALING)
def cases_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, clock: Clock | None = None
) -> CaseServices:
    """Raises `infra.settings.MissingSettings`, naming every variable that is missing."""
    from infra.archive import S3RawArchive
    from infra.calendar_store import DynamoCalendarStore
    from infra.case_store import DynamoCaseStore, DynamoTimerStore
    from infra.forward_queue import SqsForwardQueue
    from infra.rating_store import DynamoRatingStore

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
        clock=clock,
    )


@reads(SchedulerSettings, *SEALING)
def scheduler_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, clock: Clock | None = None
) -> SchedulerServices:
    """Raises `infra.settings.MissingSettings`, naming every variable that is missing."""
    from infra.calendar_store import DynamoCalendarStore
    from infra.case_store import DynamoCaseStore, DynamoNotificationLog, DynamoTimerStore
    from infra.forward_queue import SqsForwardQueue
    from infra.rating_store import DynamoRatingStore
    from infra.sms import sms_sender

    settings = SchedulerSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "sqs", "sns", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    sealed = sealed_stores(clients, environ)
    sms = sms_sender(clients["sns"], settings.sms_gateway_url, settings.sms_sender_id)
    return build_scheduler(
        ratings=DynamoRatingStore(dynamodb, settings.ratings_table, **sealed),
        cases=DynamoCaseStore(dynamodb, settings.cases_table, sealer=sealed["sealer"]),
        timers=DynamoTimerStore(dynamodb, settings.cases_table),
        queue=SqsForwardQueue(clients["sqs"], settings.forward_queue_url),
        sms=sms,
        log=DynamoNotificationLog(dynamodb, settings.cases_table),
        calendar_store=DynamoCalendarStore(dynamodb, settings.calendar_table),
        rating_link=settings.rating_link,
        clock=clock,
    )


def in_memory_cases(
    rating_link: str = "https://hcp.example/rate", clock: Clock | None = None
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
    intake = build_cases(**shared, archive=fakes["archive"], clock=clock)
    scheduler = build_scheduler(**shared, sms=fakes["sms"], log=fakes["log"], rating_link=rating_link, clock=clock)
    return intake, scheduler, fakes


# --------------------------------------------------------------------------------------------------
# People reading ratings (R20): the ratings query function; and who they are (the authorizer)


@dataclass(frozen=True, slots=True)
class RatingReadServices:
    reads: RatingReads
    clock: Clock = field(default_factory=_clock)


def build_rating_reads(*, ratings: RatingStore, audit: AuditLog, clock: Clock | None = None) -> RatingReadServices:
    from hub.rating_reads import RatingReads

    return RatingReadServices(RatingReads(ratings, audit), clock or _clock())


@reads(RatingReadSettings, *SEALING)
def rating_reads_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, clock: Clock | None = None
) -> RatingReadServices:
    """`hub.rating_reads.RatingReads` over DynamoDB; raises `MissingSettings` naming what is missing."""
    from infra.audit_log import DynamoAuditLog
    from infra.rating_store import DynamoRatingStore

    settings = RatingReadSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", *SEALING_CLIENTS))
    dynamodb = clients["dynamodb"]
    return build_rating_reads(
        ratings=DynamoRatingStore(dynamodb, settings.ratings_table, **sealed_stores(clients, environ)),
        audit=DynamoAuditLog(dynamodb, settings.audit_table),
        clock=clock,
    )


@reads(SignInSettings)
def verifier_from_env(environ: Mapping[str, str] | None = None) -> OidcVerifier:
    """The authorizer's token verifier, for the issuer the sign-in variables name; its JWKS cache lives as
    long as the container."""
    from infra.oidc import OidcVerifier

    return OidcVerifier(SignInSettings.from_env(environ))


# --------------------------------------------------------------------------------------------------
# Work orders on the clock, and their outbox: notices to departments, outcomes to the province


@dataclass(frozen=True, slots=True)
class OutboxServices:
    """`monitor` for the scheduler, `relay` for the sweep and right after actions, `delivery` (with the
    province) for the forward function's outcome messages."""

    store: WorkOrderStore
    relay: OutboxRelay
    monitor: WorkOrderMonitor
    delivery: OutcomeDelivery | None = None


def build_outbox(
    *, store: WorkOrderStore, notifier: Notifier, queue: OutcomeQueue, calendars: Calendars,
    province: OutcomeSink | None = None, ratings: RatingStore | None = None,
) -> OutboxServices:
    from hub.outcomes import OutboxRelay, OutcomeDelivery
    from hub.workorders import WorkOrderMonitor

    relay = OutboxRelay(store, notifier, queue)
    delivery = OutcomeDelivery(store, province, notifier, ratings, queue) if province is not None else None
    return OutboxServices(store, relay, WorkOrderMonitor(store, calendars, relay), delivery)


@reads(OutboxSettings)
def outbox_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, province: bool = False
) -> OutboxServices:
    """Raises `MissingSettings` naming what is missing. `province`: with the provincial client (forward only)."""
    from infra.calendar_store import DynamoCalendarStore, StoredCalendars
    from infra.forward_queue import SqsForwardQueue
    from infra.notify import SnsNotifier
    from infra.workorder_store import DynamoWorkOrderStore

    settings = OutboxSettings.from_env(environ)
    clients = aws_clients(session, services=("dynamodb", "sqs", "sns", *(("secretsmanager",) if province else ())))
    dynamodb = clients["dynamodb"]
    extra: dict[str, Any] = {}
    if province:
        from infra.province.outcome import ClientOutcomeSink
        from infra.rating_store import DynamoRatingStore
        from infra.sealing import NoPersonalData

        client = provincial_client(clients["secretsmanager"], environ)
        # mark_not_adopted touches no personal data: the store is built to refuse any (no KMS for the outbox)
        ratings = DynamoRatingStore(dynamodb, settings.ratings_table, sealer=NoPersonalData())
        extra = {"province": ClientOutcomeSink(client), "ratings": ratings}
    return build_outbox(
        store=DynamoWorkOrderStore(dynamodb, settings.work_orders_table),
        notifier=SnsNotifier(clients["sns"], settings.topic_arn),
        queue=SqsForwardQueue(clients["sqs"], settings.forward_queue_url),
        calendars=StoredCalendars(DynamoCalendarStore(dynamodb, settings.calendar_table), ttl=0),
        **extra,
    )


@reads(OutboxSettings, *PROVINCE)
def delivery_from_env(environ: Mapping[str, str] | None = None, *, session: Any = None) -> OutboxServices:
    """The outbox with the provincial client, for the forward function's outcome messages."""
    return outbox_from_env(environ, session=session, province=True)


# --------------------------------------------------------------------------------------------------
# Reports (通报, R19): composed from the rollups on request, written to the bucket on schedule


@dataclass(frozen=True, slots=True)
class ReportServices:
    """What the reports function needs: the report service and the clock its periods are read by."""

    reports: ReportService
    clock: Clock = field(default_factory=_clock)


@reads(ReportsSettings)
def reports_from_env(
    environ: Mapping[str, str] | None = None, *, session: Any = None, clock: Clock | None = None
) -> ReportServices:
    """Over the rollups table, the reports bucket and the work-order topic (`infra.reports.wiring`)."""
    from infra.reports.wiring import reports_from_env as report_service_from_env

    return ReportServices(report_service_from_env(environ, session=session), clock or _clock())
