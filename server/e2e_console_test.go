package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

const plainEmail = "bob@example.com"

// consoleUsers makes the env's user an admin and adds a user without
// roles, both with testPassword.
func consoleUsers(t *testing.T, e *env) storage.User {
	t.Helper()
	ctx := context.Background()
	if err := e.store.UpdateUser(ctx, e.user.ID, func(u storage.User) (storage.User, error) {
		u.Roles = []string{"admin"}
		return u, nil
	}); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	plain := storage.User{
		ID: "3f1c1b9e-2222-4a4a-9c9c-000000000002", Email: plainEmail, EmailVerified: true,
		Name: "Bob Builder", PasswordHash: e.userPasswordHash(t), CreatedAt: now, UpdatedAt: now,
	}
	if err := e.store.CreateUser(ctx, plain); err != nil {
		t.Fatal(err)
	}
	return plain
}

func (e *env) userPasswordHash(t *testing.T) string {
	u, err := e.store.GetUser(context.Background(), e.user.ID)
	if err != nil {
		t.Fatal(err)
	}
	return u.PasswordHash
}

// consoleSignIn opens the console with a fresh browser, signs in on the
// hosted login page it is sent to, and returns the browser and the page
// the sign-in ends on.
func consoleSignIn(t *testing.T, e *env, email string) (*browser, page) {
	t.Helper()
	b := newBrowser(t)
	p := b.get(e.issuer + "/admin")
	if !strings.HasSuffix(p.url.Path, "/login") || p.url.Query().Get("next") != "/admin" {
		t.Fatalf("the console without a session should send to /login?next=/admin, got %d at %s", p.status, p.url)
	}
	return b, b.signIn(p, email, testPassword)
}

// csrfOf returns the CSRF token of the page's forms.
func csrfOf(t *testing.T, p page) string {
	t.Helper()
	_, form := p.form(t, "csrf_token")
	return form.Get("csrf_token")
}

