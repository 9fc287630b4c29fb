// Virtual keys: list, create (the secret shown once, and AWS-style credentials when asked), edit limits, models
// and budget, revoke.
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type Key } from "../api";
import { Badge } from "../parts/Badge";
import { Dialog } from "../parts/Dialog";
import { count, day, usd, when } from "../format";

interface Form {
  label: string; team: string; models: string; rpm: string; tpm: string; max_concurrent: string;
  budget_usd: string; budget_period: string; expires_at: string;
  aws: boolean; // a create's option, not a key's field: issue an access key id and secret too
}

const EMPTY: Form = { label: "", team: "", models: "", rpm: "", tpm: "", max_concurrent: "", budget_usd: "", budget_period: "", expires_at: "", aws: false };

// What a create answers this once: the key's secret and, when asked, its AWS secret beside the access key id.
type Created = { key: string; aws_access_key_id?: string; aws_secret_access_key?: string };

function formOf(key: Key): Form {
  return {
    label: key.label, team: key.team ?? "", models: key.models.join(", "), rpm: String(key.rpm ?? ""),
    tpm: String(key.tpm ?? ""), max_concurrent: String(key.max_concurrent ?? ""), budget_usd: String(key.budget_usd ?? ""),
    budget_period: key.budget_period ?? "", expires_at: key.expires_at ? localDate(key.expires_at) : "", aws: false,
  };
}

// A date input's value for a time, in the browser's zone (what the person picked, not UTC's day).
function localDate(seconds: number): string {
  const date = new Date(seconds * 1000);
  return `${date.getFullYear()}-${String(date.getMonth() + 1).padStart(2, "0")}-${String(date.getDate()).padStart(2, "0")}`;
}

// The body of a create or update: empty fields are null (an update then clears them).
function bodyOf(form: Form, creating: boolean): Record<string, unknown> {
  const number = (text: string) => (text.trim() === "" ? null : Number(text));
  const body: Record<string, unknown> = {
    label: form.label.trim() || null, team: form.team.trim() || null,
    models: form.models.split(",").map((item) => item.trim()).filter(Boolean),
    rpm: number(form.rpm), tpm: number(form.tpm), max_concurrent: number(form.max_concurrent),
    budget_usd: number(form.budget_usd), budget_period: form.budget_period || null,
    // A key that expires on a day works through that day, where the person is.
    expires_at: form.expires_at ? new Date(`${form.expires_at}T23:59:59`).toISOString().replace(/\.\d+Z$/, "Z") : null,
  };
  if (creating) {
    for (const name of Object.keys(body)) if (body[name] === null) delete body[name];
    if (form.aws) body.aws_credentials = true;
  }
  return body;
}

