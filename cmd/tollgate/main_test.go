package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/clientreg"
	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// cli runs the program in-process against one deployment.
type cli struct {
	t       *testing.T
	environ []string
}

type result struct {
	code           int
	stdout, stderr string
}

func (c cli) run(stdin string, args ...string) result {
	c.t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut, c.environ)
	return result{code, out.String(), errOut.String()}
}

// ok runs a command that must succeed and decodes its JSON output into v.
func (c cli) ok(v any, stdin string, args ...string) {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != 0 {
		c.t.Fatalf("tollgate %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
			c.t.Fatalf("tollgate %s: output is not JSON: %v\n%s", strings.Join(args, " "), err, r.stdout)
		}
	}
}

// fails runs a command that must fail with code and a one-line message
// containing want, writing nothing to stdout.
func (c cli) fails(code int, want, stdin string, args ...string) {
	c.t.Helper()
	r := c.run(stdin, args...)
	if r.code != code || r.stdout != "" {
		c.t.Fatalf("tollgate %s: exit %d, stdout %q; want exit %d and nothing on stdout", strings.Join(args, " "), r.code, r.stdout, code)
	}
	last := r.stderr[strings.LastIndex(strings.TrimSuffix(r.stderr, "\n"), "\n")+1:]
	if !strings.HasPrefix(last, "tollgate: ") || !strings.Contains(last, want) || strings.Count(last, "\n") != 1 {
		c.t.Fatalf("tollgate %s: stderr %q, want one line naming %q", strings.Join(args, " "), r.stderr, want)
	}
}

// deployments runs fn on the embedded default and on PostgreSQL + Redis.
func deployments(t *testing.T, fn func(t *testing.T, c cli)) {
	t.Run("sqlite", func(t *testing.T) {
		fn(t, cli{t, []string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "data")}})
	})
	t.Run("postgres+redis", func(t *testing.T) {
		fn(t, cli{t, []string{
			"TOLLGATE_DATABASE_URL=" + testbackend.PostgresURL(t),
			"TOLLGATE_REDIS_URL=" + testbackend.RedisURL(t),
			"TOLLGATE_SECRET=cli-test-secret-0123456789-abcdefghijklmn",
		}})
	})
}

func TestClientLifecycle(t *testing.T) {
	deployments(t, func(t *testing.T, c cli) {
		var created clientreg.View
		c.ok(&created, "", "clients", "create", "--name", "Web", "--redirect-uri", "https://app.example/cb",
			"--redirect-uri", "http://127.0.0.1:3000/cb", "--post-logout-redirect-uri", "https://app.example/bye")
		if created.ClientID == "" || len(created.ClientSecret) < 32 || created.TokenEndpointAuthMethod != "client_secret_basic" {
			t.Fatalf("created: %+v", created)
		}
		if created.Scope != "openid profile email offline_access" || strings.Join(created.GrantTypes, ",") != "authorization_code,refresh_token" {
			t.Fatalf("defaults: %+v", created)
		}
		var got clientreg.View
		c.ok(&got, "", "clients", "get", created.ClientID)
		if got.ClientSecret != "" || got.ClientName != "Web" || len(got.RedirectURIs) != 2 {
			t.Fatalf("get shows %+v (the secret must never be shown again)", got)
		}

		var public clientreg.View
		c.ok(&public, "", "clients", "create", "--name", "SPA", "--public", "--skip-consent", "--id", "spa",
			"--redirect-uri", "http://localhost:5173/cb", "--scope", "openid email",
			"--web-origin", "http://localhost:5173", "--web-origin", "HTTPS://App.Example:443", "--web-origin", "http://localhost:5173")
		if strings.Join(public.WebOrigins, " ") != "http://localhost:5173 https://app.example" {
			t.Fatalf("web origins: %q", public.WebOrigins)
		}
		if public.ClientID != "spa" || public.ClientSecret != "" || public.TokenEndpointAuthMethod != "none" || !public.SkipConsent {
			t.Fatalf("public client: %+v", public)
		}
		c.fails(exitFailure, `"spa" already exists`, "", "clients", "create", "--name", "Again", "--id", "spa", "--redirect-uri", "https://x.example/cb")

		var list []clientreg.View
		c.ok(&list, "", "clients", "list")
		if len(list) != 2 {
			t.Fatalf("list: %d clients", len(list))
		}
		c.ok(nil, "", "clients", "delete", "spa")
		c.fails(exitFailure, `no client with id "spa"`, "", "clients", "get", "spa")
		c.fails(exitFailure, `no client with id "spa"`, "", "clients", "delete", "spa")
	})
}

