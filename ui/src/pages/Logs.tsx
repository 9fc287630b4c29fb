// The conversation log (docs/logging.md): the requests of logged callers, searchable, and one conversation
// the way a person reads it — messages, tool calls and their results, images, the route it took, its
// timings, tokens, cost and guardrail decisions. What is shown is what the model saw (after masking).
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, query } from "../api";
import { Badge } from "../parts/Badge";
import { count, ms, usd, when } from "../format";

// A message part, in OpenTelemetry's GenAI semantic conventions (the log keeps that one shape for every door).
interface Part {
  type: string; content?: unknown; id?: string; name?: string; arguments?: unknown; response?: unknown;
  modality?: string; mime_type?: string; uri?: string;
}
interface Message { role: string; parts: Part[]; finish_reason?: string }
interface Summary {
  request_id: string; started: number; route: string; model: string; provider: string; upstream_model: string;
  status: number; stream: boolean; elapsed: number; ttft: number | null; error_code: string | null;
  key_id: string | null; team: string | null; user: string | null; end_user: string | null; session: string | null;
  prompt_tokens: number; completion_tokens: number; cost: number | null; guardrails: Record<string, string>;
  truncated: boolean; preview?: string;
}
interface Exchange extends Summary { system: Part[]; input: Message[]; output: Message[] }

// The filters a link may carry: #/logs?key=… (the usage views link here with theirs).
const FILTERS = ["key", "team", "user", "model", "q"] as const;
type Filters = Record<(typeof FILTERS)[number], string>;

function linked(): { filters: Filters; id: string } {
  const search = new URLSearchParams(location.hash.split("?")[1] ?? "");
  const filters = Object.fromEntries(FILTERS.map((name) => [name, search.get(name) ?? ""])) as Filters;
  return { filters, id: search.get("id") ?? "" };
}

