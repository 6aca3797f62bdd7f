"""IBKR's wire shapes of trading alerts: the create/modify body read into an `AlertSpec`, and
the list, detail and acknowledgement answers written from `Alert`s.

Pure: text and JSON values in, model values out (and back). Whether a conid exists is the
alert book's question (`tickgate.trading.alerts`); everything a request can get wrong by its
form alone is refused here with a RequestError (400) that names the field.
"""

from __future__ import annotations

import datetime
import zoneinfo
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from tickgate.errors import RequestError
from tickgate.model.alerts import (
    Alert,
    AlertSpec,
    Condition,
    ConditionType,
    LogicBind,
    Operator,
    Tif,
    TriggerMethod,
)
from tickgate.protocol.rest_values import ascii_int, bounded_decimal, printable_text, shown

#: Conditions one alert may have (TWS shows at most a screenful).
MAX_CONDITIONS = 10
MAX_TEXT = 500
#: The condition types tickgate evaluates; the others are refused by name.
EVALUATED = (
    ConditionType.PRICE,
    ConditionType.TIME,
    ConditionType.MARGIN,
    ConditionType.TRADE,
    ConditionType.VOLUME,
)
#: A margin condition's `value`: the account's margin cushion in percent (TWS's "Cushion (%)").
MAX_CUSHION = Decimal(100)
_TYPE_NAMES = {
    ConditionType.PRICE: "price",
    ConditionType.TIME: "time",
    ConditionType.MARGIN: "margin",
    ConditionType.TRADE: "trade",
    ConditionType.VOLUME: "volume",
    ConditionType.MTA_MARKET: "MTA market",
    ConditionType.MTA_POSITION: "MTA position",
    ConditionType.MTA_DAILY_PNL: "MTA account daily P&L",
}
#: Trigger methods by the names some clients send instead of TWS's codes.
_TRIGGER_NAMES = {
    "default": TriggerMethod.DEFAULT,
    "last": TriggerMethod.LAST,
    "double_last": TriggerMethod.DOUBLE_LAST,
    "bid/ask": TriggerMethod.BID_ASK,
    "bid_ask": TriggerMethod.BID_ASK,
    "double_bid/ask": TriggerMethod.DOUBLE_BID_ASK,
    "last_or_bid/ask": TriggerMethod.LAST_OR_BID_ASK,
    "mid": TriggerMethod.MIDPOINT,
    "midpoint": TriggerMethod.MIDPOINT,
}
#: How IBKR writes an instant: `20231231-12:00:00` (a space instead of `-` is taken too).
TIME_FORMAT = "%Y%m%d-%H:%M:%S"
#: The zone of a time condition that names none, and of `expireTime`.
DEFAULT_ZONE = "UTC"
MAX_PRICE = Decimal(10) ** 9
MAX_VOLUME = 10**15


def alert_spec(account: str, body: dict[str, Any]) -> tuple[AlertSpec, int | None]:
    """The alert a create/modify body asks for, and the `orderId` it modifies (None: a new
    alert). Raises RequestError (400) naming the first field that is missing or wrong."""
    name = printable_text(body.get("alertName"), "alertName", max_length=MAX_TEXT)
    message = _text(body.get("alertMessage"), "alertMessage")
    raw_conditions = body.get("conditions")
    if not isinstance(raw_conditions, list) or not raw_conditions:
        raise RequestError("Invalid conditions: expected a list of at least one condition")
    if len(raw_conditions) > MAX_CONDITIONS:
        raise RequestError(
            f"Invalid conditions: at most {MAX_CONDITIONS}, got {len(raw_conditions)}"
        )
    conditions = tuple(_condition(raw, i) for i, raw in enumerate(raw_conditions))
    tif = _tif(body.get("tif"))
    raw_expiry = _text(body.get("expireTime"), "expireTime")
    expire_ns = None
    if tif is Tif.GTD:
        if not raw_expiry:
            raise RequestError("Invalid expireTime: a GTD alert needs one (YYYYMMDD-HH:mm:ss)")
        expire_ns = instant(raw_expiry, "expireTime", DEFAULT_ZONE)
    email = _text(body.get("email"), "email")
    order_id = body.get("orderId")
    modified = None if order_id is None or order_id == "" else _id(order_id, "orderId")
    if modified == 0:
        modified = None  # some clients send 0 for "new"
    spec = AlertSpec(
        account=account,
        name=name,
        message=message,
        conditions=conditions,
        tif=tif,
        expire_ns=expire_ns,
        outside_rth=flag(body.get("outsideRth"), "outsideRth"),
        repeatable=flag(body.get("alertRepeatable"), "alertRepeatable"),
        send_message=flag(body.get("sendMessage"), "sendMessage"),
        show_popup=flag(body.get("showPopup"), "showPopup"),
        email=email,
        mobile_only=flag(body.get("iTWSOrdersOnly"), "iTWSOrdersOnly"),
    )
    return spec, modified


