"""Financial Advisor model portfolios (IBKR's `/fa/model/*`): named sets of target weights per
contract, into which the advisor invests sub-accounts' cash.

A model holds, per contract, the fraction of the model's value it should be in, and a cash
fraction; together they total 1 (IBKR's observed rule: fractions, not percentages). An account
invested in a model owns a part of its own account that is the model's: the cash invested and
what the model's orders bought with it. tickgate attributes positions to a model by its own
orders: a model's position in an account is the signed filled quantity of the orders the model
placed there, its cash the net amount invested less what those fills paid (commissions stay
with the account), both read from the journal, so every figure comes from real fills and the
engine's current marks. What is not the model's is the account's "Independent" part.

Invest, divest and rebalance first draft the orders (IBKR's transfers instruction), which
`submit` then places through the trading engine's desk as market orders, all or none and
without order questions, as IBKR's model orders are. Models, the accounts' investments and
the model presets are documents of the trading store and survive a restart; a draft lives
only in memory until it is submitted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal
from typing import Any

from tickgate.errors import NotFoundError, RequestError
from tickgate.model.instruments import Instrument
from tickgate.model.orders import Order, OrderType, Side, TimeInForce
from tickgate.trading.commands import PlaceOrder
from tickgate.trading.documents import Document, DocumentStore
from tickgate.trading.engine import TradingEngine
from tickgate.trading.portfolio import Position

MODEL_KIND = "fa_model"
HOLDING_KIND = "fa_model_holding"
PRESETS_KIND = "fa_model_presets"
_PRESETS_KEY = "presets"
MAX_MODEL_NAME = 64
MAX_TARGETS = 200
#: Targets may total 1 within this (IBKR's own example totals 1.0001).
WEIGHT_SLACK = Decimal("0.001")
#: An instrument is "outside its range" when its actual weight is further than this from its
#: target (without a tolerance range, IBKR's comparison is to the target itself).
EXACT = Decimal("0.0001")
_ONE = Decimal(1)
_ZERO = Decimal(0)

#: The fields `/fa/model/positions` sorts by (IBKR's `sortField` values).
SORT_FIELDS = (
    "actual", "actualRangeMax", "actualRangeMin", "ccy", "conid", "dlv", "instrumentImbalance",
    "instrument", "mismatchType", "mv", "position", "target",
)  # fmt: skip
#: IBKR's model presets (`/fa/fa-preset/*`), all off by default. They are kept and shown; the
#: docstring of `ModelPresets` says which change what tickgate does.
PRESET_FLAGS = (
    "avoidNegativeCashInIndependent",
    "closeDivestIndependentPosition",
    "fullyInvestExistingLongPositions",
    "keepModelOpen",
    "preferCrossWithIndependent",
    "preferTransferFromIndependent",
    "roundAllocationQuantityToExchangeBoardLot",
    "useNonBaseCcy",
    "useToleranceRange",
)


@dataclass(frozen=True, slots=True)
class Target:
    """One contract of a model and the fraction of the model's value it should be."""

    conid: int
    weight: Decimal


@dataclass(frozen=True, slots=True)
class Model:
    """A model portfolio: its contracts' targets and its cash target (base currency)."""

    name: str
    desc: str
    is_static: bool
    targets: tuple[Target, ...]
    cash_currency: str
    cash_weight: Decimal

    def to_document(self) -> Document:
        return {
            "name": self.name,
            "desc": self.desc,
            "isStatic": self.is_static,
            "targets": [[t.conid, str(t.weight)] for t in self.targets],
            "cash": [self.cash_currency, str(self.cash_weight)],
        }

    @classmethod
    def from_document(cls, doc: Document) -> Model:
        targets = tuple(Target(int(c), Decimal(w)) for c, w in doc["targets"])
        ccy, weight = doc["cash"]
        return cls(doc["name"], doc["desc"], bool(doc["isStatic"]), targets, ccy, Decimal(weight))

    def weight_of(self, conid: int) -> Decimal:
        return next((t.weight for t in self.targets if t.conid == conid), _ZERO)


