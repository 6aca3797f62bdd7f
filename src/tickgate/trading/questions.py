"""The order question/reply flow (protocol reference §8.5, §10.1).

A placement that needs confirmation is parked under a reply id; `POST /iserver/reply/{id}`
answers it. Rules kept here:
- questions whose message id is suppressed are skipped;
- a reply id is single-use; a second question of the same placement gets a new id;
- any other command in between (`interrupt`) makes pending ids stale: replying then raises
  `QuestionExpired` (a 503 at the HTTP boundary);
- an id never issued raises `UnknownQuestion` (`reply id not found: '<id>'`), `confirmed: false`
  raises `OrderNotConfirmed` (both 400).
Reply ids are UUIDs drawn from a generator: seeded, runs are reproducible; unseeded (a
gateway's default), it draws from os.urandom, so an id never repeats across processes.
"""

from __future__ import annotations

import random
import re
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, TypeVar

from tickgate.errors import RequestError
from tickgate.model.instruments import Instrument
from tickgate.model.orders import OrderType
from tickgate.protocol.rest.contracts import contract_name
from tickgate.protocol.rest.orders import question
from tickgate.protocol.rest_values import shown
from tickgate.trading.commands import PlaceOrder
from tickgate.trading.errors import OrderNotConfirmed, QuestionExpired, UnknownQuestion

PRICE_CONSTRAINT = Decimal("0.03")
_STALE_MEMORY = 1024
#: IBKR message ids look like "o163", "p6" or "o10151".
_MESSAGE_ID = re.compile(r"[a-z]{1,2}[0-9]{1,6}", re.ASCII)
#: Most message ids suppressed at once; keeps the set bounded whatever clients send.
MAX_SUPPRESSED = 256
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Question:
    """One question: the IBKR message id and its text."""

    message_id: str
    text: str


def _describe(request: PlaceOrder, instrument: Instrument) -> str:
    # An option or future is named with its expiry (and strike and right), as IBKR does.
    name = contract_name(instrument)
    text = f"{request.side.value} {request.quantity} {name} {instrument.exchange}"
    return text if request.price is None else f"{text} @ {request.price}"


def questions_for(
    request: PlaceOrder, instrument: Instrument, reference: Decimal | None
) -> list[Question]:
    """The questions IBKR would ask before accepting `request` (`reference`: market price)."""
    found: list[Question] = []
    if reference is None or reference <= 0:
        found.append(Question("o354", _NO_DATA))
    elif (
        request.price is not None and abs(request.price - reference) > reference * PRICE_CONSTRAINT
    ):
        found.append(Question("o163", _PRICE_TEXT.format(_describe(request, instrument))))
    if request.order_type is OrderType.MKT:
        found.append(Question("o10151", _MARKET_TEXT))
    return found


_PRICE_TEXT = (
    'The following order "{}" price exceeds \nthe Percentage constraint of 3%.\n'
    "Are you sure you want to submit this order?"
)
_NO_DATA = (
    "You are submitting an order without market data. We strongly recommend against this as it"
    " may result in erroneous and unexpected trades.\nAre you sure you want to submit this order?"
)
_MARKET_TEXT = (
    "A Market Order is an instruction to trade your order at any available price, which may be"
    " far from the last or quoted price.\nAre you sure you want to submit this order?"
)


@dataclass(slots=True)
class _Pending(Generic[T]):
    payload: T
    questions: list[Question]


class QuestionBook(Generic[T]):
    """Pending confirmations and suppressed message ids. `T` is the parked placement."""

    def __init__(self, *, seed: int | None = 0) -> None:
        """`seed` makes the reply ids reproducible; None seeds them from os.urandom, so no
        two processes (a restart included) draw the same ids."""
        self._rng = random.Random(seed)  # None: random seeds itself from os.urandom
        self._pending: dict[str, _Pending[T]] = {}
        self._stale: OrderedDict[str, None] = OrderedDict()
        self.suppressed: set[str] = set()

    def suppress(self, message_ids: list[str]) -> None:
        """Stop asking the questions with these message ids.

        Raises RequestError (400), suppressing none of them, for an id not spelt like IBKR's
        ("o163") or when more than `MAX_SUPPRESSED` ids would be suppressed.
        """
        for message_id in message_ids:
            if not _MESSAGE_ID.fullmatch(message_id):
                raise RequestError(
                    f"Invalid messageIds: {shown(message_id)} is not a message id like 'o163'"
                )
        if len(self.suppressed.union(message_ids)) > MAX_SUPPRESSED:
            raise RequestError(
                f"Too many suppressed message ids: at most {MAX_SUPPRESSED}; reset them first"
            )
        self.suppressed.update(message_ids)

    def reset(self) -> None:
        """Ask every question again."""
        self.suppressed.clear()

    def unsuppressed(self, questions: list[Question]) -> list[Question]:
        """`questions` minus suppressed ones and duplicates, in order."""
        seen: set[str] = set()
        kept = []
        for q in questions:
            if q.message_id not in self.suppressed and q.message_id not in seen:
                seen.add(q.message_id)
                kept.append(q)
        return kept

    def ask(self, payload: T, questions: list[Question]) -> list[dict[str, Any]]:
        """Park `payload` behind the first of `questions` (non-empty); the wire answer."""
        reply_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
        self._pending[reply_id] = _Pending(payload, questions)
        first = questions[0]
        return question(reply_id, first.message_id, first.text)

    @property
    def pending(self) -> bool:
        """True while some reply id awaits its answer."""
        return bool(self._pending)

    def interrupt(self) -> None:
        """Another request came in: every pending reply id becomes stale."""
        for reply_id in self._pending:
            self._stale[reply_id] = None
        while len(self._stale) > _STALE_MEMORY:
            self._stale.popitem(last=False)
        self._pending.clear()

    def answer(self, reply_id: str, confirmed: bool) -> tuple[T, list[Question]]:
        """Consume a reply: the parked payload and the questions still to ask.

        Raises QuestionExpired for a stale id, UnknownQuestion for an id never issued,
        OrderNotConfirmed for a declined one.
        """
        pending = self._pending.pop(reply_id, None)
        if pending is None:
            if reply_id in self._stale:
                raise QuestionExpired(f"reply id is no longer valid: {shown(reply_id)}")
            raise UnknownQuestion(f"reply id not found: {shown(reply_id)}")
        if not confirmed:
            raise OrderNotConfirmed("order not confirmed")
        return pending.payload, pending.questions[1:]
