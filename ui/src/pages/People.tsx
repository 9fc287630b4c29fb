// Users and teams: list, create, edit limits and membership, delete. Teams of the config
// file are shown read-only ("config"): the file is theirs to change.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError } from "../api";
import { Badge } from "../parts/Badge";
import { Dialog } from "../parts/Dialog";
import { count, usd } from "../format";

interface Limits { rpm: number | null; tpm: number | null; max_concurrent: number | null; budget_usd: number | null; budget_period: string | null }
interface User extends Limits { id: string; email: string | null; name: string | null; role: string | null; teams: string[]; disabled: boolean; source: string }
interface Team extends Limits { id: string; members: string[]; admins: string[]; models: string[]; source: string }
type Kind = "users" | "teams";

// The form's fields per kind: [name, label, is a comma-separated list, is a number].
const FIELDS: Record<Kind, [string, string, boolean, boolean][]> = {
  users: [["email", "Email", false, false], ["name", "Name", false, false], ["teams", "Teams", true, false]],
  teams: [["members", "Members", true, false], ["admins", "Team admins", true, false], ["models", "Models", true, false]],
};
const LIMITS: [string, string][] = [["rpm", "Requests per minute"], ["tpm", "Tokens per minute"], ["max_concurrent", "At once"], ["budget_usd", "Budget (USD)"]];

function limitsText(item: Limits): string {
  const parts = [
    item.rpm !== null && `${count(item.rpm)} rpm`,
    item.tpm !== null && `${count(item.tpm)} tpm`,
    item.max_concurrent !== null && `${item.max_concurrent} at once`,
    item.budget_usd !== null && `${usd(item.budget_usd)}${item.budget_period ? ` / ${item.budget_period}` : ""}`,
  ].filter(Boolean);
  return parts.length ? parts.join(" · ") : "none";
}

