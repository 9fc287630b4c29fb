// MCP servers behind /mcp (docs/mcp.md): each server's transport, state and last error, its tools, and
// the tool calls of the last 24 hours from the ledger (GET /admin/usage?group_by=server,tool).
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, query, type McpServer, type UsageRow } from "../api";
import { Badge, type Tone } from "../parts/Badge";
import { count, ms } from "../format";

const STATE: Record<string, Tone> = { ready: "ok", idle: "muted", connecting: "warn", down: "bad", closed: "muted" };
const DAY_S = 24 * 3600;

export function Mcp() {
  const [servers, setServers] = useState<McpServer[] | null>(null);
  const [calls, setCalls] = useState<UsageRow[]>([]);
  const [error, setError] = useState("");

  const load = () => {
    setError("");
    api<{ data: McpServer[] }>("GET", "/admin/mcp/servers")
      .then((answer) => Promise.all(answer.data.map((server) =>
        api<McpServer>("GET", `/admin/mcp/servers/${encodeURIComponent(server.name)}`).catch(() => server))))
      .then(setServers)
      .catch((failure: ApiError) => { setServers([]); setError(failure.message); });
    const since = Math.floor(Date.now() / 1000) - DAY_S;
    api<{ data: UsageRow[] }>("GET", `/admin/usage${query({ group_by: "server,tool", since })}`)
      .then((answer) => setCalls(answer.data.filter((row) => row.server)))
      .catch(() => setCalls([]));
  };
  useEffect(() => void load(), []);

  const callsOf = (server: string, tool: string) => calls.find((row) => row.server === server && row.tool === tool);

  return (
    <div class="page" data-testid="mcp-page">
      <div class="toolbar">
        <span class="muted">Clients connect to <code>/mcp</code> with a gateway key; tools are named <code>server__tool</code>.</span>
        <span class="spacer" />
        <button class="secondary" onClick={() => load()}>Refresh</button>
      </div>
      {error && <p class="error-text">{error}</p>}
      {servers && servers.length === 0 && !error && <p class="muted">No MCP server is configured.</p>}
      <div class="mcp-servers">
        {(servers ?? []).map((server) => (
          <section class="panel" key={server.name} data-testid={`mcp-server-${server.name}`}>
            <div class="mcp-head">
              <span class="strong mono">{server.name}</span>
              <Badge tone={STATE[server.state] ?? "muted"}>{server.state}</Badge>
              <span class="sub">{server.transport} · {server.source === "api" ? "added through the API" : "from the config file"}</span>
            </div>
            <div class="sub mono">{server.url ?? [server.command, ...(server.args ?? [])].join(" ")}</div>
            {server.error && <p class="error-text" data-testid={`mcp-error-${server.name}`}>{server.error}</p>}
            {server.tools_error && !server.error && <p class="error-text">{server.tools_error}</p>}
            {server.tools && server.tools.length > 0 && (
              <table data-testid={`mcp-tools-${server.name}`}>
                <thead><tr><th>Tool</th><th>Description</th><th class="num">Calls (24 h)</th><th class="num">Errors</th><th class="num">p50</th></tr></thead>
                <tbody>
                  {server.tools.map((tool) => {
                    const name = typeof tool === "string" ? tool : tool.name;
                    const row = callsOf(server.name, name);
                    return (
                      <tr key={name}>
                        <td class="mono">{name}</td>
                        <td class="sub">{typeof tool === "string" ? "" : tool.description ?? ""}</td>
                        <td class="num">{row ? count(row.requests) : "–"}</td>
                        <td class="num">{row ? count(row.errors) : "–"}</td>
                        <td class="num">{row?.latency_ms.p50 != null ? ms(row.latency_ms.p50) : "–"}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            )}
          </section>
        ))}
      </div>
    </div>
  );
}