@dataclass(frozen=True, slots=True)
class Holding:
    """One account's investment in one model: the net cash invested and the model's orders.
    `closed` after a whole divest: once its orders are done, what cash is left (the fills'
    difference to the marks it was valued at) goes back to the Independent part."""

    account: str
    model: str
    invested: Decimal
    orders: tuple[int, ...]
    closed: bool = False

    @property
    def key(self) -> str:
        return holding_key(self.account, self.model)

    def to_document(self) -> Document:
        return {
            "account": self.account,
            "model": self.model,
            "invested": str(self.invested),
            "orders": list(self.orders),
            "closed": self.closed,
        }

    @classmethod
    def from_document(cls, doc: Document) -> Holding:
        orders = tuple(int(i) for i in doc["orders"])
        closed = bool(doc.get("closed", False))
        return cls(doc["account"], doc["model"], Decimal(doc["invested"]), orders, closed)


def holding_key(account: str, model: str) -> str:
    # Account ids hold no colon, so the first one splits the key unambiguously.
    return f"{account}:{model}"


@dataclass(frozen=True, slots=True)
class ModelPresets:
    """IBKR's model presets. Two change what tickgate does: `closeDivestIndependentPosition`
    lets a divest of more than the model's value in an account sell all the model holds there
    (off, it is refused); `keepModelOpen` keeps a wholly divested account listed in the model
    (off, it leaves once its orders are done). The other flags choose between the Independent
    part and the model (crosses, transfers, non-base cash, board lots, tolerance ranges),
    which a paper account with one currency per model and whole-unit market orders has no
    second way to do; they are kept and shown."""

    flags: tuple[tuple[str, bool], ...] = tuple((name, False) for name in PRESET_FLAGS)

    def value(self, name: str) -> bool:
        return dict(self.flags)[name]

    def to_document(self) -> Document:
        return dict(self.flags)

    @classmethod
    def from_document(cls, doc: Document) -> ModelPresets:
        return cls(tuple((name, bool(doc.get(name, False))) for name in PRESET_FLAGS))


@dataclass(frozen=True, slots=True)
class Line:
    """The model's position in one contract of one account, valued in the base currency."""

    instrument: Instrument
    quantity: Decimal
    market_value: Decimal
    cost: Decimal
    target: Decimal


@dataclass(frozen=True, slots=True)
class Stake:
    """What of one account is the model's, right now."""

    holding: Holding
    lines: tuple[Line, ...]
    cash: Decimal
    working: bool  # a model order of this account still works

    @property
    def market_value(self) -> Decimal:
        return sum((line.market_value for line in self.lines), _ZERO)

    @property
    def flat(self) -> bool:
        return all(line.quantity == 0 for line in self.lines)

    @property
    def nlv(self) -> Decimal:
        return self.market_value + self.cash

    def actual(self, line: Line) -> Decimal:
        nlv = self.nlv
        return line.market_value / nlv if nlv else _ZERO

    def imbalance(self) -> Decimal:
        """The sum over the model's contracts of |actual - target| (IBKR's account imbalance,
        cash left out)."""
        return sum((abs(self.actual(line) - line.target) for line in self.lines), _ZERO)

    def outside_range(self) -> int:
        return sum(1 for line in self.lines if abs(self.actual(line) - line.target) > EXACT)


@dataclass(frozen=True, slots=True)
class Transfers:
    """A drafted transfers instruction: orders per account, and the cash each moves into
    (positive) or out of (negative) the model when submitted, with whether that divests the
    account's whole part."""

    instruction_id: int
    model: str
    orders: tuple[tuple[str, tuple[PlaceOrder, ...]], ...]
    invested: tuple[tuple[str, Decimal, bool], ...]


