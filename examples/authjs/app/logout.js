"use server";
// Sign out of this app, then of Tollgate: Auth.js clears its session and
// redirects to Tollgate's end_session_endpoint (RP-initiated logout) with the
// ID token as id_token_hint, which returns the browser here.
import { headers } from "next/headers";
import { getToken } from "next-auth/jwt";
import { signOut } from "../auth";

export async function signOutEverywhere() {
  const token = await getToken({
    req: { headers: headers() },
    secret: process.env.AUTH_SECRET,
    secureCookie: process.env.AUTH_URL.startsWith("https://"),
  });
  const discovery = await fetch(`${process.env.TOLLGATE_ISSUER}/.well-known/openid-configuration`);
  const { end_session_endpoint } = await discovery.json();
  const url = new URL(end_session_endpoint);
  if (token?.idToken) url.searchParams.set("id_token_hint", token.idToken);
  url.searchParams.set("post_logout_redirect_uri", new URL("/", process.env.AUTH_URL).toString());
  await signOut({ redirectTo: url.toString() });
}
