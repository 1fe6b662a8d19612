package server_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/config"
	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/server/upstream"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

const (
	upClientID       = "downstream"
	upClientSecret   = "downstream-secret-0123456789abcdefghij"
	upTrustedID      = "downstream-trusted"
	upTrustedSecret  = "downstream-trusted-secret-0123456789abc"
	fakeClientID     = "fake-client"
	fakeClientSecret = "fake-client-secret"
)

// fed is our Tollgate (down) federated with a second, real Tollgate (up)
// through two upstream entries (tg, and trusted with trusted_email), and a
// small fake issuer (fake) whose tokens the test can spoil.
type fed struct {
	t    *testing.T
	down *env
	up   *env
	fake *fakeIssuer
}

// fedBackends runs fn with our Tollgate on SQLite and on PostgreSQL +
// Redis; the upstream Tollgate always runs on SQLite.
func fedBackends(t *testing.T, fn func(t *testing.T, f *fed)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{{"sqlite", testbackend.SQLite}, {"postgres+redis", testbackend.PostgresRedis}} {
		t.Run(b.name, func(t *testing.T) {
			fn(t, newFed(t, b.name, b.open(t)))
		})
	}
}

func newFed(t *testing.T, backend string, store storage.Store, opts ...func(*server.Config)) *fed {
	t.Helper()
	ctx := context.Background()
	up := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256)
	fake := newFakeIssuer(t)
	down := newEnvWith(t, backend, store, keyring.RS256, func(c *server.Config) {
		c.Upstreams = []upstream.Config{
			{ID: "tg", Name: "Upstream Tollgate", Issuer: up.issuer, ClientID: upClientID, ClientSecret: upClientSecret,
				Scopes: []string{"openid", "email", "profile"}},
			{ID: "trusted", Name: "Trusted IdP", Issuer: up.issuer, ClientID: upTrustedID, ClientSecret: upTrustedSecret,
				Scopes: []string{"openid", "email", "profile"}, TrustedEmail: true},
			{ID: "fake", Name: "Fake IdP", Issuer: fake.server.URL, ClientID: fakeClientID, ClientSecret: fakeClientSecret,
				Scopes: []string{"openid", "email"}},
		}
		for _, o := range opts {
			o(c)
		}
	})
	hasher, err := passwords.New(fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	// The upstream knows us as two clients whose redirect URIs are our
	// callbacks; the first asks its users for consent.
	for _, c := range []struct {
		id, secret, upstream string
		skipConsent          bool
	}{{upClientID, upClientSecret, "tg", false}, {upTrustedID, upTrustedSecret, "trusted", true}} {
		hash, err := hasher.Hash(c.secret)
		if err != nil {
			t.Fatal(err)
		}
		err = up.store.CreateClient(ctx, storage.Client{
			ID: c.id, SecretHash: hash, Name: "Downstream Tollgate", SkipConsent: c.skipConsent,
			RedirectURIs: []string{down.issuer + "/login/upstream/" + c.upstream + "/callback"},
			GrantTypes:   []string{"authorization_code"}, Scopes: []string{"openid", "email", "profile"},
			CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	pw, err := hasher.Hash(testPassword)
	if err != nil {
		t.Fatal(err)
	}
	// Upstream accounts; ada@ (created by newEnvWith) exists on both sides,
	// and so does alan@, for trusted_email.
	for i, email := range []string{"grace@example.com", "alan@example.com", "hedy@example.com", "katherine@example.com"} {
		err := up.store.CreateUser(ctx, storage.User{
			ID: "up-user-" + string(rune('a'+i)), Email: email, EmailVerified: true, Name: "Up " + email,
			PasswordHash: pw, CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	err = down.store.CreateUser(ctx, storage.User{
		ID: "local-alan", Email: "alan@example.com", EmailVerified: true, Name: "Alan Turing",
		PasswordHash: pw, CreatedAt: now, UpdatedAt: now,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &fed{t: t, down: down, up: up, fake: fake}
}

// fedBrowser is a browser whose cookies are kept per host and port, as two
// servers on one test host would otherwise share them. With stopAt set it
// stops at the first redirect to a URL on our host whose path ends so.
func fedBrowser(t *testing.T) (*browser, *string) {
	stopAt := new(string)
	jar := &portJar{jars: map[string]*cookiejar.Jar{}}
	return &browser{t: t, client: &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == "rp.example" || (*stopAt != "" && strings.HasSuffix(req.URL.Path, *stopAt)) {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}}, stopAt
}

type portJar struct {
	mu   sync.Mutex
	jars map[string]*cookiejar.Jar
}

func (j *portJar) jar(u *url.URL) *cookiejar.Jar {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.jars[u.Host] == nil {
		j.jars[u.Host], _ = cookiejar.New(nil)
	}
	return j.jars[u.Host]
}

func (j *portJar) SetCookies(u *url.URL, c []*http.Cookie) { j.jar(u).SetCookies(u, c) }
func (j *portJar) Cookies(u *url.URL) []*http.Cookie       { return j.jar(u).Cookies(u) }

// clickUpstream submits the "Continue with NAME" button of our login page.
func (f *fed) clickUpstream(b *browser, p page, name string) page {
	f.t.Helper()
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		f.t.Fatal(err)
	}
	var text func(n *html.Node) string
	text = func(n *html.Node) string {
		if n.Type == html.TextNode {
			return n.Data
		}
		var sb strings.Builder
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			sb.WriteString(text(c))
		}
		return sb.String()
	}
	var found *html.Node
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && strings.TrimSpace(text(n)) == "Continue with "+name {
			found = n
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if found == nil {
		f.t.Fatalf("no %q button on %s:\n%s", name, p.url, p.body)
	}
	if !strings.EqualFold(attr(found, "method"), "get") {
		f.t.Fatalf("the %q button's form is not a GET", name)
	}
	q := url.Values{}
	for c := found.FirstChild; c != nil; c = c.NextSibling {
		if c.Type == html.ElementNode && c.Data == "input" {
			q.Set(attr(c, "name"), attr(c, "value"))
		}
	}
	return b.get(p.url.ResolveReference(mustParse(f.t, attr(found, "action"))).String() + "?" + q.Encode())
}

// drive answers the upstream's login and consent pages, and ours, until the
// browser reaches the application, our error page or our link page.
func (f *fed) drive(b *browser, p page, email string) page {
	f.t.Helper()
	up, down := mustParse(f.t, f.up.issuer).Host, mustParse(f.t, f.down.issuer).Host
	for range 8 {
		switch {
		case p.url.Host == up && strings.HasSuffix(p.url.Path, "/login"):
			p = b.signIn(p, email, testPassword)
		case p.url.Host == up && strings.HasSuffix(p.url.Path, "/consent"):
			p = b.consent(p, "allow", true)
		case p.url.Host == down && strings.HasSuffix(p.url.Path, "/consent"):
			p = b.consent(p, "allow", true)
		default:
			return p
		}
	}
	f.t.Fatalf("sign-in does not end: %d at %s", p.status, p.url)
	return p
}

// idToken exchanges the code of a callback and returns our ID token's
// claims.
func (f *fed) idToken(cfg *oauth2.Config, a authRequest, p page) map[string]any {
	f.t.Helper()
	q := callback(f.t, p, f.down.issuer)
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		f.t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := f.down.provider().Verifier(&oidc.Config{ClientID: cfg.ClientID}).Verify(context.Background(), raw)
	if err != nil {
		f.t.Fatalf("our ID token: %v", err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		f.t.Fatal(err)
	}
	if claims["iss"] != f.down.issuer || idt.Nonce != a.nonce {
		f.t.Fatalf("ID token not ours: %v", claims)
	}
	return claims
}

// signInUpstream runs a whole sign-in at our server through the upstream
// button named name, as email, and returns the page it ends on.
func (f *fed) signInUpstream(b *browser, a authRequest, name, email string) page {
	f.t.Helper()
	p := b.get(a.url)
	if !strings.HasSuffix(p.url.Path, "/login") {
		f.t.Fatalf("expected our login page, got %d at %s", p.status, p.url)
	}
	return f.drive(b, f.clickUpstream(b, p, name), email)
}

// counts returns how many users and identities our store holds.
func (f *fed) counts() (users, identities int) {
	f.t.Helper()
	ctx := context.Background()
	list, err := f.down.store.SearchUsers(ctx, storage.UserQuery{Limit: 1000})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, u := range list {
		ids, err := f.down.store.ListUserIdentities(ctx, u.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		identities += len(ids)
	}
	return len(list), identities
}

// errorPage checks that p is our error page with code.
func (f *fed) errorPage(p page, status int, code, text string) {
	f.t.Helper()
	if p.url.Host != mustParse(f.t, f.down.issuer).Host || p.status != status ||
		!strings.Contains(p.body, "Something went wrong") || !strings.Contains(p.body, "<code>"+code+"</code>") ||
		!strings.Contains(p.body, text) {
		f.t.Fatalf("want our error page %d %s (%q), got %d at %s:\n%s", status, code, text, p.status, p.url, p.body)
	}
}

func amrOf(claims map[string]any) []string {
	var out []string
	list, _ := claims["amr"].([]any)
	for _, a := range list {
		s, _ := a.(string)
		out = append(out, s)
	}
	return out
}

// The first sign-in with an upstream account creates a user from its
// claims; the next finds the same user by (issuer, subject).
func TestFederationFirstAndSecondSignIn(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		cfg := f.down.oauthConfig(confidentialID, confidentialKey)
		users, _ := f.counts()

		a := newAuthRequest(cfg)
		b, _ := fedBrowser(t)
		claims := f.idToken(cfg, a, f.signInUpstream(b, a, "Upstream Tollgate", "grace@example.com"))
		user, err := f.down.store.GetUserByEmail(context.Background(), "grace@example.com")
		if err != nil {
			t.Fatalf("no user created: %v", err)
		}
		if claims["sub"] != user.ID || claims["email"] != "grace@example.com" || claims["email_verified"] != true ||
			user.Name != "Up grace@example.com" || user.PasswordHash != "" || !user.EmailVerified {
			t.Fatalf("claims %v, user %+v", claims, user)
		}
		// Our subject, never the upstream's; amr says federated, and how
		// the upstream signed the user in.
		if claims["sub"] == "up-user-a" || !slices.Equal(amrOf(claims), []string{"fed", "pwd"}) {
			t.Fatalf("sub %v amr %v", claims["sub"], claims["amr"])
		}
		ids, err := f.down.store.ListUserIdentities(context.Background(), user.ID)
		if err != nil || len(ids) != 1 || ids[0].Issuer != f.up.issuer || ids[0].Subject != "up-user-a" || ids[0].Upstream != "tg" {
			t.Fatalf("identities %+v, %v", ids, err)
		}
		if n, _ := f.counts(); n != users+1 {
			t.Fatalf("%d users, want %d", n, users+1)
		}

		// Another browser, another sign-in: the same user, nothing new.
		a = newAuthRequest(cfg)
		b, _ = fedBrowser(t)
		claims = f.idToken(cfg, a, f.signInUpstream(b, a, "Upstream Tollgate", "grace@example.com"))
		if claims["sub"] != user.ID {
			t.Fatalf("second sign-in: sub %v, want %s", claims["sub"], user.ID)
		}
		if n, i := f.counts(); n != users+1 || i != 1 {
			t.Fatalf("after the second sign-in: %d users, %d identities", n, i)
		}
	})
}

// An upstream account with the address of a local account is linked only
// when the owner enters the local password; a wrong one links nothing.
func TestFederationLinkWithPassword(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		cfg := f.down.oauthConfig(confidentialID, confidentialKey)
		users, _ := f.counts()
		a := newAuthRequest(cfg)
		b, _ := fedBrowser(t)
		p := f.signInUpstream(b, a, "Upstream Tollgate", testEmail)
		if !strings.Contains(p.body, "Link your accounts") || !strings.Contains(p.body, testEmail) {
			t.Fatalf("expected the link page, got %d at %s:\n%s", p.status, p.url, p.body)
		}
		action, form := p.form(t, "password")
		form.Set("password", "not the password at all")
		p = b.post(action, form)
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "That password is not right") {
			t.Fatalf("wrong password: %d:\n%s", p.status, p.body)
		}
		if n, i := f.counts(); n != users || i != 0 {
			t.Fatalf("a wrong password changed something: %d users, %d identities", n, i)
		}
		action, form = p.form(t, "password")
		form.Set("password", testPassword)
		p = f.drive(b, b.post(action, form), testEmail)
		claims := f.idToken(cfg, a, p)
		if claims["sub"] != f.down.user.ID || !slices.Equal(amrOf(claims), []string{"fed", "pwd"}) {
			t.Fatalf("linked sign-in: %v", claims)
		}
		if n, i := f.counts(); n != users || i != 1 {
			t.Fatalf("after linking: %d users, %d identities", n, i)
		}
		// The link page cannot be submitted twice.
		p = b.post(action, form)
		f.errorPage(p, http.StatusBadRequest, "link_expired", "expired or was already used")

		// From now on the upstream account signs straight in.
		a = newAuthRequest(cfg)
		b, _ = fedBrowser(t)
		if claims := f.idToken(cfg, a, f.signInUpstream(b, a, "Upstream Tollgate", testEmail)); claims["sub"] != f.down.user.ID {
			t.Fatalf("sign-in after linking: %v", claims)
		}
	})
}

// The link page is throttled like the login page: with the same counters.
func TestFederationLinkThrottled(t *testing.T) {
	f := newFed(t, "sqlite", testbackend.SQLite(t))
	cfg := f.down.oauthConfig(confidentialID, confidentialKey)
	a := newAuthRequest(cfg)
	b, _ := fedBrowser(t)
	p := f.signInUpstream(b, a, "Upstream Tollgate", testEmail)
	for i := 0; p.status != http.StatusTooManyRequests; i++ {
		if i == 10 || (i < 5 && p.status == http.StatusTooManyRequests) {
			t.Fatalf("attempt %d: %d:\n%s", i+1, p.status, p.body)
		}
		action, form := p.form(t, "password")
		form.Set("password", "wrong guess")
		p = b.post(action, form)
	}
	if !strings.Contains(p.body, "Too many attempts") || p.header.Get("Retry-After") == "" {
		t.Fatalf("throttled link page:\n%s", p.body)
	}
	// The login page counts them too.
	lb := newBrowser(t)
	lp := lb.signIn(lb.get(f.down.issuer+"/login"), testEmail, testPassword)
	if lp.status != http.StatusTooManyRequests {
		t.Fatalf("login page after link failures: %d", lp.status)
	}
}

// With trusted_email, an upstream that says the address is verified links
// to the local account without asking for its password.
func TestFederationTrustedEmail(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		cfg := f.down.oauthConfig(confidentialID, confidentialKey)
		users, _ := f.counts()
		a := newAuthRequest(cfg)
		b, _ := fedBrowser(t)
		claims := f.idToken(cfg, a, f.signInUpstream(b, a, "Trusted IdP", "alan@example.com"))
		if claims["sub"] != "local-alan" || claims["name"] != "Alan Turing" {
			t.Fatalf("trusted sign-in: %v", claims)
		}
		if n, i := f.counts(); n != users || i != 1 {
			t.Fatalf("after trusted linking: %d users, %d identities", n, i)
		}
	})
}

// upstream=ID skips our login page; login_hint and prompt=login go along.
func TestFederationUpstreamParameter(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		cfg := f.down.oauthConfig(confidentialID, confidentialKey)
		a := newAuthRequest(cfg, oauth2.SetAuthURLParam("upstream", "tg"),
			oauth2.SetAuthURLParam("login_hint", "grace@example.com"))
		b, _ := fedBrowser(t)
		p := b.get(a.url)
		if p.url.Host != mustParse(t, f.up.issuer).Host || !strings.HasSuffix(p.url.Path, "/login") {
			t.Fatalf("expected the upstream's login page, got %d at %s", p.status, p.url)
		}
		if !strings.Contains(p.body, `value="grace@example.com"`) {
			t.Fatalf("login_hint not passed upstream:\n%s", p.body)
		}
		claims := f.idToken(cfg, a, f.drive(b, p, "grace@example.com"))
		if claims["email"] != "grace@example.com" {
			t.Fatalf("claims %v", claims)
		}
		// Signed in at both ends; prompt=login asks the upstream again.
		a = newAuthRequest(cfg, oauth2.SetAuthURLParam("upstream", "tg"), oauth2.SetAuthURLParam("prompt", "login"))
		p = b.get(a.url)
		if p.url.Host != mustParse(t, f.up.issuer).Host || !strings.HasSuffix(p.url.Path, "/login") {
			t.Fatalf("prompt=login: expected the upstream's login page, got %d at %s", p.status, p.url)
		}
	})
}

