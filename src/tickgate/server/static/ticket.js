// The order ticket: build an order, confirm it, then walk the server's question/reply flow.

import { api, settled } from "./api.js";

const TYPE_NAMES = { LMT: "Limit", MKT: "Market", STP: "Stop", STOP_LIMIT: "Stop limit" };
/** What the price field means per order type; a stop-limit order has a second, stop, field. */
const PRICE_LABELS = { LMT: "Limit price", MKT: "Price", STP: "Stop price", STOP_LIMIT: "Limit price" };

/** A modal yes/no dialog; ask() resolves true (yes) or false (no, Escape). */
export class ConfirmDialog {
  constructor(dialog) {
    this.dialog = dialog;
    this.resolve = null;
    dialog.querySelector("#confirm-yes").addEventListener("click", () => this.finish(true));
    dialog.querySelector("#confirm-no").addEventListener("click", () => this.finish(false));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      this.finish(false);
    });
  }

  ask(title, lines, yesLabel) {
    this.dialog.querySelector("#confirm-title").textContent = title;
    const body = this.dialog.querySelector("#confirm-body");
    body.replaceChildren(
      ...lines.map((line) => {
        const p = document.createElement("p");
        p.textContent = line;
        return p;
      }),
    );
    this.dialog.querySelector("#confirm-yes").textContent = yesLabel;
    this.dialog.showModal();
    this.dialog.querySelector("#confirm-yes").focus();
    return new Promise((resolve) => {
      this.resolve = resolve;
    });
  }

  finish(answer) {
    this.dialog.close();
    const resolve = this.resolve;
    this.resolve = null;
    if (resolve) resolve(answer);
  }
}

/**
 * One line describing an order, e.g. "BUY 100 AAPL Limit 212.30 DAY" or
 * "SELL 100 AAPL Stop limit 209.50 stop 210.00 DAY".
 */
export function describe(order, symbol) {
  const price = order.orderType === "MKT" ? "" : ` ${order.price}`;
  const stop = order.auxPrice === undefined ? "" : ` stop ${order.auxPrice}`;
  return `${order.side} ${order.quantity} ${symbol} ${TYPE_NAMES[order.orderType]}${price}${stop} ${order.tif}`;
}

function positive(input, what) {
  const value = Number(input.value);
  if (input.value === "" || !Number.isFinite(value) || value <= 0) {
    throw new Error(`${what} must be above zero.`);
  }
  return value;
}

function isQuestion(answer) {
  return Array.isArray(answer) && answer.length > 0 && answer[0].id && answer[0].message;
}

/** Callbacks: onPlaced({orderId, status, order, symbol}), onBusy(flag) while talking to the server. */
export class OrderTicket {
  constructor(root, dialog, { onPlaced, onBusy }) {
    this.root = root;
    this.dialog = dialog;
    this.callbacks = { onPlaced, onBusy };
    this.instrument = null;
    this.form = root.querySelector("#ticket-form");
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.submit();
    });
    this.field("type").addEventListener("change", () => this.typeChanged());
    this.typeChanged();
  }

  field(name) {
    return this.root.querySelector(`#ticket-${name}`);
  }

  get account() {
    return this.field("account").value;
  }

  setAccounts(accounts, selected) {
    const select = this.field("account");
    const current = select.value;
    select.replaceChildren(...accounts.map((id) => new Option(id, id)));
    select.value = accounts.includes(current) ? current : selected || accounts[0] || "";
  }

  /** Trade `item` ({conid, symbol}); the price is prefilled with `last` when given. */
  setInstrument(item, last) {
    this.instrument = item;
    this.field("instrument").textContent = `${item.symbol} · ${item.conid}`;
    const text = last === null || last === undefined ? "" : String(last);
    this.field("price").value = text;
    this.field("stop").value = text;
    this.field("submit").disabled = false;
  }

  /** Prefill the price with `last` unless the user already typed one. */
  offerPrice(last) {
    if (last === null) return;
    for (const name of ["price", "stop"]) {
      const input = this.field(name);
      if (input.value === "") input.value = String(last);
    }
  }

  typeChanged() {
    const type = this.field("type").value;
    const market = type === "MKT";
    this.field("price").disabled = market;
    this.field("price").required = !market;
    this.field("price-label").textContent = PRICE_LABELS[type];
    this.field("stop-field").hidden = type !== "STOP_LIMIT";
    this.field("stop").required = type === "STOP_LIMIT";
  }

  status(text, level = "info") {
    const out = this.field("status");
    out.textContent = text;
    out.dataset.level = level;
  }

  /** The order the form describes; throws Error with a message for the user when invalid. */
  order() {
    if (!this.instrument) throw new Error("Pick an instrument in the watchlist first.");
    if (!this.account) throw new Error("No account: the server listed none.");
    const quantity = Number(this.field("qty").value);
    if (!Number.isFinite(quantity) || quantity <= 0) throw new Error("Quantity must be above zero.");
    const orderType = this.field("type").value;
    const order = {
      conid: this.instrument.conid,
      side: this.root.querySelector("input[name=side]:checked").value,
      orderType,
      quantity,
      tif: this.field("tif").value,
      cOID: `tg-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 7)}`,
    };
    // The Client Portal API reads a stop order's stop from `price`; a stop-limit order has its
    // limit in `price` and its stop in `auxPrice`.
    if (orderType !== "MKT") order.price = positive(this.field("price"), PRICE_LABELS[orderType]);
    if (orderType === "STOP_LIMIT") order.auxPrice = positive(this.field("stop"), "Stop price");
    return order;
  }

  async submit() {
    let order;
    try {
      order = this.order();
    } catch (error) {
      return this.status(error.message, "error");
    }
    const symbol = this.instrument.symbol;
    const line = describe(order, symbol);
    if (!(await this.dialog.ask("Place this order?", [line, `Account ${this.account}`], "Place order"))) {
      return this.status("Not sent.", "info");
    }
    this.callbacks.onBusy(true);
    this.field("submit").disabled = true;
    try {
      await this.send(order, symbol, line);
    } catch (error) {
      this.status(this.explain(error), "error");
    } finally {
      this.field("submit").disabled = false;
      this.callbacks.onBusy(false);
    }
  }

  async send(order, symbol, line) {
    this.status(`Sending: ${line}…`);
    // Nothing else may reach the server between a question and its reply: let calls already
    // under way finish first (onBusy has stopped new ones).
    await settled();
    let answer = await api.placeOrder(this.account, order);
    while (isQuestion(answer)) {
      const question = answer[0];
      const messages = [].concat(question.message).map(String);
      const yes = await this.dialog.ask("The server asks you to confirm", messages, "Yes, submit");
      if (!yes) {
        await api.reply(question.id, false).catch(() => null);
        return this.status(`Not sent: you declined (${line}).`, "info");
      }
      answer = await api.reply(question.id, true);
    }
    const accepted = Array.isArray(answer) ? answer[0] : answer;
    const orderId = accepted && (accepted.order_id || accepted.orderId);
    if (!orderId) return this.status(`Unexpected answer from the server: ${JSON.stringify(answer)}`, "error");
    const status = accepted.order_status || "Submitted";
    this.status(`Order ${orderId} ${status}: ${line}`, "ok");
    this.callbacks.onPlaced({ orderId: String(orderId), status, order, symbol });
  }

  explain(error) {
    if (error.missing) {
      return "Order entry is not available on this server yet (the order endpoint answered 404).";
    }
    return `Order not placed: ${error.message}`;
  }
}
