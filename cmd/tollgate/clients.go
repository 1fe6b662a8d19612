package main

import (
	"context"
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

	"github.com/spf13/cobra"

	"github.com/tollgate/tollgate/storage"
)

// clientJSON is a client as the CLI prints it, with OAuth metadata names
// (RFC 7591 §2). The secret appears only in the answer to create.
type clientJSON struct {
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
	CreatedAt               time.Time `json:"created_at"`
}

func toClientJSON(c storage.Client) clientJSON {
	method := "client_secret_basic"
	if c.Public {
		method = "none"
	}
	return clientJSON{
		ClientID: c.ID, ClientName: c.Name,
		RedirectURIs: nonNil(c.RedirectURIs), PostLogoutRedirectURIs: nonNil(c.PostLogoutRedirectURIs),
		WebOrigins: nonNil(c.WebOrigins), GrantTypes: nonNil(c.GrantTypes), ResponseTypes: nonNil(c.ResponseTypes),
		Scope: strings.Join(c.Scopes, " "), TokenEndpointAuthMethod: method,
		SkipConsent: c.SkipConsent, CreatedAt: c.CreatedAt,
	}
}

// nonNil makes empty lists print as [] rather than null.
func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

var supportedGrantTypes = []string{"authorization_code", "refresh_token", "client_credentials"}

// minSecretLength keeps chosen secrets out of guessing range.
const minSecretLength = 16

type clientFlags struct {
	id, name, secret, scope      string
	redirectURIs, postLogoutURIs []string
	webOrigins                   []string
	grantTypes                   []string
	public, skipConsent          bool
}

func (a *app) clientsCommand() *cobra.Command {
	clients := &cobra.Command{Use: "clients", Short: "Register and manage OAuth clients"}

	var f clientFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Register a client and print it, with its secret, as JSON",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, secret, err := f.client(cmd)
			if err != nil {
				return err
			}
			return a.withEnv(func(ctx context.Context, e *env, _ []string) error {
				return a.createClient(ctx, e, c, secret)
			})(cmd, nil)
		},
	}
	fl := create.Flags()
	fl.StringVar(&f.name, "name", "", "name shown to users on the consent page (required)")
	fl.StringArrayVar(&f.redirectURIs, "redirect-uri", nil, "redirect URI, matched exactly (repeatable)")
	fl.StringArrayVar(&f.postLogoutURIs, "post-logout-redirect-uri", nil, "where RP-initiated logout may return (repeatable)")
	fl.StringArrayVar(&f.webOrigins, "web-origin", nil, "browser origin (scheme://host[:port]) allowed to call the token, userinfo, revocation and JWKS endpoints (CORS; repeatable)")
	fl.StringArrayVar(&f.grantTypes, "grant-type", nil, "authorization_code, refresh_token or client_credentials (repeatable; default authorization_code and refresh_token)")
	fl.StringVar(&f.scope, "scope", "openid profile email offline_access", "space-separated scopes the client may request")
	fl.BoolVar(&f.public, "public", false, "public client (SPA, native app): no secret, PKCE only")
	fl.StringVar(&f.id, "id", "", "client ID (default generated)")
	fl.StringVar(&f.secret, "secret", "", "client secret (default generated)")
	fl.BoolVar(&f.skipConsent, "skip-consent", false, "do not ask users for consent (first-party clients)")

	clients.AddCommand(create,
		&cobra.Command{
			Use: "list", Short: "List clients as JSON", Args: cobra.NoArgs,
			RunE: a.withEnv(func(ctx context.Context, e *env, _ []string) error {
				list, err := e.store.ListClients(ctx)
				if err != nil {
					return fmt.Errorf("list clients: %w", err)
				}
				out := make([]clientJSON, 0, len(list))
				for _, c := range list {
					out = append(out, toClientJSON(c))
				}
				return a.printJSON(out)
			}),
		},
		&cobra.Command{
			Use: "get ID", Short: "Print one client as JSON", Args: cobra.ExactArgs(1),
			RunE: a.withEnv(func(ctx context.Context, e *env, args []string) error {
				c, err := getClient(ctx, e, args[0])
				if err != nil {
					return err
				}
				return a.printJSON(toClientJSON(c))
			}),
		},
		&cobra.Command{
			Use: "delete ID", Short: "Delete a client and print what was deleted", Args: cobra.ExactArgs(1),
			RunE: a.withEnv(func(ctx context.Context, e *env, args []string) error {
				c, err := getClient(ctx, e, args[0])
				if err != nil {
					return err
				}
				if err := e.store.DeleteClient(ctx, c.ID); err != nil {
					return fmt.Errorf("delete client %q: %w", c.ID, err)
				}
				return a.printJSON(toClientJSON(c))
			}),
		},
	)
	return clients
}

