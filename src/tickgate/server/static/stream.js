// A WebSocket that stays up: it prepares the session, connects, answers "waiting for session",
// and after any drop reconnects with exponential back-off. Listeners see its state and frames.

import { api } from "./api.js";

/** Back-off delays in ms: 0.5 s, 1 s, 2 s, 4 s, 8 s, then 10 s for every further attempt. */
export function backoffDelay(attempt) {
  return Math.min(500 * 2 ** Math.max(0, attempt - 1), 10_000);
}

function socketUrl(path) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  return `${scheme}://${location.host}${path}`;
}

function closeReason(event) {
  if (event.reason) return `closed by the server: ${event.reason} (code ${event.code})`;
  if (event.code === 1006) return "the connection dropped";
  return `closed (code ${event.code})`;
}

/**
 * Events: "state" {state, text, attempt, delayMs}, "frame" {raw, data, at}, "sent" {text, at}.
 * States: idle, connecting, waiting (for session), live, reconnecting, closed, and loggedout (held
 * without retrying until resume(): reconnecting cannot help while the brokerage session is out).
 */
export class Stream extends EventTarget {
  constructor(path, { prepare = async () => {} } = {}) {
    super();
    this.path = path;
    this.prepare = prepare;
    this.state = "idle";
    this.attempt = 0;
    this.ws = null;
    this.timer = null;
    this.wanted = false;
    this.opening = false;
  }

  setState(state, text, extra = {}) {
    this.state = state;
    this.dispatchEvent(new CustomEvent("state", { detail: { state, text, ...extra } }));
  }

  /** Start (or keep) connecting; a no-op when already connected or connecting. */
  connect() {
    this.wanted = true;
    if (this.ws || this.timer || this.opening) return;
    this.open();
  }

  async open() {
    this.setState("connecting", `connecting to ${this.path}…`);
    this.opening = true;
    try {
      await this.prepare();
    } catch (error) {
      if (error.status === 401) this.hold(error.message);
      else if (this.state !== "loggedout") this.retry(error.message);
      return;
    } finally {
      this.opening = false;
    }
    if (this.state === "loggedout") return;
    if (!this.wanted) {
      this.setState("closed", "disconnected");
      return;
    }
    const ws = new WebSocket(socketUrl(this.path));
    this.ws = ws;
    ws.onopen = () => {
      this.attempt = 0;
      this.setState("live", `live on ${this.path}`);
    };
    ws.onmessage = (event) => this.received(event.data);
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (this.wanted) this.retry(closeReason(event));
      else this.setState("closed", "disconnected");
    };
  }

  retry(why) {
    this.attempt += 1;
    const delayMs = backoffDelay(this.attempt);
    const text = `${why}; reconnecting in ${(delayMs / 1000).toFixed(1)} s (attempt ${this.attempt})`;
    this.setState("reconnecting", text, { attempt: this.attempt, delayMs, why });
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.wanted) this.open();
    }, delayMs);
  }

  received(raw) {
    let data = null;
    try {
      data = JSON.parse(raw);
    } catch {
      // Some replies are plain text (ech+hb); they are shown raw.
    }
    if (data && data.message === "waiting for session") this.authenticate();
    else if (this.state === "waiting" && isAuthenticated(data)) {
      this.setState("live", `live on ${this.path}`);
    }
    this.dispatchEvent(new CustomEvent("frame", { detail: { raw, data, at: new Date() } }));
  }

  async authenticate() {
    this.setState("waiting", "waiting for session: sending the session from /tickle");
    try {
      const tickle = await api.tickle();
      this.send(JSON.stringify({ session: tickle.session }));
    } catch (error) {
      this.setState("waiting", `waiting for session: ${error.message}`);
    }
  }

  /** Send a text frame; returns false (sending nothing) when the socket is not open. */
  send(text) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(text);
    this.dispatchEvent(new CustomEvent("sent", { detail: { text, at: new Date() } }));
    return true;
  }

  /** Close the socket and stay in "loggedout" (no retries) until resume() or connect(). */
  hold(why) {
    clearTimeout(this.timer);
    this.timer = null;
    const ws = this.ws;
    this.ws = null;
    if (ws) ws.close(1000, "logged out");
    this.attempt = 0;
    if (this.state !== "loggedout") this.setState("loggedout", `logged out: ${why}`);
  }

  /** Connect again after hold(), if still wanted; a no-op in any other state. */
  resume() {
    if (this.state !== "loggedout") return;
    if (!this.wanted) {
      this.setState("closed", "disconnected");
      return;
    }
    this.setState("connecting", `connecting to ${this.path}…`);
    // A prepare() still under way carries on into the socket now that the state has changed.
    if (!this.opening) this.open();
  }

  /** Close for good (no reconnect) until connect() is called again. */
  close() {
    this.wanted = false;
    clearTimeout(this.timer);
    this.timer = null;
    if (this.ws) this.ws.close(1000, "closed by the user");
    else this.setState("closed", "disconnected");
  }

  get isLive() {
    return this.state === "live";
  }
}

function isAuthenticated(data) {
  if (!data) return false;
  if (data.topic === "sts") return data.args && data.args.authenticated === true;
  return data.topic === "system" && "success" in data;
}
