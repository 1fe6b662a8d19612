package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

const evilOrigin = "https://evil.example"

// crossOrigin sends a request as a browser page at origin would.
func (e *env) crossOrigin(method, path, origin string, header http.Header, form url.Values) (*http.Response, map[string]any) {
	e.t.Helper()
	var body *strings.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	} else {
		body = strings.NewReader("")
	}
	req, _ := http.NewRequest(method, e.issuer+path, body)
	for k, v := range header {
		req.Header[k] = v
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("Origin", origin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var decoded map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&decoded)
	return resp, decoded
}

func wantAllowed(t *testing.T, what string, resp *http.Response, origin string) {
	t.Helper()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != origin {
		t.Errorf("%s: Access-Control-Allow-Origin = %q, want %q", what, got, origin)
	}
	if !strings.Contains(strings.Join(resp.Header.Values("Vary"), ","), "Origin") {
		t.Errorf("%s: no Vary: Origin", what)
	}
	if resp.Header.Get("Access-Control-Allow-Credentials") != "" {
		t.Errorf("%s: credentials allowed", what)
	}
}

func wantRefused(t *testing.T, what string, resp *http.Response) {
	t.Helper()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "" {
		t.Errorf("%s: Access-Control-Allow-Origin = %q, want none", what, got)
	}
}

// TestCORS: browser apps may call token, userinfo, revocation, JWKS and
// discovery from their client's registered origins, and from no other.
func TestCORS(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		preflight := http.Header{
			"Access-Control-Request-Method":  {"POST"},
			"Access-Control-Request-Headers": {"authorization,content-type"},
		}
		for _, path := range []string{"/token", "/userinfo", "/revoke", "/.well-known/jwks.json", "/.well-known/openid-configuration"} {
			resp, _ := e.crossOrigin(http.MethodOptions, path, spaOrigin, preflight, nil)
			if resp.StatusCode != http.StatusNoContent {
				t.Errorf("preflight %s: status %d", path, resp.StatusCode)
			}
			wantAllowed(t, "preflight "+path, resp, spaOrigin)
			if h := resp.Header.Get("Access-Control-Allow-Headers"); !strings.Contains(h, "Authorization") {
				t.Errorf("preflight %s: Access-Control-Allow-Headers = %q", path, h)
			}
			resp, _ = e.crossOrigin(http.MethodOptions, path, evilOrigin, preflight, nil)
			wantRefused(t, "preflight "+path+" from an unregistered origin", resp)
		}
		resp, _ := e.crossOrigin(http.MethodOptions, "/introspect", spaOrigin, preflight, nil)
		wantRefused(t, "preflight /introspect (server-to-server only)", resp)

		for _, path := range []string{"/.well-known/jwks.json", "/.well-known/openid-configuration"} {
			resp, _ := e.crossOrigin(http.MethodGet, path, webappOrigin, nil, nil)
			wantAllowed(t, path+" from any client's origin", resp, webappOrigin)
			resp, _ = e.crossOrigin(http.MethodGet, path, evilOrigin, nil, nil)
			wantRefused(t, path+" from an unregistered origin", resp)
		}

		// The SPA signs in and redeems its code from its own origin.
		cfg := e.oauthConfig(publicID, "")
		a := newAuthRequest(cfg)
		q := e.fullLogin(newBrowser(t), a)
		resp, tok := e.crossOrigin(http.MethodPost, "/token", spaOrigin, nil, url.Values{
			"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "client_id": {publicID},
			"redirect_uri": {callbackURL}, "code_verifier": {a.verifier},
		})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("token: status %d: %v", resp.StatusCode, tok)
		}
		wantAllowed(t, "token from the client's origin", resp, spaOrigin)
		access, refresh := tok["access_token"].(string), tok["refresh_token"].(string)

		// Another client's origin cannot read the SPA's refreshed tokens.
		resp, tok = e.crossOrigin(http.MethodPost, "/token", webappOrigin, nil, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {publicID},
		})
		wantRefused(t, "token from another client's origin", resp)
		refresh, _ = tok["refresh_token"].(string)
		resp, tok = e.crossOrigin(http.MethodPost, "/token", spaOrigin, nil, url.Values{
			"grant_type": {"refresh_token"}, "refresh_token": {refresh}, "client_id": {publicID},
		})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("refresh: status %d: %v", resp.StatusCode, tok)
		}
		wantAllowed(t, "refresh from the client's origin", resp, spaOrigin)
		access, refresh = tok["access_token"].(string), tok["refresh_token"].(string)

		// A confidential client authenticating with Basic is recognised too.
		basic := http.Header{"Authorization": {"Basic " + basicAuth(confidentialID, confidentialKey)}}
		resp, _ = e.crossOrigin(http.MethodPost, "/token", webappOrigin, basic, url.Values{"grant_type": {"client_credentials"}})
		wantAllowed(t, "client_credentials from the client's origin", resp, webappOrigin)
		resp, _ = e.crossOrigin(http.MethodPost, "/token", spaOrigin, basic, url.Values{"grant_type": {"client_credentials"}})
		wantRefused(t, "client_credentials from another client's origin", resp)

		bearer := http.Header{"Authorization": {"Bearer " + access}}
		resp, info := e.crossOrigin(http.MethodGet, "/userinfo", spaOrigin, bearer, nil)
		if resp.StatusCode != http.StatusOK || info["email"] != testEmail {
			t.Fatalf("userinfo: status %d: %v", resp.StatusCode, info)
		}
		wantAllowed(t, "userinfo from the token's client's origin", resp, spaOrigin)
		resp, _ = e.crossOrigin(http.MethodGet, "/userinfo", webappOrigin, bearer, nil)
		wantRefused(t, "userinfo from another client's origin", resp)
		resp, _ = e.crossOrigin(http.MethodGet, "/userinfo", evilOrigin, bearer, nil)
		wantRefused(t, "userinfo from an unregistered origin", resp)
		resp, _ = e.crossOrigin(http.MethodGet, "/userinfo", webappOrigin, http.Header{"Authorization": {"Bearer not-a-jwt"}}, nil)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("userinfo with a bad token: status %d", resp.StatusCode)
		}
		wantAllowed(t, "userinfo error to a registered origin", resp, webappOrigin)
		if !strings.Contains(resp.Header.Get("Access-Control-Expose-Headers"), "WWW-Authenticate") {
			t.Errorf("userinfo error: WWW-Authenticate not exposed")
		}

		revoke := url.Values{"token": {refresh}, "token_type_hint": {"refresh_token"}, "client_id": {publicID}}
		resp, _ = e.crossOrigin(http.MethodPost, "/revoke", webappOrigin, nil, revoke)
		wantRefused(t, "revoke from another client's origin", resp)
		resp, _ = e.crossOrigin(http.MethodPost, "/revoke", spaOrigin, nil, revoke)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("revoke: status %d", resp.StatusCode)
		}
		wantAllowed(t, "revoke from the client's origin", resp, spaOrigin)
	})
}

func basicAuth(id, secret string) string {
	r, _ := http.NewRequest(http.MethodGet, "/", nil)
	r.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return strings.TrimPrefix(r.Header.Get("Authorization"), "Basic ")
}
