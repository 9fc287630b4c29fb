// Usage: headline figures, charts over time, a table per group and the top errors of a period,
// all from /admin/usage and /admin/errors.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError, type ErrorRow, query, type UsageRow } from "../api";
import { Chart, type Series } from "../parts/Chart";
import { ago, count, ms, percent, plural, tick, usd } from "../format";

const PRESETS: Record<string, number> = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const SPOKEN: Record<string, string> = { "1h": "last hour", "24h": "last 24 hours", "7d": "last 7 days", "30d": "last 30 days" };
const STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const GROUPS = ["model", "provider", "key", "team", "route"] as const;
type Group = (typeof GROUPS)[number];

interface Period { since: number; until: number; step: number; name: string }
interface Data { range: Period; totals: UsageRow | null; series: UsageRow[]; groups: UsageRow[]; errors: ErrorRow[] }

function period(preset: string, from: string, to: string): Period {
  let until = Date.now() / 1000;
  let since = until - (PRESETS[preset] ?? 86400);
  if (preset === "custom" && from && to) {
    since = new Date(from).getTime() / 1000;
    until = new Date(to).getTime() / 1000;
  }
  const span = Math.max(until - since, 60);
  // About 60 to 120 buckets, on round steps (a minute, five, an hour, a day…).
  const step = STEPS.find((candidate) => span / candidate <= 120) ?? 86400;
  const name = SPOKEN[preset] ?? `${shortDate(since)} – ${shortDate(until)}`;
  return { since: Math.floor(since / step) * step, until: Math.ceil(until), step, name };
}

function shortDate(seconds: number): string {
  return new Date(seconds * 1000).toLocaleString(undefined, { month: "short", day: "numeric", hour: "numeric", minute: "2-digit" });
}

function localInput(seconds: number): string {
  const date = new Date(seconds * 1000 - new Date().getTimezoneOffset() * 60000);
  return date.toISOString().slice(0, 16);
}

export function Usage({ errors: showErrors = true, logs = false }: { errors?: boolean; logs?: boolean } = {}) {
  const [preset, setPreset] = useState("24h");
  const [from, setFrom] = useState(localInput(Date.now() / 1000 - 86400));
  const [to, setTo] = useState(localInput(Date.now() / 1000));
  const [group, setGroup] = useState<Group>("model");
  const [data, setData] = useState<Data | null>(null);
  const [error, setError] = useState("");
  const [loading, setLoading] = useState(false);
  const [tick, setTick] = useState(0);
  // One group's figures only (a row of the table clicked): every query then carries its filter.
  const [focus, setFocus] = useState<{ name: Group; value: string } | null>(null);

  useEffect(() => {
    const range = period(preset, from, to);
    if (range.until <= range.since) {
      setError("The period ends before it starts.");
      return;
    }
    const base = { since: range.since, until: range.until, ...(focus ? { [focus.name]: focus.value } : {}) };
    setLoading(true);
    Promise.all([
      api<{ data: UsageRow[] }>("GET", `/admin/usage${query(base)}`),
      api<{ data: UsageRow[] }>("GET", `/admin/usage${query({ ...base, interval: range.step })}`),
      api<{ data: UsageRow[] }>("GET", `/admin/usage${query({ ...base, group_by: group })}`),
      // The top errors span every team: an admin's to read (the other roles get an empty list).
      showErrors ? api<{ data: ErrorRow[] }>("GET", `/admin/errors${query({ ...base, limit: 10 })}`) : Promise.resolve({ data: [] as ErrorRow[] }),
    ])
      .then(([totals, series, groups, errors]) => {
        setData({ range, totals: totals.data[0] ?? null, series: fill(series.data, range), groups: groups.data, errors: errors.data });
        setError("");
      })
      .catch((failure: ApiError) => setError(failure.message))
      .finally(() => setLoading(false));
  }, [preset, from, to, group, tick, focus]);

  return (
    <div class="page" data-testid="usage-page">
      <div class="toolbar">
        <div class="segmented" role="group" aria-label="Period">
          {[...Object.keys(PRESETS), "custom"].map((name) => (
            <button key={name} class={preset === name ? "active" : ""} onClick={() => setPreset(name)}
              data-testid={`range-${name}`}>{name === "custom" ? "Custom" : `Last ${name}`}</button>
          ))}
        </div>
        <span class="spacer" />
        <button class="secondary" onClick={() => setTick(tick + 1)} data-testid="refresh">{loading ? "Loading…" : "Refresh"}</button>
      </div>
      {preset === "custom" && (
        <div class="toolbar custom-range">
          <label class="inline">From
            <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} data-testid="range-from" />
          </label>
          <label class="inline">to
            <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} data-testid="range-to" />
          </label>
        </div>
      )}
      {error && <p class="error-text">{error}</p>}
      {focus && (
        <p class="focus" data-testid="focus">Only {focus.name} <span class="mono strong">{focus.value}</span>
          <button class="link" onClick={() => setFocus(null)} data-testid="clear-focus">Show all</button></p>
      )}
      {data && <Figures data={data} group={group} setGroup={setGroup}
        onFocus={(value) => setFocus({ name: group, value })} focused={focus !== null} logs={logs} />}
    </div>
  );
}

