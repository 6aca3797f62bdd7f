// What the user must always see: the connection state, and errors in plain words.

const LABELS = {
  idle: "Not connected",
  connecting: "Connecting…",
  waiting: "Waiting for session",
  live: "Live",
  reconnecting: "Reconnecting",
  closed: "Disconnected",
  loggedout: "Logged out",
};

/** Mirror a Stream's state into a pill element (text, data-state, title). */
export function bindPill(pill, stream) {
  let countdown = null;
  stream.addEventListener("state", (event) => {
    const { state, text, delayMs } = event.detail;
    clearInterval(countdown);
    pill.dataset.state = state;
    pill.title = text;
    pill.textContent = LABELS[state] || state;
    if (state === "reconnecting") {
      const until = Date.now() + delayMs;
      const tick = () => {
        const left = Math.max(0, Math.ceil((until - Date.now()) / 1000));
        pill.textContent = `Reconnecting in ${left} s`;
      };
      tick();
      countdown = setInterval(tick, 250);
    }
  });
}

/** A list of dismissable notices; each stays `ttlMs` unless closed. */
export class Notices {
  constructor(container, { ttlMs = 12_000, max = 4 } = {}) {
    this.container = container;
    this.ttlMs = ttlMs;
    this.max = max;
  }

  /** Show `message`; `level` is "error", "warn" or "info". Repeats of the newest are merged. */
  show(message, level = "error") {
    const newest = this.container.lastElementChild;
    if (newest && newest.dataset.message === message) {
      const count = Number(newest.dataset.count || "1") + 1;
      newest.dataset.count = String(count);
      newest.querySelector(".count").textContent = `×${count}`;
      return;
    }
    const item = document.createElement("div");
    item.className = `notice ${level}`;
    item.dataset.message = message;
    item.setAttribute("role", level === "error" ? "alert" : "status");
    const text = document.createElement("span");
    text.textContent = message;
    const count = document.createElement("span");
    count.className = "count";
    const close = document.createElement("button");
    close.type = "button";
    close.className = "close";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", () => item.remove());
    item.append(text, count, close);
    this.container.append(item);
    while (this.container.children.length > this.max) this.container.firstElementChild.remove();
    setTimeout(() => item.remove(), this.ttlMs);
  }
}
