package upstream

import (
	"fmt"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
)

// claims is what we take from a verified upstream ID token.
type claims struct {
	Issuer        string   `json:"iss"`
	Subject       string   `json:"sub"`
	Email         string   `json:"email,omitempty"`
	EmailVerified bool     `json:"email_verified,omitempty"`
	Name          string   `json:"name,omitempty"`
	Picture       string   `json:"picture,omitempty"`
	AMR           []string `json:"amr,omitempty"`
}

// readClaims maps the ID token's claims through the upstream's claim names.
func readClaims(tok *oidc.IDToken, rename map[string]string) (claims, error) {
	var raw map[string]any
	if err := tok.Claims(&raw); err != nil {
		return claims{}, fmt.Errorf("decode ID token claims: %w", err)
	}
	name := func(c string) string {
		if n := rename[c]; n != "" {
			return n
		}
		return c
	}
	str := func(c string) string {
		s, _ := raw[name(c)].(string)
		return strings.TrimSpace(s)
	}
	out := claims{
		Issuer: tok.Issuer, Subject: tok.Subject,
		Email: strings.ToLower(str("email")), Name: str("name"), Picture: str("picture"),
	}
	// Some providers send "true" as a string.
	switch v := raw[name("email_verified")].(type) {
	case bool:
		out.EmailVerified = v
	case string:
		out.EmailVerified = v == "true"
	}
	if amr, ok := raw["amr"].([]any); ok {
		for _, a := range amr {
			if s, ok := a.(string); ok && s != "" && s != "fed" {
				out.AMR = append(out.AMR, s)
			}
		}
	}
	// A picture is shown in applications: only a web address will do.
	if !strings.HasPrefix(out.Picture, "https://") && !strings.HasPrefix(out.Picture, "http://") {
		out.Picture = ""
	}
	if out.Email == "" {
		out.EmailVerified = false
	}
	return out, nil
}
