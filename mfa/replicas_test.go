package mfa

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// TestReplicasWithSkewedClocks: three replicas on one database, one on
// time, one 30 s ahead and one 30 s behind. The code an authenticator shows
// (on time) is good at whichever replica checks it, once: a replica that
// sees it as a step ahead or behind still takes it, and a replay at another
// replica is refused, because the last step used is kept in the database.
func TestReplicasWithSkewedClocks(t *testing.T) {
	for name, open := range map[string]func(testing.TB) storage.Store{
		"sqlite": testbackend.SQLite, "postgres": testbackend.Postgres,
	} {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			ctx := context.Background()
			device := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // the authenticator's clock
			var replicas []*Factors
			for _, offset := range []time.Duration{0, 30 * time.Second, -30 * time.Second} {
				f, err := New(store, secret, "tollgate.test")
				if err != nil {
					t.Fatal(err)
				}
				f.now = func() time.Time { return device.Add(offset) }
				replicas = append(replicas, f)
			}
			for i, at := range []int{0, 1, 2} {
				user := []string{"on-time", "ahead", "behind"}[i]
				if err := store.CreateUser(ctx, storage.User{ID: user, Email: user + "@example.com", CreatedAt: device, UpdatedAt: device}); err != nil {
					t.Fatal(err)
				}
				// Enrolled at the replica on time, with the previous step's
				// code, as the tests of the hosted pages do.
				e, err := replicas[0].Begin(ctx, user, user+"@example.com")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := replicas[0].Confirm(ctx, user, code(t, e.Secret, device.Add(-30*time.Second))); err != nil {
					t.Fatal(err)
				}
				now := code(t, e.Secret, device)
				if _, err := replicas[at].Verify(ctx, user, now); err != nil {
					t.Errorf("the authenticator's current code at the replica %s: %v", user, err)
				}
				for other := range replicas {
					if _, err := replicas[other].Verify(ctx, user, now); err == nil {
						t.Errorf("the code used at the replica %s was taken again at replica %d", user, other)
					}
				}
				// Two steps off the checking replica's clock is refused
				// everywhere it is two steps off.
				if _, err := replicas[2].Verify(ctx, user, code(t, e.Secret, device.Add(60*time.Second))); err == nil {
					t.Errorf("a code 90 s ahead of the replica behind was accepted")
				}
			}
		})
	}
}