// TestConsoleAdmin signs an admin in to the console through the hosted
// login page and uses every page: clients (list, create, view, rotate,
// delete), users (list, search, view, disable, enable, sign out) and keys
// (list, rotate).
func TestConsoleAdmin(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		plain := consoleUsers(t, e)
		b, p := consoleSignIn(t, e, testEmail)
		if p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/admin/clients") {
			t.Fatalf("after sign-in: %d at %s", p.status, p.url)
		}
		for _, want := range []string{"Web App", "Single Page App", confidentialID, testEmail} {
			if !strings.Contains(p.body, want) {
				t.Errorf("clients page lacks %q", want)
			}
		}
		if p := b.get(e.issuer + "/admin/clients?q=single"); !strings.Contains(p.body, "Single Page App") || strings.Contains(p.body, "Web App") {
			t.Errorf("client search by name: %s", p.body)
		}

		// Create a confidential client through the form; its secret is
		// shown once and works.
		p = b.get(e.issuer + "/admin/clients/new")
		action, form := p.form(t, "client_name")
		form.Set("client_name", "Billing")
		form.Set("redirect_uris", "https://billing.example/callback\n")
		form.Set("type", "confidential")
		form["grant_types"] = []string{"authorization_code", "client_credentials"}
		form.Set("scope", "openid api:read")
		p = b.post(action, form)
		if p.status != http.StatusCreated {
			t.Fatalf("create client: %d\n%s", p.status, p.body)
		}
		secret := regexp.MustCompile(`<code class="copy">([^<]+)</code>`).FindStringSubmatch(p.body)
		id := regexp.MustCompile(`<dt>Client ID</dt><dd><code>([^<]+)</code>`).FindStringSubmatch(p.body)
		if secret == nil || id == nil {
			t.Fatalf("the new client's page shows no ID or secret:\n%s", p.body)
		}
		clientCredentials := func(secret string) int {
			status, _, _ := e.tokenRequest(id[1], secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"api:read"}})
			return status
		}
		if status := clientCredentials(secret[1]); status != http.StatusOK {
			t.Fatalf("the console's client cannot get a token: %d", status)
		}

		// A refused registration shows the form again with the problem.
		p = b.get(e.issuer + "/admin/clients/new")
		action, form = p.form(t, "client_name")
		form.Set("client_name", "Bad")
		form.Set("redirect_uris", "http://bad.example/cb")
		if p = b.post(action, form); p.status != http.StatusBadRequest || !strings.Contains(p.body, "http is allowed only for localhost") || !strings.Contains(p.body, `aria-invalid="true"`) {
			t.Fatalf("bad registration: %d\n%s", p.status, p.body)
		}

		// Rotate the secret: the old one stops working, the new one works.
		clientURL := e.issuer + "/admin/clients/" + id[1]
		p = b.get(clientURL)
		token := csrfOf(t, p)
		p = b.post(clientURL+"/secret", url.Values{"csrf_token": {token}})
		rotated := regexp.MustCompile(`<code class="copy">([^<]+)</code>`).FindStringSubmatch(p.body)
		if p.status != http.StatusOK || rotated == nil || rotated[1] == secret[1] {
			t.Fatalf("rotate secret: %d\n%s", p.status, p.body)
		}
		if clientCredentials(secret[1]) != http.StatusUnauthorized || clientCredentials(rotated[1]) != http.StatusOK {
			t.Fatal("after rotation the old secret must fail and the new one work")
		}

		// Delete needs the confirmation box, then the client is gone.
		if p = b.post(clientURL+"/delete", url.Values{"csrf_token": {token}}); p.status != http.StatusBadRequest {
			t.Fatalf("delete without confirmation: %d", p.status)
		}
		p = b.post(clientURL+"/delete", url.Values{"csrf_token": {token}, "confirm": {"yes"}})
		if !strings.HasSuffix(p.url.Path, "/admin/clients") || !strings.Contains(p.body, "The client was deleted.") {
			t.Fatalf("delete: %d at %s", p.status, p.url)
		}
		if _, err := e.store.GetClient(ctx, id[1]); err == nil {
			t.Fatal("the deleted client is still stored")
		}
		if p = b.get(clientURL); p.status != http.StatusNotFound {
			t.Fatalf("deleted client's page: %d", p.status)
		}

		// Users: list, search by email and by name, view.
		p = b.get(e.issuer + "/admin/users")
		if !strings.Contains(p.body, testEmail) || !strings.Contains(p.body, plainEmail) {
			t.Fatalf("users page:\n%s", p.body)
		}
		if p = b.get(e.issuer + "/admin/users?q=builder"); !strings.Contains(p.body, plainEmail) || strings.Contains(p.body, testEmail+"</a>") {
			t.Fatalf("search by name:\n%s", p.body)
		}
		if p = b.get(e.issuer + "/admin/users?q=BOB@"); !strings.Contains(p.body, plainEmail) {
			t.Fatalf("search by email:\n%s", p.body)
		}
		userURL := e.issuer + "/admin/users/" + plain.ID
		if p = b.get(userURL); !strings.Contains(p.body, "Bob Builder") || !strings.Contains(p.body, "Disable account") {
			t.Fatalf("user page:\n%s", p.body)
		}

		// Bob signs in somewhere; disabling him ends that session.
		bob := newBrowser(t)
		bob.signIn(bob.get(e.issuer+"/login"), plainEmail, testPassword)
		p = b.post(userURL+"/disable", url.Values{"csrf_token": {token}})
		if !strings.Contains(p.body, "The account is disabled") || !strings.Contains(p.body, "Enable account") {
			t.Fatalf("disable: %d\n%s", p.status, p.body)
		}
		if u, _ := e.store.GetUser(ctx, plain.ID); !u.Disabled {
			t.Fatal("the user is not disabled")
		}
		if p := bob.get(e.issuer + "/"); strings.Contains(p.body, plainEmail) {
			t.Fatal("the disabled user is still signed in")
		}
		p = b.post(userURL+"/enable", url.Values{"csrf_token": {token}})
		if u, _ := e.store.GetUser(ctx, plain.ID); u.Disabled || !strings.Contains(p.body, "The account is enabled.") {
			t.Fatalf("enable: %+v", u)
		}
		bob.signIn(bob.get(e.issuer+"/login"), plainEmail, testPassword)
		p = b.post(userURL+"/sign-out", url.Values{"csrf_token": {token}})
		if !strings.Contains(p.body, "signed out everywhere") {
			t.Fatalf("sign out: %d\n%s", p.status, p.body)
		}
		if p := bob.get(e.issuer + "/"); strings.Contains(p.body, plainEmail) {
			t.Fatal("the user is still signed in after sign out everywhere")
		}
		// An admin cannot lock themselves out.
		if p = b.post(e.issuer+"/admin/users/"+e.user.ID+"/disable", url.Values{"csrf_token": {token}}); p.status != http.StatusBadRequest {
			t.Fatalf("disabling oneself: %d", p.status)
		}
		if p = b.post(e.issuer+"/admin/users/"+e.user.ID+"/roles", url.Values{"csrf_token": {token}, "admin": {"no"}}); p.status != http.StatusBadRequest {
			t.Fatalf("removing one's own admin role: %d", p.status)
		}

		// Make Bob an admin: he can use the console; take it back: he cannot.
		p = b.post(userURL+"/roles", url.Values{"csrf_token": {token}, "admin": {"yes"}})
		if !strings.Contains(p.body, "The user is now an admin") || !strings.Contains(p.body, "Remove admin role") {
			t.Fatalf("make admin: %d\n%s", p.status, p.body)
		}
		bob, p = consoleSignIn(t, e, plainEmail)
		if p.status != http.StatusOK || !strings.HasSuffix(p.url.Path, "/admin/clients") {
			t.Fatalf("Bob as an admin: %d at %s", p.status, p.url)
		}
		if p = b.post(userURL+"/roles", url.Values{"csrf_token": {token}, "admin": {"no"}}); !strings.Contains(p.body, "no longer an admin") {
			t.Fatalf("remove admin: %d\n%s", p.status, p.body)
		}
		if p := bob.get(e.issuer + "/admin/clients"); p.status != http.StatusForbidden {
			t.Fatalf("Bob after losing the admin role: %d at %s", p.status, p.url)
		}

		// Keys: list and rotate.
		keysBefore, _ := e.keys.Keys(ctx)
		p = b.get(e.issuer + "/admin/keys")
		for _, k := range keysBefore {
			if !strings.Contains(p.body, k.ID) {
				t.Errorf("keys page lacks %s", k.ID)
			}
		}
		p = b.post(e.issuer+"/admin/keys/rotate", url.Values{"csrf_token": {token}})
		if !strings.Contains(p.body, "The signing keys were rotated.") {
			t.Fatalf("rotate keys: %d\n%s", p.status, p.body)
		}

		// Every form needs the CSRF token.
		if p = b.post(userURL+"/disable", url.Values{}); p.status != http.StatusForbidden {
			t.Fatalf("form without CSRF token: %d", p.status)
		}
		if u, _ := e.store.GetUser(ctx, plain.ID); u.Disabled {
			t.Fatal("a form without CSRF token disabled the user")
		}
	})
}

