package admin

import (
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate/tollgate/server/httpjson"
	"github.com/tollgate/tollgate/storage"
)

// AuditEventView is an audit event as the API shows it.
type AuditEventView struct {
	ID        string            `json:"id"`
	Time      time.Time         `json:"time"`
	Type      string            `json:"type"`
	Actor     string            `json:"actor"`
	UserID    string            `json:"user_id,omitempty"`
	ClientID  string            `json:"client_id,omitempty"`
	IP        string            `json:"ip,omitempty"`
	UserAgent string            `json:"user_agent,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Outcome   string            `json:"outcome"`
	Reason    string            `json:"reason,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

func viewAuditEvent(e storage.AuditEvent) AuditEventView {
	return AuditEventView{
		ID: e.ID, Time: e.Time, Type: e.Type, Actor: e.Actor, UserID: e.UserID, ClientID: e.ClientID,
		IP: e.IP, UserAgent: e.UserAgent, RequestID: e.RequestID, Outcome: e.Outcome, Reason: e.Reason,
		Details: e.Details,
	}
}

type auditPage struct {
	Items         []AuditEventView `json:"items"`
	NextPageToken string           `json:"next_page_token,omitempty"`
}

// listAuditEvents pages through the audit log, newest first; user, client
// and type filter exactly (a type ending in ".*" is a prefix: admin.*),
// since (inclusive) and until (exclusive) are
// RFC 3339 times. The page token is a keyset cursor, so pages stay
// consistent while events are added.
func (h *Handler) listAuditEvents(w http.ResponseWriter, r *http.Request) {
	qs := r.URL.Query()
	q := storage.AuditQuery{UserID: qs.Get("user"), ClientID: qs.Get("client"), Type: qs.Get("type"), Limit: defaultPageSize}
	if raw := qs.Get("page_size"); raw != "" {
		n, err := strconv.Atoi(raw)
		if err != nil || n < 1 || n > maxPageSize {
			h.fieldError(w, http.StatusBadRequest, "invalid_request", "page_size", "page_size must be between 1 and 500.")
			return
		}
		q.Limit = n
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"since", &q.Since}, {"until", &q.Until}} {
		if raw := qs.Get(f.name); raw != "" {
			t, err := time.Parse(time.RFC3339Nano, raw)
			if err != nil {
				h.fieldError(w, http.StatusBadRequest, "invalid_request", f.name, f.name+" must be an RFC 3339 time, such as 2026-01-02T15:04:05Z.")
				return
			}
			*f.t = t
		}
	}
	if raw := qs.Get("page_token"); raw != "" {
		c, ok := decodeCursor(raw)
		if !ok {
			h.fieldError(w, http.StatusBadRequest, "invalid_request", "page_token", "page_token is not one this API returned.")
			return
		}
		q.After = &c
	}
	// This replica's buffered events first, so an admin sees what just
	// happened here.
	_ = h.Audit.Flush(r.Context())
	// One more than asked tells whether another page follows.
	q.Limit++
	events, err := h.Store.QueryAuditEvents(r.Context(), q)
	if err != nil {
		h.unavailable(w, r, err)
		return
	}
	page := auditPage{Items: []AuditEventView{}}
	for i, e := range events {
		if i == q.Limit-1 {
			last := events[i-1]
			page.NextPageToken = encodeCursor(storage.AuditCursor{Time: last.Time, ID: last.ID})
			break
		}
		page.Items = append(page.Items, viewAuditEvent(e))
	}
	httpjson.Write(w, http.StatusOK, page)
}

// A cursor is the last event's time (Unix microseconds) and ID.
func encodeCursor(c storage.AuditCursor) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.Time.UnixMicro(), 10) + "|" + c.ID))
}

func decodeCursor(s string) (storage.AuditCursor, bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return storage.AuditCursor{}, false
	}
	micros, id, ok := strings.Cut(string(b), "|")
	n, err := strconv.ParseInt(micros, 10, 64)
	if !ok || err != nil || id == "" {
		return storage.AuditCursor{}, false
	}
	return storage.AuditCursor{Time: time.UnixMicro(n).UTC(), ID: id}, true
}