export function Logs() {
  const [filters, setFilters] = useState<Filters>(() => linked().filters);
  const [rows, setRows] = useState<Summary[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [open, setOpen] = useState<Exchange | null>(null);
  const [error, setError] = useState("");

  const load = (cursor?: string) =>
    api<{ data: Summary[]; next: string | null }>("GET", `/admin/logs${query({ ...filters, limit: 50, cursor })}`)
      .then((answer) => {
        setRows((shown) => (cursor && shown ? [...shown, ...answer.data] : answer.data));
        setNext(answer.next);
        setError("");
      })
      .catch((failure: ApiError) => { setRows([]); setError(failure.message); });
  const show = (id: string) =>
    api<Exchange>("GET", `/admin/logs/${encodeURIComponent(id)}`)
      .then((exchange) => { setOpen(exchange); setError(""); })
      .catch((failure: ApiError) => setError(failure.message));

  useEffect(() => {
    void load();
    const { id } = linked();
    if (id) void show(id);
  }, []);

  const set = (name: keyof Filters) => (event: { currentTarget: HTMLInputElement }) =>
    setFilters({ ...filters, [name]: event.currentTarget.value });
  return (
    <div class="page" data-testid="logs-page">
      <div class="toolbar">
        <input type="search" class="filter" placeholder="Search the texts" value={filters.q} onInput={set("q")}
          onKeyDown={(e) => e.key === "Enter" && void load()} data-testid="logs-search" />
        {(["key", "team", "model"] as const).map((name) => (
          <input key={name} class="filter short" placeholder={name} value={filters[name]} onInput={set(name)}
            onKeyDown={(e) => e.key === "Enter" && void load()} data-testid={`logs-${name}`} />
        ))}
        <button class="secondary" onClick={() => void load()} data-testid="logs-filter">Filter</button>
      </div>
      {error && <p class="error-text" data-testid="logs-error">{error}</p>}
      <div class={open ? "logs split" : "logs"}>
        <section class="panel scroll">
          <table data-testid="logs-table">
            <thead><tr><th>When</th><th>Model</th><th>Caller</th><th>Status</th><th class="num">Tokens</th>
              <th class="num">Cost</th><th class="preview">Asked</th></tr></thead>
            <tbody>
              {(rows ?? []).map((row) => (
                <tr key={row.request_id} class={open?.request_id === row.request_id ? "selected" : ""}
                  onClick={() => void show(row.request_id)} data-testid="logs-row">
                  <td class="nowrap">{when(row.started)}</td>
                  <td class="mono">{row.model}</td>
                  <td class="mono">{row.key_id ?? row.user ?? "–"}</td>
                  <td><Badge tone={row.status < 400 ? "ok" : "bad"}>{row.status}</Badge></td>
                  <td class="num">{count(row.prompt_tokens + row.completion_tokens)}</td>
                  <td class="num">{usd(row.cost)}</td>
                  <td class="preview" title={row.preview ?? ""}>{row.preview ?? ""}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows && rows.length === 0 && !error && (
            <p class="muted pad">No conversation logged. The log is off unless <code>logging.content</code> turns it on.</p>
          )}
          {next && <button class="secondary" onClick={() => void load(next)} data-testid="logs-more">More</button>}
        </section>
        {open && <Conversation exchange={open} onClose={() => setOpen(null)} />}
      </div>
    </div>
  );
}

function Conversation({ exchange, onClose }: { exchange: Exchange; onClose: () => void }) {
  const decisions = Object.entries(exchange.guardrails ?? {});
  return (
    <section class="panel log-view" data-testid="conversation">
      <div class="mcp-head">
        <span class="strong mono">{exchange.request_id}</span>
        <span class="spacer" />
        <button class="link" onClick={onClose}>Close</button>
      </div>
      <dl class="facts" data-testid="conversation-facts">
        <dt>Route</dt><dd class="mono">{exchange.route} · {exchange.model} → {exchange.provider || "–"}/{exchange.upstream_model || "–"}</dd>
        <dt>Caller</dt><dd class="mono">{[exchange.key_id, exchange.team, exchange.user, exchange.end_user].filter(Boolean).join(" · ") || "–"}</dd>
        <dt>Status</dt><dd>{exchange.status}{exchange.error_code ? ` ${exchange.error_code}` : ""}{exchange.stream ? " · streamed" : ""}</dd>
        <dt>Time</dt><dd>{ms(exchange.elapsed * 1000)}{exchange.ttft != null ? ` · first token ${ms(exchange.ttft * 1000)}` : ""}</dd>
        <dt>Tokens</dt><dd>{count(exchange.prompt_tokens)} in · {count(exchange.completion_tokens)} out · {usd(exchange.cost)}</dd>
        {decisions.length > 0 && <>
          <dt>Guardrails</dt>
          <dd data-testid="conversation-guardrails">{decisions.map(([name, action]) => (
            <Badge key={name} tone={action === "block" ? "bad" : action === "mask" ? "warn" : "muted"}>{name}: {action}</Badge>
          ))}</dd>
        </>}
      </dl>
      {exchange.truncated && <p class="note">Cut at the log's size bound (<code>logging.content.max_bytes</code>).</p>}
      {exchange.system.length > 0 && (
        <div class="message system" data-testid="message-system"><div class="role">system</div><Parts parts={exchange.system} /></div>
      )}
      {exchange.input.map((message, index) => <Said key={`in${index}`} message={message} />)}
      {exchange.output.map((message, index) => <Said key={`out${index}`} message={message} answer />)}
    </section>
  );
}

function Said({ message, answer }: { message: Message; answer?: boolean }) {
  return (
    <div class={`message ${message.role}${answer ? " answer" : ""}`} data-testid={`message-${message.role}`}>
      <div class="role">{message.role}{message.finish_reason ? <span class="sub"> · {message.finish_reason}</span> : null}</div>
      <Parts parts={message.parts} />
    </div>
  );
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value, null, 2);
}

function Parts({ parts }: { parts: Part[] }) {
  return (
    <>
      {parts.map((part, index) => {
        switch (part.type) {
          case "text":
            return <div key={index} class="bubble">{text(part.content)}</div>;
          case "reasoning":
            return <div key={index} class="reasoning"><pre>{text(part.content)}</pre></div>;
          case "tool_call":
            return (
              <div key={index} class="tool-call" data-testid="tool-call">
                <span class="mono strong">{part.name}</span> <span class="sub mono">{part.id}</span>
                <pre>{text(part.arguments)}</pre>
              </div>
            );
          case "tool_call_response":
            return (
              <div key={index} class="tool-call" data-testid="tool-result">
                <span class="sub mono">result of {part.id}</span>
                <pre>{text(part.response)}</pre>
              </div>
            );
          case "blob":
            // Inline data only: the page's policy loads no image from elsewhere (a logged URL could track who reads it).
            return part.modality === "image" && part.mime_type?.startsWith("image/")
              ? <img key={index} class="logged-image" alt="an image in the conversation"
                src={`data:${part.mime_type};base64,${String(part.content ?? "")}`} data-testid="logged-image" />
              : <div key={index} class="sub">[{part.modality ?? "data"}: {part.mime_type ?? "unknown type"}]</div>;
          case "uri":
            return part.uri?.startsWith("data:image/")
              ? <img key={index} class="logged-image" alt="an image in the conversation" src={part.uri} data-testid="logged-image" />
              : <div key={index} class="sub">[{part.modality ?? "file"}] <span class="mono">{part.uri}</span></div>;
          default:
            return <pre key={index} class="sub">{text(part)}</pre>;
        }
      })}
    </>
  );
}
