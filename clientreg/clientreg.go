// Package clientreg validates client registrations and gives them the shape
// admins see, the same for the command line and the admin API. Field names
// follow OAuth dynamic client registration metadata (RFC 7591 §2).
package clientreg

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// Registration is a client as an admin describes it.
type Registration struct {
	ClientID                string   `json:"client_id,omitempty"`
	ClientSecret            string   `json:"client_secret,omitempty"`
	ClientName              string   `json:"client_name"`
	RedirectURIs            []string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs  []string `json:"post_logout_redirect_uris,omitempty"`
	WebOrigins              []string `json:"web_origins,omitempty"`
	GrantTypes              []string `json:"grant_types,omitempty"`
	Scope                   string   `json:"scope,omitempty"`
	TokenEndpointAuthMethod string   `json:"token_endpoint_auth_method,omitempty"`
	SkipConsent             bool     `json:"skip_consent,omitempty"`
	RequireMFA              bool     `json:"require_mfa,omitempty"`
}

// Defaults for what a registration leaves out.
var (
	DefaultGrantTypes = []string{"authorization_code", "refresh_token"}
	DefaultScope      = "openid profile email offline_access"
)

// SupportedGrantTypes are the grants Tollgate serves.
var SupportedGrantTypes = []string{"authorization_code", "client_credentials", "refresh_token"}

// Authentication methods at the token endpoint.
const (
	AuthSecretBasic = "client_secret_basic"
	AuthNone        = "none" // public clients: PKCE only
)

// MinSecretLength keeps chosen secrets out of guessing range.
const MinSecretLength = 16

// FieldError names the registration field at fault.
type FieldError struct {
	Field   string // the JSON name
	Problem string // reads after the field's name: "is required"
}

func (e *FieldError) Error() string { return e.Field + " " + e.Problem }

func invalid(field, format string, args ...any) error {
	return &FieldError{Field: field, Problem: fmt.Sprintf(format, args...)}
}

// Build validates r, applies the defaults, and returns the client to store
// with its secret in clear (empty for public clients), generating the ID and
// secret when r has none. Every error is a *FieldError.
func (r Registration) Build(now time.Time) (storage.Client, string, error) {
	if strings.TrimSpace(r.ClientName) == "" {
		return storage.Client{}, "", invalid("client_name", "is required")
	}
	grants := r.GrantTypes
	if len(grants) == 0 {
		grants = DefaultGrantTypes
	}
	for _, g := range grants {
		if !slices.Contains(SupportedGrantTypes, g) {
			return storage.Client{}, "", invalid("grant_types", "%q is not supported (want one of %s)", g, strings.Join(SupportedGrantTypes, ", "))
		}
	}
	grants = slices.Compact(slices.Sorted(slices.Values(grants)))
	usesRedirects := slices.Contains(grants, "authorization_code")
	if usesRedirects && len(r.RedirectURIs) == 0 {
		return storage.Client{}, "", invalid("redirect_uris", "is required for the authorization_code grant")
	}
	for _, u := range r.RedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return storage.Client{}, "", invalid("redirect_uris", "%q: %v", u, err)
		}
	}
	for _, u := range r.PostLogoutRedirectURIs {
		if err := CheckRedirectURI(u); err != nil {
			return storage.Client{}, "", invalid("post_logout_redirect_uris", "%q: %v", u, err)
		}
	}
	var origins []string
	for _, o := range r.WebOrigins {
		origin, err := NormalizeOrigin(o)
		if err != nil {
			return storage.Client{}, "", invalid("web_origins", "%q: %v", o, err)
		}
		if !slices.Contains(origins, origin) {
			origins = append(origins, origin)
		}
	}
	scope := r.Scope
	if scope == "" {
		scope = DefaultScope
	}
	public := false
	switch r.TokenEndpointAuthMethod {
	case "", AuthSecretBasic, "client_secret_post":
	case AuthNone:
		public = true
	default:
		return storage.Client{}, "", invalid("token_endpoint_auth_method", "%q is not supported (want client_secret_basic, client_secret_post or none)", r.TokenEndpointAuthMethod)
	}
	c := storage.Client{
		ID: r.ClientID, Name: strings.TrimSpace(r.ClientName), RedirectURIs: r.RedirectURIs, PostLogoutRedirectURIs: r.PostLogoutRedirectURIs,
		WebOrigins: origins, GrantTypes: grants, Scopes: strings.Fields(scope), Public: public, SkipConsent: r.SkipConsent,
		CreatedAt: now, UpdatedAt: now, RequireMFA: r.RequireMFA,
	}
	if usesRedirects {
		c.ResponseTypes = []string{"code"}
	}
	if c.ID == "" {
		c.ID = randomHex(16)
	} else if err := CheckClientID(c.ID); err != nil {
		return storage.Client{}, "", err
	}
	secret := r.ClientSecret
	switch {
	case public && secret != "":
		return storage.Client{}, "", invalid("client_secret", "must be empty: public clients have no secret")
	case public && slices.Contains(grants, "client_credentials"):
		return storage.Client{}, "", invalid("grant_types", "cannot include client_credentials for a public client")
	case public:
	case secret == "":
		secret = NewSecret()
	case len(secret) < MinSecretLength:
		return storage.Client{}, "", invalid("client_secret", "must be at least %d characters", MinSecretLength)
	}
	return c, secret, nil
}

