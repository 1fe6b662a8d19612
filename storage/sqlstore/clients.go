package sqlstore

import (
	"context"
	"errors"

	"gorm.io/gorm"

	"github.com/tollgate/tollgate/storage"
)

// CreateClient registers a client; ErrAlreadyExists if the ID is taken.
func (s *Store) CreateClient(ctx context.Context, c storage.Client) error {
	row := clientToRow(c)
	err := s.guarded(ctx, func(db *gorm.DB) error { return db.Create(&row).Error })
	return wrap(err, "create client %q", c.ID)
}

// GetClient loads a client.
func (s *Store) GetClient(ctx context.Context, id string) (storage.Client, error) {
	var row clientRow
	if err := s.db(ctx).Where("id = ?", id).Take(&row).Error; err != nil {
		return storage.Client{}, wrap(err, "get client %q", id)
	}
	return row.client(), nil
}

// ListClients returns every client, by ID.
func (s *Store) ListClients(ctx context.Context) ([]storage.Client, error) {
	var rows []clientRow
	if err := s.db(ctx).Order("id").Find(&rows).Error; err != nil {
		return nil, wrap(err, "list clients")
	}
	out := make([]storage.Client, len(rows))
	for i, r := range rows {
		out[i] = r.client()
	}
	return out, nil
}

// UpdateClient applies update to the stored client atomically. An error
// from update aborts without writing and is returned wrapped. update must
// not change the ID, and must not call the store.
func (s *Store) UpdateClient(ctx context.Context, id string, update func(storage.Client) (storage.Client, error)) error {
	err := s.atomic(ctx, func(tx *gorm.DB) error {
		var row clientRow
		if err := s.forUpdate(tx).Where("id = ?", id).Take(&row).Error; err != nil {
			return err
		}
		c, err := update(row.client())
		if err != nil {
			return err
		}
		if c.ID != id {
			return errIDChanged
		}
		row = clientToRow(c)
		return tx.Model(&row).Select("*").Updates(&row).Error
	})
	return wrap(err, "update client %q", id)
}

// DeleteClient removes a client and the consents given to it.
func (s *Store) DeleteClient(ctx context.Context, id string) error {
	err := affected(s.db(ctx).Where("id = ?", id).Delete(&clientRow{}))
	return wrap(err, "delete client %q", id)
}

var errIDChanged = errors.New("the update changed the record's ID")