def _text(raw: object, name: str) -> str:
    """An optional string field ("" when absent or null). Raises RequestError (400)."""
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > MAX_TEXT:
        raise RequestError(f"Invalid {name}: {shown(raw)}; expected a string")
    return raw


def flag(raw: object, name: str) -> bool:
    """IBKR's 0/1 flags (JSON booleans and "0"/"1" taken too); absent is 0. Raises
    RequestError (400) for anything else."""
    if raw is None:
        return False
    if isinstance(raw, bool):
        return raw
    if raw in (0, 1, "0", "1"):
        return raw in (1, "1")
    raise RequestError(f"Invalid {name}: {shown(raw)}; expected 0 or 1")


def alert_id(raw: object, name: str = "alertId") -> int:
    """An alert id from a path or body (0 is allowed: it means every alert where IBKR says
    so). Raises RequestError (400)."""
    return ascii_int(raw, name, minimum=0, maximum=2**63 - 1)


def _id(raw: object, name: str) -> int:
    return alert_id(raw.strip() if isinstance(raw, str) else raw, name)


def _tif(raw: object) -> Tif:
    if raw is None:
        return Tif.GTC
    if isinstance(raw, str) and raw in Tif.__members__:
        return Tif(raw)
    raise RequestError(f"Invalid tif: {shown(raw)}; expected GTC or GTD")


def instant(raw: object, name: str, zone: str) -> int:
    """Epoch nanoseconds of IBKR's `YYYYMMDD-HH:mm:ss` in `zone`. Raises RequestError."""
    if not isinstance(raw, str):
        raise RequestError(f"Invalid {name}: {shown(raw)}; expected YYYYMMDD-HH:mm:ss")
    try:
        local = datetime.datetime.strptime(raw.strip().replace(" ", "-", 1), TIME_FORMAT)
    except ValueError:
        raise RequestError(f"Invalid {name}: {shown(raw)}; expected YYYYMMDD-HH:mm:ss") from None
    try:
        seconds = int(local.replace(tzinfo=zoneinfo.ZoneInfo(zone)).timestamp())
    except (OverflowError, ValueError):  # an instant at the very ends of the calendar
        raise RequestError(f"Invalid {name}: {shown(raw)} is out of range") from None
    return seconds * 1_000_000_000


def _zone(raw: object, index: int) -> str:
    if raw in (None, ""):
        return DEFAULT_ZONE
    if not isinstance(raw, str) or len(raw) > 64:
        raise RequestError(f"Invalid conditions[{index}].timeZone: {shown(raw)}")
    try:
        zoneinfo.ZoneInfo(raw)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise RequestError(
            f"Invalid conditions[{index}].timeZone: {shown(raw)} is not a time zone "
            "(e.g. US/Eastern, Europe/London, UTC)"
        ) from None
    return raw


