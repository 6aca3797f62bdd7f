"""The brokerage session's status listeners."""

from __future__ import annotations

from tickgate.clock import FakeClock
from tickgate.server.session import Session


def test_forgetting_a_status_listener_twice_is_harmless() -> None:
    session = Session(FakeClock(), md_lines=100)
    seen: list[bool] = []
    forget = session.add_status_listener(seen.append)
    session.logout()
    forget()
    forget()  # a connection torn down by both its error path and its shutdown
    session.login()
    assert seen == [False]
    assert session.authenticated
