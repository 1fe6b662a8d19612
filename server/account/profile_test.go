package account

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/storage"
)

func ptr(s string) *string { return &s }

func TestProfileChange(t *testing.T) {
	base := storage.User{Name: "Ada", Picture: "https://img.example/a.png", Preferences: json.RawMessage(`{"locale":"en-GB","n":1.50}`)}
	for _, tc := range []struct {
		name   string
		change ProfileChange
		field  string // the FieldError expected, "" for success
		want   storage.User
	}{
		{"nothing", ProfileChange{}, "", base},
		{"name trimmed", ProfileChange{Name: ptr("  Ada King ")}, "", storage.User{Name: "Ada King", Picture: base.Picture, Preferences: base.Preferences}},
		{"clear picture", ProfileChange{Picture: ptr("")}, "", storage.User{Name: "Ada", Preferences: base.Preferences}},
		{"numbers kept as written", ProfileChange{Preferences: json.RawMessage(`{"theme":"light"}`)}, "", storage.User{Name: "Ada", Picture: base.Picture, Preferences: json.RawMessage(`{"locale":"en-GB","n":1.50,"theme":"light"}`)}},
		{"remove the last keys", ProfileChange{Preferences: json.RawMessage(`{"locale":null,"n":null}`)}, "", storage.User{Name: "Ada", Picture: base.Picture}},
		{"null clears", ProfileChange{Preferences: json.RawMessage(`null`)}, "", storage.User{Name: "Ada", Picture: base.Picture}},
		{"control character", ProfileChange{Name: ptr("Ada\x00")}, "name", base},
		{"long name", ProfileChange{Name: ptr(strings.Repeat("é", 201))}, "name", base},
		{"http picture", ProfileChange{Picture: ptr("http://img.example/a.png")}, "picture", base},
		{"picture with credentials", ProfileChange{Picture: ptr("https://u:p@img.example/a.png")}, "picture", base},
		{"string preferences", ProfileChange{Preferences: json.RawMessage(`"dark"`)}, "preferences", base},
		{"invalid JSON", ProfileChange{Preferences: json.RawMessage(`{"a":`)}, "preferences", base},
		{"trailing data", ProfileChange{Preferences: json.RawMessage(`{} {}`)}, "preferences", base},
		{"numeric locale", ProfileChange{Preferences: json.RawMessage(`{"locale":7}`)}, "preferences.locale", base},
		{"theme", ProfileChange{Preferences: json.RawMessage(`{"theme":"neon"}`)}, "preferences.theme", base},
		{"nested bad key", ProfileChange{Preferences: json.RawMessage(`{"ui":{"9lives":1}}`)}, "preferences.ui", base},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.change.Apply(base)
			var fe *FieldError
			switch {
			case tc.field != "":
				if !errors.As(err, &fe) || fe.Field != tc.field || fe.Message == "" {
					t.Fatalf("error %v, want one naming %s", err, tc.field)
				}
			case err != nil:
				t.Fatal(err)
			case got.Name != tc.want.Name || got.Picture != tc.want.Picture || string(got.Preferences) != string(tc.want.Preferences):
				t.Fatalf("got %+v (preferences %s), want %+v (preferences %s)", got, got.Preferences, tc.want, tc.want.Preferences)
			}
		})
	}
	many := map[string]int{}
	for i := range maxPreferenceKeys + 1 {
		many["k"+strings.Repeat("x", i)] = i
	}
	b, _ := json.Marshal(many)
	if _, err := (ProfileChange{Preferences: b}).Apply(storage.User{}); err == nil {
		t.Error("too many preferences accepted")
	}
}

func TestDescribeBrowser(t *testing.T) {
	for ua, want := range map[string]string{
		"Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0":                                                "Firefox on Linux",
		"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Safari/605.1.15": "Safari on macOS",
		"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36 Edg/131.0": "Edge on Windows",
		"Mozilla/5.0 (Linux; Android 15) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36":              "Chrome on Android",
		"curl/8.5.0": "curl/8.5.0",
		"":           "Unknown browser",
	} {
		if got := describeBrowser(ua); got != want {
			t.Errorf("describeBrowser(%q) = %q, want %q", ua, got, want)
		}
	}
}
