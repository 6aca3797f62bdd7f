// The page's entry point: one data stream for the dashboard, the panels, and the wiring.

import { api } from "./api.js";
import { Blotter } from "./blotter.js";
import { IntradayChart } from "./chart.js";
import { ProtocolConsole } from "./console.js";
import { FaultPanel } from "./faults.js";
import { OperatorView } from "./operator.js";
import { BrokerageSession, bindSessionBanner } from "./session.js";
import { Notices, bindPill } from "./status.js";
import { Stream } from "./stream.js";
import { bindTabs } from "./tabs.js";
import { ConfirmDialog, OrderTicket } from "./ticket.js";
import { Watchlist } from "./watchlist.js";

const $ = (selector) => document.querySelector(selector);
const DATA_PATH = "/v1/portal/ws";
// Extended hours included: the simulated market trades whenever tickgate runs.
const HISTORY = { period: "1d", bar: "5min", outsideRth: true };

const notices = new Notices($("#notices"));
const showError = (text) => notices.show(text, "error");
const session = new BrokerageSession();

const ticket = new OrderTicket($("#ticket-panel"), new ConfirmDialog($("#confirm")), {
  onPlaced: (placed) => blotter.placed(placed),
  // While an order question is open nothing else may reach the server.
  onBusy: (flag) => {
    blotter.busy = flag;
    session.busy = flag;
  },
});

// Streaming needs a primed session (GET /iserver/accounts), and a restarted server has a fresh
// one: so every (re)connect primes first, which also refreshes the account list.
const data = new Stream(DATA_PATH, {
  prepare: async () => {
    const body = await api.accounts();
    ticket.setAccounts(body.accounts || [], body.selectedAccount);
  },
});
bindPill($("#conn"), data);
session.watch(data, { hold: true });
bindSessionBanner($("#session-banner"), session);

const chart = new IntradayChart($("#chart"));
let chartToken = 0;

const watchlist = new Watchlist($("#watchlist-panel"), data, {
  onSelect: (item) => {
    ticket.setInstrument(item, watchlist.value(item.conid, "31"));
    loadChart(item);
  },
  onPrice: (conid, last, tMs) => {
    if (!watchlist.selected || watchlist.selected.conid !== conid) return;
    chart.push(last, tMs);
    ticket.offerPrice(last);
  },
  onError: showError,
});

const blotter = new Blotter($("#blotter-panel"), data, {
  account: () => ticket.account,
  onError: showError,
});

const protocolConsole = new ProtocolConsole($("#console-panel"), {
  account: () => ticket.account,
  session,
});

new FaultPanel($("#faults-panel"), { onError: showError });

const operatorView = new OperatorView($("#pane-operator"), $("#tab-operator"));
bindTabs($("#console-panel"), () => operatorView.schedule(0));

/** "regular 09:30–16:00, trading 04:00–20:00 America/New_York (20261207)": the session the
 * chart shows or the next one, from the same market calendar the server's history reads. */
function describeHours(venue) {
  const day = venue && venue.schedules && venue.schedules[0];
  if (!day) return "";
  const clock = (hhmm) => `${hhmm.slice(0, 2)}:${hhmm.slice(2)}`;
  const liquid = day.sessions[0];
  const whole = day.tradingtimes[0];
  const regular = `regular ${clock(liquid.openingTime)}–${clock(liquid.closingTime)}`;
  const trading = liquid.prop === "LIQUID" ? "" : `, trading ${clock(whole.openingTime)}–${clock(whole.closingTime)}`;
  return `${regular}${trading} ${venue.timezone} (${day.tradingScheduleDate}${day.earlyClose ? ", early close" : ""})`;
}

async function loadHours(item, token) {
  try {
    const [contract] = (await api.secdef(item.conid)).secdef || [];
    if (!contract || token !== chartToken) return;
    const [venue] = await api.schedule(contract.assetClass, contract.ticker);
    if (token === chartToken) $("#chart-hours").textContent = describeHours(venue);
  } catch {
    // The hours are a caption: without them the chart is still right.
  }
}

async function loadChart(item) {
  const token = ++chartToken;
  $("#chart-title").textContent = `${item.symbol} · last session, 5-minute bars incl. extended hours`;
  chart.clear(`Loading ${item.symbol}…`);
  $("#chart-note").textContent = "";
  $("#chart-hours").textContent = "";
  loadHours(item, token);
  try {
    const body = await api.history(item.conid, HISTORY);
    if (token !== chartToken) return;
    const bars = (body.data || []).map((bar) => ({ t: Number(bar.t), c: Number(bar.c) }));
    chart.load(bars, Number(body.barLength || 300) * 1000);
    $("#chart-panel").dataset.history = "loaded";
  } catch (error) {
    if (token !== chartToken) return;
    $("#chart-panel").dataset.history = error.missing ? "missing" : "failed";
    const why = error.missing ? "this server has no history endpoint yet" : error.message;
    chart.clear(`No history for ${item.symbol}: waiting for live prices`);
    $("#chart-note").textContent = `Live prices only (${why}).`;
  }
}

function route(event) {
  const frame = event.detail.data;
  if (!frame || typeof frame !== "object") return;
  const topic = typeof frame.topic === "string" ? frame.topic : "";
  if (topic.startsWith("md+")) watchlist.onFrame(Number(topic.slice(3)), frame);
  else if (topic.startsWith("realtime-account-data+")) blotter.onFrame(frame);
  else if (frame.error) showError(`The server says: ${frame.error}`);
}

let wasDown = false;

function announce(event) {
  const { state, attempt, why } = event.detail;
  if (state === "reconnecting") {
    wasDown = true;
    if (attempt === 1) notices.show(`Lost the connection to tickgate (${why}). Reconnecting…`, "warn");
  } else if (state === "live" && wasDown) {
    wasDown = false;
    notices.show("Reconnected to tickgate.", "info");
  }
  // A chart that could not load (e.g. while logged out) is loaded again once data flows.
  if (state === "live" && $("#chart-panel").dataset.history === "failed" && watchlist.selected) {
    loadChart(watchlist.selected);
  }
}

session.addEventListener("change", (event) => {
  blotter.loggedOut = event.detail.loggedOut;
  if (!event.detail.loggedOut) notices.show("Logged in again.", "info");
});

data.addEventListener("frame", route);
data.addEventListener("state", announce);
$("#ticket-account").addEventListener("change", () => {
  blotter.accountChanged();
  protocolConsole.renderExamples();
});
data.connect();
const first = watchlist.items.values().next().value;
if (first) watchlist.select(first);
