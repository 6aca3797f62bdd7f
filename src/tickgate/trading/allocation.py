"""Financial Advisor allocation: the advisor's groups of sub-accounts, its presets, and how an
order's quantity is split over a group.

An `--advisor` login is a master account over paper sub-accounts (each a full account of the
trading engine). `AllocationBook` owns the advisor's allocation groups and presets, kept as
documents in the trading store (`DocumentStore`), so they survive a restart on the same file.
`split` is the pure rule that turns one order's quantity into per-account quantities by an
allocation method, with IBKR's codes:

- computed by the broker: `A` available equity, `E` equal, `N` net liquidation value;
- given by the user per account (`amount`): `C` cash quantity, `P` percentages, `R` ratios,
  `S` shares.

Rounding (IBKR's documented examples): quantities are whole units; every account first gets
the whole part of its exact share, then the units left over go one each to the accounts with
the largest fractional parts, ties in the group's order. So 400 shares over six accounts
equally give 67, 67, 67, 67, 66, 66 (66 each, then one each until all are given), and 1000
shares at ratios 4:2:1:1 give 500, 250, 125, 125. `S` gives each account its amount (the order
size is their sum) and `C` buys each account what its amount pays at the order's price
(rounded down). An account whose share rounds to nothing gets no order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from typing import Any

from tickgate.errors import NotFoundError, RequestError
from tickgate.trading.documents import Document, DocumentStore

GROUP_KIND = "allocation_group"
PRESETS_KIND = "allocation_presets"
_PRESETS_KEY = "presets"
#: TWS reserves this name for the group of every sub-account; tickgate orders to the master
#: account (or to "All") go to every sub-account.
ALL_GROUP = "All"
MAX_GROUP_NAME = 64
_HUNDRED = Decimal(100)


class AllocationMethod(StrEnum):
    """IBKR's allocation method codes."""

    AVAILABLE_EQUITY = "A"
    EQUAL = "E"
    NET_LIQUIDATION = "N"
    CASH_QUANTITY = "C"
    PERCENTAGES = "P"
    RATIOS = "R"
    SHARES = "S"

    @property
    def user_specified(self) -> bool:
        """True for the methods that need an amount for every account (C, P, R, S)."""
        return self in _USER_SPECIFIED


_USER_SPECIFIED = frozenset(
    {
        AllocationMethod.CASH_QUANTITY,
        AllocationMethod.PERCENTAGES,
        AllocationMethod.RATIOS,
        AllocationMethod.SHARES,
    }
)
#: The names clients (and TWS) also use for the methods, upper-cased, besides the codes.
METHOD_NAMES: dict[str, AllocationMethod] = {
    "AVAILABLEEQUITY": AllocationMethod.AVAILABLE_EQUITY,
    "EQUAL": AllocationMethod.EQUAL,
    "EQUALQUANTITY": AllocationMethod.EQUAL,
    "NETLIQ": AllocationMethod.NET_LIQUIDATION,
    "NETLIQUIDATION": AllocationMethod.NET_LIQUIDATION,
    "NETLIQUIDITY": AllocationMethod.NET_LIQUIDATION,
    "CASHQUANTITY": AllocationMethod.CASH_QUANTITY,
    "PERCENTAGES": AllocationMethod.PERCENTAGES,
    "PERCENTAGE": AllocationMethod.PERCENTAGES,
    "RATIOS": AllocationMethod.RATIOS,
    "RATIO": AllocationMethod.RATIOS,
    "SHARES": AllocationMethod.SHARES,
}


def method_of(value: Any, key: str) -> AllocationMethod:
    """`value` (a code such as "N" or a name such as "NetLiquidation") as a method.

    Raises RequestError naming `key` for anything else.
    """
    if isinstance(value, str) and len(value) <= 32:
        text = value.strip().upper()
        if text in AllocationMethod.__members__.values():
            return AllocationMethod(text)
        if text in METHOD_NAMES:
            return METHOD_NAMES[text]
    codes = ", ".join(m.value for m in AllocationMethod)
    raise RequestError(f"Invalid {key}: {value!r}; expected one of {codes}")


