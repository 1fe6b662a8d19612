package server_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

const (
	testPassword    = "correct horse battery staple"
	testEmail       = "ada@example.com"
	callbackURL     = "https://rp.example/callback"
	postLogoutURL   = "https://rp.example/signed-out"
	confidentialID  = "webapp"
	confidentialKey = "webapp-secret-0123456789abcdefghijklmnop"
	publicID        = "spa"
	adminToken      = "bootstrap-admin-token-0123456789abcdef"
	spaOrigin       = "https://spa.example"
	webappOrigin    = "https://webapp.example"
)

// env is a running Tollgate with one confidential client, one public client
// and one user.
type env struct {
	t       *testing.T
	issuer  string
	store   storage.Store
	keys    *keyring.Keyring
	user    storage.User
	server  *httptest.Server
	logs    *strings.Builder
	backend string
}

// backends runs fn on the embedded SQLite default and on PostgreSQL + Redis.
func backends(t *testing.T, fn func(t *testing.T, e *env)) {
	backendsWith(t, keyring.RS256, fn)
}

// backendsWith is backends with access tokens signed with accessAlg.
func backendsWith(t *testing.T, accessAlg string, fn func(t *testing.T, e *env)) {
	for _, b := range []struct {
		name string
		open func(testing.TB) storage.Store
	}{
		{"sqlite", testbackend.SQLite},
		{"postgres+redis", testbackend.PostgresRedis},
	} {
		t.Run(b.name, func(t *testing.T) {
			fn(t, newEnvWith(t, b.name, b.open(t), accessAlg))
		})
	}
}

var fastArgon = passwords.Params{MemoryKiB: 19 * 1024, Iterations: 2, Parallelism: 1}

// newEnvWith is newEnv with access tokens signed with accessAlg.
func newEnvWith(t *testing.T, backend string, store storage.Store, accessAlg string, opts ...func(*server.Config)) *env {
	t.Helper()
	ctx := context.Background()
	secret := []byte("test-system-secret-0123456789-abcdefghijkl")
	keys, err := keyring.New(store, secret, keyring.WithAlgorithms(keyring.RS256, accessAlg))
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Ensure(ctx); err != nil {
		t.Fatal(err)
	}
	hasher, err := passwords.New(fastArgon)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewUnstartedServer(nil)
	issuer := "http://" + ts.Listener.Addr().String()
	logs := &strings.Builder{}
	cfg := server.Config{
		Issuer:               issuer,
		AccessTokenLifetime:  time.Hour,
		IDTokenLifetime:      time.Hour,
		RefreshTokenLifetime: 24 * time.Hour,
		CodeLifetime:         time.Minute,
		SessionLifetime:      time.Hour,
		Secret:               secret,
		AdminToken:           adminToken,
		AccessTokenAlgorithm: accessAlg,
		Passwords:            hasher,
		Logger:               slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil)),
	}
	for _, opt := range opts {
		opt(&cfg)
	}
	srv, err := server.New(cfg, store, keys)
	if err != nil {
		t.Fatal(err)
	}
	ts.Config.Handler = srv
	ts.Start()
	t.Cleanup(ts.Close)

	user := seedClientsAndUser(t, store, hasher)
	return &env{t: t, issuer: issuer, store: store, keys: keys, user: user, server: ts, logs: logs, backend: backend}
}

// lockedWriter lets concurrent handlers log into one builder.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func (e *env) oauthConfig(clientID, secret string, scopes ...string) *oauth2.Config {
	if len(scopes) == 0 {
		scopes = []string{oidc.ScopeOpenID, "profile", "email", oidc.ScopeOfflineAccess}
	}
	return &oauth2.Config{
		ClientID: clientID, ClientSecret: secret, RedirectURL: callbackURL, Scopes: scopes,
		Endpoint: oauth2.Endpoint{AuthURL: e.issuer + "/authorize", TokenURL: e.issuer + "/token", AuthStyle: oauth2.AuthStyleInHeader},
	}
}

func (e *env) provider() *oidc.Provider {
	e.t.Helper()
	p, err := oidc.NewProvider(context.Background(), e.issuer)
	if err != nil {
		e.t.Fatalf("discovery: %v", err)
	}
	return p
}

// browser is a user agent with cookies that stops at the client's callback.
type browser struct {
	t      *testing.T
	client *http.Client
}

func newBrowser(t *testing.T) *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{t: t, client: &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host == "rp.example" {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}}
}

type page struct {
	status int
	url    *url.URL // final URL (for a callback: the redirect target)
	body   string
	header http.Header
}

func (b *browser) get(u string) page {
	b.t.Helper()
	resp, err := b.client.Get(u)
	if err != nil {
		b.t.Fatalf("GET %s: %v", u, err)
	}
	return readPage(b.t, resp)
}

func (b *browser) post(u string, form url.Values) page {
	b.t.Helper()
	resp, err := b.client.PostForm(u, form)
	if err != nil {
		b.t.Fatalf("POST %s: %v", u, err)
	}
	return readPage(b.t, resp)
}

func readPage(t *testing.T, resp *http.Response) page {
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	p := page{status: resp.StatusCode, url: resp.Request.URL, body: string(body), header: resp.Header}
	if loc := resp.Header.Get("Location"); resp.StatusCode/100 == 3 && loc != "" {
		u, err := resp.Request.URL.Parse(loc)
		if err != nil {
			t.Fatalf("bad Location %q", loc)
		}
		p.url = u
	}
	return p
}

