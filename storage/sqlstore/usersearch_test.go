package sqlstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// TestSearchUsersFoldingBatches: on SQLite, a name query with letters
// other than ASCII ones is matched in batches; pages that cross batches
// neither repeat nor miss a user, and a match past the first batches is
// found.
func TestSearchUsersFoldingBatches(t *testing.T) {
	s := testbackend.SQLite(t)
	ctx := t.Context()
	tx, err := s.BeginTx(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	var want []string
	const users = 1234
	for i := range users {
		u := storage.User{ID: fmt.Sprintf("u%05d", i), Name: "Plain", CreatedAt: now, UpdatedAt: now}
		switch {
		case i == users-1:
			u.Name = "Último"
		case i%3 == 0:
			u.Name = fmt.Sprintf("ÑANDÚ %d", i)
			want = append(want, u.ID)
		}
		if err := s.CreateUser(tx, u); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	var got []string
	q := storage.UserQuery{Name: "ñandú", Limit: 70}
	for {
		page, err := s.SearchUsers(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range page {
			got = append(got, u.ID)
		}
		if len(page) < q.Limit {
			break
		}
		q.After = page[len(page)-1].ID
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("paged folding search: %d users, want %d", len(got), len(want))
	}
	last, err := s.SearchUsers(ctx, storage.UserQuery{Name: "ÚLTIMO", Limit: 10})
	if err != nil || len(last) != 1 || last[0].ID != fmt.Sprintf("u%05d", users-1) {
		t.Fatalf("the last user by a folded name: %+v %v", last, err)
	}
}
