"""One catalogue file entry (a mapping of field name to value) turned into a checked `Instrument`.

Values may be text (CSV) or typed (JSON, TOML). Empty text and null count as absent, so the
field's default applies. Every problem raises `RowError` with a reason a user can act on; the
file reader adds the file name and line.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import TypeVar

from tickgate.market.catalogue.expiries import parse_expiry
from tickgate.model.instruments import Instrument, Right, SecType

__all__ = ["FIELDS", "RowError", "instrument_from_row"]


class RowError(Exception):
    """An entry is invalid; the message is the reason, without file or line."""


FIELDS = (
    "conid", "symbol", "name", "sec_type", "exchange", "currency", "min_tick",
    "reference_price", "volatility", "multiplier", "listing_exchange", "underlying_conid",
    "expiry", "strike", "right", "trading_class", "is_etf", "ticks_per_second", "sector",
)  # fmt: skip
_REQUIRED = ("conid", "symbol", "sec_type", "reference_price")
_DEFAULT_EXCHANGE = {SecType.STK: "SMART", SecType.OPT: "SMART", SecType.CASH: "IDEALPRO"}
_DEFAULT_VOLATILITY = {
    SecType.STK: 0.3, SecType.OPT: 0.3, SecType.CASH: 0.08, SecType.IND: 0.2, SecType.FUT: 0.2,
}  # fmt: skip
_INTEGER = re.compile(r"[0-9]{1,18}")
_CURRENCY = re.compile(r"[A-Z]{3}")
_DECIMAL_PLACES = Decimal("1e-10")
_DECIMAL_LIMIT = Decimal(10) ** 12
_RIGHTS = {"C": Right.CALL, "CALL": Right.CALL, "P": Right.PUT, "PUT": Right.PUT}
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
T = TypeVar("T")


def instrument_from_row(row: Mapping[str, object]) -> Instrument:
    """Build and check one instrument. Raises RowError naming the first bad field and why."""
    values = {key: value for key, value in row.items() if not _absent(value)}
    unknown = sorted(set(row) - set(FIELDS))
    if unknown:
        raise RowError(f"unknown field {unknown[0]!r}; known fields: {', '.join(FIELDS)}")
    for name in _REQUIRED:
        if name not in values:
            raise RowError(f"missing required field {name!r}")
    sec_type = _sec_type(values["sec_type"])
    _check_derivative_fields(sec_type, values)
    symbol = _text("symbol", values["symbol"], limit=32)
    return Instrument(
        conid=_conid("conid", values["conid"]),
        symbol=symbol,
        name=_text("name", values.get("name", symbol), limit=200),
        sec_type=sec_type,
        exchange=_exchange(sec_type, values),
        currency=_currency(values.get("currency", "USD")),
        min_tick=_decimal("min_tick", values.get("min_tick", _default_tick(sec_type))),
        reference_price=_decimal("reference_price", values["reference_price"]),
        volatility=_volatility(values.get("volatility", _DEFAULT_VOLATILITY[sec_type])),
        multiplier=_conid(
            "multiplier", values.get("multiplier", 100 if sec_type is SecType.OPT else 1)
        ),
        listing_exchange=_text("listing_exchange", values.get("listing_exchange", ""), limit=64),
        underlying_conid=_optional(values, "underlying_conid", _conid),
        expiry=_optional(values, "expiry", _expiry),
        strike=_optional(values, "strike", _decimal),
        right=_optional(values, "right", _right),
        trading_class=_text("trading_class", values.get("trading_class", ""), limit=32),
        is_etf=_bool("is_etf", values.get("is_etf", False)),
        ticks_per_second=_optional(values, "ticks_per_second", _rate),
        sector=_optional(values, "sector", _sector),
    )


def _sector(name: str, value: object) -> str:
    return _text(name, value, limit=64)


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_derivative_fields(sec_type: SecType, values: Mapping[str, object]) -> None:
    needed = {
        SecType.OPT: ("underlying_conid", "expiry", "strike", "right"),
        SecType.FUT: ("expiry",),
    }
    for name in needed.get(sec_type, ()):
        if name not in values:
            raise RowError(f"missing required field {name!r} for sec_type {sec_type}")
    for name in ("strike", "right"):
        if name in values and sec_type is not SecType.OPT:
            raise RowError(f"{name} is only valid for sec_type OPT, not {sec_type}")


def _optional(
    values: Mapping[str, object], name: str, parse: Callable[[str, object], T]
) -> T | None:
    return parse(name, values[name]) if name in values else None


def _text(name: str, value: object, *, limit: int) -> str:
    if not isinstance(value, str):
        raise RowError(f"{name} must be text, got {value!r}")
    text = value.strip()
    if len(text) > limit or not text.isprintable():
        raise RowError(
            f"{name} must be printable text of at most {limit} characters, got {value!r}"
        )
    return text


def _conid(name: str, value: object) -> int:
    # bool is an int subclass, but `true` is never meant as a conid or multiplier.
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, str) and _INTEGER.fullmatch(value.strip()):
        number = int(value.strip())
    else:
        raise RowError(f"{name} must be a positive integer, got {value!r}")
    if not 0 < number < 2**63:
        raise RowError(f"{name} must be a positive integer, got {value!r}")
    return number


def _decimal(name: str, value: object) -> Decimal:
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
            raise InvalidOperation
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except (InvalidOperation, ValueError):  # ValueError: int too long to turn into text
        raise RowError(f"{name} must be a positive decimal, got {value!r}") from None
    # is_finite first: comparing a signalling NaN raises.
    if not number.is_finite() or number <= 0:
        raise RowError(f"{name} must be a positive decimal, got {value!r}")
    if number >= _DECIMAL_LIMIT or number != number.quantize(_DECIMAL_PLACES):
        raise RowError(f"{name} must be below 1e12 with at most 10 decimal places, got {value!r}")
    return number


def _positive_float(value: object, highest: float) -> float | None:
    """`value` as a float in (0, highest], or None when it is not one (NaN included)."""
    try:
        if isinstance(value, bool) or not isinstance(value, int | float | str):
            raise ValueError
        number = float(value)
    except (ValueError, OverflowError):
        return None
    return number if 0 < number <= highest else None


def _volatility(value: object) -> float:
    number = _positive_float(value, 5)
    if number is None:
        raise RowError(f"volatility must be an annualised fraction in (0, 5], got {value!r}")
    return number


def _rate(name: str, value: object) -> float:
    number = _positive_float(value, 100_000)
    if number is None:
        raise RowError(f"{name} must be a rate in (0, 100000] updates per second, got {value!r}")
    return number


def _sec_type(value: object) -> SecType:
    try:
        return SecType(_text("sec_type", value, limit=8).upper())
    except ValueError:
        choices = ", ".join(SecType)
        raise RowError(f"sec_type must be one of {choices}, got {value!r}") from None


def _exchange(sec_type: SecType, values: Mapping[str, object]) -> str:
    if "exchange" not in values and sec_type not in _DEFAULT_EXCHANGE:
        raise RowError(f"missing required field 'exchange' for sec_type {sec_type}")
    return _text("exchange", values.get("exchange", _DEFAULT_EXCHANGE.get(sec_type)), limit=64)


def _default_tick(sec_type: SecType) -> str:
    return "0.00005" if sec_type is SecType.CASH else "0.01"


def _currency(value: object) -> str:
    code = _text("currency", value, limit=3).upper()
    if not _CURRENCY.fullmatch(code):
        raise RowError(f"currency must be a three-letter code such as USD, got {value!r}")
    return code


def _expiry(name: str, value: object) -> str:
    # TOML has a date type; JSON writers often emit YYYYMMDD as a number.
    if isinstance(value, date):
        return value.strftime("%Y%m%d")
    text = (
        str(value).strip() if isinstance(value, int | str) and not isinstance(value, bool) else ""
    )
    try:
        parse_expiry(text)
    except ValueError:
        raise RowError(f"{name} must be a date as YYYYMMDD, got {value!r}") from None
    return text


def _right(name: str, value: object) -> Right:
    right = _RIGHTS.get(value.strip().upper()) if isinstance(value, str) else None
    if right is None:
        raise RowError(f"{name} must be C or P, got {value!r}")
    return right


def _bool(name: str, value: object) -> bool:
    if isinstance(value, bool):
        return value
    flag = _BOOLS.get(value.strip().lower()) if isinstance(value, str) else None
    if flag is None:
        raise RowError(f"{name} must be true or false, got {value!r}")
    return flag
