"""Orders to a Financial Advisor group over a real socket: split over the sub-accounts by the
group's method, each child a normal order of the engine, the parent summing its children,
all or nothing, and still answered after a restart on the real SQLite file."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
from tests.conftest import StartServer, call
from tests.server.test_openapi_answers import Checked
from tests.server.test_rest_allocation import ALLOCATION, SUBS, advisor

from tickgate.pytest_plugin import StartGateway

API = "/v1/api"
MSFT = 272093


async def answer_questions(http: aiohttp.ClientSession, base: str, answer: Any) -> Any:
    """Answer every question with yes, as ibind's place_order does."""
    for _ in range(5):
        if not (isinstance(answer, list) and "message" in answer[0]):
            return answer
        answer = await call(
            http, "POST", f"{base}{API}/iserver/reply/{answer[0]['id']}", json={"confirmed": True}
        )
    raise AssertionError(f"too many questions: {answer}")


async def place(
    http: aiohttp.ClientSession, base: str, target: str, *orders: dict[str, Any]
) -> list[dict[str, Any]]:
    first = await call(
        http, "POST", f"{base}{API}/iserver/account/{target}/orders", json={"orders": list(orders)}
    )
    return list(await answer_questions(http, base, first))


async def resting_buy(http: aiohttp.ClientSession, base: str, quantity: int) -> dict[str, Any]:
    """A limit buy of MSFT 2 % under the bid: it rests, and asks no question."""
    await call(http, "GET", f"{base}{API}/iserver/accounts")
    url = f"{base}{API}/iserver/marketdata/snapshot?conids={MSFT}&fields=84"
    await call(http, "GET", url)
    bid = float((await call(http, "GET", url))[0]["84"])
    return {
        "conid": MSFT, "side": "BUY", "orderType": "LMT", "price": round(bid * 0.98, 2),
        "quantity": quantity, "tif": "GTC",
    }  # fmt: skip


async def working(http: aiohttp.ClientSession, base: str) -> dict[str, float]:
    """Each sub-account's working MSFT quantity, from its live orders."""
    found = {}
    for account in SUBS:
        params = {"accountId": account.account_id}
        answer = await call(http, "GET", f"{base}{API}/iserver/account/orders", params=params)
        for o in answer["orders"]:
            if o["status"] in ("Submitted", "PreSubmitted"):
                found[o["acct"]] = float(o["totalSize"])
    return found


async def add_group(http: aiohttp.ClientSession, base: str, body: dict[str, Any]) -> None:
    assert await call(http, "POST", f"{base}{ALLOCATION}/group", json=body) == {"success": True}


async def test_a_net_liquidation_group_splits_by_the_accounts_values(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)  # 100k, 200k, 400k: a 1:2:4 ratio
    await add_group(http, base, {"name": "NL", "accounts": [{"name": a.account_id} for a in SUBS]})
    (ack,) = await place(http, base, "NL", await resting_buy(http, base, 700))
    assert set(ack) == {"order_id", "order_status", "encrypt_message"}
    assert ack["order_status"] == "Submitted"
    assert await working(http, base) == {"DU1000001": 100, "DU1000002": 200, "DU1000003": 400}
    parent = int(ack["order_id"])
    # The live orders show the group order as one row, as IBKR does; each sub-account's
    # own list shows its child.
    (row,) = (await call(http, "GET", f"{base}{API}/iserver/account/orders"))["orders"]
    assert (row["orderId"], row["acct"], row["totalSize"], row["status"]) == (
        parent,
        "NL",
        700,
        "Submitted",
    )
    assert "parentId" not in row
    status = await call(http, "GET", f"{base}{API}/iserver/account/order/status/{parent}")
    assert status["order_id"] == parent and status["account"] == "NL"
    assert (status["total_size"], status["cum_fill"], status["order_status"]) == (
        "700",
        "0",
        "Submitted",
    )
    for account in ("DU1000001", "DU1000003"):  # children are the sub-accounts' own orders
        mine = await call(
            http, "GET", f"{base}{API}/iserver/account/orders", params={"accountId": account}
        )
        assert [o["acct"] for o in mine["orders"]] == [account]
    cancelled = await call(http, "DELETE", f"{base}{API}/iserver/account/NL/order/{parent}")
    assert cancelled["order_id"] == parent
    status = await call(http, "GET", f"{base}{API}/iserver/account/order/status/{parent}")
    assert status["order_status"] == "Cancelled" and await working(http, base) == {}
    again = await call(http, "DELETE", f"{base}{API}/iserver/account/NL/order/{parent}")
    assert "no longer working" in again["error"]