@dataclass(slots=True)
class ModelDesk:
    """The advisor's models, their accounts and presets, persisted in `store`; orders through
    `engine`. `advisor` is None for a login that is no advisor (every call raises RequestError
    then). Not thread-safe (the event loop's)."""

    store: DocumentStore
    engine: TradingEngine
    advisor: str | None
    sub_accounts: tuple[str, ...]
    base_currency: str = "USD"
    _models: dict[str, Model] = field(default_factory=dict)
    _holdings: dict[str, Holding] = field(default_factory=dict)
    _presets: ModelPresets = field(default_factory=ModelPresets)
    _drafts: dict[int, Transfers] = field(default_factory=dict)
    _next_draft: int = 1

    def __post_init__(self) -> None:
        if self.advisor is None:
            return
        for _, doc in self.store.documents(MODEL_KIND):
            model = Model.from_document(doc)
            self._models[model.name] = model
        for _, doc in self.store.documents(HOLDING_KIND):
            holding = Holding.from_document(doc)
            self._holdings[holding.key] = holding
        for _, doc in self.store.documents(PRESETS_KIND):
            self._presets = ModelPresets.from_document(doc)

    # ---- reads ----------------------------------------------------------------------------

    def require_advisor(self) -> str:
        """The master account id. Raises RequestError when the login is no advisor."""
        if self.advisor is None:
            raise RequestError(
                "Model portfolios are for Financial Advisor logins: this one has no "
                "sub-accounts (start tickgate with --advisor)"
            )
        return self.advisor

    def models(self) -> list[Model]:
        """Every model, in the order they were first saved."""
        self.require_advisor()
        return list(self._models.values())

    def model(self, name: Any) -> Model:
        """The model called `name`. Raises RequestError for a malformed name, NotFoundError
        for no such model."""
        self.require_advisor()
        text = _name(name, "model")
        found = self._models.get(text)
        if found is None:
            raise NotFoundError(f"No model named {text!r}")
        return found

    def presets(self) -> ModelPresets:
        self.require_advisor()
        return self._presets

    def holdings(self, model: str) -> list[Holding]:
        """The accounts invested in `model`, in sub-account order."""
        found = [self._holdings.get(holding_key(a, model)) for a in self.sub_accounts]
        return [h for h in found if h is not None]

    def stakes(self, model: Model) -> list[Stake]:
        """The model's part of every account invested in it, valued now. An account wholly
        divested leaves the model once its orders are done, unless the presets'
        `keepModelOpen` keeps it listed (at no value)."""
        self.engine.journal.settle()
        stakes = [self.stake(model, h) for h in self.holdings(model.name)]
        if self._presets.value("keepModelOpen"):
            return stakes
        return [s for s in stakes if not (s.holding.closed and not s.working and s.flat)]

    def stake(self, model: Model, holding: Holding) -> Stake:
        """What of `holding`'s account is `model`'s: its orders' filled quantities valued at
        the engine's marks, and the invested cash less what the fills paid."""
        portfolio = self.engine.journal.portfolio_of(holding.account)
        positions: dict[int, Position] = {}
        paid = _ZERO
        working = False
        for order_id in holding.orders:
            order = self.engine.journal.known_order(order_id)
            if order is None:
                continue
            working = working or order.is_working
            if order.filled_quantity == 0 or order.avg_price is None:
                continue
            instrument = self.engine.instrument(order.conid)
            position = positions.setdefault(
                order.conid,
                Position(order.conid, instrument.sec_type, instrument.multiplier,
                         currency=instrument.currency),
            )  # fmt: skip
            signed = order.filled_quantity * order.side.sign
            position.apply(signed, order.avg_price)
            paid += portfolio.in_base(
                signed * order.avg_price * instrument.multiplier, instrument.currency
            )
        conids = [t.conid for t in model.targets]
        conids += [c for c in positions if c not in conids]  # held, though no longer a target
        lines = []
        for conid in conids:
            instrument = self.engine.instrument(conid)
            held = positions.get(conid)
            quantity = held.quantity if held is not None else _ZERO
            price = self.price(holding.account, instrument)
            value = portfolio.in_base(quantity * price * instrument.multiplier, instrument.currency)
            cost = portfolio.in_base(held.cost if held is not None else _ZERO, instrument.currency)
            lines.append(Line(instrument, quantity, value, cost, model.weight_of(conid)))
        cash = holding.invested - paid
        if holding.closed and not working:
            cash = _ZERO  # returned to the Independent part
        return Stake(holding, tuple(lines), cash, working)

    def price(self, account: str, instrument: Instrument) -> Decimal:
        """The price a model values `instrument` at: the account's mark when it holds it, else
        the market's reference price, else the catalogue's."""
        held = self.engine.journal.portfolio_of(account).positions.get(instrument.conid)
        if held is not None and held.mark > 0:
            return held.mark
        return self.engine.desk.reference(instrument) or instrument.reference_price

    def independent_cash(self, account: str) -> Decimal:
        """The account's cash that no model holds (base currency)."""
        portfolio = self.engine.journal.portfolio_of(account)
        in_models = sum(
            (
                self.stake(self._models[h.model], h).cash
                for h in self._holdings.values()
                if h.account == account and h.model in self._models
            ),
            _ZERO,
        )
        return portfolio.cash - in_models

    def account_models(self, account: str) -> list[Stake]:
        """The account's stake in every model it is invested in."""
        return [
            self.stake(self._models[h.model], h)
            for h in self._holdings.values()
            if h.account == account and h.model in self._models
        ]

    # ---- changes --------------------------------------------------------------------------

    def save(self, raw: Mapping[str, Any]) -> Model:
        """`POST /fa/model/save`: create or replace a model from IBKR's body (`model`, `desc`,
        `isStatic`, `positionTargets: [{conid, target}]`, `cashTargets: [{ccy, target}]`).

        Raises RequestError for a malformed body, targets that do not total 1, an unknown
        contract, or a change of `isStatic` on a model accounts are invested in.
        """
        self.require_advisor()
        name = _name(raw.get("model"), "model")
        desc = raw.get("desc")
        if not isinstance(desc, str) or len(desc) > 256 or not desc.isprintable():
            raise RequestError("desc must be a description of at most 256 printable characters")
        is_static = raw.get("isStatic")
        if not isinstance(is_static, bool):
            raise RequestError("isStatic must be true or false")
        targets = self._targets(raw.get("positionTargets"))
        ccy, cash = self._cash_target(raw.get("cashTargets"))
        total = sum((t.weight for t in targets), cash)
        if abs(total - _ONE) > WEIGHT_SLACK:
            raise RequestError(
                f"The targets of model {name!r} total {total}: positionTargets and cashTargets "
                "are fractions of the model that must total 1"
            )
        old = self._models.get(name)
        if old is not None and old.is_static != is_static and self.holdings(name):
            raise RequestError(
                f"isStatic of model {name!r} cannot change while accounts are invested in it"
            )
        model = Model(name, desc, is_static, targets, ccy, cash)
        self.store.put_documents(MODEL_KIND, {name: model.to_document()})
        self._models[name] = model
        return model

    def set_presets(self, raw: Mapping[str, Any]) -> None:
        """`POST /fa/fa-preset/save`: the flags given replace the current values. Raises
        RequestError for a value that is not a boolean."""
        self.require_advisor()
        current = dict(self._presets.flags)
        for name in PRESET_FLAGS:
            value = raw.get(name)
            if value is None:
                continue
            if not isinstance(value, bool):
                raise RequestError(f"Invalid {name}: {value!r}; expected true or false")
            current[name] = value
        presets = ModelPresets(tuple((n, current[n]) for n in PRESET_FLAGS))
        self.store.put_documents(PRESETS_KIND, {_PRESETS_KEY: presets.to_document()})
        self._presets = presets

    def invest_divest(self, model: Model, raw_accounts: Any) -> Transfers:
        """`POST /fa/model/invest-divest`: draft the orders that move each account's
        `amtToInvest` into the model (positive: buy each contract's target share of it, whole
        units, rounded down) or out of it (negative: sell the same fraction of each of the
        model's positions, rounded down; all of them for the model's whole value).

        Raises RequestError for a malformed list, an account that is no sub-account, a zero
        amount, more than the account's independent cash, or a divest beyond the model's
        value (unless `closeDivestIndependentPosition`).
        """
        if not isinstance(raw_accounts, list) or not raw_accounts or len(raw_accounts) > 100:
            raise RequestError('accountList must be 1-100 of {"account": ID, "amtToInvest": N}')
        orders: list[tuple[str, tuple[PlaceOrder, ...]]] = []
        invested: list[tuple[str, Decimal, bool]] = []
        self.engine.journal.settle()
        for entry in raw_accounts:
            if not isinstance(entry, Mapping):
                raise RequestError('each of accountList must be {"account": ID, "amtToInvest": N}')
            account = self._sub_account(entry.get("account"))
            if any(a == account for a, _, _ in invested):
                raise RequestError(f"{account} is listed twice in accountList")
            amount = _amount(entry.get("amtToInvest"))
            if amount > 0:
                batch, moved, whole = *self._invest(model, account, amount), False
            else:
                batch, moved, whole = self._divest(model, account, -amount)
            orders.append((account, batch))
            invested.append((account, moved, whole))
        return self._draft(model.name, orders, invested)

    def rebalance(self, model: Model) -> Transfers:
        """`POST /fa/model/rebalance/to-existing-targets`: draft the orders that bring every
        invested account's part to the model's targets at today's prices (whole units, buys
        rounded down so the cash covers them).

        Raises RequestError when no account is invested, or a model order still works.
        """
        stakes = self.stakes(model)
        if not stakes:
            raise RequestError(f"No account is invested in model {model.name!r}")
        orders = []
        for stake in stakes:
            self._idle(stake)
            batch = []
            for line in stake.lines:
                unit = self._unit_value(stake.holding.account, line.instrument)
                wanted = (line.target * stake.nlv / unit).to_integral_value(ROUND_FLOOR)
                batch += _orders_for(line.instrument, wanted - line.quantity)
            orders.append((stake.holding.account, tuple(batch)))
        moved = tuple((s.holding.account, _ZERO, False) for s in stakes)
        return self._draft(model.name, orders, moved)

    def draft(self, instruction_id: Any) -> Transfers:
        """The pending draft `instruction_id`. Raises RequestError for a malformed id,
        NotFoundError for none pending."""
        self.require_advisor()
        if isinstance(instruction_id, bool) or not isinstance(instruction_id, int | str):
            raise RequestError("fpOrderId must be the transfersInstructionId of a draft")
        try:
            key = int(instruction_id)
        except ValueError:
            raise RequestError("fpOrderId must be the transfersInstructionId of a draft") from None
        found = self._drafts.get(key)
        if found is None:
            raise NotFoundError(f"No pending transfers instruction {key}")
        return found

    def submit(self, draft: Transfers) -> list[Order]:
        """`POST /fa/model/submit-transfers`: place the draft's orders (all or none) and record
        them, with the cash moved, in the accounts' holdings before they are stored.

        Every pending draft of the model ends with it (each was computed on the holdings
        this one changes). Raises what `PlacementDesk.place_unasked` raises; the draft stays
        pending then.
        """
        model = self.model(draft.model)
        batches = [(account, batch) for account, batch in draft.orders if batch]
        before = {a: self._holdings.get(holding_key(a, model.name)) for a, _, _ in draft.invested}

        recorded: list[bool] = []

        def record(placed: list[Order]) -> None:
            changed = {}
            for account, moved, whole in draft.invested:
                old = before[account]
                if old is None or (old.closed and moved > 0):  # a new investment starts afresh
                    old = Holding(account, model.name, _ZERO, ())
                ids = tuple(o.order_id for o in placed if o.account == account)
                changed[account] = replace(
                    old, invested=old.invested + moved, orders=old.orders + ids, closed=whole
                )
            self.store.put_documents(
                HOLDING_KIND, {h.key: h.to_document() for h in changed.values()}
            )
            self._holdings.update((h.key, h) for h in changed.values())
            recorded.append(True)

        try:
            placed = self.engine.desk.place_unasked(batches, record)
        except Exception:
            if recorded:  # the orders were not stored after all: forget them again
                self._restore(model.name, before)
            raise
        # Every other draft of the model was made on the holdings just changed: gone too.
        self._drafts = {k: d for k, d in self._drafts.items() if d.model != model.name}
        return placed

    # ---- helpers --------------------------------------------------------------------------

    def _restore(self, model: str, before: Mapping[str, Holding | None]) -> None:
        gone = [holding_key(a, model) for a, old in before.items() if old is None]
        kept = {old.key: old for old in before.values() if old is not None}
        for key in gone:
            self._holdings.pop(key, None)
        self._holdings.update(kept)
        self.store.delete_documents(HOLDING_KIND, gone)
        self.store.put_documents(HOLDING_KIND, {k: h.to_document() for k, h in kept.items()})

    def _invest(
        self, model: Model, account: str, amount: Decimal
    ) -> tuple[tuple[PlaceOrder, ...], Decimal]:
        free = self.independent_cash(account)
        if amount > free:
            raise RequestError(
                f"Cannot invest {amount} of {account} in model {model.name!r}: its cash outside "
                f"models is {free:.2f} {self.base_currency}"
            )
        batch: list[PlaceOrder] = []
        for target in model.targets:
            instrument = self.engine.instrument(target.conid)
            unit = self._unit_value(account, instrument)
            batch += _orders_for(
                instrument, (target.weight * amount / unit).to_integral_value(ROUND_FLOOR)
            )
        return tuple(batch), amount

    def _divest(
        self, model: Model, account: str, amount: Decimal
    ) -> tuple[tuple[PlaceOrder, ...], Decimal, bool]:
        holding = self._holdings.get(holding_key(account, model.name))
        if holding is None:
            raise RequestError(f"{account} is not invested in model {model.name!r}")
        stake = self.stake(model, holding)
        self._idle(stake)
        nlv = stake.nlv
        if amount > nlv and not self._presets.value("closeDivestIndependentPosition"):
            raise RequestError(
                f"Cannot divest {amount} of {account} from model {model.name!r}: the model's "
                f"part of the account is worth {nlv:.2f} {self.base_currency}"
            )
        whole = amount >= nlv
        fraction = _ONE if whole or nlv <= 0 else amount / nlv
        batch: list[PlaceOrder] = []
        for line in stake.lines:
            sold = line.quantity if whole else (line.quantity * fraction).to_integral_value(
                ROUND_FLOOR)  # fmt: skip
            batch += _orders_for(line.instrument, -sold)
        # A whole divest takes out what the model is worth, whatever was asked.
        return tuple(batch), -(nlv if whole else amount), whole

    def _idle(self, stake: Stake) -> None:
        if stake.working:
            raise RequestError(
                f"An order of model {stake.holding.model!r} still works in "
                f"{stake.holding.account}: wait for it to fill or cancel it first"
            )

    def _unit_value(self, account: str, instrument: Instrument) -> Decimal:
        portfolio = self.engine.journal.portfolio_of(account)
        value = portfolio.in_base(
            self.price(account, instrument) * instrument.multiplier, instrument.currency
        )
        if value <= 0:
            raise RequestError(f"{instrument.symbol} has no price to invest at")
        return value

    def _draft(
        self,
        model: str,
        orders: Sequence[tuple[str, tuple[PlaceOrder, ...]]],
        invested: Sequence[tuple[str, Decimal, bool]],
    ) -> Transfers:
        draft = Transfers(self._next_draft, model, tuple(orders), tuple(invested))
        self._drafts[draft.instruction_id] = draft
        self._next_draft += 1
        return draft

    def _sub_account(self, value: Any) -> str:
        if not isinstance(value, str) or value not in self.sub_accounts:
            raise RequestError(
                f"account {value!r} is not a sub-account of {self.advisor}: expected one of "
                + ", ".join(self.sub_accounts)
            )
        return value

    def _targets(self, raw: Any) -> tuple[Target, ...]:
        if not isinstance(raw, list) or len(raw) > MAX_TARGETS:
            raise RequestError(
                f'positionTargets must be a list of at most {MAX_TARGETS} {{"conid": N, '
                '"target": FRACTION}'
            )
        targets: list[Target] = []
        for entry in raw:
            if not isinstance(entry, Mapping):
                raise RequestError('each of positionTargets must be {"conid": N, "target": F}')
            conid = entry.get("conid")
            if isinstance(conid, bool) or not isinstance(conid, int) or conid <= 0:
                raise RequestError(f"Invalid conid in positionTargets: {conid!r}")
            if self.engine.journal.instruments.find(conid) is None:
                raise RequestError(f"conid {conid} in positionTargets is no known contract")
            if any(t.conid == conid for t in targets):
                raise RequestError(f"conid {conid} is listed twice in positionTargets")
            targets.append(Target(conid, _fraction(entry.get("target"))))
        return tuple(targets)

    def _cash_target(self, raw: Any) -> tuple[str, Decimal]:
        if raw is None or raw == []:
            return self.base_currency, _ZERO
        if not isinstance(raw, list) or len(raw) != 1 or not isinstance(raw[0], Mapping):
            raise RequestError(
                f'cashTargets must be one {{"ccy": "{self.base_currency}", "target": F}}: '
                "a model's cash is in the master account's base currency"
            )
        ccy = raw[0].get("ccy", self.base_currency)
        if ccy != self.base_currency:
            raise RequestError(
                f"cashTargets ccy {ccy!r}: a model's cash is in {self.base_currency}, the "
                "master account's base currency"
            )
        return ccy, _fraction(raw[0].get("target"))


