package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage"
)

// userAdmin is what the users commands need of a backend. Both apply input
// with admin.ApplyUser (remotely, the server does), so a user is the same
// whichever way it was made. A user is named by ID, or by email when the
// reference has an @.
type userAdmin interface {
	CreateUser(ctx context.Context, in admin.UserInput) (admin.UserView, error)
	// ListUsers calls page with each page of users in ID order, until the
	// last page or page's error.
	ListUsers(ctx context.Context, page func([]admin.UserView) error) error
	GetUser(ctx context.Context, ref string) (admin.UserView, error)
	UpdateUser(ctx context.Context, ref string, in admin.UserInput) (admin.UserView, error)
	SetUserDisabled(ctx context.Context, ref string, disabled bool) (admin.UserView, error)
	SignOutUser(ctx context.Context, ref string) (admin.UserView, error)
	DeleteUser(ctx context.Context, ref string) (admin.UserView, error)
}

func errNoUser(ref string) error { return fmt.Errorf("no user %q", ref) }

// inputError turns invalid input into a usage error: nothing was changed.
func inputError(err error) error {
	var fe *admin.FieldError
	if errors.As(err, &fe) {
		return usagef("%s: %s", fe.Field, fe.Description)
	}
	return err
}

// record adds a change made on the local database (clients, users, keys)
// to the audit log, as the admin API would; the actor is the command line.
// The event's log line is left out (the command prints what it did); a
// failure to store it is not.
func (l localAdmin) record(ctx context.Context, e audit.Event) {
	e.Actor = "cli"
	quiet := slog.New(warnings{l.e.log.Handler()})
	audit.New(l.e.store, quiet).Record(ctx, nil, e)
}

// warnings passes on records of level Warn and above only.
type warnings struct{ slog.Handler }

func (w warnings) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= slog.LevelWarn && w.Handler.Enabled(ctx, level)
}
func (w warnings) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnings{w.Handler.WithAttrs(attrs)}
}
func (w warnings) WithGroup(name string) slog.Handler { return warnings{w.Handler.WithGroup(name)} }

func (l localAdmin) CreateUser(ctx context.Context, in admin.UserInput) (admin.UserView, error) {
	now := time.Now().UTC().Truncate(time.Second)
	u := storage.User{ID: uuid.NewString(), CreatedAt: now, UpdatedAt: now}
	if err := admin.ApplyUser(&u, in, l.e.cfg.PasswordPolicy(), l.e.hasher); err != nil {
		return admin.UserView{}, inputError(err)
	}
	err := l.e.store.CreateUser(ctx, u)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return admin.UserView{}, fmt.Errorf("a user with email %q already exists", u.Email)
	}
	if err != nil {
		return admin.UserView{}, fmt.Errorf("create user: %w", err)
	}
	l.record(ctx, audit.Event{Type: audit.AdminUserCreated, UserID: u.ID, Details: in.Fields()})
	return admin.ViewUser(u), nil
}

func (l localAdmin) GetUser(ctx context.Context, ref string) (admin.UserView, error) {
	u, err := findUser(ctx, l.e, ref)
	return admin.ViewUser(u), err
}

// change applies fn to the user, stores the result and, when signOut says
// so, ends everything the user had; as the admin API does.
func (l localAdmin) change(ctx context.Context, ref string, event audit.Event, fn func(*storage.User) (signOut bool, err error)) (admin.UserView, error) {
	u, err := findUser(ctx, l.e, ref)
	if err != nil {
		return admin.UserView{}, err
	}
	signOut, err := fn(&u)
	if err != nil {
		return admin.UserView{}, inputError(err)
	}
	u.UpdatedAt = time.Now().UTC().Truncate(time.Second)
	err = l.e.store.UpdateUser(ctx, u.ID, func(storage.User) (storage.User, error) { return u, nil })
	switch {
	case errors.Is(err, storage.ErrAlreadyExists):
		return admin.UserView{}, fmt.Errorf("another user has email %q", u.Email)
	case err != nil:
		return admin.UserView{}, fmt.Errorf("update user: %w", err)
	}
	if signOut {
		if err := storage.SignOutEverywhere(ctx, l.e.store, u.ID); err != nil {
			return admin.UserView{}, fmt.Errorf("sign %s out: %w", ref, err)
		}
	}
	event.UserID = u.ID
	l.record(ctx, event)
	return admin.ViewUser(u), nil
}

func (l localAdmin) UpdateUser(ctx context.Context, ref string, in admin.UserInput) (admin.UserView, error) {
	return l.change(ctx, ref, audit.Event{Type: audit.AdminUserUpdated, Details: in.Fields()}, func(u *storage.User) (bool, error) {
		return in.Password != nil, admin.ApplyUser(u, in, l.e.cfg.PasswordPolicy(), l.e.hasher)
	})
}

