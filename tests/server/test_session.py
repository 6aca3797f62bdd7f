"""The brokerage session's status listeners."""

from __future__ import annotations

from tickgate.clock import FakeClock
from tickgate.dialects.brokerage import SessionStatus, StatusChange
from tickgate.server.session import BrokerSession


def test_forgetting_a_status_listener_twice_is_harmless() -> None:
    session = BrokerSession(FakeClock())
    seen: list[bool | None] = []
    forget = session.add_status_listener(lambda change: seen.append(change.login))
    session.logout()
    forget()
    forget()  # a connection torn down by both its error path and its shutdown
    session.login()
    assert seen == [False]
    assert session.authenticated


def test_a_competing_session_is_told_until_the_next_login_and_ends_no_login() -> None:
    session = BrokerSession(FakeClock())
    changes: list[StatusChange] = []
    session.add_status_listener(changes.append)
    session.compete()
    session.compete()  # already competing: nothing new to tell
    assert session.status() == SessionStatus(authenticated=False, competing=True)
    assert session.authenticated  # REST keeps answering: only a logout ends the login
    identity = session.id
    session.login()  # ssodh/init: the session is ours again, with the id clients hold
    assert session.status() == SessionStatus(authenticated=True) and session.id == identity
    assert changes == [
        StatusChange(SessionStatus(authenticated=False, competing=True)),
        StatusChange(SessionStatus(authenticated=True)),
    ]


def test_behind_a_relay_the_status_is_the_upstreams_too() -> None:
    session = BrokerSession(FakeClock())
    changes: list[StatusChange] = []
    session.set_upstream(SessionStatus(authenticated=False))  # before any upstream word
    session.add_status_listener(changes.append)
    assert session.status() == SessionStatus(authenticated=False)
    session.set_upstream(SessionStatus(authenticated=True))
    session.set_upstream(SessionStatus(authenticated=True))  # no change, nothing told
    session.logout()
    session.set_upstream(SessionStatus(authenticated=False, competing=True))
    session.login()
    assert changes == [
        StatusChange(SessionStatus(authenticated=True)),
        StatusChange(SessionStatus(authenticated=False), login=False),
        StatusChange(SessionStatus(authenticated=False, competing=True)),
        StatusChange(SessionStatus(authenticated=False, competing=True), login=True),
    ]
