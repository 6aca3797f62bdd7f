"""The relay source in the composition root: its config, its wiring to the hub, its status."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable

from aiohttp import web

from tickgate.clock import NS_PER_S
from tickgate.config import Config
from tickgate.dialects.brokerage import SessionStatus
from tickgate.log_format import add_secrets
from tickgate.server.api_client import Target
from tickgate.server.gateway import Gateway
from tickgate.server.relay_link import RelaySource
from tickgate.sources.relay.address import UpstreamAddress
from tickgate.sources.relay.lines import DEFAULT_RENEW_SECONDS, UpstreamLines
from tickgate.sources.relay.status import RelayStatus
from tickgate.streaming.hub import InterestListener

RELAY = web.AppKey("relay", RelayStatus)
RELAY_SOURCE = web.AppKey("relay_source", RelaySource)

#: Printed at start and in README: a relay never trades upstream.
PAPER_NOTICE = "orders stay paper: they fill against the relayed quotes and never reach upstream"


def relay_config(config: Config) -> Config:
    """`config` with the session's market-data lines capped at the upstream's budget: every
    conid streamed downstream costs exactly one upstream line, so the hub's own line check
    (and its "Max number of market data lines" refusal) keeps the relay within it."""
    return dataclasses.replace(config, md_lines=min(config.md_lines, config.upstream_md_lines))


def upstream_target(config: Config) -> Target:
    """Where a relay's upstream is and how to trust it."""
    assert config.upstream is not None  # validated: source 'relay' needs one
    return Target(url=config.upstream, data_dir=config.data_dir, insecure=config.upstream_insecure)


def upstream_refusal(message: str) -> str:
    """What a downstream client is told when the upstream refused the line of a conid it
    streams: the upstream's words first (clients match "Max number of market data lines
    reached"), then whose they are."""
    return f"{message} (refused by the relay's upstream)"


def refuse_downstream(gateway: Gateway, conid: int, message: str) -> None:
    """The upstream refused the line of `conid` (its own limit may be lower than
    `--upstream-md-lines`): every downstream stream of it ends, each client told in its
    dialect's words; the line is then released upstream as for any stream nobody wants."""
    text = upstream_refusal(message)
    for connection in list(gateway.connections):
        if connection.session is not None:
            connection.session.stream_refused(conid, text)


def relay_source(
    app: web.Application,
    gateway: Gateway,
    add_interest_listener: Callable[[InterestListener], None],
    *,
    renew_seconds: float = DEFAULT_RENEW_SECONDS,
    rng: random.Random | None = None,
) -> RelaySource:
    """The relay source of `gateway`, told of downstream interest through
    `add_interest_listener` (the hub's, or on a cluster's core the whole cluster's)."""
    config = gateway.config
    target = upstream_target(config)
    lines = UpstreamLines(renew_ns=int(renew_seconds * NS_PER_S))
    address = UpstreamAddress.parse(target.url)
    status = RelayStatus(address.shown)
    # A safety net under `shown` and `scrub`: the password never reaches a log line.
    forget = add_secrets(lambda: address.secrets)

    async def forget_on_cleanup(_app: web.Application) -> None:
        forget()

    app.on_cleanup.append(forget_on_cleanup)
    # Until the upstream says its session is authenticated, no client may be told it is.
    gateway.session.set_upstream(SessionStatus(authenticated=False))
    source = RelaySource(
        target,
        lines,
        status,
        gateway.clock,
        random=(rng or random.Random(config.seed)).random,
        on_status=gateway.session.set_upstream,
        on_refused=lambda conid, message: refuse_downstream(gateway, conid, message),
    )

    def interest(conid: int, fields: tuple[int, ...]) -> None:
        lines.want(conid, fields)
        if lines.has_work():
            source.wake()

    add_interest_listener(interest)
    app[RELAY] = status
    app[RELAY_SOURCE] = source
    return source
