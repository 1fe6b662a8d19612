package sqlstore

import (
	"context"
	"strings"

	"gorm.io/gorm"

	"github.com/tollgate/tollgate/storage"
)

// normalizeEmail is how addresses are stored and looked up: lower-cased, so
// that matching ignores case.
func normalizeEmail(email string) string { return strings.ToLower(email) }

// CreateUser creates an account; ErrAlreadyExists if the ID or the email
// address is taken. Several users may have no email address.
func (s *Store) CreateUser(ctx context.Context, u storage.User) error {
	row := userToRow(u)
	err := s.guarded(ctx, func(db *gorm.DB) error { return db.Create(&row).Error })
	return wrap(err, "create user %q", u.ID)
}

// GetUser loads a user by ID.
func (s *Store) GetUser(ctx context.Context, id string) (storage.User, error) {
	var row userRow
	if err := s.db(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return storage.User{}, wrap(err, "get user %q", id)
	}
	return row.user(), nil
}

// GetUserByEmail loads a user by email address, ignoring case.
func (s *Store) GetUserByEmail(ctx context.Context, email string) (storage.User, error) {
	e := normalizeEmail(email)
	if e == "" {
		return storage.User{}, wrap(storage.ErrNotFound, "get user by email")
	}
	var row userRow
	if err := s.db(ctx).Where("email = ?", e).Take(&row).Error; err != nil {
		// The address is personal data: it stays out of the error.
		return storage.User{}, wrap(err, "get user by email")
	}
	return row.user(), nil
}

// UpdateUser applies update to the stored user atomically. An error from
// update aborts without writing and is returned wrapped; a new email address
// that another user has gives ErrAlreadyExists. update must not change the
// ID, and must not call the store.
func (s *Store) UpdateUser(ctx context.Context, id string, update func(storage.User) (storage.User, error)) error {
	err := s.atomic(ctx, func(tx *gorm.DB) error {
		var row userRow
		if err := s.forUpdate(tx).Where("id = ?", id).Take(&row).Error; err != nil {
			return err
		}
		u, err := update(row.user())
		if err != nil {
			return err
		}
		if u.ID != id {
			return errIDChanged
		}
		row = userToRow(u)
		return tx.Transaction(func(sp *gorm.DB) error {
			return sp.Model(&row).Select("*").Updates(&row).Error
		})
	})
	return wrap(err, "update user %q", id)
}

// DeleteUser removes a user, with their sessions and consents.
func (s *Store) DeleteUser(ctx context.Context, id string) error {
	err := affected(s.db(ctx).Where("id = ?", id).Delete(&userRow{}))
	return wrap(err, "delete user %q", id)
}
