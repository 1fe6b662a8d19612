// Package cors lets browser apps call the endpoints they need directly
// (token, userinfo, revocation, JWKS, discovery) from the web origins their
// clients registered, and from no other origin (Fetch standard, "CORS
// protocol"). No endpoint allows credentials: browser apps authenticate with
// PKCE and bearer tokens, never with Tollgate's cookies.
package cors

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// cacheTTL is how long the set of every registered origin is trusted; it
// matches the client cache, so a new registration is honoured everywhere
// within the same few seconds.
const cacheTTL = 5 * time.Second

// maxAge lets browsers reuse a preflight for ten minutes.
const maxAge = 10 * time.Minute

// Origins answers whether an origin is registered, by any client or by one.
type Origins struct {
	store storage.ClientStore
	now   func() time.Time

	mu      sync.Mutex
	all     map[string]bool
	expires time.Time
}

// New returns the registry of the web origins of the clients in store.
func New(store storage.ClientStore) *Origins {
	return &Origins{store: store, now: time.Now}
}

// Registered reports whether any client registered origin.
func (o *Origins) Registered(ctx context.Context, origin string) (bool, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.all == nil || !o.now().Before(o.expires) {
		clients, err := o.store.ListClients(ctx)
		if err != nil {
			return false, err
		}
		all := make(map[string]bool)
		for _, c := range clients {
			for _, w := range c.WebOrigins {
				all[w] = true
			}
		}
		o.all, o.expires = all, o.now().Add(cacheTTL)
	}
	return o.all[origin], nil
}

// OfClient reports whether the client id registered origin. An unknown
// client has no origins.
func (o *Origins) OfClient(ctx context.Context, id, origin string) (bool, error) {
	c, err := o.store.GetClient(ctx, id)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return slices.Contains(c.WebOrigins, origin), nil
}

// AnyClient admits the origins of every registered client. It suits public
// metadata (JWKS, discovery), which says nothing about any one client.
func (o *Origins) AnyClient(next http.Handler) http.Handler {
	return o.handler(nil, next)
}

// ForClient admits only the origins of the client that clientOf finds in
// the request. When the request names no client, any registered origin may
// read the answer, which is then an error that discloses nothing. Preflights
// carry no body, so they are answered for any registered origin; the actual
// request is what is checked against its client.
func (o *Origins) ForClient(clientOf func(*http.Request) string, next http.Handler) http.Handler {
	return o.handler(clientOf, next)
}

func (o *Origins) handler(clientOf func(*http.Request) string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if r.Method == http.MethodOptions {
			o.preflight(w, r, origin)
			return
		}
		if origin != "" {
			ok, err := o.allowed(r, origin, clientOf)
			if err == nil && ok {
				h := w.Header()
				h.Set("Access-Control-Allow-Origin", origin)
				h.Set("Access-Control-Expose-Headers", "WWW-Authenticate, Retry-After")
			}
			// A storage failure leaves the answer unreadable by the page;
			// the handler below reports the failure itself.
		}
		next.ServeHTTP(w, r)
	})
}

func (o *Origins) allowed(r *http.Request, origin string, clientOf func(*http.Request) string) (bool, error) {
	if clientOf != nil {
		if id := clientOf(r); id != "" {
			return o.OfClient(r.Context(), id, origin)
		}
	}
	return o.Registered(r.Context(), origin)
}

// preflight answers an OPTIONS request. An origin that is not registered
// gets no CORS headers, which the browser reads as a refusal.
func (o *Origins) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	h.Add("Vary", "Access-Control-Request-Method")
	h.Add("Vary", "Access-Control-Request-Headers")
	h.Set("Allow", "GET, HEAD, POST, OPTIONS")
	if origin != "" && r.Header.Get("Access-Control-Request-Method") != "" {
		ok, err := o.Registered(r.Context(), origin)
		if err != nil {
			h.Set("Retry-After", "2")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		if ok {
			h.Set("Access-Control-Allow-Origin", origin)
			h.Set("Access-Control-Allow-Methods", "GET, HEAD, POST")
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", strconv.Itoa(int(maxAge.Seconds())))
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
