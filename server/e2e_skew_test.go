package server_test

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/oauth2/clientcredentials"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/server"
	"github.com/tollgate/tollgate/server/admin"
)

// TestClockSkewBetweenReplicas: three replicas on one database, one with a
// clock 30 s ahead and one 30 s behind. A token any of them issues is good
// at once on every other one, for introspection, userinfo and the admin
// API's bearer check (its iat may be in the verifier's future, within the
// leeway). exp gets no leeway: a token whose exp has passed on a replica's
// clock is refused there, and all tokens die when the clocks pass their exp.
func TestClockSkewBetweenReplicas(t *testing.T) {
	const lifetime = 45 * time.Second
	offsets := []*atomic.Int64{{}, {}, {}} // nanoseconds
	offsets[1].Store(int64(30 * time.Second))
	offsets[2].Store(int64(-30 * time.Second))
	replicas := startReplicas(t, 3, func(i int) ([]keyring.Option, func(*server.Config)) {
		return nil, func(c *server.Config) {
			c.AccessTokenLifetime = lifetime
			c.Now = func() time.Time { return time.Now().Add(time.Duration(offsets[i].Load())) }
		}
	})
	ctx := context.Background()
	names := []string{"on time", "30 s ahead", "30 s behind"}

	status, created, _ := replicas[0].adminCall(adminToken, http.MethodPost, "/clients", map[string]any{
		"client_name": "Ops scripts", "grant_types": []string{"client_credentials"}, "scope": admin.Scope,
	})
	if status != http.StatusCreated {
		t.Fatalf("create admin client: %d %v", status, created)
	}
	refresh := replicas[0].signIn(replicas[0].oauthConfig(confidentialID, confidentialKey)).RefreshToken

	// Each replica issues a user's access token (by refresh) and an admin
	// token (client credentials).
	type issued struct{ user, admin string }
	tokens := make([]issued, len(replicas))
	for i, r := range replicas {
		tok, err := tokenAt(r.issuer, map[string][]string{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
		if err != nil {
			t.Fatalf("refresh at the replica %s: %v", names[i], err)
		}
		refresh = tok.RefreshToken
		cc := clientcredentials.Config{ClientID: created["client_id"].(string), ClientSecret: created["client_secret"].(string),
			TokenURL: r.issuer + "/token", Scopes: []string{admin.Scope}}
		adm, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("admin token from the replica %s: %v", names[i], err)
		}
		tokens[i] = issued{tok.AccessToken, adm.AccessToken}
	}

	accepted := func(at int, tok issued) (introspected bool, userinfo, adminAPI int) {
		t.Helper()
		active, err := introspectAt(replicas[at].issuer, tok.user)
		if err != nil {
			t.Fatal(err)
		}
		status, _, _ := replicas[at].adminCall(tok.admin, http.MethodGet, "/keys", nil)
		return active, userinfoStatus(t, replicas[at].issuer, tok.user), status
	}
	for from := range replicas {
		for at := range replicas {
			active, ui, adm := accepted(at, tokens[from])
			// The replica behind issued tokens whose exp, 45 s after its
			// clock, is already past on the replica ahead: refused there.
			wantActive := !(from == 2 && at == 1)
			wantUI, wantAdmin := http.StatusOK, http.StatusOK
			if !wantActive {
				wantUI, wantAdmin = http.StatusUnauthorized, http.StatusUnauthorized
			}
			if active != wantActive || ui != wantUI || adm != wantAdmin {
				t.Errorf("token from the replica %s, at the replica %s: introspection active=%v, userinfo %d, admin API %d; want %v, %d, %d",
					names[from], names[at], active, ui, adm, wantActive, wantUI, wantAdmin)
			}
		}
	}

	// Time passes on the replica on time past every token's exp (the
	// latest is the one from the replica ahead: 75 s from now).
	offsets[0].Store(int64(76 * time.Second))
	for from := range replicas {
		if active, ui, adm := accepted(0, tokens[from]); active || ui != http.StatusUnauthorized || adm != http.StatusUnauthorized {
			t.Errorf("expired token from the replica %s: introspection active=%v, userinfo %d, admin API %d", names[from], active, ui, adm)
		}
	}
}

func userinfoStatus(t *testing.T, base, token string) int {
	t.Helper()
	status, _ := userinfo(t, base, token)
	return status
}
