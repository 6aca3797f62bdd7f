"""Clients of a running gateway: `tickgate record --url` and `tickgate replay ... --url`.

`record` records what a gateway streams (tickgate or IBKR's own) into the same recording
format as `--record`, for people who cannot restart that gateway:

1. primes the session (``/iserver/accounts``) and finds the conids: those given, else
   ``/trsrv/all-conids`` where the gateway has it;
2. describes them for the header from ``/trsrv/secdef`` (symbol, type, currency, tick size)
   and a snapshot (reference price), so a replay can add them to its catalogue;
3. streams them over ``/v1/api/ws`` (``smd``, renewed before the 15-minute expiry, ``tic``
   every minute) or ``/v1/portal/ws`` (``s+md`` with tempo 0: every change, not 500 ms
   batches), and records each market frame as a tick at its receive time.

A dropped socket ends the recording (the file stays valid); so do SIGINT and SIGTERM.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from tickgate.clock import Clock, SystemClock
from tickgate.market.catalogue.fields import RowError
from tickgate.model.instruments import Instrument
from tickgate.model.ticks import Tick
from tickgate.protocol import fields as F
from tickgate.protocol.portal import wire_text
from tickgate.server.api_client import ClientError, GatewayClient, Target
from tickgate.sources.recorder import Recorder, RecorderStats, run_flusher
from tickgate.sources.recording import RecordingHeader
from tickgate.sources.relay.instruments import instrument_from_secdef

log = logging.getLogger("tickgate.record")

#: What a recording client asks for when told nothing: top of book, last trade, volume.
RECORD_FIELDS: tuple[int, ...] = (31, 70, 71, 82, 83, 84, 85, 86, 87, 88, 7059, 7762)
TICKLE_SECONDS = 60.0
#: `smd` streams end after 15 minutes unless sent again; renew well before, as ibind does.
RENEW_SECONDS = 540.0


@dataclass(frozen=True)
class RecordOptions:
    """How `record` reaches the gateway (`target`: its URL, the certificate to trust, the
    token, as for every client command) and what it records."""

    target: Target
    out: Path
    conids: tuple[int, ...] = ()
    dialect: str = "api"
    fields: tuple[int, ...] = RECORD_FIELDS
    rotate_bytes: int = 0
    rotate_hourly: bool = False


async def record(
    options: RecordOptions, *, stop: asyncio.Event, clock: Clock | None = None
) -> RecorderStats:
    """Record until `stop` is set or the socket closes; returns the recorder's counters.
    Raises ClientError when the gateway cannot be reached or the conids cannot be found."""
    clock = clock or SystemClock()
    async with GatewayClient(options.target) as client:
        http, base = client.http, client.base
        try:
            await _get(http, base + "/v1/api/iserver/accounts")
            conids = options.conids or await _all_conids(http, base)
            instruments = await _describe(http, base, conids)
            session = (await _post(http, base + "/v1/api/tickle"))["session"]
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientError(f"cannot reach {base}: {exc or type(exc).__name__}") from None
        header = RecordingHeader(f"record {base}", clock.now_ns(), tuple(instruments))
        recorder = Recorder(
            options.out,
            clock=clock,
            header=lambda now: RecordingHeader(header.source, now, header.instruments),
            rotate_bytes=options.rotate_bytes,
            rotate_hourly=options.rotate_hourly,
        )
        flusher = asyncio.create_task(run_flusher(recorder))
        try:
            await _stream(http, base, session, options, instruments, recorder, stop)
        finally:
            flusher.cancel()
            await asyncio.gather(flusher, return_exceptions=True)
            recorder.close()
        return recorder.stats


async def _get(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.get(url) as response:
        if response.status >= 400:
            raise ClientError(f"GET {url}: HTTP {response.status}: {(await response.text())[:200]}")
        return await response.json(content_type=None)


async def _post(http: aiohttp.ClientSession, url: str) -> Any:
    async with http.post(url) as response:
        if response.status >= 400:
            raise ClientError(
                f"POST {url}: HTTP {response.status}: {(await response.text())[:200]}"
            )
        return await response.json(content_type=None)


async def _all_conids(http: aiohttp.ClientSession, base: str) -> tuple[int, ...]:
    async with http.get(base + "/v1/api/trsrv/all-conids?exchange=NASDAQ") as response:
        if response.status == 404:
            raise ClientError(
                f"{base} has no /trsrv/all-conids: name the instruments with --conids 265598,8314"
            )
        rows = await response.json(content_type=None)
    return tuple(int(row["conid"]) for row in rows if isinstance(row, dict) and "conid" in row)


async def _describe(
    http: aiohttp.ClientSession, base: str, conids: Sequence[int]
) -> list[Instrument]:
    """Catalogue entries for `conids`; a conid the gateway cannot describe is left out."""
    ids = ",".join(map(str, conids))
    secdef = await _get(http, f"{base}/v1/api/trsrv/secdef?conids={ids}")
    snapshot_url = f"{base}/v1/api/iserver/marketdata/snapshot?conids={ids}&fields=31,84,86"
    await _get(http, snapshot_url)  # the first call per conid is a pre-flight
    prices = {int(row["conid"]): row for row in await _get(http, snapshot_url)}
    instruments = []
    for row in secdef.get("secdef", []):
        instrument = _instrument(row, prices.get(int(row["conid"]), {}))
        if instrument is not None:
            instruments.append(instrument)
    if not instruments:
        raise ClientError(f"{base} described none of the conids {ids}")
    return instruments


def _instrument(row: dict[str, Any], quote: dict[str, Any]) -> Instrument | None:
    try:
        return instrument_from_secdef(row, quote)
    except RowError as exc:
        log.warning("conid %s left out of the header: %s", row.get("conid"), exc)
        return None


async def _stream(
    http: aiohttp.ClientSession,
    base: str,
    session: str,
    options: RecordOptions,
    instruments: Sequence[Instrument],
    recorder: Recorder,
    stop: asyncio.Event,
) -> None:
    ws_base = base.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
    portal = options.dialect == "portal"
    url = ws_base + ("/v1/portal/ws" if portal else "/v1/api/ws")
    cookie = {"Cookie": "api=" + json.dumps({"session": session})}
    async with http.ws_connect(url, headers=cookie, heartbeat=30) as ws:
        conids = [instrument.conid for instrument in instruments]
        commands = list(_subscriptions(conids, options.fields, portal=portal))
        for command in commands:
            await ws.send_str(command)
        keepalive = asyncio.create_task(_keepalive(ws, commands, portal=portal))
        stopped = asyncio.create_task(stop.wait())
        try:
            decimals = {instrument.conid: instrument.price_decimals for instrument in instruments}
            await _receive(ws, recorder, stopped, decimals)
        finally:
            keepalive.cancel()
            stopped.cancel()
            await asyncio.gather(keepalive, stopped, return_exceptions=True)


def _subscriptions(conids: Iterable[int], fields: Sequence[int], *, portal: bool) -> Iterable[str]:
    for conid in conids:
        if portal:
            options = {"tempo": 0, "snapshot": True, "fields": ",".join(map(str, fields))}
            yield f"s+md+{conid}+{orjson.dumps(options).decode()}"
        else:
            yield f"smd+{conid}+{orjson.dumps({'fields': [str(f) for f in fields]}).decode()}"


async def _keepalive(
    ws: aiohttp.ClientWebSocketResponse, commands: list[str], *, portal: bool
) -> None:
    if portal:
        return
    elapsed = 0.0
    while True:
        await asyncio.sleep(TICKLE_SECONDS)
        elapsed += TICKLE_SECONDS
        await ws.send_str("tic")
        if elapsed >= RENEW_SECONDS:
            elapsed = 0.0
            for command in commands:
                await ws.send_str(command)


async def _receive(
    ws: aiohttp.ClientWebSocketResponse,
    recorder: Recorder,
    stopped: asyncio.Task[Any],
    decimals: Mapping[int, int],
) -> None:
    while not stopped.done():
        receive = asyncio.ensure_future(ws.receive())
        await asyncio.wait({receive, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not receive.done():
            receive.cancel()
            await asyncio.gather(receive, return_exceptions=True)
            return
        message = receive.result()
        if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            tick = market_tick(message.data, decimals)
            if tick is not None:
                recorder.record(tick)
        elif message.type in (
            aiohttp.WSMsgType.CLOSE,
            aiohttp.WSMsgType.CLOSED,
            aiohttp.WSMsgType.ERROR,
        ):
            log.warning("the gateway closed the socket: recording ends")
            return


def market_tick(data: str | bytes, decimals: Mapping[int, int] | None = None) -> Tick | None:
    """The tick in a market-data frame of either dialect (``smd+CONID`` or ``md+CONID``),
    or None for any other frame. Only numeric field ids are kept, as the engine's text: the
    portal dialect's price numbers are shown with the conid's `decimals` (189.5 is recorded
    as "189.50"), its sizes with thousands separators."""
    try:
        frame = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(frame, dict):
        return None
    topic = str(frame.get("topic", ""))
    prefix, _, conid = topic.partition("+")
    if prefix not in ("smd", "md") or not conid.isdigit():
        return None
    places = (decimals or {}).get(int(conid))
    values = {
        int(key): wire_text(int(key), value, places)
        for key, value in frame.items()
        if key.isdigit()
    }
    # 6119 (server id) and 6509 (availability) ride along in every frame; they are no tick.
    values.pop(F.SERVER_ID, None)
    values.pop(F.AVAILABILITY, None)
    values.pop(F.CONID, None)
    return Tick(int(conid), values, 0) if values else None


# --- replay control ----------------------------------------------------------------------


async def control(target: Target, action: str, value: str | None = None) -> dict[str, Any]:
    """Call a `/tickgate/replay/...` route and return its JSON answer.
    Raises ClientError with the gateway's own error text."""
    body: dict[str, Any] = {}
    if action == "seek":
        body = {"time": value}
    elif action == "speed":
        body = {"speed": value}
    method, path = (
        ("GET", "/tickgate/replay")
        if action == "status"
        else ("POST", f"/tickgate/replay/{action}")
    )
    async with GatewayClient(target) as client:
        answer = await client.call(method, path, body or None)
    if not isinstance(answer, dict):
        raise ClientError(f"{method} {path}: not a replay's answer: {answer!r}")
    return answer
