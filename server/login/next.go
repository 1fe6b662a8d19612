package login

import (
	"net/url"
	"strings"
)

// returnPages are the pages of Tollgate's own that send a browser to sign
// in and take it back afterwards (next): the account pages and the admin
// console. No other page is a place to return to.
var returnPages = []string{"/account", "/admin"}

// LocalPath returns p when it names one of returnPages, or a page below
// one ("/account", "/admin/users?q=ada"), and "" otherwise. The result is
// appended to the issuer, so it must not be able to name another host
// ("//evil.example", "\\evil.example", "https:…") or climb out of those
// pages ("/admin/../logout").
func LocalPath(p string) string {
	if len(p) > 512 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Fragment != "" {
		return ""
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if seg == ".." || seg == "." {
			return ""
		}
	}
	for _, page := range returnPages {
		if u.Path == page || strings.HasPrefix(u.Path, page+"/") {
			return p
		}
	}
	return ""
}
