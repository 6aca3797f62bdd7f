"""What a relay's own catalogue cannot answer, asked of its upstream: contract lookups,
snapshots and history of instruments outside it.

A middleware in front of the REST routes of a relay (`install`). Each route is answered by
tickgate's own handler first; where that handler knows nothing (an unknown conid, a search
without a hit, a chain the catalogue does not list), the same question goes upstream:

- conids named by a request (or by a WebSocket `smd`/`s+md`) that the catalogue lacks are
  *learnt*: described by the upstream's `/trsrv/secdef` (an option's underlying first) and
  added to the catalogue, so from then on every dialect streams them, REST answers them and
  paper trading fills against their relayed quotes, exactly as for a built-in instrument;
- `secdef/search`, `trsrv/stocks`, `secdef/info` and `secdef/strikes` answers the catalogue
  has nothing for are the upstream's (the conids in them learnt too);
- a snapshot of a conid the relay streams is answered from the relay's own latest-value
  store; any other conid's row is the upstream's; history of a learnt instrument is the
  upstream's (the relay has none of its own for it).

Upstream answers are cached (`AnswerCache`): contracts for `LOOKUP_TTL_S`, snapshots for
`SNAPSHOT_TTL_S`, history for `HISTORY_TTL_S`, so any number of downstream clients asking the
same costs the upstream one call per TTL. When the upstream refuses (429) or is away, a cached
answer up to `GRACE_S` old is given instead; without one, the upstream's 429 (with its
`Retry-After`) or a 503 naming the upstream is passed on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import urlencode

import orjson
from aiohttp import web

from tickgate.clock import NS_PER_S, Clock
from tickgate.errors import CatalogueError
from tickgate.market.catalogue.catalogue import Catalogue
from tickgate.market.catalogue.fields import RowError
from tickgate.market.engine import static_fields
from tickgate.model.instruments import Instrument
from tickgate.protocol import fields as F
from tickgate.server.api_client import Answer, ClientError, GatewayClient, Target
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import HttpError, int_list, json_body, json_response, param
from tickgate.server.ws import BEFORE_MESSAGE, MessageHook
from tickgate.sources.relay.address import UpstreamAddress
from tickgate.sources.relay.cache import AnswerCache
from tickgate.sources.relay.instruments import instrument_from_secdef

log = logging.getLogger("tickgate.relay")

LOOKUP_TTL_S = 300.0
SNAPSHOT_TTL_S = 1.0
HISTORY_TTL_S = 30.0
#: How long past its TTL a cached answer still stands in for a refusing or absent upstream.
GRACE_S = 60.0
CAPACITY = 2_000
#: The most conids one upstream `/trsrv/secdef` call may name (the real gateway's limit).
SECDEF_BATCH = 200
API = "/v1/api"
#: A market-data subscription of either dialect, and the conid it names.
_STREAM_COMMAND = re.compile(r"(?:smd|s\+md)\+(\d{1,10})")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Learns(Protocol):
    """Whatever adds conids a catalogue lacks from where they are known (a relay's upstream;
    a cluster edge's core)."""

    async def learn(self, conids: Iterable[int]) -> None: ...


def streamed_conid(text: str) -> int | None:
    """The conid a WebSocket `smd`/`s+md` message asks for; None for any other message."""
    match = _STREAM_COMMAND.match(text)
    return None if match is None else int(match.group(1))


class UpstreamUnavailable(HttpError):
    """The upstream refused (429) or could not answer, and nothing cached stands in."""

    def __init__(self, message: str, *, status: int, retry_after: str | None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Lookup:
    """One question for the upstream: a GET of `path` (under /v1/api) with `query`."""

    path: str
    query: tuple[tuple[str, str], ...]

    def url(self) -> str:
        return API + self.path + ("?" + urlencode(self.query) if self.query else "")


class UpstreamLookups:
    """The relay's questions to its upstream, their cache, and the instruments they teach."""

    def __init__(self, target: Target, catalogue: Catalogue, clock: Clock) -> None:
        self._target = target
        self._address = UpstreamAddress.parse(target.url)
        self._catalogue = catalogue
        self._clock = clock
        self._cache: AnswerCache[Answer] = AnswerCache(
            capacity=CAPACITY, grace_ns=int(GRACE_S * NS_PER_S)
        )
        self._client: GatewayClient | None = None
        #: Conids the relay added to its catalogue from the upstream (their history is its).
        self.learnt: set[int] = set()

    async def open(self) -> None:
        self._client = await GatewayClient(self._target).__aenter__()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.__aexit__(None, None, None)
            self._client = None

    async def ask(self, lookup: Lookup, *, ttl_s: float) -> Answer:
        """The upstream's answer (fresh from the cache, else asked now and cached when it is
        a success or a 4xx other than 429). Raises UpstreamUnavailable on a 429, a 5xx or an
        unreachable upstream, unless an answer within its grace period stands in."""
        now = self._clock.monotonic_ns()
        cached = self._cache.fresh(lookup, now)
        if cached is not None:
            return cached
        assert self._client is not None, "UpstreamLookups used before open()"
        try:
            answer = await self._client.answer("GET", lookup.url())
        except ClientError as exc:
            # Messages built from the address quote its credentials: never shown.
            message = self._address.scrub(str(exc))
            return self._stand_in(lookup, message, status=503, retry_after=None)
        if answer.status == 429 or answer.status >= 500:
            message = f"upstream {self._address.shown} answered {answer.status}: {answer.error}"
            status = 429 if answer.status == 429 else 503
            return self._stand_in(lookup, message, status=status, retry_after=answer.retry_after)
        self._cache.put(lookup, answer, now_ns=now, ttl_ns=int(ttl_s * NS_PER_S))
        return answer

    def _stand_in(
        self, lookup: Lookup, message: str, *, status: int, retry_after: str | None
    ) -> Answer:
        kept = self._cache.kept(lookup, self._clock.monotonic_ns())
        if kept is not None:
            log.warning("%s; answering %s from the cache", message, lookup.path)
            return kept.value
        log.warning("%s; nothing cached for %s", message, lookup.path)
        raise UpstreamUnavailable(message, status=status, retry_after=retry_after)

    def knows(self, conid: int) -> bool:
        """True when the relay's catalogue has `conid` (its own or learnt)."""
        return self._catalogue.find(conid) is not None

    async def learn(self, conids: Iterable[int]) -> None:
        """Add to the catalogue every conid of `conids` it lacks that the upstream describes
        (an option's or a future's underlying with it). Conids the upstream does not know
        stay unknown (the route then answers "Invalid conid" as for any unknown conid).
        Raises UpstreamUnavailable when the upstream cannot be asked."""
        unknown = [c for c in dict.fromkeys(conids) if self._catalogue.find(c) is None]
        if not unknown:
            return
        rows = await self._describe(unknown)
        underlyings = {
            int(row["undConid"])
            for row in rows
            if row.get("assetClass") in ("OPT", "FUT") and _positive(row.get("undConid"))
        }
        missing = [u for u in underlyings if self._catalogue.find(u) is None and u not in unknown]
        rows = (await self._describe(missing) if missing else []) + rows
        self._add([i for i in map(_instrument, rows) if i is not None])

    async def _describe(self, conids: Sequence[int]) -> list[dict[str, Any]]:
        """The upstream's `/trsrv/secdef` rows of `conids`. A gateway may refuse a whole
        batch for one conid it does not know (tickgate does): then each is asked alone."""
        rows: list[dict[str, Any]] = []
        for start in range(0, len(conids), SECDEF_BATCH):
            batch = conids[start : start + SECDEF_BATCH]
            answer = await self._secdef(batch)
            if answer.status == 400 and len(batch) > 1:
                for conid in batch:
                    rows += _secdef_rows(await self._secdef([conid]))
            else:
                rows += _secdef_rows(answer)
        return rows

    async def _secdef(self, conids: Sequence[int]) -> Answer:
        lookup = Lookup("/trsrv/secdef", (("conids", ",".join(map(str, conids))),))
        return await self.ask(lookup, ttl_s=LOOKUP_TTL_S)

    def learn_streamed(self, text: str) -> Awaitable[None] | None:
        """A WebSocket message (`ws.BEFORE_MESSAGE`): an `smd`/`s+md` of a conid the catalogue
        lacks is learnt before the session reads it, so it streams like any other; None
        (nothing to wait for) for every other message."""
        conid = streamed_conid(text)
        if conid is None or self._catalogue.find(conid) is not None:
            return None
        return self._learn_quietly(conid)

    async def _learn_quietly(self, conid: int) -> None:
        try:
            await self.learn([conid])
        except UpstreamUnavailable as exc:  # the session then refuses the unknown conid
            log.warning("conid %d streamed but not described by the upstream: %s", conid, exc)

    def _add(self, instruments: list[Instrument]) -> None:
        # Another request may have learnt some meanwhile: only what is still missing, and an
        # option only with its underlying (the catalogue checks the batch as a whole).
        fresh = list(
            {i.conid: i for i in instruments if self._catalogue.find(i.conid) is None}.values()
        )
        known = {i.conid for i in fresh}
        fresh = [
            i
            for i in fresh
            if i.underlying_conid is None
            or i.underlying_conid in known
            or self._catalogue.find(i.underlying_conid) is not None
        ]
        if not fresh:
            return
        try:
            self._catalogue.add(fresh)
        except CatalogueError as exc:
            log.warning("upstream instruments not added to the catalogue: %s", exc)
            return
        self.learnt.update(i.conid for i in fresh)
        log.info(
            "learnt %d instrument(s) from the upstream: %s",
            len(fresh),
            ", ".join(f"{i.symbol} ({i.conid})" for i in fresh[:10]),
        )


def _secdef_rows(answer: Answer) -> list[dict[str, Any]]:
    body = answer.body if answer.status == 200 else None
    found = body.get("secdef") if isinstance(body, dict) else None
    return [row for row in found or [] if isinstance(row, dict)]


def _positive(value: object) -> bool:
    return isinstance(value, int | str) and str(value).isdigit() and int(value) > 0


def _instrument(row: dict[str, Any]) -> Instrument | None:
    try:
        return instrument_from_secdef(row, {})
    except (RowError, ValueError, TypeError) as exc:
        log.warning("upstream conid %s left out of the catalogue: %s", row.get("conid"), exc)
        return None


# --- the routes --------------------------------------------------------------------------------
RELAY_LOOKUPS = web.AppKey("relay_lookups", UpstreamLookups)
Route = Callable[[web.Request, Handler, UpstreamLookups], Awaitable[web.StreamResponse]]


def body_of(response: web.StreamResponse) -> Any:
    """The JSON payload of one of tickgate's own answers (None when it is not JSON)."""
    raw = response.body if isinstance(response, web.Response) else None
    if not isinstance(raw, bytes):
        return None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def upstream_response(answer: Answer) -> web.Response:
    return json_response(answer.body, status=answer.status)


async def _query(request: web.Request, names: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """The request's parameters of `names` (query, or a POST's JSON body), for a GET upstream."""
    found = []
    for name in names:
        value = await param(request, name)
        if value is not None:
            found.append((name, str(value)))
    return tuple(found)


def _conids_in(rows: Any, key: str = "conid") -> list[int]:
    return [int(r[key]) for r in rows if isinstance(r, dict) and _positive(r.get(key))]


async def _upstream_contracts(lookups: UpstreamLookups, lookup: Lookup) -> web.Response:
    """The upstream's answer to a contract lookup; the conids of its rows are learnt."""
    answer = await lookups.ask(lookup, ttl_s=LOOKUP_TTL_S)
    if answer.status == 200 and isinstance(answer.body, list):
        await lookups.learn(_conids_in(answer.body))
    return upstream_response(answer)


async def search(
    request: web.Request, handler: Handler, lookups: UpstreamLookups
) -> web.StreamResponse:
    local = await handler(request)
    if local.status != 200 or body_of(local) != []:
        return local
    query = await _query(request, ("symbol", "name", "secType"))
    return await _upstream_contracts(lookups, Lookup("/iserver/secdef/search", query))


async def stocks(
    request: web.Request, handler: Handler, lookups: UpstreamLookups
) -> web.StreamResponse:
    local = await handler(request)
    found = body_of(local)
    if local.status != 200 or not isinstance(found, dict):
        return local
    empty = [symbol for symbol, entries in found.items() if not entries]
    if not empty:
        return local
    answer = await lookups.ask(
        Lookup("/trsrv/stocks", (("symbols", ",".join(empty)),)), ttl_s=LOOKUP_TTL_S
    )
    if answer.status != 200 or not isinstance(answer.body, dict):
        return local
    conids = [
        contract
        for entries in answer.body.values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
        for contract in entry.get("contracts", [])
    ]
    await lookups.learn(_conids_in(conids))
    for symbol in empty:
        found[symbol] = answer.body.get(symbol, [])
    return json_response(found)


async def secdef(request: web.Request, handler: Handler, lookups: Learns) -> web.StreamResponse:
    raw: object = request.query.get("conids")
    if raw is None and request.method == "POST":
        raw = (await json_body(request)).get("conids")
    if isinstance(raw, list):
        raw = ",".join(str(item) for item in raw)
    if isinstance(raw, str):
        await lookups.learn(int_list(raw, "conids", limit=SECDEF_BATCH))
    return await handler(request)


async def contract_info(
    request: web.Request, handler: Handler, lookups: Learns
) -> web.StreamResponse:
    conid = request.match_info.get("conid", "")
    if conid.isdigit():
        await lookups.learn([int(conid)])
    return await handler(request)


async def chain(
    request: web.Request, handler: Handler, lookups: UpstreamLookups
) -> web.StreamResponse:
    """`secdef/info` and `secdef/strikes`: the underlying learnt; the chains of a learnt
    underlying (the catalogue knows only the contracts learnt so far) and any chain the
    catalogue does not list are the upstream's."""
    raw = request.query.get("conid", "")
    if raw.isdigit():
        await lookups.learn([int(raw)])
    local = await handler(request)
    found = body_of(local)
    nothing = found == [] or (
        isinstance(found, dict) and not found.get("call") and not found.get("put")
    )
    if local.status != 200 or not (nothing or (raw.isdigit() and int(raw) in lookups.learnt)):
        return local
    path = request.match_info.route.resource.canonical if request.match_info.route.resource else ""
    lookup = Lookup(_route_path(path), tuple(sorted(request.query.items())))
    return await _upstream_contracts(lookups, lookup)


async def snapshot(
    request: web.Request, handler: Handler, lookups: UpstreamLookups
) -> web.StreamResponse:
    raw = request.query.get("conids", "")
    conids = [int(c) for c in raw.split(",") if c.strip().isdigit()]
    await lookups.learn(conids)
    local = await handler(request)
    rows = body_of(local)
    gateway = gateway_of(request)
    fields = _fields(request.query.get("fields"))
    others = [c for c in conids if not _in_store(gateway, c, fields)]
    if local.status != 200 or not isinstance(rows, list) or not others:
        return local
    query = [("conids", ",".join(map(str, others)))]
    if "fields" in request.query:
        query.append(("fields", request.query["fields"]))
    answer = await lookups.ask(
        Lookup("/iserver/marketdata/snapshot", tuple(query)), ttl_s=SNAPSHOT_TTL_S
    )
    if answer.status != 200 or not isinstance(answer.body, list):
        return upstream_response(answer)
    upstream = {
        int(r["conid"]): r for r in answer.body if isinstance(r, dict) and _positive(r.get("conid"))
    }
    merged = [
        upstream.get(int(row["conid"]), row) if isinstance(row, dict) else row for row in rows
    ]
    return json_response(merged)


def _fields(raw: str | None) -> tuple[int, ...] | None:
    if raw is None or not raw.strip():
        return None
    return tuple(int(f) for f in raw.split(",") if f.strip().isdigit())


def _in_store(gateway: Gateway, conid: int, fields: tuple[int, ...] | None) -> bool:
    """True when the relay's own store has what a snapshot of `conid` asks: the relay streams
    the conid from upstream with every asked field (the session's pre-flighted fields when
    the request names none), or the fields are the instrument's static ones."""
    interest = gateway.hub.interest(conid)
    instrument = gateway.catalogue.find(conid)
    if not interest or instrument is None:
        return False
    wanted = fields or gateway.session.preflighted.get(conid) or F.DEFAULT_FIELDS
    known = {*interest, *static_fields(instrument)}
    return all(fid in known for fid in wanted)


async def history(
    request: web.Request, handler: Handler, lookups: UpstreamLookups
) -> web.StreamResponse:
    raw = request.query.get("conid", "")
    if not raw.isdigit():
        return await handler(request)
    await lookups.learn([int(raw)])
    if int(raw) not in lookups.learnt:
        return await handler(request)
    lookup = Lookup("/iserver/marketdata/history", tuple(sorted(request.query.items())))
    return upstream_response(await lookups.ask(lookup, ttl_s=HISTORY_TTL_S))


ROUTES: dict[str, Route] = {
    "/iserver/secdef/search": search,
    "/trsrv/stocks": stocks,
    "/trsrv/secdef": secdef,
    "/iserver/contract/{conid}/info": contract_info,
    "/iserver/contract/{conid}/info-and-rules": contract_info,
    "/iserver/secdef/info": chain,
    "/iserver/secdef/strikes": chain,
    "/iserver/marketdata/snapshot": snapshot,
    "/iserver/marketdata/history": history,
}


def _route_path(canonical: str) -> str:
    """A route's path without its API prefix and trailing slash."""
    for prefix in ("/v1/api", "/v1/portal"):
        if canonical.startswith(prefix + "/"):
            canonical = canonical[len(prefix) :]
    return canonical.rstrip("/") or "/"


@web.middleware
async def lookup_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A relay's REST routes of `ROUTES`: the upstream answers what the catalogue cannot."""
    resource = request.match_info.route.resource
    route = ROUTES.get(_route_path(resource.canonical)) if resource is not None else None
    if route is None:
        return await handler(request)
    try:
        return await route(request, handler, request.app[RELAY_LOOKUPS])
    except UpstreamUnavailable as exc:
        response = json_response({"error": exc.message}, status=exc.status)
        if exc.retry_after is not None:
            response.headers["Retry-After"] = exc.retry_after
        return response


def then(first: MessageHook, second: MessageHook) -> MessageHook:
    """A message hook running `first`, then (once it is done) `second`."""

    def both(text: str) -> Awaitable[None] | None:
        pending = first(text)
        if pending is None:
            return second(text)

        async def in_turn() -> None:
            await pending
            following = second(text)
            if following is not None:
                await following

        return in_turn()

    return both


def install(app: web.Application, gateway: Gateway, target: Target) -> None:
    """Make `app` (a relay's) ask `target` what its catalogue cannot answer; add
    `lookup_middleware` to its middlewares yourself, innermost."""
    lookups = UpstreamLookups(target, gateway.catalogue, gateway.clock)
    app[RELAY_LOOKUPS] = lookups
    earlier = app.get(BEFORE_MESSAGE)  # a cluster core's line claim: after learning
    app[BEFORE_MESSAGE] = (
        lookups.learn_streamed if earlier is None else then(lookups.learn_streamed, earlier)
    )

    async def opened(_app: web.Application) -> None:
        await lookups.open()

    async def closed(_app: web.Application) -> None:
        await lookups.close()

    app.on_startup.append(opened)
    app.on_cleanup.append(closed)
