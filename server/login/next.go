package login

import (
	"net/url"
	"strings"
)

// consolePath is the only part of the site a sign-in without an
// authorization request may return to: the admin console.
const consolePath = "/admin"

// safeNext returns raw when it is a path of the admin console on this
// issuer, and "" otherwise, so that the login page can never be made to
// redirect anywhere else (no open redirect).
func (h *Handler) safeNext(raw string) string {
	if raw == "" || strings.ContainsAny(raw, "\\\r\n\t") || strings.HasPrefix(raw, "//") {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.IsAbs() || u.Host != "" || u.User != nil || u.Fragment != "" {
		return ""
	}
	base := ""
	if iss, err := url.Parse(h.Issuer); err == nil {
		base = strings.TrimRight(iss.Path, "/")
	}
	p := u.Path
	if p != base+consolePath && !strings.HasPrefix(p, base+consolePath+"/") || strings.Contains(p, "/../") || strings.HasSuffix(p, "/..") {
		return ""
	}
	return u.RequestURI()
}
