// A small intraday line chart drawn as SVG: history bars, then extended live from last prices.

import { price } from "./numbers.js";

const NS = "http://www.w3.org/2000/svg";
const PAD = { left: 8, right: 60, top: 12, bottom: 22 };
const MAX_BARS = 2000;

function svgEl(name, attrs = {}, text) {
  const el = document.createElementNS(NS, name);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, String(value));
  if (text !== undefined) el.textContent = text;
  return el;
}

function hhmm(ms) {
  const date = new Date(ms);
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

/** Chart of closes; `load()` replaces the bars, `push()` extends or updates the newest bar. */
export class IntradayChart {
  constructor(svg, { decimals = 2 } = {}) {
    this.svg = svg;
    this.decimals = decimals;
    this.bars = [];
    this.barMs = 60_000;
    this.message = "Select an instrument in the watchlist";
    this.scheduled = false;
    new ResizeObserver(() => this.schedule()).observe(svg);
  }

  /** Replace the chart with `bars` ({t, c} with t in epoch ms) of `barMs` each. */
  load(bars, barMs) {
    this.bars = bars.filter((bar) => Number.isFinite(bar.c)).map((bar) => ({ t: bar.t, c: bar.c }));
    this.barMs = barMs > 0 ? barMs : 60_000;
    this.message = this.bars.length ? "" : "No bars yet: the chart grows with live prices";
    this.schedule();
  }

  /** Extend the chart with a live price at `tMs`: same bar period updates, a new one appends. */
  push(value, tMs) {
    if (!Number.isFinite(value)) return;
    const start = Math.floor(tMs / this.barMs) * this.barMs;
    const last = this.bars[this.bars.length - 1];
    if (last && start <= last.t) last.c = value;
    else this.bars.push({ t: start, c: value });
    if (this.bars.length > MAX_BARS) this.bars.shift();
    this.message = "";
    this.schedule();
  }

  /** Empty the chart and show `message` in its place. */
  clear(message) {
    this.bars = [];
    this.message = message;
    this.schedule();
  }

  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {
      this.scheduled = false;
      this.render();
    });
  }

  render() {
    const width = Math.max(200, this.svg.clientWidth);
    const height = Math.max(120, this.svg.clientHeight);
    this.svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    this.svg.replaceChildren();
    if (this.bars.length === 0) {
      this.svg.append(svgEl("text", { x: width / 2, y: height / 2, class: "chart-message" }, this.message));
      return;
    }
    const scale = this.scale(width, height);
    this.drawGrid(scale, width);
    this.drawLine(scale, height);
    this.drawLast(scale, width);
    this.drawTimes(scale, height);
  }

  scale(width, height) {
    const closes = this.bars.map((bar) => bar.c);
    let low = Math.min(...closes);
    let high = Math.max(...closes);
    const margin = (high - low) * 0.08 || Math.abs(high) * 0.001 || 1;
    low -= margin;
    high += margin;
    // Bars are spaced by index, not time: nights and weekends take no room.
    const span = Math.max(this.bars.length - 1, 1);
    const innerW = width - PAD.left - PAD.right;
    const innerH = height - PAD.top - PAD.bottom;
    return {
      low,
      high,
      x: (index) => PAD.left + (index / span) * innerW,
      y: (v) => PAD.top + (1 - (v - low) / (high - low)) * innerH,
    };
  }

  drawGrid({ low, high, y }, width) {
    for (let i = 0; i <= 4; i += 1) {
      const value = low + ((high - low) * i) / 4;
      const yy = y(value);
      this.svg.append(
        svgEl("line", { x1: PAD.left, x2: width - PAD.right, y1: yy, y2: yy, class: "chart-grid" }),
        svgEl("text", { x: width - PAD.right + 6, y: yy + 4, class: "chart-axis" }, price(value, this.decimals)),
      );
    }
  }

  drawLine({ x, y }, height) {
    const points = this.bars.map((bar, i) => `${x(i).toFixed(1)},${y(bar.c).toFixed(1)}`);
    const rising = this.bars[this.bars.length - 1].c >= this.bars[0].c;
    const tone = rising ? "up" : "down";
    const baseline = height - PAD.bottom;
    const lastX = x(this.bars.length - 1).toFixed(1);
    const firstX = x(0).toFixed(1);
    const area = `M${firstX},${baseline} L${points.join(" L")} L${lastX},${baseline} Z`;
    this.svg.append(
      svgEl("path", { d: area, class: `chart-area ${tone}` }),
      svgEl("polyline", { points: points.join(" "), class: `chart-line ${tone}` }),
    );
  }

  drawLast({ x, y }, width) {
    const last = this.bars[this.bars.length - 1];
    const yy = y(last.c);
    const label = price(last.c, this.decimals);
    this.svg.append(
      svgEl("line", { x1: PAD.left, x2: width - PAD.right, y1: yy, y2: yy, class: "chart-last" }),
      svgEl("circle", { cx: x(this.bars.length - 1), cy: yy, r: 3, class: "chart-dot" }),
      svgEl("rect", { x: width - PAD.right + 2, y: yy - 9, width: PAD.right - 4, height: 18, rx: 3, class: "chart-tag" }),
      svgEl("text", { x: width - PAD.right + 6, y: yy + 4, class: "chart-tag-text" }, label),
    );
  }

  drawTimes({ x }, height) {
    const lastIndex = this.bars.length - 1;
    const middle = Math.floor(lastIndex / 2);
    const picks = [[0, "start"]];
    // Labels closer than ~70 px would overlap; the middle one is dropped first.
    if (x(middle) - x(0) > 70 && x(lastIndex) - x(middle) > 70) picks.push([middle, "middle"]);
    if (x(lastIndex) - x(0) > 70) picks.push([lastIndex, "end"]);
    for (const [index, anchor] of picks) {
      const attrs = { x: x(index), y: height - 6, class: "chart-axis", "text-anchor": anchor };
      this.svg.append(svgEl("text", attrs, hhmm(this.bars[index].t)));
    }
  }
}
