package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
)

// keyJSON describes a signing key; never its private material.
type keyJSON struct {
	KID       string     `json:"kid"`
	Algorithm string     `json:"alg"`
	State     string     `json:"state"`
	CreatedAt time.Time  `json:"created_at"`
	RetiresAt *time.Time `json:"retires_at,omitempty"`
}

func (a *app) keysCommand() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Inspect and rotate token signing keys"}
	list := func(ctx context.Context, e *env) error {
		all, err := e.keys.Keys(ctx)
		if err != nil {
			return err
		}
		out := make([]keyJSON, 0, len(all))
		for _, k := range all {
			j := keyJSON{KID: k.ID, Algorithm: k.Algorithm, State: string(k.State), CreatedAt: k.CreatedAt}
			if !k.RetiresAt.IsZero() {
				j.RetiresAt = &k.RetiresAt
			}
			out = append(out, j)
		}
		return a.printJSON(out)
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
