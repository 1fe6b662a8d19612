package server_test

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// TestAdminAPIUserSearch: GET /admin/v1/users pages through many users in
// ID order with no repeat and no gap, each page of page_size with a
// next_page_token only when more follow; email, name and status filter in
// any combination; % and _ in a search are plain characters.
func TestAdminAPIUserSearch(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Second)
		all := []string{e.user.ID}
		var disabled []string
		for i := range 120 {
			u := storage.User{
				ID: fmt.Sprintf("search-%03d", i), Email: fmt.Sprintf("member%03d@club.example", i),
				Name: fmt.Sprintf("Member %03d", i), Disabled: i%4 == 0, CreatedAt: now, UpdatedAt: now,
			}
			switch i {
			case 7:
				u.Email, u.Name = "a_b@odd.example", "Fifty% Off"
			case 8:
				u.Email, u.Name = "axb@odd.example", "Fifty Percent"
			}
			if err := e.store.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			all = append(all, u.ID)
			if u.Disabled {
				disabled = append(disabled, u.ID)
			}
		}
		slices.Sort(all)

		// list follows next_page_token from the first page to the last.
		list := func(query url.Values) (ids []string, pages int) {
			t.Helper()
			for token := ""; ; pages++ {
				q := url.Values{}
				for k, v := range query {
					q[k] = v
				}
				if token != "" {
					q.Set("page_token", token)
				}
				status, page, _ := e.adminCall(adminToken, "GET", "/users?"+q.Encode(), nil)
				if status != http.StatusOK {
					t.Fatalf("GET /users?%s: %d %v", q.Encode(), status, page)
				}
				for _, item := range page["items"].([]any) {
					ids = append(ids, item.(map[string]any)["id"].(string))
				}
				next, _ := page["next_page_token"].(string)
				if next == "" {
					return ids, pages + 1
				}
				if next != ids[len(ids)-1] {
					t.Fatalf("next_page_token %q is not the page's last ID %q", next, ids[len(ids)-1])
				}
				token = next
			}
		}
		same := func(what string, got, want []string) {
			t.Helper()
			if !slices.Equal(got, want) {
				t.Fatalf("%s: got %d users %q, want %d %q", what, len(got), got, len(want), want)
			}
		}

		got, pages := list(url.Values{"page_size": {"50"}})
		same("every user in pages of 50", got, all)
		if pages != 3 {
			t.Fatalf("121 users in pages of 50: %d pages", pages)
		}
		got, pages = list(url.Values{"page_size": {"121"}})
		if same("one full page", got, all); pages != 1 {
			t.Fatalf("121 users in a page of 121: %d pages (no next_page_token on an exact fit)", pages)
		}
		got, _ = list(url.Values{})
		same("default page size", got, all)
		got, _ = list(url.Values{"status": {"disabled"}, "page_size": {"7"}})
		same("disabled users in pages of 7", got, disabled)
		got, _ = list(url.Values{"email": {"MEMBER11"}, "page_size": {"3"}})
		same("email part", got, []string{"search-110", "search-111", "search-112", "search-113", "search-114", "search-115", "search-116", "search-117", "search-118", "search-119"})
		got, _ = list(url.Values{"email": {"member11"}, "status": {"active"}})
		same("email and status", got, []string{"search-110", "search-111", "search-113", "search-114", "search-115", "search-117", "search-118", "search-119"})
		got, _ = list(url.Values{"name": {"member 10"}, "email": {"club"}})
		same("name and email", got, []string{"search-100", "search-101", "search-102", "search-103", "search-104", "search-105", "search-106", "search-107", "search-108", "search-109"})
		got, _ = list(url.Values{"email": {"a_b"}})
		same("_ in an email search", got, []string{"search-007"})
		got, _ = list(url.Values{"name": {"fifty%"}})
		same("% in a name search", got, []string{"search-007"})
		got, _ = list(url.Values{"name": {"nobody"}})
		same("no match", got, nil)

		for _, bad := range []string{"page_size=0", "page_size=501", "status=gone"} {
			if status, body, _ := e.adminCall(adminToken, "GET", "/users?"+bad, nil); status != http.StatusBadRequest {
				t.Fatalf("GET /users?%s: %d %v", bad, status, body)
			}
		}
	})
}

// TestConsoleUserSearchPages: the console's search matches the email
// address or the name, and pages through every match, 50 a page, with
// "Next page" links that keep the search and the status.
func TestConsoleUserSearchPages(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		consoleUsers(t, e)
		now := time.Now().UTC().Truncate(time.Second)
		var byEmail, byName, active []string
		for i := range 130 {
			// Odd users match "Zebra" by email, even ones by name.
			u := storage.User{ID: fmt.Sprintf("zebra-%03d", i), Email: fmt.Sprintf("z%03d@example.com", i),
				Name: "Plain Name", Disabled: i%5 == 0, CreatedAt: now, UpdatedAt: now}
			if i%2 == 1 {
				u.Email = fmt.Sprintf("zebra%03d@example.com", i)
			} else {
				u.Name = fmt.Sprintf("Zebra %03d", i)
			}
			if err := e.store.CreateUser(ctx, u); err != nil {
				t.Fatal(err)
			}
			if i%2 == 1 {
				byEmail = append(byEmail, u.ID)
			} else {
				byName = append(byName, u.ID)
			}
			if !u.Disabled {
				active = append(active, u.ID)
			}
		}
		all := slices.Sorted(slices.Values(append(byEmail, byName...)))
		b, _ := consoleSignIn(t, e, testEmail)

		userLink := regexp.MustCompile(`href="/admin/users/(zebra-\d+)"`)
		nextLink := regexp.MustCompile(`<p class="pager"><a href="([^"]+)">Next page`)
		follow := func(path string) (ids []string, pages int) {
			t.Helper()
			for ; path != ""; pages++ {
				p := b.get(e.issuer + path)
				if p.status != http.StatusOK {
					t.Fatalf("%s: %d", path, p.status)
				}
				matches := userLink.FindAllStringSubmatch(p.body, -1)
				if len(matches) > 50 {
					t.Fatalf("%s: %d users on one page", path, len(matches))
				}
				for _, m := range matches {
					ids = append(ids, m[1])
				}
				path = ""
				if m := nextLink.FindStringSubmatch(p.body); m != nil {
					path = html.UnescapeString(m[1])
				}
			}
			return ids, pages
		}
		got, pages := follow("/admin/users?q=ZEBRA")
		if !slices.Equal(got, all) || pages != 3 {
			t.Fatalf("search by email or name: %d users in %d pages, want %d in 3", len(got), pages, len(all))
		}
		got, _ = follow("/admin/users?q=zebra&status=active")
		if !slices.Equal(got, active) {
			t.Fatalf("search of active users: %d users, want %d", len(got), len(active))
		}
		if got, _ = follow("/admin/users?q=zebra1"); len(got) != 15 {
			t.Fatalf("search zebra1: %d users, want 15 (%q)", len(got), got)
		}
	})
}
