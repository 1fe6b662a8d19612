package admin

import (
	"fmt"
	"slices"
	"strings"
)

// RoleAdmin lets a user into the admin console.
const RoleAdmin = "admin"

// KnownRoles are the roles a user may be given.
var KnownRoles = []string{RoleAdmin}

// CheckRoles validates roles and returns them sorted, without duplicates,
// never nil (so an empty list prints as []).
func CheckRoles(roles []string) ([]string, error) {
	out := []string{}
	for _, r := range roles {
		r = strings.TrimSpace(r)
		if !slices.Contains(KnownRoles, r) {
			return nil, fmt.Errorf("role %q is not known (want one of %s)", r, strings.Join(KnownRoles, ", "))
		}
		if !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	slices.Sort(out)
	return out, nil
}

// HasRole reports whether roles include role.
func HasRole(roles []string, role string) bool { return slices.Contains(roles, role) }
