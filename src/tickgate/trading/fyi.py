"""FYI notifications: what the gateway tells the user about their account, kept and read.

Three things post notifications: a fill (`PF`, portfolio activity), an alert firing (`UA`, user
alert) and the trading day's close (`SM`, system message). Each is kept in the `DocumentStore`
(newest `MAX_KEPT`), may be marked read or unread, and goes to the listeners (the server pushes
alerts as `ntf` frames). A typecode the user disabled (`set_enabled`) posts nothing. Settings,
delivery options and read disclaimers are documents too, so all of it survives a restart.

A fill's and a close's notifications are stored in the same transaction as the event itself
when the center is the journal's companion (`documents_for`): a crash keeps the fill and its
notification, or neither. Alert notifications are grouped: those posted in one event-loop turn
are stored in one transaction when the `defer` callback given at construction runs the flush
(at once without one). Reads see them before they are stored.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from tickgate.clock import NS_PER_S, Clock
from tickgate.errors import NotFoundError, RequestError
from tickgate.trading.alerts import AlertFired
from tickgate.trading.documents import Document, DocumentStore
from tickgate.trading.events import OrderFilled, SessionClosed, StoredEvent, TradingEvent

log = logging.getLogger("tickgate.fyi")

NOTIFICATIONS = "fyi-notification"
SETTINGS = "fyi-setting"
MAX_KEPT = 500
MAX_LISTED = 10

FILLS, ALERTS, SYSTEM = "PF", "UA", "SM"
#: Every typecode IBKR documents, with its title; tickgate posts `PF`, `UA` and `SM`.
TYPECODES: dict[str, str] = {
    "BA": "Borrow Availability",
    "CA": "Comparable Algo",
    "DA": "Dividends Advisory",
    "EA": "Upcoming Earnings",
    "MF": "Mutual Fund Advisory",
    "OE": "Option Expiration",
    "PF": "Portfolio FYIs",
    "PR": "Portfolio Builder Rebalance",
    "SE": "Suspend Order on Economic Event",
    "SG": "Short Term Gain turning Long Term",
    "SM": "System Messages",
    "T2": "Assignment Realizing Long-Term Gains",
    "TO": "Takeover",
    "UA": "User Alert",
    "M8": "M871 Trades",
    "PS": "Platform Use Suggestions",
    "DL": "Unexercised Option Loss Prevention Reminder",
    "PT": "Position Transfer",
    "CB": "Missing Cost Basis",
    "MS": "Milestones",
    "TD": "MiFID || 10% Deprecation Notice",
    "ST": "Save Taxes",
    "TI": "Trade Idea",
    "CT": "Cash Transfer",
}
_DESCRIPTIONS = {
    FILLS: "Tell me when an order of mine fills.",
    ALERTS: "Tell me when one of my alerts fires.",
    SYSTEM: "Tell me when the trading day closes.",
}
DISCLAIMER = (
    "tickgate simulates a market: its notifications describe simulated prices and paper "
    "trades only, for information, and are not advice to trade."
)


@dataclass(frozen=True, slots=True)
class Notification:
    """One FYI: `notification_id` is IBKR-like (the day and a sequence number), `code` its
    typecode, `title` and `body` its text (the body is HTML in IBKR's; plain here)."""

    notification_id: str
    code: str
    title: str
    body: str
    at_ns: int
    read: bool = False
    #: The alert a `UA` notification is about (None for the others).
    alert_id: int | None = None


@dataclass(frozen=True, slots=True)
class Device:
    """A device FYIs may be delivered to (`/fyi/deliveryoptions/device`)."""

    device_id: str
    name: str
    ui_name: str
    enabled: bool


NotificationListener = Callable[[Notification], None]


class FyiCenter:
    """The notifications of a gateway, and the user's FYI settings. Owned by the loop thread."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        clock: Clock,
        describe_fill: Callable[[OrderFilled], str],
        defer: Callable[[Callable[[], None]], None] | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._describe_fill = describe_fill
        self._defer = defer
        self._listeners: list[NotificationListener] = []
        self._notifications: dict[str, Notification] = {
            key: _decode(doc) for key, doc in store.documents(NOTIFICATIONS)
        }
        self._sequence = max((int(k[8:]) for k in self._notifications), default=0)
        settings = dict(store.documents(SETTINGS))
        self._disabled: set[str] = set(settings.get("disabled", {}).get("codes", []))
        self._disclaimers: set[str] = set(settings.get("disclaimers", {}).get("codes", []))
        delivery = settings.get("delivery", {"email": True, "devices": []})
        self._email: bool = delivery["email"]
        self._devices: dict[str, Device] = {
            d["device_id"]: Device(**d) for d in delivery["devices"]
        }
        self._unsaved: dict[str, Notification] = {}
        #: Notifications stored with their events, shown once the events are published.
        self._prepared: dict[str, Notification] = {}

    def add_listener(self, listener: NotificationListener) -> None:
        """Call `listener` with every notification posted from now on."""
        self._listeners.append(listener)

    # --- posting -------------------------------------------------------------------------------

    def post(
        self, code: str, title: str, body: str, *, alert_id: int | None = None
    ) -> Notification | None:
        """Post a notification of typecode `code` now; None when the user disabled `code`."""
        notification = self._new(code, title, body, alert_id=alert_id)
        if notification is not None:
            self._post_unstored(notification)
        return notification

    def _post_unstored(self, notification: Notification) -> None:
        self._notifications[notification.notification_id] = notification
        self._keep(notification)
        self._tell(notification)

    def _new(
        self, code: str, title: str, body: str, *, alert_id: int | None = None
    ) -> Notification | None:
        if code in self._disabled:
            return None
        now = self._clock.now_ns()
        self._sequence += 1
        day = datetime.datetime.fromtimestamp(now // NS_PER_S, datetime.UTC).strftime("%Y%m%d")
        return Notification(f"{day}{self._sequence:08d}", code, title, body, now,
                            alert_id=alert_id)  # fmt: skip

    def _tell(self, notification: Notification) -> None:
        for listener in self._listeners:
            listener(notification)

    def _of_event(self, event: StoredEvent) -> tuple[str, Notification | None] | None:
        """The notification `event` posts, keyed by the event (None: it posts none)."""
        if isinstance(event, OrderFilled):
            made = self._new(FILLS, "FYI: Order filled", self._describe_fill(event))
            return event.fill.execution_id, made
        if isinstance(event, SessionClosed):
            made = self._new(SYSTEM, "FYI: Trading day closed",
                             "The simulated trading day closed: DAY orders expired and the "
                             "day's P&L was carried into the accounts.")  # fmt: skip
            return f"close-{event.ts_ns}", made
        return None

    def documents_for(self, events: Sequence[StoredEvent]) -> dict[str, dict[str, Document]]:
        """Journal companion: the notifications `events` post, to be stored in their
        transaction; they are shown when the events are published (`on_trading_event`).
        What an earlier batch prepared but never published (its append failed) is dropped."""
        self._prepared = {}
        for event in events:
            made = self._of_event(event)
            if made is not None and made[1] is not None:
                self._prepared[made[0]] = made[1]
        if not self._prepared:
            return {}
        return {NOTIFICATIONS: {n.notification_id: _encode(n) for n in self._prepared.values()}}

    def on_trading_event(self, event: TradingEvent) -> None:
        """Trading listener: a fill and the day's close post a notification (the one stored
        with the event, when the center is the journal's companion)."""
        if not isinstance(event, OrderFilled | SessionClosed):
            return
        key = event.fill.execution_id if isinstance(event, OrderFilled) else f"close-{event.ts_ns}"
        stored = self._prepared.pop(key, None)
        if stored is not None:
            self._notifications[stored.notification_id] = stored
            self._prune_soon()
            self._tell(stored)
            return
        made = self._of_event(event)
        if made is not None and made[1] is not None:
            self._post_unstored(made[1])

    def on_alert(self, fired: AlertFired) -> None:
        """Alert listener: a firing posts a `UA` notification (its message, or its name)."""
        spec = fired.alert.spec
        self.post(ALERTS, spec.name, spec.message or f"Alert {spec.name} fired",
                  alert_id=fired.alert.alert_id)  # fmt: skip

    # --- reading and marking -------------------------------------------------------------------

    def notifications(
        self,
        *,
        limit: int,
        include: Iterable[str] = (),
        exclude: Iterable[str] = (),
        before: str | None = None,
    ) -> list[Notification]:
        """At most `limit` (1 to 10) notifications, newest first: of the `include` codes
        only when given, none of the `exclude` codes, and older than the notification
        `before` when given (the next page). Raises RequestError (400) for a limit out of
        range or an unknown code, NotFoundError for an unknown `before`."""
        if not 1 <= limit <= MAX_LISTED:
            raise RequestError(f"Invalid max: {limit}; expected 1 to {MAX_LISTED}")
        included, excluded = _codes(include, "include"), _codes(exclude, "exclude")
        if before is not None and before not in self._notifications:
            raise NotFoundError(f"notification {before} not found")
        found: list[Notification] = []
        passed = before is None
        for notification in reversed(self._notifications.values()):
            if not passed:
                passed = notification.notification_id == before
                continue
            if (included and notification.code not in included) or notification.code in excluded:
                continue
            found.append(notification)
            if len(found) == limit:
                break
        return found

    def mark(self, notification_id: str, *, read: bool = True) -> Notification:
        """Mark one notification read (or unread) and store it. Raises NotFoundError."""
        found = self._notifications.get(notification_id)
        if found is None:
            raise NotFoundError(f"notification {notification_id} not found")
        marked = replace(found, read=read)
        self._store.put_documents(NOTIFICATIONS, {notification_id: _encode(marked)})
        self._unsaved.pop(notification_id, None)
        self._notifications[notification_id] = marked
        return marked

    def unread(self) -> int:
        """How many kept notifications are unread."""
        return sum(not n.read for n in self._notifications.values())

    # --- settings ------------------------------------------------------------------------------

    def settings(self) -> list[tuple[str, str, str, bool, bool]]:
        """(code, title, description, enabled, disclaimer read) of every typecode."""
        return [
            (code, title, _DESCRIPTIONS.get(code, f"Notify me of: {title}."),
             code not in self._disabled, code in self._disclaimers)
            for code, title in TYPECODES.items()
        ]  # fmt: skip

    def set_enabled(self, code: str, enabled: bool) -> None:
        """Enable or disable a typecode. Raises RequestError (400) for an unknown one."""
        typecode(code)
        disabled = (self._disabled - {code}) if enabled else (self._disabled | {code})
        self._store.put_documents(SETTINGS, {"disabled": {"codes": sorted(disabled)}})
        self._disabled = disabled

    def disclaimer(self, code: str) -> str:
        """The disclaimer of a typecode. Raises RequestError (400) for an unknown one."""
        typecode(code)
        return DISCLAIMER

    def read_disclaimer(self, code: str) -> None:
        """Mark a typecode's disclaimer read. Raises RequestError (400) for an unknown one."""
        typecode(code)
        read = self._disclaimers | {code}
        self._store.put_documents(SETTINGS, {"disclaimers": {"codes": sorted(read)}})
        self._disclaimers = read

    @property
    def email(self) -> bool:
        """Whether FYIs go to the account's e-mail address."""
        return self._email

    def devices(self) -> list[Device]:
        """The devices FYIs may go to, in the order they were added."""
        return list(self._devices.values())

    def set_email(self, enabled: bool) -> None:
        """Turn e-mail delivery on or off (stored)."""
        self._save_delivery(enabled, self._devices)
        self._email = enabled

    def set_device(self, device: Device) -> None:
        """Add a device, or change the one of its id (stored)."""
        devices = {**self._devices, device.device_id: device}
        self._save_delivery(self._email, devices)
        self._devices = devices

    def delete_device(self, device_id: str) -> None:
        """Forget a device. Raises NotFoundError for an unknown one."""
        if device_id not in self._devices:
            raise NotFoundError(f"device {device_id} not found")
        devices = {k: v for k, v in self._devices.items() if k != device_id}
        self._save_delivery(self._email, devices)
        self._devices = devices

    def flush(self) -> None:
        """Store the notifications posted since the last flush (one transaction), and drop
        the oldest beyond `MAX_KEPT`."""
        unsaved, self._unsaved = self._unsaved, {}
        if unsaved:
            self._store.put_documents(NOTIFICATIONS, {k: _encode(n) for k, n in unsaved.items()})
        surplus = len(self._notifications) - MAX_KEPT
        if surplus > 0:
            oldest = list(self._notifications)[:surplus]
            self._store.delete_documents(NOTIFICATIONS, oldest)
            for key in oldest:
                del self._notifications[key]

    def _keep(self, notification: Notification) -> None:
        first = not self._unsaved
        self._unsaved[notification.notification_id] = notification
        if self._defer is None:
            self.flush()
        elif first:
            self._defer(self._flush_logged)

    def _prune_soon(self) -> None:
        """Drop the oldest beyond `MAX_KEPT` with the next flush (now, without `defer`)."""
        if len(self._notifications) <= MAX_KEPT:
            return
        if self._defer is None:
            self.flush()
        else:
            self._defer(self._flush_logged)

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except Exception:
            log.exception("storing FYI notifications failed")

    def _save_delivery(self, email: bool, devices: dict[str, Device]) -> None:
        document = {"email": email, "devices": [_device(d) for d in devices.values()]}
        self._store.put_documents(SETTINGS, {"delivery": document})


def typecode(code: str) -> str:
    """`code` when it is a documented typecode. Raises RequestError (400) otherwise."""
    if code not in TYPECODES:
        raise RequestError(f"Invalid typecode {code!r}; expected one of {', '.join(TYPECODES)}")
    return code


def _codes(codes: Iterable[str], name: str) -> set[str]:
    found = {c.strip().upper() for c in codes if c.strip()}
    unknown = sorted(found - set(TYPECODES))
    if unknown:
        raise RequestError(f"Invalid {name}: unknown typecode {', '.join(unknown)}")
    return found


def _device(device: Device) -> dict[str, Any]:
    return {"device_id": device.device_id, "name": device.name, "ui_name": device.ui_name,
            "enabled": device.enabled}  # fmt: skip


def _encode(notification: Notification) -> dict[str, Any]:
    n = notification
    return {"id": n.notification_id, "code": n.code, "title": n.title, "body": n.body,
            "at_ns": n.at_ns, "read": n.read, "alert_id": n.alert_id}  # fmt: skip


def _decode(document: dict[str, Any]) -> Notification:
    d = document
    return Notification(d["id"], d["code"], d["title"], d["body"], d["at_ns"], d["read"],
                        d["alert_id"])  # fmt: skip
