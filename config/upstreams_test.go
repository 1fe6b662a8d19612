package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
)

// The google preset needs only the client's ID and secret.
func TestUpstreamGooglePreset(t *testing.T) {
	path := writeFile(t, `
upstreams:
  - preset: google
    client_id: 123.apps.googleusercontent.com
    client_secret: shh
  - id: corp
    name: Corp SSO
    issuer: https://sso.corp.example
    client_id: tollgate
    client_secret: shh
    scopes: [openid, email]
    claims: {email: mail}
    trusted_email: true
`)
	cfg, err := config.Load(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	g := cfg.Upstreams[0]
	if g.ID != "google" || g.Name != "Google" || g.Issuer != "https://accounts.google.com" ||
		!slices.Equal(g.Scopes, []string{"openid", "email", "profile"}) || g.TrustedEmail {
		t.Fatalf("google preset: %+v", g)
	}
	c := cfg.Upstreams[1]
	if c.ID != "corp" || c.Name != "Corp SSO" || c.Claims["email"] != "mail" || !c.TrustedEmail {
		t.Fatalf("corp: %+v", c)
	}
}

// Each bad entry is refused, naming its key; the secret is never echoed.
func TestUpstreamValidation(t *testing.T) {
	path := writeFile(t, `
upstreams:
  - id: Bad Id
    issuer: http://idp.example
    client_secret: hunter2-secret
    scopes: [email]
    claims: {sub: id}
  - preset: google
    client_id: x
  - preset: google
    client_id: y
    client_secret: z
  - id: other
    preset: facebook
    issuer: https://x.example?q=1
    client_id: a
    client_secret: b
`)
	_, err := config.Load(path, nil)
	if err == nil {
		t.Fatal("bad upstreams accepted")
	}
	msg := err.Error()
	for _, want := range []string{
		`upstreams[0].id="Bad Id"`, `upstreams[0].issuer="http://idp.example"`, `upstreams[0].client_id=""`,
		`upstreams[0].scopes="[email]"`, `upstreams[0].claims.sub="id"`,
		`upstreams[1].client_secret`, `upstreams[2].id="google": want a different id`,
		`upstreams[3].preset="facebook"`, `upstreams[3].issuer="https://x.example?q=1"`,
	} {
		if !strings.Contains(msg, want) {
			t.Errorf("error lacks %s:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "hunter2") {
		t.Errorf("error shows the client secret:\n%s", msg)
	}
	// Plain http is fine for an upstream on this machine.
	path = writeFile(t, "upstreams:\n  - {id: dev, issuer: 'http://localhost:9000', client_id: a, client_secret: b}\n")
	if _, err := config.Load(path, nil); err != nil {
		t.Fatal(err)
	}
}
