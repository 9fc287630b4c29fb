// The dashboard: log in with the master key, then Usage, Keys, Models and Playground (hash routes,
// so the gateway serves one page). Everything comes from the admin API (DECISIONS 17).
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, setSession, whenSignedOut } from "./api";
import { Keys } from "./pages/Keys";
import { Models } from "./pages/Models";
import { Playground } from "./pages/Playground";
import { Usage } from "./pages/Usage";

type Phase = "loading" | "off" | "login" | "in";
const PAGES = { usage: "Usage", keys: "Keys", models: "Models", playground: "Playground" } as const;
type Page = keyof typeof PAGES;

function currentPage(): Page {
  const name = location.hash.replace(/^#\/?/, "");
  return name in PAGES ? (name as Page) : "usage";
}

function App() {
  const [phase, setPhase] = useState<Phase>("loading");
  const [page, setPage] = useState<Page>(currentPage());
  const [message, setMessage] = useState("");

  useEffect(() => {
    whenSignedOut(() => { setSession(""); setPhase("login"); setMessage("Your session ended: log in again."); });
    api<{ csrf_token: string }>("GET", "/admin/session")
      .then((session) => { setSession(session.csrf_token); setPhase("in"); })
      .catch((failure: ApiError) => {
        if (failure.code === "admin_disabled") setPhase("off");
        else setPhase("login");
      });
    const follow = () => setPage(currentPage());
    addEventListener("hashchange", follow);
    return () => removeEventListener("hashchange", follow);
  }, []);

  useEffect(() => { document.title = phase === "in" ? `${PAGES[page]} · babelgate` : "babelgate"; }, [phase, page]);

  if (phase === "loading") return null;
  if (phase === "off") {
    return (
      <main class="center">
        <div class="panel login" data-testid="dashboard-off">
          <Brand />
          <h1>The dashboard is off</h1>
          <p>Set <code>BABELGATE_MASTER_KEY</code> (or <code>server.master_key</code>) and restart the gateway, then log in here with that key.</p>
        </div>
      </main>
    );
  }
  if (phase === "login") return <Login note={message} onIn={() => { setMessage(""); setPhase("in"); }} />;
  const logout = () => api("DELETE", "/admin/session").finally(() => { setSession(""); setPhase("login"); });
  return (
    <>
      <header class="top">
        <Brand />
        <nav>
          {(Object.keys(PAGES) as Page[]).map((name) => (
            <a key={name} href={`#/${name}`} class={page === name ? "active" : ""} data-testid={`nav-${name}`}>{PAGES[name]}</a>
          ))}
        </nav>
        <span class="spacer" />
        <button class="link" onClick={() => void logout()} data-testid="logout">Log out</button>
      </header>
      <main>
        <h1 class="page-title">{PAGES[page]}</h1>
        {page === "usage" && <Usage />}
        {page === "keys" && <Keys />}
        {page === "models" && <Models />}
        {page === "playground" && <Playground />}
      </main>
    </>
  );
}

function Brand() {
  return <span class="brand"><span class="logo">b</span>babelgate</span>;
}

function Login({ onIn, note }: { onIn: () => void; note: string }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);
  const submit = (event: Event) => {
    event.preventDefault();
    setBusy(true);
    api<{ csrf_token: string }>("POST", "/admin/session", { master_key: key })
      .then((session) => { setSession(session.csrf_token); onIn(); })
      .catch((failure: ApiError) => setError(failure.status === 401 ? "That is not the gateway's master key." : failure.message))
      .finally(() => setBusy(false));
  };
  return (
    <main class="center">
      <form class="panel login" onSubmit={submit} data-testid="login">
        <Brand />
        <h1>Log in</h1>
        <p class="muted">Use the gateway's master key (<code>BABELGATE_MASTER_KEY</code>).</p>
        {note && <p class="note">{note}</p>}
        <label>Master key
          <input type="password" value={key} onInput={(e) => setKey(e.currentTarget.value)} autocomplete="current-password"
            autofocus data-testid="master-key" />
        </label>
        {error && <p class="error-text" data-testid="login-error">{error}</p>}
        <button type="submit" disabled={busy || !key} data-testid="login-submit">{busy ? "Logging in…" : "Log in"}</button>
      </form>
    </main>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