@dataclass(frozen=True, slots=True)
class Member:
    """One sub-account of a group, with its amount for the user-specified methods."""

    account: str
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AllocationGroup:
    """A named group of sub-accounts and the method orders to it are split by."""

    name: str
    method: AllocationMethod
    members: tuple[Member, ...]

    def to_document(self) -> Document:
        return {
            "name": self.name,
            "method": self.method.value,
            "accounts": [
                {"name": m.account, "amount": None if m.amount is None else str(m.amount)}
                for m in self.members
            ],
        }

    @classmethod
    def from_document(cls, document: Document) -> AllocationGroup:
        members = tuple(
            Member(a["name"], None if a["amount"] is None else Decimal(a["amount"]))
            for a in document["accounts"]
        )
        return cls(document["name"], AllocationMethod(document["method"]), members)


@dataclass(frozen=True, slots=True)
class Presets:
    """The advisor's allocation presets (IBKR's names). `default_method` is the method of a
    group created without one. `group_auto_close_positions` (groups by A, E or N) and
    `profiles_auto_close_positions` (groups by P or R, IBKR's "profiles") make an order that
    opposes the accounts' positions close them first (`split_closing_first`). The other two
    are kept and shown: tickgate checks credit at every placement whatever
    `strict_credit_check` says, and `group_proportional_allocation` is about scale orders,
    which it does not take."""

    default_method: AllocationMethod = AllocationMethod.NET_LIQUIDATION
    group_auto_close_positions: bool = False
    profiles_auto_close_positions: bool = False
    strict_credit_check: bool = False
    group_proportional_allocation: bool = False

    def closes_first(self, method: AllocationMethod) -> bool:
        """True when orders split by `method` close opposing positions first. Methods S and C
        give each account its own quantity, so there is nothing to prioritise."""
        if method in (AllocationMethod.SHARES, AllocationMethod.CASH_QUANTITY):
            return False
        if method.user_specified:
            return self.profiles_auto_close_positions
        return self.group_auto_close_positions

    def to_document(self) -> Document:
        return {
            "group_auto_close_positions": self.group_auto_close_positions,
            "default_method_for_all": self.default_method.value,
            "profiles_auto_close_positions": self.profiles_auto_close_positions,
            "strict_credit_check": self.strict_credit_check,
            "group_proportional_allocation": self.group_proportional_allocation,
        }

    @classmethod
    def from_document(cls, document: Document) -> Presets:
        return cls(
            AllocationMethod(document["default_method_for_all"]),
            *(bool(document[name]) for name in _PRESET_FLAGS),
        )


_PRESET_FLAGS = (
    "group_auto_close_positions",
    "profiles_auto_close_positions",
    "strict_credit_check",
    "group_proportional_allocation",
)


@dataclass(frozen=True, slots=True)
class AccountFunds:
    """What the computed methods weigh an account by."""

    net_liquidation: Decimal
    available_equity: Decimal


# ---- the split ----------------------------------------------------------------------------