export function People() {
  const [users, setUsers] = useState<User[] | null>(null);
  const [teams, setTeams] = useState<Team[] | null>(null);
  const [error, setError] = useState("");
  const [editing, setEditing] = useState<{ kind: Kind; item: User | Team | null } | null>(null);

  const load = () =>
    Promise.all([api<{ data: User[] }>("GET", "/admin/users"), api<{ data: Team[] }>("GET", "/admin/teams")])
      .then(([u, t]) => { setUsers(u.data); setTeams(t.data); })
      .catch((failure: ApiError) => setError(failure.message));
  useEffect(() => void load(), []);
  const remove = (kind: Kind, id: string) =>
    api("DELETE", `/admin/${kind}/${encodeURIComponent(id)}`).then(load).catch((failure: ApiError) => setError(failure.message));

  return (
    <div class="page" data-testid="people-page">
      {error && <p class="error-text">{error}</p>}
      <div class="toolbar">
        <h2 class="section-title">Users</h2>
        <span class="spacer" />
        <button onClick={() => setEditing({ kind: "users", item: null })} data-testid="new-user">New user</button>
      </div>
      <section class="panel scroll">
        <table data-testid="users-table">
          <thead><tr><th>User</th><th>Email</th><th>Teams</th><th>Limits</th><th>Source</th><th>State</th><th /></tr></thead>
          <tbody>
            {(users ?? []).map((user) => (
              <tr key={user.id} data-testid={`user-${user.id}`} class={user.disabled ? "dim" : ""}>
                <td class="mono">{user.id}{user.name && <div class="sub">{user.name}</div>}</td>
                <td>{user.email ?? <span class="muted">–</span>}</td>
                <td>{user.teams.length ? user.teams.join(", ") : <span class="muted">–</span>}</td>
                <td class="limits">{limitsText(user)}</td>
                <td>{user.source}</td>
                <td>{user.disabled ? <Badge tone="muted">disabled</Badge> : <Badge tone="ok">active</Badge>}</td>
                <td class="actions">
                  <button class="link" onClick={() => setEditing({ kind: "users", item: user })} data-testid="edit-user">Edit</button>
                  <button class="link danger" onClick={() => void remove("users", user.id)} data-testid="delete-user">Delete</button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {users && users.length === 0 && <p class="muted pad">No users yet: sign-in, JWT callers and admins create them.</p>}
      </section>
      <div class="toolbar">
        <h2 class="section-title">Teams</h2>
        <span class="spacer" />
        <button onClick={() => setEditing({ kind: "teams", item: null })} data-testid="new-team">New team</button>
      </div>
      <section class="panel scroll">
        <table data-testid="teams-table">
          <thead><tr><th>Team</th><th>Members</th><th>Admins</th><th>Models</th><th>Limits</th><th>Source</th><th /></tr></thead>
          <tbody>
            {(teams ?? []).map((team) => (
              <tr key={team.id} data-testid={`team-${team.id}`}>
                <td class="mono">{team.id}</td>
                <td>{team.members.join(", ") || <span class="muted">–</span>}</td>
                <td>{team.admins.join(", ") || <span class="muted">–</span>}</td>
                <td>{team.models.join(", ") || <span class="muted">all</span>}</td>
                <td class="limits">{limitsText(team)}</td>
                <td>{team.source === "config" ? <Badge tone="info" title="defined in the config file: edit the file">config</Badge> : "api"}</td>
                <td class="actions">
                  {team.source !== "config" && (
                    <>
                      <button class="link" onClick={() => setEditing({ kind: "teams", item: team })} data-testid="edit-team">Edit</button>
                      <button class="link danger" onClick={() => void remove("teams", team.id)} data-testid="delete-team">Delete</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {editing && (
        <Editor kind={editing.kind} item={editing.item} onClose={() => setEditing(null)} onSaved={() => { setEditing(null); void load(); }} />
      )}
    </div>
  );
}

function Editor({ kind, item, onClose, onSaved }: { kind: Kind; item: User | Team | null; onClose: () => void; onSaved: () => void }) {
  const start: Record<string, string> = { id: item?.id ?? "", budget_period: item?.budget_period ?? "" };
  for (const [name, , list] of FIELDS[kind]) {
    const value = item ? (item as unknown as Record<string, unknown>)[name] : null;
    start[name] = list ? ((value as string[] | undefined) ?? []).join(", ") : String(value ?? "");
  }
  for (const [name] of LIMITS) start[name] = String(item ? ((item as unknown as Record<string, unknown>)[name] ?? "") : "");
  const [form, setForm] = useState(start);
  const [error, setError] = useState("");
  const field = (name: string) => ({ value: form[name], name, onInput: (e: Event) => setForm({ ...form, [name]: (e.currentTarget as HTMLInputElement).value }) });
  const submit = (event: Event) => {
    event.preventDefault();
    const body: Record<string, unknown> = {};
    for (const [name, , list] of FIELDS[kind]) {
      const text = form[name].trim();
      body[name] = list ? text.split(",").map((part) => part.trim()).filter(Boolean) : text || null;
    }
    for (const [name] of LIMITS) body[name] = form[name].trim() === "" ? null : Number(form[name]);
    body.budget_period = form.budget_period || null;
    if (!item) {
      body.id = form.id.trim();
      for (const name of Object.keys(body)) if (body[name] === null) delete body[name];
    }
    const path = item ? `/admin/${kind}/${encodeURIComponent(item.id)}` : `/admin/${kind}`;
    api(item ? "PATCH" : "POST", path, body).then(onSaved).catch((failure: ApiError) => setError(failure.message));
  };
  const noun = kind === "users" ? "user" : "team";
  return (
    <Dialog title={item ? `Edit ${noun} ${item.id}` : `New ${noun}`} onClose={onClose} testid={`${noun}-form`}>
      <form onSubmit={submit} class="form-grid">
        {!item && <label>Id<input {...field("id")} data-testid={`${noun}-id`} /></label>}
        {FIELDS[kind].map(([name, label, list]) => (
          <label key={name} class={list ? "wide" : ""}>{label}<input {...field(name)} placeholder={list ? "comma-separated" : ""} data-testid={`${noun}-${name}`} /></label>
        ))}
        {LIMITS.map(([name, label]) => (
          <label key={name}>{label}<input {...field(name)} type="number" min="0" step={name === "budget_usd" ? "0.01" : "1"} data-testid={`${noun}-${name}`} /></label>
        ))}
        <label>Budget period
          <select {...field("budget_period")} onChange={(e) => setForm({ ...form, budget_period: e.currentTarget.value })}>
            <option value="">none (a total)</option><option value="day">per day</option><option value="week">per week</option><option value="month">per month</option>
          </select>
        </label>
        {error && <p class="error-text wide">{error}</p>}
        <footer class="wide">
          <button type="button" class="secondary" onClick={onClose}>Cancel</button>
          <button type="submit" data-testid={`save-${noun}`}>{item ? "Save" : `Create ${noun}`}</button>
        </footer>
      </form>
    </Dialog>
  );
}
