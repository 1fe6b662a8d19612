package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// metricValue returns the value of the sample whose name and labels (in
// exposition order) match, or -1 when it is absent.
func metricValue(t *testing.T, exposition, sample string) float64 {
	t.Helper()
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(sample) + ` (\S+)$`)
	m := re.FindStringSubmatch(exposition)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMetrics: what operators watch moves with what users do.
func TestMetrics(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		a := newAuthRequest(cfg)
		p := b.get(a.url)
		if p = b.signIn(p, testEmail, "wrong password"); p.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", p.status)
		}
		p = b.signIn(p, testEmail, testPassword)
		p = b.consent(p, "allow", true)
		q := callback(t, p, e.issuer)
		tok, err := cfg.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
		if err != nil {
			t.Fatal(err)
		}
		refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}
		if status, body, _ := e.tokenRequest(confidentialID, confidentialKey, cloneValues(refresh)); status != http.StatusOK {
			t.Fatalf("refresh: %d %v", status, body)
		}
		if status, _, _ := e.tokenRequest(confidentialID, confidentialKey, cloneValues(refresh)); status != http.StatusBadRequest {
			t.Fatalf("reused refresh token: %d", status)
		}

		// Paths no route has count under one label, whatever they are.
		for _, path := range []string{"/wp-login.php", "/no/such/page"} {
			resp, err := http.Get(e.issuer + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
		}

		resp, err := http.Get(e.issuer + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("/metrics: %d", resp.StatusCode)
		}
		text := string(raw)
		for sample, want := range map[string]float64{
			`tollgate_tokens_issued_total{grant_type="authorization_code"}`:                                1,
			`tollgate_tokens_issued_total{grant_type="refresh_token"}`:                                     1,
			`tollgate_sign_ins_total{method="password",outcome="success"}`:                                 1,
			`tollgate_sign_ins_total{method="password",outcome="failure"}`:                                 1,
			`tollgate_refresh_token_reuse_total`:                                                           1,
			`tollgate_security_events_total{outcome="failure",reason="bad_password",type="signin.failed"}`: 1,
			`tollgate_security_events_total{outcome="success",reason="",type="signin.succeeded"}`:          1,
			`tollgate_http_requests_total{code="200",method="POST",route="/token"}`:                        2,
			`tollgate_http_requests_total{code="400",method="POST",route="/token"}`:                        1,
			`tollgate_http_requests_total{code="401",method="POST",route="/login"}`:                        1,
			`tollgate_http_request_duration_seconds_count{method="POST",route="/token"}`:                   3,
			`tollgate_http_requests_total{code="404",method="GET",route="unmatched"}`:                      2,
		} {
			if got := metricValue(t, text, sample); got != want {
				t.Errorf("%s = %v, want %v", sample, got, want)
			}
		}
		for _, family := range []string{"go_goroutines", "process_resident_memory_bytes", "go_sql_open_connections"} {
			if !strings.Contains(text, "\n"+family) {
				t.Errorf("no %s in /metrics", family)
			}
		}
		if e.backend == "postgres+redis" && !strings.Contains(text, `tollgate_redis_pool_connections{state="total"}`) {
			t.Error("no Redis pool statistics")
		}
		// Route templates, never raw paths with their unbounded values.
		if strings.Contains(text, tok.AccessToken[:20]) || strings.Contains(text, "request=") || strings.Contains(text, "wp-login") {
			t.Error("a token or query reached a metric label")
		}
	})
}

// TestDashboardUsesRealMetrics: every metric the Grafana dashboard in docs/
// queries is one the server exports.
func TestDashboardUsesRealMetrics(t *testing.T) {
	raw, err := os.ReadFile("../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatal(err)
	}
	metricName := regexp.MustCompile(`\b((?:tollgate|go|process)_[a-z_]+)\b`)
	backends(t, func(t *testing.T, e *env) {
		// Some traffic, so that every labelled series exists.
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		tok := e.signIn(cfg)
		if _, err := cfg.TokenSource(context.Background(), &oauth2.Token{RefreshToken: tok.RefreshToken}).Token(); err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(e.issuer + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		exported := string(body)
		for _, p := range dash.Panels {
			for _, target := range p.Targets {
				for _, m := range metricName.FindAllStringSubmatch(target.Expr, -1) {
					name := strings.TrimSuffix(strings.TrimSuffix(m[1], "_bucket"), "_total")
					if e.backend == "sqlite" && strings.HasPrefix(name, "tollgate_redis") {
						continue // no Redis on the embedded default
					}
					if !strings.Contains(exported, "\n"+m[1]) && !strings.Contains(exported, "\n"+name) {
						t.Errorf("panel %q queries %s, which /metrics does not export", p.Title, m[1])
					}
				}
			}
		}
	})
}
