package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"

	"github.com/tollgate/tollgate/server/audit"
	"github.com/tollgate/tollgate/storage"
)

// record writes the audit event of an account action that ended with err:
// a success when err is nil, a failure when the current password was wrong
// or throttled. Other refusals (a new password the policy rejects, a
// session already gone) change nothing and are not security events.
func (h *Handler) record(r *http.Request, eventType, userID string, err error, details map[string]string) {
	e := audit.Event{Type: eventType, UserID: userID, Details: details}
	var throttled *throttledError
	switch {
	case err == nil:
	case errors.Is(err, errWrongPassword):
		e.Reason, e.Details = "wrong_password", nil
	case errors.As(err, &throttled):
		e.Reason, e.Details = "throttled", nil
	default:
		return
	}
	h.Audit.Record(r.Context(), r, e)
}

// recordPasswordChange records a password change and, when it succeeded,
// that every other session of the user ended with it.
func (h *Handler) recordPasswordChange(r *http.Request, userID string, err error, via string) {
	h.record(r, audit.AccountPasswordChanged, userID, err, map[string]string{"via": via})
	if err == nil {
		h.record(r, audit.AccountOtherSessionsEnded, userID, nil, map[string]string{"cause": "password_changed", "via": via})
	}
}

// changedFields names the profile fields that differ between before and
// after, for the audit log: names only, never values.
func changedFields(before, after storage.User) string {
	var fields []string
	if before.Name != after.Name {
		fields = append(fields, "name")
	}
	if before.Picture != after.Picture {
		fields = append(fields, "picture")
	}
	if !samePreferences(before.Preferences, after.Preferences) {
		fields = append(fields, "preferences")
	}
	return strings.Join(fields, ",")
}

// samePreferences compares two preference documents as JSON values: a
// merge re-encodes them, so their bytes may differ when nothing changed.
func samePreferences(a, b []byte) bool {
	if bytes.Equal(a, b) {
		return true
	}
	var va, vb any
	if json.Unmarshal(a, &va) != nil || json.Unmarshal(b, &vb) != nil {
		return false
	}
	return reflect.DeepEqual(va, vb)
}

// boolString is "true", or "" (a detail left out) for false.
func boolString(b bool) string {
	if b {
		return "true"
	}
	return ""
}
