// Package session manages the browser session at the hosted pages: the
// session cookie, its server-side record, and CSRF tokens for forms.
package session

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// Manager issues and reads browser sessions.
type Manager struct {
	store    storage.SessionStore
	lifetime time.Duration
	secure   bool
	csrfKey  []byte
	now      func() time.Time
}

// New returns a session manager. Cookies are Secure (and __Host- prefixed)
// when the issuer is https. now is the clock of sign-in times and expiry
// (nil: time.Now).
func New(store storage.SessionStore, secret []byte, secure bool, lifetime time.Duration, now func() time.Time) (*Manager, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, "tollgate csrf v1", 32)
	if err != nil {
		return nil, fmt.Errorf("session: derive csrf key: %w", err)
	}
	if now == nil {
		now = time.Now
	}
	return &Manager{store: store, lifetime: lifetime, secure: secure, csrfKey: key, now: now}, nil
}

// cookieName uses the __Host- prefix when the cookie can be Secure: the
// browser then refuses it from a subdomain or without Secure (RFC 6265bis).
func (m *Manager) cookieName(base string) string {
	if m.secure {
		return "__Host-" + base
	}
	return base
}

// Load returns the session named by the request's cookie, or
// storage.ErrNotFound when there is none, or it has ended.
func (m *Manager) Load(r *http.Request) (storage.Session, error) {
	c, err := r.Cookie(m.cookieName("tollgate_session"))
	if err != nil || c.Value == "" {
		return storage.Session{}, storage.ErrNotFound
	}
	return m.store.GetSession(r.Context(), hashID(c.Value))
}

// Start ends any session the browser had and starts a new one, so a session
// identifier is never carried across a login (OWASP ASVS 3.2.1).
func (m *Manager) Start(w http.ResponseWriter, r *http.Request, userID string, amr []string) (storage.Session, error) {
	if old, err := r.Cookie(m.cookieName("tollgate_session")); err == nil && old.Value != "" {
		if err := m.store.DeleteSession(r.Context(), hashID(old.Value)); err != nil && !errors.Is(err, storage.ErrNotFound) {
			return storage.Session{}, fmt.Errorf("end previous session: %w", err)
		}
	}
	value, err := randomToken()
	if err != nil {
		return storage.Session{}, err
	}
	now := m.now().UTC()
	s := storage.Session{
		ID: hashID(value), UserID: userID, AuthTime: now.Truncate(time.Second), AMR: amr,
		ExpiresAt: now.Add(m.lifetime), CreatedAt: now, UserAgent: userAgent(r),
	}
	if err := m.store.CreateSession(r.Context(), s); err != nil {
		return storage.Session{}, fmt.Errorf("create session: %w", err)
	}
	http.SetCookie(w, m.cookie("tollgate_session", value, s.ExpiresAt))
	return s, nil
}

// End deletes the browser's session and its cookie.
func (m *Manager) End(w http.ResponseWriter, r *http.Request) error {
	http.SetCookie(w, m.cookie("tollgate_session", "", time.Unix(0, 0)))
	c, err := r.Cookie(m.cookieName("tollgate_session"))
	if err != nil || c.Value == "" {
		return nil
	}
	if err := m.store.DeleteSession(r.Context(), hashID(c.Value)); err != nil && !errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("end session: %w", err)
	}
	return nil
}

// CSRFToken returns the token to put in a form, setting the browser's CSRF
// cookie when it has none (double-submit, bound with an HMAC).
func (m *Manager) CSRFToken(w http.ResponseWriter, r *http.Request) (string, error) {
	value := ""
	if c, err := r.Cookie(m.cookieName("tollgate_csrf")); err == nil && len(c.Value) >= 32 {
		value = c.Value
	} else {
		v, err := randomToken()
		if err != nil {
			return "", err
		}
		value = v
		c := m.cookie("tollgate_csrf", value, time.Time{})
		c.SameSite = http.SameSiteStrictMode
		http.SetCookie(w, c)
		// Make the new cookie visible to later reads in this request.
		r.AddCookie(&http.Cookie{Name: c.Name, Value: value})
	}
	return m.csrfMAC(value), nil
}

// CheckCSRF reports whether a submitted form carries the token matching the
// browser's CSRF cookie.
func (m *Manager) CheckCSRF(r *http.Request) bool {
	c, err := r.Cookie(m.cookieName("tollgate_csrf"))
	if err != nil || c.Value == "" {
		return false
	}
	got := r.PostFormValue("csrf_token")
	return hmac.Equal([]byte(got), []byte(m.csrfMAC(c.Value)))
}

func (m *Manager) csrfMAC(value string) string {
	mac := hmac.New(sha256.New, m.csrfKey)
	mac.Write([]byte(value))
	return base64.RawURLEncoding.EncodeToString(mac.Sum(nil))
}

func (m *Manager) cookie(base, value string, expires time.Time) *http.Cookie {
	c := &http.Cookie{
		Name: m.cookieName(base), Value: value, Path: "/",
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	}
	if !expires.IsZero() {
		c.Expires = expires
		if !expires.After(m.now()) {
			c.MaxAge = -1
		}
	}
	return c
}

// hashID is the stored identifier of a cookie value: a leaked database row
// cannot be replayed as a cookie.
func hashID(value string) string {
	sum := sha256.Sum256([]byte(value))
	return hex.EncodeToString(sum[:])
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("session: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// userAgent is what a session remembers of the browser, bounded, so its
// owner can tell their sessions apart on the account page.
func userAgent(r *http.Request) string {
	ua := strings.ToValidUTF8(r.UserAgent(), "")
	if len(ua) > 256 {
		ua = strings.ToValidUTF8(ua[:256], "")
	}
	return ua
}
