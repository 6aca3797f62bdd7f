"""The NATS adapter beyond the shared suite: credentials, TLS, bad traffic, overload."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import nats
import pytest
from tests.bus.conftest import StartNats
from tests.bus.ticks import Collector, numbered_ticks

from tickgate.bus.base import BusError, TickEncodingError
from tickgate.bus.codec import encode_tick
from tickgate.bus.nats import NatsBus, NatsOptions
from tickgate.bus.nats_server import NatsServerProcess, ServerAuth, ServerTls
from tickgate.model.ticks import Tick
from tickgate.server.tls import ensure_certificate


async def round_trip(bus: NatsBus) -> None:
    """A tick published on `bus` reaches another member connected with the same options."""
    other = await NatsBus.connect(bus.options, prefix=bus.prefix)
    got = Collector()
    other.subscribe(got)
    tick = Tick(8314, {31: "135.10"}, 1)
    try:
        bus.publish(tick)
        await got.wait_count(1)
    finally:
        await other.close()
    assert got.ticks == [tick]


async def test_user_and_password_from_options_or_url(start_nats: StartNats) -> None:
    server = await start_nats(auth=ServerAuth(user="bot", password="s3cret"))
    by_options = await NatsBus.connect(NatsOptions(server.url, user="bot", password="s3cret"))
    by_url = await NatsBus.connect(NatsOptions(f"nats://bot:s3cret@127.0.0.1:{server.port}"))
    try:
        await round_trip(by_options)
        await round_trip(by_url)
    finally:
        await by_options.close()
        await by_url.close()


async def test_a_wrong_password_is_a_clear_error_not_a_hang(start_nats: StartNats) -> None:
    server = await start_nats(auth=ServerAuth(user="bot", password="s3cret"))
    # A refusal ends the attempt at once: the generous timeout is not waited out.
    options = NatsOptions(server.url, user="bot", password="wrong", connect_timeout_s=30.0)
    started = asyncio.get_running_loop().time()
    with pytest.raises(BusError, match=r"cannot connect to NATS at .*[Aa]uthorization"):
        await NatsBus.connect(options)
    assert asyncio.get_running_loop().time() - started < 30.0


async def test_credentials_in_the_url_never_show_in_errors(start_nats: StartNats) -> None:
    server = await start_nats(auth=ServerAuth(user="bot", password="s3cret"))
    options = NatsOptions(f"nats://bot:hunter2@127.0.0.1:{server.port}", connect_timeout_s=30.0)
    with pytest.raises(BusError) as refused:
        await NatsBus.connect(options)
    assert f"nats://127.0.0.1:{server.port}" in str(refused.value)
    assert "hunter2" not in str(refused.value) and "bot" not in str(refused.value)


async def test_token_auth(start_nats: StartNats) -> None:
    server = await start_nats(auth=ServerAuth(token="t0ken"))
    bus = await NatsBus.connect(NatsOptions(server.url, token="t0ken"))
    try:
        await round_trip(bus)
    finally:
        await bus.close()


async def test_tls_with_the_servers_ca(start_nats: StartNats, tmp_path: Path) -> None:
    cert, key = ensure_certificate(tmp_path)
    server = await start_nats(tls=ServerTls(cert, key))
    assert server.url.startswith("tls://")
    bus = await NatsBus.connect(NatsOptions(server.url, tls_ca=cert))
    try:
        await round_trip(bus)
    finally:
        await bus.close()
    untrusting = NatsOptions(server.url, connect_timeout_s=1.0)
    with pytest.raises(BusError, match="CERTIFICATE_VERIFY_FAILED"):
        await NatsBus.connect(untrusting)


@pytest.mark.parametrize(
    ("options", "reason"),
    [
        (NatsOptions(user="bot"), "user and password go together"),
        (NatsOptions(tls_cert=Path("c.pem")), "certificate and key go together"),
        (NatsOptions(creds_file=Path("/nonexistent/u.creds")), "file not found"),
        (NatsOptions(url=" , "), "no NATS server URL"),
    ],
)
async def test_incomplete_options_are_refused_before_connecting(
    options: NatsOptions, reason: str
) -> None:
    with pytest.raises(BusError, match=reason) as refused:
        await NatsBus.connect(options)
    assert "cannot connect" not in str(refused.value)  # refused before trying


async def test_nobody_listening_is_a_clear_error(nats_server: NatsServerProcess) -> None:
    url = nats_server.url
    await nats_server.stop()
    with pytest.raises(BusError, match=f"cannot connect to NATS at {url}"):
        await NatsBus.connect(NatsOptions(url, connect_timeout_s=0.5))


async def test_bad_prefix_is_refused(nats_server: NatsServerProcess) -> None:
    with pytest.raises(BusError, match="bad NATS subject prefix"):
        await NatsBus.connect(NatsOptions(nats_server.url), prefix="a.*")


async def test_foreign_messages_on_tick_subjects_are_counted_and_skipped(
    nats_server: NatsServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await NatsBus.connect(NatsOptions(nats_server.url))
    raw = await nats.connect(nats_server.url)
    got = Collector()
    bus.subscribe(got)
    good = Tick(8314, {31: "1.00"}, 5)
    try:
        with caplog.at_level(logging.WARNING, logger="tickgate.bus.nats"):
            await raw.publish("tickgate.tick.8314", b"junk")
            await raw.publish("tickgate.tick.IBM", encode_tick(good))
            await raw.publish("tickgate.tick.8314", encode_tick(good))
            await got.wait_count(1)
    finally:
        await raw.close()
        await bus.close()
    assert got.ticks == [good]
    assert bus.stats.bad_messages == 2
    assert len([r for r in caplog.records if "ignoring a message" in r.message]) == 1


async def test_a_failing_handler_is_logged_once_and_others_still_get_ticks(
    nats_server: NatsServerProcess, caplog: pytest.LogCaptureFixture
) -> None:
    bus = await NatsBus.connect(NatsOptions(nats_server.url))
    got = Collector()

    def broken(_tick: Tick) -> None:
        raise RuntimeError("handler bug")

    bus.subscribe(broken)
    bus.subscribe(got)
    try:
        with caplog.at_level(logging.ERROR, logger="tickgate.bus.nats"):
            for tick in numbered_ticks([8314], 3):
                bus.publish(tick)
            await got.wait_count(3)
    finally:
        await bus.close()
    assert bus.stats.handler_errors == 3
    assert len([r for r in caplog.records if "handler failed" in r.message]) == 1


async def test_a_full_outgoing_queue_drops_and_counts_instead_of_blocking(
    nats_server: NatsServerProcess,
) -> None:
    bus = await NatsBus.connect(NatsOptions(nats_server.url), outgoing_limit=10)
    other = await NatsBus.connect(NatsOptions(nats_server.url))
    local, remote = Collector(), Collector()
    bus.subscribe(local)
    other.subscribe(remote)
    try:
        # publish() is synchronous: the writer task cannot run until this loop yields.
        for tick in numbered_ticks([8314], 25):
            bus.publish(tick)
        await bus.flush()
        await remote.wait_count(10)
    finally:
        await bus.close()
        await other.close()
    assert (bus.stats.published, bus.stats.dropped) == (10, 15)
    assert remote.seqs[8314] == list(range(1, 11))
    assert local.seqs[8314] == list(range(1, 26))  # the member's own handlers lose nothing


async def test_an_unencodable_tick_raises_at_publish_and_the_bus_carries_on(
    nats_server: NatsServerProcess,
) -> None:
    bus = await NatsBus.connect(NatsOptions(nats_server.url))
    try:
        with pytest.raises(TickEncodingError):
            bus.publish(Tick(8314, {31: "\x1f"}, 0))
        await round_trip(bus)
    finally:
        await bus.close()


async def test_prefixes_keep_buses_apart(nats_server: NatsServerProcess) -> None:
    blue = await NatsBus.connect(NatsOptions(nats_server.url), prefix="blue")
    green = await NatsBus.connect(NatsOptions(nats_server.url), prefix="green")
    blue_got, green_got = Collector(), Collector()
    blue.subscribe(blue_got)
    green.subscribe(green_got)
    try:
        blue.publish(Tick(8314, {31: "1"}, 1))
        green.publish(Tick(8314, {31: "2"}, 2))
        await blue_got.wait_count(1)
        await green_got.wait_count(1)
        await blue.flush()
        await green.flush()
    finally:
        await blue.close()
        await green.close()
    assert [t.fields for t in blue_got.ticks] == [{31: "1"}]
    assert [t.fields for t in green_got.ticks] == [{31: "2"}]


async def test_publishing_after_close_is_an_error(nats_server: NatsServerProcess) -> None:
    bus = await NatsBus.connect(NatsOptions(nats_server.url))
    await bus.close()
    await bus.close()  # idempotent
    with pytest.raises(BusError, match="closed"):
        bus.publish(Tick(8314, {31: "1"}, 1))
