const integer = new Intl.NumberFormat("en-US");
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

export function count(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return Math.abs(value) >= 100_000 ? compact.format(value) : integer.format(value);
}

export function usd(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  if (value === 0) return "$0";
  if (Math.abs(value) < 0.01) return `$${value.toFixed(5)}`;
  return `$${value.toFixed(2)}`;
}

export function ms(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  if (value >= 1000) return `${(value / 1000).toFixed(value >= 10_000 ? 1 : 2)} s`;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ms`;
}

export function plural(value: number, one: string, many: string): string {
  return `${count(value)} ${value === 1 ? one : many}`;
}

export function percent(value: number | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return `${(value * 100).toFixed(value > 0 && value < 0.01 ? 2 : 1)}%`;
}

export function when(seconds: number | null | undefined): string {
  if (!seconds) return "–";
  return new Date(seconds * 1000).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function ago(seconds: number): string {
  const delta = Date.now() / 1000 - seconds;
  if (delta < 60) return "just now";
  if (delta < 3600) return `${Math.floor(delta / 60)} min ago`;
  if (delta < 86400) return `${Math.floor(delta / 3600)} h ago`;
  return `${Math.floor(delta / 86400)} d ago`;
}

// A date without its time (expiry, creation; the full time goes in a tooltip).
export function day(seconds: number | null | undefined): string {
  if (!seconds) return "–";
  return new Date(seconds * 1000).toLocaleDateString(undefined, { dateStyle: "medium" });
}

// A price per million tokens: cents always shown, more digits only where they exist ($0.075).
export function perMillion(value: number | undefined): string {
  if (value === undefined) return "–";
  const digits = value >= 1 ? 2 : Math.min(Math.max(2, decimals(value)), 4);
  return `$${value.toFixed(digits)}`;
}

function decimals(value: number): number {
  const text = value.toFixed(6).replace(/0+$/, "");
  return text.length - text.indexOf(".") - 1;
}

// An axis tick: as many decimals as the step between ticks needs, and no more (0, 0.5, 1…).
export function tick(value: number, step: number): string {
  const places = step > 0 ? Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)) : 0;
  return value.toFixed(Math.min(places, 8));
}
