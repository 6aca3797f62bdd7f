"""The one rule for decimals on the wire: numbers, whole counts, exact text."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from tickgate.protocol.decimals import count, number, number_json, text, text_json


def test_the_three_spellings_of_a_decimal() -> None:
    assert orjson.dumps([number(Decimal("1.50")), count(Decimal("5.000")), count(Decimal("2.5")),
                         text(Decimal("1.50"))]) == b'[1.5,5,2.5,"1.50"]'  # fmt: skip


def test_the_json_defaults_write_decimals_and_refuse_anything_else() -> None:
    value = {"a": Decimal("0.10")}
    assert orjson.dumps(value, default=number_json) == b'{"a":0.1}'
    assert orjson.dumps(value, default=text_json) == b'{"a":"0.10"}'
    for default in (number_json, text_json):
        with pytest.raises(TypeError, match="set cannot be written as JSON"):
            default({1})
