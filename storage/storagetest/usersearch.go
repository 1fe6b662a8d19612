package storagetest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/storage"
)

// searchIDs runs q and returns the IDs it found, in order.
func searchIDs(t *testing.T, s storage.Store, q storage.UserQuery) []string {
	t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	list, err := s.SearchUsers(t.Context(), q)
	mustNil(t, fmt.Sprintf("search %+v", q), err)
	ids := make([]string, len(list))
	for i, u := range list {
		ids[i] = u.ID
	}
	return ids
}

func wantIDs(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("%s: got %q, want %q", what, got, want)
	}
}

// testSearchUsersFilters: email and name match a part, ignoring case; both
// together must both match; status selects active or disabled users; the
// answer is in ID order and holds whole users.
func testSearchUsersFilters(t *testing.T, s storage.Store) {
	ctx := t.Context()
	users := []storage.User{
		newUser("u3", "ada@example.com"),
		newUser("u1", "Grace.Hopper@Navy.MIL"),
		newUser("u2", "linus@kernel.org"),
		newUser("u4", ""),
	}
	users[0].Name, users[1].Name, users[2].Name, users[3].Name = "Ada Lovelace", "Grace Hopper", "Linus Torvalds", "Ada Without Mail"
	users[2].Disabled = true
	for _, u := range users {
		mustNil(t, "create "+u.ID, s.CreateUser(ctx, u))
	}

	wantIDs(t, "everyone", searchIDs(t, s, storage.UserQuery{}), "u1", "u2", "u3", "u4")
	wantIDs(t, "email part", searchIDs(t, s, storage.UserQuery{Email: "example"}), "u3")
	wantIDs(t, "email, other case", searchIDs(t, s, storage.UserQuery{Email: "HOPPER@navy"}), "u1")
	wantIDs(t, "email of everyone with one", searchIDs(t, s, storage.UserQuery{Email: "@"}), "u1", "u2", "u3")
	wantIDs(t, "email nobody has", searchIDs(t, s, storage.UserQuery{Email: "nobody"}))
	wantIDs(t, "name part", searchIDs(t, s, storage.UserQuery{Name: "ada"}), "u3", "u4")
	wantIDs(t, "name, other case", searchIDs(t, s, storage.UserQuery{Name: "TORVALDS"}), "u2")
	wantIDs(t, "name across words", searchIDs(t, s, storage.UserQuery{Name: "e h"}), "u1")
	wantIDs(t, "email and name", searchIDs(t, s, storage.UserQuery{Email: "example", Name: "ada"}), "u3")
	wantIDs(t, "email and another's name", searchIDs(t, s, storage.UserQuery{Email: "kernel", Name: "ada"}))
	wantIDs(t, "active", searchIDs(t, s, storage.UserQuery{Status: storage.UsersActive}), "u1", "u3", "u4")
	wantIDs(t, "disabled", searchIDs(t, s, storage.UserQuery{Status: storage.UsersDisabled}), "u2")
	wantIDs(t, "disabled by name", searchIDs(t, s, storage.UserQuery{Status: storage.UsersDisabled, Name: "linus"}), "u2")
	wantIDs(t, "active by name", searchIDs(t, s, storage.UserQuery{Status: storage.UsersActive, Name: "linus"}))

	got, err := s.SearchUsers(ctx, storage.UserQuery{Name: "grace", Limit: 10})
	mustNil(t, "search grace", err)
	want := users[1]
	want.Email = "grace.hopper@navy.mil"
	if len(got) != 1 {
		t.Fatalf("search grace: %d users", len(got))
	}
	equal(t, "search grace", got[0], want)

	if _, err := s.SearchUsers(ctx, storage.UserQuery{}); err == nil {
		t.Fatal("search without a limit: no error")
	}
	if _, err := s.SearchUsers(ctx, storage.UserQuery{Status: "gone", Limit: 10}); err == nil {
		t.Fatal("search with an unknown status: no error")
	}
}

