"""A client of a running gateway's public API, for the `tickgate tail/order/positions/...`
commands: REST calls, symbol look-up, the order question flow and `/v1/api/ws` streams.

It talks to tickgate or to IBKR's own gateway alike (only the `/tickgate/` control routes are
tickgate's). Errors of every kind come out as `ClientError` with the gateway's own message.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import aiohttp
import orjson

# Kept light: `tickgate status` and the other client commands import this module, and neither
# the gateway's catalogue nor cryptography (TLS certificates) is needed to call a gateway.
from tickgate.datadir import CERT_NAME
from tickgate.errors import TickgateError

#: Longest a REST call may take before the command gives up.
REQUEST_TIMEOUT = 30.0
#: Question rounds after which an order that keeps asking is given up (the flow is finite).
MAX_QUESTIONS = 10

#: Answers a confirmation prompt: gets the questions' text, returns whether to go on.
Confirm = Callable[[list[str]], Awaitable[bool]]


class ClientError(TickgateError):
    """The gateway could not be used as asked; the message says what to do."""


@dataclass(frozen=True)
class Target:
    """Where the gateway is and how to trust it."""

    url: str = "https://127.0.0.1:5000"
    data_dir: Path = Path("./tickgate-data")
    insecure: bool = False
    token: str | None = None

    def ssl(self) -> ssl.SSLContext | bool:
        """False for plain HTTP or `insecure`; else a context trusting only the data
        directory's certificate. Raises ClientError when that certificate is missing."""
        if self.insecure or not self.url.startswith("https://"):
            return False
        certificate = self.data_dir / CERT_NAME
        if not certificate.is_file():
            raise ClientError(
                f"no certificate at {certificate}: name the gateway's data directory with "
                "--data-dir, or pass --insecure to skip verification"
            )
        return ssl.create_default_context(cafile=str(certificate))


@dataclass(frozen=True, slots=True)
class Answer:
    """A gateway's answer to one call: its status, JSON body (or text) and `Retry-After`."""

    status: int
    body: Any
    retry_after: str | None = None

    @property
    def error(self) -> Any:
        """The gateway's message: the body's `error`, else the whole body."""
        return self.body.get("error", self.body) if isinstance(self.body, dict) else self.body


