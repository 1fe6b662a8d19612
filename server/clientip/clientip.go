// Package clientip finds the address of the client behind a request: the
// peer's address, or, when the peer is a trusted proxy, the address its
// X-Forwarded-For names. Throttling and logs use it.
package clientip

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

type key struct{}

// Middleware puts the client address of every request into its context.
// X-Forwarded-For is read only when the peer is inside trusted, and then
// from the right: the first address that is not itself a trusted proxy is
// the client's (anything left of it could be forged by the client).
func Middleware(trusted []netip.Prefix, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		addr := Resolve(trusted, r.RemoteAddr, r.Header.Values("X-Forwarded-For"))
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), key{}, addr)))
	})
}

// Of returns the client address of r: the one Middleware found, or the
// peer's address when r did not pass through it.
func Of(r *http.Request) string {
	if a, ok := r.Context().Value(key{}).(string); ok {
		return a
	}
	return host(r.RemoteAddr)
}

// Resolve returns the client address for a request from remoteAddr
// (host:port) carrying the given X-Forwarded-For header values.
func Resolve(trusted []netip.Prefix, remoteAddr string, forwardedFor []string) string {
	peer := host(remoteAddr)
	if len(trusted) == 0 || len(forwardedFor) == 0 {
		return peer
	}
	a, err := netip.ParseAddr(peer)
	if err != nil || !isTrusted(trusted, a) {
		return peer
	}
	hops := strings.Split(strings.Join(forwardedFor, ","), ",")
	client := a
	for i := len(hops) - 1; i >= 0; i-- {
		hop, ok := parseHop(hops[i])
		if !ok {
			break // garbage: believe nothing further left
		}
		client = hop
		if !isTrusted(trusted, hop) {
			break
		}
	}
	return client.String()
}

func isTrusted(trusted []netip.Prefix, a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// parseHop reads one X-Forwarded-For entry: an address, or rarely an
// address with a port.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func host(remoteAddr string) string {
	h, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap().String()
	}
	return h
}