async def test_market_orders_fill_per_account_and_the_parent_sums_them(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    body = {
        "name": "Equal3",
        "accounts": [{"name": a.account_id} for a in SUBS],
        "default_method": "E",
    }
    await add_group(http, base, body)
    order = {"conid": MSFT, "side": "BUY", "orderType": "MKT", "quantity": 10, "tif": "DAY"}
    await call(http, "GET", f"{base}{API}/iserver/accounts")
    (ack,) = await place(http, base, "Equal3", order)
    parent = int(ack["order_id"])
    status = await call(http, "GET", f"{base}{API}/iserver/account/order/status/{parent}")
    assert status["order_status"] == "Filled" and status["cum_fill"] == "10"
    held = {}
    for account in SUBS:
        rows = await call(http, "GET", f"{base}{API}/portfolio/{account.account_id}/positions/0")
        ((conid, quantity),) = [(p["conid"], p["position"]) for p in rows]
        assert conid == MSFT
        held[account.account_id] = quantity
        ledger = await call(http, "GET", f"{base}{API}/portfolio/{account.account_id}/ledger")
        assert ledger["USD"]["cashbalance"] < float(account.starting_cash)
    assert held == {"DU1000001": 4, "DU1000002": 3, "DU1000003": 3}  # 10 equally: 4, 3, 3
    trades = await call(http, "GET", f"{base}{API}/iserver/account/trades")
    assert sorted(t["account"] for t in trades) == ["DU1000001", "DU1000002", "DU1000003"]
    paid = sum(Decimal(str(t["price"])) * Decimal(str(t["size"])) for t in trades)
    assert Decimal(status["average_price"]) == paid / 10


async def test_the_order_may_name_another_method_and_the_master_account_means_all(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    await add_group(
        http, base, {"name": "NL", "accounts": [{"name": "DU1000001"}, {"name": "DU1000003"}]}
    )
    order = await resting_buy(http, base, 9)
    await place(http, base, "NL", {**order, "allocationMethod": "EqualQuantity"})
    assert await working(http, base) == {"DU1000001": 5, "DU1000003": 4}
    await call(http, "DELETE", f"{base}{API}/iserver/account/DU1000001/order/-1")
    await call(http, "DELETE", f"{base}{API}/iserver/account/DU1000003/order/-1")
    (ack,) = await place(http, base, "F1234567", await resting_buy(http, base, 7))
    assert await working(http, base) == {"DU1000001": 1, "DU1000002": 2, "DU1000003": 4}
    status = await call(http, "GET", f"{base}{API}/iserver/account/order/status/{ack['order_id']}")
    assert status["account"] == "All" and status["total_size"] == "7"


async def test_shares_groups_set_each_account_s_size_and_the_2022_route_places_too(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    body = {
        "name": "Shares",
        "accounts": [{"name": "DU1000002", "amount": 4}, {"name": "DU1000003", "amount": 1}],
        "default_method": "S",
    }
    await add_group(http, base, body)
    order = await resting_buy(http, base, 1)
    first = await call(
        http, "POST", f"{base}{API}/iserver/account/orders/Shares", json={"orders": [order]}
    )
    (ack,) = await answer_questions(http, base, first)
    assert await working(http, base) == {"DU1000002": 4, "DU1000003": 1}
    status = await call(http, "GET", f"{base}{API}/iserver/account/order/status/{ack['order_id']}")
    assert status["total_size"] == "5"
    await call(
        http,
        "POST",
        f"{base}{API}/iserver/account/orders/Nope",
        json={"orders": [order]},
        status=404,
    )


async def test_a_refusal_in_one_account_places_nothing_anywhere(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    body = {
        "name": "Heavy",
        "accounts": [{"name": "DU1000001", "amount": 1}, {"name": "DU1000003", "amount": 1}],
        "default_method": "R",
    }
    await add_group(http, base, body)
    order = await resting_buy(http, base, 4000)  # 2000 MSFT each: more than 100k can margin
    refused = await call(
        http, "POST", f"{base}{API}/iserver/account/Heavy/orders", json={"orders": [order]}
    )
    assert "insufficient buying power" in refused["error"]
    assert await working(http, base) == {}
    bad = await call(
        http,
        "POST",
        f"{base}{API}/iserver/account/Heavy/orders",
        json={"orders": [{**order, "quantity": 10, "allocationMethod": "Z"}]},
        status=400,
    )
    assert "Invalid allocationMethod" in bad["error"]
    modify = await call(
        http,
        "POST",
        f"{base}{API}/iserver/account/Heavy/orders",
        json={"orders": [{**order, "quantity": 1}]},
    )
    (ack,) = await answer_questions(http, base, modify)
    refused_modify = await call(
        http,
        "POST",
        f"{base}{API}/iserver/account/Heavy/order/{ack['order_id']}",
        json={**order, "quantity": 2},
    )
    assert "modify its child orders" in refused_modify["error"]


async def test_an_allocated_order_is_still_answered_after_a_restart(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    first = await start(advisor=True, accounts=SUBS)
    base = first.base_url
    await add_group(http, base, {"name": "NL", "accounts": [{"name": a.account_id} for a in SUBS]})
    (ack,) = await place(http, base, "NL", await resting_buy(http, base, 70))
    await first.stop()
    second = await advisor(start)
    status = await call(
        http, "GET", f"{second}{API}/iserver/account/order/status/{ack['order_id']}"
    )
    assert (status["total_size"], status["order_status"], status["account"]) == (
        "70",
        "Submitted",
        "NL",
    )
    assert await working(http, second) == {"DU1000001": 10, "DU1000002": 20, "DU1000003": 40}


async def test_without_advisor_a_group_order_is_an_unknown_account(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start()
    order = {"conid": MSFT, "side": "BUY", "orderType": "MKT", "quantity": 1, "tif": "DAY"}
    base = server.base_url
    await call(
        http,
        "POST",
        f"{base}{API}/iserver/account/All/orders",
        json={"orders": [order]},
        status=404,
    )
    refused = await call(
        http, "POST", f"{base}{API}/iserver/account/orders/G", json={"orders": [order]}, status=400
    )
    assert "--advisor" in refused["error"]


async def test_with_auto_close_a_group_sell_closes_the_longs_first(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    await call(http, "GET", f"{base}{API}/iserver/accounts")
    buy = {"conid": MSFT, "side": "BUY", "orderType": "MKT", "tif": "DAY"}
    for account, quantity in (("DU1000001", 30), ("DU1000002", 10)):
        await place(http, base, account, {**buy, "quantity": quantity})
    body = {"name": "Eq", "accounts": [{"name": a.account_id} for a in SUBS], "default_method": "E"}
    await add_group(http, base, body)
    presets = await call(http, "GET", f"{base}{ALLOCATION}/presets")
    await call(
        http,
        "POST",
        f"{base}{ALLOCATION}/presets",
        json={**presets, "group_auto_close_positions": True},
    )
    (ack,) = await place(http, base, "Eq", {**buy, "side": "SELL", "quantity": 20})
    status = await call(http, "GET", f"{base}{API}/iserver/account/order/status/{ack['order_id']}")
    assert (status["order_status"], status["cum_fill"]) == ("Filled", "20")
    held = {}
    for account in SUBS:
        rows = await call(http, "GET", f"{base}{API}/portfolio/{account.account_id}/positions/0")
        held[account.account_id] = sum(p["position"] for p in rows if p["conid"] == MSFT)
    # 30 and 10 held: 20 sold 3:1 (15 and 5), the flat account opens nothing; equally it
    # would have been 7, 7, 6 and a short in DU1000003.
    assert held == {"DU1000001": 15, "DU1000002": 5, "DU1000003": 0}
    # A profile's flag does not apply to a group by E: the same sell splits equally.
    await call(
        http,
        "POST",
        f"{base}{ALLOCATION}/presets",
        json={**presets, "profiles_auto_close_positions": True},
    )
    await place(http, base, "Eq", {**buy, "side": "SELL", "quantity": 9})
    for account in SUBS:
        rows = await call(http, "GET", f"{base}{API}/portfolio/{account.account_id}/positions/0")
        held[account.account_id] = sum(p["position"] for p in rows if p["conid"] == MSFT)
    assert held == {"DU1000001": 12, "DU1000002": 2, "DU1000003": -3}


def _figures(preview: dict[str, Any]) -> dict[str, Decimal]:
    """A preview's numbers (display text such as "1,234.50 USD (700 Shares)") as decimals."""

    def number(text: str) -> Decimal:
        return Decimal(text.split(" ")[0].replace(",", ""))

    out = {k: number(preview["amount"][k]) for k in ("amount", "commission", "total")}
    for part in ("equity", "initial", "maintenance", "position"):
        out |= {f"{part}.{k}": number(v) for k, v in preview[part].items()}
    return out


async def test_a_group_what_if_is_the_sum_of_its_accounts_previews(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)  # 100k, 200k, 400k: 700 shares split 100, 200, 400
    await add_group(http, base, {"name": "NL", "accounts": [{"name": a.account_id} for a in SUBS]})
    order = await resting_buy(http, base, 700)  # a limit that rests: previewed at its price

    async def what_if(target: str, quantity: int) -> dict[str, Any]:
        url = f"{base}{API}/iserver/account/{target}/orders/whatif"
        body = {"orders": [{**order, "quantity": quantity}]}
        return dict(await call(http, "POST", url, json=body))

    group = await what_if("NL", 700)
    assert group["error"] is None and group["amount"]["amount"].endswith("USD (700 Shares)")
    parts = [await what_if(a, q) for a, q in (("DU1000001", 100), ("DU1000002", 200),
                                              ("DU1000003", 400))]  # fmt: skip
    expected = {k: sum(_figures(p)[k] for p in parts) for k in _figures(group)}
    assert _figures(group) == expected
    assert _figures(group)["initial.after"] > 0
    # The master account previews the split over every sub-account, as it places.
    assert _figures(await what_if("F1234567", 700)) == expected
    assert await working(http, base) == {}  # nothing was placed

    body = {
        "name": "Big",
        "accounts": [{"name": "DU1000001", "amount": 20000}, {"name": "DU1000002", "amount": 1}],
        "default_method": "S",
    }
    await add_group(http, base, body)
    refused = await what_if("Big", 1)
    assert refused["error"].startswith("DU1000001: ") and "buying power" in refused["error"]
    missing = await call(
        http,
        "POST",
        f"{base}{API}/iserver/account/Nope/orders/whatif",
        json={"orders": [order]},
        status=404,
    )
    assert "Nope" in missing["error"]


def test_group_rows_and_bracket_children_match_the_openapi_document(
    tickgate_server_factory: StartGateway,
) -> None:
    """`parent_order_id` is text in the status as in the acknowledgement, `parentId` a number
    in the live orders, and a group order's row: each answer validated against the served
    document."""
    server = tickgate_server_factory(advisor=True)
    check = Checked(server)
    account = server.config.accounts[0].account_id
    check("GET", f"{API}/iserver/accounts")
    snapshot = f"{API}/iserver/marketdata/snapshot?conids={MSFT}&fields=84"
    check("GET", snapshot)
    bid = float(check("GET", snapshot)[0]["84"])
    entry = {"conid": MSFT, "side": "BUY", "orderType": "LMT", "price": round(bid * 0.9, 2),
             "quantity": 5, "tif": "GTC", "cOID": "entry-1"}  # fmt: skip
    exit_ = {**entry, "side": "SELL", "price": round(bid * 1.1, 2), "cOID": None,
             "parentId": "entry-1"}  # fmt: skip
    answer = check("POST", f"{API}/iserver/account/{account}/orders", {"orders": [entry, exit_]})
    while "id" in answer[0]:
        answer = check("POST", f"{API}/iserver/reply/{answer[0]['id']}", {"confirmed": True})
    parent, child = answer
    assert child["parent_order_id"] == parent["order_id"]
    status = check("GET", f"{API}/iserver/account/order/status/{child['order_id']}")
    assert status["parent_order_id"] == parent["order_id"]
    check("POST", f"{API}/iserver/account/allocation/group",
          {"name": "Eq", "accounts": [{"name": a.account_id} for a in server.config.accounts],
           "default_method": "E"})  # fmt: skip
    group = check("POST", f"{API}/iserver/account/Eq/orders", {"orders": [{**entry, "cOID": None}]})
    while "id" in group[0]:
        group = check("POST", f"{API}/iserver/reply/{group[0]['id']}", {"confirmed": True})
    rows = check("GET", f"{API}/iserver/account/orders")["orders"]
    by_id = {str(r["orderId"]): r for r in rows}
    assert by_id[child["order_id"]]["parentId"] == int(parent["order_id"])
    assert by_id[group[0]["order_id"]]["acct"] == "Eq"
