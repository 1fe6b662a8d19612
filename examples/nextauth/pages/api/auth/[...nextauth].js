// next-auth v4 with Tollgate as an OpenID Connect provider.
import NextAuth from "next-auth";

export const authOptions = {
  providers: [
    {
      id: "tollgate",
      name: "Tollgate",
      type: "oauth",
      // Every endpoint comes from discovery.
      wellKnown: `${process.env.TOLLGATE_ISSUER}/.well-known/openid-configuration`,
      clientId: process.env.TOLLGATE_CLIENT_ID,
      clientSecret: process.env.TOLLGATE_CLIENT_SECRET,
      client: { token_endpoint_auth_method: "client_secret_basic" },
      authorization: { params: { scope: "openid profile email" } },
      idToken: true, // verify the ID token (RS256) against Tollgate's JWKS
      checks: ["pkce", "state"], // PKCE S256 is required by Tollgate
      profile(profile) {
        return { id: profile.sub, name: profile.name, email: profile.email };
      },
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
};

export default NextAuth(authOptions);
