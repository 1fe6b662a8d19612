package server_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
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
			`tollgate_tokens_issued_total{grant_type="authorization_code"}`:              1,
			`tollgate_tokens_issued_total{grant_type="refresh_token"}`:                   1,
			`tollgate_sign_ins_total{method="password",outcome="success"}`:               1,
			`tollgate_sign_ins_total{method="password",outcome="failure"}`:               1,
			`tollgate_refresh_token_reuse_total`:                                         1,
			`tollgate_http_requests_total{code="200",method="POST",route="/token"}`:      2,
			`tollgate_http_requests_total{code="400",method="POST",route="/token"}`:      1,
			`tollgate_http_requests_total{code="401",method="POST",route="/login"}`:      1,
			`tollgate_http_request_duration_seconds_count{method="POST",route="/token"}`: 3,
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
		if strings.Contains(text, tok.AccessToken[:20]) || strings.Contains(text, "request=") {
			t.Error("a token or query reached a metric label")
		}
	})
}
