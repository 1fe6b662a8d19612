package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate/tollgate/keyring"
)

func (a *app) keysCommand() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Inspect and rotate token signing keys"}
	list := func(ctx context.Context, e *env) error {
		all, err := e.keys.Keys(ctx)
		if err != nil {
			return err
		}
		return a.printJSON(keyring.Infos(all))
	}
	keys.AddCommand(
		&cobra.Command{
			Use: "list", Short: "List signing keys as JSON", Args: cobra.NoArgs,
			RunE: a.withEnv(func(ctx context.Context, e *env, _ []string) error {
				if err := e.keys.Ensure(ctx); err != nil {
					return fmt.Errorf("signing keys: %w", err)
				}
				return list(ctx, e)
			}),
		},
		&cobra.Command{
			Use:   "rotate",
			Short: "Sign with the published next key; keep the current one published until its tokens expire",
			Args:  cobra.NoArgs,
			RunE: a.withEnv(func(ctx context.Context, e *env, _ []string) error {
				if err := e.keys.Rotate(ctx, retention(e)); err != nil {
					return fmt.Errorf("rotate keys: %w", err)
				}
				return list(ctx, e)
			}),
		},
	)
	return keys
}

// retention is how long a retired key stays published: the longest life of
// a token it may have signed.
func retention(e *env) time.Duration {
	return max(time.Duration(e.cfg.AccessTokenLifetime), time.Duration(e.cfg.IDTokenLifetime))
}
