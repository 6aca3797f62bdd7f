"""The seed's dialect on `/v1/portal/ws`: `s+md+CONID+{...}`, `u+md+CONID`, account data."""

from __future__ import annotations

import logging

from aiohttp import web

from tickgate.errors import ProtocolError
from tickgate.protocol import fields as F
from tickgate.protocol import legacy
from tickgate.server.gateway import gateway_of
from tickgate.server.ws import Connection, serve_websocket

log = logging.getLogger("tickgate.ws.legacy")

DIALECT = "legacy"
#: Without `fields`, a subscription streams every field the market knows for the conid.
ALL_FIELDS: tuple[int, ...] = tuple(sorted(F.KNOWN_FIELDS))


class LegacyDialect:
    """Handles one connection's commands in the seed's grammar."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.gateway = connection.gateway
        self.md_conids: set[int] = set()

    def opened(self) -> None:
        """The seed's dialect sends nothing until asked."""

    def error(self, message: str, topic: str | None) -> None:
        self.connection.send(legacy.encode_error(message, topic))

    def handle(self, text: str) -> None:
        try:
            command = legacy.parse(text)
        except ProtocolError as exc:
            log.info("bad command %r: %s", text[:200], exc.message)
            self.error(exc.message, exc.topic)
            return
        if isinstance(command, legacy.SubscribeMarketData):
            self._subscribe(command)
        elif isinstance(command, legacy.UnsubscribeMarketData):
            self._unsubscribe(command.conid)
        elif isinstance(command, legacy.SubscribeAccount | legacy.UnsubscribeAccount):
            self._account(command)

    def _subscribe(self, command: legacy.SubscribeMarketData) -> None:
        topic = f"md+{command.conid}"
        refusal = self._refusal(command.conid)
        if refusal is not None:
            log.info("refused %s: %s", topic, refusal)
            self.error(refusal, topic)
            return
        self.md_conids.add(command.conid)
        self.gateway.hub.subscribe_market(
            self.connection.outbox,
            command.conid,
            command.fields or ALL_FIELDS,
            tempo_ms=command.tempo_ms,
            snapshot=command.snapshot,
            dialect=DIALECT,
            encoder=legacy.encode_market,
        )

    def _refusal(self, conid: int) -> str | None:
        gateway = self.gateway
        if gateway.config.require_priming and not gateway.session.primed:
            return "streaming needs a primed session: call GET /iserver/accounts first"
        if gateway.catalogue.find(conid) is None:
            return f"unknown conid {conid}"
        if conid not in self.md_conids and not gateway.session.acquire_line(self, conid):
            return (
                f"market data lines limit reached: at most {gateway.session.md_lines} "
                "concurrent md subscriptions; unsubscribe one first"
            )
        return None

    def _unsubscribe(self, conid: int) -> None:
        if conid not in self.md_conids:
            self.error(f"not subscribed to md+{conid}", f"md+{conid}")
            return
        self.md_conids.discard(conid)
        self.gateway.hub.unsubscribe_market(self.connection.outbox, conid, DIALECT)
        self.gateway.session.release_line(self, conid)

    def _account(self, command: legacy.SubscribeAccount | legacy.UnsubscribeAccount) -> None:
        topic = f"realtime-account-data+{command.account}"
        self.error(f"topic {topic} is not available yet: account streaming is not enabled", topic)

    def closed(self) -> None:
        self.gateway.hub.drop(self.connection.outbox)
        for conid in self.md_conids:
            self.gateway.session.release_line(self, conid)
        self.md_conids.clear()


async def handler(request: web.Request) -> web.WebSocketResponse:
    """`GET /v1/portal/ws`."""
    return await serve_websocket(request, gateway_of(request), LegacyDialect)