// CheckClientID refuses IDs that would break HTTP Basic authentication or a
// command line.
func CheckClientID(id string) error {
	if id == "" || strings.TrimSpace(id) != id || strings.ContainsAny(id, ": \t\n/") || strings.HasPrefix(id, "-") {
		return invalid("client_id", "%q: must be non-empty, without spaces, colons or slashes, and not start with -", id)
	}
	return nil
}

// CheckRedirectURI accepts what the authorization endpoint will honour:
// absolute URIs without a fragment (RFC 6749 §3.1.2), https or a private
// scheme, and plain http only on the loopback interface (RFC 8252 §7.3).
func CheckRedirectURI(raw string) error {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return err
	case !u.IsAbs():
		return errors.New("must be an absolute URI")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not contain a fragment")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return errors.New("http is allowed only for localhost and loopback addresses; use https")
	case (u.Scheme == "http" || u.Scheme == "https") && u.Host == "":
		return errors.New("must name a host")
	}
	return nil
}

// NormalizeOrigin checks an origin as browsers send it in the Origin header
// (RFC 6454 §6.1): scheme://host[:port] and nothing else, https or http on
// loopback as for redirect URIs. It returns the origin in the form the
// browser serializes: lower case, without the scheme's default port.
func NormalizeOrigin(raw string) (string, error) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", err
	case u.Scheme != "http" && u.Scheme != "https":
		return "", errors.New("must be http(s)://host[:port]")
	case u.Host == "" || u.User != nil:
		return "", errors.New("must be scheme://host[:port]")
	case u.Path != "" || u.RawQuery != "" || u.ForceQuery || strings.Contains(raw, "#"):
		return "", errors.New("must have no path, query or fragment (not even a trailing slash)")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		return "", errors.New("http is allowed only for localhost and loopback addresses; use https")
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port == "" || (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		return u.Scheme + "://" + host, nil
	}
	return u.Scheme + "://" + host + ":" + port, nil
}

func isLoopback(host string) bool {
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// NewSecret returns a fresh client secret: 256 random bits.
func NewSecret() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// randomHex returns n random bytes in hex: IDs never start with "-", which
// a command line would take for a flag.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// View is a client as admins read it. The secret appears only in the answer
// to a create or a secret rotation.
type View struct {
	ClientID                string    `json:"client_id"`
	ClientSecret            string    `json:"client_secret,omitempty"`
	ClientName              string    `json:"client_name"`
	RedirectURIs            []string  `json:"redirect_uris"`
	PostLogoutRedirectURIs  []string  `json:"post_logout_redirect_uris"`
	WebOrigins              []string  `json:"web_origins"`
	GrantTypes              []string  `json:"grant_types"`
	ResponseTypes           []string  `json:"response_types"`
	Scope                   string    `json:"scope"`
	TokenEndpointAuthMethod string    `json:"token_endpoint_auth_method"`
	SkipConsent             bool      `json:"skip_consent"`
	RequireMFA              bool      `json:"require_mfa"`
	CreatedAt               time.Time `json:"created_at"`
	UpdatedAt               time.Time `json:"updated_at"`
}

// ViewOf returns the admin's view of c.
func ViewOf(c storage.Client) View {
	method := AuthSecretBasic
	if c.Public {
		method = AuthNone
	}
	return View{
		ClientID: c.ID, ClientName: c.Name,
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		WebOrigins: nonNil(c.WebOrigins), GrantTypes: nonNil(c.GrantTypes), ResponseTypes: nonNil(c.ResponseTypes),
		Scope: strings.Join(c.Scopes, " "), TokenEndpointAuthMethod: method,
		SkipConsent: c.SkipConsent, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt, RequireMFA: c.RequireMFA,
	}
}

// RegistrationOf returns the registration that describes c, the base an
// update is applied to. The secret is not part of it.
func RegistrationOf(c storage.Client) Registration {
	v := ViewOf(c)
	return Registration{
		ClientID: c.ID, ClientName: c.Name, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		WebOrigins: c.WebOrigins, GrantTypes: c.GrantTypes, Scope: v.Scope, TokenEndpointAuthMethod: v.TokenEndpointAuthMethod, SkipConsent: c.SkipConsent,
		RequireMFA: c.RequireMFA,
	}
}

// nonNil makes empty lists print as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
