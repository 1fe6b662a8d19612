package main

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// TestRemoteUsers: with --endpoint, every users command goes through a
// running server's admin API, on SQLite and on PostgreSQL + Redis, with
// the same answers as on the local database: JSON by default, a table on
// request, the server's password policy, and the same errors.
func TestRemoteUsers(t *testing.T) {
	const token = "remote-admin-token-0123456789abcdefghij"
	for name, environ := range map[string]func(t *testing.T) []string{
		"sqlite": func(t *testing.T) []string {
			return []string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "data")}
		},
		"postgres+redis": func(t *testing.T) []string {
			return []string{
				"TOLLGATE_DATABASE_URL=" + testbackend.PostgresURL(t), "TOLLGATE_REDIS_URL=" + testbackend.RedisURL(t),
				"TOLLGATE_SECRET=cli-test-secret-0123456789-abcdefghijklmn",
			}
		},
	} {
		t.Run(name, func(t *testing.T) {
			env := environ(t)
			issuer := startServe(t, append(env, "TOLLGATE_ADMIN_TOKEN="+token)...)
			localDir := filepath.Join(t.TempDir(), "none")
			c := cli{t, []string{"TOLLGATE_DATA_DIR=" + localDir, "TOLLGATE_ENDPOINT=" + issuer, "TOLLGATE_TOKEN=" + token}}

			var u admin.UserView
			c.ok(&u, "violet kettle under nine moons\n", "users", "create", "--email", "Grace@Example.com", "--name", "Grace Hopper", "--password-stdin", "--verified")
			if u.ID == "" || u.Email != "grace@example.com" || !u.EmailVerified || !u.HasPassword || u.Disabled {
				t.Fatalf("created: %+v", u)
			}
			c.fails(exitFailure, "already exists", "", "users", "create", "--email", "grace@example.com")
			c.fails(exitUsage, "too easy to guess", "Password123!\n", "users", "create", "--email", "lin@example.com", "--password-stdin")
			c.fails(exitUsage, "not an email", "", "users", "create", "--email", "nope")

			var got admin.UserView
			c.ok(&got, "", "users", "get", "GRACE@example.com")
			if got.ID != u.ID {
				t.Fatalf("get by email: %+v", got)
			}
			c.ok(&got, "", "users", "update", u.ID, "--name", "Grace B. Hopper", "--verified=false")
			if got.Name != "Grace B. Hopper" || got.EmailVerified {
				t.Fatalf("update: %+v", got)
			}
			c.fails(exitUsage, "nothing to change", "", "users", "update", u.ID)
			c.ok(&got, "", "users", "disable", "grace@example.com")
			if !got.Disabled {
				t.Fatalf("disable: %+v", got)
			}
			var list []admin.UserView
			c.ok(&list, "", "users", "list")
			if len(list) != 1 || !list[0].Disabled {
				t.Fatalf("list: %+v", list)
			}
			table := c.run("", "--output", "table", "users", "list")
			if table.code != 0 || !strings.HasPrefix(table.stdout, "ID") || !strings.Contains(table.stdout, "grace@example.com") {
				t.Fatalf("table: %+v", table)
			}
			c.ok(&got, "", "users", "enable", u.ID)
			if got.Disabled {
				t.Fatalf("enable: %+v", got)
			}
			c.ok(&got, "", "users", "sign-out", u.ID)
			if got.ID != u.ID {
				t.Fatalf("sign-out: %+v", got)
			}
			c.ok(nil, "", "users", "delete", "grace@example.com")
			c.fails(exitFailure, "no user", "", "users", "get", u.ID)
			c.fails(exitFailure, "no user", "", "users", "get", "grace@example.com")
			c.fails(exitFailure, "no user", "", "users", "delete", u.ID)

			// The server recorded each change, with the token's actor.
			var events struct {
				Items []admin.AuditEventView `json:"items"`
			}
			remoteGet(t, issuer+"/admin/v1/audit-events?user="+u.ID, token, &events)
			seen := map[string]bool{}
			for _, ev := range events.Items {
				seen[ev.Type] = ev.Actor == "admin_token"
			}
			for _, typ := range []string{"admin.user.created", "admin.user.updated", "admin.user.disabled", "admin.user.enabled", "admin.user.signed_out", "admin.user.deleted"} {
				if !seen[typ] {
					t.Errorf("no %s event by the admin token: %+v", typ, events.Items)
				}
			}

			bad := cli{t, []string{"TOLLGATE_ENDPOINT=" + issuer, "TOLLGATE_TOKEN=wrong-token"}}
			bad.fails(exitFailure, "bearer token", "", "users", "list")
			if _, err := os.Stat(localDir); !os.IsNotExist(err) {
				t.Fatal("remote commands created a local data directory")
			}
		})
	}
}

// remoteGet GETs an admin API URL with the token and decodes the answer.
func remoteGet(t *testing.T, u, token string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", u, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestLocalUserChanges: update, enable and sign-out work on the local
// database too, through the same input rules as the API.
func TestLocalUserChanges(t *testing.T) {
	deployments(t, func(t *testing.T, c cli) {
		var u admin.UserView
		c.ok(&u, "", "users", "create", "--email", "lin@example.com")
		if u.HasPassword {
			t.Fatalf("created: %+v", u)
		}
		c.ok(&u, "violet kettle under nine moons\n", "users", "update", "lin@example.com", "--name", "Lin", "--password-stdin")
		if u.Name != "Lin" || !u.HasPassword {
			t.Fatalf("update: %+v", u)
		}
		c.fails(exitUsage, "at most 200 characters", "", "users", "update", u.ID, "--email", "x@example.com", "--name", strings.Repeat("n", 201))
		c.fails(exitUsage, "too easy to guess", "Password123!\n", "users", "update", u.ID, "--password-stdin")
		c.ok(&u, "", "users", "disable", u.ID)
		c.ok(&u, "", "users", "enable", u.ID)
		if u.Disabled {
			t.Fatalf("enable: %+v", u)
		}
		c.ok(nil, "", "users", "sign-out", u.ID)
		c.fails(exitFailure, "no user", "", "users", "enable", "nobody@example.com")
	})
}