// testSearchUsersEscaping: %, _ and the backends' escape characters in
// the query are matched literally, never as wildcards.
func testSearchUsersEscaping(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, u := range []struct{ id, email, name string }{
		{"e1", "a_b@example.com", "100% Sure"},
		{"e2", "axb@example.com", "100 Percent"},
		{"e3", "a!b@example.com", `Back\slash`},
		{"e4", "a%b@example.com", "Under_score"},
		{"e5", "ab@example.com", "Underscore"},
	} {
		nu := newUser(u.id, u.email)
		nu.Name = u.name
		mustNil(t, "create "+u.id, s.CreateUser(ctx, nu))
	}
	wantIDs(t, "email _", searchIDs(t, s, storage.UserQuery{Email: "a_b"}), "e1")
	wantIDs(t, "email %", searchIDs(t, s, storage.UserQuery{Email: "a%b"}), "e4")
	wantIDs(t, "email !", searchIDs(t, s, storage.UserQuery{Email: "a!b"}), "e3")
	wantIDs(t, "email % alone", searchIDs(t, s, storage.UserQuery{Email: "%"}), "e4")
	wantIDs(t, "email _ alone", searchIDs(t, s, storage.UserQuery{Email: "_"}), "e1")
	wantIDs(t, "name %", searchIDs(t, s, storage.UserQuery{Name: "0%"}), "e1")
	wantIDs(t, "name _", searchIDs(t, s, storage.UserQuery{Name: "r_s"}), "e4")
	wantIDs(t, `name \`, searchIDs(t, s, storage.UserQuery{Name: `k\s`}), "e3")
	wantIDs(t, "name quote", searchIDs(t, s, storage.UserQuery{Name: `'`}))
}

// testSearchUsersPages: following the cursor visits every matching user
// exactly once, in ID order, whatever the page size; a cursor that is no
// user's ID still works.
func testSearchUsersPages(t *testing.T, s storage.Store) {
	ctx := t.Context()
	var all, active []string
	for i := range 23 {
		u := newUser(fmt.Sprintf("p%02d", i), fmt.Sprintf("user%02d@example.com", i))
		u.Disabled = i%3 == 0
		mustNil(t, "create "+u.ID, s.CreateUser(ctx, u))
		all = append(all, u.ID)
		if !u.Disabled {
			active = append(active, u.ID)
		}
	}
	for _, size := range []int{1, 5, 7, 23, 24, 100} {
		for _, c := range []struct {
			status storage.UserStatus
			want   []string
		}{{storage.UsersAll, all}, {storage.UsersActive, active}} {
			var seen []string
			q := storage.UserQuery{Status: c.status, Email: "@example", Limit: size}
			for pages := 0; ; pages++ {
				if pages > len(c.want)+1 {
					t.Fatalf("size %d, %q: more pages than users", size, c.status)
				}
				page := searchIDs(t, s, q)
				if len(page) > size {
					t.Fatalf("size %d: a page of %d", size, len(page))
				}
				seen = append(seen, page...)
				if len(page) < size {
					break
				}
				q.After = page[len(page)-1]
			}
			wantIDs(t, fmt.Sprintf("pages of %d, %q", size, c.status), seen, c.want...)
		}
	}
	wantIDs(t, "after an ID that is nobody's", searchIDs(t, s, storage.UserQuery{After: "p20x"}), "p21", "p22")
	wantIDs(t, "after the last", searchIDs(t, s, storage.UserQuery{After: "p22"}))

	var each []string
	mustNil(t, "each user", storage.EachUser(ctx, s, storage.UserQuery{Status: storage.UsersActive}, 4, func(page []storage.User) error {
		if len(page) == 0 || len(page) > 4 {
			t.Fatalf("EachUser: a page of %d", len(page))
		}
		for _, u := range page {
			each = append(each, u.ID)
		}
		return nil
	}))
	wantIDs(t, "EachUser", each, active...)
}

// testSearchUsersUnicode: names match ignoring the case of any letter, not
// only ASCII ones, together with the other filters and across pages.
func testSearchUsersUnicode(t *testing.T, s storage.Store) {
	ctx := t.Context()
	for _, u := range []struct {
		id, email, name string
		disabled        bool
	}{
		{"n1", "elodie@example.com", "Élodie Ünal", false},
		{"n2", "Émile@Example.com", "ÉMILE Zola", false},
		{"n3", "other@example.com", "Other Person", false},
		{"n4", "eloise@example.com", "élodie Martin", true},
	} {
		nu := newUser(u.id, u.email)
		nu.Name, nu.Disabled = u.name, u.disabled
		mustNil(t, "create "+u.id, s.CreateUser(ctx, nu))
	}
	wantIDs(t, "lower-case query", searchIDs(t, s, storage.UserQuery{Name: "élodie"}), "n1", "n4")
	wantIDs(t, "upper-case query", searchIDs(t, s, storage.UserQuery{Name: "ÜNAL"}), "n1")
	wantIDs(t, "mixed", searchIDs(t, s, storage.UserQuery{Name: "émile z"}), "n2")
	wantIDs(t, "with status", searchIDs(t, s, storage.UserQuery{Name: "ÉLODIE", Status: storage.UsersDisabled}), "n4")
	wantIDs(t, "with email", searchIDs(t, s, storage.UserQuery{Name: "élodie", Email: "eloise"}), "n4")
	wantIDs(t, "email", searchIDs(t, s, storage.UserQuery{Email: "ÉMILE@"}), "n2")
	wantIDs(t, "first page", searchIDs(t, s, storage.UserQuery{Name: "Élodie", Limit: 1}), "n1")
	wantIDs(t, "second page", searchIDs(t, s, storage.UserQuery{Name: "Élodie", After: "n1", Limit: 1}), "n4")
	wantIDs(t, "last page", searchIDs(t, s, storage.UserQuery{Name: "Élodie", After: "n4", Limit: 1}))
}
