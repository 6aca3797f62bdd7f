"""Server frames of the api dialect on `/v1/api/ws`: typed values in, JSON bytes out.

Every frame is one JSON object (protocol reference §1 rule 7). Shapes follow §3.4 and §5; the
points ibind depends on are kept exactly: `conid` and `_updated` are JSON integers in every
market-data frame, `ntf` carries a list, `ssd` entries always have `key` and `timestamp`, and an
`error` key appears only in error frames (rule 19), whose topic is `error` (§10.3).

Numbers of the account topics are IBKR's JSON numbers: `Decimal`s from the ledger are written
as JSON numbers here, at the edge, by the one rule of `protocol.decimals`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from tickgate.protocol import fields as F
from tickgate.protocol.decimals import number_json

DEFAULT_SERVER_ID = "q0"
DEFAULT_AVAILABILITY = "RpB"
WAITING_FOR_SESSION = b'{"message":"waiting for session"}'
UNSUBSCRIBED_SUMMARY = b'{"result":"unsubscribed from summary"}'
UNSUBSCRIBED_LEDGER = b'{"result":"unsubscribed from ledger"}'


def _dumps(frame: Mapping[str, Any]) -> bytes:
    return orjson.dumps(frame, default=number_json, option=orjson.OPT_NON_STR_KEYS)


def encode_system_success(username: str, *, paper: bool = True) -> bytes:
    """First frame of the connect burst: `{"topic":"system","success":USER,...}`."""
    return _dumps({"topic": "system", "success": username, "isFT": False, "isPaper": paper})


def encode_account(args: Mapping[str, Any]) -> bytes:
    """`{"topic":"act","args":{...}}`, `args` as `/iserver/accounts` returns it."""
    return _dumps({"topic": "act", "args": args})


def encode_status(
    *, authenticated: bool, competing: bool = False, server_name: str = "", username: str = ""
) -> bytes:
    """`{"topic":"sts","args":{"authenticated":...,"competing":...,...}}`."""
    args = {
        "authenticated": authenticated,
        "competing": competing,
        "connected": authenticated,
        "established": authenticated,
        "message": "",
        "fail": "",
        "serverName": server_name,
        "username": username,
    }
    return _dumps({"topic": "sts", "args": args})


def encode_heartbeat(epoch_ms: int) -> bytes:
    """`{"topic":"system","hb":EPOCH_MS}`: wall-clock milliseconds, a JSON integer."""
    return b'{"topic":"system","hb":%d}' % epoch_ms


def encode_tic(session_id: str, last_accessed_ms: int) -> bytes:
    """`{"topic":"tic","alive":true,"id":SESSION,"lastAccessed":MS}`."""
    return _dumps(
        {"topic": "tic", "alive": True, "id": session_id, "lastAccessed": last_accessed_ms}
    )


def encode_market(
    conid: int,
    values: Mapping[int, str],
    ts_ns: int,
    *,
    server_id: str = DEFAULT_SERVER_ID,
) -> bytes:
    """One `smd+CONID` frame: the envelope IBKR always sends, then `values`.

    The envelope is `topic`, `conid` (int), `conidEx`, `_updated` (int epoch ms from `ts_ns`),
    `server_id`, `6119` and `6509`; `values` (field id -> wire string) follow and win over the
    envelope's `6119`/`6509` defaults. Guarantees: never an `error` key.
    """
    frame: dict[int | str, object] = {
        "topic": f"smd+{conid}",
        "conid": conid,
        "conidEx": str(conid),
        "_updated": ts_ns // 1_000_000,
        "server_id": server_id,
        F.SERVER_ID: server_id,
        F.AVAILABILITY: DEFAULT_AVAILABILITY,
    }
    for fid, value in F.wire_values(values).items():
        frame[fid] = value
    return orjson.dumps(frame, option=orjson.OPT_NON_STR_KEYS)


def encode_history(payload: Mapping[str, Any]) -> bytes:
    """The one `smh+CONID` frame: `payload` as the history service shapes it (§5.2).

    Raises ValueError unless `payload` has an `smh+...` topic and a `serverId` (ibind needs
    both), TypeError for values JSON cannot carry.
    """
    if not str(payload.get("topic", "")).startswith("smh+") or "serverId" not in payload:
        raise ValueError("an smh frame needs an smh+CONID topic and a serverId")
    return _dumps(payload)


def encode_unsubscribed_history(server_id: str) -> bytes:
    """`{"message":"Unsubscribed SERVER_ID"}`, the `umh` confirmation ibind waits for."""
    return _dumps({"message": f"Unsubscribed {server_id}"})


def encode_depth(account: str, conid: int, exchange: str | None, rows: Sequence[Any]) -> bytes:
    """`{"topic":"sbd+ACCT+CONID[+EXCH]","data":[{"row":..,"focus":..,"price":..},...]}`."""
    topic = f"sbd+{account}+{conid}" + (f"+{exchange}" if exchange else "")
    return _dumps({"topic": topic, "data": list(rows)})


def encode_orders(orders: Sequence[Mapping[str, Any]]) -> bytes:
    """`{"topic":"sor","args":[order, ...]}`."""
    return _dumps({"topic": "sor", "args": list(orders)})


def encode_trades(trades: Sequence[Mapping[str, Any]]) -> bytes:
    """`{"topic":"str","args":[execution, ...]}` (the first reply to `str` may be empty)."""
    return _dumps({"topic": "str", "args": list(trades)})


def encode_pnl(rows: Mapping[str, Mapping[str, Any]]) -> bytes:
    """`{"topic":"spl","args":{"ACCT.Core":{"rowType":1,"dpl":..,"nl":..,...}}}`."""
    return _dumps({"topic": "spl", "args": dict(rows)})


def encode_summary(account: str, entries: Sequence[Mapping[str, Any]]) -> bytes:
    """`{"topic":"ssd+ACCT","result":[{"key":..,"timestamp":..,...}, ...]}`.

    Raises ValueError when an entry lacks `key` or `timestamp` (ibind fails on such entries).
    """
    _require_keys(entries, ("key", "timestamp"))
    return _dumps({"topic": f"ssd+{account}", "result": list(entries)})


def encode_ledger(account: str, entries: Sequence[Mapping[str, Any]]) -> bytes:
    """`{"topic":"sld+ACCT","result":[{"acctCode":..,"key":"LedgerListBASE",...}, ...]}`.

    Raises ValueError when an entry lacks `key` or `timestamp`.
    """
    _require_keys(entries, ("key", "timestamp"))
    return _dumps({"topic": f"sld+{account}", "result": list(entries)})


def _require_keys(entries: Sequence[Mapping[str, Any]], keys: tuple[str, ...]) -> None:
    for entry in entries:
        missing = [key for key in keys if key not in entry]
        if missing:
            raise ValueError(f"entry {dict(entry)!r} lacks {', '.join(missing)}")


def encode_notifications(notifications: Sequence[Mapping[str, Any]]) -> bytes:
    """`{"topic":"ntf","args":[{...}, ...]}`: a list, as ibind iterates it."""
    return _dumps({"topic": "ntf", "args": list(notifications)})


def encode_bulletin(bulletin_id: str, message: str) -> bytes:
    """`{"topic":"blt","args":{"id":..,"message":..}}`."""
    return _dumps({"topic": "blt", "args": {"id": bulletin_id, "message": message}})


def encode_error(message: str, request: str | None = None) -> bytes:
    """`{"topic":"error","error":MESSAGE[,"request":TOPIC]}` (§10.3).

    `request` names the client topic the error is about (e.g. `smd+265598`), when known.
    """
    frame = {"topic": "error", "error": message}
    if request is not None:
        frame["request"] = request
    return _dumps(frame)
