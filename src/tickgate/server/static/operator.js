// The Operator tab: every WebSocket connection the gateway holds, from GET /tickgate/connections,
// polled once a second while the tab is shown and the page is visible (never in the background).

import { api } from "./api.js";
import { cell } from "./cells.js";
import { clockTime, quantity } from "./numbers.js";

const POLL_MS = 1_000;
/** Members of /tickgate/status the operator view does not repeat; every other one (a relay's
 * upstream, faults, a bus, whatever a gateway adds) is shown as it comes. */
const STATUS_SHOWN_ELSEWHERE = new Set([
  "version", "source", "seed", "ticksPerSecond", "markets", "instruments", "connections",
  "channels", "subscriptions", "marketDataLines", "marketHours",
]);

function streams(row) {
  return row.marketData
    .map((s) => `${s.conid}: ${s.fields.join(",")} @ ${s.tempo} ms`)
    .join("\n");
}

function describe(value) {
  if (value === null || typeof value !== "object") return String(value);
  return JSON.stringify(value);
}

/** The Operator pane; `tab` is its tab button, polled only while that tab is selected. */
export class OperatorView {
  constructor(root, tab) {
    this.el = (id) => root.querySelector(`#operator-${id}`);
    this.tab = tab;
    this.timer = null;
    this.busy = false;
    document.addEventListener("visibilitychange", () => this.schedule(0));
  }

  get shown() {
    return this.tab.getAttribute("aria-selected") === "true" && !document.hidden;
  }

  /** Poll now (after `delay` ms) if the view is shown; stop if not. */
  schedule(delay = POLL_MS) {
    clearTimeout(this.timer);
    this.timer = null;
    if (this.shown) this.timer = setTimeout(() => this.refresh(), delay);
  }

  async refresh() {
    if (this.busy || !this.shown) return;
    this.busy = true;
    try {
      const [connections, status] = await Promise.all([api.connections(), api.status()]);
      this.render(connections, status);
      this.el("note").hidden = true;
    } catch (error) {
      const note = this.el("note");
      note.textContent = `Could not read the connections: ${error.message}`;
      note.hidden = false;
    } finally {
      this.busy = false;
      this.schedule();
    }
  }

  render(answer, status) {
    const session = answer.session;
    const shown = answer.shown < answer.total ? ` (oldest ${answer.shown} shown)` : "";
    this.el("summary").textContent =
      `${answer.total} connection${answer.total === 1 ? "" : "s"}${shown} · ` +
      `market-data lines ${session.marketDataLines} of ${session.marketDataLineLimit} · ` +
      `slow readers closed ${answer.slowReaderCloses}`;
    this.renderSource(answer.source, status);
    const rows = answer.connections.map((row) => {
      const tr = document.createElement("tr");
      tr.dataset.id = row.id;
      tr.dataset.dialect = row.dialect;
      tr.append(
        cell(row.id, "col-id"),
        cell(row.dialect),
        cell(row.peer ?? "—"),
        cell(clockTime(new Date(row.openedAt))),
        cell(streams(row) || "—", "streams"),
        cell(row.accountTopics.join(" ") || "—"),
        cell(String(row.marketDataLines), "num lines"),
        cell(quantity(row.outboxBytes), "num outbox"),
        cell(quantity(row.framesSent), "num frames"),
        cell(quantity(row.bytesSent), "num"),
        cell(quantity(row.conflated), "num conflated"),
      );
      return tr;
    });
    this.el("rows").replaceChildren(...rows);
    this.el("empty").hidden = rows.length > 0;
  }

  renderSource(source, status) {
    const items = [
      ["source", `${source.name} · ${source.running ? "running" : source.started ? "stopped" : "not started"}`],
      ["health", source.healthy ? "healthy" : "unhealthy (see /tickgate/status)"],
    ];
    for (const [key, value] of Object.entries(status || {})) {
      if (!STATUS_SHOWN_ELSEWHERE.has(key) && key !== "health") items.push([key, describe(value)]);
    }
    const list = this.el("source");
    list.replaceChildren(
      ...items.map(([key, value]) => {
        const div = document.createElement("div");
        const dt = document.createElement("dt");
        const dd = document.createElement("dd");
        dt.textContent = key;
        dd.textContent = value;
        dd.dataset.key = key;
        div.append(dt, dd);
        return div;
      }),
    );
  }
}
