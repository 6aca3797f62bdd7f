// The brokerage session as the page sees it: logged in or out, checked lightly, and a way back in.

import { api, auth } from "./api.js";

/** The reference allows one auth-status call a second; the page asks at most every 10 s. */
export const CHECK_MS = 10_000;

function isLoggedOutStatus(data) {
  return Boolean(data && data.topic === "sts" && data.args && data.args.authenticated === false);
}

/**
 * Tracks whether the brokerage session is logged out. It learns it from any 401 (see api.auth),
 * from `sts` frames with `authenticated: false` on watched streams, and from a status check at
 * most every CHECK_MS that is skipped while `busy` (an order question is open: any request in
 * between would make its reply stale). Events: "change" {loggedOut, why}.
 */
export class BrokerageSession extends EventTarget {
  constructor({ checkMs = CHECK_MS } = {}) {
    super();
    this.loggedOut = false;
    this.why = "";
    this.busy = false;
    this.checkMs = checkMs;
    this.lastCheck = Date.now();
    this.streams = new Map();
    auth.addEventListener("unauthorized", (event) => this.markOut(event.detail.message));
    setInterval(() => this.check(), checkMs);
  }

  /**
   * Follow `stream`'s frames for logout notices; it is resumed after a login. With `hold`, it is
   * also closed on logout (a dashboard stream whose data would only go stale).
   */
  watch(stream, { hold = false } = {}) {
    this.streams.set(stream, { hold });
    stream.addEventListener("frame", (event) => {
      if (isLoggedOutStatus(event.detail.data)) {
        this.markOut("the server reports the brokerage session as logged out");
      }
    });
    if (hold && this.loggedOut) stream.hold(this.why);
  }

  /** Forget `stream` (the console drops its stream when it disconnects or switches dialect). */
  unwatch(stream) {
    this.streams.delete(stream);
  }

  /** Ask the server once, unless busy or asked less than `checkMs` ago. Never throws. */
  async check() {
    if (this.busy || Date.now() - this.lastCheck < this.checkMs) return;
    this.lastCheck = Date.now();
    try {
      const status = await api.authStatus();
      if (status && status.authenticated === false) {
        this.markOut("the server reports the brokerage session as logged out");
      } else if (status && status.authenticated === true && this.loggedOut) {
        this.markIn();
      }
    } catch {
      // An unreachable server is the data stream's news (it shows Reconnecting); a 401 arrives
      // through api.auth.
    }
  }

  markOut(why) {
    if (this.loggedOut) return;
    this.loggedOut = true;
    this.why = why;
    for (const [stream, { hold }] of this.streams) if (hold) stream.hold(why);
    this.dispatchEvent(new CustomEvent("change", { detail: { loggedOut: true, why } }));
  }

  markIn() {
    if (!this.loggedOut) return;
    this.loggedOut = false;
    this.why = "";
    this.dispatchEvent(new CustomEvent("change", { detail: { loggedOut: false, why: "" } }));
    for (const stream of this.streams.keys()) stream.resume();
  }

  /**
   * Log in again (POST /iserver/auth/ssodh/init) and reconnect the watched streams.
   * Throws ApiError when the server refuses or cannot be reached, or Error when it answers but
   * still reports the session as not authenticated.
   */
  async login() {
    const status = await api.login();
    if (!status || status.authenticated !== true) {
      throw new Error("the server still reports the session as not authenticated");
    }
    this.lastCheck = Date.now();
    this.markIn();
  }
}

/** Show `session`'s state in `banner` (text in `[data-why]`, the login `button`). */
export function bindSessionBanner(banner, session) {
  const text = banner.querySelector("[data-why]");
  const button = banner.querySelector("button");
  const show = () => {
    banner.hidden = !session.loggedOut;
    document.body.dataset.session = session.loggedOut ? "out" : "in";
    text.textContent = session.why;
  };
  session.addEventListener("change", show);
  button.addEventListener("click", async () => {
    button.disabled = true;
    button.textContent = "Logging in…";
    try {
      await session.login();
    } catch (error) {
      text.textContent = `Could not log in: ${error.message}`;
    } finally {
      button.disabled = false;
      button.textContent = "Log in again";
    }
  });
  show();
}
