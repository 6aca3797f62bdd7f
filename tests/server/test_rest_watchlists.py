"""Watchlists over a real socket: IBKR's shapes, edits, errors, and survival across a restart."""

from __future__ import annotations

import stat
from pathlib import Path

import aiohttp
import orjson
import pytest
from tests.conftest import StartServer, call, make_config

from tickgate.server.app import build_app, start_server

ROWS = [{"C": 265598}, {"H": "Banks"}, {"C": 8314}]


async def test_create_read_list_delete_in_ibkr_shapes(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start()
    for prefix in ("/v1/api", "/v1/portal"):
        url = f"{server.base_url}{prefix}/iserver/watchlist"
        created = await call(http, "POST", url, json={"id": "1234", "name": "Tech", "rows": ROWS})
        assert set(created) == {"id", "hash", "name", "readOnly", "instruments"}
        assert created["id"] == "1234" and created["name"] == "Tech" and not created["readOnly"]
        one = await call(http, "GET", url, params={"id": "1234"})
        aapl, header, ibm = one["instruments"]
        assert aapl == {
            "ST": "STK", "C": "265598", "conid": 265598, "name": "APPLE INC",
            "fullName": "AAPL", "assetClass": "STK", "ticker": "AAPL",
        }  # fmt: skip
        assert header == {"H": "Banks"} and ibm["conid"] == 8314 and ibm["ticker"] == "IBM"
        listing = await call(http, "GET", f"{url}s", params={"SC": "USER_WATCHLIST"})
        assert listing["action"] == "content" and listing["MID"].isdigit()
        data = listing["data"]
        assert set(data) == {"scanners_only", "show_scanners", "bulk_delete", "user_lists"}
        (entry,) = data["user_lists"]
        assert entry == {
            "is_open": False, "read_only": False, "name": "Tech",
            "modified": int(created["hash"]), "id": "1234", "type": "watchlist",
        }  # fmt: skip
        renamed = await call(http, "POST", url, json={"id": 1234, "name": "Tech 2", "rows": []})
        assert renamed["instruments"] == []
        assert [w["name"] for w in (await call(http, "GET", f"{url}s"))["data"]["user_lists"]] == [
            "Tech 2"
        ]
        deleted = await call(http, "DELETE", url, params={"id": "1234"})
        assert deleted["data"] == {"deleted": "1234"} and deleted["action"] == "context"
        assert (await call(http, "GET", f"{url}s"))["data"]["user_lists"] == []
        await call(http, "GET", url, params={"id": "1234"}, status=404)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"id": "12a", "name": "x", "rows": []}, "watchlist id must be a number"),
        ({"name": "x", "rows": []}, "missing or invalid field 'id'"),
        ({"id": "1", "rows": []}, "missing or invalid field 'name'"),
        ({"id": "1", "name": " ", "rows": []}, "watchlist name must have"),
        ({"id": "1", "name": "x", "rows": [{"C": 1}]}, "Invalid conid 1"),
        ({"id": "1", "name": "x", "rows": [{"X": 1}]}, "a row is {C: conid} or {H: header}"),
        ({"id": "1", "name": "x", "rows": [{"C": "abc"}]}, "C"),
        ({"id": "1", "name": "x", "rows": {"C": 8314}}, "rows must be a list"),
    ],
)
async def test_bad_watchlists_are_refused_and_nothing_is_kept(
    start: StartServer, http: aiohttp.ClientSession, body: dict[str, object], message: str
) -> None:
    server = await start(store="memory")
    url = f"{server.base_url}/v1/api/iserver/watchlist"
    answer = await call(http, "POST", url, json=body, status=400)
    assert message in answer["error"]
    assert (await call(http, "GET", f"{url}s"))["data"]["user_lists"] == []


async def test_missing_ids_and_unknown_lists(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(store="memory")
    url = f"{server.base_url}/v1/api/iserver/watchlist"
    assert "'id'" in (await call(http, "GET", url, status=400))["error"]
    assert "'id'" in (await call(http, "DELETE", url, status=400))["error"]
    await call(http, "DELETE", url, params={"id": "77"}, status=404)
    await call(http, "GET", f"{url}s", params={"SC": "SYSTEM"}, status=400)


async def test_watchlists_survive_a_restart_in_a_private_file(
    tmp_path: Path, start: StartServer, http: aiohttp.ClientSession
) -> None:
    first = await start_server(build_app(make_config(tmp_path)))
    try:
        url = f"{first.base_url}/v1/api/iserver/watchlist"
        await call(http, "POST", url, json={"id": "1", "name": "Keep", "rows": ROWS})
        await call(http, "POST", url, json={"id": "2", "name": "Drop", "rows": []})
        await call(http, "DELETE", url, params={"id": "2"})
    finally:
        await first.stop()
    path = tmp_path / "data" / "watchlists.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [w["name"] for w in orjson.loads(path.read_bytes())["watchlists"]] == ["Keep"]
    second = await start()
    url = f"{second.base_url}/v1/api/iserver/watchlist"
    kept = await call(http, "GET", url, params={"id": "1"})
    assert [i.get("conid") for i in kept["instruments"]] == [265598, None, 8314]
    assert [w["id"] for w in (await call(http, "GET", f"{url}s"))["data"]["user_lists"]] == ["1"]


async def test_memory_store_writes_no_file(
    tmp_path: Path, start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(store="memory")
    url = f"{server.base_url}/v1/api/iserver/watchlist"
    await call(http, "POST", url, json={"id": "5", "name": "Temp", "rows": [{"C": 8314}]})
    assert not (tmp_path / "data" / "watchlists.json").exists()


async def test_delete_takes_the_id_from_the_query_or_the_json_body(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(store="memory")
    url = f"{server.base_url}/v1/api/iserver/watchlist"
    for watchlist_id in ("1", "2", "3"):
        await call(http, "POST", url, json={"id": watchlist_id, "name": "x", "rows": []})
    deleted = await call(http, "DELETE", url, json={"id": "1"})
    assert deleted["data"] == {"deleted": "1"}
    deleted = await call(http, "DELETE", url, json={"id": 2})
    assert deleted["data"] == {"deleted": "2"}
    # the query wins over the body
    deleted = await call(http, "DELETE", url, params={"id": "3"}, json={"id": "77"})
    assert deleted["data"] == {"deleted": "3"}
    assert (await call(http, "GET", f"{url}s"))["data"]["user_lists"] == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"id=1", "request body is not valid JSON"),
        (b"[1]", "request body must be a JSON object"),
        (b'{"name": "x"}', "missing required parameter 'id'"),
        (b'{"id": true}', "invalid field 'id'"),
        (b'{"id": ["1"]}', "invalid field 'id'"),
        (b'{"id": " "}', "invalid field 'id'"),
    ],
)
async def test_delete_refuses_a_bad_body(
    start: StartServer, http: aiohttp.ClientSession, body: bytes, message: str
) -> None:
    server = await start(store="memory")
    url = f"{server.base_url}/v1/api/iserver/watchlist"
    await call(http, "POST", url, json={"id": "1", "name": "x", "rows": []})
    answer = await call(
        http, "DELETE", url, data=body, headers={"Content-Type": "application/json"}, status=400
    )
    assert message in answer["error"]
    assert [w["id"] for w in (await call(http, "GET", f"{url}s"))["data"]["user_lists"]] == ["1"]