// `limits`: whether the signed-in role may set a key's limits and budget (a member's are their team admin's).
export function Keys({ limits: mayLimit = true }: { limits?: boolean } = {}) {
  const [keys, setKeys] = useState<Key[] | null>(null);
  const [error, setError] = useState("");
  const [editing, setEditing] = useState<Key | "new" | null>(null);
  const [secret, setSecret] = useState<Created | null>(null);
  const [revoking, setRevoking] = useState<Key | null>(null);
  const [showRevoked, setShowRevoked] = useState(true);

  const load = () =>
    api<{ data: Key[] }>("GET", "/admin/keys")
      .then((answer) => setKeys(answer.data.slice().reverse()))
      .catch((failure: ApiError) => setError(failure.message));
  useEffect(() => void load(), []);

  const shown = (keys ?? []).filter((key) => showRevoked || !key.revoked);
  return (
    <div class="page" data-testid="keys-page">
      <div class="toolbar">
        <button onClick={() => setEditing("new")} data-testid="new-key">New key</button>
        <label class="inline check"><input type="checkbox" checked={showRevoked} onChange={(e) => setShowRevoked(e.currentTarget.checked)} /> Show revoked keys</label>
        <span class="spacer" />
        <span class="muted">{keys ? `${keys.filter((key) => !key.revoked).length} active · ${keys.filter((key) => key.revoked).length} revoked` : ""}</span>
      </div>
      {error && <p class="error-text">{error}</p>}
      {keys && keys.length === 0 && (
        <div class="empty"><h3>No virtual keys yet</h3><p>Create one to give a team or an app its own models, limits and budget.</p></div>
      )}
      {shown.length > 0 && (
        <section class="panel scroll">
          <table data-testid="keys-table">
            <thead>
              <tr><th>Key</th><th>Label</th><th>Team</th><th>Models</th><th>Limits</th><th>Budget</th><th>Expires</th><th>Created</th><th>State</th><th /></tr>
            </thead>
            <tbody>
              {shown.map((key) => (
                <tr key={key.id} data-testid={`key-${key.id}`} class={key.revoked ? "dim" : ""}>
                  <td class="mono nowrap">{key.prefix}{key.aws_access_key_id && <div class="muted" title="AWS access key id">{key.aws_access_key_id}</div>}</td>
                  <td>{key.label || <span class="muted">–</span>}</td>
                  <td>{key.team ?? <span class="muted">–</span>}</td>
                  <td>{key.models.length ? <div class="chips">{key.models.map((name) => <span class="chip" key={name}>{name}</span>)}</div>
                    : <span class="muted">all</span>}</td>
                  <td class="limits">{limits(key)}</td>
                  <td class="nowrap">{key.budget_usd !== null ? `${budget(key.budget_usd)}${key.budget_period ? ` / ${key.budget_period}` : ""}` : <span class="muted">none</span>}</td>
                  <td class="nowrap" title={when(key.expires_at)}>{key.expires_at ? day(key.expires_at) : <span class="muted">never</span>}</td>
                  <td class="nowrap" title={when(key.created_at)}>{day(key.created_at)}</td>
                  <td data-testid="key-state">{key.revoked ? <Badge tone="muted">revoked</Badge> : <Badge tone="ok">active</Badge>}</td>
                  <td class="actions">
                    {!key.revoked && (
                      <>
                        <button class="link" onClick={() => setEditing(key)} data-testid="edit-key">Edit</button>
                        <button class="link danger" onClick={() => setRevoking(key)} data-testid="revoke-key">Revoke</button>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {editing && (
        <KeyForm key_={editing === "new" ? null : editing} limits={mayLimit} onClose={() => setEditing(null)}
          onSaved={(created) => { setEditing(null); if (created) setSecret(created); void load(); }} />
      )}
      {secret && (
        <Dialog title="Your new key" onClose={() => setSecret(null)} testid="secret-dialog">
          <p>Store it now: <strong>it will not be shown again.</strong> The gateway keeps only its hash.</p>
          <Secret value={secret.key} testid="secret-value" />
          {secret.aws_secret_access_key && <>
            <p>The AWS SDKs sign requests with these; the secret is not shown again either.</p>
            <Secret label="aws_access_key_id" value={secret.aws_access_key_id ?? ""} testid="aws-access-key-id" />
            <Secret label="aws_secret_access_key" value={secret.aws_secret_access_key} testid="aws-secret-access-key" />
          </>}
          <footer><button onClick={() => setSecret(null)} data-testid="secret-done">I have stored it</button></footer>
        </Dialog>
      )}
      {revoking && (
        <Dialog title="Revoke this key?" onClose={() => setRevoking(null)} testid="revoke-dialog">
          <p>Requests with <code>{revoking.prefix}</code>{revoking.label ? ` (${revoking.label})` : ""} will be refused at once,
            on every gateway instance. This cannot be undone.</p>
          <footer>
            <button class="secondary" onClick={() => setRevoking(null)}>Cancel</button>
            <button class="danger" data-testid="confirm-revoke" onClick={() =>
              api("DELETE", `/admin/keys/${revoking.id}`).then(() => { setRevoking(null); void load(); })
                .catch((failure: ApiError) => { setRevoking(null); setError(failure.message); })}>Revoke</button>
          </footer>
        </Dialog>
      )}
    </div>
  );
}

// A value shown once, to copy; `label` names it as the client's settings do.
function Secret({ label, value, testid }: { label?: string; value: string; testid: string }) {
  return (
    <div class="secret">
      {label && <span class="muted mono">{label}</span>}
      <code data-testid={testid}>{value}</code>
      <button class="secondary" onClick={() => void navigator.clipboard?.writeText(value)}>Copy</button>
    </div>
  );
}

// A budget as it was set: $25, $12.50.
function budget(value: number): string {
  return Number.isInteger(value) ? `$${count(value)}` : usd(value);
}

function limits(key: Key) {
  const parts = [
    key.rpm !== null && `${count(key.rpm)} rpm`, key.tpm !== null && `${count(key.tpm)} tpm`,
    key.max_concurrent !== null && `${key.max_concurrent} at once`,
  ].filter((part): part is string => Boolean(part));
  // Each limit whole on a line of its own when the column is narrow.
  return parts.length ? parts.map((part, index) => <Fragment key={part}>{index ? " · " : ""}<span class="nowrap">{part}</span></Fragment>)
    : <span class="muted">none</span>;
}

function KeyForm({ key_, limits: mayLimit, onClose, onSaved }: { key_: Key | null; limits: boolean; onClose: () => void; onSaved: (created: Created | null) => void }) {
  const [form, setForm] = useState<Form>(key_ ? formOf(key_) : EMPTY);
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const field = (name: Exclude<keyof Form, "aws">) => ({
    value: form[name], name,
    onInput: (event: Event) => setForm({ ...form, [name]: (event.currentTarget as HTMLInputElement).value }),
  });
  const submit = (event: Event) => {
    event.preventDefault();
    setBusy(true);
    const request = key_ ? api<Key>("PATCH", `/admin/keys/${key_.id}`, bodyOf(form, false))
      : api<Key & Created>("POST", "/admin/keys", bodyOf(form, true));
    request.then((answer) => onSaved(key_ ? null : answer as Key & Created))
      .catch((failure: ApiError) => setError(failure.message))
      .finally(() => setBusy(false));
  };
  return (
    <Dialog title={key_ ? `Edit ${key_.prefix}` : "New virtual key"} onClose={onClose} testid="key-form">
      <form onSubmit={submit} class="form-grid">
        <label>Label<input {...field("label")} placeholder="what it is for" data-testid="key-label" /></label>
        <label>Team<input {...field("team")} placeholder="shares the team's limits and budget" /></label>
        <label class="wide">Models<input {...field("models")} placeholder="all models; or gpt-4o*, claude-* …" data-testid="key-models" /></label>
        {mayLimit && <>
          <label>Requests per minute<input {...field("rpm")} type="number" min="1" data-testid="key-rpm" /></label>
          <label>Tokens per minute<input {...field("tpm")} type="number" min="1" /></label>
          <label>At once<input {...field("max_concurrent")} type="number" min="1" /></label>
          <label>Budget (USD)<input {...field("budget_usd")} type="number" min="0" step="0.01" data-testid="key-budget" /></label>
          <label>Budget period
            <select {...field("budget_period")} onChange={(e) => setForm({ ...form, budget_period: e.currentTarget.value })}>
              <option value="">none (a total)</option><option value="day">per day</option><option value="week">per week</option><option value="month">per month</option>
            </select>
          </label>
        </>}
        <label>Expires<input {...field("expires_at")} type="date" /></label>
        {!key_ && (
          <label class="wide inline check">
            <input type="checkbox" checked={form.aws} onChange={(e) => setForm({ ...form, aws: e.currentTarget.checked })} data-testid="key-aws" />
            AWS credentials too: an access key id and secret that boto3 and the AWS SDKs sign Bedrock requests with
          </label>
        )}
        {error && <p class="error-text wide">{error}</p>}
        <footer class="wide">
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" disabled={busy} data-testid="save-key">{key_ ? "Save" : "Create key"}</button>
        </footer>
      </form>
    </Dialog>
  );
}
