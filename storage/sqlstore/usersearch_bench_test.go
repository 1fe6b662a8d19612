package sqlstore_test

import (
	"context"
	"testing"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/sqlstore"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// BenchmarkSearchUsers measures one page of the admin API's user list
// (51 users: a page of 50 and one to know that another follows) among
// 100,000 users on PostgreSQL, against loading them all as the API did
// before SearchUsers:
//
//	go test -run '^$' -bench SearchUsers -benchtime 20x ./storage/sqlstore/
func BenchmarkSearchUsers(b *testing.B) {
	const users = 100_000
	ctx := context.Background()
	s, err := sqlstore.Open(ctx, testbackend.PostgresURL(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	db, err := s.SQLDB()
	if err != nil {
		b.Fatal(err)
	}
	// One statement instead of 100,000 CreateUser calls. IDs are UUIDs in
	// no particular order, as the real ones are; every tenth user is
	// disabled.
	if _, err := db.ExecContext(ctx, `
		INSERT INTO users (id, email, email_verified, name, picture, password_hash, disabled, created_at, updated_at)
		SELECT md5(i::text)::uuid::text, 'user' || i || '@example.com', true, 'User Number ' || i, '',
		       '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', i % 10 = 0, now(), now()
		FROM generate_series(1, $1) AS i`, users); err != nil {
		b.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE users`); err != nil {
		b.Fatal(err)
	}
	middle, err := s.SearchUsers(ctx, storage.UserQuery{Limit: users / 2})
	if err != nil || len(middle) != users/2 {
		b.Fatalf("seeded: %d users, %v", len(middle), err)
	}
	for _, c := range []struct {
		name string
		q    storage.UserQuery
		want int
	}{
		{"first page", storage.UserQuery{Limit: 51}, 51},
		{"page in the middle", storage.UserQuery{After: middle[len(middle)-1].ID, Limit: 51}, 51},
		{"active users", storage.UserQuery{Status: storage.UsersActive, Limit: 51}, 51},
		{"email part, many match", storage.UserQuery{Email: "7@example", Limit: 51}, 51},
		{"name part, one matches", storage.UserQuery{Name: "number 99999", Limit: 51}, 1},
		{"email, no match (whole table)", storage.UserQuery{Email: "nobody@", Limit: 51}, 0},
		{"every user (as before)", storage.UserQuery{Limit: users + 1}, users},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				got, err := s.SearchUsers(ctx, c.q)
				if err != nil || len(got) != c.want {
					b.Fatalf("%d users, %v; want %d", len(got), err, c.want)
				}
			}
		})
	}
}
