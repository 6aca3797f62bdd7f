// The day's orders, fills, positions and P&L: loaded over REST, kept live by the account stream.

import { api } from "./api.js";
import { cell, filledCell, idCell, priceCell, sideCell, symbolCell } from "./cells.js";
import { FillsTable } from "./fills.js";
import { price, quantity, sign, signedMoney } from "./numbers.js";
import { bindTabs } from "./tabs.js";

const POLL_MS = 5_000;
/** The reference allows one request per 5 s on orders and P&L; the page never asks faster. */
const MIN_INTERVAL_MS = 5_000;
const WORKING = new Set(["PendingSubmit", "PreSubmitted", "Submitted", "Inactive"]);
const ENDPOINTS = {
  orders: "GET /iserver/account/orders",
  trades: "GET /iserver/account/trades",
  positions: "GET /portfolio/{account}/positions/0",
  pnl: "GET /iserver/account/pnl/partitioned",
};

/**
 * Callbacks: onError(text) for problems the user should see. Set `busy` while an order question
 * is open and `loggedOut` while the brokerage session is out: the blotter then sends nothing.
 */
export class Blotter {
  constructor(root, stream, { account, onError }) {
    this.root = root;
    this.stream = stream;
    this.account = account;
    this.onError = onError;
    this.orders = new Map();
    this.fills = new FillsTable(this.el("fills"), this.el("fills-empty"));
    this.missing = new Set();
    this.lastFetch = {};
    this.timers = {};
    this.busy = false;
    this.loggedOut = false;
    this.liveAccount = null;
    this.streamFailed = false;
    bindTabs(root);
    stream.addEventListener("state", (event) => this.streamState(event.detail.state));
    setInterval(() => this.poll(), POLL_MS);
  }

  el(id) {
    return this.root.querySelector(`#blotter-${id}`);
  }

  streamState(state) {
    if (state !== "live") return;
    // A reconnect may be a new server: forget what was missing and what was subscribed.
    this.missing.clear();
    this.liveAccount = null;
    this.streamFailed = false;
    this.accountChanged();
  }

  /** Subscribe the selected account's stream and reload everything. */
  accountChanged() {
    const account = this.account();
    if (!account) return;
    if (this.liveAccount && this.liveAccount !== account) {
      this.stream.send(`u+realtime-account-data+${this.liveAccount}`);
      this.orders.clear();
      this.fills.clear();
    }
    if (this.stream.send(`s+realtime-account-data+${account}`)) this.liveAccount = account;
    for (const name of Object.keys(ENDPOINTS)) this.refresh(name);
  }

  /** Handle a frame of the data stream whose topic is realtime-account-data+ACCT. */
  onFrame(frame) {
    if (frame.error) {
      this.streamFailed = true;
      this.note("orders", `Live account updates are off: ${frame.error}. Orders refresh every 5 s.`);
      return;
    }
    if (Array.isArray(frame.orders)) this.mergeOrders(frame.orders);
    const pnl = frame.upnl || frame.pnl;
    if (pnl && typeof pnl === "object") this.showPnl(pnl);
    this.refresh("positions");
  }

  /** Show an order the ticket just placed, before the server reports it. */
  placed({ orderId, status, order, symbol }) {
    const known = this.orders.get(orderId) || {};
    this.mergeOrders([
      {
        orderId,
        ticker: symbol,
        side: order.side,
        orderType: order.orderType,
        price: order.price,
        totalSize: order.quantity,
        filledQuantity: 0,
        status,
        ...known,
      },
    ]);
    this.refresh("orders");
  }

  get quiet() {
    return this.busy || this.loggedOut;
  }

  poll() {
    if (this.quiet || !this.account()) return;
    this.refresh("positions");
    this.refresh("pnl");
    if (this.streamFailed || !this.stream.isLive) this.refresh("orders");
  }

  /** Fetch `name` now, or as soon as its minimum interval allows (one pending fetch each). */
  refresh(name) {
    if (this.missing.has(name) || this.timers[name]) return;
    const wait = (this.lastFetch[name] || 0) + MIN_INTERVAL_MS - Date.now();
    this.timers[name] = setTimeout(() => {
      this.timers[name] = null;
      if (this.loggedOut) return; // the login reloads everything
      if (this.busy) return this.refresh(name);
      this.fetch(name);
    }, Math.max(0, wait));
  }

