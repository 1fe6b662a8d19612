package account

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate/tollgate/passwords"
	"github.com/tollgate/tollgate/server/login"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/throttle"
)

// What the page and the API do, once the request is parsed: each returns
// one of the errors below, a *FieldError, a *passwords.PolicyError, or a
// storage failure.
var (
	// errWrongPassword: the current password given is not the user's.
	errWrongPassword = errors.New("the current password is not right")
	// errNoPassword: the account has no password to check (it signs in
	// with another provider only).
	errNoPassword = errors.New("the account has no password")
	// errSamePassword: the new password is the current one.
	errSamePassword = errors.New("the new password is the current one")
	// errNoSession: no session of the user has this handle.
	errNoSession = errors.New("no such session")
	// errNotRecent: an account without a password confirms a deletion by
	// having signed in within reauthWindow, and it has not.
	errNotRecent = errors.New("the sign-in is not recent enough")
)

// reauthWindow is how recent a sign-in must be to stand in for the
// password of an account that has none (it signs in with another
// provider): a stolen, long-lived session cannot delete it.
const reauthWindow = 10 * time.Minute

// throttledError: too many wrong passwords; try again after Wait.
type throttledError struct{ Wait time.Duration }

func (e *throttledError) Error() string {
	return fmt.Sprintf("too many wrong passwords: wait %s", e.Wait.Round(time.Second))
}

// Guessing the current password through the account page or API (with a
// stolen session or token) is slowed as sign-in is: a few free failures,
// then a doubling wait (package throttle).
const freeFailures = 5

func throttleKey(userID string) string { return "account:password:" + userID }

// checkPassword verifies the user's current password, counting failures.
func (h *Handler) checkPassword(ctx context.Context, u storage.User, password string) error {
	if u.PasswordHash == "" {
		return errNoPassword
	}
	key := throttleKey(u.ID)
	wait, err := throttle.Wait(ctx, h.Store, throttle.Counter{Key: key, Free: freeFailures})
	if err != nil {
		return err
	}
	if wait > 0 {
		return &throttledError{Wait: wait}
	}
	ok, _, err := h.Passwords.Verify(password, u.PasswordHash)
	if err != nil || !ok {
		if err := throttle.Fail(ctx, h.Store, key); err != nil {
			return err
		}
		return errWrongPassword
	}
	return h.Store.ResetAttempts(ctx, key)
}

// changePassword sets a new password after checking the current one, and
// ends every other session and grant of the user: all but keepSession
// (the browser session making the change, or "") and keepGrant (the
// grant of the access token making it, or "").
func (h *Handler) changePassword(ctx context.Context, u storage.User, current, next, keepSession, keepGrant string) error {
	if err := h.checkPassword(ctx, u, current); err != nil {
		return err
	}
	if next == current {
		return errSamePassword
	}
	if err := h.Policy.Check(next, u.Email, u.Name); err != nil {
		return err
	}
	hash, err := h.Passwords.Hash(next)
	if err != nil {
		return fmt.Errorf("hash password: %w", err)
	}
	err = h.Store.UpdateUser(ctx, u.ID, func(u storage.User) (storage.User, error) {
		u.PasswordHash, u.UpdatedAt = hash, h.now().Truncate(time.Second)
		return u, nil
	})
	if err != nil {
		return err
	}
	if err := storage.SignOutOthers(ctx, h.Store, u.ID, keepSession, keepGrant); err != nil {
		return err
	}
	h.Logger.InfoContext(ctx, "account: password changed", "user_id", u.ID)
	return nil
}

