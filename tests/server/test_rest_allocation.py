"""Financial Advisor allocation over a real socket: the advisor login's accounts, groups and
presets in IBKR's shapes, kept across a restart on a real SQLite file, and nothing of it
without `--advisor`."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from tests.conftest import StartServer, call
from tests.server.test_ws_api import Connect, authed

from tickgate.cli import _announce
from tickgate.config import Config
from tickgate.model.accounts import DEFAULT_ADVISOR_ID as MASTER
from tickgate.model.accounts import AccountConfig

SUBS = (
    AccountConfig("DU1000001", starting_cash=Decimal("100000")),
    AccountConfig("DU1000002", starting_cash=Decimal("200000")),
    AccountConfig("DU1000003", starting_cash=Decimal("400000")),
)
ALLOCATION = "/v1/api/iserver/account/allocation"


async def advisor(start: StartServer, **changes: Any) -> str:
    server = await start(advisor=True, accounts=SUBS, **changes)
    return server.base_url


async def test_an_advisor_login_lists_its_master_and_sub_accounts(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    accounts = await call(http, "GET", f"{base}/v1/api/iserver/accounts")
    assert accounts["accounts"] == ["F1234567", "DU1000001", "DU1000002", "DU1000003"]
    assert accounts["acctProps"]["F1234567"]["hasChildAccounts"] is True
    assert accounts["acctProps"]["DU1000001"]["hasChildAccounts"] is False
    assert accounts["allowFeatures"]["allowFA"] is True
    assert accounts["groups"] == ["All"] and accounts["selectedAccount"] == "DU1000001"
    subs = await call(http, "GET", f"{base}/v1/portal/portfolio/subaccounts")
    assert [s["accountId"] for s in subs] == ["DU1000001", "DU1000002", "DU1000003"]
    assert all(s["faclient"] and s["parent"]["accountId"] == "F1234567" for s in subs)
    paged = await call(http, "GET", f"{base}/v1/api/portfolio/subaccounts2", params={"page": 0})
    assert paged["metadata"] == {"total": 3, "pageSize": 20, "pageNume": 0}
    assert paged["subaccounts"] == subs
    empty = await call(http, "GET", f"{base}/v1/api/portfolio/subaccounts2", params={"page": 1})
    assert empty["subaccounts"] == []
    await call(
        http, "GET", f"{base}/v1/api/portfolio/subaccounts2", params={"page": -1}, status=400
    )


async def test_allocatable_accounts_carry_each_engine_account_s_figures(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    answer = await call(http, "GET", f"{base}{ALLOCATION}/accounts")
    assert [a["name"] for a in answer["accounts"]] == [a.account_id for a in SUBS]
    for row in answer["accounts"]:
        summary = await call(http, "GET", f"{base}/v1/api/portfolio/{row['name']}/summary")
        figures = {d["key"]: d["value"] for d in row["data"]}
        assert set(figures) == {"NetLiquidation", "AvailableEquity"}
        assert Decimal(figures["NetLiquidation"]) == Decimal(
            str(summary["netliquidation"]["amount"])
        ).quantize(Decimal("0.01"))
        assert Decimal(figures["AvailableEquity"]) == Decimal(
            str(summary["availablefunds"]["amount"])
        ).quantize(Decimal("0.01"))


async def test_groups_are_added_listed_read_renamed_and_deleted(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    group = f"{base}{ALLOCATION}/group"
    ratios = {
        "name": "Group_1_Ratios",
        "accounts": [{"name": "DU1000001", "amount": 1}, {"name": "DU1000003", "amount": 5}],
        "default_method": "R",
    }
    assert await call(http, "POST", group, json=ratios) == {"success": True}
    netliq = {"name": "NL", "accounts": [{"name": "DU1000002"}, {"name": "DU1000003"}]}
    assert await call(http, "POST", group, json=netliq) == {"success": True}
    listed = await call(http, "GET", group)
    assert listed == {
        "data": [
            {"allocation_method": "R", "size": 2, "name": "Group_1_Ratios"},
            {"allocation_method": "N", "size": 2, "name": "NL"},  # the presets' default
        ]
    }
    single = await call(http, "POST", f"{group}/single", json={"name": "Group_1_Ratios"})
    assert single == {
        "name": "Group_1_Ratios",
        "accounts": [{"name": "DU1000001", "amount": 1}, {"name": "DU1000003", "amount": 5}],
        "default_method": "R",
    }
    renamed = {
        "name": "Equal3",
        "prev_name": "NL",
        "accounts": [{"name": a.account_id} for a in SUBS],
        "default_method": "Equal",
    }
    assert await call(http, "PUT", group, json=renamed) == {"success": True}
    await call(http, "POST", f"{group}/single", json={"name": "NL"}, status=404)
    equal = await call(http, "POST", f"{group}/single", json={"name": "Equal3"})
    assert equal["default_method"] == "E" and len(equal["accounts"]) == 3
    accounts = await call(http, "GET", f"{base}/v1/api/iserver/accounts")
    assert accounts["groups"] == ["All", "Group_1_Ratios", "Equal3"]
    assert await call(http, "POST", f"{group}/delete", json={"name": "Group_1_Ratios"}) == {
        "success": True
    }
    assert [g["name"] for g in (await call(http, "GET", group))["data"]] == ["Equal3"]
    await call(http, "POST", f"{group}/delete", json={"name": "Group_1_Ratios"}, status=404)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "G", "accounts": [{"name": "DU9"}]}, "'DU9' is not a sub-account of F1234567"),
        ({"name": "G", "accounts": []}, "accounts must be a non-empty list"),
        ({"name": "", "accounts": [{"name": "DU1000001"}]}, "Invalid name"),
        ({"name": "All", "accounts": [{"name": "DU1000001"}]}, "'All' is reserved"),
        (
            {"name": "G", "accounts": [{"name": "DU1000001"}], "default_method": "X"},
            "Invalid default_method: 'X'",
        ),
        (
            {"name": "G", "accounts": [{"name": "DU1000001"}, {"name": "DU1000001"}]},
            "DU1000001 is listed twice",
        ),
        (
            {
                "name": "G",
                "accounts": [{"name": "DU1000001", "amount": 60}, {"name": "DU1000002"}],
                "default_method": "P",
            },
            "needs an amount for every account: missing for DU1000002",
        ),
        (
            {
                "name": "G",
                "accounts": [
                    {"name": "DU1000001", "amount": 60},
                    {"name": "DU1000002", "amount": 30},
                ],
                "default_method": "P",
            },
            "Percentages must total 100, got 90",
        ),
        (
            {"name": "G", "accounts": [{"name": "DU1000001", "amount": -1}]},
            "Invalid amount: -1",
        ),
        (
            {
                "name": "G",
                "accounts": [{"name": "DU1000001", "amount": 1.5}],
                "default_method": "S",
            },
            "needs whole amounts",
        ),
    ],
)
async def test_a_bad_group_is_a_400_naming_the_problem_and_nothing_is_kept(
    start: StartServer, http: aiohttp.ClientSession, body: dict[str, Any], words: str
) -> None:
    base = await advisor(start)
    group = f"{base}{ALLOCATION}/group"
    answer = await call(http, "POST", group, json=body, status=400)
    assert words in answer["error"]
    assert await call(http, "GET", group) == {"data": []}


async def test_a_taken_name_is_refused_on_add_and_on_rename(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    group = f"{base}{ALLOCATION}/group"
    for name in ("A1", "B1"):
        await call(http, "POST", group, json={"name": name, "accounts": [{"name": "DU1000001"}]})
    taken = await call(
        http, "POST", group, json={"name": "A1", "accounts": [{"name": "DU1000002"}]}, status=400
    )
    assert "already exists" in taken["error"]
    rename = {"name": "B1", "prev_name": "A1", "accounts": [{"name": "DU1000002"}]}
    assert "already exists" in (await call(http, "PUT", group, json=rename, status=400))["error"]
    missing = {"name": "Z", "prev_name": "nope", "accounts": [{"name": "DU1000002"}]}
    await call(http, "PUT", group, json=missing, status=404)


async def test_presets_default_set_and_read_back(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    url = f"{base}{ALLOCATION}/presets"
    assert await call(http, "GET", url) == {
        "group_auto_close_positions": False,
        "default_method_for_all": "N",
        "profiles_auto_close_positions": False,
        "strict_credit_check": False,
        "group_proportional_allocation": False,
    }
    chosen = {
        "default_method_for_all": "E",
        "group_auto_close_positions": True,
        "profiles_auto_close_positions": True,
        "strict_credit_check": False,
        "group_proportional_allocation": False,
    }
    assert await call(http, "POST", url, json=chosen) == {"success": True}
    assert await call(http, "GET", url) == chosen
    await call(
        http,
        "POST",
        f"{base}{ALLOCATION}/group",
        json={"name": "G", "accounts": [{"name": "DU1000001"}]},
    )
    listed = await call(http, "GET", f"{base}{ALLOCATION}/group")
    assert listed["data"][0]["allocation_method"] == "E"  # the new default
    bad = await call(http, "POST", url, json={"strict_credit_check": "yes"}, status=400)
    assert "strict_credit_check" in bad["error"]
    assert await call(http, "GET", url) == chosen


async def test_groups_and_presets_survive_a_restart_on_the_sqlite_file(
    tmp_path: Path, start: StartServer, http: aiohttp.ClientSession
) -> None:
    first = await start(advisor=True, accounts=SUBS)
    group = f"{first.base_url}{ALLOCATION}/group"
    body = {
        "name": "Pct",
        "accounts": [{"name": "DU1000001", "amount": 25}, {"name": "DU1000002", "amount": 75}],
        "default_method": "P",
    }
    await call(http, "POST", group, json=body)
    await call(
        http, "POST", f"{first.base_url}{ALLOCATION}/presets", json={"default_method_for_all": "A"}
    )
    await first.stop()
    assert (tmp_path / "data" / "trading.sqlite3").exists()
    second = await advisor(start)
    single = await call(http, "POST", f"{second}{ALLOCATION}/group/single", json={"name": "Pct"})
    assert single == {**body, "accounts": body["accounts"]}
    presets = await call(http, "GET", f"{second}{ALLOCATION}/presets")
    assert presets["default_method_for_all"] == "A"


async def test_without_advisor_nothing_changes_and_allocation_is_refused(
    server: Any, http: aiohttp.ClientSession
) -> None:
    base = server.base_url
    accounts = await call(http, "GET", f"{base}/v1/api/iserver/accounts")
    assert accounts["accounts"] == ["DU1234567"] and accounts["groups"] == []
    assert "allowFA" not in accounts["allowFeatures"]
    subs = await call(http, "GET", f"{base}/v1/api/portfolio/subaccounts")
    assert subs == [
        {"id": "DU1234567", "accountId": "DU1234567", "currency": "USD", "type": "DEMO"}
    ]
    for method, path in (
        ("GET", "/accounts"),
        ("GET", "/group"),
        ("GET", "/presets"),
    ):
        answer = await call(http, method, f"{base}{ALLOCATION}{path}", status=400)
        assert "--advisor" in answer["error"]
    refused = await call(
        http,
        "POST",
        f"{base}{ALLOCATION}/group",
        json={"name": "G", "accounts": [{"name": "DU1234567"}]},
        status=400,
    )
    assert "Financial Advisor" in refused["error"]


async def test_the_master_account_answers_as_an_account_of_its_own(
    start: StartServer, http: aiohttp.ClientSession, ws_connect: Connect
) -> None:
    # IBKR answers an F account's routes with the master's own figures: here no cash and no
    # positions, whatever its orders do to the sub-accounts they are split over.
    server = await start(advisor=True, accounts=SUBS)
    base = server.base_url
    api = f"{base}/v1/api"
    order = {"conid": 265598, "side": "BUY", "orderType": "MKT", "quantity": 3, "tif": "DAY"}
    await call(http, "GET", f"{api}/iserver/accounts")
    first = await call(
        http, "POST", f"{api}/iserver/account/{MASTER}/orders", json={"orders": [order]}
    )
    while isinstance(first, list) and "message" in first[0]:
        first = await call(
            http, "POST", f"{api}/iserver/reply/{first[0]['id']}", json={"confirmed": True}
        )
    summary = await call(http, "GET", f"{api}/portfolio/{MASTER}/summary")
    assert summary["netliquidation"]["amount"] == 0
    assert await call(http, "GET", f"{api}/portfolio/{MASTER}/positions/0") == []
    ledger = await call(http, "GET", f"{api}/portfolio/{MASTER}/ledger")
    assert ledger["BASE"]["cashbalance"] == 0
    split = [await call(http, "GET", f"{api}/portfolio/{a.account_id}/positions/0") for a in SUBS]
    assert sum(p["position"] for rows in split for p in rows) == 3  # all in the sub-accounts

    ws = await authed(server, http, ws_connect)
    await ws.send(f"ssd+{MASTER}+{{}}")
    frame = await ws.recv_until(lambda f: str(f.get("topic", "")).startswith(f"ssd+{MASTER}"))
    assert frame["topic"] == f"ssd+{MASTER}", frame
    assert {"key": "AccountCode", "value": MASTER}.items() <= frame["result"][0].items()
    await ws.close()


def test_the_banner_names_the_master_account(capsys: pytest.CaptureFixture[str]) -> None:
    settings = Config(advisor=True, accounts=SUBS)
    _announce("http://127.0.0.1:1", "ws://127.0.0.1:1", settings, "always")
    line = next(x for x in capsys.readouterr().out.splitlines() if "accounts:" in x)
    assert line.split("accounts:")[1].split() == [
        MASTER, "(advisor", "master),", "DU1000001,", "DU1000002,", "DU1000003",
    ]  # fmt: skip