class GatewayClient:
    """One HTTP session with a gateway (`async with GatewayClient(target) as client`)."""

    def __init__(self, target: Target) -> None:
        self.base = target.url.rstrip("/")
        self._target = target
        self._headers = {"Authorization": f"Bearer {target.token}"} if target.token else {}
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> GatewayClient:
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=self._target.ssl()),
            headers=self._headers,
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
        )
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._http is not None:
            await self._http.close()

    @property
    def http(self) -> aiohttp.ClientSession:
        if self._http is None:
            raise RuntimeError("GatewayClient used outside `async with`")
        return self._http

    async def call(self, method: str, path: str, body: Any = None) -> Any:
        """One JSON call (`path` from the root, e.g. `/v1/api/tickle`). Raises ClientError
        for an unreachable gateway or an error status, with the gateway's message."""
        answer = await self.answer(method, path, body)
        if answer.status >= 400:
            raise ClientError(f"{method} {path}: HTTP {answer.status}: {answer.error}")
        return answer.body

    async def answer(self, method: str, path: str, body: Any = None) -> Answer:
        """One JSON call and the gateway's answer whatever its status. Raises ClientError
        only when the gateway cannot be reached."""
        url = self.base + path
        try:
            async with self.http.request(method, url, json=body) as response:
                text = await response.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ClientError(f"cannot reach {self.base}: {exc or type(exc).__name__}") from None
        try:
            payload = orjson.loads(text) if text else None
        except orjson.JSONDecodeError:
            payload = text
        return Answer(response.status, payload, response.headers.get("Retry-After"))

    async def account(self) -> str:
        """The selected account (priming the session as IBKR clients do first)."""
        answer = await self.call("GET", "/v1/api/iserver/accounts")
        selected = answer.get("selectedAccount") if isinstance(answer, dict) else None
        if not selected:
            raise ClientError(f"{self.base} names no account: {answer}")
        return str(selected)

    async def conids(self, symbols: Sequence[str]) -> dict[str, int]:
        """The conid of each symbol (a number stands for itself): the stock of that symbol
        from `/trsrv/stocks`, else the first `/iserver/secdef/search` match. Raises
        ClientError naming a symbol nothing matches."""
        names = [s.upper() for s in symbols if not s.isdigit()]
        stocks = (
            await self.call("GET", "/v1/api/trsrv/stocks?symbols=" + ",".join(names))
            if names
            else {}
        )
        found: dict[str, int] = {}
        for symbol in symbols:
            key = symbol.upper()
            if symbol.isdigit():
                found[key] = int(symbol)
                continue
            conid = _stock_conid(stocks.get(key) if isinstance(stocks, dict) else None)
            found[key] = conid if conid is not None else await self._search(key)
        return found

    async def _search(self, symbol: str) -> int:
        rows = await self.call("GET", f"/v1/api/iserver/secdef/search?symbol={symbol}")
        for row in rows if isinstance(rows, list) else []:
            if isinstance(row, dict) and str(row.get("conid", "")).isdigit():
                return int(row["conid"])
        raise ClientError(f"no instrument named {symbol!r} on {self.base}")

    async def place(self, account: str, order: dict[str, Any], confirm: Confirm) -> Any:
        """Place `order`, answering each question with `confirm`. Returns the gateway's final
        answer (the placed order). Raises ClientError when a question is declined, or with the
        gateway's reason when it refuses the order (IBKR refuses with HTTP 200 and
        `{"error": reason}`, to the placement or to a reply)."""
        path = f"/v1/api/iserver/account/{account}/orders"
        answer = await self.call("POST", path, {"orders": [order]})
        for _ in range(MAX_QUESTIONS):
            if isinstance(answer, dict) and answer.get("error"):
                raise ClientError(f"order refused: {answer['error']}")
            question = _question(answer)
            if question is None:
                return answer
            reply_id, messages = question
            if not await confirm(messages):
                raise ClientError("order not placed: the question was declined")
            answer = await self.call(
                "POST", f"/v1/api/iserver/reply/{reply_id}", {"confirmed": True}
            )
        raise ClientError(f"the gateway kept asking after {MAX_QUESTIONS} answers: {answer}")

    async def stream(
        self, commands: Sequence[str], *, portal: bool = False
    ) -> AsyncIterator[dict[str, Any]]:
        """Every JSON object frame of a WebSocket session that sent `commands` (on
        `/v1/portal/ws` with `portal`, else `/v1/api/ws`), until the gateway closes it.
        Raises ClientError when it cannot connect."""
        await self.account()  # priming: the portal dialect streams only for a primed session
        tickle = await self.call("POST", "/v1/api/tickle")
        session = tickle.get("session", "") if isinstance(tickle, dict) else ""
        ws_url = self.base.replace("http", "ws", 1) + ("/v1/portal/ws" if portal else "/v1/api/ws")
        cookie = {"Cookie": "api=" + json.dumps({"session": session})}
        try:
            async with self.http.ws_connect(ws_url, headers=cookie, heartbeat=30) as ws:
                for command in commands:
                    await ws.send_str(command)
                async for message in ws:
                    if message.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                        break
                    try:
                        frame = orjson.loads(message.data)
                    except orjson.JSONDecodeError:
                        continue  # not every frame of the portal dialect is JSON
                    if isinstance(frame, dict):
                        yield frame
        except aiohttp.ClientError as exc:
            raise ClientError(f"cannot stream from {ws_url}: {exc}") from None


def _stock_conid(entries: Any) -> int | None:
    """The first conid of a `/trsrv/stocks` symbol entry (its US listing comes first)."""
    for entry in entries if isinstance(entries, list) else []:
        for contract in entry.get("contracts", []) if isinstance(entry, dict) else []:
            if isinstance(contract, dict) and "conid" in contract:
                return int(contract["conid"])
    return None


def _question(answer: Any) -> tuple[str, list[str]] | None:
    """(reply id, messages) when `answer` is a question, else None."""
    first = answer[0] if isinstance(answer, list) and answer else None
    if isinstance(first, dict) and "id" in first and "message" in first:
        messages = first["message"]
        return str(first["id"]), [str(m) for m in messages] if isinstance(messages, list) else [
            str(messages)
        ]
    return None
