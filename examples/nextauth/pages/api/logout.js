// Where to send the browser to sign out at Tollgate too: its
// end_session_endpoint, with the ID token as id_token_hint and a
// post_logout_redirect_uri registered for this client.
import { getToken } from "next-auth/jwt";

export default async function logout(req, res) {
  const token = await getToken({ req });
  const discovery = await fetch(`${process.env.TOLLGATE_ISSUER}/.well-known/openid-configuration`);
  const { end_session_endpoint } = await discovery.json();
  const url = new URL(end_session_endpoint);
  if (token?.idToken) url.searchParams.set("id_token_hint", token.idToken);
  url.searchParams.set("post_logout_redirect_uri", new URL("/", process.env.NEXTAUTH_URL).toString());
  res.json({ url: url.toString() });
}
