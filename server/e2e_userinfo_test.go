package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage/usercache"
)

// userinfo calls base's userinfo endpoint with token and decodes the answer.
func userinfo(t *testing.T, base, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var claims map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&claims)
	return resp.StatusCode, claims
}

// TestUserinfoShowsProfileChangesAtOnce: userinfo has just read the user
// (and cached it), then a profile change through the account page, the
// account API or the admin API shows on the very next call.
func TestUserinfoShowsProfileChangesAtOnce(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		b := newBrowser(t)
		at := e.signInWith(b, e.oauthConfig(confidentialID, confidentialKey)).AccessToken
		wantName := func(after, want string) {
			t.Helper()
			if status, claims := userinfo(t, e.issuer, at); status != http.StatusOK || claims["name"] != want {
				t.Fatalf("userinfo after %s: %d %v; want name %q", after, status, claims, want)
			}
		}
		wantName("sign-in", "Ada Lovelace")

		p := b.get(e.issuer + "/account")
		if saved := b.submit(p, "name", map[string]string{"name": "Ada King"}); saved.status != http.StatusOK {
			t.Fatalf("save on the account page: %d", saved.status)
		}
		wantName("the account page", "Ada King")

		if status, body, _ := e.accountCall(at, http.MethodPatch, "/profile", map[string]any{"name": "Ada, Countess of Lovelace"}); status != http.StatusOK {
			t.Fatalf("account API: %d %v", status, body)
		}
		wantName("the account API", "Ada, Countess of Lovelace")

		if status, body, _ := e.adminCall(adminToken, http.MethodPatch, "/users/"+e.user.ID, map[string]any{"name": "A. A. Lovelace"}); status != http.StatusOK {
			t.Fatalf("admin API: %d %v", status, body)
		}
		wantName("the admin API", "A. A. Lovelace")
	})
}

// TestUserinfoAcrossReplicas: replica B's userinfo has the user cached.
// Signing the user out everywhere, disabling or deleting them on replica A
// refuses their token on B at once, through the revocation list; a profile
// change made on A shows on B within usercache.TTL.
func TestUserinfoAcrossReplicas(t *testing.T) {
	replicas := startReplicas(t, 2, nil)
	a, b := replicas[0], replicas[1]
	cfg := a.oauthConfig(confidentialID, confidentialKey)
	users := "/users/" + a.user.ID

	// cached signs in and has B's userinfo read the user.
	cached := func() string {
		t.Helper()
		at := a.signIn(cfg).AccessToken
		if status, claims := userinfo(t, b.issuer, at); status != http.StatusOK {
			t.Fatalf("userinfo at B: %d %v", status, claims)
		}
		return at
	}
	for _, tc := range []struct{ name, method, path string }{
		{"signed out everywhere", http.MethodPost, users + "/sign-out"},
		{"disabled", http.MethodPost, users + "/disable"},
		{"deleted", http.MethodDelete, users}, // last: the user is gone
	} {
		at := cached()
		if status, body, _ := a.adminCall(adminToken, tc.method, tc.path, nil); status/100 != 2 {
			t.Fatalf("%s at A: %d %v", tc.name, status, body)
		}
		if status, claims := userinfo(t, b.issuer, at); status != http.StatusUnauthorized || claims["error"] != "invalid_token" {
			t.Errorf("userinfo at B right after the user was %s at A: %d %v; want 401 invalid_token", tc.name, status, claims)
		}
		if tc.name == "disabled" {
			if status, body, _ := a.adminCall(adminToken, http.MethodPost, users+"/enable", nil); status != http.StatusOK {
				t.Fatalf("enable at A: %d %v", status, body)
			}
		}
		if tc.name == "signed out everywhere" {
			// Meanwhile, a profile change at A reaches B within the TTL.
			at := cached()
			if status, body, _ := a.adminCall(adminToken, http.MethodPatch, users, map[string]any{"name": "Ada King"}); status != http.StatusOK {
				t.Fatalf("rename at A: %d %v", status, body)
			}
			changed := time.Now()
			for {
				_, claims := userinfo(t, b.issuer, at)
				if claims["name"] == "Ada King" {
					break
				}
				if time.Since(changed) > usercache.TTL+time.Second {
					t.Fatalf("userinfo at B %s after the rename at A: %v", time.Since(changed), claims)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}