def split(
    quantity: Decimal,
    method: AllocationMethod,
    members: Sequence[Member],
    *,
    funds: Callable[[str], AccountFunds],
    price: Decimal | None = None,
    multiplier: int = 1,
) -> list[tuple[str, Decimal]]:
    """The per-account quantities of an order for `quantity` units split by `method` over
    `members`, in the group's order, accounts that get nothing left out (see the module's
    rounding rules). `funds` gives an account's figures (A and N), `price` is the order's
    price per unit (C, with `multiplier` units per contract).

    Raises RequestError when the split is impossible: no weight at all (every account's
    equity or amount is zero), an amount missing for a user-specified method, C without a
    price, or a quantity that is not whole.
    """
    if method.user_specified and any(m.amount is None for m in members):
        missing = ", ".join(m.account for m in members if m.amount is None)
        raise RequestError(f"Allocation method {method.value} needs an amount for {missing}")
    if method is AllocationMethod.SHARES:
        return [(m.account, _amount(m)) for m in members if _amount(m) > 0]
    if method is AllocationMethod.CASH_QUANTITY:
        if price is None or price <= 0:
            raise RequestError("Allocation method C (cash quantity) needs a price to convert at")
        unit_cost = price * multiplier
        bought = [
            (m.account, (_amount(m) / unit_cost).to_integral_value(ROUND_FLOOR)) for m in members
        ]
        return [(account, q) for account, q in bought if q > 0]
    if quantity != quantity.to_integral_value() or quantity <= 0:
        raise RequestError(f"An allocated order needs a whole, positive quantity, got {quantity}")
    weights = [_weight(method, m, funds) for m in members]
    return _largest_remainders(quantity, [m.account for m in members], weights)


def split_closing_first(
    quantity: Decimal,
    side: int,
    held: Mapping[str, Decimal],
    accounts: Sequence[str],
    rest: Callable[[Decimal], list[tuple[str, Decimal]]],
) -> list[tuple[str, Decimal]] | None:
    """The auto-close presets' split (IBKR: "prioritize closing positions over equal
    distribution"): an order of `side` (+1 buy, -1 sell) first closes the positions of
    `accounts` it opposes, in proportion to their size (largest remainders, so no account
    gets more than it holds); what is left once all are closed is split by `rest`. None when
    the order closes nothing (the method's own split applies)."""
    closable = [(a, abs(held.get(a, Decimal(0)))) for a in accounts if held.get(a, 0) * side < 0]
    if not closable:
        return None
    total = sum((q for _, q in closable), Decimal(0))
    if quantity <= total:
        return _largest_remainders(quantity, [a for a, _ in closable], [q for _, q in closable])
    merged = dict(closable)
    for account, share in rest(quantity - total):
        merged[account] = merged.get(account, Decimal(0)) + share
    return [(a, merged[a]) for a in accounts if merged.get(a, Decimal(0)) > 0]


def _amount(member: Member) -> Decimal:
    assert member.amount is not None  # checked by `split`
    return member.amount


def _weight(
    method: AllocationMethod, member: Member, funds: Callable[[str], AccountFunds]
) -> Decimal:
    if method is AllocationMethod.EQUAL:
        return Decimal(1)
    if method is AllocationMethod.NET_LIQUIDATION:
        return max(Decimal(0), funds(member.account).net_liquidation)
    if method is AllocationMethod.AVAILABLE_EQUITY:
        return max(Decimal(0), funds(member.account).available_equity)
    return _amount(member)  # P and R


def _largest_remainders(
    quantity: Decimal, accounts: Sequence[str], weights: Sequence[Decimal]
) -> list[tuple[str, Decimal]]:
    total = sum(weights, Decimal(0))
    if total <= 0:
        raise RequestError("Cannot allocate: every account of the group weighs nothing")
    exact = [quantity * w / total for w in weights]
    whole = [e.to_integral_value(ROUND_FLOOR) for e in exact]
    left = int(quantity - sum(whole, Decimal(0)))
    # Largest fractional part first; `sorted` is stable, so ties keep the group's order.
    order = sorted(range(len(accounts)), key=lambda i: exact[i] - whole[i], reverse=True)
    for i in order[:left]:
        whole[i] += 1
    return [(a, q) for a, q in zip(accounts, whole, strict=True) if q > 0]


# ---- the book -----------------------------------------------------------------------------


