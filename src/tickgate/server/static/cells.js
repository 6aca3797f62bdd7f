// Table cells of the blotter. Each carries its wide and its narrow form; style.css picks one by
// the width the blotter gets, so a narrow blotter keeps every order's essentials in view.

import { price, quantity } from "./numbers.js";

/** Short names of the wire's order types, for the tag a narrow blotter shows by the price. */
const TYPE_CODES = {
  Market: "MKT",
  Limit: "LMT",
  Stop: "STP",
  "Stop Limit": "STP LMT",
  Trail: "TRAIL",
  "Trail Limit": "TRAIL LMT",
  "Market on Close": "MOC",
  "Limit on Close": "LOC",
};

function span(text, css) {
  const el = document.createElement("span");
  el.className = css;
  el.textContent = text;
  return el;
}

function has(value) {
  return value !== undefined && value !== null && value !== "";
}

/** A plain cell with `text` and an optional class list. */
export function cell(text, css = "") {
  const td = document.createElement("td");
  td.textContent = text;
  if (css) td.className = css;
  return td;
}

/** An order id cell: the whole id, and its last 4 digits for a narrower blotter. */
export function idCell(id, css = "") {
  const text = String(id ?? "");
  const td = cell("", `mono col-id ${css}`.trim());
  td.title = text;
  td.append(span(text, "id-long"), span(text.length > 6 ? `…${text.slice(-4)}` : text, "id-short"));
  return td;
}

/** "BUY" or "SELL" in its colour. */
export function sideCell(side) {
  const text = String(side || "").toUpperCase();
  return cell(text, `col-side ${text === "BUY" ? "buy" : "sell"}`);
}

/** The symbol; a narrow blotter (which hides the Side column) shows the side under it. */
export function symbolCell(symbol, side) {
  const td = cell(symbol);
  const text = String(side || "").toUpperCase();
  td.append(span(text, `side-tag ${text === "BUY" ? "buy" : "sell"}`));
  return td;
}

/** "filled/total"; a narrow blotter puts the total on a second line. */
export function filledCell(filled, total) {
  const td = cell("", "num");
  td.append(span(quantity(filled), "filled"), span(`/${quantity(total)}`, "total"));
  return td;
}

/**
 * An order's price: the limit, the stop, or the limit over "stop …" for a stop-limit. A narrow
 * blotter (which hides the Type column) tags it with the type's short name.
 */
export function priceCell(order) {
  const td = cell("", "num");
  const type = order.orderType || order.origOrderType || "";
  const limit = has(order.price) ? price(order.price) : null;
  const stop = has(order.auxPrice) ? price(order.auxPrice) : null;
  td.append(span(TYPE_CODES[type] || type, "type-tag"), span(limit ?? stop ?? "—", "price"));
  if (limit && stop) td.append(span(`stop ${stop}`, "stop"));
  td.title = [limit && `limit ${limit}`, stop && `stop ${stop}`].filter(Boolean).join(", ");
  return td;
}
