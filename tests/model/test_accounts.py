"""Tests for the account configuration."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tickgate.model.accounts import AccountConfig


def test_default_account_is_the_issue_default() -> None:
    config = AccountConfig()
    assert (config.account_id, config.base_currency, config.starting_cash) == (
        "DU1234567",
        "USD",
        Decimal("1000000"),
    )


def test_negative_cash_is_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        AccountConfig("DU9", starting_cash=Decimal(-1))


def test_empty_id_is_refused() -> None:
    with pytest.raises(ValueError, match="non-empty id"):
        AccountConfig("")
