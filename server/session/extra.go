package session

import (
	"net/http"
	"time"
)

// SetCookie sets a cookie of the hosted pages other than the session's, with
// the same attributes (HttpOnly, SameSite=Lax, Secure and __Host- on https).
func (m *Manager) SetCookie(w http.ResponseWriter, base, value string, expires time.Time) {
	http.SetCookie(w, m.cookie(base, value, expires))
}

// ClearCookie removes a cookie set with SetCookie.
func (m *Manager) ClearCookie(w http.ResponseWriter, base string) {
	http.SetCookie(w, m.cookie(base, "", time.Unix(0, 0)))
}

// Cookie returns the value of a cookie set with SetCookie, or "".
func (m *Manager) Cookie(r *http.Request, base string) string {
	c, err := r.Cookie(m.cookieName(base))
	if err != nil {
		return ""
	}
	return c.Value
}

// NewToken returns 256 random bits, URL-safe, and the hash to store them
// under, so that a leaked row cannot be replayed as a cookie.
func NewToken() (value, hash string, err error) {
	value, err = randomToken()
	if err != nil {
		return "", "", err
	}
	return value, hashID(value), nil
}

// HashToken returns the stored hash of a value from NewToken.
func HashToken(value string) string { return hashID(value) }
