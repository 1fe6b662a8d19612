package login

import (
	"net/url"
	"strings"
)

// localPath returns p when it is a path on Tollgate itself ("/account",
// "/account?x=y") to return to after signing in, and "" otherwise: the
// result is appended to the issuer, so it must not be able to name another
// host ("//evil.example", "\\evil.example", "https:…", "@evil.example").
func localPath(p string) string {
	if len(p) > 512 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n\t") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return ""
	}
	return p
}