func getClient(ctx context.Context, e *env, id string) (storage.Client, error) {
	c, err := e.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return c, fmt.Errorf("no client with id %q", id)
	}
	if err != nil {
		return c, fmt.Errorf("get client %q: %w", id, err)
	}
	return c, nil
}

func (a *app) createClient(ctx context.Context, e *env, c storage.Client, secret string) error {
	if secret != "" {
		hash, err := e.hasher.Hash(secret)
		if err != nil {
			return fmt.Errorf("hash client secret: %w", err)
		}
		c.SecretHash = hash
	}
	now := time.Now().UTC().Truncate(time.Second)
	c.CreatedAt, c.UpdatedAt = now, now
	err := e.store.CreateClient(ctx, c)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("a client with id %q already exists", c.ID)
	}
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	out := toClientJSON(c)
	out.ClientSecret = secret
	return a.printJSON(out)
}

// client validates the flags into a registration; every problem is a usage
// error, found before anything is opened or written.
func (f *clientFlags) client(cmd *cobra.Command) (storage.Client, string, error) {
	if strings.TrimSpace(f.name) == "" {
		return storage.Client{}, "", usagef("--name is required")
	}
	grants := f.grantTypes
	if len(grants) == 0 {
		grants = []string{"authorization_code", "refresh_token"}
	}
	for _, g := range grants {
		if !slices.Contains(supportedGrantTypes, g) {
			return storage.Client{}, "", usagef("--grant-type %q is not supported (want one of %s)", g, strings.Join(supportedGrantTypes, ", "))
		}
	}
	grants = slices.Compact(slices.Sorted(slices.Values(grants)))
	usesRedirects := slices.Contains(grants, "authorization_code")
	if usesRedirects && len(f.redirectURIs) == 0 {
		return storage.Client{}, "", usagef("--redirect-uri is required for the authorization_code grant")
	}
	for _, u := range f.redirectURIs {
		if err := checkRedirectURI(u); err != nil {
			return storage.Client{}, "", usagef("--redirect-uri %q: %v", u, err)
		}
	}
	for _, u := range f.postLogoutURIs {
		if err := checkRedirectURI(u); err != nil {
			return storage.Client{}, "", usagef("--post-logout-redirect-uri %q: %v", u, err)
		}
	}
	var origins []string
	for _, o := range f.webOrigins {
		origin, err := webOrigin(o)
		if err != nil {
			return storage.Client{}, "", usagef("--web-origin %q: %v", o, err)
		}
		if !slices.Contains(origins, origin) {
			origins = append(origins, origin)
		}
	}
	scopes := strings.Fields(f.scope)
	if len(scopes) == 0 {
		return storage.Client{}, "", usagef("--scope must name at least one scope")
	}
	c := storage.Client{
		ID: f.id, Name: strings.TrimSpace(f.name), RedirectURIs: f.redirectURIs, PostLogoutRedirectURIs: f.postLogoutURIs,
		WebOrigins: origins, GrantTypes: grants, Scopes: scopes, Public: f.public, SkipConsent: f.skipConsent,
	}
	if usesRedirects {
		c.ResponseTypes = []string{"code"}
	}
	if c.ID == "" {
		c.ID = randomHex(16)
	} else if strings.TrimSpace(c.ID) != c.ID || strings.ContainsAny(c.ID, ": \t\n") {
		return storage.Client{}, "", usagef("--id %q: must not contain spaces or colons", c.ID)
	}
	secret := f.secret
	switch {
	case f.public && cmd.Flags().Changed("secret"):
		return storage.Client{}, "", usagef("--public clients have no secret; drop --secret")
	case f.public && slices.Contains(grants, "client_credentials"):
		return storage.Client{}, "", usagef("--public clients cannot use the client_credentials grant")
	case f.public:
		secret = ""
	case cmd.Flags().Changed("secret") && len(secret) < minSecretLength:
		return storage.Client{}, "", usagef("--secret must be at least %d characters", minSecretLength)
	case secret == "":
		secret = randomString(32)
	}
	return c, secret, nil
}

// checkRedirectURI accepts what the authorization endpoint will honour:
// absolute URIs without a fragment (RFC 6749 §3.1.2), https or a private
// scheme, and plain http only on the loopback interface (RFC 8252 §7.3).
func checkRedirectURI(raw string) error {
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

// webOrigin checks an origin as browsers send it in the Origin header
// (RFC 6454 §6.1): scheme://host[:port] and nothing else, https or http on
// loopback as for redirect URIs. It returns the origin in the form the
// browser serializes: lower case, without the scheme's default port.
func webOrigin(raw string) (string, error) {
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

// randomHex returns n random bytes in hex: IDs never start with "-", which
// a command line would take for a flag.
func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return hex.EncodeToString(b)
}

// randomString returns n random bytes, URL-safe base64 encoded.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
