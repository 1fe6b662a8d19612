// Auth.js v5 (next-auth@5) with Tollgate as an OpenID Connect provider.
import NextAuth from "next-auth";

export const { handlers, auth, signIn, signOut } = NextAuth({
  providers: [
    {
      id: "tollgate",
      name: "Tollgate",
      type: "oidc", // endpoints from {issuer}/.well-known/openid-configuration
      issuer: process.env.TOLLGATE_ISSUER,
      clientId: process.env.TOLLGATE_CLIENT_ID,
      clientSecret: process.env.TOLLGATE_CLIENT_SECRET,
      client: { token_endpoint_auth_method: "client_secret_basic" },
      authorization: { params: { scope: "openid profile email" } },
      checks: ["pkce", "state"], // PKCE S256 is required by Tollgate
    },
  ],
  callbacks: {
    // Keep the ID token, for RP-initiated logout's id_token_hint.
    async jwt({ token, account }) {
      if (account) token.idToken = account.id_token;
      return token;
    },
    // Allow redirects to Tollgate too: signing out ends at its logout page.
    async redirect({ url, baseUrl }) {
      if (url.startsWith("/")) return baseUrl + url;
      if (url.startsWith(baseUrl) || url.startsWith(`${process.env.TOLLGATE_ISSUER}/`)) return url;
      return baseUrl;
    },
  },
});