// Every bucket of the period, so that a quiet hour shows as zero rather than as a line across it.
function fill(rows: UsageRow[], range: Period): UsageRow[] {
  const byTime = new Map(rows.map((row) => [row.time, row]));
  const out: UsageRow[] = [];
  for (let time = range.since; time < range.until; time += range.step) {
    out.push(byTime.get(time) ?? {
      time, requests: 0, errors: 0, error_rate: 0, prompt_tokens: 0, completion_tokens: 0, cached_tokens: 0,
      reasoning_tokens: 0, cost_usd: 0, cache_hits: 0,
      latency_ms: { p50: null, p95: null, p99: null }, ttft_ms: { p50: null, p95: null, p99: null },
    });
  }
  return out;
}

interface FiguresProps {
  data: Data;
  group: Group;
  setGroup: (group: Group) => void;
  onFocus: (value: string) => void;
  focused: boolean;
  logs: boolean;  // each row links to its conversations (the conversation log)
}

function Figures({ data, group, setGroup, onFocus, focused, logs }: FiguresProps) {
  const totals = data.totals;
  const charts = useMemo(() => {
    const times = data.series.map((row) => row.time ?? 0);
    const pick = (get: (row: UsageRow) => number | null) => data.series.map(get);
    const all = data.totals;
    const prompt = pick((row) => row.prompt_tokens);
    const completion = pick((row) => row.completion_tokens);
    const requests: Series[] = [
      { label: "Requests", values: pick((row) => row.requests), color: "#6366f1", total: count(all?.requests) },
      { label: "Errors", values: pick((row) => row.errors), color: "#dc2626", total: count(all?.errors) },
    ];
    // Stacked: completion at the bottom, prompt on top of it (the bar's height is the bucket's total).
    const tokens: Series[] = [
      { label: "Prompt", values: prompt, draw: prompt.map((value, index) => (value ?? 0) + (completion[index] ?? 0)),
        color: "#38bdf8", total: count(all?.prompt_tokens) },
      { label: "Completion", values: completion, color: "#7c3aed", total: count(all?.completion_tokens) },
    ];
    const cost: Series[] = [{ label: "Cost", values: pick((row) => row.cost_usd), color: "#10b981", total: usd(all?.cost_usd) }];
    const latency: Series[] = [
      { label: "p50", values: pick((row) => row.latency_ms.p50), color: "#4f46e5", total: ms(all?.latency_ms.p50) },
      { label: "p95", values: pick((row) => row.latency_ms.p95), color: "#d97706", total: ms(all?.latency_ms.p95) },
      { label: "p99", values: pick((row) => row.latency_ms.p99), color: "#dc2626", total: ms(all?.latency_ms.p99) },
      { label: "TTFT p50", values: pick((row) => row.ttft_ms.p50), color: "#0891b2", dash: true, total: ms(all?.ttft_ms.p50) },
    ];
    return { times, requests, tokens, cost, latency };
  }, [data]);

  if (!totals) {
    return (
      <div class="empty" data-testid="usage-empty">
        <h3>No requests in this period</h3>
        <p>Send a request through the gateway (or try the <a href="#/playground">playground</a>), or pick a longer period.</p>
      </div>
    );
  }
  return (
    <>
      <div class="cards" data-testid="headline">
        <Card label="Requests" value={count(totals.requests)} testid="total-requests" />
        <Card label="Error rate" value={percent(totals.error_rate)} note={plural(totals.errors, "error", "errors")} testid="total-errors"
          tone={totals.errors ? "bad" : undefined} />
        <Card label="Tokens" value={count(totals.prompt_tokens + totals.completion_tokens)}
          note={`${count(totals.prompt_tokens)} in · ${count(totals.completion_tokens)} out`} testid="total-tokens" />
        <Card label="Cost" value={usd(totals.cost_usd)} testid="total-cost" />
        <Card label="Latency p50" value={ms(totals.latency_ms.p50)} testid="total-latency"
          note={`p95 ${ms(totals.latency_ms.p95)} · p99 ${ms(totals.latency_ms.p99)}`} />
        <Card label="Time to first token p50" value={ms(totals.ttft_ms.p50)} testid="total-ttft"
          note={`p95 ${ms(totals.ttft_ms.p95)} · p99 ${ms(totals.ttft_ms.p99)}`} />
      </div>
      <div class="charts">
        <Chart title="Requests and errors" kind="bars" integers times={charts.times} step={data.range.step} period={data.range.name}
          series={charts.requests} axis={countAxis} format={count} testid="chart-requests" />
        <Chart title="Tokens" kind="bars" integers times={charts.times} step={data.range.step} period={data.range.name}
          series={charts.tokens} axis={countAxis} format={count} testid="chart-tokens" />
        <Chart title="Cost (USD)" kind="bars" times={charts.times} step={data.range.step} period={data.range.name}
          series={charts.cost} axis={usdAxis} format={usd} testid="chart-cost" />
        <Chart title="Latency and time to first token" kind="lines" times={charts.times} step={data.range.step}
          period={data.range.name} series={charts.latency} axis={msAxis} format={ms} testid="chart-latency" />
      </div>
      <section class="panel">
        <header class="panel-head">
          <h3>By {group}{!focused && <span class="sub"> · click one to see only its figures</span>}</h3>
          <label class="inline">Group by{" "}
            <select value={group} onChange={(e) => setGroup(e.currentTarget.value as Group)} data-testid="group-by">
              {GROUPS.map((name) => <option key={name} value={name}>{name}</option>)}
            </select>
          </label>
        </header>
        <table data-testid="group-table">
          <thead>
            <tr><th>{group}</th><th class="num">Requests</th><th class="num">Errors</th><th class="num">Prompt</th>
              <th class="num">Completion</th><th class="num">Cost</th><th class="num">p50</th><th class="num">p99</th>
              <th class="num">TTFT p50</th>{logs && group !== "provider" && group !== "route" && <th />}</tr>
          </thead>
          <tbody>
            {data.groups.map((row) => (
              <tr key={String(row[group])}>
                <td class="mono">
                  {row[group] && !focused
                    ? <button class="link mono" title={`Show only ${group} ${row[group]}`} onClick={() => onFocus(String(row[group]))}
                      data-testid="focus-row">{row[group]}</button>
                    : row[group] || <span class="muted">{group === "model" || group === "provider" ? "(not served)" : "(none)"}</span>}
                </td>
                <td class="num">{count(row.requests)}</td>
                <td class="num">{row.errors ? <span class="bad-text">{count(row.errors)} ({percent(row.error_rate)})</span> : "0"}</td>
                <td class="num">{count(row.prompt_tokens)}</td>
                <td class="num">{count(row.completion_tokens)}</td>
                <td class="num">{usd(row.cost_usd)}</td>
                <td class="num">{ms(row.latency_ms.p50)}</td>
                <td class="num">{ms(row.latency_ms.p99)}</td>
                <td class="num">{ms(row.ttft_ms.p50)}</td>
                {logs && group !== "provider" && group !== "route" && <td>{row[group] &&
                  <a href={`#/logs?${group}=${encodeURIComponent(String(row[group]))}`} data-testid="usage-logs">Logs</a>}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section class="panel">
        <header class="panel-head"><h3>Top errors</h3></header>
        {data.errors.length === 0 ? <p class="muted pad">No errors in this period.</p> : (
          <table data-testid="errors-table">
            <thead><tr><th>Status</th><th>Code</th><th>Message</th><th>Model</th><th class="num">Count</th><th>Last seen</th></tr></thead>
            <tbody>
              {data.errors.map((row) => (
                <tr key={`${row.status}${row.code}${row.message}`}>
                  <td><span class="badge bad">{row.status}</span></td>
                  <td class="mono">{row.code ?? "–"}</td>
                  <td class="message">{row.message ?? <span class="muted">(the client left)</span>}</td>
                  <td class="mono">{row.model ?? "–"}</td>
                  <td class="num">{count(row.count)}</td>
                  <td class="nowrap">{ago(row.last_seen)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
    </>
  );
}

const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const countAxis = (value: number) => (value >= 10_000 ? compact.format(value) : count(value));
const usdAxis = (value: number, increment: number) => (value === 0 ? "$0" : `$${tick(value, increment)}`);
// Milliseconds up to a second apart, seconds beyond (0, 500 ms, 1000 ms would read badly as 0, 0.5 s, 1.0 s…).
const msAxis = (value: number, increment: number) => {
  if (value === 0) return "0";
  return increment >= 500 ? `${tick(value / 1000, increment / 1000)} s` : `${tick(value, increment)} ms`;
};

function Card({ label, value, note, testid, tone }: { label: string; value: string; note?: string; testid: string; tone?: "bad" }) {
  return (
    <div class={`card ${tone ?? ""}`} data-testid={testid}>
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
      {note && <div class="card-note">{note}</div>}
    </div>
  );
}
