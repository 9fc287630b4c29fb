// The admin API, the only thing the dashboard talks to (docs/decisions.md, "The dashboard and the CLI are admin API clients"), and the gateway's own
// OpenAI route for the playground. Same origin; the session cookie rides along by itself, and
// every write carries the CSRF token the login answered.

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code?: string) {
    super(message);
  }
}

let csrf = "";
let onSignedOut: () => void = () => {};

export function setSession(token: string): void {
  csrf = token;
}

export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback;
}

export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (body !== undefined) headers["content-type"] = "application/json";
  if (method !== "GET" && csrf) headers["x-babelgate-csrf"] = csrf;
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: the status says enough
  }
  if (!response.ok) {
    const error = (data as { error?: { message?: string; code?: string } } | null)?.error;
    const failure = new ApiError(response.status, error?.message ?? `HTTP ${response.status}`, error?.code);
    if (response.status === 401 && error?.code === "session_required" && path !== "/admin/session") onSignedOut();
    throw failure;
  }
  return data as T;
}

export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) if (value !== undefined && value !== "") search.set(name, String(value));
  const text = search.toString();
  return text ? `?${text}` : "";
}

// Who is signed in (GET /admin/session) and what the role may see (docs/identity.md).
export type Role = "admin" | "team_admin" | "member" | "viewer";
export interface Session { csrf_token: string; user: string; role: Role; teams: string[]; logout_url?: string }
export interface SignIn { enabled: boolean; login_url: string | null; master_key: boolean }

// What the admin API answers (docs/governance.md).
export interface Percentiles { p50: number | null; p95: number | null; p99: number | null }
export interface UsageRow {
  time?: number;
  key?: string | null; team?: string | null; model?: string | null; provider?: string | null;
  server?: string | null; tool?: string | null; route?: string | null;
  requests: number; errors: number; error_rate: number;
  prompt_tokens: number; completion_tokens: number; cached_tokens: number; reasoning_tokens: number;
  cost_usd: number; cache_hits: number; latency_ms: Percentiles; ttft_ms: Percentiles;
}
export interface ErrorRow { status: number; code: string | null; message: string | null; count: number; last_seen: number; model: string | null }
export interface Key {
  id: string; prefix: string; label: string; team: string | null; models: string[];
  rpm: number | null; tpm: number | null; max_concurrent: number | null;
  budget_usd: number | null; budget_period: string | null; expires_at: number | null;
  metadata: Record<string, unknown>; created_at: number; revoked_at: number | null; revoked: boolean;
  aws_access_key_id: string | null; // a key issued with AWS-style credentials: what SigV4 names it by
}
export interface Deployment {
  provider: string; type: string; model: string; label: string; weight: number;
  circuit: "closed" | "open" | "half_open"; reopens_in_s: number; in_flight: number; latency_ms: number | null;
}
export interface Model {
  id: string; kind: "model" | "alias" | "listed"; target?: string; deployments: Deployment[];
  fallbacks: string[]; context_window_fallbacks: string[]; content_policy_fallbacks: string[];
  context_window?: number; max_output_tokens?: number; input_modalities?: string[];
  capabilities?: { tools?: boolean; structured_output?: boolean; reasoning?: boolean };
  pricing?: { input?: number; output?: number; cached_input?: number };
}
export interface Provider { name: string; type: string; state: string; keys?: { key: string; state: string }[] }
export interface McpServer {
  name: string; transport: string; url: string | null; command: string | null; args?: string[];
  state: string; error: string | null; failures: number; source: "file" | "api";
  tools: (string | { name: string; description: string | null })[] | null; tools_error?: string;
}
