// The protocol console: pick a dialect, connect, send any command, watch the raw frames.

import { api } from "./api.js";
import { clockTime } from "./numbers.js";
import { bindPill } from "./status.js";
import { Stream } from "./stream.js";

/** The log shows the newest MAX_ROWS frames (more slows the page under a fast stream). */
const MAX_ROWS = 500;
/**
 * While paused, only the newest MAX_HELD incoming frames are held (more could not be shown on
 * resume anyway); older ones are dropped, counted and the count shown.
 */
export const MAX_HELD = MAX_ROWS;
const MAX_TEXT = 4000;

/** Example commands per dialect; ACCT is replaced with the selected account. */
export const EXAMPLES = {
  "/v1/portal/ws": [
    's+md+265598+{"tempo":1000,"snapshot":true,"fields":"31,84,86"}',
    "u+md+265598",
    's+md+756733+{"snapshot":true}',
    "s+realtime-account-data+ACCT",
    "u+realtime-account-data+ACCT",
    's+md+1+{"fields":"31"}',
  ],
  "/v1/api/ws": [
    'smd+265598+{"fields":["31","84","86"]}',
    "umd+265598+{}",
    "sor+{}",
    "spl",
    "str+{}",
    "ssd+ACCT+{}",
    'smh+265598+{"period":"1d","bar":"5min"}',
    "tic",
    "ech+hb",
  ],
};

function topicOf(data) {
  if (!data || typeof data !== "object") return "";
  if (typeof data.topic === "string") return data.topic;
  return data.error ? "error" : "";
}

/** The console panel; `account()` names the account for the example commands. */
export class ProtocolConsole {
  constructor(root, { account, session }) {
    this.el = (id) => root.querySelector(`#console-${id}`);
    this.account = account;
    this.session = session;
    this.paused = false;
    this.held = [];
    this.dropped = 0;
    this.droppedLastPause = 0;
    this.pending = [];
    this.total = 0;
    this.stream = null;
    this.bind();
    this.renderExamples();
  }

  bind() {
    this.el("dialect").addEventListener("change", () => this.switchDialect());
    this.el("connect").addEventListener("click", () => this.toggleConnection());
    this.el("form").addEventListener("submit", (event) => {
      event.preventDefault();
      this.sendInput();
    });
    this.el("filter").addEventListener("input", () => this.applyFilter());
    this.el("pause").addEventListener("click", () => this.togglePause());
    this.el("clear").addEventListener("click", () => this.clear());
  }

  get dialect() {
    return this.el("dialect").value;
  }

  renderExamples() {
    const list = this.el("examples");
    list.replaceChildren();
    for (const template of EXAMPLES[this.dialect]) {
      const command = template.replace("ACCT", this.account() || "ACCT");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "example";
      button.textContent = command;
      button.title = "Put this command in the input (double-click sends it)";
      button.addEventListener("click", () => this.useExample(command));
      button.addEventListener("dblclick", () => this.sendInput());
      list.append(button);
    }
  }

  useExample(command) {
    const input = this.el("input");
    input.value = command;
    input.focus();
  }

  switchDialect() {
    const wasConnected = this.stream && this.stream.wanted;
    this.drop();
    this.renderExamples();
    if (wasConnected) this.connect();
  }

  toggleConnection() {
    if (this.stream && this.stream.wanted) this.disconnect();
    else this.connect();
  }

  /** Close and forget the current stream, if any. */
  drop() {
    if (!this.stream) return;
    this.stream.close();
    this.session.unwatch(this.stream);
    this.stream = null;
  }

  connect() {
    const stream = new Stream(this.dialect, { prepare: () => this.prepare() });
    this.stream = stream;
    // The console keeps its socket on logout (its frames are what the user came to watch); a
    // connect refused while logged out is retried after the login.
    this.session.watch(stream);
    bindPill(this.el("state"), stream);
    stream.addEventListener("frame", (event) => this.add("in", event.detail));
    stream.addEventListener("sent", (event) =>
      this.add("out", { raw: event.detail.text, data: null, at: event.detail.at }),
    );
    stream.addEventListener("state", (event) => this.stateChanged(event.detail));
    this.el("connect").textContent = "Disconnect";
    stream.connect();
  }

