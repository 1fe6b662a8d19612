import { signIn, signOut, useSession } from "next-auth/react";

// Sign out of this app, then of Tollgate: next-auth clears its session and
// sends the browser to Tollgate's end_session_endpoint (RP-initiated
// logout), which returns it here.
async function signOutEverywhere() {
  const { url } = await fetch("/api/logout").then((r) => r.json());
  await signOut({ callbackUrl: url });
}

export default function Home() {
  const { data: session, status } = useSession();
  if (status === "loading") return <p id="status">Loading…</p>;
  return (
    <main style={{ fontFamily: "system-ui, sans-serif", maxWidth: "40rem", margin: "2rem auto" }}>
      <h1>Tollgate next-auth example</h1>
      {session ? (
        <>
          <p id="status">Signed in</p>
          <p>
            Name: <strong id="name">{session.user.name}</strong>
            <br />
            Email: <strong id="email">{session.user.email}</strong>
          </p>
          <button id="signout" onClick={signOutEverywhere}>Sign out</button>
        </>
      ) : (
        <>
          <p id="status">Not signed in</p>
          <button id="signin" onClick={() => signIn("tollgate")}>Sign in with Tollgate</button>
        </>
      )}
    </main>
  );
}
