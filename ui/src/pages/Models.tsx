// Models and providers: what each public name routes to, the health of every deployment (circuit
// state from this instance's router), capabilities and prices; then each provider's own state.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type Deployment, type Model, type Provider } from "../api";
import { Badge, type Tone } from "../parts/Badge";
import { count, ms, perMillion } from "../format";

const CIRCUIT: Record<Deployment["circuit"], Tone> = { closed: "ok", open: "bad", half_open: "warn" };
const CIRCUIT_MEANS: Record<Deployment["circuit"], string> = {
  closed: "circuit closed: serving", open: "circuit open: skipped after repeated failures",
  half_open: "circuit half-open: the next request probes it",
};
const PROVIDER: Record<string, Tone> = { ok: "ok", cooling_down: "warn", unreachable: "bad" };

export function Models() {
  const [models, setModels] = useState<Model[] | null>(null);
  const [providers, setProviders] = useState<Provider[]>([]);
  const [error, setError] = useState("");
  const [filter, setFilter] = useState("");
  const [listed, setListed] = useState(false);

  const load = () =>
    api<{ data: Model[]; providers: Provider[] }>("GET", "/admin/models")
      .then((answer) => { setModels(answer.data); setProviders(answer.providers); })
      .catch((failure: ApiError) => setError(failure.message));
  useEffect(() => void load(), []);

  const needle = filter.trim().toLowerCase();
  const shown = (models ?? []).filter((model) => (listed || model.kind !== "listed")
    && (!needle || model.id.toLowerCase().includes(needle) || model.deployments.some((d) => d.label.toLowerCase().includes(needle))));
  const upstream = (models ?? []).filter((model) => model.kind === "listed").length;

  return (
    <div class="page" data-testid="models-page">
      <div class="toolbar">
        <input type="search" placeholder="Filter models…" value={filter} onInput={(e) => setFilter(e.currentTarget.value)}
          data-testid="model-filter" class="filter" />
        <label class="inline check"><input type="checkbox" checked={listed} onChange={(e) => setListed(e.currentTarget.checked)}
          data-testid="show-listed" /> Show upstream listings ({upstream})</label>
        <span class="spacer" />
        <button class="secondary" onClick={() => void load()}>Refresh</button>
      </div>
      {error && <p class="error-text">{error}</p>}
      <section class="panel scroll">
        <table data-testid="models-table">
          <thead>
            <tr><th>Model</th><th>Deployments</th><th>Falls back to</th><th class="num">Context</th>
              <th class="num">Input / 1M</th><th class="num">Output / 1M</th><th>Capabilities</th></tr>
          </thead>
          <tbody>
            {shown.map((model) => (
              <tr key={model.id} data-testid={`model-${model.id}`}>
                <td>
                  <div class="mono strong nowrap">{model.id}</div>
                  <div class="sub">{model.kind === "alias" ? <>alias of <span class="mono">{model.target}</span></> : model.kind === "listed" ? "upstream listing" : "configured"}</div>
                </td>
                <td>
                  {model.deployments.map((deployment) => (
                    <div class="deployment" key={deployment.label}>
                      <Badge tone={CIRCUIT[deployment.circuit]} title={CIRCUIT_MEANS[deployment.circuit]}>
                        {deployment.circuit === "open" ? `open · reopens in ${Math.ceil(deployment.reopens_in_s)} s` : deployment.circuit.replace("_", "-")}
                      </Badge>
                      <span class="mono">{deployment.label}</span>
                      {model.deployments.length > 1 && <span class="sub">weight {deployment.weight}</span>}
                      {deployment.latency_ms !== null && <span class="sub" title="recent latency of this deployment">{ms(deployment.latency_ms)}</span>}
                      {deployment.in_flight > 0 && <span class="sub">{deployment.in_flight} in flight</span>}
                    </div>
                  ))}
                </td>
                <td class="mono">{[...model.fallbacks, ...model.context_window_fallbacks, ...model.content_policy_fallbacks].join(", ") || <span class="muted">–</span>}</td>
                <td class="num">{model.context_window ? count(model.context_window) : "–"}</td>
                <td class="num">{perMillion(model.pricing?.input)}</td>
                <td class="num">{perMillion(model.pricing?.output)}</td>
                <td>
                  <div class="caps">
                    {model.capabilities?.tools && <Badge tone="info">tools</Badge>}
                    {model.capabilities?.structured_output && <Badge tone="info">JSON schema</Badge>}
                    {model.capabilities?.reasoning && <Badge tone="info">reasoning</Badge>}
                    {model.input_modalities?.includes("image") && <Badge tone="info">images</Badge>}
                  </div>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {models && shown.length === 0 && <p class="muted pad">No model matches.</p>}
      </section>
      <h2 class="section-title">Providers</h2>
      <div class="providers" data-testid="providers">
        {providers.map((provider) => (
          <div class="panel provider" key={provider.name}>
            <div class="provider-head">
              <span class="strong">{provider.name}</span>
              <Badge tone={PROVIDER[provider.state] ?? "muted"}>{provider.state.replace("_", " ")}</Badge>
            </div>
            <div class="sub">{provider.type} API</div>
            {provider.keys && (
              <div class="sub">keys: {provider.keys.map((key) => `${key.key} ${key.state}`).join(", ")}</div>
            )}
          </div>
        ))}
      </div>
    </div>
  );
}