// Every failure ends on our error page, is logged, and creates nothing.
func TestFederationFailures(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		cfg := f.down.oauthConfig(confidentialID, confidentialKey)
		users, identities := f.counts()
		unchanged := func(what string) {
			t.Helper()
			if n, i := f.counts(); n != users || i != identities {
				t.Fatalf("%s created something: %d users (want %d), %d identities (want %d)", what, n, users, i, identities)
			}
		}

		t.Run("cancelled upstream", func(t *testing.T) {
			a := newAuthRequest(cfg)
			b, _ := fedBrowser(t)
			p := f.clickUpstream(b, b.get(a.url), "Upstream Tollgate")
			p = b.signIn(p, "hedy@example.com", testPassword)
			p = b.consent(p, "deny", false) // at the upstream
			f.errorPage(p, http.StatusForbidden, "access_denied", "You cancelled signing in with Upstream Tollgate")
			unchanged("access_denied")
		})

		t.Run("bad state", func(t *testing.T) {
			b, _ := fedBrowser(t)
			p := b.get(f.down.issuer + "/login/upstream/tg/callback?state=forged&code=whatever")
			f.errorPage(p, http.StatusBadRequest, "invalid_state", "not valid or has expired")
			p = b.get(f.down.issuer + "/login/upstream/tg/callback?code=whatever")
			f.errorPage(p, http.StatusBadRequest, "invalid_state", "not valid or has expired")
			unchanged("a bad state")
		})

		t.Run("replayed callback", func(t *testing.T) {
			a := newAuthRequest(cfg)
			b, stopAt := fedBrowser(t)
			*stopAt = "/login/upstream/tg/callback"
			p := f.signInUpstream(b, a, "Upstream Tollgate", "katherine@example.com")
			cb := p.url.String()
			if !strings.HasPrefix(cb, f.down.issuer+"/login/upstream/tg/callback?") {
				t.Fatalf("expected to stop at our callback, got %d at %s", p.status, p.url)
			}
			// The callback in another browser: bound to the first.
			other, _ := fedBrowser(t)
			f.errorPage(other.get(cb), http.StatusBadRequest, "invalid_state", "started in another browser")
			unchanged("a callback in another browser")

			*stopAt = ""
			f.idToken(cfg, a, f.drive(b, b.get(cb), "katherine@example.com"))
			users++
			identities++
			unchanged("the first callback")
			f.errorPage(b.get(cb), http.StatusBadRequest, "already_used", "already completed")
			unchanged("a replayed callback")
		})

		for _, mode := range []string{"wrong-key", "wrong-nonce", "wrong-audience", "expired"} {
			t.Run("invalid upstream token "+mode, func(t *testing.T) {
				f.fake.setMode(mode)
				a := newAuthRequest(cfg)
				b, _ := fedBrowser(t)
				p := f.clickUpstream(b, b.get(a.url), "Fake IdP")
				f.errorPage(p, http.StatusBadGateway, "invalid_token", "could not be verified")
				unchanged(mode)
			})
		}

		// The fake issuer itself is fine when its token is: the failures
		// above are the token's.
		f.fake.setMode("good")
		a := newAuthRequest(cfg)
		b, _ := fedBrowser(t)
		p := f.drive(b, f.clickUpstream(b, b.get(a.url), "Fake IdP"), "")
		if claims := f.idToken(cfg, a, p); claims["email"] != "fake-user@fake.example" {
			t.Fatalf("fake issuer sign-in: %v", claims)
		}

		logs := f.down.logs.String()
		for _, want := range []string{"upstream sign-in refused", "upstream callback with an unknown state",
			"upstream callback replayed", "upstream callback from another browser", "ID token invalid", "ID token nonce mismatch"} {
			if !strings.Contains(logs, want) {
				t.Errorf("not logged: %q", want)
			}
		}
		if strings.Contains(logs, upClientSecret) || strings.Contains(logs, fakeClientSecret) {
			t.Error("a client secret was logged")
		}
	})
}

