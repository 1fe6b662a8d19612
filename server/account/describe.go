package account

import (
	"strconv"
	"strings"
	"time"
)

// describeBrowser names a browser from its User-Agent, roughly ("Firefox
// on Linux"), for people to recognize their sessions by; an agent it does
// not recognize is shown as sent, shortened.
func describeBrowser(ua string) string {
	if ua == "" {
		return "Unknown browser"
	}
	var browser string
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"OPR/", "Opera"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"},
		{"Chromium/", "Chromium"}, {"Safari/", "Safari"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	var system string
	for _, s := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"},
		{"Mac OS X", "macOS"}, {"CrOS", "ChromeOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, s.token) {
			system = s.name
			break
		}
	}
	switch {
	case browser != "" && system != "":
		return browser + " on " + system
	case browser != "":
		return browser
	}
	if len(ua) > 60 {
		return ua[:60] + "…"
	}
	return ua
}

// describeMethods says how a session signed in, from its amr values.
func describeMethods(amr []string) string {
	var out []string
	for _, m := range amr {
		switch m {
		case "pwd":
			out = append(out, "password")
		case "otp":
			out = append(out, "one-time code")
		case "mfa":
			out = append(out, "two steps")
		case "fed", "ext":
			out = append(out, "another provider")
		case "hwk", "swk":
			out = append(out, "security key")
		default:
			out = append(out, m)
		}
	}
	return strings.Join(out, ", ")
}

// retryAfter is a Retry-After value of at least a second.
func retryAfter(d time.Duration) string { return strconv.Itoa(int(d.Seconds()) + 1) }
