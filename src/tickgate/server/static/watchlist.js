// The watchlist: symbol search over REST, live rows over the data stream, flashing changes.

import { api } from "./api.js";
import { parseWire, sign, tickPrice } from "./numbers.js";

const STORAGE_KEY = "tickgate.watchlist";
const FIELDS = "31,55,82,83,84,85,86,87,88";
const TEMPO_MS = 250;
const DEFAULTS = [
  { conid: 265598, symbol: "AAPL", name: "APPLE INC" },
  { conid: 272093, symbol: "MSFT", name: "MICROSOFT CORP" },
  { conid: 756733, symbol: "SPY", name: "SPDR S&P 500 ETF TRUST" },
  { conid: 8314, symbol: "IBM", name: "INTL BUSINESS MACHINES CORP" },
];
/** Columns after the symbol: [field id, css class, flashes on change]. */
const COLUMNS = [
  ["31", "last", true],
  ["82", "chg", false],
  ["83", "chgpct", false],
  ["84", "bid", true],
  ["88", "bidsz", true],
  ["86", "ask", true],
  ["85", "asksz", true],
  ["87", "vol", false],
];

/** The data stream sends these as JSON numbers (exact values, without trailing zeros). */
const PRICES = new Set(["31", "84", "86"]);
const SIZES = new Set(["85", "88"]);

const FLASH = { up: "rgba(19, 122, 58, 0.22)", down: "rgba(192, 38, 38, 0.2)" };

function loadSaved() {
  try {
    const saved = JSON.parse(localStorage.getItem(STORAGE_KEY));
    if (Array.isArray(saved) && saved.every((item) => Number.isInteger(item.conid))) return saved;
  } catch {
    // A damaged entry is replaced by the defaults.
  }
  return DEFAULTS;
}

/** A cell's text; a price number is shown with the instrument's `decimals` ("189.50"). */
function display(field, value, decimals) {
  if (value === undefined || value === null || value === "") return "—";
  if (typeof value === "number" && PRICES.has(field)) return tickPrice(value, decimals);
  if (typeof value === "number" && SIZES.has(field)) return value.toLocaleString("en-US");
  if (field === "83" && typeof value === "number") return `${value > 0 ? "+" : ""}${value.toFixed(2)}%`;
  if (field === "31") return String(value).replace(/^[CH]/, "");
  return String(value);
}

/** Events are callbacks: onSelect(item), onPrice(conid, last, tMs), onError(text). */
export class Watchlist {
  constructor(root, stream, { onSelect, onPrice, onError }) {
    this.root = root;
    this.stream = stream;
    this.callbacks = { onSelect, onPrice, onError };
    this.items = new Map();
    this.selected = null;
    this.searchTimer = null;
    this.body = root.querySelector("#watch-rows");
    this.bindSearch();
    for (const saved of loadSaved()) this.add(saved, { subscribe: false });
    stream.addEventListener("state", (event) => {
      if (event.detail.state === "live") this.subscribeAll();
    });
  }

  bindSearch() {
    const input = this.root.querySelector("#watch-search");
    input.addEventListener("input", () => {
      clearTimeout(this.searchTimer);
      this.searchTimer = setTimeout(() => this.search(input.value.trim()), 250);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.showResults([]);
      if (event.key === "Enter") {
        event.preventDefault();
        clearTimeout(this.searchTimer);
        this.search(input.value.trim(), { pickFirst: true });
      }
    });
  }

  async search(symbol, { pickFirst = false } = {}) {
    if (!symbol) return this.showResults([]);
    try {
      const found = await api.search(symbol);
      if (pickFirst && found.length) return this.pick(found[0]);
      this.showResults(found, symbol);
    } catch (error) {
      this.showResults([], symbol, `Search failed: ${error.message}`);
    }
  }

