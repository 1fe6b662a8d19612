import { auth, signIn } from "../auth";
import { signOutEverywhere } from "./logout";

export const dynamic = "force-dynamic";

export default async function Home() {
  const session = await auth();
  return (
    <main>
      <h1>Tollgate Auth.js example</h1>
      {session ? (
        <>
          <p id="status">Signed in</p>
          <p>
            Name: <strong id="name">{session.user.name}</strong>
            <br />
            Email: <strong id="email">{session.user.email}</strong>
          </p>
          <form action={signOutEverywhere}>
            <button id="signout" type="submit">Sign out</button>
          </form>
        </>
      ) : (
        <>
          <p id="status">Not signed in</p>
          <form
            action={async () => {
              "use server";
              await signIn("tollgate");
            }}
          >
            <button id="signin" type="submit">Sign in with Tollgate</button>
          </form>
        </>
      )}
    </main>
  );
}
