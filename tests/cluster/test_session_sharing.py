"""Session state a single gateway keeps and a cluster shares, over a real nats-server between
real members: the selected account, and the order question that any other request makes
stale (including one an edge answers itself)."""

from __future__ import annotations

from typing import Any

import aiohttp
from tests.cluster.conftest import Member, StartMember, wait_for
from tests.conftest import call

from tickgate.model.accounts import AccountConfig
from tickgate.server.cluster.session_sync import EDGE_SESSION

FIRST, SECOND = "DU1111111", "DU2222222"
AAPL = 265598
ACCOUNTS = (AccountConfig(FIRST), AccountConfig(SECOND))


def api(member: Member) -> str:
    return member.base_url + "/v1/api"


async def selected(http: aiohttp.ClientSession, member: Member) -> str:
    return str((await call(http, "GET", api(member) + "/iserver/accounts"))["selectedAccount"])


async def test_an_account_selected_through_an_edge_is_the_selected_one_everywhere(
    start_member: StartMember, http: aiohttp.ClientSession
) -> None:
    core = await start_member("core", accounts=ACCOUNTS)
    edge = await start_member("edge", accounts=ACCOUNTS)
    other = await start_member("edge", accounts=ACCOUNTS)
    assert await selected(http, edge) == FIRST
    switched = await call(http, "POST", api(edge) + "/iserver/account", json={"acctId": SECOND})
    assert switched == {"set": True, "acctId": SECOND}
    # The same client's next request, on the edge it selected through: already selected.
    assert await selected(http, edge) == SECOND
    assert await selected(http, core) == SECOND
    await wait_for(lambda: other.server.gateway.session.selected_account == SECOND)
    assert await selected(http, other) == SECOND
    # Selected on the core, seen on the edges; a logout forgets it everywhere.
    await call(http, "POST", api(core) + "/iserver/account", json={"acctId": FIRST})
    await wait_for(lambda: edge.server.gateway.session.selected_account == FIRST)
    assert await selected(http, edge) == FIRST
    await call(http, "POST", api(core) + "/iserver/account", json={"acctId": SECOND})
    await wait_for(lambda: other.server.gateway.session.selected_account == SECOND)
    await call(http, "POST", api(other) + "/logout")
    await wait_for(lambda: edge.server.gateway.session.selected_account is None)


async def question(http: aiohttp.ClientSession, member: Member) -> str:
    """Place a market order through `member`; the id of the question it is parked behind."""
    order = {"conid": AAPL, "side": "BUY", "orderType": "MKT", "quantity": 1, "tif": "DAY"}
    asked = await call(
        http,
        "POST",
        api(member) + f"/iserver/account/{FIRST}/orders",
        json={"orders": [order]},
    )
    assert "message" in asked[0], asked
    return str(asked[0]["id"])


async def reply(http: aiohttp.ClientSession, member: Member, reply_id: str, status: int) -> Any:
    return await call(
        http,
        "POST",
        api(member) + f"/iserver/reply/{reply_id}",
        json={"confirmed": True},
        status=status,
    )


async def test_a_request_an_edge_answers_itself_makes_the_cores_question_stale(
    start_member: StartMember, http: aiohttp.ClientSession
) -> None:
    await start_member("core", accounts=ACCOUNTS)
    edge = await start_member("edge", accounts=ACCOUNTS)
    other = await start_member("edge", accounts=ACCOUNTS)
    await call(http, "GET", api(edge) + "/iserver/accounts")
    contract = f"/iserver/secdef/info?conid={AAPL}&sectype=STK"  # answered by the edge itself
    # Question, then its reply at once: accepted (the order is placed or asks again).
    answered = await reply(http, edge, await question(http, edge), 200)
    assert isinstance(answered, list) and answered
    # Question, a contract lookup on the same edge, then the reply: stale, as on one gateway.
    stale = await question(http, edge)
    await call(http, "GET", api(edge) + contract)
    refused = await reply(http, edge, stale, 503)
    assert "no longer valid" in refused["error"]
    # Question through one edge, a request another edge answers itself: stale too.
    asked = await question(http, edge)
    other_session = other.server.runner.app[EDGE_SESSION]
    await wait_for(lambda: other_session.replies_pending)
    await call(http, "GET", api(other) + contract)
    refused = await reply(http, edge, asked, 503)
    assert "no longer valid" in refused["error"]