  disconnect() {
    this.drop();
    this.el("connect").textContent = "Connect";
  }

  async prepare() {
    // Streaming needs a primed brokerage session, like the real gateway.
    await api.accounts();
  }

  stateChanged({ state, text }) {
    if (state === "connecting") return;
    this.add("note", { raw: text, data: null, at: new Date() });
    this.el("send").disabled = state !== "live" && state !== "waiting";
  }

  sendInput() {
    const text = this.el("input").value.trim();
    if (!text) return;
    if (!this.stream || !this.stream.send(text)) {
      this.add("note", { raw: "not connected: press Connect first", data: null, at: new Date() });
    }
  }

  add(direction, { raw, data, at }) {
    this.total += 1;
    const topic = direction === "in" ? topicOf(data) : "";
    const entry = { direction, raw: String(raw), topic, at, data };
    if (this.paused && direction === "in") {
      this.held.push(entry);
      if (this.held.length > MAX_HELD) {
        this.held.shift();
        this.dropped += 1;
      }
      this.updateCount();
      return;
    }
    this.queue(entry);
  }

  queue(entry) {
    // Rows are added once per animation frame, so a fast stream costs one layout per frame.
    if (this.pending.length === 0) requestAnimationFrame(() => this.flush());
    this.pending.push(entry);
  }

  flush() {
    if (this.pending.length === 0) return;
    const log = this.el("frames");
    const stick = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const rows = this.pending.splice(0).slice(-MAX_ROWS).map((entry) => this.row(entry));
    log.append(...rows);
    while (log.children.length > MAX_ROWS) log.firstElementChild.remove();
    if (stick) log.scrollTop = log.scrollHeight;
    this.updateCount();
  }

  row({ direction, raw, topic, at, data }) {
    const row = document.createElement("div");
    const isError = data && typeof data === "object" && "error" in data;
    row.className = `frame ${direction}${isError ? " error" : ""}`;
    row.dataset.topic = topic;
    const time = document.createElement("time");
    time.textContent = clockTime(at);
    const arrow = document.createElement("span");
    arrow.className = "dir";
    arrow.textContent = { in: "←", out: "→", note: "•" }[direction];
    const badge = document.createElement("span");
    badge.className = "topic";
    badge.textContent = topic;
    const text = document.createElement("code");
    text.textContent = raw.length > MAX_TEXT ? raw.slice(0, MAX_TEXT) + " …" : raw;
    row.append(time, arrow, badge, text);
    row.hidden = !this.matches(row);
    return row;
  }

  matches(row) {
    const filter = this.el("filter").value.trim().toLowerCase();
    if (!filter) return true;
    return row.dataset.topic.toLowerCase().includes(filter);
  }

  applyFilter() {
    for (const row of this.el("frames").children) row.hidden = !this.matches(row);
  }

  togglePause() {
    this.paused = !this.paused;
    if (this.paused) this.droppedLastPause = 0;
    // Frames that arrived before the click are shown now, so the log stands still from here.
    if (this.paused && this.pending.length) this.flush();
    const button = this.el("pause");
    button.textContent = this.paused ? "Resume" : "Pause";
    button.setAttribute("aria-pressed", String(this.paused));
    if (!this.paused) this.release();
    this.updateCount();
  }

  /** Show the held frames; how many older ones were dropped stays on show until the next pause. */
  release() {
    this.droppedLastPause = this.dropped;
    this.dropped = 0;
    for (const entry of this.held.splice(0)) this.queue(entry);
  }

  clear() {
    this.el("frames").replaceChildren();
    this.held = [];
    this.dropped = 0;
    this.droppedLastPause = 0;
    this.total = 0;
    this.updateCount();
  }

  updateCount() {
    const held = this.held.length ? ` · ${this.held.length} held while paused` : "";
    this.el("count").textContent = `${this.total} frames${held}`;
    const dropped = this.el("dropped");
    dropped.hidden = this.dropped === 0 && this.droppedLastPause === 0;
    dropped.textContent = this.dropped
      ? `${this.dropped} older frames dropped while paused: only the newest ${MAX_HELD} are held.`
      : `${this.droppedLastPause} older frames were dropped during the last pause ` +
        `(only the newest ${MAX_HELD} are held).`;
  }
}