def _condition(raw: object, index: int) -> Condition:
    where = f"conditions[{index}]"
    if not isinstance(raw, dict):
        raise RequestError(f"Invalid {where}: {shown(raw)}; expected an object")
    kind = _type(raw.get("type"), where)
    _check_kinds(raw, where)
    logic = raw.get("logicBind")
    if logic is None:
        logic = LogicBind.AND.value  # IBKR's default
    if not isinstance(logic, str) or logic.lower() not in {b.value for b in LogicBind}:
        raise RequestError(f"Invalid {where}.logicBind: {shown(logic)}; expected a, o or n")
    operator = _operator(raw.get("operator"), where, kind)
    value = raw.get("value", "*")
    shown_value = value if isinstance(value, str) else str(value)
    common: dict[str, Any] = {"type": kind, "operator": operator, "logic": LogicBind(logic.lower())}
    if kind is ConditionType.TIME:
        zone = _zone(raw.get("timeZone"), index)
        at_ns = instant(value, f"{where}.value", zone)
        return Condition(**common, at_ns=at_ns, time_zone=zone, value=shown_value)
    if kind is ConditionType.MARGIN:
        # The alert's own account's cushion: a contract named in `conidex` does not change it.
        cushion = bounded_decimal(value, f"{where}.value", maximum=MAX_CUSHION, places=4)
        if cushion < 0:
            raise RequestError(f"Invalid {where}.value: {shown(value)}; a cushion is 0 to 100 %")
        return Condition(**common, threshold=cushion, value=shown_value)
    conid, exchange = _conidex(raw.get("conidex"), where)
    if kind is ConditionType.TRADE:
        return Condition(**common, conid=conid, exchange=exchange, value=shown_value)
    if kind is ConditionType.VOLUME:
        threshold = Decimal(ascii_int(value, f"{where}.value", minimum=0, maximum=MAX_VOLUME))
        return Condition(**common, conid=conid, exchange=exchange, threshold=threshold,
                         value=shown_value)  # fmt: skip
    price = bounded_decimal(value, f"{where}.value", maximum=MAX_PRICE, places=8)
    trigger = _trigger(raw.get("triggerMethod"), where)
    return Condition(**common, conid=conid, exchange=exchange, threshold=price,
                     trigger=trigger, value=shown_value)  # fmt: skip


#: The JSON types each condition field may have, whatever the condition's type reads.
_FIELD_KINDS: dict[str, tuple[type, ...]] = {
    "conidex": (str, int),
    "operator": (str,),
    "value": (str, int, float),
    "triggerMethod": (str, int),
    "timeZone": (str,),
}


def _check_kinds(raw: dict[str, Any], where: str) -> None:
    """Refuse a field of the wrong JSON type even where this condition's type ignores it."""
    for name, kinds in _FIELD_KINDS.items():
        value = raw.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise RequestError(f"Invalid {where}.{name}: {shown(value)}")


def _type(raw: object, where: str) -> ConditionType:
    code = ascii_int(raw, f"{where}.type", minimum=0, maximum=99)
    codes = ", ".join(f"{t.value} ({_TYPE_NAMES[t]})" for t in ConditionType)
    if code not in {t.value for t in ConditionType}:
        raise RequestError(f"Invalid {where}.type: {code}; IBKR's types are {codes}")
    kind = ConditionType(code)
    if kind not in EVALUATED:
        evaluated = ", ".join(f"{t.value} ({_TYPE_NAMES[t]})" for t in EVALUATED)
        raise RequestError(
            f"Unsupported {where}.type: {code} ({_TYPE_NAMES[kind]}); tickgate evaluates "
            f"{evaluated}"
        )
    return kind


def _operator(raw: object, where: str, kind: ConditionType) -> Operator:
    if kind is ConditionType.TRADE and raw in (None, ""):
        return Operator.AT_LEAST  # an execution has no threshold to compare
    allowed = (
        (Operator.AT_LEAST, Operator.AT_MOST) if kind is ConditionType.TIME else tuple(Operator)
    )
    if not isinstance(raw, str) or raw.strip() not in {o.value for o in allowed}:
        names = ", ".join(o.value for o in allowed)
        raise RequestError(f"Invalid {where}.operator: {shown(raw)}; expected one of {names}")
    return Operator(raw.strip())