@dataclass(slots=True)
class AllocationBook:
    """The advisor's groups and presets, persisted in `store`.

    `advisor` is the master account id, None when the login is no advisor (then every call but
    `enabled` raises RequestError); `sub_accounts` are the accounts groups may hold. Changes are
    stored before they are acknowledged; a store that refuses a write leaves the book as it was.
    """

    store: DocumentStore
    advisor: str | None
    sub_accounts: tuple[str, ...]
    _groups: dict[str, AllocationGroup] = field(default_factory=dict)
    _presets: Presets = field(default_factory=Presets)

    def __post_init__(self) -> None:
        if self.advisor is None:
            return
        for _, document in self.store.documents(GROUP_KIND):
            group = AllocationGroup.from_document(document)
            self._groups[group.name] = group
        for _, document in self.store.documents(PRESETS_KIND):
            self._presets = Presets.from_document(document)

    @property
    def enabled(self) -> bool:
        """True for an advisor login."""
        return self.advisor is not None

    def require_advisor(self) -> str:
        """The master account id. Raises RequestError when the login is no advisor."""
        if self.advisor is None:
            raise RequestError(
                "Allocation is for Financial Advisor logins: this one has no sub-accounts "
                "(start tickgate with --advisor)"
            )
        return self.advisor

    def groups(self) -> list[AllocationGroup]:
        """Every group, in the order they were created."""
        self.require_advisor()
        return list(self._groups.values())

    def group(self, name: str) -> AllocationGroup:
        """The group called `name`; the reserved "All" is every sub-account at the presets'
        default method. Raises NotFoundError for no such group."""
        self.require_advisor()
        if name == ALL_GROUP and ALL_GROUP not in self._groups:
            members = tuple(Member(a) for a in self.sub_accounts)
            return AllocationGroup(ALL_GROUP, self._presets.default_method, members)
        found = self._groups.get(name)
        if found is None:
            raise NotFoundError(f"No allocation group named {name!r}")
        return found

    def is_group(self, name: str) -> bool:
        """True when orders to `name` are allocated: a group, "All" or the master account."""
        return self.enabled and (name in self._groups or name in (ALL_GROUP, self.advisor))

    def add(self, raw: Mapping[str, Any]) -> None:
        """`POST /iserver/account/allocation/group`: create a group from IBKR's body
        (`name`, `accounts: [{name, amount}]`, `default_method`). Raises RequestError for a
        malformed body or a name already taken."""
        self.require_advisor()
        group = self._parse(raw, default=self._presets.default_method)
        if group.name in self._groups:
            raise RequestError(f"An allocation group named {group.name!r} already exists")
        self._save(group)

    def modify(self, raw: Mapping[str, Any]) -> None:
        """`PUT /iserver/account/allocation/group`: replace a group's accounts and method,
        renaming it when `prev_name` is given. Raises NotFoundError for no such group,
        RequestError for a malformed body or a new name already taken."""
        self.require_advisor()
        previous = _name(raw, "prev_name", required=False) or _name(raw, "name")
        old = self._groups.get(previous)
        if old is None:
            raise NotFoundError(f"No allocation group named {previous!r}")
        group = self._parse(raw, default=old.method)
        if group.name != previous and group.name in self._groups:
            raise RequestError(f"An allocation group named {group.name!r} already exists")
        if group.name != previous:
            self.store.delete_documents(GROUP_KIND, [previous])
            del self._groups[previous]
        self._save(group)

    def delete(self, raw: Mapping[str, Any]) -> None:
        """`POST /iserver/account/allocation/group/delete`. Raises NotFoundError for no such
        group."""
        self.require_advisor()
        name = _name(raw, "name")
        if name not in self._groups:
            raise NotFoundError(f"No allocation group named {name!r}")
        self.store.delete_documents(GROUP_KIND, [name])
        del self._groups[name]

    def presets(self) -> Presets:
        """The advisor's presets."""
        self.require_advisor()
        return self._presets

    def set_presets(self, raw: Mapping[str, Any]) -> None:
        """`POST /iserver/account/allocation/presets`: the keys given replace the current
        values. Raises RequestError for a value of the wrong type or an unknown method."""
        self.require_advisor()
        if not isinstance(raw, Mapping):
            raise RequestError("body must be a JSON object of presets")
        changes: dict[str, Any] = {}
        if raw.get("default_method_for_all") is not None:
            changes["default_method"] = method_of(
                raw["default_method_for_all"], "default_method_for_all"
            )
        for name in _PRESET_FLAGS:
            value = raw.get(name)
            if value is None:
                continue
            if not isinstance(value, bool):
                raise RequestError(f"Invalid {name}: {value!r}; expected true or false")
            changes[name] = value
        presets = replace(self._presets, **changes)
        self.store.put_documents(PRESETS_KIND, {_PRESETS_KEY: presets.to_document()})
        self._presets = presets

    def _save(self, group: AllocationGroup) -> None:
        self.store.put_documents(GROUP_KIND, {group.name: group.to_document()})
        self._groups[group.name] = group

    def _parse(self, raw: Mapping[str, Any], *, default: AllocationMethod) -> AllocationGroup:
        if not isinstance(raw, Mapping):
            raise RequestError("body must be a JSON object: {name, accounts, default_method}")
        name = _name(raw, "name")
        if name == ALL_GROUP:
            raise RequestError(f"{ALL_GROUP!r} is reserved for the group of every sub-account")
        given = raw.get("default_method")
        method = default if given is None else method_of(given, "default_method")
        members = self._members(raw.get("accounts"))
        group = AllocationGroup(name, method, members)
        _check_amounts(group)
        return group

    def _members(self, raw: Any) -> tuple[Member, ...]:
        if not isinstance(raw, list) or not raw:
            raise RequestError('accounts must be a non-empty list of {"name": ACCOUNT_ID}')
        members: list[Member] = []
        for entry in raw:
            if not isinstance(entry, Mapping):
                raise RequestError('each of accounts must be {"name": ACCOUNT_ID, "amount": N}')
            account = _name(entry, "name")
            if account not in self.sub_accounts:
                raise RequestError(
                    f"{account!r} is not a sub-account of {self.advisor}: expected one of "
                    + ", ".join(self.sub_accounts)
                )
            if any(m.account == account for m in members):
                raise RequestError(f"{account} is listed twice in accounts")
            members.append(Member(account, _amount_of(entry.get("amount"))))
        return tuple(members)