  async fetch(name) {
    const account = this.account();
    if (!account) return;
    this.lastFetch[name] = Date.now();
    try {
      if (name === "orders") this.loadOrders(await api.orders());
      if (name === "trades") this.fills.load(await api.trades(), account);
      if (name === "positions") this.showPositions(await api.positions(account));
      if (name === "pnl") this.showPnl((await api.pnl()).upnl || {});
      this.note(name, "");
      this.root.dataset[name] = "loaded";
    } catch (error) {
      // The data attribute tells tests (and the curious) how the last load ended.
      this.root.dataset[name] = error.missing ? "missing" : "failed";
      if (error.missing) {
        this.missing.add(name);
        this.note(name, `Not available on this server yet (${ENDPOINTS[name]} answered 404).`);
      } else if (error.status !== 429 && error.status !== 401) {
        // A 401 is the session banner's news, not this table's.
        this.note(name, `Could not load: ${error.message}`);
      }
    }
  }

  note(name, text) {
    const target = this.el(`${name}-note`);
    target.textContent = text;
    target.hidden = !text;
  }

  loadOrders(body) {
    const rows = Array.isArray(body) ? body : (body && body.orders) || [];
    const account = this.account();
    this.mergeOrders(rows.filter((row) => !row.acct || row.acct === account));
  }

  mergeOrders(rows) {
    let filled = false;
    for (const row of rows) {
      if (row.orderId === undefined || row.orderId === null) continue;
      const id = String(row.orderId);
      const before = this.orders.get(id) || {};
      const after = { ...before, ...row, orderId: id };
      // A new execution: the Fills tab lists executions, which only the trades endpoint has.
      if (Number(after.filledQuantity || 0) > Number(before.filledQuantity || 0)) filled = true;
      this.orders.set(id, after);
    }
    this.renderOrders();
    if (filled) this.refresh("trades");
  }

  renderOrders() {
    const body = this.el("orders");
    const orders = [...this.orders.values()].sort((a, b) => Number(b.orderId) - Number(a.orderId));
    body.replaceChildren(...orders.map((order) => this.orderRow(order)));
    this.el("orders-empty").hidden = orders.length > 0;
    const working = orders.filter((order) => WORKING.has(order.status)).length;
    this.root.querySelector("#tab-orders .badge").textContent = working ? String(working) : "";
  }

  orderRow(order) {
    const row = document.createElement("tr");
    row.dataset.orderId = order.orderId;
    row.dataset.status = order.status || "";
    const total = order.totalSize ?? Number(order.filledQuantity || 0) + Number(order.remainingQuantity || 0);
    row.title = `Order ${order.orderId}`;
    row.append(
      idCell(order.orderId),
      symbolCell(order.ticker || order.description1 || String(order.conid || ""), order.side),
      sideCell(order.side),
      filledCell(order.filledQuantity || 0, total),
      cell(order.orderType || order.origOrderType || "", "col-type"),
      priceCell(order),
      cell(order.avgPrice ? price(order.avgPrice) : "—", "num col-avg"),
      cell(order.status || "", `status ${String(order.status || "").toLowerCase()}`),
      this.cancelCell(order),
    );
    return row;
  }

  cancelCell(order) {
    const td = document.createElement("td");
    if (!WORKING.has(order.status)) return td;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "small cancel";
    button.textContent = "Cancel";
    button.setAttribute("aria-label", `Cancel order ${order.orderId}`);
    button.addEventListener("click", () => this.cancel(order, button));
    td.append(button);
    return td;
  }

  async cancel(order, button) {
    button.disabled = true;
    try {
      await api.cancelOrder(this.account(), order.orderId);
      this.refresh("orders");
    } catch (error) {
      button.disabled = false;
      this.onError(`Could not cancel order ${order.orderId}: ${error.message}`);
    }
  }

  showPositions(rows) {
    const open = (Array.isArray(rows) ? rows : []).filter((row) => Number(row.position) !== 0);
    this.el("positions").replaceChildren(
      ...open.map((row) => {
        const tr = document.createElement("tr");
        const upl = cell(signedMoney(row.unrealizedPnl), "num");
        upl.dataset.sign = String(sign(row.unrealizedPnl));
        tr.append(
          cell(row.contractDesc || row.ticker || String(row.conid)),
          cell(quantity(row.position), "num"),
          cell(price(row.avgCost ?? row.avgPrice), "num col-avg"),
          cell(price(row.mktPrice), "num"),
          cell(price(row.mktValue), "num col-value"),
          upl,
        );
        return tr;
      }),
    );
    this.el("positions-empty").hidden = open.length > 0;
  }

  showPnl(upnl) {
    const account = this.account();
    const key = Object.keys(upnl).find((name) => name.split(".")[0] === account);
    const row = key ? upnl[key] : null;
    for (const name of ["dpl", "upl", "nl", "mv"]) {
      const value = row ? row[name] : null;
      const signed = name === "dpl" || name === "upl";
      const out = this.el(`pnl-${name}`);
      // Account totals read better in whole units; P&L keeps its cents.
      out.textContent = signed ? signedMoney(value) : price(value, 0);
      out.dataset.sign = signed ? String(sign(value)) : "0";
    }
  }
}
