"""Recording and replay in the server: wiring, the `/tickgate/replay/...` routes, end notices.

* `plan` reads what a replay must know before the gateway is built: the instruments the
  recordings name (they join the catalogue) and the time the replay clock starts at.
* `replay_source` builds the `ReplaySource` over the gateway's catalogue and sends the end
  notice (`protocol.replay_notice`) to every WebSocket when the recordings run out.
* `install_recorder` taps the bus behind the market engine (`--record`), with a flusher task.
* Routes: ``GET /tickgate/replay`` (status), ``POST /tickgate/replay/pause``, ``/resume``,
  ``/seek`` (``{"time": ...}``), ``/speed`` (``{"speed": 2}`` or ``"max"``); ``GET
  /tickgate/recording`` (recorder counters). Without a replay source the replay routes answer
  409.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp import web

from tickgate.clock import NS_PER_MS
from tickgate.config import Config
from tickgate.errors import ConfigError, RequestError
from tickgate.model.instruments import Instrument
from tickgate.protocol import replay_notice
from tickgate.server.gateway import Gateway, gateway_of
from tickgate.server.http import HttpError, json_body, json_response
from tickgate.sources.recorder import Recorder, run_flusher
from tickgate.sources.recording import RecordingError, RecordingHeader
from tickgate.sources.replay.clock import ReplayClock
from tickgate.sources.replay.inputs import (
    SymbolMap,
    first_time,
    load_symbol_mapping,
    open_inputs,
    recorded_instruments,
)
from tickgate.sources.replay.source import ReplaySource, ReplayStatus
from tickgate.sources.replay.times import (
    POSITION_FORMS,
    format_timestamp,
    parse_position,
    parse_speed,
)

log = logging.getLogger("tickgate.replay")

REPLAY = web.AppKey("replay", ReplaySource)
RECORDER = web.AppKey("recorder", Recorder)
_SYMBOLS = web.AppKey("replay_symbols", SymbolMap)
_BYTES_PER_MB = 1_000_000
T = TypeVar("T")


@dataclass(frozen=True)
class ReplayPlan:
    """What the gateway is built with when the source is a replay: the clock (at the first
    recorded time, or `--from`), the recordings' instruments, and the parsed settings."""

    clock: ReplayClock
    instruments: list[Instrument]
    speed: float | None
    start_ns: int | None
    end_ns: int | None


def plan(config: Config) -> ReplayPlan:
    """Read the recordings' headers, the first time of every file and the replay settings.
    Raises ConfigError naming the file or setting and the problem."""
    try:
        instruments = recorded_instruments(config.replay)
        firsts = [t for t in (first_time(path) for path in config.replay) if t is not None]
    except RecordingError as exc:
        raise ConfigError(str(exc)) from None
    if not firsts:
        raise ConfigError("the replay files hold no ticks")
    first = min(firsts)
    try:
        speed = parse_speed(config.replay_speed)
        start = parse_position(config.replay_from, start_ns=first) if config.replay_from else None
        end = parse_position(config.replay_to, start_ns=first) if config.replay_to else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _check_window(first, start, end)
    clock = ReplayClock(start if start is not None else first)
    return ReplayPlan(clock, instruments, speed, start, end)


def _check_window(first: int, start: int | None, end: int | None) -> None:
    """Raises ConfigError for a `--from`/`--to` window that plays nothing or starts the clock
    before the recordings (whether `--from` lies past the last tick is `replay_source`'s)."""
    begins = format_timestamp(first)
    if start is not None and start < first:
        raise ConfigError(f"--from {format_timestamp(start)} is before the first tick ({begins})")
    if end is not None and end < first:
        raise ConfigError(f"--to {format_timestamp(end)} is before the first tick ({begins})")
    if start is not None and end is not None and start > end:
        raise ConfigError(
            f"--from {format_timestamp(start)} is after --to {format_timestamp(end)}: "
            "nothing would play"
        )


def replay_source(app: web.Application, gateway: Gateway, replay_plan: ReplayPlan) -> ReplaySource:
    """The replay over `gateway`'s catalogue, registered for the control routes. Raises
    ConfigError for files that cannot be used."""
    config = gateway.config
    try:
        mapping = load_symbol_mapping(config.replay_symbols) if config.replay_symbols else None
        symbols = SymbolMap(gateway.catalogue, mapping=mapping)
        inputs = open_inputs(config.replay, symbols)
        source = ReplaySource(
            inputs,
            replay_plan.clock,
            speed=replay_plan.speed,
            loop=config.replay_loop,
            start_ns=replay_plan.start_ns,
            end_ns=replay_plan.end_ns,
            on_end=lambda status: announce_end(gateway, status),
        )
        start = replay_plan.start_ns
        if start is not None and not source.reaches(start):
            raise ConfigError(
                f"--from {format_timestamp(start)} is after the last tick "
                f"({format_timestamp(source.last_tick_ns())})"
            )
    except RecordingError as exc:  # found while looking for the first tick
        raise ConfigError(str(exc)) from None
    app[REPLAY] = source
    app[_SYMBOLS] = symbols
    return source


