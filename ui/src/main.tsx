// The dashboard: log in with the master key or sign in with the identity provider (SSO), then Usage,
// Keys, Models, MCP and Playground as the role allows (hash routes, so the gateway serves one page).
// Everything comes from the admin API (docs/decisions.md, "The dashboard and the CLI are admin API clients"), which checks the role again on every call.
import "uplot/dist/uPlot.min.css";
import "./styles.css";
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, type Role, type Session, type SignIn, setSession, whenSignedOut } from "./api";
import { Audit } from "./pages/Audit";
import { Keys } from "./pages/Keys";
import { Logs } from "./pages/Logs";
import { Mcp } from "./pages/Mcp";
import { Models } from "./pages/Models";
import { People } from "./pages/People";
import { Playground } from "./pages/Playground";
import { Usage } from "./pages/Usage";

type Phase = "loading" | "off" | "login" | "in";
const PAGES = {
  usage: "Usage", logs: "Logs", keys: "Keys", people: "Users & teams", models: "Models", mcp: "MCP",
  playground: "Playground", audit: "Audit",
} as const;
type Page = keyof typeof PAGES;
// What each role may open: the admin API refuses the rest anyway; the dashboard does not offer it. The
// conversation log is read as usage is (docs/logging.md): a team admin sees their teams', a member their own keys'.
const ALLOWED: Record<Role, Page[]> = {
  admin: ["usage", "logs", "keys", "people", "models", "mcp", "playground", "audit"],
  team_admin: ["usage", "logs", "keys", "models", "playground"],
  member: ["usage", "logs", "keys", "models", "playground"],
  viewer: ["usage", "logs", "models"],
};
const ROLE_NAMES: Record<Role, string> = { admin: "Admin", team_admin: "Team admin", member: "Member", viewer: "Viewer" };

function currentPage(): Page {
  const name = location.hash.replace(/^#\/?/, "").split("?")[0];  // a page's own filters follow "?"
  return name in PAGES ? (name as Page) : "usage";
}

function App() {
  const [phase, setPhase] = useState<Phase>("loading");
  const [page, setPage] = useState<Page>(currentPage());
  const [message, setMessage] = useState("");
  const [who, setWho] = useState<Session | null>(null);
  const signedIn = (session: Session) => { setSession(session.csrf_token); setWho(session); setPhase("in"); };

  useEffect(() => {
    whenSignedOut(() => { setSession(""); setWho(null); setPhase("login"); setMessage("Your session ended: log in again."); });
    api<Session>("GET", "/admin/session")
      .then(signedIn)
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
  if (phase === "login" || who === null) return <Login note={message} onIn={(session) => { setMessage(""); signedIn(session); }} />;
  const logout = () =>
    api<{ logout_url?: string }>("DELETE", "/admin/session")
      .then((answer) => { if (answer?.logout_url) location.assign(answer.logout_url); })
      .finally(() => { setSession(""); setWho(null); setPhase("login"); });
  const allowed = ALLOWED[who.role] ?? ["usage"];
  const shown = allowed.includes(page) ? page : allowed[0];
  return (
    <>
      <header class="top">
        <Brand />
        <nav>
          {allowed.map((name) => (
            <a key={name} href={`#/${name}`} class={shown === name ? "active" : ""} data-testid={`nav-${name}`}>{PAGES[name]}</a>
          ))}
        </nav>
        <span class="spacer" />
        <span class="muted" data-testid="who">{who.user} · {ROLE_NAMES[who.role]}</span>
        <button class="link" onClick={() => void logout()} data-testid="logout">Log out</button>
      </header>
      <main>
        <h1 class="page-title">{PAGES[shown]}</h1>
        {shown === "usage" && <Usage errors={who.role === "admin"} logs={allowed.includes("logs")} />}
        {shown === "logs" && <Logs />}
        {shown === "keys" && <Keys limits={who.role !== "member"} />}
        {shown === "models" && <Models />}
        {shown === "mcp" && <Mcp />}
        {shown === "playground" && <Playground />}
        {shown === "people" && <People />}
        {shown === "audit" && <Audit />}
      </main>
    </>
  );
}

function Brand() {
  return <span class="brand"><span class="logo">b</span>babelgate</span>;
}

// Why a sign-in with the identity provider came back refused (/admin/oidc/callback's `signin_error`).
const SIGN_IN_ERRORS: Record<string, string> = {
  no_role: "You are signed in with your identity provider, but none of your groups has a role on this gateway: ask an admin to map one.",
  oidc_failed: "Signing in with your identity provider did not complete. Try again.",
};

function signInError(): string {
  const code = new URLSearchParams(location.search).get("signin_error");
  if (!code) return "";
  history.replaceState(null, "", location.pathname + location.hash);
  return SIGN_IN_ERRORS[code] ?? SIGN_IN_ERRORS.oidc_failed;
}

function Login({ onIn, note }: { onIn: (session: Session) => void; note: string }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState("");
  const [ssoError] = useState(signInError);
  const [busy, setBusy] = useState(false);
  const [sso, setSso] = useState<SignIn | null>(null);
  useEffect(() => {
    api<SignIn>("GET", "/admin/oidc").then(setSso).catch(() => setSso({ enabled: false, login_url: null, master_key: true }));
  }, []);
  const submit = (event: Event) => {
    event.preventDefault();
    setBusy(true);
    api<Session>("POST", "/admin/session", { master_key: key })
      .then(onIn)
      .catch((failure: ApiError) => setError(failure.status === 401 ? "That is not the gateway's master key." : failure.message))
      .finally(() => setBusy(false));
  };
  if (sso === null) return null;
  return (
    <main class="center">
      <form class="panel login" onSubmit={submit} data-testid="login">
        <Brand />
        <h1>Log in</h1>
        {note && <p class="note">{note}</p>}
        {ssoError && <p class="error-text" data-testid="sso-error">{ssoError}</p>}
        {sso.enabled && sso.login_url && (
          <a class="button" href={sso.login_url} data-testid="sso-login">Sign in with SSO</a>
        )}
        {sso.master_key && <>
          <p class="muted">{sso.enabled ? "Or use" : "Use"} the gateway's master key (<code>BABELGATE_MASTER_KEY</code>).</p>
          <label>Master key
            <input type="password" value={key} onInput={(e) => setKey(e.currentTarget.value)} autocomplete="current-password"
              autofocus={!sso.enabled} data-testid="master-key" />
          </label>
          {error && <p class="error-text" data-testid="login-error">{error}</p>}
          <button type="submit" disabled={busy || !key} data-testid="login-submit">{busy ? "Logging in…" : "Log in"}</button>
        </>}
      </form>
    </main>
  );
}

render(<App />, document.getElementById("app") as HTMLElement);
