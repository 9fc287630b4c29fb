// Chat with any routable model through the gateway's own OpenAI route, streaming: text, reasoning,
// tool calls and structured output as they arrive, and the route the request took.
import { useEffect, useRef, useState } from "preact/hooks";
import { api, ApiError, type Model } from "../api";
import { events } from "../sse";
import { count, ms, usd } from "../format";

interface ToolCall { id: string; name: string; arguments: string }
interface Turn {
  role: "user" | "assistant";
  content: string;
  reasoning?: string;
  toolCalls?: ToolCall[];
  model?: string;
  route?: string;
  requestId?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  cost?: number;  // estimated from the model's listed prices (a streamed answer carries no cost header)
  finish?: string;
  error?: string;
  errorCode?: string;  // the HTTP status and the error's code or type, shown beside its message
  firstTokenMs?: number;
  totalMs?: number;
  streaming?: boolean;
  structured?: boolean;
}

const KEY_STORAGE = "babelgate.playground.key";

export function Playground() {
  const [models, setModels] = useState<Model[]>([]);
  const [model, setModel] = useState("");
  const [key, setKey] = useState(sessionStorage.getItem(KEY_STORAGE) ?? "");
  const [system, setSystem] = useState("");
  const [temperature, setTemperature] = useState("");
  const [maxTokens, setMaxTokens] = useState("");
  const [tools, setTools] = useState("");
  const [schema, setSchema] = useState("");
  const [prompt, setPrompt] = useState("");
  const [turns, setTurns] = useState<Turn[]>([]);
  const [problem, setProblem] = useState("");
  const [keyNote, setKeyNote] = useState("");
  const stop = useRef<AbortController | null>(null);
  const bottom = useRef<HTMLDivElement>(null);

  useEffect(() => {
    api<{ data: Model[] }>("GET", "/admin/models?listed=true").then((answer) => {
      const ordered = [...answer.data.filter((m) => m.kind !== "listed"), ...answer.data.filter((m) => m.kind === "listed")];
      setModels(ordered);
      setModel((current) => current || ordered[0]?.id || "");
    }).catch((failure: ApiError) => setProblem(failure.message));
  }, []);
  useEffect(() => sessionStorage.setItem(KEY_STORAGE, key), [key]);
  useEffect(() => bottom.current?.scrollIntoView({ block: "end" }), [turns]);

  const makeKey = () => {
    const expires = new Date(Date.now() + 86400_000).toISOString().replace(/\.\d+Z$/, "Z");
    api<{ key: string; prefix: string }>("POST", "/admin/keys", { label: "playground", expires_at: expires })
      .then((answer) => { setKey(answer.key); setKeyNote(`Created ${answer.prefix}, valid for 24 hours (Keys page to revoke).`); })
      .catch((failure: ApiError) => setKeyNote(failure.message));
  };

  const send = async (event: Event) => {
    event.preventDefault();
    const text = prompt.trim();
    if (!text || stop.current) return;
    let body: Record<string, unknown>;
    try {
      body = request(text);
    } catch (failure) {
      setProblem((failure as Error).message);
      return;
    }
    setProblem("");
    setPrompt("");
    const history: Turn[] = [...turns, { role: "user", content: text }];
    const reply: Turn = { role: "assistant", content: "", streaming: true, structured: Boolean(schema.trim()) };
    setTurns([...history, reply]);
    const controller = new AbortController();
    stop.current = controller;
    const started = performance.now();
    const update = (change: Partial<Turn>) => { Object.assign(reply, change); setTurns([...history, { ...reply }]); };
    try {
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (key.trim()) headers.authorization = `Bearer ${key.trim()}`;
      const response = await fetch("/v1/chat/completions", {
        method: "POST", headers, credentials: "omit", signal: controller.signal, body: JSON.stringify(body),
      });
      // A model with one deployment and nowhere to fall back to gets no x-babelgate-route (it has no
      // choice to report): its route is that deployment.
      const only = models.find((m) => m.id === model)?.deployments;
      const route = response.headers.get("x-babelgate-route")
        ?? (response.ok && only?.length === 1 ? `${only[0].label} (its only deployment)` : undefined);
      update({ route, requestId: response.headers.get("x-request-id") ?? undefined });
      if (!response.ok || !response.body) {
        const answer = await response.json().catch(() => null);
        const failure = answer?.error;
        let message: string = failure?.message ?? response.statusText ?? "the request failed";
        if (response.status === 401) message += " (paste a gateway key, or press “Create a playground key”)";
        update({ error: message, errorCode: [response.status, failure?.code ?? failure?.type].filter(Boolean).join(" "),
          streaming: false, totalMs: performance.now() - started });
        return;
      }
      for await (const data of events(response.body, controller.signal)) {
        if (data === "[DONE]") break;
        const chunk = JSON.parse(data);
        if (chunk.error) {
          // The gateway's error event mid-stream: what arrived before it stays on screen.
          update({ error: chunk.error.message ?? "the stream failed", errorCode: `mid-stream ${chunk.error.code ?? chunk.error.type ?? "error"}` });
          break;
        }
        apply(reply, chunk);
        if (reply.firstTokenMs === undefined && (reply.content || reply.reasoning || reply.toolCalls?.length)) {
          reply.firstTokenMs = performance.now() - started;
        }
        update({});
      }
      if (reply.structured) {
        try { reply.content = JSON.stringify(JSON.parse(reply.content), null, 2); } catch { /* shown as it came */ }
      }
      const price = models.find((m) => m.id === model)?.pricing;
      if (reply.usage && price?.input !== undefined && price.output !== undefined) {
        reply.cost = (reply.usage.prompt_tokens * price.input + reply.usage.completion_tokens * price.output) / 1e6;
      }
      update({ streaming: false, totalMs: performance.now() - started });
    } catch (failure) {
      update({ streaming: false, error: controller.signal.aborted ? "Stopped." : (failure as Error).message, totalMs: performance.now() - started });
    } finally {
      stop.current = null;
    }
  };

  // The Chat Completions request, from the settings and the conversation so far.
  function request(text: string): Record<string, unknown> {
    const messages = [
      ...(system.trim() ? [{ role: "system", content: system.trim() }] : []),
      ...turns.filter((turn) => !turn.error).map((turn) => ({ role: turn.role, content: turn.content })),
      { role: "user", content: text },
    ];
    const body: Record<string, unknown> = { model, messages, stream: true, stream_options: { include_usage: true } };
    if (temperature.trim()) body.temperature = Number(temperature);
    if (maxTokens.trim()) body.max_tokens = Number(maxTokens);
    if (tools.trim()) body.tools = parse(tools, "Tools");
    if (schema.trim()) {
      body.response_format = { type: "json_schema", json_schema: { name: "answer", strict: true, schema: parse(schema, "Response schema") } };
    }
    return body;
  }

  return (
    <div class="page playground" data-testid="playground-page">
      <aside class="panel settings">
        <label>Model
          <select value={model} onChange={(e) => setModel(e.currentTarget.value)} data-testid="playground-model">
            {models.map((m) => <option key={m.id} value={m.id}>{m.id}{m.kind === "alias" ? ` → ${m.target}` : ""}</option>)}
          </select>
        </label>
        <label>Gateway key
          <input type="password" value={key} onInput={(e) => setKey(e.currentTarget.value)} placeholder="not needed when the gateway has no keys"
            data-testid="playground-key" autocomplete="off" />
        </label>
        <button type="button" class="secondary small" onClick={makeKey} data-testid="make-playground-key">Create a playground key</button>
        {keyNote && <p class="sub">{keyNote}</p>}
        <label>System prompt<textarea rows={3} value={system} onInput={(e) => setSystem(e.currentTarget.value)} /></label>
        <div class="row">
          <label>Temperature<input type="number" step="0.1" min="0" max="2" value={temperature} onInput={(e) => setTemperature(e.currentTarget.value)} /></label>
          <label>Max tokens<input type="number" min="1" value={maxTokens} onInput={(e) => setMaxTokens(e.currentTarget.value)} /></label>
        </div>
        <details>
          <summary>Tools and structured output</summary>
          <label>Tools (JSON array)<textarea rows={5} class="mono" value={tools} onInput={(e) => setTools(e.currentTarget.value)}
            placeholder='[{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}]' data-testid="playground-tools" /></label>
          <label>Response JSON schema<textarea rows={5} class="mono" value={schema} onInput={(e) => setSchema(e.currentTarget.value)}
            placeholder='{"type": "object", "properties": {"answer": {"type": "string"}}, "required": ["answer"], "additionalProperties": false}' /></label>
        </details>
        {turns.length > 0 && <button type="button" class="link" onClick={() => setTurns([])}>Clear the conversation</button>}
      </aside>
      <section class="conversation">
        <div class="messages" data-testid="messages">
          {turns.length === 0 && <div class="empty"><h3>Try any model</h3><p>Messages go through <code>/v1/chat/completions</code>, as any client's would.</p></div>}
          {turns.map((turn, index) => <Message key={index} turn={turn} />)}
          <div ref={bottom} />
        </div>
        {problem && <p class="alert" data-testid="playground-problem">{problem}</p>}
        <form class="composer" onSubmit={send}>
          <textarea rows={3} value={prompt} placeholder="Ask something… (Enter to send, Shift+Enter for a new line)" data-testid="playground-prompt"
            onInput={(e) => setPrompt(e.currentTarget.value)}
            onKeyDown={(e) => { if (e.key === "Enter" && !e.shiftKey) { e.preventDefault(); e.currentTarget.form?.requestSubmit(); } }} />
          {stop.current
            ? <button type="button" class="secondary" onClick={() => stop.current?.abort()}>Stop</button>
            : <button type="submit" disabled={!model} data-testid="playground-send">Send</button>}
        </form>
      </section>
    </div>
  );
}

function parse(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (failure) {
    throw new Error(`${what}: not valid JSON (${(failure as Error).message})`);
  }
}

// Folds one Chat Completions chunk into the reply.
function apply(reply: Turn, chunk: any): void {
  if (chunk.model) reply.model = chunk.model;
  if (chunk.usage) reply.usage = chunk.usage;
  for (const choice of chunk.choices ?? []) {
    const delta = choice.delta ?? {};
    if (typeof delta.content === "string") reply.content += delta.content;
    const thinking = delta.reasoning_content ?? delta.reasoning;
    if (typeof thinking === "string") reply.reasoning = (reply.reasoning ?? "") + thinking;
    for (const call of delta.tool_calls ?? []) {
      const calls = (reply.toolCalls ??= []);
      const index = call.index ?? calls.length;
      calls[index] ??= { id: "", name: "", arguments: "" };
      if (call.id) calls[index].id = call.id;
      if (call.function?.name) calls[index].name += call.function.name;
      if (call.function?.arguments) calls[index].arguments += call.function.arguments;
    }
    if (choice.finish_reason) reply.finish = choice.finish_reason;
  }
}

function Message({ turn }: { turn: Turn }) {
  if (turn.role === "user") return <div class="message user"><div class="bubble">{turn.content}</div></div>;
  return (
    <div class="message assistant" data-testid="assistant-message">
      {turn.reasoning && (
        <details class="reasoning" open={turn.streaming}>
          <summary>Reasoning</summary>
          <pre>{turn.reasoning}</pre>
        </details>
      )}
      {(turn.content || turn.streaming) && (
        <div class={`bubble ${turn.structured ? "mono pre" : ""}`} data-testid="assistant-text">
          {turn.content}{turn.streaming && <span class="cursor" />}
        </div>
      )}
      {turn.toolCalls?.map((call) => (
        <div class="tool-call" key={call.id || call.name} data-testid="tool-call">
          <span class="sub">tool call</span> <span class="mono strong">{call.name}</span>
          <pre>{pretty(call.arguments)}</pre>
        </div>
      ))}
      {turn.error && (
        <div class="alert" role="alert" data-testid="assistant-error">
          {turn.errorCode && <span class="code">{turn.errorCode}</span>}{turn.error}
        </div>
      )}
      <div class="meta" data-testid="reply-meta">
        {turn.model && <span>model <span class="mono">{turn.model}</span></span>}
        {turn.route && <span data-testid="reply-route">route <span class="mono">{turn.route}</span></span>}
        {turn.usage && <span>{count(turn.usage.prompt_tokens)} in · {count(turn.usage.completion_tokens)} out</span>}
        {turn.firstTokenMs !== undefined && <span>first token {ms(turn.firstTokenMs)}</span>}
        {turn.totalMs !== undefined && <span>total {ms(turn.totalMs)}</span>}
        {turn.finish && turn.finish !== "stop" && <span>finish {turn.finish}</span>}
        {turn.cost !== undefined && <span title="from the model's listed prices">≈ {usd(turn.cost)}</span>}
      </div>
    </div>
  );
}

function pretty(text: string): string {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}
