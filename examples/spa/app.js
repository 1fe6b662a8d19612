// A single-page app signing in to Tollgate with the authorization code flow
// and PKCE as a public client (no secret), through oidc-client-ts.
/* global oidc, TOLLGATE_SPA */
"use strict";

const cfg = TOLLGATE_SPA; // from config.js
const manager = new oidc.UserManager({
  authority: cfg.issuer, // discovery: {issuer}/.well-known/openid-configuration
  client_id: cfg.clientId,
  redirect_uri: window.location.origin + "/",
  post_logout_redirect_uri: window.location.origin + "/",
  response_type: "code", // PKCE S256 is always on in oidc-client-ts
  scope: "openid profile email offline_access api:read",
  loadUserInfo: true, // GET /userinfo with the access token (CORS)
  // Renew with the refresh token shortly before the access token expires;
  // Tollgate rotates the refresh token on every use.
  automaticSilentRenew: true,
  // Tokens live in this tab's sessionStorage only.
  userStore: new oidc.WebStorageStateStore({ store: window.sessionStorage }),
});

const $ = (id) => document.getElementById(id);
let refreshes = 0;

function show(user) {
  const signedIn = !!user && !user.expired;
  $("signed-in").hidden = !signedIn;
  $("signed-out").hidden = signedIn;
  $("status").textContent = signedIn ? "Signed in" : "Signed out";
  if (signedIn) {
    $("user-name").textContent = user.profile.name || "";
    $("user-email").textContent = user.profile.email || "";
    $("expires-at").textContent = new Date(user.expires_at * 1000).toISOString();
    $("refresh-count").textContent = String(refreshes);
  }
}

function fail(err) {
  $("error").hidden = false;
  $("error").textContent = "Error: " + (err && err.message ? err.message : String(err));
}

async function start() {
  const params = new URLSearchParams(window.location.search);
  if (params.has("code") || params.has("error")) {
    // Back from Tollgate: redeem the code (POST /token with the verifier).
    await manager.signinRedirectCallback();
    window.history.replaceState({}, "", "/");
  }
  show(await manager.getUser());
}

$("signin").addEventListener("click", () => manager.signinRedirect().catch(fail));

$("refresh").addEventListener("click", async () => {
  try {
    // With a refresh token, signinSilent is a refresh_token grant: no iframe.
    const before = await manager.getUser();
    const user = await manager.signinSilent();
    refreshes++;
    $("rotated").textContent = user.refresh_token !== before.refresh_token ? "yes" : "no";
    show(user);
    $("status").textContent = "Signed in (tokens refreshed)";
  } catch (err) {
    fail(err);
  }
});

$("call-api").addEventListener("click", async () => {
  try {
    const user = await manager.getUser();
    const resp = await fetch(cfg.apiURL + "/api/hello", {
      headers: { Authorization: "Bearer " + user.access_token },
    });
    $("api-result").textContent = "API answered " + resp.status + ": " + (await resp.text());
  } catch (err) {
    fail(err);
  }
});

$("signout").addEventListener("click", async () => {
  try {
    // Revoke the refresh token (and with it the access tokens), then end
    // the session at Tollgate (RP-initiated logout with id_token_hint).
    await manager.revokeTokens(["refresh_token"]);
    await manager.signoutRedirect();
  } catch (err) {
    fail(err);
  }
});

manager.events.addUserLoaded(show);
start().catch(fail);
