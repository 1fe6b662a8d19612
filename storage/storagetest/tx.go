package storagetest

import (
	"testing"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// Within a transaction these tests call the store only with the
// transaction's context: a single-connection backend (SQLite) would
// otherwise wait for the transaction to end.

func testTxCommit(t *testing.T, s storage.Store) {
	ctx := t.Context()
	tx, err := s.BeginTx(ctx)
	mustNil(t, "begin", err)
	c := newClient("client-tx")
	tok := newToken(storage.KindAuthorizeCode, "sig-tx", "req-tx", "user-1")
	mustNil(t, "create client in tx", s.CreateClient(tx, c))
	mustNil(t, "create token in tx", s.CreateToken(tx, tok))
	got, err := s.GetClient(tx, c.ID)
	mustNil(t, "read own write", err)
	equal(t, "read own write", got, c)
	mustNil(t, "commit", s.Commit(tx))

	got, err = s.GetClient(ctx, c.ID)
	mustNil(t, "get committed client", err)
	equal(t, "get committed client", got, c)
	gotTok, err := s.GetToken(ctx, tok.Kind, tok.Signature)
	mustNil(t, "get committed token", err)
	equal(t, "get committed token", gotTok, tok)
}

func testTxRollback(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create user", s.CreateUser(ctx, newUser("user-tx", "tx@example.com")))
	tx, err := s.BeginTx(ctx)
	mustNil(t, "begin", err)
	c := newClient("client-tx")
	tok := newToken(storage.KindAuthorizeCode, "sig-tx", "req-tx", "user-1")
	sess := newSession("session-tx", "user-tx", now().Add(time.Hour))
	mustNil(t, "create client in tx", s.CreateClient(tx, c))
	mustNil(t, "create token in tx", s.CreateToken(tx, tok))
	mustNil(t, "create session in tx", s.CreateSession(tx, sess))
	mustNil(t, "delete user in tx", s.DeleteUser(tx, "user-tx"))
	_, err = s.GetUser(tx, "user-tx")
	mustIs(t, "read own delete", err, storage.ErrNotFound)
	mustNil(t, "rollback", s.Rollback(tx))

	_, err = s.GetClient(ctx, c.ID)
	mustIs(t, "get rolled-back client", err, storage.ErrNotFound)
	_, err = s.GetToken(ctx, tok.Kind, tok.Signature)
	mustIs(t, "get rolled-back token", err, storage.ErrNotFound)
	_, err = s.GetSession(ctx, sess.ID)
	mustIs(t, "get rolled-back session", err, storage.ErrNotFound)
	_, err = s.GetUser(ctx, "user-tx")
	mustNil(t, "get user whose delete was rolled back", err)
}

func testTxUpdate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	c := newClient("client-txu")
	mustNil(t, "create", s.CreateClient(ctx, c))

	tx, err := s.BeginTx(ctx)
	mustNil(t, "begin", err)
	err = s.UpdateClient(tx, c.ID, func(old storage.Client) (storage.Client, error) {
		old.Name = "in tx"
		return old, nil
	})
	mustNil(t, "update in tx", err)
	got, err := s.GetClient(tx, c.ID)
	mustNil(t, "read own update", err)
	if got.Name != "in tx" {
		t.Fatalf("read own update: name %q, want %q", got.Name, "in tx")
	}
	err = s.UpdateClient(tx, c.ID, func(old storage.Client) (storage.Client, error) {
		old.Name = "aborted"
		return old, errAbort
	})
	mustIs(t, "failing update in tx", err, errAbort)
	got, err = s.GetClient(tx, c.ID)
	mustNil(t, "read after failing update", err)
	if got.Name != "in tx" {
		t.Fatalf("after a failing update in tx: name %q, want %q", got.Name, "in tx")
	}
	mustNil(t, "rollback", s.Rollback(tx))
	got, err = s.GetClient(ctx, c.ID)
	mustNil(t, "get after rollback", err)
	equal(t, "get after rollback", got, c)
}

// A create that collides must not spoil the transaction it ran in (on
// PostgreSQL a failed statement aborts the whole transaction otherwise).
func testTxSurvivesFailedCreate(t *testing.T, s storage.Store) {
	ctx := t.Context()
	mustNil(t, "create", s.CreateClient(ctx, newClient("client-a")))
	tx, err := s.BeginTx(ctx)
	mustNil(t, "begin", err)
	mustIs(t, "create duplicate in tx", s.CreateClient(tx, newClient("client-a")), storage.ErrAlreadyExists)
	tok := newToken(storage.KindClientAssertion, "jti-1", "", "")
	mustNil(t, "create assertion", s.CreateToken(tx, tok))
	mustIs(t, "replay assertion in tx", s.CreateToken(tx, tok), storage.ErrAlreadyExists)
	mustNil(t, "create after the failures", s.CreateClient(tx, newClient("client-b")))
	mustNil(t, "commit", s.Commit(tx))
	_, err = s.GetClient(ctx, "client-b")
	mustNil(t, "get the client created after the failures", err)
	_, err = s.GetToken(ctx, tok.Kind, tok.Signature)
	mustNil(t, "get the assertion", err)
}

func testTxRedemptionRollback(t *testing.T, s storage.Store) {
	ctx := t.Context()
	code := newToken(storage.KindAuthorizeCode, "sig-rb", "req-rb", "user-1")
	mustNil(t, "create", s.CreateToken(ctx, code))
	tx, err := s.BeginTx(ctx)
	mustNil(t, "begin", err)
	mustNil(t, "deactivate in tx", s.DeactivateToken(tx, code.Kind, code.Signature))
	mustIs(t, "deactivate again in tx", s.DeactivateToken(tx, code.Kind, code.Signature), storage.ErrInactive)
	mustNil(t, "rollback", s.Rollback(tx))
	got, err := s.GetToken(ctx, code.Kind, code.Signature)
	mustNil(t, "get", err)
	if !got.Active {
		t.Fatal("a rolled-back redemption left the code inactive")
	}
	mustNil(t, "redeem after the rollback", s.DeactivateToken(ctx, code.Kind, code.Signature))
}

func testTxWithoutTransaction(t *testing.T, s storage.Store) {
	ctx := t.Context()
	if err := s.Commit(ctx); err == nil {
		t.Fatal("Commit without a transaction succeeded")
	}
	if err := s.Rollback(ctx); err == nil {
		t.Fatal("Rollback without a transaction succeeded")
	}
}

func testPing(t *testing.T, s storage.Store) {
	mustNil(t, "ping", s.Ping(t.Context()))
}
