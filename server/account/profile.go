package account

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"

	"github.com/tollgate/tollgate/storage"
)

// Bounds on what a user may keep in their profile.
const (
	maxNameLength     = 200  // characters
	maxPictureLength  = 2048 // bytes of URL
	maxPreferences    = 4096 // bytes of JSON
	maxPreferenceKeys = 32
	maxPreferenceNest = 3 // objects within the preferences object
)

// Themes are the values preferences.theme may take.
var Themes = []string{"system", "light", "dark"}

var preferenceKey = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_.-]{0,63}$`)

// FieldError says which field of a profile change is wrong, and why, in
// words for the person who typed it. Field is a JSON path such as name or
// preferences.locale.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// ProfileChange is what a user asks to change; nil fields stay as they
// are. Preferences is a JSON merge patch (RFC 7396) of the preferences
// object: keys with null values are removed, the others set, and a null
// patch clears them all.
type ProfileChange struct {
	Name        *string
	Picture     *string
	Preferences json.RawMessage
}

// Apply validates c and applies it to u.
func (c ProfileChange) Apply(u storage.User) (storage.User, error) {
	if c.Name != nil {
		name := strings.TrimSpace(*c.Name)
		switch {
		case !utf8.ValidString(name) || strings.ContainsFunc(name, unicode.IsControl):
			return u, &FieldError{"name", "The name contains characters that cannot be shown."}
		case utf8.RuneCountInString(name) > maxNameLength:
			return u, &FieldError{"name", fmt.Sprintf("The name must be at most %d characters.", maxNameLength)}
		}
		u.Name = name
	}
	if c.Picture != nil {
		p := strings.TrimSpace(*c.Picture)
		if err := checkPicture(p); err != nil {
			return u, err
		}
		u.Picture = p
	}
	if c.Preferences != nil {
		prefs, err := mergePreferences(u.Preferences, c.Preferences)
		if err != nil {
			return u, err
		}
		u.Preferences = prefs
	}
	return u, nil
}

func checkPicture(p string) error {
	if p == "" {
		return nil
	}
	if len(p) > maxPictureLength {
		return &FieldError{"picture", fmt.Sprintf("The picture URL must be at most %d characters.", maxPictureLength)}
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return &FieldError{"picture", "The picture must be an https:// URL, such as https://example.com/me.png."}
	}
	return nil
}

// mergePreferences applies patch to current (RFC 7396) and validates the
// result, which is nil when no preference is left.
func mergePreferences(current, patch json.RawMessage) (json.RawMessage, error) {
	var p any
	if err := decodeJSON(patch, &p); err != nil {
		return nil, &FieldError{"preferences", "The preferences are not valid JSON."}
	}
	if p == nil {
		return nil, nil
	}
	pm, ok := p.(map[string]any)
	if !ok {
		return nil, &FieldError{"preferences", "The preferences must be a JSON object, such as {\"locale\": \"en-GB\"}."}
	}
	cm := map[string]any{}
	if len(current) > 0 {
		if err := decodeJSON(current, &cm); err != nil || cm == nil {
			cm = map[string]any{} // unreadable stored preferences are replaced
		}
	}
	merged := mergePatch(cm, pm)
	if err := checkPreferences(merged); err != nil {
		return nil, err
	}
	if len(merged) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(merged)
	if err != nil {
		return nil, &FieldError{"preferences", "The preferences cannot be stored."}
	}
	if len(b) > maxPreferences {
		return nil, &FieldError{"preferences", fmt.Sprintf("The preferences must take at most %d bytes of JSON.", maxPreferences)}
	}
	return b, nil
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber() // numbers stay as written
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}

// mergePatch is RFC 7396 on decoded JSON objects.
func mergePatch(target, patch map[string]any) map[string]any {
	for k, v := range patch {
		if v == nil {
			delete(target, k)
			continue
		}
		if pv, ok := v.(map[string]any); ok {
			tv, _ := target[k].(map[string]any)
			if tv == nil {
				tv = map[string]any{}
			}
			target[k] = mergePatch(tv, pv)
			continue
		}
		target[k] = v
	}
	return target
}

// checkPreferences checks the shape of the object, and the preferences
// Tollgate knows: locale (a BCP 47 language tag) and theme.
func checkPreferences(prefs map[string]any) error {
	if len(prefs) > maxPreferenceKeys {
		return &FieldError{"preferences", fmt.Sprintf("Keep at most %d preferences.", maxPreferenceKeys)}
	}
	if err := checkKeys("preferences", prefs, 1); err != nil {
		return err
	}
	if v, ok := prefs["locale"]; ok {
		s, isString := v.(string)
		if !isString {
			return &FieldError{"preferences.locale", "The locale must be a language tag such as en-GB."}
		}
		if _, err := language.Parse(s); err != nil || len(s) > 35 {
			return &FieldError{"preferences.locale", fmt.Sprintf("%q is not a language tag such as en-GB or fr-CA.", s)}
		}
	}
	if v, ok := prefs["theme"]; ok {
		s, _ := v.(string)
		if !contains(Themes, s) {
			return &FieldError{"preferences.theme", "The theme must be one of " + strings.Join(Themes, ", ") + "."}
		}
	}
	return nil
}

func checkKeys(path string, obj map[string]any, depth int) error {
	for k, v := range obj {
		if !preferenceKey.MatchString(k) {
			return &FieldError{path, fmt.Sprintf("%q is not a valid preference name: use up to 64 letters, digits, '_', '-' or '.', starting with a letter.", k)}
		}
		if sub, ok := v.(map[string]any); ok {
			if depth >= maxPreferenceNest {
				return &FieldError{path + "." + k, fmt.Sprintf("Preferences may nest at most %d objects deep.", maxPreferenceNest)}
			}
			if err := checkKeys(path+"."+k, sub, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// preferenceString returns a string preference, or "".
func preferenceString(prefs json.RawMessage, key string) string {
	var m map[string]any
	if len(prefs) == 0 || json.Unmarshal(prefs, &m) != nil {
		return ""
	}
	s, _ := m[key].(string)
	return s
}