// TestConsoleNonAdmin: a signed-in user without the admin role gets 403 on
// every page and action; without a session, actions send to the login page.
func TestConsoleNonAdmin(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		plain := consoleUsers(t, e)
		b, p := consoleSignIn(t, e, plainEmail)
		if p.status != http.StatusForbidden || !strings.Contains(p.body, "only for administrators") {
			t.Fatalf("non-admin after sign-in: %d at %s", p.status, p.url)
		}
		token := csrfOf(t, b.get(e.issuer+"/login"))
		for _, path := range []string{"/admin/clients", "/admin/users", "/admin/users/" + e.user.ID, "/admin/keys", "/admin/clients/" + confidentialID} {
			if p := b.get(e.issuer + path); p.status != http.StatusForbidden || strings.Contains(p.body, confidentialID) {
				t.Errorf("GET %s as a non-admin: %d", path, p.status)
			}
		}
		if p := b.post(e.issuer+"/admin/users/"+e.user.ID+"/disable", url.Values{"csrf_token": {token}}); p.status != http.StatusForbidden {
			t.Errorf("disable as a non-admin: %d", p.status)
		}
		if p := b.post(e.issuer+"/admin/keys/rotate", url.Values{"csrf_token": {token}}); p.status != http.StatusForbidden {
			t.Errorf("rotate as a non-admin: %d", p.status)
		}
		if u, _ := e.store.GetUser(context.Background(), e.user.ID); u.Disabled {
			t.Fatal("a non-admin disabled a user")
		}

		// Without a session an action changes nothing and leads to sign-in.
		anon := newBrowser(t)
		if p := anon.post(e.issuer+"/admin/users/"+plain.ID+"/disable", url.Values{}); !strings.HasSuffix(p.url.Path, "/login") {
			t.Errorf("action without a session: %d at %s", p.status, p.url)
		}

		// A disabled admin is no admin, even with a session left over.
		admin, _ := consoleSignIn(t, e, testEmail)
		if err := e.store.UpdateUser(context.Background(), e.user.ID, func(u storage.User) (storage.User, error) {
			u.Disabled = true
			return u, nil
		}); err != nil {
			t.Fatal(err)
		}
		if p := admin.get(e.issuer + "/admin/clients"); p.status != http.StatusForbidden {
			t.Errorf("a disabled admin's session: %d at %s", p.status, p.url)
		}
	})
}