// updateProfile applies change to the stored user atomically, so that
// preferences merge into the latest ones.
func (h *Handler) updateProfile(ctx context.Context, userID string, change ProfileChange) (storage.User, error) {
	var out storage.User
	var old string
	err := h.Store.UpdateUser(ctx, userID, func(u storage.User) (storage.User, error) {
		c := change
		if c.Picture != nil && strings.TrimSpace(*c.Picture) == u.Picture {
			// The form sends the picture back as it is: an uploaded
			// one has the issuer's scheme, http in development.
			c.Picture = nil
		}
		next, err := c.Apply(u)
		if err != nil {
			return u, err
		}
		if err := h.checkStoredPicture(u.Picture, next.Picture); err != nil {
			return u, err
		}
		old = u.Picture
		if next.Name != u.Name || next.Picture != u.Picture || !bytes.Equal(next.Preferences, u.Preferences) {
			// updated_at tells applications when the profile last changed.
			next.UpdatedAt = h.now().Truncate(time.Second)
		}
		out = next
		return next, nil
	})
	if err != nil {
		return storage.User{}, err
	}
	if old != out.Picture {
		h.forgetPicture(ctx, old)
	}
	h.Logger.InfoContext(ctx, "account: profile updated", "user_id", userID)
	return out, nil
}

// sessionHandle is how the page and the API name a session: derived from
// its stored ID, which stays out of pages, URLs and logs.
func sessionHandle(id string) string {
	sum := sha256.Sum256([]byte("tollgate session handle v1\x00" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:16])
}

// findSession returns the user's session with the handle.
func (h *Handler) findSession(ctx context.Context, userID, handle string) (storage.Session, error) {
	sessions, err := h.Store.ListUserSessions(ctx, userID)
	if err != nil {
		return storage.Session{}, err
	}
	for _, s := range sessions {
		if sessionHandle(s.ID) == handle {
			return s, nil
		}
	}
	return storage.Session{}, errNoSession
}

// endSession signs the browser of one of the user's sessions out.
func (h *Handler) endSession(ctx context.Context, userID, handle string) (storage.Session, error) {
	s, err := h.findSession(ctx, userID, handle)
	if err != nil {
		return s, err
	}
	if err := h.Store.DeleteSession(ctx, s.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return s, err
	}
	h.Logger.InfoContext(ctx, "account: session ended", "user_id", userID)
	return s, nil
}

// deleteAccount checks the password and removes the user with everything
// they had: sessions, tokens (live access tokens are revoked), emailed
// links, consents (with the user, by the database's cascade).
// deleteAccount deletes the user after checking the password, or, for an
// account without one, that sess signed in within reauthWindow (the API
// passes no session, so such accounts cannot be deleted through it).
func (h *Handler) deleteAccount(ctx context.Context, u storage.User, password string, sess *storage.Session) error {
	switch {
	case u.PasswordHash != "" || sess == nil:
		if err := h.checkPassword(ctx, u, password); err != nil {
			return err
		}
	case h.now().Sub(sess.AuthTime) > reauthWindow:
		return errNotRecent
	}
	if err := storage.SignOutEverywhere(ctx, h.Store, u.ID); err != nil {
		return err
	}
	for _, kind := range []storage.TokenKind{storage.KindPKCE, storage.KindOpenIDSession, login.KindPasswordReset, login.KindEmailVerification} {
		if _, err := h.Store.DeleteSubjectTokens(ctx, kind, u.ID); err != nil {
			return fmt.Errorf("delete %s: %w", kind, err)
		}
	}
	if err := h.Store.DeleteUser(ctx, u.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return err
	}
	// The picture goes once nothing points at it; a failure leaves an
	// orphan object, which is logged.
	h.forgetPicture(ctx, u.Picture)
	if err := h.Store.ResetAttempts(ctx, throttleKey(u.ID)); err != nil {
		h.Logger.WarnContext(ctx, "account: forget password failures", "user_id", u.ID, "err", err)
	}
	h.Logger.InfoContext(ctx, "account: deleted by its owner", "user_id", u.ID)
	return nil
}

// policyRule returns the rule a *passwords.PolicyError names.
func policyRule(err error) (*passwords.PolicyError, bool) {
	var pe *passwords.PolicyError
	ok := errors.As(err, &pe)
	return pe, ok
}
