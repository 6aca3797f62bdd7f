// The REST side of the page: one fetch wrapper that turns every failure into plain words.

const BASE = "/v1/api";

/**
 * Fires "unauthorized" {message, path} whenever the server answers 401: the brokerage session is
 * logged out. The page's session state listens here, so no caller has to.
 */
export const auth = new EventTarget();

const inFlight = new Set();

/**
 * Resolves once every REST call started before now has ended (however it ended). An order
 * question must be answered before the server sees any other request, so the ticket waits for
 * this before placing an order.
 */
export function settled() {
  return Promise.allSettled([...inFlight]).then(() => undefined);
}

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
export function call(method, path, body) {
  const request = send(method, path, body);
  inFlight.add(request);
  const done = () => inFlight.delete(request);
  request.then(done, done);
  return request;
}

async function send(method, path, body, base = BASE) {
  const init = { method, headers: { Accept: "application/json" }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(base + path, init);
  } catch {
    throw new ApiError("tickgate is not reachable: is the server running?", { path });
  }
  const data = await readBody(response);
  const error = data && !Array.isArray(data) && data.error;
  if (!response.ok || error) {
    const message = typeof error === "string" ? error : describeStatus(response);
    if (response.status === 401) {
      auth.dispatchEvent(new CustomEvent("unauthorized", { detail: { message, path } }));
    }
    throw new ApiError(message, { status: response.status, path });
  }
  return data;
}

const q = encodeURIComponent;

/** A read of tickgate's own control routes (under /tickgate, not /v1/api); same errors. */
function control(path) {
  return send("GET", path, undefined, "/tickgate");
}

export const api = {
  accounts: () => call("GET", "/iserver/accounts"),
  tickle: () => call("POST", "/tickle"),
  authStatus: () => call("POST", "/iserver/auth/status"),
  login: () => call("POST", "/iserver/auth/ssodh/init", { publish: true, compete: true }),
  search: (symbol) => call("GET", `/iserver/secdef/search?symbol=${q(symbol)}`),
  history: (conid, { period = "1d", bar = "5min", outsideRth = true } = {}) =>
    call(
      "GET",
      `/iserver/marketdata/history?conid=${q(conid)}&period=${q(period)}&bar=${q(bar)}` +
        `&outsideRth=${outsideRth}`,
    ),
  secdef: (conid) => call("GET", `/trsrv/secdef?conids=${q(conid)}`),
  schedule: (assetClass, symbol) =>
    call("GET", `/trsrv/secdef/schedule?assetClass=${q(assetClass)}&symbol=${q(symbol)}`),
  placeOrder: (account, order) =>
    call("POST", `/iserver/account/${q(account)}/orders`, { orders: [order] }),
  reply: (id, confirmed) => call("POST", `/iserver/reply/${q(id)}`, { confirmed }),
  cancelOrder: (account, orderId) =>
    call("DELETE", `/iserver/account/${q(account)}/order/${q(orderId)}`),
  orders: () => call("GET", "/iserver/account/orders"),
  trades: () => call("GET", "/iserver/account/trades?days=1"),
  positions: (account) => call("GET", `/portfolio/${q(account)}/positions/0`),
  pnl: () => call("GET", "/iserver/account/pnl/partitioned"),
  connections: () => control("/connections"),
  status: () => control("/status"),
};