// form returns the action and fields of the page's first form containing a
// field named field.
func (p page) form(t *testing.T, field string) (string, url.Values) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	var action string
	var values url.Values
	var walk func(n *html.Node, inForm *url.Values)
	var forms []struct {
		action string
		values url.Values
	}
	walk = func(n *html.Node, cur *url.Values) {
		if n.Type == html.ElementNode && n.Data == "form" {
			v := url.Values{}
			for c := n.FirstChild; c != nil; c = c.NextSibling {
				walk(c, &v)
			}
			forms = append(forms, struct {
				action string
				values url.Values
			}{attr(n, "action"), v})
			return
		}
		if cur != nil && n.Type == html.ElementNode && n.Data == "input" {
			typ := attr(n, "type")
			if typ != "submit" && typ != "checkbox" || (typ == "checkbox" && hasAttr(n, "checked")) {
				cur.Set(attr(n, "name"), attr(n, "value"))
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c, cur)
		}
	}
	walk(doc, nil)
	for _, f := range forms {
		if _, ok := f.values[field]; ok {
			action, values = f.action, f.values
			break
		}
	}
	if values == nil {
		t.Fatalf("no form with field %q on page %s (status %d):\n%s", field, p.url, p.status, p.body)
	}
	return p.url.ResolveReference(mustParse(t, action)).String(), values
}

func attr(n *html.Node, name string) string {
	for _, a := range n.Attr {
		if a.Key == name {
			return a.Val
		}
	}
	return ""
}

func hasAttr(n *html.Node, name string) bool {
	for _, a := range n.Attr {
		if a.Key == name {
			return true
		}
	}
	return false
}

func mustParse(t *testing.T, s string) *url.URL {
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// signIn fills the login form on p and submits it.
func (b *browser) signIn(p page, email, password string) page {
	b.t.Helper()
	action, form := p.form(b.t, "password")
	form.Set("email", email)
	form.Set("password", password)
	return b.post(action, form)
}

// consent answers the consent page.
func (b *browser) consent(p page, decision string, remember bool) page {
	b.t.Helper()
	action, form := p.form(b.t, "request")
	form.Set("decision", decision)
	if !remember {
		form.Del("remember")
	}
	return b.post(action, form)
}

type authRequest struct {
	state, nonce, verifier string
	url                    string
}

func newAuthRequest(cfg *oauth2.Config, extra ...oauth2.AuthCodeOption) authRequest {
	a := authRequest{state: randString(), nonce: randString(), verifier: oauth2.GenerateVerifier()}
	opts := append([]oauth2.AuthCodeOption{oidc.Nonce(a.nonce), oauth2.S256ChallengeOption(a.verifier)}, extra...)
	a.url = cfg.AuthCodeURL(a.state, opts...)
	return a
}

func randString() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// callback checks that p is the redirect to the client and returns its query.
func callback(t *testing.T, p page, issuer string) url.Values {
	t.Helper()
	if p.url.Host != "rp.example" {
		t.Fatalf("expected a redirect to the client, got %d at %s:\n%s", p.status, p.url, p.body)
	}
	q := p.url.Query()
	if q.Get("iss") != issuer {
		t.Fatalf("authorization response iss = %q, want %q (RFC 9207)", q.Get("iss"), issuer)
	}
	return q
}

// fullLogin runs a whole authorization through the hosted pages and returns
// the callback's query.
func (e *env) fullLogin(b *browser, a authRequest) url.Values {
	e.t.Helper()
	p := b.get(a.url)
	if !strings.HasSuffix(p.url.Path, "/login") {
		e.t.Fatalf("expected the login page, got %d at %s", p.status, p.url)
	}
	p = b.signIn(p, testEmail, testPassword)
	if strings.HasSuffix(p.url.Path, "/consent") {
		p = b.consent(p, "allow", true)
	}
	q := callback(e.t, p, e.issuer)
	if q.Get("state") != a.state {
		e.t.Fatalf("state = %q, want %q", q.Get("state"), a.state)
	}
	return q
}

// tokenResponse posts to the token endpoint directly and decodes the answer.
func (e *env) tokenRequest(clientID, secret string, form url.Values) (int, map[string]any, http.Header) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if secret != "" {
		req.SetBasicAuth(url.QueryEscape(clientID), url.QueryEscape(secret))
	} else {
		form.Set("client_id", clientID)
		req.Body = io.NopCloser(strings.NewReader(form.Encode()))
		req.ContentLength = int64(len(form.Encode()))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body, resp.Header
}

// introspect asks whether token is active, as the confidential client.
func (e *env) introspect(token string) map[string]any {
	e.t.Helper()
	status, body := e.introspectStatus(token)
	if status != http.StatusOK {
		e.t.Fatalf("introspection: status %d: %v", status, body)
	}
	return body
}

// introspectStatus introspects token as the confidential client and
// returns the status and the decoded body.
func (e *env) introspectStatus(token string) (int, map[string]any) {
	e.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.issuer+"/introspect", strings.NewReader(url.Values{"token": {token}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(confidentialID, confidentialKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		e.t.Fatalf("introspection: status %d: %v", resp.StatusCode, err)
	}
	return resp.StatusCode, body
}

func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// signIn runs a whole sign-in for cfg's client and exchanges the code.
func (e *env) signIn(cfg *oauth2.Config) *oauth2.Token {
	e.t.Helper()
	return e.signInWith(newBrowser(e.t), cfg)
}

// signInWith signs in at b, consenting, and exchanges the code; b keeps
// the session.
func (e *env) signInWith(b *browser, cfg *oauth2.Config) *oauth2.Token {
	e.t.Helper()
	a := newAuthRequest(cfg)
	q := e.fullLogin(b, a)
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}
