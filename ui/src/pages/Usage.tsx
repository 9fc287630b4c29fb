// Usage: headline figures, charts over time, a table per group and the top errors of a period,
// all from /admin/usage and /admin/errors.
import { useEffect, useMemo, useState } from "preact/hooks";
import { api, ApiError, type ErrorRow, query, type UsageRow } from "../api";
import { Chart, type Series } from "../parts/Chart";
import { ago, count, ms, percent, plural, usd } from "../format";

const PRESETS: Record<string, number> = { "1h": 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400 };
const STEPS = [60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400];
const GROUPS = ["model", "provider", "key", "team"] as const;
type Group = (typeof GROUPS)[number];

interface Period { since: number; until: number; step: number }
interface Data { totals: UsageRow | null; series: UsageRow[]; groups: UsageRow[]; errors: ErrorRow[] }

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
  return { since: Math.floor(since / step) * step, until: Math.ceil(until), step };
}

function localInput(seconds: number): string {
  const date = new Date(seconds * 1000 - new Date().getTimezoneOffset() * 60000);
  return date.toISOString().slice(0, 16);
}

export function Usage() {
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
      api<{ data: ErrorRow[] }>("GET", `/admin/errors${query({ ...base, limit: 10 })}`),
    ])
      .then(([totals, series, groups, errors]) => {
        setData({ totals: totals.data[0] ?? null, series: fill(series.data, range), groups: groups.data, errors: errors.data });
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
        {preset === "custom" && (
          <span class="custom-range">
            <input type="datetime-local" value={from} onInput={(e) => setFrom(e.currentTarget.value)} aria-label="From" />
            <span class="muted">to</span>
            <input type="datetime-local" value={to} onInput={(e) => setTo(e.currentTarget.value)} aria-label="To" />
          </span>
        )}
        <span class="spacer" />
        <button class="secondary" onClick={() => setTick(tick + 1)} data-testid="refresh">{loading ? "Loading…" : "Refresh"}</button>
      </div>
      {error && <p class="error-text">{error}</p>}
      {focus && (
        <p class="focus" data-testid="focus">Only {focus.name} <span class="mono strong">{focus.value}</span>
          <button class="link" onClick={() => setFocus(null)} data-testid="clear-focus">Show all</button></p>
      )}
      {data && <Figures data={data} group={group} setGroup={setGroup}
        onFocus={(value) => setFocus({ name: group, value })} focused={focus !== null} />}
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
}

function Figures({ data, group, setGroup, onFocus, focused }: FiguresProps) {
  const totals = data.totals;
  const charts = useMemo(() => {
    const times = data.series.map((row) => row.time ?? 0);
    const pick = (get: (row: UsageRow) => number | null) => data.series.map(get);
    const requests: Series[] = [
      { label: "Requests", values: pick((row) => row.requests), color: "#4f46e5" },
      { label: "Errors", values: pick((row) => row.errors), color: "#dc2626" },
    ];
    const tokens: Series[] = [
      { label: "Prompt", values: pick((row) => row.prompt_tokens), color: "#0891b2" },
      { label: "Completion", values: pick((row) => row.completion_tokens), color: "#7c3aed" },
    ];
    const cost: Series[] = [{ label: "Cost", values: pick((row) => row.cost_usd), color: "#059669" }];
    const latency: Series[] = [
      { label: "p50", values: pick((row) => row.latency_ms.p50), color: "#4f46e5" },
      { label: "p95", values: pick((row) => row.latency_ms.p95), color: "#d97706" },
      { label: "p99", values: pick((row) => row.latency_ms.p99), color: "#dc2626" },
      { label: "TTFT p50", values: pick((row) => row.ttft_ms.p50), color: "#0891b2", dash: true },
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
        <Card label="Latency p50 / p99" value={`${ms(totals.latency_ms.p50)} / ${ms(totals.latency_ms.p99)}`} testid="total-latency" />
        <Card label="Time to first token p50 / p99" value={`${ms(totals.ttft_ms.p50)} / ${ms(totals.ttft_ms.p99)}`} testid="total-ttft" />
      </div>
      <div class="charts">
        <Chart title="Requests and errors" times={charts.times} series={charts.requests} format={countTick} testid="chart-requests" />
        <Chart title="Tokens" times={charts.times} series={charts.tokens} format={countTick} testid="chart-tokens" />
        <Chart title="Cost (USD)" times={charts.times} series={charts.cost} format={usdTick} testid="chart-cost" />
        <Chart title="Latency and time to first token" times={charts.times} series={charts.latency} format={msTick} testid="chart-latency" />
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
              <th class="num">TTFT p50</th></tr>
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

const countTick = (value: number | null) => (value === null ? "–" : count(value));
const usdTick = (value: number | null) => (value === null ? "–" : usd(value));
const msTick = (value: number | null) => (value === null ? "–" : ms(value));

function Card({ label, value, note, testid, tone }: { label: string; value: string; note?: string; testid: string; tone?: "bad" }) {
  return (
    <div class={`card ${tone ?? ""}`} data-testid={testid}>
      <div class="card-label">{label}</div>
      <div class="card-value">{value}</div>
      {note && <div class="card-note">{note}</div>}
    </div>
  );
}
