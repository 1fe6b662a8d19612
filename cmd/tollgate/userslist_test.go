package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/sqlstore"
)

// TestPrintUsersAsBefore: users list prints page by page exactly what it
// printed when it printed one whole list, as JSON and as a table,
// whatever the pages.
func TestPrintUsersAsBefore(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	var users []admin.UserView
	for i := range 5 {
		users = append(users, admin.UserView{
			ID: fmt.Sprintf("id-%d", i), Email: fmt.Sprintf("u%d@example.com", i), Name: strings.Repeat("<Ada & Co> ", i),
			Disabled: i%2 == 0, Roles: []string{}, CreatedAt: at, UpdatedAt: at,
		})
	}
	for _, output := range []string{outputJSON, outputTable} {
		for n := range len(users) + 1 {
			for _, size := range []int{1, 2, 5} {
				list := users[:n]
				var want, got bytes.Buffer
				before := &app{stdout: &want, output: output}
				if err := before.print(list, userTable(list...)); err != nil {
					t.Fatal(err)
				}
				now := &app{stdout: &got, output: output}
				err := now.printUsers(func(page func([]admin.UserView) error) error {
					for rest := list; len(rest) > 0; rest = rest[min(size, len(rest)):] {
						if err := page(rest[:min(size, len(rest))]); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if got.String() != want.String() {
					t.Fatalf("%s, %d users in pages of %d:\n got %q\nwant %q", output, n, size, got.String(), want.String())
				}
			}
		}
	}
}

// TestUsersListPages: with more users than fit in a page of the database
// or of the admin API, users list prints every user once, in ID order,
// locally and remotely, on SQLite and on PostgreSQL + Redis.
func TestUsersListPages(t *testing.T) {
	const token = "remote-admin-token-0123456789abcdefghij"
	const users = 2*userPageSize + 7
	deployments(t, func(t *testing.T, c cli) {
		c.ok(nil, "", "users", "list") // migrates the embedded database
		dsn := envValue(c.environ, "TOLLGATE_DATABASE_URL")
		if dsn == "" {
			dsn = "sqlite:" + filepath.Join(envValue(c.environ, "TOLLGATE_DATA_DIR"), "tollgate.db")
		}
		want := seedUsers(t, dsn, users)

		check := func(how string, args ...string) {
			var list []admin.UserView
			c.ok(&list, "", args...)
			got := make([]string, len(list))
			for i, u := range list {
				got[i] = u.ID
			}
			if !slices.Equal(got, want) {
				t.Fatalf("%s: %d users listed, want %d in ID order", how, len(got), len(want))
			}
			table := c.run("", append([]string{"--output", "table"}, args...)...)
			if lines := strings.Count(table.stdout, "\n"); table.code != 0 || lines != users+1 {
				t.Fatalf("%s as a table: exit %d, %d lines", how, table.code, lines)
			}
		}
		check("local", "users", "list")

		issuer := startServe(t, append(slices.Clone(c.environ), "TOLLGATE_ADMIN_TOKEN="+token)...)
		check("remote", "--endpoint", issuer, "--token", token, "users", "list")
		// The remote get by email finds a user on a later page.
		var got admin.UserView
		c.ok(&got, "", "--endpoint", issuer, "--token", token, "users", "get", fmt.Sprintf("USER%04d@example.com", users-1))
		if got.Email != fmt.Sprintf("user%04d@example.com", users-1) {
			t.Fatalf("remote get by email: %+v", got)
		}
	})
}

// seedUsers creates n users straight in the database, in one transaction,
// and returns their IDs in order.
func seedUsers(t *testing.T, dsn string, n int) []string {
	t.Helper()
	ctx := context.Background()
	store, err := sqlstore.Open(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tx, err := store.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, n)
	now := time.Now().UTC().Truncate(time.Second)
	for i := range n {
		// IDs in the opposite order to creation: the list follows IDs.
		ids[i] = fmt.Sprintf("seeded-%04d", n-i)
		u := storage.User{ID: ids[i], Email: fmt.Sprintf("user%04d@example.com", i), Name: "Seeded", CreatedAt: now, UpdatedAt: now}
		if err := store.CreateUser(tx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Commit(tx); err != nil {
		t.Fatal(err)
	}
	slices.Sort(ids)
	return ids
}