// An upstream that is down at start does not stop us; signing in with it
// says so, and works once it is back.
func TestFederationUpstreamDown(t *testing.T) {
	fake := newFakeIssuer(t)
	fake.setMode("down")
	e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256, func(c *server.Config) {
		c.Upstreams = []upstream.Config{{ID: "fake", Name: "Fake IdP", Issuer: fake.server.URL,
			ClientID: fakeClientID, ClientSecret: fakeClientSecret, Scopes: []string{"openid", "email"}}}
	})
	b, _ := fedBrowser(t)
	p := b.get(e.issuer + "/login/upstream/fake")
	if p.status != http.StatusBadGateway || !strings.Contains(p.body, "Fake IdP is not answering") {
		t.Fatalf("upstream down: %d\n%s", p.status, p.body)
	}
	fake.setMode("good")
	p = b.get(e.issuer + "/login/upstream/fake")
	if p.status != http.StatusOK || !strings.Contains(p.body, "fake-user@fake.example") {
		t.Fatalf("upstream back: %d at %s\n%s", p.status, p.url, p.body)
	}
}

// /account/identities lists the identities, links another upstream and
// unlinks one, but never the last way into an account without a password.
func TestFederationAccountIdentities(t *testing.T) {
	fedBackends(t, func(t *testing.T, f *fed) {
		f.fake.setMode("good")
		b, _ := fedBrowser(t)
		p := b.get(f.down.issuer + "/account/identities")
		if p.status != http.StatusUnauthorized || !strings.Contains(p.body, "Sign in first") {
			t.Fatalf("signed out: %d\n%s", p.status, p.body)
		}
		// Sign in with the upstream directly (no application).
		p = f.drive(b, b.get(f.down.issuer+"/login/upstream/tg"), "grace@example.com")
		if p.status != http.StatusOK || !strings.Contains(p.body, "grace@example.com") {
			t.Fatalf("direct sign-in: %d at %s\n%s", p.status, p.url, p.body)
		}
		grace, err := f.down.store.GetUserByEmail(context.Background(), "grace@example.com")
		if err != nil {
			t.Fatal(err)
		}
		p = b.get(f.down.issuer + "/account/identities")
		if !strings.Contains(p.body, "Upstream Tollgate") || strings.Contains(p.body, "Unlink Upstream Tollgate") ||
			!strings.Contains(p.body, "only way to sign in") || !strings.Contains(p.body, "Link Fake IdP") {
			t.Fatalf("identities page:\n%s", p.body)
		}
		ids, _ := f.down.store.ListUserIdentities(context.Background(), grace.ID)
		// Unlinking the only way in is refused, even by a forged form.
		_, form := p.form(t, "upstream")
		form.Set("identity", ids[0].ID)
		p = b.post(f.down.issuer+"/account/identities/unlink", form)
		if p.status != http.StatusConflict || !strings.Contains(p.body, "your only way to sign in") {
			t.Fatalf("unlink the last way in: %d\n%s", p.status, p.body)
		}
		// Without the CSRF token nothing happens.
		form.Del("csrf_token")
		if p := b.post(f.down.issuer+"/account/identities/unlink", form); p.status != http.StatusForbidden {
			t.Fatalf("unlink without CSRF: %d", p.status)
		}
		if p := b.post(f.down.issuer+"/account/identities/link", url.Values{"upstream": {"fake"}}); p.status != http.StatusForbidden {
			t.Fatalf("link without CSRF: %d", p.status)
		}

		// Link the fake IdP, then unlinking the first is fine.
		p = b.get(f.down.issuer + "/account/identities")
		action, form := p.form(t, "upstream")
		form.Set("upstream", "fake")
		p = b.post(action, form)
		if !strings.Contains(p.body, "Fake IdP is now linked") {
			t.Fatalf("after linking: %d at %s\n%s", p.status, p.url, p.body)
		}
		ids, _ = f.down.store.ListUserIdentities(context.Background(), grace.ID)
		if len(ids) != 2 {
			t.Fatalf("identities after linking: %+v", ids)
		}
		_, form = p.form(t, "identity")
		p = b.post(f.down.issuer+"/account/identities/unlink", form)
		if !strings.Contains(p.body, "is no longer linked") {
			t.Fatalf("after unlinking: %d\n%s", p.status, p.body)
		}
		ids, _ = f.down.store.ListUserIdentities(context.Background(), grace.ID)
		if len(ids) != 1 || ids[0].Upstream != "fake" {
			t.Fatalf("identities after unlinking: %+v", ids)
		}
	})
}