def _trigger(raw: object, where: str) -> TriggerMethod:
    if raw in (None, ""):
        return TriggerMethod.DEFAULT
    text = str(raw).strip().lower() if isinstance(raw, str | int) else None
    if text in {t.value for t in TriggerMethod}:
        return TriggerMethod(text)
    if text in _TRIGGER_NAMES:
        return _TRIGGER_NAMES[text]
    codes = ", ".join(t.value for t in TriggerMethod)
    raise RequestError(f"Invalid {where}.triggerMethod: {shown(raw)}; expected one of {codes}")


def _conidex(raw: object, where: str) -> tuple[int, str]:
    """`265598` or `265598@SMART` as (conid, exchange)."""
    if isinstance(raw, int) and not isinstance(raw, bool):
        return ascii_int(raw, f"{where}.conidex", minimum=1, maximum=2**63 - 1), ""
    if not isinstance(raw, str) or not raw.strip():
        raise RequestError(
            f"Invalid {where}.conidex: {shown(raw)}; expected CONID or CONID@EXCHANGE"
        )
    conid_text, _, exchange = raw.strip().partition("@")
    if exchange and not (exchange.isascii() and exchange.replace("_", "").isalnum()):
        raise RequestError(f"Invalid {where}.conidex: {shown(raw)}; the exchange is not a name")
    conid = ascii_int(conid_text, f"{where}.conidex", minimum=1, maximum=2**63 - 1)
    return conid, exchange.upper()


# --- answers -------------------------------------------------------------------------------------


