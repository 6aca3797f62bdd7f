"""The typed commands of the api dialect, as `protocol.api.grammar.parse` returns them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Authenticate:
    """`{"session":"..."}`: the client names its `/tickle` session (no usable cookie)."""

    session: str


@dataclass(frozen=True, slots=True)
class Tickle:
    """`tic`: keep the session alive; answered with a fresh `lastAccessed`."""


@dataclass(frozen=True, slots=True)
class Echo:
    """`ech+hb` (or any `ech...`): answered by echoing `text`."""

    text: str


@dataclass(frozen=True, slots=True)
class SubscribeMarketData:
    """`smd+CONID[@EXCH]+{"fields":[...]}`. `fields` None means the server's default set."""

    conid: int
    exchange: str | None
    fields: tuple[int, ...] | None


@dataclass(frozen=True, slots=True)
class UnsubscribeMarketData:
    """`umd+CONID+{}`."""

    conid: int


@dataclass(frozen=True, slots=True)
class SubscribeHistory:
    """`smh+CONID+{...}`: one frame of bars. None means "the server's default"."""

    conid: int
    exchange: str | None
    period: str | None
    bar: str | None
    outside_rth: bool
    source: str | None
    format: str | None


@dataclass(frozen=True, slots=True)
class UnsubscribeHistory:
    """`umh+SERVER_ID`."""

    server_id: str


@dataclass(frozen=True, slots=True)
class SubscribeDepth:
    """`sbd+ACCT+CONID[+EXCH]`: the price ladder of `conid`."""

    account: str
    conid: int
    exchange: str | None


@dataclass(frozen=True, slots=True)
class UnsubscribeDepth:
    """`ubd+ACCT`."""

    account: str


@dataclass(frozen=True, slots=True)
class SubscribeOrders:
    """`sor+{"filters":[...]}`: live orders; `filters` are order statuses (empty = all)."""

    filters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscribeTrades:
    """`str+{...}`: executions of the last `days` days unless `realtime_updates_only`."""

    realtime_updates_only: bool
    days: int


@dataclass(frozen=True, slots=True)
class SubscribePnl:
    """`spl`."""


@dataclass(frozen=True, slots=True)
class SubscribeSummary:
    """`ssd+ACCT+{"keys":[...],"fields":[...]}` (empty tuples = everything)."""

    account: str
    keys: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubscribeLedger:
    """`sld+ACCT+{"keys":[...],"fields":[...]}` (empty tuples = everything)."""

    account: str
    keys: tuple[str, ...]
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Unsubscribe:
    """`uor`, `utr`, `upl`, `usd+ACCT`, `uld+ACCT`: `topic` is `or`/`tr`/`pl`/`sd`/`ld`."""

    topic: str
    account: str | None = None


@dataclass(frozen=True, slots=True)
class Ignore:
    """A JSON message other than `{"session":...}`: the reference says to ignore it (§4.2)."""

    text: str


ApiCommand = (
    Authenticate
    | Ignore
    | Tickle
    | Echo
    | SubscribeMarketData
    | UnsubscribeMarketData
    | SubscribeHistory
    | UnsubscribeHistory
    | SubscribeDepth
    | UnsubscribeDepth
    | SubscribeOrders
    | SubscribeTrades
    | SubscribePnl
    | SubscribeSummary
    | SubscribeLedger
    | Unsubscribe
)
