"""A relay's upstream address as configured (to connect) and as shown (everywhere else).

`--upstream http://USER:TOKEN@HOST:PORT` is how a relay reaches a token-protected tickgate
(the token as the password of Basic authentication). Only the connection may use those
credentials: the banner, `/readyz`, `/tickgate/status`, log lines and error answers show
`shown`, the address with its password replaced by `[redacted]`, and `scrub` does the same to
any text that quotes the address as configured (an error message built from it).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from tickgate.log_format import REDACTED


@dataclass(frozen=True, slots=True)
class UpstreamAddress:
    """`url` as configured, credentials included; `shown` with its password redacted."""

    url: str
    shown: str
    #: The `USER:PASSWORD@` part as configured (None when the address has no credentials).
    userinfo: str | None = None
    #: The password (or a lone user) as configured and decoded (`%40` stands for `@`).
    secrets: tuple[str, ...] = ()

    @classmethod
    def parse(cls, url: str) -> UpstreamAddress:
        """The address `url` (any string: what is not a URL with credentials is shown as is).
        A user without a password may itself be a token, so it is redacted then."""
        netloc = urlsplit(url).netloc
        userinfo, at, _host = netloc.rpartition("@")
        if not at or not userinfo:
            return cls(url, url)
        user, colon, password = userinfo.partition(":")
        secret = password if colon else user
        if not secret:
            return cls(url, url)
        written = userinfo + "@"
        address = cls(url, url, written, tuple(dict.fromkeys((secret, unquote(secret)))))
        return cls(url, address.scrub(url), written, address.secrets)

    def scrub(self, text: str) -> str:
        """`text` with every quote of the address's credentials replaced by `[redacted]`."""
        if self.userinfo is None:
            return text
        user, colon, _password = self.userinfo.partition(":")
        return text.replace(self.userinfo, f"{user}:{REDACTED}@" if colon else f"{REDACTED}@")
