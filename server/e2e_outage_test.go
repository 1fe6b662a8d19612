package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/oauth2"
)

// TestStorageOutageIs503: when the database is gone, every endpoint that
// needs it answers 503 with Retry-After, never a 500 and never a success
// that was not stored, and /readyz says so; /healthz stays up.
func TestStorageOutageIs503(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		cfg := e.oauthConfig(confidentialID, confidentialKey)
		b := newBrowser(t)
		tok := e.signInWith(b, cfg)
		loginPage := b.get(newAuthRequest(cfg, oauth2.SetAuthURLParam("prompt", "login")).url)
		action, loginForm := loginPage.form(t, "password")
		// A client_credentials token is not stored (it is stateless), so
		// only a client this replica has not read recently needs storage.
		e.addM2MClient("m2m-outage", "m2m-outage-secret-0123456789abcdef")

		if err := e.store.Close(); err != nil {
			t.Fatal(err)
		}

		expect503 := func(what string, resp *http.Response, err error) {
			t.Helper()
			if err != nil {
				t.Fatalf("%s: %v", what, err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s during an outage: %d, Retry-After %q; want 503 with Retry-After", what, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		}
		tokenForm := func(v url.Values) *http.Request {
			req, _ := http.NewRequest(http.MethodPost, e.issuer+"/token", strings.NewReader(v.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.SetBasicAuth(confidentialID, confidentialKey)
			return req
		}
		resp, err := http.DefaultClient.Do(tokenForm(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}}))
		expect503("refresh", resp, err)
		ccReq := tokenForm(url.Values{"grant_type": {"client_credentials"}})
		ccReq.SetBasicAuth("m2m-outage", "m2m-outage-secret-0123456789abcdef")
		resp, err = http.DefaultClient.Do(ccReq)
		expect503("client_credentials", resp, err)

		req, _ := http.NewRequest(http.MethodGet, e.issuer+"/userinfo", nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err = http.DefaultClient.Do(req)
		expect503("userinfo", resp, err)

		resp, err = http.Get(newAuthRequest(cfg).url)
		expect503("authorize", resp, err)

		loginForm.Set("email", testEmail)
		loginForm.Set("password", testPassword)
		if p := b.post(action, loginForm); p.status != http.StatusServiceUnavailable {
			t.Errorf("login during an outage: %d, want 503", p.status)
		}

		resp, err = http.Get(e.issuer + "/readyz")
		expect503("readyz", resp, err)
		resp, err = http.Get(e.issuer + "/healthz")
		if err != nil || resp.StatusCode != http.StatusOK {
			t.Errorf("healthz during an outage: %v %v", resp, err)
		}
		if strings.Contains(e.logs.String(), testPassword) || strings.Contains(e.logs.String(), tok.RefreshToken) {
			t.Error("a password or token reached the logs")
		}
	})
}
