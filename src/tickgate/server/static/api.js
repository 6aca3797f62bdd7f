// The REST side of the page: one fetch wrapper that turns every failure into plain words.

const BASE = "/v1/api";

/** A failed REST call. `status` is the HTTP status (0 when the server was not reachable). */
export class ApiError extends Error {
  constructor(message, { status = 0, path = "" } = {}) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.path = path;
  }

  /** True when the server has no such endpoint (an older or partial tickgate). */
  get missing() {
    return this.status === 404 && /no route/i.test(this.message);
  }
}

function describeStatus(response) {
  const text = response.statusText ? ` ${response.statusText}` : "";
  return `the server answered ${response.status}${text}`;
}

async function readBody(response) {
  const text = await response.text();
  if (!text) return null;
  try {
    return JSON.parse(text);
  } catch {
    return { text };
  }
}

/**
 * Call `method path` under /v1/api with an optional JSON body and return the parsed JSON.
 * Throws ApiError for network failures, non-2xx answers and 200 answers carrying `{"error"}`
 * (order rejects arrive that way).
 */
export async function call(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(BASE + path, init);
  } catch {
    throw new ApiError("tickgate is not reachable: is the server running?", { path });
  }
  const data = await readBody(response);
  const error = data && !Array.isArray(data) && data.error;
  if (!response.ok || error) {
    const message = typeof error === "string" ? error : describeStatus(response);
    throw new ApiError(message, { status: response.status, path });
  }
  return data;
}

const q = encodeURIComponent;

export const api = {
  accounts: () => call("GET", "/iserver/accounts"),
  tickle: () => call("POST", "/tickle"),
  search: (symbol) => call("GET", `/iserver/secdef/search?symbol=${q(symbol)}`),
  history: (conid, { period = "1d", bar = "5min", outsideRth = true } = {}) =>
    call(
      "GET",
      `/iserver/marketdata/history?conid=${q(conid)}&period=${q(period)}&bar=${q(bar)}` +
        `&outsideRth=${outsideRth}`,
    ),
  placeOrder: (account, order) =>
    call("POST", `/iserver/account/${q(account)}/orders`, { orders: [order] }),
  reply: (id, confirmed) => call("POST", `/iserver/reply/${q(id)}`, { confirmed }),
  cancelOrder: (account, orderId) =>
    call("DELETE", `/iserver/account/${q(account)}/order/${q(orderId)}`),
  orders: () => call("GET", "/iserver/account/orders"),
  positions: (account) => call("GET", `/portfolio/${q(account)}/positions/0`),
  pnl: () => call("GET", "/iserver/account/pnl/partitioned"),
};
