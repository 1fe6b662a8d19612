package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
)

// Upstream is an OpenID Provider users may sign in with ("Sign in with
// Google"). With preset: google, only client_id and client_secret are
// needed.
type Upstream struct {
	// ID names the upstream in URLs (/login/upstream/ID) and in
	// authorization requests (upstream=ID).
	ID string `yaml:"id"`
	// Preset fills the other keys for a well-known provider: google.
	Preset string `yaml:"preset"`
	// Name is shown on the button: "Continue with NAME".
	Name         string   `yaml:"name"`
	Issuer       string   `yaml:"issuer"`
	ClientID     string   `yaml:"client_id"`
	ClientSecret string   `yaml:"client_secret"`
	Scopes       []string `yaml:"scopes"`
	// Claims maps our claim names (email, email_verified, name, picture)
	// to the upstream's, for providers that name them differently.
	Claims map[string]string `yaml:"claims"`
	// TrustedEmail links a first sign-in to the local account with the
	// same address without asking for its password, when the upstream
	// says the address is verified. Only for upstreams that own their
	// addresses (Google for gmail.com, your company's IdP).
	TrustedEmail bool `yaml:"trusted_email"`
}

// GoogleIssuer is the issuer of the google preset.
const GoogleIssuer = "https://accounts.google.com"

var upstreamID = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,31}$`)

// mappedClaims are the claims an upstream's claims key may rename.
var mappedClaims = []string{"email", "email_verified", "name", "picture"}

// fillUpstreams applies presets and defaults.
func (c *Config) fillUpstreams() {
	for i := range c.Upstreams {
		u := &c.Upstreams[i]
		if u.Preset == "google" || (u.Preset == "" && u.ID == "google" && u.Issuer == "") {
			u.Preset = "google"
			if u.ID == "" {
				u.ID = "google"
			}
			if u.Name == "" {
				u.Name = "Google"
			}
			if u.Issuer == "" {
				u.Issuer = GoogleIssuer
			}
		}
		if u.Name == "" {
			u.Name = u.ID
		}
		if len(u.Scopes) == 0 {
			u.Scopes = []string{"openid", "email", "profile"}
		}
	}
}

// validateUpstreams reports each bad upstream key as upstreams[i].key.
func (c Config) validateUpstreams(bad func(key string, value any, want string)) {
	seen := map[string]bool{}
	for i, u := range c.Upstreams {
		key := func(k string) string { return fmt.Sprintf("upstreams[%d].%s", i, k) }
		if !upstreamID.MatchString(u.ID) {
			bad(key("id"), u.ID, "want 1 to 32 lower-case letters, digits, - or _")
		} else if u.ID == "link" {
			bad(key("id"), u.ID, "want another id: link is a page of its own")
		} else if seen[u.ID] {
			bad(key("id"), u.ID, "want a different id for each upstream")
		}
		seen[u.ID] = true
		if u.Preset != "" && u.Preset != "google" {
			bad(key("preset"), u.Preset, "want google, or no preset")
		}
		if !validUpstreamIssuer(u.Issuer) {
			bad(key("issuer"), u.Issuer, "want an https URL without query or fragment (http only on localhost)")
		}
		if u.ClientID == "" {
			bad(key("client_id"), u.ClientID, "want the client ID registered at the upstream")
		}
		if u.ClientSecret == "" {
			bad(key("client_secret"), "(hidden)", "want the client secret registered at the upstream")
		}
		if !slices.Contains(u.Scopes, "openid") {
			bad(key("scopes"), u.Scopes, "want a list including openid")
		}
		for k, v := range u.Claims {
			if !slices.Contains(mappedClaims, k) || v == "" {
				bad(key("claims."+k), v, "want a mapping from email, email_verified, name or picture to a claim name")
			}
		}
	}
}

func validUpstreamIssuer(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		host := u.Hostname()
		ip := net.ParseIP(host)
		return host == "localhost" || (ip != nil && ip.IsLoopback())
	}
	return false
}
