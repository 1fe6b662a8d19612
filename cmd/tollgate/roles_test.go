package main

import (
	"slices"
	"testing"

	"github.com/tollgate/tollgate/server/admin"
)

// users create --role admin gives the role; an unknown role is a usage
// error that creates nothing.
func TestUserCreateWithRole(t *testing.T) {
	deployments(t, func(t *testing.T, c cli) {
		var u admin.UserView
		c.ok(&u, "", "users", "create", "--email", "root@example.com", "--role", "admin")
		if !slices.Equal(u.Roles, []string{"admin"}) {
			t.Fatalf("roles = %v, want [admin]", u.Roles)
		}
		c.ok(&u, "", "users", "get", "root@example.com")
		if !slices.Equal(u.Roles, []string{"admin"}) {
			t.Fatalf("stored roles = %v, want [admin]", u.Roles)
		}
		c.ok(&u, "", "users", "create", "--email", "plain@example.com")
		if u.Roles == nil || len(u.Roles) != 0 {
			t.Fatalf("roles of a plain user = %#v, want []", u.Roles)
		}
		c.fails(2, "--role", "", "users", "create", "--email", "x@example.com", "--role", "superuser")
		c.fails(1, "no user", "", "users", "get", "x@example.com")
	})
}
