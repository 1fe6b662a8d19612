package upstream

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// Records of a sign-in in progress live in the token table, keyed by a
// hash of the value that travels (the state, the link token).
const (
	kindLogin storage.TokenKind = "upstream_login"
	kindLink  storage.TokenKind = "upstream_link"
	// stateLifetime bounds the time spent at the upstream, and on the
	// link page.
	stateLifetime = 10 * time.Minute
	bindingCookie = "tollgate_upstream"
)

var (
	errNoRecord = errors.New("upstream: no such sign-in in progress")
	errUsed     = errors.New("upstream: sign-in already completed")
	errBrowser  = errors.New("upstream: sign-in started in another browser")
)

// loginState is what we remember between sending the browser upstream and
// its return: the checks on the answer and where to go next.
type loginState struct {
	Upstream string `json:"upstream"`
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"` // PKCE code_verifier
	Request  string `json:"request,omitempty"`
	// Next is the page of Tollgate's own to return to when no application
	// asked (login.LocalPath): the account pages, the admin console.
	Next string `json:"next,omitempty"`
	// LinkUser: a signed-in user adding this upstream from the account
	// page, rather than a sign-in.
	LinkUser string `json:"link_user,omitempty"`
	// Binding is the hash of the browser's binding cookie: the answer is
	// accepted only in the browser that started the sign-in.
	Binding string `json:"binding"`
}

// pendingLink is an upstream account waiting for the owner of the local
// account with the same address to prove it with its password.
type pendingLink struct {
	Upstream string   `json:"upstream"`
	Claims   claims   `json:"claims"`
	UserID   string   `json:"user_id"`
	Request  string   `json:"request,omitempty"`
	Next     string   `json:"next,omitempty"`
	AMR      []string `json:"amr,omitempty"`
	Binding  string   `json:"binding"`
}

func randomValue() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("upstream: random: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func hashValue(v string) string {
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])
}

func (h *Handler) cookieName() string {
	if h.Secure {
		return "__Host-" + bindingCookie
	}
	return bindingCookie
}

// binding returns the hash of the browser's binding cookie, setting one
// when it has none. One value per browser lets sign-ins in several tabs
// run side by side; each stays single use through its own record.
func (h *Handler) binding(w http.ResponseWriter, r *http.Request) (string, error) {
	v := ""
	if c, err := r.Cookie(h.cookieName()); err == nil && len(c.Value) >= 32 {
		v = c.Value
	} else if v, err = randomValue(); err != nil {
		return "", err
	}
	// Set again even when present: it must outlive the record made now.
	// Lax: the browser sends it on the top-level redirect back from the
	// upstream, which is a cross-site navigation.
	http.SetCookie(w, &http.Cookie{
		Name: h.cookieName(), Value: v, Path: "/", HttpOnly: true, Secure: h.Secure,
		SameSite: http.SameSiteLaxMode, MaxAge: int(stateLifetime.Seconds()),
	})
	return hashValue(v), nil
}

// sameBrowser reports whether r carries the binding cookie hashed in want.
func (h *Handler) sameBrowser(r *http.Request, want string) bool {
	c, err := r.Cookie(h.cookieName())
	if err != nil || c.Value == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(hashValue(c.Value)), []byte(want)) == 1
}

// save stores v under a hash of key.
func (h *Handler) save(ctx context.Context, kind storage.TokenKind, key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("upstream: encode: %w", err)
	}
	now := time.Now().UTC()
	err = h.Store.CreateToken(ctx, storage.Token{
		Kind: kind, Signature: hashValue(key), Active: true,
		ExpiresAt: now.Add(stateLifetime), Data: data, CreatedAt: now,
	})
	if err != nil {
		return fmt.Errorf("upstream: store %s: %w", kind, err)
	}
	return nil
}

// load reads the record under key into v: errNoRecord when there is none
// (or it expired), errUsed when it was already consumed.
func (h *Handler) load(ctx context.Context, kind storage.TokenKind, key string, v any) error {
	if key == "" {
		return errNoRecord
	}
	t, err := h.Store.GetToken(ctx, kind, hashValue(key))
	switch {
	case errors.Is(err, storage.ErrNotFound), err == nil && !t.ExpiresAt.After(time.Now()):
		return errNoRecord
	case err != nil:
		return fmt.Errorf("upstream: load %s: %w", kind, err)
	case !t.Active:
		return errUsed
	}
	if err := json.Unmarshal(t.Data, v); err != nil {
		return fmt.Errorf("upstream: decode %s: %w", kind, err)
	}
	return nil
}

// consume marks the record under key used; of two concurrent uses, exactly
// one succeeds and the other gets errUsed.
func (h *Handler) consume(ctx context.Context, kind storage.TokenKind, key string) error {
	err := h.Store.DeactivateToken(ctx, kind, hashValue(key))
	switch {
	case errors.Is(err, storage.ErrInactive):
		return errUsed
	case errors.Is(err, storage.ErrNotFound):
		return errNoRecord
	case err != nil:
		return fmt.Errorf("upstream: consume %s: %w", kind, err)
	}
	return nil
}
