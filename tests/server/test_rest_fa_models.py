"""Financial Advisor model portfolios over a real socket: models saved and read in IBKR's
shapes (Campus examples), invested, divested and rebalanced by real market orders of the paper
engine, every figure matching the accounts' own positions, all kept across a restart on the
real SQLite file, and nothing of it without `--advisor`."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from tests.conftest import StartServer, call
from tests.server.test_openapi_answers import Checked
from tests.server.test_rest_allocation import SUBS, advisor

from tickgate.pytest_plugin import StartGateway
from tickgate.server import rest_fa_models

FA = "/v1/api/fa"
#: Every model route, as the route table has them (`/fa/...` without the leading `/fa/`).
ROUTES_SEEN = [(m, p.removeprefix("/fa/"), h) for m, p, h in rest_fa_models.ROUTES]
AAPL, MSFT = 265598, 272093
GROWTH = {
    "reqID": 540607,
    "model": "Growth",
    "desc": "Two big caps",
    "isStatic": False,
    "positionTargets": [{"conid": AAPL, "target": 0.5}, {"conid": MSFT, "target": 0.4}],
    "cashTargets": [{"ccy": "USD", "target": 0.1}],
}
SUMMARY_KEYS = {
    "bootstrapped",
    "customIndex",
    "desc",
    "isStatic",
    "mismatch",
    "model",
    "nlv",
    "numAccounts",
}


async def post(http: aiohttp.ClientSession, base: str, route: str, body: Any, **kw: Any) -> Any:
    return await call(http, "POST", f"{base}{FA}/{route}", json=body, **kw)


async def save_growth(http: aiohttp.ClientSession, base: str) -> None:
    assert await post(http, base, "model/save", GROWTH) == {"reqID": 540607, "success": True}


async def invest(
    http: aiohttp.ClientSession, base: str, accounts: list[dict[str, Any]]
) -> dict[str, Any]:
    """invest-divest, then submit the draft; returns the draft."""
    draft = await post(
        http,
        base,
        "model/invest-divest",
        {"reqID": 130, "model": "Growth", "accountList": accounts},
    )
    submitted = await post(
        http,
        base,
        "model/submit-transfers",
        {"reqID": 131, "fpOrderId": draft["transfersInstructionId"]},
    )
    assert submitted["success"] is True and submitted["reqID"] == 131
    assert len(submitted["orderIds"]) == len(draft["transfers"])
    return dict(draft)


async def held(http: aiohttp.ClientSession, base: str, account: str) -> dict[int, dict[str, Any]]:
    rows = await call(http, "GET", f"{base}/v1/api/portfolio/{account}/positions/0")
    return {row["conid"]: row for row in rows}


async def test_a_saved_model_is_listed_and_summarised_in_ibkr_s_shape(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    await save_growth(http, base)
    listed = await post(http, base, "model/list", {"reqID": 540608})
    assert set(listed) == {"baseCcy", "masterAccount", "models", "reqID", "subscriptionStatus"}
    assert (listed["baseCcy"], listed["masterAccount"], listed["reqID"]) == (
        "USD",
        "F1234567",
        540608,
    )
    (model,) = listed["models"]
    assert set(model) == SUMMARY_KEYS
    assert (model["model"], model["desc"], model["numAccounts"], model["nlv"]) == (
        "Growth",
        "Two big caps",
        0,
        0,
    )
    summary = await post(http, base, "model/summary", {"reqID": 7, "model": "Growth"})
    assert summary == {**model, "reqID": 7, "subscriptionStatus": 1}
    positions = await post(http, base, "model/positions", {"reqID": 1, "model": "Growth"})
    targets = {
        p["conid"]: (p["target"], p["position"], p["instrument"]) for p in positions["positionList"]
    }
    assert targets == {AAPL: (0.5, 0, "AAPL"), MSFT: (0.4, 0, "MSFT")}
    assert positions["cash"][0]["target"] == 0.1 and positions["stkOnly"] is True
    changed = {
        **GROWTH,
        "desc": "Now with more cash",
        "positionTargets": [{"conid": AAPL, "target": 0.5}],
        "cashTargets": [{"ccy": "USD", "target": 0.5}],
    }
    await post(http, base, "model/save", changed)
    summary = await post(http, base, "model/summary", {"model": "Growth"})
    assert summary["desc"] == "Now with more cash"
    positions = await post(http, base, "model/positions", {"model": "Growth"})
    assert [p["conid"] for p in positions["positionList"]] == [AAPL]


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"cashTargets": [{"ccy": "USD", "target": 0.3}]}, "total 1.2"),
        (
            {
                "positionTargets": [{"conid": AAPL, "target": 50}, {"conid": MSFT, "target": 40}],
                "cashTargets": [{"ccy": "USD", "target": 10}],
            },
            "fractions",
        ),
        ({"positionTargets": [{"conid": 999999999, "target": 0.9}]}, "no known contract"),
        (
            {"positionTargets": [{"conid": AAPL, "target": 0.45}, {"conid": AAPL, "target": 0.45}]},
            "listed twice",
        ),
        ({"cashTargets": [{"ccy": "EUR", "target": 0.1}]}, "base currency"),
        ({"isStatic": "no"}, "isStatic"),
        ({"model": ""}, "Invalid model"),
        ({"positionTargets": "AAPL"}, "positionTargets"),
        ({"reqID": "one"}, "reqID"),
    ],
)
async def test_a_model_whose_targets_are_wrong_is_refused_and_nothing_is_kept(
    start: StartServer, http: aiohttp.ClientSession, change: dict[str, Any], words: str
) -> None:
    base = await advisor(start)
    refused = await post(http, base, "model/save", {**GROWTH, **change}, status=400)
    assert words in refused["error"]
    assert (await post(http, base, "model/list", {}))["models"] == []


async def test_an_unknown_model_is_a_404_on_every_model_route(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    await save_growth(http, base)
    for route in (
        "summary",
        "positions",
        "accounts-details",
        "invest-divest-positions",
        "rebalance/to-existing-targets",
    ):
        missing = await post(http, base, f"model/{route}", {"model": "growth"}, status=404)
        assert "No model named 'growth'" in missing["error"]
    body = {"model": "Nope", "accountList": [{"account": "DU1000001", "amtToInvest": 1000}]}
    await post(http, base, "model/invest-divest", body, status=404)
    await post(http, base, "model/submit-transfers", {"fpOrderId": 12345}, status=404)


async def test_investing_places_real_orders_and_the_model_reads_the_accounts_positions(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    await call(http, "GET", f"{base}/v1/api/iserver/accounts")
    await save_growth(http, base)
    draft = await invest(
        http,
        base,
        [
            {"account": "DU1000001", "amtToInvest": 50000},
            {"account": "DU1000002", "amtToInvest": 20000},
        ],
    )
    assert (draft["reqID"], draft["subscriptionStatus"]) == ("130", 1)
    assert {(t["account"], t["conid"], t["side"]) for t in draft["transfers"]} == {
        (a, c, "BUY") for a in ("DU1000001", "DU1000002") for c in (AAPL, MSFT)
    }
    positions = await post(
        http,
        base,
        "model/positions",
        {"reqID": 3, "model": "Growth", "sortField": "mv", "sortDirection": "DESC"},
    )
    rows = {p["conid"]: p for p in positions["positionList"]}
    total = Decimal(0)
    for account, amount in (("DU1000001", 50000), ("DU1000002", 20000)):
        real = await held(http, base, account)
        for transfer in (t for t in draft["transfers"] if t["account"] == account):
            assert real[transfer["conid"]]["position"] == transfer["quantity"]
        spent = sum(Decimal(str(real[c]["mktValue"])) for c in (AAPL, MSFT))
        assert spent <= amount
        total += amount
    for conid, target in ((AAPL, 0.5), (MSFT, 0.4)):
        row = rows[conid]
        quantity = sum(
            [(await held(http, base, a))[conid]["position"] for a in ("DU1000001", "DU1000002")]
        )
        assert row["position"] == quantity and row["target"] == target
        assert row["instrumentImbalance"] == pytest.approx(row["actual"] - target, abs=2e-6)
        assert row["actual"] == pytest.approx(row["mv"] / positions["nlv"], abs=1e-5)
    mvs = [p["mv"] for p in positions["positionList"]]
    assert mvs == sorted(mvs, reverse=True)
    # The model's value is what was invested, moved only by the prices since the fills.
    assert positions["nlv"] == pytest.approx(float(total), rel=0.01)
    listed = (await post(http, base, "model/list", {}))["models"][0]
    assert (listed["numAccounts"], listed["nlv"]) == (2, positions["nlv"])

    details = await post(http, base, "model/accounts-details", {"reqID": 131, "model": "Growth"})
    assert (details["model"], details["baseCcyMaster"], details["reqID"]) == ("Growth", "USD", 131)
    accounts = {row["account"]: row for row in details["accountInfoList"]}
    assert list(accounts) == ["DU1000001", "DU1000002", "TOTAL"]
    for account, start_cash in (("DU1000001", 100000), ("DU1000002", 200000)):
        row = accounts[account]
        ledger = await call(http, "GET", f"{base}/v1/api/portfolio/{account}/ledger")
        model_cash = Decimal(row["nlv"]) - sum(
            Decimal(str(p["mktValue"])) for p in (await held(http, base, account)).values()
        )
        independent = Decimal(str(ledger["BASE"]["cashbalance"])) - model_cash
        assert Decimal(row["cashInIndependent"]) == pytest.approx(independent, abs=Decimal("0.02"))
        assert Decimal(row["cashInIndependent"]) < start_cash
        assert float(row["accountImbalance"]) >= 0
    assert Decimal(accounts["TOTAL"]["nlv"]) == pytest.approx(
        Decimal(accounts["DU1000001"]["nlv"]) + Decimal(accounts["DU1000002"]["nlv"]),
        abs=Decimal("0.02"),
    )
    invested = await post(http, base, "model/invest-divest-positions", {"model": "Growth"})
    assert [a["account"] for a in invested["accountList"]] == ["DU1000001", "DU1000002"]
    first = invested["accountList"][0]
    assert first["accountModelNlv"] == accounts["DU1000001"]["nlv"]
    assert first["accountOtherModelsNlv"] == "0" and first["positionsInIndependentNlv"] == "0"


async def test_divesting_sells_the_model_s_share_and_a_whole_divest_sells_all(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    await call(http, "GET", f"{base}/v1/api/iserver/accounts")
    await save_growth(http, base)
    await invest(http, base, [{"account": "DU1000003", "amtToInvest": 100000}])
    before = await held(http, base, "DU1000003")
    draft = await invest(http, base, [{"account": "DU1000003", "amtToInvest": -50000}])
    assert {t["side"] for t in draft["transfers"]} == {"SELL"}
    after = await held(http, base, "DU1000003")
    for conid in (AAPL, MSFT):
        sold = before[conid]["position"] - after[conid]["position"]
        # Half the model's value: half of each position, give or take the price moves.
        assert 0.4 * before[conid]["position"] <= sold <= 0.6 * before[conid]["position"]
    summary = await post(http, base, "model/summary", {"model": "Growth"})
    too_much = {
        "model": "Growth",
        "accountList": [{"account": "DU1000003", "amtToInvest": -10 * summary["nlv"]}],
    }
    refused = await post(http, base, "model/invest-divest", too_much, status=400)
    assert "worth" in refused["error"]
    presets = {"reqID": 5, "closeDivestIndependentPosition": True}
    assert await post(http, base, "fa-preset/save", presets) == {"reqID": 5, "success": True}
    draft = await post(http, base, "model/invest-divest", too_much)
    await post(http, base, "model/submit-transfers", {"fpOrderId": draft["subscriptionKey"]})
    after = await held(http, base, "DU1000003")
    assert all(after[c]["position"] == 0 for c in (AAPL, MSFT) if c in after)
    summary = await post(http, base, "model/summary", {"model": "Growth"})
    assert (summary["nlv"], summary["numAccounts"]) == (0, 0)  # the account left the model
    ledger = await call(http, "GET", f"{base}/v1/api/portfolio/DU1000003/ledger")
    details = await post(http, base, "model/accounts-details", {"model": "Growth"})
    assert [a["account"] for a in details["accountInfoList"]] == ["TOTAL"]
    await post(http, base, "fa-preset/save", {"keepModelOpen": True})
    summary = await post(http, base, "model/summary", {"model": "Growth"})
    assert (summary["nlv"], summary["numAccounts"]) == (0, 1)  # kept open, at no value
    details = await post(http, base, "model/accounts-details", {"model": "Growth"})
    # Every cent, the fills' difference to the marks included, is the Independent part's.
    assert Decimal(details["accountInfoList"][0]["cashInIndependent"]) == Decimal(
        str(ledger["BASE"]["cashbalance"])
    ).quantize(Decimal("0.01"))


async def test_a_rebalance_brings_the_accounts_to_new_targets(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    await call(http, "GET", f"{base}/v1/api/iserver/accounts")
    await save_growth(http, base)
    await invest(http, base, [{"account": "DU1000002", "amtToInvest": 100000}])
    shifted = {
        **GROWTH,
        "positionTargets": [{"conid": AAPL, "target": 0.2}, {"conid": MSFT, "target": 0.7}],
    }
    await post(http, base, "model/save", shifted)
    drifted = await post(http, base, "model/positions", {"model": "Growth"})
    assert drifted["mismatched"] is True
    before = {p["conid"]: p for p in drifted["positionList"]}
    assert (
        before[AAPL]["instrumentImbalance"] > 0.25 and before[MSFT]["instrumentImbalance"] < -0.25
    )
    draft = await post(
        http, base, "model/rebalance/to-existing-targets", {"reqID": 398899, "model": "Growth"}
    )
    assert draft["reqID"] == "398899"
    sides = {t["conid"]: t["side"] for t in draft["transfers"]}
    assert sides == {AAPL: "SELL", MSFT: "BUY"}
    stale = await post(http, base, "model/rebalance/to-existing-targets", {"model": "Growth"})
    assert stale["transfersInstructionId"] != draft["transfersInstructionId"]
    await post(http, base, "model/submit-transfers", {"fpOrderId": draft["transfersInstructionId"]})
    after = {
        p["conid"]: p
        for p in (await post(http, base, "model/positions", {"model": "Growth"}))["positionList"]
    }
    for conid, target in ((AAPL, 0.2), (MSFT, 0.7)):
        assert abs(after[conid]["actual"] - target) < 0.01
    again = await post(
        http,
        base,
        "model/submit-transfers",
        {"fpOrderId": draft["transfersInstructionId"]},
        status=404,
    )
    assert "No pending transfers instruction" in again["error"]
    # The other draft was made on the holdings before the rebalance: it ended with it.
    await post(
        http, base, "model/submit-transfers", {"fpOrderId": stale["subscriptionKey"]}, status=404
    )


async def test_investing_more_than_the_independent_cash_is_refused(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    await save_growth(http, base)
    for entry, words in (
        ({"account": "DU1000001", "amtToInvest": 100001}, "cash outside models"),
        ({"account": "DU9", "amtToInvest": 1000}, "not a sub-account"),
        ({"account": "DU1000001", "amtToInvest": 0}, "amtToInvest"),
        ({"account": "DU1000001", "amtToInvest": -5}, "not invested"),
    ):
        body = {"model": "Growth", "accountList": [entry]}
        refused = await post(http, base, "model/invest-divest", body, status=400)
        assert words in refused["error"]
    assert (await post(http, base, "model/summary", {"model": "Growth"}))["numAccounts"] == 0


async def test_presets_default_off_and_are_saved(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    base = await advisor(start)
    presets = await post(http, base, "fa-preset/get", {"reqID": 540608})
    assert presets.pop("reqID") == 540608 and presets.pop("subscriptionStatus") == 1
    assert presets == {
        "avoidNegativeCashInIndependent": False,
        "closeDivestIndependentPosition": False,
        "fullyInvestExistingLongPositions": False,
        "keepModelOpen": False,
        "preferCrossWithIndependent": False,
        "preferTransferFromIndependent": False,
        "roundAllocationQuantityToExchangeBoardLot": False,
        "useNonBaseCcy": False,
        "useToleranceRange": False,
    }
    await post(http, base, "fa-preset/save", {"reqID": 1, "keepModelOpen": True})
    assert (await post(http, base, "fa-preset/get", {}))["keepModelOpen"] is True
    bad = await post(http, base, "fa-preset/save", {"useNonBaseCcy": "yes"}, status=400)
    assert "useNonBaseCcy" in bad["error"]


async def test_models_holdings_and_presets_survive_a_restart(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    first = await start(advisor=True, accounts=SUBS)
    base = first.base_url
    await call(http, "GET", f"{base}/v1/api/iserver/accounts")
    await save_growth(http, base)
    await invest(http, base, [{"account": "DU1000001", "amtToInvest": 40000}])
    await post(http, base, "fa-preset/save", {"useToleranceRange": True})
    before = await post(http, base, "model/positions", {"model": "Growth"})
    await first.stop()
    second = await advisor(start)
    after = await post(http, second, "model/positions", {"model": "Growth"})
    assert [(p["conid"], p["position"]) for p in after["positionList"]] == [
        (p["conid"], p["position"]) for p in before["positionList"]
    ]
    assert after["cash"][0]["mv"] == before["cash"][0]["mv"]
    assert (await post(http, second, "fa-preset/get", {}))["useToleranceRange"] is True
    summary = await post(http, second, "model/summary", {"model": "Growth"})
    assert (summary["desc"], summary["numAccounts"]) == ("Two big caps", 1)


async def test_without_advisor_every_model_route_is_refused(
    server: Any, http: aiohttp.ClientSession
) -> None:
    for route in (
        "model/list",
        "model/summary",
        "model/positions",
        "model/accounts-details",
        "model/invest-divest-positions",
        "model/save",
        "model/invest-divest",
        "model/rebalance/to-existing-targets",
        "model/submit-transfers",
        "fa-preset/get",
        "fa-preset/save",
    ):
        refused = await post(http, server.base_url, route, {"model": "Growth"}, status=400)
        assert "--advisor" in refused["error"]


def test_every_model_answer_matches_the_openapi_document(
    tickgate_server_factory: StartGateway,
) -> None:
    server = tickgate_server_factory(advisor=True)
    call = Checked(server)
    fa = "/v1/api/fa"
    account = server.config.accounts[0].account_id
    call("GET", "/v1/api/iserver/accounts")
    call("POST", f"{fa}/model/save", GROWTH)
    call("POST", f"{fa}/model/list", {"reqID": 1})
    draft = call(
        "POST",
        f"{fa}/model/invest-divest",
        {"model": "Growth", "accountList": [{"account": account, "amtToInvest": 20000}]},
    )
    call("POST", f"{fa}/model/submit-transfers", {"fpOrderId": draft["transfersInstructionId"]})
    for route in ("summary", "positions", "accounts-details", "invest-divest-positions"):
        call("POST", f"{fa}/model/{route}", {"reqID": 2, "model": "Growth"})
    call("POST", f"{fa}/model/positions", {"model": "Growth", "sortField": "conid", "limit": 1})
    call("POST", f"{fa}/model/rebalance/to-existing-targets", {"model": "Growth"})
    call("POST", f"{fa}/fa-preset/save", {"reqID": 3, "useToleranceRange": True})
    call("POST", f"{fa}/fa-preset/get", {"reqID": 4})
    call("POST", f"{fa}/model/summary", {"model": "Other"}, status=404)
    call("POST", f"{fa}/model/save", {**GROWTH, "cashTargets": []}, status=400)
    call("POST", f"{fa}/model/submit-transfers", {"fpOrderId": 999}, status=404)
    served = {f"POST /v1/api/fa/{path}" for _, path, _ in ROUTES_SEEN}
    assert call.seen - {"GET /v1/api/iserver/accounts"} == served
