package sqlstore

import (
	"context"

	"gorm.io/gorm"

	"github.com/tollgate/tollgate/storage"
)

// CreateKey stores a signing key; ErrAlreadyExists if the kid is taken.
func (s *Store) CreateKey(ctx context.Context, k storage.SigningKey) error {
	row := keyToRow(k)
	err := s.guarded(ctx, func(db *gorm.DB) error { return db.Create(&row).Error })
	return wrap(err, "create key %q", k.ID)
}

// ListKeys returns every key, oldest first (then by kid).
func (s *Store) ListKeys(ctx context.Context) ([]storage.SigningKey, error) {
	var rows []keyRow
	if err := s.db(ctx).Order("created_at, id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list keys")
	}
	out := make([]storage.SigningKey, len(rows))
	for i, r := range rows {
		out[i] = r.key()
	}
	return out, nil
}

// UpdateKey applies update to the stored key atomically. An error from
// update aborts without writing and is returned wrapped. update must not
// change the kid, and must not call the store.
func (s *Store) UpdateKey(ctx context.Context, id string, update func(storage.SigningKey) (storage.SigningKey, error)) error {
	err := s.atomic(ctx, func(tx *gorm.DB) error {
		var row keyRow
		if err := s.forUpdate(tx).Where("id = ?", id).Take(&row).Error; err != nil {
			return err
		}
		k, err := update(row.key())
		if err != nil {
			return err
		}
		if k.ID != id {
			return errIDChanged
		}
		row = keyToRow(k)
		return tx.Model(&row).Select("*").Updates(&row).Error
	})
	return wrap(err, "update key %q", id)
}

// DeleteKey removes a key; ErrNotFound if it is absent.
func (s *Store) DeleteKey(ctx context.Context, id string) error {
	return wrap(affected(s.db(ctx).Where("id = ?", id).Delete(&keyRow{})), "delete key %q", id)
}

// LockKeys takes, for the rest of the transaction in ctx, a lock that
// serializes key changes across processes: an advisory lock on PostgreSQL,
// and on SQLite the database's write lock, taken by a write that changes
// nothing.
func (s *Store) LockKeys(ctx context.Context) error {
	stmt := `UPDATE signing_keys SET state = state WHERE 1 = 0`
	if s.postgres {
		stmt = `SELECT pg_advisory_xact_lock(hashtext('tollgate.keys.' || current_schema()))`
	}
	return wrap(s.db(ctx).Exec(stmt).Error, "lock signing keys")
}