// TestConsoleOutage: with the database down, the console answers 503 with
// a retry hint, never a page that pretends to work.
func TestConsoleOutage(t *testing.T) {
	pg := testbackend.StartPostgres(t)
	e := newEnvWith(t, "own postgres", openURLs(t, pg.URL(), ""), keyring.RS256, func(c *server.Config) {
		c.RegistrationEnabled, c.RegistrationToken = true, initialAccessToken
	})
	consoleUsers(t, e)
	b, _ := consoleSignIn(t, e, testEmail)
	token := csrfOf(t, b.get(e.issuer+"/admin/keys"))
	pg.Stop()
	for _, p := range []page{
		b.get(e.issuer + "/admin/clients"),
		b.get(e.issuer + "/admin/users"),
		b.post(e.issuer+"/admin/keys/rotate", url.Values{"csrf_token": {token}}),
	} {
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" {
			t.Errorf("%s with the database down: %d", p.url, p.status)
		}
	}
	status, body, h := e.regCall(http.MethodPost, e.issuer+"/oauth2/register", initialAccessToken, map[string]any{"redirect_uris": []string{callbackURL}})
	if status != http.StatusServiceUnavailable || h.Get("Retry-After") == "" || body["error"] != "temporarily_unavailable" {
		t.Errorf("registration with the database down: %d %v", status, body)
	}
	pg.Start()
}

// TestLoginNextIsNotAnOpenRedirect: the login page returns only to the
// console, never to another site or another page.
func TestLoginNextIsNotAnOpenRedirect(t *testing.T) {
	e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256)
	for _, next := range []string{
		"https://evil.example/admin", "//evil.example/admin", "/\\evil.example/admin", "/authorize",
		"/admin/../logout", "/administrator", "javascript:alert(1)",
	} {
		b := newBrowser(t)
		p := b.signIn(b.get(e.issuer+"/login?next="+url.QueryEscape(next)), testEmail, testPassword)
		if p.status != http.StatusOK || p.url.Path != "/login" || p.url.Host != strings.TrimPrefix(e.issuer, "http://") {
			t.Errorf("next=%q: sign-in ended %d at %s", next, p.status, p.url)
		}
	}
	b := newBrowser(t)
	p := b.signIn(b.get(e.issuer+"/login?next="+url.QueryEscape("/admin/users?status=active")), testEmail, testPassword)
	if p.url.Path != "/admin/users" || p.url.RawQuery != "status=active" {
		t.Errorf("next=/admin/users?status=active: sign-in ended at %s", p.url)
	}
}

// TestAdminAPIRoles: the admin API reads and sets roles, and refuses
// unknown ones.
func TestAdminAPIRoles(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		call := func(body string) (int, map[string]any) {
			req, _ := http.NewRequest(http.MethodPatch, e.issuer+"/admin/v1/users/"+e.user.ID, bytes.NewBufferString(body))
			req.Header.Set("Authorization", "Bearer "+adminToken)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var out map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&out)
			return resp.StatusCode, out
		}
		if status, out := call(`{"roles": ["admin", "admin"]}`); status != http.StatusOK || len(out["roles"].([]any)) != 1 {
			t.Fatalf("grant admin: %d %v", status, out)
		}
		if status, out := call(`{"roles": ["root"]}`); status != http.StatusBadRequest || out["field"] != "roles" {
			t.Fatalf("unknown role: %d %v", status, out)
		}
		if status, out := call(`{"roles": []}`); status != http.StatusOK || len(out["roles"].([]any)) != 0 {
			t.Fatalf("revoke: %d %v", status, out)
		}
	})
}
