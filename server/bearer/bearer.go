// Package bearer reads RFC 6750 bearer tokens from requests, for the APIs
// that take them (admin, account, client registration).
package bearer

import (
	"crypto/sha256"
	"crypto/subtle"
	"net/http"
	"strings"
)

// Token returns the token of an "Authorization: Bearer …" header; the
// scheme is case-insensitive (RFC 6750 §2.1, RFC 9110 §11.1).
func Token(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

// Equal compares a presented token with a configured one in constant time,
// whatever their lengths.
func Equal(presented, configured string) bool {
	a, b := sha256.Sum256([]byte(presented)), sha256.Sum256([]byte(configured))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}