func TestUserLifecycle(t *testing.T) {
	deployments(t, func(t *testing.T, c cli) {
		var u admin.UserView
		c.ok(&u, "a long enough password\n", "users", "create", "--email", "Grace@Example.com", "--name", "Grace Hopper", "--password-stdin", "--verified")
		if u.ID == "" || u.Email != "grace@example.com" || !u.EmailVerified || !u.HasPassword || u.Disabled {
			t.Fatalf("created: %+v", u)
		}
		c.fails(exitFailure, "already exists", "violet kettle under nine moons\n", "users", "create", "--email", "grace@example.com", "--password-stdin")
		var got admin.UserView
		c.ok(&got, "", "users", "get", "GRACE@example.com")
		if got.ID != u.ID {
			t.Fatalf("get by email: %+v", got)
		}
		c.ok(&got, "", "users", "disable", u.ID)
		if !got.Disabled {
			t.Fatal("disable did not disable")
		}
		var list []admin.UserView
		c.ok(&list, "", "users", "list")
		if len(list) != 1 || !list[0].Disabled {
			t.Fatalf("list: %+v", list)
		}
		c.ok(nil, "", "users", "delete", "grace@example.com")
		c.fails(exitFailure, "no user", "", "users", "get", u.ID)
	})
}

func TestKeysRotate(t *testing.T) {
	deployments(t, func(t *testing.T, c cli) {
		var before, after []keyring.Info
		c.ok(&before, "", "keys", "list")
		c.ok(&after, "", "keys", "rotate")
		states := func(keys []keyring.Info) map[string]string {
			m := map[string]string{}
			for _, k := range keys {
				m[k.State] = k.KID
			}
			return m
		}
		b, a := states(before), states(after)
		if len(before) != 2 || len(after) != 3 || a["active"] != b["next"] || a["retired"] != b["active"] || a["next"] == "" {
			t.Fatalf("rotation: before %+v, after %+v", before, after)
		}
		if strings.Contains(c.run("", "keys", "list").stdout, "private") {
			t.Fatal("keys list shows private material")
		}
	})
}