// fakeIssuer is a minimal OpenID Provider whose ID tokens the test can
// spoil: signed with a key it does not publish, for the wrong nonce, the
// wrong audience, or expired. It checks PKCE like a real one.
type fakeIssuer struct {
	server   *httptest.Server
	key, bad *rsa.PrivateKey

	mu     sync.Mutex
	mode   string
	grants map[string]fakeGrant
}

type fakeGrant struct{ nonce, challenge string }

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	f := &fakeIssuer{mode: "good", grants: map[string]fakeGrant{}}
	var err error
	if f.key, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if f.bad, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/.well-known/openid-configuration", f.discovery)
	mux.HandleFunc("/jwks", f.jwks)
	mux.HandleFunc("/authorize", f.authorize)
	mux.HandleFunc("/token", f.token)
	f.server = httptest.NewServer(mux)
	t.Cleanup(f.server.Close)
	return f
}

func (f *fakeIssuer) setMode(m string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mode = m
}

func (f *fakeIssuer) getMode() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mode
}

func (f *fakeIssuer) discovery(w http.ResponseWriter, _ *http.Request) {
	if f.getMode() == "down" {
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
		return
	}
	u := f.server.URL
	writeJSON(w, map[string]any{
		"issuer": u, "authorization_endpoint": u + "/authorize", "token_endpoint": u + "/token",
		"jwks_uri": u + "/jwks", "response_types_supported": []string{"code"},
		"subject_types_supported": []string{"public"}, "id_token_signing_alg_values_supported": []string{"RS256"},
	})
}

