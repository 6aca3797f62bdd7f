"""The brokerage session's status listeners."""

from __future__ import annotations

from tickgate.clock import FakeClock
from tickgate.server.session import BrokerSession


def test_forgetting_a_status_listener_twice_is_harmless() -> None:
    session = BrokerSession(FakeClock())
    seen: list[bool] = []
    forget = session.add_status_listener(seen.append)
    session.logout()
    forget()
    forget()  # a connection torn down by both its error path and its shutdown
    session.login()
    assert seen == [False]
    assert session.authenticated
