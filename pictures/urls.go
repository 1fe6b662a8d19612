package pictures

import (
	"context"
	"strings"
)

// Path is where pictures are served below the issuer: Path + key.
const Path = "/pictures/"

// URL is the address a stored picture is served at.
func URL(issuer, key string) string { return strings.TrimRight(issuer, "/") + Path + key }

// KeyOf returns the key of a picture URL that points at this issuer's
// store, or false for any other URL (an external picture, or none).
func KeyOf(issuer, url string) (string, bool) {
	key, ok := strings.CutPrefix(url, strings.TrimRight(issuer, "/")+Path)
	if !ok || !ValidKey(key) {
		return "", false
	}
	return key, true
}

// DeleteURL removes the stored picture that url points at, if it points
// into this store; other URLs are left alone. A nil store does nothing.
func (s *Store) DeleteURL(ctx context.Context, issuer, url string) error {
	key, ok := KeyOf(issuer, url)
	if s == nil || !ok {
		return nil
	}
	return s.Delete(ctx, key)
}
