// The faults panel: inject what the real gateway does to clients, see what lasts, clear it.

const ROUTES = "/tickgate/faults";
const REFRESH_MS = 1000;

async function control(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw new Error("tickgate is not reachable: is the server running?");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || `the server answered ${response.status}`);
  return data;
}

/** One line per active fault: what it does and what is left of it. */
function describe(fault) {
  const what = {
    rest: () => `${fault.path} → ${fault.status}`,
    heartbeat: () => "heartbeat stalled",
    logout: () => "logged out",
    "rest-latency": () => `${fault.path} +${delay(fault)}`,
    "ws-latency": () => `WebSocket frames +${delay(fault)}`,
  }[fault.kind];
  const left = [];
  if (fault.callsLeft !== null) left.push(`${fault.callsLeft} calls`);
  if (fault.secondsLeft !== null) left.push(`${Math.ceil(fault.secondsLeft)} s`);
  return `${what ? what() : fault.kind} · ${left.join(" or ") || "until cleared"}`;
}

function delay(fault) {
  return fault.ms !== undefined ? `${fault.ms} ms` : `${fault.minMs}–${fault.maxMs} ms`;
}

export class FaultPanel {
  /** `panel` is the #faults-panel section; `onError(text)` shows a refusal in plain words. */
  constructor(panel, { onError }) {
    this.panel = panel;
    this.onError = onError;
    this.list = panel.querySelector("#fault-list");
    this.empty = panel.querySelector("#fault-empty");
    this.said = panel.querySelector("#fault-said");
    for (const button of panel.querySelectorAll("[data-fault]")) {
      button.addEventListener("click", () => this.instant(button.dataset.fault));
    }
    panel.querySelector("#fault-rest").addEventListener("submit", (event) => {
      event.preventDefault();
      const calls = Number(panel.querySelector("#fault-rest-calls").value);
      this.inject("rest", {
        path: panel.querySelector("#fault-rest-path").value.trim() || "*",
        status: Number(panel.querySelector("#fault-rest-status").value),
        ...(calls > 0 ? { calls } : {}),
      });
    });
    panel.querySelector("#fault-timed").addEventListener("submit", (event) => {
      event.preventDefault();
      const kind = panel.querySelector("#fault-timed-kind").value;
      const seconds = Number(panel.querySelector("#fault-timed-seconds").value);
      const ms = Number(panel.querySelector("#fault-timed-ms").value);
      const body = kind === "heartbeat" ? { seconds } : { target: kind, ms, seconds };
      this.inject(kind === "heartbeat" ? "heartbeat" : "latency", body);
    });
    panel.querySelector("#fault-clear").addEventListener("click", () => this.clear());
    this.refresh();
    setInterval(() => this.refresh(), REFRESH_MS);
  }

  async instant(kind) {
    const body = kind === "reset" ? { abort: true } : {};
    await this.inject(kind === "reset" ? "drop" : kind, body);
  }

  async inject(kind, body) {
    try {
      const answer = await control("POST", `${ROUTES}/${kind}`, body);
      this.said.textContent = `${kind}: ${JSON.stringify(answer)}`;
    } catch (error) {
      this.onError(`Fault ${kind} refused: ${error.message}`);
    }
    await this.refresh();
  }

  async clear(id) {
    try {
      await control("DELETE", id === undefined ? ROUTES : `${ROUTES}/${id}`);
    } catch (error) {
      this.onError(`Could not clear the fault: ${error.message}`);
    }
    await this.refresh();
  }

  async refresh() {
    let faults;
    try {
      faults = (await control("GET", ROUTES)).faults;
    } catch {
      return; // the page's connection pill already says when the server is away
    }
    this.list.replaceChildren(
      ...faults.map((fault) => {
        const item = document.createElement("li");
        item.dataset.kind = fault.kind;
        const text = document.createElement("span");
        text.textContent = describe(fault);
        const clear = document.createElement("button");
        clear.type = "button";
        clear.className = "small";
        clear.textContent = "Clear";
        clear.setAttribute("aria-label", `Clear fault ${fault.id}`);
        clear.addEventListener("click", () => this.clear(fault.id));
        item.append(text, clear);
        return item;
      }),
    );
    this.empty.hidden = faults.length > 0;
    this.panel.dataset.faults = String(faults.length);
  }
}