func (l localAdmin) SetUserDisabled(ctx context.Context, ref string, disabled bool) (admin.UserView, error) {
	event := audit.Event{Type: audit.AdminUserEnabled}
	if disabled {
		event.Type = audit.AdminUserDisabled
	}
	// A disabled user keeps nothing that still works.
	return l.change(ctx, ref, event, func(u *storage.User) (bool, error) {
		u.Disabled = disabled
		return disabled, nil
	})
}

func (l localAdmin) SignOutUser(ctx context.Context, ref string) (admin.UserView, error) {
	u, err := findUser(ctx, l.e, ref)
	if err != nil {
		return admin.UserView{}, err
	}
	if err := storage.SignOutEverywhere(ctx, l.e.store, u.ID); err != nil {
		return admin.UserView{}, fmt.Errorf("sign %s out: %w", ref, err)
	}
	l.record(ctx, audit.Event{Type: audit.AdminUserSignedOut, UserID: u.ID})
	return admin.ViewUser(u), nil
}

func (l localAdmin) DeleteUser(ctx context.Context, ref string) (admin.UserView, error) {
	u, err := findUser(ctx, l.e, ref)
	if err != nil {
		return admin.UserView{}, err
	}
	if err := storage.SignOutEverywhere(ctx, l.e.store, u.ID); err != nil {
		return admin.UserView{}, fmt.Errorf("sign %s out: %w", ref, err)
	}
	if err := l.e.store.DeleteUser(ctx, u.ID); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return admin.UserView{}, fmt.Errorf("delete user: %w", err)
	}
	l.e.forgetPicture(ctx, u)
	l.record(ctx, audit.Event{Type: audit.AdminUserDeleted, UserID: u.ID})
	return admin.ViewUser(u), nil
}

// remoteError maps the admin API's answers to the command line's: invalid
// input is a usage error, a missing user is named.
func remoteError(status int, err error, ref string) error {
	switch {
	case err == nil:
		return nil
	case status == http.StatusNotFound:
		return errNoUser(ref)
	case status == http.StatusBadRequest:
		return usageError{err}
	}
	return err
}

func (r *remoteAdmin) CreateUser(ctx context.Context, in admin.UserInput) (admin.UserView, error) {
	var v admin.UserView
	status, err := r.call(ctx, http.MethodPost, "/users", in, &v)
	if status == http.StatusConflict && in.Email != nil {
		return v, fmt.Errorf("a user with email %q already exists", *in.Email)
	}
	return v, remoteError(status, err, "")
}

// GetUser finds a user by ID, or by email through the search (which
// matches substrings: only an exact match counts).
func (r *remoteAdmin) GetUser(ctx context.Context, ref string) (admin.UserView, error) {
	if strings.Contains(ref, "@") {
		return r.findByEmail(ctx, ref)
	}
	var v admin.UserView
	status, err := r.call(ctx, http.MethodGet, "/users/"+url.PathEscape(ref), nil, &v)
	return v, remoteError(status, err, ref)
}

// do finds the user, then sends method to the path below it, decoding the
// user the server answers with (or, for 204, answering with the user found).
func (r *remoteAdmin) do(ctx context.Context, ref, method, sub string, in any) (admin.UserView, error) {
	u, err := r.GetUser(ctx, ref)
	if err != nil {
		return u, err
	}
	// DELETE and sign-out answer 204: the user found is the answer.
	var changed admin.UserView
	var out any = &changed
	if method == http.MethodDelete || sub == "/sign-out" {
		out, changed = nil, u
	}
	status, err := r.call(ctx, method, "/users/"+url.PathEscape(u.ID)+sub, in, out)
	if status == http.StatusConflict {
		return u, errors.New("another user has this email")
	}
	return changed, remoteError(status, err, ref)
}

func (r *remoteAdmin) UpdateUser(ctx context.Context, ref string, in admin.UserInput) (admin.UserView, error) {
	return r.do(ctx, ref, http.MethodPatch, "", in)
}

func (r *remoteAdmin) SetUserDisabled(ctx context.Context, ref string, disabled bool) (admin.UserView, error) {
	sub := "/enable"
	if disabled {
		sub = "/disable"
	}
	return r.do(ctx, ref, http.MethodPost, sub, nil)
}

func (r *remoteAdmin) SignOutUser(ctx context.Context, ref string) (admin.UserView, error) {
	return r.do(ctx, ref, http.MethodPost, "/sign-out", nil)
}

func (r *remoteAdmin) DeleteUser(ctx context.Context, ref string) (admin.UserView, error) {
	return r.do(ctx, ref, http.MethodDelete, "", nil)
}
