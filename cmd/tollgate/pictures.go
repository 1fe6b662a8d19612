package main

import (
	"context"

	"github.com/tollgate/tollgate/pictures"
	"github.com/tollgate/tollgate/storage"
)

// forgetPicture deletes a deleted user's uploaded picture from the bucket
// of pictures_url, as the server does. The user is already gone, so a
// failure is a warning: it leaves an orphan object, not a broken account.
func (e *env) forgetPicture(ctx context.Context, u storage.User) {
	if _, ok := pictures.KeyOf(e.cfg.Issuer, u.Picture); !ok {
		return
	}
	store, err := pictures.Open(ctx, e.cfg.PicturesURL)
	if err == nil {
		err = store.DeleteURL(ctx, e.cfg.Issuer, u.Picture)
		store.Close()
	}
	if err != nil {
		e.log.Warn("the deleted user's picture is still stored", "user_id", u.ID, "err", err)
	}
}
