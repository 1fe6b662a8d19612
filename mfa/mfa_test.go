package mfa

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

var secret = []byte("mfa-test-system-secret-0123456789-abcdef")

func setup(t *testing.T) (*Factors, storage.Store, *time.Time) {
	t.Helper()
	store := testbackend.SQLite(t)
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) // 5 s into a step
	f, err := New(store, secret, "tollgate.test")
	if err != nil {
		t.Fatal(err)
	}
	f.now = func() time.Time { return now }
	u := storage.User{ID: "u1", Email: "u1@example.com", CreatedAt: now, UpdatedAt: now}
	if err := store.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	return f, store, &now
}

func code(t *testing.T, key string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(key, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// The skew is one step either way, at sign-in: 30 s behind and ahead are
// accepted, 60 s either way refused, and each step counts once.
func TestVerifySkewAndReplay(t *testing.T) {
	f, store, now := setup(t)
	ctx := context.Background()
	e, err := f.Begin(ctx, "u1", "u1@example.com")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := store.GetMFA(ctx, "u1")
	if bytes.Contains(m.SealedSecret, []byte(e.Secret)) {
		t.Fatal("the secret is stored in clear")
	}
	if _, err := f.Verify(ctx, "u1", code(t, e.Secret, *now)); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("a code before confirmation: %v", err)
	}
	if _, err := f.Confirm(ctx, "u1", code(t, e.Secret, *now)); err != nil {
		t.Fatal(err)
	}
	if again, err := f.Begin(ctx, "u1", "u1@example.com"); !errors.Is(err, ErrAlreadyEnrolled) || again.Secret != "" {
		t.Fatalf("Begin after confirmation: %v", err)
	}
	*now = now.Add(5 * time.Minute)
	for _, tc := range []struct {
		shift time.Duration
		ok    bool
	}{
		{-60 * time.Second, false}, {60 * time.Second, false},
		{-30 * time.Second, true}, {-30 * time.Second, false}, // replayed
		{0, true}, {0, false}, {-30 * time.Second, false}, // an earlier step after a later one
		{30 * time.Second, true},
	} {
		amr, err := f.Verify(ctx, "u1", code(t, e.Secret, now.Add(tc.shift)))
		if tc.ok != (err == nil) || (err != nil && !errors.Is(err, ErrWrongCode)) || (tc.ok && amr != AMRTOTP) {
			t.Fatalf("code %v off: amr %q, err %v; want ok=%v", tc.shift, amr, err, tc.ok)
		}
	}
}

// Recovery codes work once each, ignoring case, spaces and dashes, and a
// new set replaces the old.
func TestRecoveryCodes(t *testing.T) {
	f, _, now := setup(t)
	ctx := context.Background()
	e, _ := f.Begin(ctx, "u1", "u1@example.com")
	codes, err := f.Confirm(ctx, "u1", code(t, e.Secret, *now))
	if err != nil || len(codes) != RecoveryCodeCount {
		t.Fatalf("confirm: %d codes, %v", len(codes), err)
	}
	if amr, err := f.Verify(ctx, "u1", " "+codes[0][:4]+" "+codes[0][5:9]+codes[0][10:]+" "); err != nil || amr != AMRRecovery {
		t.Fatalf("recovery code: %q %v", amr, err)
	}
	if _, err := f.Verify(ctx, "u1", codes[0]); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("a used recovery code: %v", err)
	}
	fresh, err := f.RegenerateRecoveryCodes(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Verify(ctx, "u1", codes[1]); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("a replaced recovery code: %v", err)
	}
	if _, err := f.Verify(ctx, "u1", fresh[1]); err != nil {
		t.Fatalf("a new recovery code: %v", err)
	}
	if n, _ := f.RecoveryCodesLeft(ctx, "u1"); n != RecoveryCodeCount-1 {
		t.Fatalf("%d codes left", n)
	}
	// Another system secret cannot use the codes or the TOTP secret.
	other, _ := New(f.store, []byte("another-system-secret-0123456789-abcdef"), "x")
	other.now = f.now
	if _, err := other.Verify(ctx, "u1", fresh[2]); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("recovery code under another secret: %v", err)
	}
	if _, err := other.Verify(ctx, "u1", code(t, e.Secret, now.Add(30*time.Second))); !errors.Is(err, ErrWrongCode) {
		t.Fatalf("TOTP under another secret: %v", err)
	}
}