  showResults(found, symbol = "", problem = "") {
    const list = this.root.querySelector("#watch-results");
    list.replaceChildren();
    list.hidden = !symbol;
    if (!symbol) return;
    if (problem || !found.length) {
      const empty = document.createElement("li");
      empty.className = "empty";
      empty.textContent = problem || `Nothing found for “${symbol}”`;
      list.append(empty);
      return;
    }
    for (const row of found.slice(0, 12)) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      const kinds = (row.sections || []).map((s) => s.secType).filter(Boolean).join(", ");
      button.innerHTML = "<b></b> <span></span> <small></small>";
      button.querySelector("b").textContent = row.symbol;
      button.querySelector("span").textContent = row.companyName || row.companyHeader || "";
      button.querySelector("small").textContent = [row.description, kinds].filter(Boolean).join(" · ");
      button.addEventListener("click", () => this.pick(row));
      item.append(button);
      list.append(item);
    }
  }

  pick(row) {
    const input = this.root.querySelector("#watch-search");
    input.value = "";
    this.showResults([]);
    const conid = Number(row.conid);
    const item = this.items.get(conid) || this.add({ conid, symbol: row.symbol, name: row.companyName || "" });
    this.select(item);
  }

  /** Add an instrument (no-op if present); subscribes at once when the stream is live. */
  add({ conid, symbol, name }, { subscribe = true } = {}) {
    if (this.items.has(conid)) return this.items.get(conid);
    const item = { conid, symbol: symbol || String(conid), name: name || "", values: {}, cells: {} };
    item.decimals = null;
    item.row = this.buildRow(item);
    this.items.set(conid, item);
    this.body.append(item.row);
    this.save();
    this.learnDecimals(item);
    if (subscribe) this.subscribe(item);
    return item;
  }

  /**
   * The instrument's price decimals, from its contract (/trsrv/secdef's display rule); cells
   * already shown are written again with them. Without them prices show at least 2 decimals.
   */
  async learnDecimals(item) {
    try {
      const [contract] = (await api.secdef(item.conid)).secdef || [];
      const step = contract && contract.displayRule && contract.displayRule.displayRuleStep;
      const decimals = step && step[0] && step[0].decimalDigits;
      if (!Number.isInteger(decimals)) return;
      item.decimals = decimals;
      item.row.dataset.decimals = String(decimals);
      for (const [field] of COLUMNS) {
        if (field in item.values) item.cells[field].textContent = display(field, item.values[field], decimals);
      }
    } catch {
      // An unknown conid fails its stream too, and says so there.
    }
  }

  buildRow(item) {
    const row = document.createElement("tr");
    row.dataset.conid = String(item.conid);
    row.tabIndex = 0;
    const symbol = document.createElement("th");
    symbol.scope = "row";
    symbol.innerHTML = '<span class="sym"></span><small class="name"></small>';
    symbol.querySelector(".sym").textContent = item.symbol;
    symbol.querySelector(".name").textContent = item.name;
    row.append(symbol);
    item.cells.symbol = symbol;
    for (const [field, css] of COLUMNS) {
      const cell = document.createElement("td");
      cell.className = `num ${css}`;
      cell.textContent = "—";
      item.cells[field] = cell;
      row.append(cell);
    }
    row.append(this.removeCell(item));
    row.addEventListener("click", () => this.select(item));
    row.addEventListener("keydown", (event) => {
      if (event.key === "Enter") this.select(item);
    });
    return row;
  }

  removeCell(item) {
    const cell = document.createElement("td");
    const button = document.createElement("button");
    button.type = "button";
    button.className = "icon remove";
    button.textContent = "×";
    button.title = `Remove ${item.symbol} from the watchlist`;
    button.setAttribute("aria-label", button.title);
    button.addEventListener("click", (event) => {
      event.stopPropagation();
      this.remove(item.conid);
    });
    cell.append(button);
    return cell;
  }

  remove(conid) {
    const item = this.items.get(conid);
    if (!item) return;
    this.items.delete(conid);
    item.row.remove();
    this.stream.send(`u+md+${conid}`);
    this.save();
    if (this.selected === item) this.selected = null;
  }

  select(item) {
    if (this.selected) this.selected.row.classList.remove("selected");
    this.selected = item;
    item.row.classList.add("selected");
    item.row.setAttribute("aria-selected", "true");
    this.callbacks.onSelect(item);
  }

  save() {
    const saved = [...this.items.values()].map(({ conid, symbol, name }) => ({ conid, symbol, name }));
    localStorage.setItem(STORAGE_KEY, JSON.stringify(saved));
  }

  subscribe(item) {
    const options = JSON.stringify({ tempo: TEMPO_MS, snapshot: true, fields: FIELDS });
    this.stream.send(`s+md+${item.conid}+${options}`);
  }

  subscribeAll() {
    for (const item of this.items.values()) this.subscribe(item);
  }

  /** Handle a data-stream frame whose topic is md+CONID. */
  onFrame(conid, frame) {
    const item = this.items.get(conid);
    if (!item) return;
    if (frame.error) {
      item.row.classList.add("failed");
      item.row.title = frame.error;
      this.callbacks.onError(`Market data for ${item.symbol}: ${frame.error}`);
      return;
    }
    item.row.classList.remove("failed");
    item.row.removeAttribute("title");
    if (frame["55"] && frame["55"] !== item.symbol) this.rename(item, frame["55"]);
    for (const [field, , flashes] of COLUMNS) {
      if (field in frame) this.setCell(item, field, frame[field], flashes);
    }
    if ("31" in frame) {
      this.callbacks.onPrice(conid, parseWire(frame["31"]), frame._updated || Date.now());
    }
  }

  rename(item, symbol) {
    item.symbol = symbol;
    item.cells.symbol.querySelector(".sym").textContent = symbol;
    this.save();
  }

  setCell(item, field, value, flashes) {
    const cell = item.cells[field];
    const before = parseWire(item.values[field]);
    const after = parseWire(value);
    item.values[field] = value;
    cell.textContent = display(field, value, item.decimals);
    if (field === "82" || field === "83") {
      cell.dataset.sign = String(sign(value));
      const status = String(item.values["31"] || "");
      cell.title = status.startsWith("C") ? "market closed: prior close" : "";
    }
    if (flashes && before !== null && after !== null && after !== before) {
      const direction = after > before ? "up" : "down";
      cell.dataset.flash = direction;
      cell.animate([{ backgroundColor: FLASH[direction] }, { backgroundColor: "transparent" }], {
        duration: 700,
        easing: "ease-out",
      });
    }
  }

  /** The latest known value of `field` for `conid`, as a number (null when unknown). */
  value(conid, field) {
    const item = this.items.get(conid);
    return item ? parseWire(item.values[field]) : null;
  }
}