def announce_end(gateway: Gateway, status: ReplayStatus) -> None:
    """Tell every WebSocket client, in its dialect, that the replay reached its end."""
    message = replay_notice.end_message(format_timestamp(status.replay_time_ns), status.ticks)
    api = replay_notice.encode_end_api(message)
    portal = replay_notice.encode_end_portal(
        message, time_ms=status.replay_time_ns // NS_PER_MS, ticks=status.ticks
    )
    for connection in list(gateway.connections):
        path = connection.path
        connection.send(portal if path.startswith("/v1/portal") else api)


def install_recorder(app: web.Application, gateway: Gateway, *, source_name: str) -> Recorder:
    """Record every tick the market engine accepts into `--record`, flushing in the
    background; the recorder is closed (last frame written) when the app stops.
    Raises ConfigError when the file cannot be created."""
    config = gateway.config
    assert config.record is not None
    instruments = tuple(gateway.catalogue)

    def header(now_ns: int) -> RecordingHeader:
        return RecordingHeader(source_name, now_ns, instruments)

    recorder = Recorder(
        config.record,
        clock=gateway.clock,
        header=header,
        rotate_bytes=int(config.record_rotate_mb * _BYTES_PER_MB),
        rotate_hourly=config.record_rotate_hourly,
    )
    # Subscribed after the market engine: a tick the engine refuses is not recorded.
    gateway.bus.subscribe(recorder.record)
    app[RECORDER] = recorder

    @contextlib.asynccontextmanager
    async def flusher(_app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(run_flusher(recorder))
        try:
            yield
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            recorder.close()

    app.cleanup_ctx.append(flusher)
    return recorder


# --- routes ------------------------------------------------------------------------------


def _replay(request: web.Request) -> ReplaySource:
    source = request.app.get(REPLAY)
    if source is None:
        raise HttpError("the market source is not a replay: nothing to control", status=409)
    return source


def _status(request: web.Request, status: ReplayStatus) -> web.Response:
    symbols = request.app.get(_SYMBOLS)
    payload: dict[str, Any] = {
        "state": status.state,
        "speed": "max" if status.speed is None else status.speed,
        "loop": status.loop,
        "position": None if status.position_ns is None else format_timestamp(status.position_ns),
        "positionNs": status.position_ns,
        "replayTime": format_timestamp(status.replay_time_ns),
        "replayTimeNs": status.replay_time_ns,
        "offsetNs": status.offset_ns,
        "ticks": status.ticks,
        "loops": status.loops,
        "files": [str(path) for path in gateway_of(request).config.replay],
        "unmapped": [] if symbols is None else list(symbols.unmapped),
    }
    return json_response(payload)


async def status(request: web.Request) -> web.Response:
    return _status(request, _replay(request).status())


async def pause(request: web.Request) -> web.Response:
    return _status(request, _replay(request).pause())


async def resume(request: web.Request) -> web.Response:
    return _status(request, _replay(request).resume())


async def _argument(request: web.Request, name: str, parse: Callable[[str], T], usage: str) -> T:
    """The parsed `name` of the JSON body (or query). Raises RequestError(400) saying `usage`
    when it is missing, or the parser's reason when it is bad."""
    raw = (await json_body(request)).get(name, request.query.get(name))
    if raw is None:
        raise RequestError(usage)
    try:
        return parse(str(raw))
    except ValueError as exc:
        raise RequestError(str(exc)) from None


async def seek(request: web.Request) -> web.Response:
    source = _replay(request)
    target = await _argument(
        request,
        "time",
        lambda text: parse_position(text, start_ns=source.start_ns),
        f'seek needs a time: {{"time": "2026-01-02T14:30:00Z"}} ({POSITION_FORMS})',
    )
    try:
        moved = source.seek(target)
    except ValueError as exc:  # outside the recordings: replay time stays where it is
        raise RequestError(f"cannot seek there: {exc}") from None
    log.info("replay seek to %s", format_timestamp(target))
    return _status(request, moved)


async def speed(request: web.Request) -> web.Response:
    source = _replay(request)
    value = await _argument(
        request, "speed", parse_speed, 'speed needs a value: {"speed": 2} or {"speed": "max"}'
    )
    return _status(request, source.set_speed(value))


async def recording(request: web.Request) -> web.Response:
    recorder = request.app.get(RECORDER)
    if recorder is None:
        raise HttpError("this gateway is not recording (start it with --record)", status=409)
    stats = recorder.stats
    return json_response(
        {
            "file": str(recorder.current_file),
            "files": [str(path) for path in recorder.files],
            "ticks": stats.ticks,
            "frames": stats.frames,
            "bytesWritten": stats.bytes_written,
            "failure": recorder.failure,
        }
    )


def add_routes(app: web.Application) -> None:
    """Register the replay and recording routes under `/tickgate/`."""
    routes: list[tuple[str, str, Callable[[web.Request], Any]]] = [
        ("GET", "/tickgate/replay", status),
        ("POST", "/tickgate/replay/pause", pause),
        ("POST", "/tickgate/replay/resume", resume),
        ("POST", "/tickgate/replay/seek", seek),
        ("POST", "/tickgate/replay/speed", speed),
        ("GET", "/tickgate/recording", recording),
    ]
    for method, path, handler in routes:
        app.router.add_route(method, path, handler)
