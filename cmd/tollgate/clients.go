package main

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate/tollgate/clientreg"
)

// flagOf names the flag that sets each registration field, so that errors
// speak the command line's language.
var flagOf = map[string]string{
	"client_id":                  "--id",
	"client_secret":              "--secret",
	"client_name":                "--name",
	"redirect_uris":              "--redirect-uri",
	"post_logout_redirect_uris":  "--post-logout-redirect-uri",
	"grant_types":                "--grant-type",
	"scope":                      "--scope",
	"token_endpoint_auth_method": "--public",
	"web_origins":                "--web-origin",
}

type clientFlags struct {
	id, name, secret, scope      string
	redirectURIs, postLogoutURIs []string
	webOrigins                   []string
	grantTypes                   []string
	public, skipConsent          bool
	requireMFA                   bool
}

func (a *app) clientsCommand() *cobra.Command {
	clients := &cobra.Command{Use: "clients", Short: "Register and manage OAuth clients"}

	var f clientFlags
	create := &cobra.Command{
		Use:   "create",
		Short: "Register a client and print it, with its secret",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			reg, err := f.registration()
			if err != nil {
				return err
			}
			return a.withAdmin(func(ctx context.Context, b adminBackend, _ []string) error {
				v, err := b.CreateClient(ctx, reg)
				if err != nil {
					return err
				}
				return a.print(v, clientTable(v))
			})(cmd, nil)
		},
	}
	fl := create.Flags()
	fl.StringVar(&f.name, "name", "", "name shown to users on the consent page (required)")
	fl.StringArrayVar(&f.redirectURIs, "redirect-uri", nil, "redirect URI, matched exactly (repeatable)")
	fl.StringArrayVar(&f.postLogoutURIs, "post-logout-redirect-uri", nil, "where RP-initiated logout may return (repeatable)")
	fl.StringArrayVar(&f.webOrigins, "web-origin", nil, "browser origin (scheme://host[:port]) allowed to call the token, userinfo, revocation and JWKS endpoints (CORS; repeatable)")
	fl.StringArrayVar(&f.grantTypes, "grant-type", nil, "authorization_code, refresh_token or client_credentials (repeatable; default authorization_code and refresh_token)")
	fl.StringVar(&f.scope, "scope", clientreg.DefaultScope, "space-separated scopes the client may request")
	fl.BoolVar(&f.public, "public", false, "public client (SPA, native app): no secret, PKCE only")
	fl.StringVar(&f.id, "id", "", "client ID (default generated)")
	fl.StringVar(&f.secret, "secret", "", "client secret (default generated)")
	fl.BoolVar(&f.skipConsent, "skip-consent", false, "do not ask users for consent (first-party clients)")
	fl.BoolVar(&f.requireMFA, "require-mfa", false, "users signing in to this client must give a second factor (and enroll one if they have none)")

	clients.AddCommand(create,
		&cobra.Command{
			Use: "list", Short: "List clients", Args: cobra.NoArgs,
			RunE: a.withAdmin(func(ctx context.Context, b adminBackend, _ []string) error {
				list, err := b.ListClients(ctx)
				if err != nil {
					return err
				}
				return a.print(list, clientTable(list...))
			}),
		},
		&cobra.Command{
			Use: "get ID", Short: "Print one client", Args: cobra.ExactArgs(1),
			RunE: a.withAdmin(func(ctx context.Context, b adminBackend, args []string) error {
				v, err := b.GetClient(ctx, args[0])
				if err != nil {
					return err
				}
				return a.print(v, clientTable(v))
			}),
		},
		&cobra.Command{
			Use: "delete ID", Short: "Delete a client and print what was deleted", Args: cobra.ExactArgs(1),
			RunE: a.withAdmin(func(ctx context.Context, b adminBackend, args []string) error {
				v, err := b.DeleteClient(ctx, args[0])
				if err != nil {
					return err
				}
				return a.print(v, clientTable(v))
			}),
		},
	)
	return clients
}

// registration validates the flags; every problem is a usage error, found
// before anything is opened or written.
func (f *clientFlags) registration() (clientreg.Registration, error) {
	r := clientreg.Registration{
		ClientID: f.id, ClientSecret: f.secret, ClientName: f.name, RedirectURIs: f.redirectURIs,
		PostLogoutRedirectURIs: f.postLogoutURIs, WebOrigins: f.webOrigins, GrantTypes: f.grantTypes, Scope: f.scope, SkipConsent: f.skipConsent,
	}
	r.RequireMFA = f.requireMFA
	if f.public {
		r.TokenEndpointAuthMethod = clientreg.AuthNone
	}
	_, _, err := r.Build(time.Now())
	var fe *clientreg.FieldError
	if errors.As(err, &fe) {
		return r, usagef("%s %s", flagOf[fe.Field], fe.Problem)
	}
	return r, err
}

// clientTable is the --output table form of clients.
func clientTable(views ...clientreg.View) [][]string {
	rows := [][]string{{"CLIENT_ID", "NAME", "AUTH", "GRANTS", "SCOPE", "SECRET"}}
	for _, v := range views {
		rows = append(rows, []string{v.ClientID, v.ClientName, v.TokenEndpointAuthMethod, strings.Join(v.GrantTypes, ","), v.Scope, v.ClientSecret})
	}
	return rows
}
