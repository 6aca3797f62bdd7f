// Reading and writing the wire's number strings: "C189.50", "1,300", "+0.45%", "1.23M".

/** The number in a wire value, or null when there is none (prefixes C/H and commas ignored). */
export function parseWire(value) {
  if (value === null || value === undefined) return null;
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  const text = String(value).trim().replace(/^[CH]/, "").replace(/,/g, "").replace(/%$/, "");
  if (text === "") return null;
  const scale = { K: 1e3, M: 1e6, B: 1e9 }[text.slice(-1).toUpperCase()];
  const number = Number(scale ? text.slice(0, -1) : text);
  if (!Number.isFinite(number)) return null;
  return scale ? number * scale : number;
}

/** A price for display with `decimals` decimals, or an em dash when missing. */
export function price(value, decimals = 2) {
  const number = typeof value === "number" ? value : parseWire(value);
  if (number === null) return "—";
  return number.toLocaleString("en-US", {
    minimumFractionDigits: decimals,
    maximumFractionDigits: decimals,
  });
}

/** A price with every decimal the wire value has (at least `min`), e.g. "1.23456", "250.10". */
export function exactPrice(value, min = 2) {
  const number = typeof value === "number" ? value : parseWire(value);
  if (number === null) return "—";
  const digits = /\.(\d+)/.exec(String(value).replace(/,/g, ""));
  return price(number, Math.min(8, Math.max(min, digits ? digits[1].length : 0)));
}

/**
 * A price number as the market writes it: `decimals` decimals, no separators (189.5 at 2 is
 * "189.50"). The number is the double nearest a decimal of at most that many places, so
 * toFixed rounds it back to exactly that decimal. Unknown decimals: those the number has, at
 * least 2, until the instrument's are known.
 */
export function tickPrice(number, decimals) {
  const places = Number.isInteger(decimals)
    ? decimals
    : Math.max(2, (/\.(\d+)$/.exec(String(number)) || ["", ""])[1].length);
  return number.toFixed(Math.min(places, 20));
}

/** A quantity for display: thousands separators, at most 4 decimals. */
export function quantity(value) {
  const number = typeof value === "number" ? value : parseWire(value);
  if (number === null) return "—";
  return number.toLocaleString("en-US", { maximumFractionDigits: 4 });
}

/** Money with a sign, e.g. "+1,234.50" / "-12.00"; em dash when missing. */
export function signedMoney(value) {
  const number = typeof value === "number" ? value : parseWire(value);
  if (number === null) return "—";
  const text = price(Math.abs(number));
  if (number > 0) return "+" + text;
  if (number < 0) return "-" + text;
  return text;
}

/** -1, 0 or 1: the sign of a wire value, for colouring. */
export function sign(value) {
  const number = typeof value === "number" ? value : parseWire(value);
  if (number === null || number === 0) return 0;
  return number > 0 ? 1 : -1;
}

/** "HH:MM:SS.mmm" in local time. */
export function clockTime(date = new Date()) {
  const pad = (n, width = 2) => String(n).padStart(width, "0");
  return (
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}` +
    `.${pad(date.getMilliseconds(), 3)}`
  );
}
