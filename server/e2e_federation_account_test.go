package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// TestFederatedAccountPage: a user who signs in with an upstream only
// reaches their account page through it (the sign-in returns to the page
// it started from), and can delete their account, which has no password to
// confirm with, once they have signed in again recently: a session older
// than that is sent to sign in again with the upstream, and a forged form
// deletes nothing.
func TestFederatedAccountPage(t *testing.T) {
	for name, open := range map[string]func(testing.TB) storage.Store{
		"sqlite": testbackend.SQLite, "postgres+redis": testbackend.PostgresRedis,
	} {
		t.Run(name, func(t *testing.T) {
			var ahead atomic.Int64 // how far the server's clock runs ahead
			f := newFed(t, name, open(t), func(c *server.Config) {
				c.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
			})
			f.fake.setMode("good")
			b, _ := fedBrowser(t)
			login := b.get(f.down.issuer + "/account")
			if !strings.Contains(login.body, `name="next" value="/account"><button type="submit" class="secondary">Continue with Upstream Tollgate`) {
				t.Fatalf("the upstream button does not carry next:\n%s", login.body)
			}
			p := f.drive(b, b.get(f.down.issuer+"/login/upstream/tg?next=%2Faccount"), "grace@example.com")
			if p.status != http.StatusOK || p.url.Path != "/account" || !strings.Contains(p.body, "Your account") {
				t.Fatalf("after the upstream sign-in: %d at %s, want the account page", p.status, p.url)
			}
			grace, err := f.down.store.GetUserByEmail(context.Background(), "grace@example.com")
			if err != nil {
				t.Fatal(err)
			}

			// Eleven minutes later the sign-in no longer confirms anything.
			ahead.Store(int64(11 * time.Minute))
			p = b.get(f.down.issuer + "/account/delete")
			if strings.Contains(p.body, "Delete for good") || !strings.Contains(p.body, "Sign in again with Upstream Tollgate") {
				t.Fatalf("delete page for an old session:\n%s", p.body)
			}
			_, forged := b.get(f.down.issuer+"/account").form(t, "name")
			for k := range forged {
				if k != "csrf_token" {
					forged.Del(k)
				}
			}
			if p := b.post(f.down.issuer+"/account/delete", forged); p.status != http.StatusForbidden {
				t.Fatalf("deleting with an old session: %d, want 403", p.status)
			}
			if _, err := f.down.store.GetUser(context.Background(), grace.ID); err != nil {
				t.Fatalf("the user after a refused deletion: %v", err)
			}

			// Signing in again (the upstream asks for the password again)
			// comes back to the delete page, which now deletes.
			action, form := formWithValue(t, b.get(f.down.issuer+"/account/delete"), "prompt", "login")
			p = f.drive(b, b.get(action+"?"+form.Encode()), "grace@example.com")
			if p.url.Path != "/account/delete" || !strings.Contains(p.body, "Delete for good") {
				t.Fatalf("after signing in again: %d at %s\n%s", p.status, p.url, p.body)
			}
			action, form = p.form(t, "csrf_token")
			if p := b.post(action, form); p.status != http.StatusOK || !strings.Contains(p.body, "deleted") {
				t.Fatalf("delete: %d\n%s", p.status, p.body)
			}
			if _, err := f.down.store.GetUser(context.Background(), grace.ID); !errors.Is(err, storage.ErrNotFound) {
				t.Fatalf("the user after deletion: %v", err)
			}
		})
	}
}
