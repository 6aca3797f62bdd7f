// The blotter's Fills tab: one row per execution, as GET /iserver/account/trades lists them.

import { cell, idCell, sideCell } from "./cells.js";
import { clockTime, exactPrice, quantity } from "./numbers.js";

const MAX_FILLS = 200;
const SIDES = { B: "BUY", S: "SELL", BUY: "BUY", SELL: "SELL" };

/** The execution's time in epoch ms, or null (trade_time_r, else trade_time "YYYYMMDD-HH:MM:SS"). */
export function executionTime(row) {
  const ms = Number(row.trade_time_r);
  if (Number.isFinite(ms) && ms > 0) return ms;
  const match = /^(\d{4})(\d{2})(\d{2})-(\d{2}):(\d{2}):(\d{2})$/.exec(String(row.trade_time || ""));
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match.map(Number);
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** Rows of `body` for the executions of `account`. */
export class FillsTable {
  constructor(body, empty) {
    this.body = body;
    this.empty = empty;
    this.rows = [];
  }

  /** Replace the table with `trades` (the endpoint's list) that belong to `account`, newest first. */
  load(trades, account) {
    const seen = new Set();
    this.rows = (Array.isArray(trades) ? trades : [])
      .filter((row) => !account || !(row.account || row.accountCode) || (row.account || row.accountCode) === account)
      .filter((row) => {
        const id = row.execution_id;
        if (id === undefined || seen.has(id)) return false;
        seen.add(id);
        return true;
      })
      .sort((a, b) => (executionTime(b) || 0) - (executionTime(a) || 0))
      .slice(0, MAX_FILLS);
    this.render();
  }

  clear() {
    this.rows = [];
    this.render();
  }

  render() {
    this.body.replaceChildren(...this.rows.map((row) => this.row(row)));
    this.empty.hidden = this.rows.length > 0;
  }

  row(trade) {
    const tr = document.createElement("tr");
    tr.dataset.executionId = String(trade.execution_id);
    const side = SIDES[String(trade.side || "").toUpperCase()] || String(trade.side || "");
    const at = executionTime(trade);
    tr.append(
      cell(at === null ? "—" : clockTime(new Date(at)).slice(0, 8), "mono"),
      cell(trade.symbol || trade.contract_description_1 || String(trade.conid || "")),
      sideCell(side),
      cell(quantity(trade.size), "num"),
      cell(exactPrice(trade.price), "num price"),
      idCell(trade.order_ref ?? trade.order_id ?? ""),
    );
    return tr;
  }
}
