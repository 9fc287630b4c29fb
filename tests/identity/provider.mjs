// A real OpenID provider for the sign-in tests: the certified `oidc-provider` (pinned in package.json), on
// 127.0.0.1 with its development login and consent pages (any password; the login names the account).
// Accounts are in groups the gateway's auth.oidc.roles maps to roles; its client may also get JWT access
// tokens for the gateway (client credentials). Usage:
//   node provider.mjs <port> <client_id> <client_secret> <redirect_uri> <post_logout_redirect_uri>
import Provider from "oidc-provider";

const [port, clientId, clientSecret, redirectUri, afterLogout] = process.argv.slice(2);
const GROUPS = {
  alice: ["platform-admins"],
  bob: ["search-leads", "search"],
  carol: ["search"],
  victor: ["finance"],
  mallory: [],
};

const provider = new Provider(`http://127.0.0.1:${port}`, {
  clients: [
    {
      client_id: clientId,
      client_secret: clientSecret,
      redirect_uris: [redirectUri],
      post_logout_redirect_uris: [afterLogout],
      grant_types: ["authorization_code", "client_credentials"],
      response_types: ["code"],
    },
  ],
  claims: { openid: ["sub"], email: ["email", "email_verified"], groups: ["groups"] },
  scopes: ["openid", "email", "groups"],
  pkce: { required: () => true },
  cookies: { keys: ["babelgate-identity-tests-cookie-key"] },
  features: {
    devInteractions: { enabled: true },
    // Access tokens for an API (RFC 8707 resource indicators) as JWTs: what a script or a service sends the
    // gateway as a JWT caller (auth.jwt, audience = the resource).
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (_ctx, resource) => ({
        scope: "models",
        audience: resource,
        accessTokenFormat: "jwt",
        accessTokenTTL: 600,
        jwt: { sign: { alg: "RS256" } },
      }),
    },
  },
  async findAccount(_ctx, id) {
    return {
      accountId: id,
      async claims() {
        return { sub: id, email: `${id}@example.com`, email_verified: true, groups: GROUPS[id] ?? [] };
      },
    };
  },
});
provider.on("server_error", (_ctx, error) => console.error("server_error", error));
provider.listen(Number(port), "127.0.0.1", () => console.log("ready"));
