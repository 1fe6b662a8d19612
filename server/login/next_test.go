package login

import "testing"

func TestLocalPath(t *testing.T) {
	for p, want := range map[string]string{
		"/account":              "/account",
		"/account?tab=sessions": "/account?tab=sessions",
		"":                      "",
		"account":               "",
		"//evil.example/x":      "",
		"/\\evil.example":       "",
		"https://evil.example":  "",
		"@evil.example":         "",
		"/a\r\nSet-Cookie: x=y": "",
	} {
		if got := LocalPath(p); got != want {
			t.Errorf("LocalPath(%q) = %q, want %q", p, got, want)
		}
	}
}
