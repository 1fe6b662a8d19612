package storagetest

import (
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tollgate/tollgate/storage"
)

// An enrollment is saved, read back, confirmed by replacing it, and goes
// away with DeleteMFA or with its user.
func testMFA(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-m", "m@example.com")))
	mustNil(t, "create user 2", s.CreateUser(ctx, newUser("user-n", "n@example.com")))
	_, err := s.GetMFA(ctx, "user-m")
	mustIs(t, "get before save", err, storage.ErrNotFound)
	mustIs(t, "save for unknown user", s.SaveMFA(ctx, storage.MFA{UserID: "nobody", SealedSecret: []byte{1}, CreatedAt: now(), UpdatedAt: now()}), storage.ErrNotFound)

	pending := storage.MFA{UserID: "user-m", SealedSecret: []byte{1, 2, 3}, CreatedAt: now(), UpdatedAt: now()}
	mustNil(t, "save pending", s.SaveMFA(ctx, pending))
	got, err := s.GetMFA(ctx, "user-m")
	mustNil(t, "get pending", err)
	equal(t, "get pending", got, pending)
	mustIs(t, "use step while pending", s.UseTOTPStep(ctx, "user-m", 10), storage.ErrNotFound)

	confirmed := pending
	confirmed.SealedSecret, confirmed.Confirmed, confirmed.LastStep, confirmed.UpdatedAt = []byte{4, 5}, true, 7, now()
	mustNil(t, "save confirmed", s.SaveMFA(ctx, confirmed))
	got, err = s.GetMFA(ctx, "user-m")
	mustNil(t, "get confirmed", err)
	equal(t, "get confirmed", got, confirmed)
	if _, err := s.GetMFA(ctx, "user-n"); err == nil {
		t.Fatal("another user's enrollment leaked")
	}

	mustNil(t, "delete", s.DeleteMFA(ctx, "user-m"))
	_, err = s.GetMFA(ctx, "user-m")
	mustIs(t, "get deleted", err, storage.ErrNotFound)
	mustNil(t, "delete again", s.DeleteMFA(ctx, "user-m"))

	mustNil(t, "save for n", s.SaveMFA(ctx, storage.MFA{UserID: "user-n", SealedSecret: []byte{9}, Confirmed: true, CreatedAt: now(), UpdatedAt: now()}))
	mustNil(t, "codes for n", s.ReplaceRecoveryCodes(ctx, "user-n", []string{"h1"}))
	mustNil(t, "delete user", s.DeleteUser(ctx, "user-n"))
	_, err = s.GetMFA(ctx, "user-n")
	mustIs(t, "get after user deleted", err, storage.ErrNotFound)
}

// A TOTP step is accepted once; an earlier step after a later one is a
// replay too; of many concurrent uses of one step exactly one wins.
func testMFAStepReplay(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-r", "r@example.com")))
	mustIs(t, "use without enrollment", s.UseTOTPStep(ctx, "user-r", 5), storage.ErrNotFound)
	mustNil(t, "save", s.SaveMFA(ctx, storage.MFA{UserID: "user-r", SealedSecret: []byte{1}, Confirmed: true, LastStep: 100, CreatedAt: now(), UpdatedAt: now()}))
	mustIs(t, "use the enrollment's step", s.UseTOTPStep(ctx, "user-r", 100), storage.ErrInactive)
	mustNil(t, "use 101", s.UseTOTPStep(ctx, "user-r", 101))
	mustIs(t, "replay 101", s.UseTOTPStep(ctx, "user-r", 101), storage.ErrInactive)
	mustNil(t, "use 103", s.UseTOTPStep(ctx, "user-r", 103))
	mustIs(t, "use 102 after 103", s.UseTOTPStep(ctx, "user-r", 102), storage.ErrInactive)
	got, err := s.GetMFA(ctx, "user-r")
	mustNil(t, "get", err)
	if got.LastStep != 103 {
		t.Fatalf("last step = %d, want 103", got.LastStep)
	}

	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			err := s.UseTOTPStep(ctx, "user-r", 200)
			switch {
			case err == nil:
				wins.Add(1)
			case !isInactive(err):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent uses of one step succeeded, want 1", wins.Load())
	}
}

// Recovery codes are spent once each, counted, replaced as a set, and
// belong to their user only.
func testRecoveryCodes(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-c", "c@example.com")))
	mustNil(t, "create user 2", s.CreateUser(ctx, newUser("user-d", "d@example.com")))
	count := func(user string, want int) {
		t.Helper()
		n, err := s.CountRecoveryCodes(ctx, user)
		mustNil(t, "count", err)
		if n != want {
			t.Fatalf("%s has %d codes left, want %d", user, n, want)
		}
	}
	count("user-c", 0)
	mustNil(t, "replace", s.ReplaceRecoveryCodes(ctx, "user-c", []string{"a", "b", "c"}))
	mustNil(t, "replace d", s.ReplaceRecoveryCodes(ctx, "user-d", []string{"d"}))
	count("user-c", 3)
	mustIs(t, "use another user's code", s.UseRecoveryCode(ctx, "user-c", "d"), storage.ErrNotFound)
	mustIs(t, "use an unknown code", s.UseRecoveryCode(ctx, "user-c", "z"), storage.ErrNotFound)
	mustNil(t, "use a", s.UseRecoveryCode(ctx, "user-c", "a"))
	mustIs(t, "use a again", s.UseRecoveryCode(ctx, "user-c", "a"), storage.ErrNotFound)
	count("user-c", 2)

	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			if err := s.UseRecoveryCode(ctx, "user-c", "b"); err == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent uses of one code succeeded, want 1", wins.Load())
	}
	count("user-c", 1)

	mustNil(t, "replace again", s.ReplaceRecoveryCodes(ctx, "user-c", []string{"x", "y"}))
	count("user-c", 2)
	mustIs(t, "old code after replace", s.UseRecoveryCode(ctx, "user-c", "c"), storage.ErrNotFound)
	mustNil(t, "new code", s.UseRecoveryCode(ctx, "user-c", "x"))
	count("user-d", 1)

	mustNil(t, "save mfa", s.SaveMFA(ctx, storage.MFA{UserID: "user-c", SealedSecret: []byte{1}, Confirmed: true, CreatedAt: now(), UpdatedAt: now()}))
	mustNil(t, "delete mfa", s.DeleteMFA(ctx, "user-c"))
	count("user-c", 0)
	count("user-d", 1)
}

func isInactive(err error) bool {
	return err != nil && errors.Is(err, storage.ErrInactive)
}
