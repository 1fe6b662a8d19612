package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate/tollgate/clientreg"
	"github.com/tollgate/tollgate/storage"
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
}

type clientFlags struct {
	id, name, secret, scope      string
	redirectURIs, postLogoutURIs []string
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
			c, secret, err := f.client()
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
	fl.StringArrayVar(&f.grantTypes, "grant-type", nil, "authorization_code, refresh_token or client_credentials (repeatable; default authorization_code and refresh_token)")
	fl.StringVar(&f.scope, "scope", clientreg.DefaultScope, "space-separated scopes the client may request")
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
				out := make([]clientreg.View, 0, len(list))
				for _, c := range list {
					out = append(out, clientreg.ViewOf(c))
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
				return a.printJSON(clientreg.ViewOf(c))
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
				return a.printJSON(clientreg.ViewOf(c))
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
	err := e.store.CreateClient(ctx, c)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return fmt.Errorf("a client with id %q already exists", c.ID)
	}
	if err != nil {
		return fmt.Errorf("create client: %w", err)
	}
	out := clientreg.ViewOf(c)
	out.ClientSecret = secret
	return a.printJSON(out)
}

// client validates the flags into a registration; every problem is a usage
// error, found before anything is opened or written.
func (f *clientFlags) client() (storage.Client, string, error) {
	r := clientreg.Registration{
		ClientID: f.id, ClientSecret: f.secret, ClientName: f.name, RedirectURIs: f.redirectURIs,
		PostLogoutRedirectURIs: f.postLogoutURIs, GrantTypes: f.grantTypes, Scope: f.scope, SkipConsent: f.skipConsent,
	}
	if f.public {
		r.TokenEndpointAuthMethod = clientreg.AuthNone
	}
	c, secret, err := r.Build(time.Now().UTC().Truncate(time.Second))
	var fe *clientreg.FieldError
	if errors.As(err, &fe) {
		return c, "", usagef("%s %s", flagOf[fe.Field], fe.Problem)
	}
	return c, secret, err
}