def _orders_for(instrument: Instrument, signed: Decimal) -> list[PlaceOrder]:
    if signed == 0:
        return []
    side = Side.BUY if signed > 0 else Side.SELL
    return [PlaceOrder(instrument.conid, side, OrderType.MKT, abs(signed), TimeInForce.DAY)]


def _name(value: Any, key: str) -> str:
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_MODEL_NAME
        or not value.isprintable()
    ):
        raise RequestError(
            f"Invalid {key}: {value!r}; expected a name of 1-{MAX_MODEL_NAME} printable characters"
        )
    return value.strip()


def _number(value: Any, key: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RequestError(f"Invalid {key}: {value!r}; expected a number")
    number = Decimal(str(value))
    if not number.is_finite():
        raise RequestError(f"Invalid {key}: {value!r}; expected a finite number")
    return number


def _fraction(value: Any) -> Decimal:
    weight = _number(value, "target")
    if not 0 <= weight <= 1:
        raise RequestError(
            f"Invalid target: {value!r}; targets are fractions of the model from 0 to 1 "
            "(0.25 for 25 %)"
        )
    return weight


def _amount(value: Any) -> Decimal:
    amount = _number(value, "amtToInvest")
    if amount == 0 or abs(amount) > Decimal(10) ** 12:
        raise RequestError(
            f"Invalid amtToInvest: {value!r}; a positive amount invests, a negative one divests"
        )
    return amount
