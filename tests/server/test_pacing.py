"""Optional REST pacing: the reference's rate limits, off by default."""

from __future__ import annotations

import aiohttp
from tests.conftest import StartServer

from tickgate.server.app import RunningServer


async def statuses(http: aiohttp.ClientSession, url: str, n: int) -> list[int]:
    out = []
    for _ in range(n):
        async with http.get(url) as response:
            await response.read()
            out.append(response.status)
    return out


async def test_pacing_is_off_by_default(server: RunningServer, http: aiohttp.ClientSession) -> None:
    codes = await statuses(http, server.base_url + "/v1/api/portfolio/accounts", 5)
    assert codes == [200] * 5


async def test_pacing_answers_429_past_the_reference_limits(
    start: StartServer, http: aiohttp.ClientSession
) -> None:
    server = await start(rest_pacing=True)
    codes = await statuses(http, server.base_url + "/v1/api/portfolio/accounts", 2)
    assert codes == [200, 429]
    async with http.get(server.base_url + "/v1/portal/portfolio/accounts") as response:
        assert response.status == 429  # both prefixes are one gateway
        assert await response.json() == {"error": "Too many requests"}
    many = await statuses(http, server.base_url + "/v1/api/iserver/accounts", 12)
    assert 429 in many and many[:5] == [200] * 5
