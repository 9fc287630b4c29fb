// The audit log: every admin action, who, when, from where, what changed; never a secret.
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, query } from "../api";
import { when } from "../format";

interface Entry {
  id: string; ts: number; actor: string; action: string; target_type: string; target_id: string | null;
  address: string | null; status: number; changes: Record<string, { from: unknown; to: unknown }>;
}

function shown(value: unknown): string {
  if (value === null || value === undefined) return "–";
  return typeof value === "string" ? value : JSON.stringify(value);
}

export function Audit() {
  const [entries, setEntries] = useState<Entry[] | null>(null);
  const [action, setAction] = useState("");
  const [error, setError] = useState("");
  const load = () =>
    api<{ data: Entry[] }>("GET", `/admin/audit${query({ action: action.trim(), limit: 200 })}`)
      .then((answer) => { setEntries(answer.data); setError(""); })
      .catch((failure: ApiError) => setError(failure.message));
  useEffect(() => void load(), []);
  return (
    <div class="page" data-testid="audit-page">
      <div class="toolbar">
        <input type="search" class="filter" placeholder="Action (keys, users.create…)" value={action}
          onInput={(e) => setAction(e.currentTarget.value)} onKeyDown={(e) => e.key === "Enter" && void load()} data-testid="audit-filter" />
        <button class="secondary" onClick={() => void load()}>Filter</button>
      </div>
      {error && <p class="error-text">{error}</p>}
      <section class="panel scroll">
        <table data-testid="audit-table">
          <thead><tr><th>When</th><th>Who</th><th>Action</th><th>On</th><th>From</th><th>Changed</th></tr></thead>
          <tbody>
            {(entries ?? []).map((entry) => (
              <tr key={entry.id} data-testid="audit-row">
                <td class="nowrap">{when(entry.ts)}</td>
                <td>{entry.actor}</td>
                <td class="mono">{entry.action}</td>
                <td class="mono">{entry.target_type} {entry.target_id ?? ""}</td>
                <td class="mono">{entry.address ?? "–"}</td>
                <td>{Object.entries(entry.changes).map(([name, change]) => (
                  <div key={name} class="sub"><span class="mono">{name}</span>: {shown(change.from)} → {shown(change.to)}</div>
                ))}</td>
              </tr>
            ))}
          </tbody>
        </table>
        {entries && entries.length === 0 && <p class="muted pad">No admin action recorded.</p>}
      </section>
    </div>
  );
}
