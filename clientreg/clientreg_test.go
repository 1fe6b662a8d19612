package clientreg_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/clientreg"
)

func TestBuildDefaults(t *testing.T) {
	c, secret, err := clientreg.Registration{ClientName: " Web ", RedirectURIs: []string{"https://app.example/cb"}}.Build(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "Web" || len(c.ID) != 32 || len(secret) < 40 || c.Public {
		t.Fatalf("client %+v secret %q", c, secret)
	}
	if strings.Join(c.GrantTypes, " ") != "authorization_code refresh_token" || strings.Join(c.Scopes, " ") != clientreg.DefaultScope || c.ResponseTypes[0] != "code" {
		t.Fatalf("defaults: %+v", c)
	}
	pub, secret, err := clientreg.Registration{ClientName: "SPA", RedirectURIs: []string{"http://127.0.0.1:5173/cb"}, TokenEndpointAuthMethod: "none"}.Build(time.Now())
	if err != nil || !pub.Public || secret != "" {
		t.Fatalf("public: %+v %q %v", pub, secret, err)
	}
	m2m, _, err := clientreg.Registration{ClientName: "Job", GrantTypes: []string{"client_credentials"}, Scope: "api:read"}.Build(time.Now())
	if err != nil || len(m2m.ResponseTypes) != 0 || len(m2m.RedirectURIs) != 0 {
		t.Fatalf("machine client: %+v %v", m2m, err)
	}
}

// Each mistake is reported on the field that holds it.
func TestBuildNamesTheField(t *testing.T) {
	ok := clientreg.Registration{ClientName: "x", RedirectURIs: []string{"https://a.example/cb"}}
	for _, tc := range []struct {
		field  string
		change func(r *clientreg.Registration)
	}{
		{"client_name", func(r *clientreg.Registration) { r.ClientName = "  " }},
		{"redirect_uris", func(r *clientreg.Registration) { r.RedirectURIs = nil }},
		{"redirect_uris", func(r *clientreg.Registration) { r.RedirectURIs = []string{"http://a.example/cb"} }},
		{"redirect_uris", func(r *clientreg.Registration) { r.RedirectURIs = []string{"https://a.example/cb#frag"} }},
		{"redirect_uris", func(r *clientreg.Registration) { r.RedirectURIs = []string{"/relative"} }},
		{"post_logout_redirect_uris", func(r *clientreg.Registration) { r.PostLogoutRedirectURIs = []string{"http://a.example/"} }},
		{"grant_types", func(r *clientreg.Registration) { r.GrantTypes = []string{"password"} }},
		{"grant_types", func(r *clientreg.Registration) {
			r.TokenEndpointAuthMethod, r.GrantTypes = "none", []string{"client_credentials"}
		}},
		{"client_secret", func(r *clientreg.Registration) {
			r.TokenEndpointAuthMethod, r.ClientSecret = "none", "0123456789abcdefgh"
		}},
		{"client_secret", func(r *clientreg.Registration) { r.ClientSecret = "short" }},
		{"client_id", func(r *clientreg.Registration) { r.ClientID = "a:b" }},
		{"client_id", func(r *clientreg.Registration) { r.ClientID = "-flag" }},
		{"token_endpoint_auth_method", func(r *clientreg.Registration) { r.TokenEndpointAuthMethod = "private_key_jwt" }},
	} {
		r := ok
		tc.change(&r)
		_, _, err := r.Build(time.Now())
		var fe *clientreg.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%+v: error %v, want one on %s", r, err, tc.field)
		}
	}
}

func TestViewRoundTrip(t *testing.T) {
	c, _, err := clientreg.Registration{ClientName: "Web", RedirectURIs: []string{"https://app.example/cb"}, SkipConsent: true}.Build(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	again, _, err := clientreg.RegistrationOf(c).Build(c.CreatedAt)
	if err != nil {
		t.Fatal(err)
	}
	if v, w := clientreg.ViewOf(c), clientreg.ViewOf(again); v.ClientID != w.ClientID || v.Scope != w.Scope || !v.SkipConsent || v.TokenEndpointAuthMethod != w.TokenEndpointAuthMethod {
		t.Fatalf("round trip changed the client: %+v → %+v", v, w)
	}
	if clientreg.ViewOf(c).PostLogoutRedirectURIs == nil {
		t.Fatal("empty lists must be [] in JSON, not null")
	}
}