def _name(raw: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    value = raw.get(key)
    if value is None and not required:
        return ""
    if (
        not isinstance(value, str)
        or not value.strip()
        or len(value) > MAX_GROUP_NAME
        or not value.isprintable()
    ):
        raise RequestError(
            f"Invalid {key}: {value!r}; expected a name of 1-{MAX_GROUP_NAME} printable characters"
        )
    return value.strip()


def _amount_of(value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise RequestError(f"Invalid amount: {value!r}; expected a number")
    try:
        amount = Decimal(str(value))
    except ArithmeticError:
        raise RequestError(f"Invalid amount: {value!r}; expected a number") from None
    if not amount.is_finite() or amount < 0 or amount > Decimal(10) ** 12:
        raise RequestError(f"Invalid amount: {value!r}; expected a number from 0 to 1e12")
    return amount


def _check_amounts(group: AllocationGroup) -> None:
    method = group.method
    if not method.user_specified:
        return
    missing = [m.account for m in group.members if m.amount is None]
    if missing:
        raise RequestError(
            f"Allocation method {method.value} needs an amount for every account: "
            f"missing for {', '.join(missing)}"
        )
    amounts = [m.amount for m in group.members if m.amount is not None]
    if method is AllocationMethod.PERCENTAGES and sum(amounts, Decimal(0)) != _HUNDRED:
        raise RequestError(
            f"Percentages must total 100, got {sum(amounts, Decimal(0))} for group {group.name!r}"
        )
    if method is AllocationMethod.SHARES and any(a != a.to_integral_value() for a in amounts):
        raise RequestError("Allocation method S (shares) needs whole amounts")
