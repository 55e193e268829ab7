"""Rollup cells: which counters a rating or a work order adds to, and the delta of a change.

A rating (or an order) *contributes* counters to a few cells; a change from an old to a new version adds
`contribution(new) - contribution(old)`. So a rating marked not adopted (R14, R17) moves from its grade
to `na`, a default rating (R6) counts under `d.*`, and a re-delivered change, applied once (the store's
change marker), adds nothing twice. Deltas commute: changes may arrive in any order.

Cell keys (one partition per stored period and city, so a city's report is one query):
  pk = {day or month}#{city: 4 digits}
  sk = {dim}#{county: 6 digits}#{agency}#{key}    dim: _ (the agency in that county), tw (township),
       win (hall/window), st (staff), ch (channel), sv (service item), tag (bad-rating tag, 第九条)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from hub.codes import Level, region_level
from hub.rating import Channel, EvaluationType, Grade, Rating
from hub.reports.periods import stored_keys_of
from hub.tags import TAGS_BY_CODE, TagCode

MAX_TRANSACTION_ITEMS = 100  # DynamoDB TransactWriteItems
CHANNEL_ZH = {
    Channel.WEB: "网站", Channel.MOBILE: "移动端", Channel.WINDOW: "窗口", Channel.KIOSK: "自助终端",
    Channel.QR: "二维码", Channel.SMS: "短信", Channel.PHONE: "电话",
}  # fmt: skip


class Dim:
    SUMMARY = "_"
    TOWNSHIP = "tw"
    WINDOW = "win"
    STAFF = "st"
    CHANNEL = "ch"
    SERVICE = "sv"
    TAG = "tag"
    ALL = ("_", "tw", "win", "st", "ch", "sv", "tag")


class CellKey(NamedTuple):
    pk: str
    sk: str

    @property
    def stored_period(self) -> str:
        return self.pk.split("#", 1)[0]

    @property
    def dim(self) -> str:
        return self.sk.split("#", 1)[0]

    @property
    def county(self) -> str:
        return self.sk.split("#", 3)[1]

    @property
    def agency(self) -> str:
        return self.sk.split("#", 3)[2]

    @property
    def key(self) -> str:
        return self.sk.split("#", 3)[3]


def _part(text: str) -> str:
    """A key part: '#' separates parts, so it is escaped in source-given text (a hall's name)."""
    if "#" not in text and "%" not in text:
        return text
    return text.replace("%", "%25").replace("#", "%23")


def cell_key(stored_period: str, region_code: str, agency: str, dim: str, key: str = "-") -> CellKey:
    return CellKey(f"{stored_period}#{region_code[:4]}", f"{dim}#{region_code[:6]}#{_part(agency)}#{_part(key)}")


def township_of(region_code: str) -> str | None:
    """R18: a township's and its villages' figures roll up to the township (9 digits), then the county."""
    if region_level(region_code) in (Level.TOWNSHIP, Level.VILLAGE):
        return region_code[:9]
    return None


@dataclass(frozen=True, slots=True)
class RatingFacts:
    """What a rating's figures depend on; nothing of the rater (R20)."""

    rating_id: str
    rated_at: datetime
    region_code: str
    agency_code: str
    channel: Channel
    evaluation_type: EvaluationType
    grade: Grade
    adopted: bool = True
    agency_name: str | None = None
    staff_grade: Grade | None = None
    staff_id: str | None = None
    staff_name: str | None = None
    hall: str | None = None
    window_no: str | None = None
    service_code: str | None = None
    service_name: str | None = None
    tags: tuple[TagCode, ...] = ()

    @classmethod
    def of(cls, rating: Rating, *, adopted: bool = True) -> RatingFacts:
        t, c = rating.target, rating.case
        return cls(
            rating_id=rating.rating_id, rated_at=rating.rated_at, region_code=t.region_code,
            agency_code=t.agency_code, channel=rating.channel, evaluation_type=rating.evaluation_type,
            grade=rating.grade, adopted=adopted, agency_name=t.agency_name, staff_grade=rating.staff_grade,
            staff_id=t.staff.staff_id if t.staff else None, staff_name=t.staff.name if t.staff else None,
            hall=t.hall, window_no=t.window_no, service_code=c.service_code, service_name=c.service_name,
            tags=tuple(dict.fromkeys(rating.tags)),
        )  # fmt: skip

    @property
    def is_bad(self) -> bool:
        return self.grade.is_bad or (self.staff_grade is not None and self.staff_grade.is_bad)


@dataclass(frozen=True, slots=True)
class OrderFacts:
    """What a work order's figures depend on (R10–R17), counted in the period of its dispatch."""

    order_id: str
    dispatched_at: datetime
    region_code: str
    agency_code: str
    adopted: bool = True
    fixed: bool = False  # replied (simple, R11) or resolved (complex, R12)
    on_time: bool = False
    real_name: bool = False
    visited: bool = False  # R13
    survey: Grade | None = None  # R16; None: not surveyed, declined or unreachable
    extensions: int = 0  # R15, approved
    appealed: bool = False  # R17
    upheld: bool = False
    overdue: bool = False  # a binding deadline escalated and the order still in handling


@dataclass
class Contribution:
    counters: dict[CellKey, dict[str, int]] = field(default_factory=lambda: defaultdict(dict))
    labels: dict[CellKey, str] = field(default_factory=dict)

    def add(self, key: CellKey, counter: str, n: int = 1, label: str | None = None) -> None:
        bag = self.counters.setdefault(key, {})
        bag[counter] = bag.get(counter, 0) + n
        if label:
            self.labels[key] = label


def _grade_counters(facts: RatingFacts, grade: Grade) -> dict[str, int]:
    if not facts.adopted:
        return {"na": 1}
    default = facts.evaluation_type is EvaluationType.DEFAULT
    out = {f"{'d' if default else 'g'}.{grade.value}": 1}
    if facts.evaluation_type is EvaluationType.ACTIVE:
        out["act"] = 1
    return out


def rating_contribution(facts: RatingFacts | None) -> Contribution:
    out = Contribution()
    if facts is None:
        return out
    item = _grade_counters(facts, facts.grade)
    staff = _grade_counters(facts, facts.staff_grade or facts.grade)  # the staff member's own grade (R4)
    township = township_of(facts.region_code)
    middle = f"#{facts.region_code[:6]}#{_part(facts.agency_code)}#"  # the same in both periods
    cells: list[tuple[str, dict[str, int], str | None]] = [
        (f"{Dim.SUMMARY}{middle}-", item, facts.agency_name),
        (f"{Dim.CHANNEL}{middle}{facts.channel.value}", item, CHANNEL_ZH[facts.channel]),
    ]
    if township:
        cells.append((f"{Dim.TOWNSHIP}{middle}{township}", item, None))
    if facts.window_no:
        label = " ".join(p for p in (facts.hall, facts.window_no) if p)
        window = _part(f"{facts.hall or '-'}/{facts.window_no}")
        cells.append((f"{Dim.WINDOW}{middle}{window}", item, label))
    if facts.staff_id:
        cells.append((f"{Dim.STAFF}{middle}{_part(facts.staff_id)}", staff, facts.staff_name))
    if facts.service_code:
        cells.append((f"{Dim.SERVICE}{middle}{_part(facts.service_code)}", item, facts.service_name))
    if facts.adopted and facts.is_bad:
        cells += [(f"{Dim.TAG}{middle}{tag.value}", {"t": 1}, TAGS_BY_CODE[tag].dimension_zh) for tag in facts.tags]
    city = facts.region_code[:4]
    for period in stored_keys_of(facts.rated_at):
        pk = f"{period}#{city}"
        for sk, counters, cell_label in cells:
            key = CellKey(pk, sk)
            out.counters[key] = dict(counters)
            if cell_label:
                out.labels[key] = cell_label
    return out


def order_contribution(facts: OrderFacts | None) -> Contribution:
    out = Contribution()
    if facts is None:
        return out
    counters: dict[str, int] = {}
    if facts.adopted:
        counters["wo"] = 1
        counters["wo_fixed"] = int(facts.fixed)
        counters["wo_on_time"] = int(facts.fixed and facts.on_time)
        counters["wo_real"] = int(facts.real_name)
        counters["wo_visited"] = int(facts.real_name and facts.visited)
        counters["od"] = int(facts.overdue)
    if facts.survey is not None:
        counters[f"sv.{facts.survey.value}"] = 1
    counters["ext"] = facts.extensions
    counters["ap"] = int(facts.appealed)
    counters["ap_up"] = int(facts.upheld)
    counters = {k: v for k, v in counters.items() if v}
    township = township_of(facts.region_code)
    for period in stored_keys_of(facts.dispatched_at):
        keys = [cell_key(period, facts.region_code, facts.agency_code, Dim.SUMMARY)]
        if township:
            keys.append(cell_key(period, facts.region_code, facts.agency_code, Dim.TOWNSHIP, township))
        for key in keys:
            for name, n in counters.items():
                out.add(key, name, n)
    return out


@dataclass(frozen=True)
class RollupChange:
    """The counter deltas of one change (a stream record), applied once by its `change_id`; a batch's changes
    merged (`merged`) carry the others' ids in `also`: every id gets its marker, each cell one update."""

    change_id: str
    deltas: Mapping[CellKey, Mapping[str, int]]
    labels: Mapping[CellKey, str] = field(default_factory=dict)
    also: tuple[str, ...] = ()

    @property
    def change_ids(self) -> tuple[str, ...]:
        return (self.change_id, *self.also)

    @property
    def empty(self) -> bool:
        return not self.deltas and not self.also

    @property
    def items(self) -> int:
        """Items its transaction writes: a marker per change and one per cell."""
        return 0 if self.empty else len(self.change_ids) + len(self.deltas)


def merged(changes: Iterable[RollupChange]) -> list[RollupChange]:
    """A stream batch's changes as few transactions (issue 15): each change keeps its marker, the deltas are summed
    cell by cell, so ten ratings of one agency write its cells once, not ten times. A change id seen twice counts
    once; changes that move no figure are left out; each transaction fits `MAX_TRANSACTION_ITEMS`."""
    out: list[RollupChange] = []
    ids: list[str] = []
    sums: dict[CellKey, dict[str, int]] = {}
    labels: dict[CellKey, str] = {}

    def flush() -> None:
        if ids:
            deltas = {k: kept for k, bag in sums.items() if (kept := {n: v for n, v in bag.items() if v})}
            out.append(RollupChange(ids[0], deltas, {k: v for k, v in labels.items() if k in deltas}, tuple(ids[1:])))
        ids.clear()
        sums.clear()
        labels.clear()

    seen: set[str] = set()
    for change in changes:
        if change.empty or change.change_id in seen:
            continue
        seen.update(change.change_ids)
        cells = len(set(sums) | set(change.deltas))
        if ids and len(ids) + len(change.change_ids) + cells > MAX_TRANSACTION_ITEMS:
            flush()
        ids.extend(change.change_ids)
        for key, bag in change.deltas.items():
            total_bag = sums.setdefault(key, {})
            for name, n in bag.items():
                total_bag[name] = total_bag.get(name, 0) + n
        labels.update(change.labels)
    flush()
    return out


def change_between(change_id: str, old: Contribution, new: Contribution) -> RollupChange:
    """new - old, cell by cell, zeros dropped: a change that moves no figure (a forwarding receipt) writes nothing."""
    deltas: dict[CellKey, dict[str, int]] = {}
    if not old.counters or not new.counters:  # a new item, or one removed: no difference to take
        sign, only = (1, new) if not old.counters else (-1, old)
        for key, bag in only.counters.items():
            kept = {n: sign * v for n, v in bag.items() if v}
            if kept:
                deltas[key] = kept
        return _checked(RollupChange(change_id, deltas, {k: v for k, v in new.labels.items() if k in deltas}))
    for key in set(old.counters) | set(new.counters):
        before, after = old.counters.get(key, {}), new.counters.get(key, {})
        bag = {n: after.get(n, 0) - before.get(n, 0) for n in set(before) | set(after)}
        bag = {n: v for n, v in bag.items() if v}
        if bag:
            deltas[key] = bag
    return _checked(RollupChange(change_id, deltas, {k: v for k, v in new.labels.items() if k in deltas}))


def _checked(change: RollupChange) -> RollupChange:
    if change.items > MAX_TRANSACTION_ITEMS:  # 2 periods x (6 cells + 14 tags) + 1 = 41 at most
        raise ValueError(f"a change touching {change.items} items does not fit one transaction")
    return change


def rating_change(change_id: str, old: RatingFacts | None, new: RatingFacts | None) -> RollupChange:
    return change_between(change_id, rating_contribution(old), rating_contribution(new))


def order_change(change_id: str, old: OrderFacts | None, new: OrderFacts | None) -> RollupChange:
    return change_between(change_id, order_contribution(old), order_contribution(new))


def total(contributions: Iterable[Contribution]) -> Contribution:
    """The sum of many contributions: what `rebuild` writes."""
    out = Contribution()
    for c in contributions:
        for key, bag in c.counters.items():
            for name, n in bag.items():
                out.add(key, name, n)
        out.labels.update(c.labels)
    return out