// Mistakes in flags or configuration exit 2 with one line, and write nothing:
// not even the embedded database or its secret.
func TestUsageErrorsWriteNothing(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := cli{t, []string{"TOLLGATE_DATA_DIR=" + dir}}
	c.fails(exitUsage, "unknown flag: --bogus", "", "clients", "create", "--bogus")
	c.fails(exitUsage, "--name is required", "", "clients", "create", "--redirect-uri", "https://a.example/cb")
	c.fails(exitUsage, "--redirect-uri is required", "", "clients", "create", "--name", "x")
	c.fails(exitUsage, "use https", "", "clients", "create", "--name", "x", "--redirect-uri", "http://a.example/cb")
	c.fails(exitUsage, "fragment", "", "clients", "create", "--name", "x", "--redirect-uri", "https://a.example/cb#x")
	for origin, want := range map[string]string{
		"https://a.example/":      "no path",
		"https://a.example/app":   "no path",
		"https://a.example?x":     "no path",
		"http://a.example":        "use https",
		"a.example":               "http(s)://",
		"ftp://a.example":         "http(s)://",
		"https://u@a.example":     "scheme://host",
		"https://a.example:8443#": "no path",
	} {
		c.fails(exitUsage, want, "", "clients", "create", "--name", "x", "--redirect-uri", "https://a.example/cb", "--web-origin", origin)
	}
	c.fails(exitUsage, "no secret", "", "clients", "create", "--name", "x", "--public", "--secret", "0123456789abcdefgh", "--redirect-uri", "https://a.example/cb")
	c.fails(exitUsage, `"password"`, "", "clients", "create", "--name", "x", "--grant-type", "password", "--redirect-uri", "https://a.example/cb")
	c.fails(exitUsage, "not an email", "", "users", "create", "--email", "nope")
	c.fails(exitUsage, "at least 8", "short\n", "users", "create", "--email", "a@example.com", "--password-stdin")
	c.fails(exitUsage, "at most 128", strings.Repeat("x", 129)+"\n", "users", "create", "--email", "a@example.com", "--password-stdin")
	c.fails(exitUsage, "too easy to guess", "Password123!\n", "users", "create", "--email", "a@example.com", "--password-stdin")
	c.fails(exitUsage, "too easy to guess", "grace.hopper.1906\n", "users", "create", "--email", "grace.hopper@example.com", "--name", "Grace Hopper", "--password-stdin")
	strict := cli{t, []string{"TOLLGATE_DATA_DIR=" + dir, "TOLLGATE_PASSWORD_REQUIRE_DIGIT=true"}}
	strict.fails(exitUsage, "Include a digit", "correct horse battery staple\n", "users", "create", "--email", "a@example.com", "--password-stdin")
	c.fails(exitUsage, `unknown command "nope"`, "", "nope")
	c.fails(exitUsage, "accepts 1 arg", "", "clients", "get")
	c.fails(exitUsage, "issuer=", "", "--issuer", "ftp://x", "clients", "list")
	c.fails(exitUsage, "code_lifetime", "", "--config", writeConfig(t, "code_lifetime: -1m\n"), "keys", "list")
	pg := cli{t, []string{"TOLLGATE_DATA_DIR=" + dir, "TOLLGATE_DATABASE_URL=postgres://127.0.0.1:5432/test"}}
	pg.fails(exitUsage, "secret is required", "", "clients", "list")
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("a failed command created %s", dir)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tollgate.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// The embedded default keeps one generated secret, private to its owner.
func TestGeneratedSecretIsKept(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := cli{t, []string{"TOLLGATE_DATA_DIR=" + dir}}
	c.ok(nil, "", "keys", "list")
	info, err := os.Stat(filepath.Join(dir, "secret"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Fatalf("secret file mode %v", info.Mode().Perm())
	}
	first, _ := os.ReadFile(filepath.Join(dir, "secret"))
	// The keys it encrypted still open on the next run.
	c.ok(nil, "", "keys", "list")
	second, _ := os.ReadFile(filepath.Join(dir, "secret"))
	if !bytes.Equal(first, second) {
		t.Fatal("the secret changed between runs")
	}
}

// serve with no configuration answers discovery on its issuer, and shuts
// down cleanly when its context ends (SIGTERM in the real process).
func TestServeEmbeddedDefault(t *testing.T) {
	issuer := "http://" + freeAddr(t)
	metricsAddr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--issuer", issuer}, strings.NewReader(""), &bytes.Buffer{}, &stderr,
			[]string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "data"), "TOLLGATE_METRICS_LISTEN=" + metricsAddr})
	}()
	var meta map[string]any
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(issuer + "/.well-known/openid-configuration")
		if err == nil {
			err = json.NewDecoder(resp.Body).Decode(&meta)
			resp.Body.Close()
			break
		}
		select {
		case code := <-done:
			t.Fatalf("serve exited with %d: %s", code, stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not answer: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if meta["issuer"] != issuer || meta["token_endpoint"] != issuer+"/token" {
		t.Fatalf("discovery: %v", meta)
	}
	// With metrics_listen, metrics are served there and not to the public.
	if resp, err := http.Get(issuer + "/metrics"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public /metrics with metrics_listen set: %v %v", resp, err)
	}
	resp, err := http.Get("http://" + metricsAddr + "/metrics")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("metrics listener: %v %v", resp, err)
	}
	resp.Body.Close()
	// Profiles are there for operators, and only there.
	if resp, err := http.Get("http://" + metricsAddr + "/debug/pprof/"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("pprof on the metrics listener: %v %v", resp, err)
	}
	if resp, err := http.Get(issuer + "/debug/pprof/"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("public pprof: %v %v", resp, err)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited with %d after shutdown: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"listening"`) {
		t.Fatalf("no start-up log line: %s", stderr.String())
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServe runs serve in-process until the test ends and returns its
// issuer once it answers.
func startServe(t *testing.T, environ ...string) string {
	t.Helper()
	issuer := "http://" + freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--issuer", issuer}, strings.NewReader(""), &bytes.Buffer{}, io.Discard, environ)
	}()
	t.Cleanup(func() { cancel(); <-done })
	waitReady(t, issuer)
	return issuer
}

// With --endpoint, clients and keys go through a running server's admin
// API; the answers look the same as on the local database.
func TestRemoteAdmin(t *testing.T) {
	const token = "remote-admin-token-0123456789abcdefghij"
	issuer := startServeWithKeys(t, filepath.Join(t.TempDir(), "data"), "TOLLGATE_ADMIN_TOKEN="+token)
	// The CLI side has no database of its own: everything goes over HTTP.
	localDir := filepath.Join(t.TempDir(), "none")
	c := cli{t, []string{"TOLLGATE_DATA_DIR=" + localDir, "TOLLGATE_TOKEN=" + token}}
	remote := func(args ...string) []string { return append([]string{"--endpoint", issuer}, args...) }

	var created clientreg.View
	c.ok(&created, "", remote("clients", "create", "--name", "Remote", "--id", "remote-app", "--redirect-uri", "https://app.example/cb")...)
	if created.ClientID != "remote-app" || created.ClientSecret == "" {
		t.Fatalf("created: %+v", created)
	}
	c.fails(exitFailure, "already exists", "", remote("clients", "create", "--name", "Again", "--id", "remote-app", "--redirect-uri", "https://app.example/cb")...)
	c.fails(exitUsage, "use https", "", remote("clients", "create", "--name", "Bad", "--redirect-uri", "http://app.example/cb")...)
	var list []clientreg.View
	c.ok(&list, "", remote("clients", "list")...)
	if len(list) != 1 || list[0].ClientID != "remote-app" {
		t.Fatalf("list: %+v", list)
	}
	table := c.run("", remote("--output", "table", "clients", "list")...)
	if table.code != 0 || !strings.HasPrefix(table.stdout, "CLIENT_ID") || !strings.Contains(table.stdout, "remote-app") {
		t.Fatalf("table: %+v", table)
	}
	var keys []keyring.Info
	c.ok(&keys, "", remote("keys", "rotate")...)
	if len(keys) != 3 {
		t.Fatalf("keys after rotation: %+v", keys)
	}
	c.ok(nil, "", remote("clients", "delete", "remote-app")...)
	c.fails(exitFailure, `no client with id "remote-app"`, "", remote("clients", "get", "remote-app")...)

	bad := cli{t, []string{"TOLLGATE_TOKEN=wrong-token"}}
	bad.fails(exitFailure, "bearer token", "", remote("clients", "list")...)
	c.fails(exitUsage, "--output", "", remote("--output", "yaml", "clients", "list")...)
	if _, err := os.Stat(localDir); !os.IsNotExist(err) {
		t.Fatal("remote commands created a local data directory")
	}
}
