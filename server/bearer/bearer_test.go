package bearer

import (
	"net/http/httptest"
	"testing"
)

func TestToken(t *testing.T) {
	for _, tc := range []struct {
		header, want string
		ok           bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer  abc ", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"Bearer   ", "", false},
		{"", "", false},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		if tc.header != "" {
			r.Header.Set("Authorization", tc.header)
		}
		got, ok := Token(r)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Token(%q) = %q, %v; want %q, %v", tc.header, got, ok, tc.want, tc.ok)
		}
	}
}

func TestEqual(t *testing.T) {
	if !Equal("s3cret-token", "s3cret-token") || Equal("s3cret-token", "s3cret-toke") || Equal("", "x") {
		t.Error("Equal does not compare tokens exactly")
	}
}
