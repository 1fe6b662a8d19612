package server_test

import (
	"encoding/json"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// forwardedFor is a transport that says, as a proxy would, that requests
// come from addr.
type forwardedFor struct{ addr string }

func (f forwardedFor) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("X-Forwarded-For", f.addr)
	return http.DefaultTransport.RoundTrip(r)
}

// TestTrustedProxies: behind a trusted proxy, password throttling counts
// failures per address the proxy forwards for, and the access log names
// that address; from anywhere else X-Forwarded-For is ignored (a client
// could otherwise pick a fresh address for every guess).
func TestTrustedProxies(t *testing.T) {
	const guesser, bystander = "203.0.113.7", "198.51.100.9"
	// Unknown accounts, so that only the per-address limit can apply.
	signIn := func(e *env, from, email string) page {
		b := newBrowser(t)
		b.client.Transport = forwardedFor{from}
		return b.signIn(b.get(e.issuer+"/login"), email, "wrong guess")
	}
	guess := func(e *env) {
		var wg sync.WaitGroup
		sem := make(chan struct{}, 4)
		for i := range 50 { // the free failures per address
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				signIn(e, guesser, "nobody"+strconv.Itoa(i)+"@example.com")
			})
		}
		wg.Wait()
	}

	t.Run("trusted", func(t *testing.T) {
		e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256, func(c *server.Config) {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		})
		guess(e)
		if p := signIn(e, guesser, "someone@example.com"); p.status != http.StatusTooManyRequests {
			t.Fatalf("the guessing address after 50 failures: %d", p.status)
		}
		if p := signIn(e, bystander, "someone@example.com"); p.status != http.StatusUnauthorized {
			t.Fatalf("another address behind the same proxy: %d, want its own count", p.status)
		}
		if clients := loggedClients(t, e); !clients[guesser] || !clients[bystander] || clients["127.0.0.1"] {
			t.Fatalf("access log client addresses behind a trusted proxy: %v", clients)
		}
	})
	t.Run("untrusted", func(t *testing.T) {
		e := newEnvWith(t, "sqlite", testbackend.SQLite(t), keyring.RS256)
		guess(e)
		if p := signIn(e, bystander, "someone@example.com"); p.status != http.StatusTooManyRequests {
			t.Fatalf("a forged X-Forwarded-For from an untrusted peer escaped the limit: %d", p.status)
		}
		if clients := loggedClients(t, e); len(clients) != 1 || !clients["127.0.0.1"] {
			t.Fatalf("access log client addresses without trusted proxies: %v", clients)
		}
	})
}

// loggedClients returns the client addresses of the access log.
func loggedClients(t *testing.T, e *env) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	for _, rec := range accessLines(t, e) {
		out[rec["client"].(string)] = true
	}
	return out
}

// accessLines returns the access log's records.
func accessLines(t *testing.T, e *env) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(e.logs.String()), "\n") {
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("not a JSON log line: %q", line)
		}
		if rec["msg"] == "http request" {
			out = append(out, rec)
		}
	}
	return out
}
