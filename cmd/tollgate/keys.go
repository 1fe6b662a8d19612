package main

import (
	"context"
	"time"

	"github.com/spf13/cobra"

	"github.com/tollgate/tollgate/keyring"
)

func (a *app) keysCommand() *cobra.Command {
	keys := &cobra.Command{Use: "keys", Short: "Inspect and rotate token signing keys"}
	keys.AddCommand(
		&cobra.Command{
			Use: "list", Short: "List signing keys", Args: cobra.NoArgs,
			RunE: a.withAdmin(func(ctx context.Context, b adminBackend, _ []string) error {
				list, err := b.ListKeys(ctx)
				if err != nil {
					return err
				}
				return a.print(list, keyTable(list))
			}),
		},
		&cobra.Command{
			Use:   "rotate",
			Short: "Sign with the published next key; keep the current one published until its tokens expire",
			Args:  cobra.NoArgs,
			RunE: a.withAdmin(func(ctx context.Context, b adminBackend, _ []string) error {
				list, err := b.RotateKeys(ctx)
				if err != nil {
					return err
				}
				return a.print(list, keyTable(list))
			}),
		},
	)
	return keys
}

// keyTable is the --output table form of keys.
func keyTable(keys []keyring.Info) [][]string {
	rows := [][]string{{"KID", "ALG", "STATE", "CREATED", "RETIRES"}}
	for _, k := range keys {
		retires := ""
		if k.RetiresAt != nil {
			retires = k.RetiresAt.Format(time.RFC3339)
		}
		rows = append(rows, []string{k.KID, k.Algorithm, k.State, k.CreatedAt.Format(time.RFC3339), retires})
	}
	return rows
}