def ibkr_time(ts_ns: int) -> str:
    """`YYYYMMDD-HH:mm:ss` in UTC, as IBKR writes an alert's times."""
    at = datetime.datetime.fromtimestamp(ts_ns // 1_000_000_000, datetime.UTC)
    return at.strftime(TIME_FORMAT)


def submitted(alert_id: int) -> dict[str, Any]:
    """The answer to a create or modify."""
    return {
        "order_id": alert_id,
        "order_status": None,
        "request_id": None,
        "success": True,
        "text": "Submitted",
        "warning_message": None,
    }


def acknowledged(alert_id: int, *, failures: list[int] | None = None) -> dict[str, Any]:
    """The answer to an activate, deactivate or delete (`alert_id` 0 for all of them)."""
    return {
        "failure_list": ",".join(map(str, failures)) if failures else None,
        "order_id": alert_id,
        "request_id": None,
        "success": not failures,
        "text": "Request was submitted",
    }


def list_row(alert: Alert) -> dict[str, Any]:
    """One row of `GET /iserver/account/{acct}/alerts`."""
    return {
        "account": alert.spec.account,
        "alert_active": int(alert.active),
        "alert_name": alert.spec.name,
        "alert_repeatable": int(alert.spec.repeatable),
        "alert_triggered": alert.triggered,
        "order_id": alert.alert_id,
        "order_time": ibkr_time(alert.created_ns),
    }


def _condition_row(condition: Condition, describe: Callable[[int], str]) -> dict[str, Any]:
    priced = condition.type is ConditionType.PRICE
    return {
        "condition_logic_bind": condition.logic.value,
        "condition_operator": condition.operator.value,
        "condition_time_zone": condition.time_zone or None,
        "condition_trigger_method": condition.trigger.value if priced else None,
        "condition_type": condition.type.value,
        "condition_value": condition.value,
        "conidex": _conidex_text(condition),
        "contract_description_1": (
            describe(condition.conid) if condition.conid is not None else None
        ),
    }


def _conidex_text(condition: Condition) -> str | None:
    if condition.conid is None:
        return None
    return f"{condition.conid}@{condition.exchange}" if condition.exchange else str(condition.conid)


def detail(alert: Alert, describe: Callable[[int], str]) -> dict[str, Any]:
    """`GET /iserver/account/alert/{id}?type=Q`; `describe(conid)` names a contract."""
    spec = alert.spec
    zones = [c.time_zone for c in spec.conditions if c.type is ConditionType.TIME]
    return {
        "account": spec.account,
        "order_id": alert.alert_id,
        "alert_name": spec.name,
        "alertName": spec.name,  # the name the schema of IBKR's reference gives it
        "alert_message": spec.message,
        "alert_active": int(alert.active),
        "alert_repeatable": int(spec.repeatable),
        "alert_email": spec.email or None,
        "alert_send_message": int(spec.send_message),
        "tif": spec.tif.value,
        "expire_time": ibkr_time(spec.expire_ns) if spec.expire_ns is not None else None,
        "order_status": "Submitted" if alert.live else "Presubmitted",
        "outside_rth": int(spec.outside_rth),
        "condition_outside_rth": int(spec.outside_rth),
        "itws_orders_only": int(spec.mobile_only),
        "alert_show_popup": int(spec.show_popup),
        "alert_triggered": alert.triggered,
        "order_not_editable": False,
        "tool_id": None,
        "time_zone": zones[0] if zones else None,
        "alert_default_type": None,
        "alert_play_audio": None,
        "alert_mta_currency": None,
        "alert_mta_defaults": None,
        "bg_color": "#0000CC",
        "fg_color": "#FFFFFF",
        "condition_size": len(spec.conditions),
        "conditions": [_condition_row(c, describe) for c in spec.conditions],
    }


#: The mobile trading assistant's ranges, in IBKR's `TYPE:KEY=VALUE,...|...` form.
MTA_DEFAULTS = (
    "9:STATE=1,MIN=-260000,MAX=260000,STEP=500,DEF_MIN=-26000,DEF_MAX=26000"
    "|8:STATE=0,MIN=-15,MAX=15,STEP=0.5,DEF_MIN=-2,DEF_MAX=2"
    "|7:STATE=1,MIN=-5,MAX=5,STEP=0.5,DEF_MIN=-2,DEF_MAX=2"
    "|4:STATE=1,MIN=1,MAX=50,STEP=1,DEF_VAL=10|5:STATE=0"
)


def mta(account: str, currency: str, *, alert_id: int, tool_id: int) -> dict[str, Any]:
    """`GET /iserver/account/mta`: the one mobile trading assistant alert of the user, in its
    default state (IBKR Mobile edits it; tickgate has no mobile app, so it never fires)."""
    return {
        "account": account,
        "order_id": alert_id,
        "alert_name": "MTA (AutoAlert)",
        "alertName": "MTA (AutoAlert)",
        "alert_message": None,
        "alert_active": 1,
        "alert_repeatable": 1,
        "alert_email": None,
        "alert_send_message": 1,
        "tif": Tif.GTC.value,
        "expire_time": None,
        "order_status": "Submitted",
        "outside_rth": 0,
        "condition_outside_rth": 0,
        "itws_orders_only": 0,
        "alert_show_popup": 0,
        "alert_triggered": False,
        "order_not_editable": False,
        "tool_id": tool_id,
        "time_zone": None,
        "alert_default_type": None,
        "alert_play_audio": None,
        "alert_mta_currency": currency,
        "alert_mta_defaults": MTA_DEFAULTS,
        "bg_color": "#0000CC",
        "fg_color": "#FFFFFF",
        "condition_size": 1,
        "conditions": [
            {
                "condition_logic_bind": LogicBind.END.value,
                "condition_operator": None,
                "condition_time_zone": None,
                "condition_trigger_method": None,
                "condition_type": ConditionType.TRADE.value,
                "condition_value": "*",
                "conidex": "*@*",
                "contract_description_1": "Unknown",
            }
        ],
    }