func (f *fakeIssuer) jwks(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &f.key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
}

// authorize signs the user in at once and returns to the client.
func (f *fakeIssuer) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != fakeClientID || q.Get("code_challenge_method") != "S256" || q.Get("nonce") == "" {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := randString()
	f.mu.Lock()
	f.grants[code] = fakeGrant{nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
	f.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	v := back.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (f *fakeIssuer) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok {
		id, secret = r.PostFormValue("client_id"), r.PostFormValue("client_secret")
	}
	f.mu.Lock()
	g, found := f.grants[r.PostFormValue("code")]
	delete(f.grants, r.PostFormValue("code"))
	mode := f.mode
	f.mu.Unlock()
	if id != fakeClientID || secret != fakeClientSecret || !found || s256(r.PostFormValue("code_verifier")) != g.challenge {
		w.WriteHeader(http.StatusBadRequest)
		writeJSON(w, map[string]string{"error": "invalid_grant"})
		return
	}
	now := time.Now()
	claims := map[string]any{
		"iss": f.server.URL, "sub": "fake-user-1", "aud": fakeClientID, "nonce": g.nonce,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		"email": "fake-user@fake.example", "email_verified": true,
	}
	key := f.key
	switch mode {
	case "wrong-key":
		key = f.bad
	case "wrong-nonce":
		claims["nonce"] = "not-the-nonce"
	case "wrong-audience":
		claims["aud"] = "someone-else"
	case "expired":
		claims["iat"], claims["exp"] = now.Add(-2*time.Hour).Unix(), now.Add(-time.Hour).Unix()
	case "renamed":
		// A provider with claims of its own names, and a string boolean.
		delete(claims, "email")
		claims["mail"], claims["email_verified"], claims["display_name"] = "Renamed@Fake.example", "true", "Renée Named"
		claims["amr"] = []string{"hwk", "mfa"}
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: "k1"}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	raw, _ := jws.CompactSerialize()
	writeJSON(w, map[string]any{"access_token": "upstream-access-token", "token_type": "Bearer", "expires_in": 3600, "id_token": raw})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// The configuration file's upstreams reach the server, presets applied.
func TestFederationFromConfig(t *testing.T) {
	path := t.TempDir() + "/tollgate.yaml"
	body := "upstreams:\n  - {preset: google, client_id: id.apps.googleusercontent.com, client_secret: s}\n  - {id: corp, issuer: 'https://sso.corp.example', client_id: c, client_secret: s, trusted_email: true}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := server.FromConfig(c, nil, nil, nil).Upstreams
	if len(got) != 2 || got[0].ID != "google" || got[0].Issuer != "https://accounts.google.com" || got[0].Name != "Google" ||
		got[1].ID != "corp" || got[1].Name != "corp" || !got[1].TrustedEmail || !slices.Contains(got[1].Scopes, "openid") {
		t.Fatalf("upstreams: %+v", got)
	}
}

// The claims mapping reads an upstream's own claim names; the upstream's
// amr follows ours.
func TestFederationClaimsMapping(t *testing.T) {
	fake := newFakeIssuer(t)
	fake.setMode("renamed")
	e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256, func(c *server.Config) {
		c.Upstreams = []upstream.Config{{ID: "fake", Name: "Fake IdP", Issuer: fake.server.URL,
			ClientID: fakeClientID, ClientSecret: fakeClientSecret, Scopes: []string{"openid"},
			Claims: map[string]string{"email": "mail", "name": "display_name"}}}
	})
	cfg := e.oauthConfig(publicID, "")
	a := newAuthRequest(cfg, oauth2.SetAuthURLParam("upstream", "fake"))
	b, _ := fedBrowser(t)
	f := &fed{t: t, down: e}
	claims := f.idToken(cfg, a, b.get(a.url))
	if claims["email"] != "renamed@fake.example" || claims["email_verified"] != true || claims["name"] != "Renée Named" ||
		!slices.Equal(amrOf(claims), []string{"fed", "hwk", "mfa"}) {
		t.Fatalf("claims %v", claims)
	}
}
