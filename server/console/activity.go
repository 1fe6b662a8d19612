package console

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gorilla/mux"

	"github.com/tollgate/tollgate/clientreg"
	"github.com/tollgate/tollgate/server/admin"
)

// The user's activity on their page (live sessions, consents) and the
// audit log page, all read through the admin API in process.

type sessionList struct {
	Items []admin.SessionView `json:"items"`
}

// sessionRow is a session with its sign-in methods in words.
type sessionRow struct {
	admin.SessionView
	Methods []string
}

// methodNames says the amr values of a session in words.
var methodNames = map[string]string{
	"pwd": "password", "otp": "authenticator code", "mfa": "recovery code", "fed": "upstream provider",
}

func describeAMR(amr []string) []string {
	out := make([]string, 0, len(amr))
	for _, m := range amr {
		if name, ok := methodNames[m]; ok {
			m = name
		}
		out = append(out, m)
	}
	return out
}

type consentList struct {
	Items []admin.ConsentView `json:"items"`
}

// consentRow is a consent with its client's name, when the client still
// exists.
type consentRow struct {
	admin.ConsentView
	ClientName string
}

// userActivity reads the user's sessions and consents for their page.
func (h *Handler) userActivity(r *http.Request, id string) ([]sessionRow, []consentRow, error) {
	base := "/users/" + url.PathEscape(id)
	var sessions sessionList
	if err := h.call(r, http.MethodGet, base+"/sessions", nil, nil, &sessions); err != nil {
		return nil, nil, err
	}
	var consents consentList
	if err := h.call(r, http.MethodGet, base+"/consents", nil, nil, &consents); err != nil {
		return nil, nil, err
	}
	rows := make([]consentRow, 0, len(consents.Items))
	for _, c := range consents.Items {
		row := consentRow{ConsentView: c}
		var client clientreg.View
		err := h.call(r, http.MethodGet, "/clients/"+url.PathEscape(c.ClientID), nil, nil, &client)
		var ae *apiError
		switch {
		case err == nil:
			row.ClientName = client.ClientName
		case errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		default:
			return nil, nil, err
		}
		rows = append(rows, row)
	}
	list := make([]sessionRow, 0, len(sessions.Items))
	for _, s := range sessions.Items {
		list = append(list, sessionRow{SessionView: s, Methods: describeAMR(s.AMR)})
	}
	return list, rows, nil
}

// endSession ends one of the user's sessions: that browser must sign in
// again.
func (h *Handler) endSession(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	err := h.call(r, http.MethodDelete, "/users/"+url.PathEscape(v["id"])+"/sessions/"+url.PathEscape(v["sid"]), nil, nil, nil)
	if h.gone(err) {
		h.redirect(w, r, "/users/"+url.PathEscape(v["id"]), "session_gone")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/users/"+url.PathEscape(v["id"]), "session_ended")
}

// revokeConsent forgets the user's consent for a client and revokes the
// client's tokens for the user.
func (h *Handler) revokeConsent(w http.ResponseWriter, r *http.Request) {
	v := mux.Vars(r)
	err := h.call(r, http.MethodDelete, "/users/"+url.PathEscape(v["id"])+"/consents/"+url.PathEscape(v["client"]), nil, nil, nil)
	if h.gone(err) {
		h.redirect(w, r, "/users/"+url.PathEscape(v["id"]), "consent_gone")
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/users/"+url.PathEscape(v["id"]), "consent_revoked")
}

// gone reports a 404 about the session or consent (not the user): it was
// ended elsewhere meanwhile, and the page shows what is left.
func (h *Handler) gone(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.Status == http.StatusNotFound && strings.HasPrefix(ae.Description, "This user has no")
}

// resetMFA removes the user's second factor and recovery codes.
func (h *Handler) resetMFA(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if err := h.call(r, http.MethodPost, "/users/"+url.PathEscape(id)+"/mfa/reset", nil, nil, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/users/"+url.PathEscape(id), "mfa_reset")
}

// sendPasswordReset mails the user the hosted pages' reset link.
func (h *Handler) sendPasswordReset(w http.ResponseWriter, r *http.Request) {
	id := mux.Vars(r)["id"]
	if err := h.call(r, http.MethodPost, "/users/"+url.PathEscape(id)+"/password-reset", nil, nil, nil); err != nil {
		h.fail(w, r, err)
		return
	}
	h.redirect(w, r, "/users/"+url.PathEscape(id), "reset_sent")
}

type auditList struct {
	Items         []admin.AuditEventView `json:"items"`
	NextPageToken string                 `json:"next_page_token"`
}

// auditFilters are the audit page's filters as typed.
type auditFilters struct {
	User, Client, Type, Since, Until string
}

// query is the filters as the page's own URL parameters, for the next
// page's link.
func (f auditFilters) query() url.Values {
	q := url.Values{}
	for k, v := range map[string]string{"user": f.User, "client": f.Client, "type": f.Type, "since": f.Since, "until": f.Until} {
		if v != "" {
			q.Set(k, v)
		}
	}
	return q
}

// auditRow is an event with the email addresses of the users it names,
// when they still exist.
type auditRow struct {
	admin.AuditEventView
	// ActorUserID is the actor's user ID when the actor is a user.
	ActorUserID string
	ActorEmail  string
	UserEmail   string
}

type auditData struct {
	Filters auditFilters
	Items   []auditRow
	// Next is the path of the next page, below the issuer, or "".
	Next string
	// Field names the filter that is not valid.
	Field string
	// Filtered is true when any filter is set.
	Filtered bool
	// UserEmail is the email of the user filtered on, when known.
	UserEmail string
}

// auditPageSize is how many events a page shows.
const auditPageSize = "50"

// timeLayouts are what the since and until fields accept: a browser's
// datetime-local value (read as UTC) or an RFC 3339 time.
var timeLayouts = []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339Nano, "2006-01-02"}

func parseFilterTime(s string) (time.Time, bool) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// auditLog shows the audit log, newest first, 50 a page, filtered by user
// (ID or exact email), client, type (a prefix when it ends in .*) and a
// time range.
func (h *Handler) auditLog(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := auditFilters{
		User: strings.TrimSpace(q.Get("user")), Client: strings.TrimSpace(q.Get("client")), Type: strings.TrimSpace(q.Get("type")),
		Since: strings.TrimSpace(q.Get("since")), Until: strings.TrimSpace(q.Get("until")),
	}
	data := auditData{Filters: f, Filtered: f != auditFilters{}}
	params := url.Values{"page_size": {auditPageSize}}
	if t := q.Get("page_token"); t != "" {
		params.Set("page_token", t)
	}
	invalid := func(field, message string) {
		data.Field = field
		h.render(w, r, http.StatusBadRequest, "audit", "audit", page{Error: message, Data: data})
	}
	if f.User != "" {
		id, email, err := h.findUser(r, f.User)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		if id == "" {
			invalid("user", "No user has the email address "+f.User+".")
			return
		}
		params.Set("user", id)
		data.UserEmail = email
	}
	if f.Client != "" {
		params.Set("client", f.Client)
	}
	if f.Type != "" {
		params.Set("type", f.Type)
	}
	for _, t := range []struct{ name, value string }{{"since", f.Since}, {"until", f.Until}} {
		if t.value == "" {
			continue
		}
		at, ok := parseFilterTime(t.value)
		if !ok {
			invalid(t.name, "“"+t.value+"” is not a time: use the picker, or a time such as 2026-01-02T15:04:05Z.")
			return
		}
		params.Set(t.name, at.Format(time.RFC3339Nano))
	}
	var list auditList
	err := h.call(r, http.MethodGet, "/audit-events", params, nil, &list)
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusBadRequest {
		invalid(ae.Field, ae.Description)
		return
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	if data.Items, err = h.auditRows(r, list.Items); err != nil {
		h.fail(w, r, err)
		return
	}
	if list.NextPageToken != "" {
		next := f.query()
		next.Set("page_token", list.NextPageToken)
		data.Next = Prefix + "/audit?" + next.Encode()
	}
	h.render(w, r, http.StatusOK, "audit", "audit", page{Data: data})
}

// maxEmailLookups bounds the users looked up for one page of events.
const maxEmailLookups = 25

// auditRows names the users of the events by their email addresses, so
// that the page reads "ada@example.com" rather than a UUID. Users that no
// longer exist keep their ID.
func (h *Handler) auditRows(r *http.Request, events []admin.AuditEventView) ([]auditRow, error) {
	emails := map[string]string{}
	lookup := func(id string) (string, error) {
		if id == "" {
			return "", nil
		}
		if email, ok := emails[id]; ok {
			return email, nil
		}
		if len(emails) >= maxEmailLookups {
			return "", nil
		}
		var u admin.UserView
		err := h.call(r, http.MethodGet, "/users/"+url.PathEscape(id), nil, nil, &u)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			err = nil
		}
		if err != nil {
			return "", err
		}
		emails[id] = u.Email
		return u.Email, nil
	}
	rows := make([]auditRow, 0, len(events))
	for _, ev := range events {
		row := auditRow{AuditEventView: ev}
		var err error
		if row.UserEmail, err = lookup(ev.UserID); err != nil {
			return nil, err
		}
		if id, ok := strings.CutPrefix(ev.Actor, "user:"); ok {
			row.ActorUserID = id
			if row.ActorEmail, err = lookup(id); err != nil {
				return nil, err
			}
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// findUser resolves the user filter: an email address to the ID of the
// user who has exactly it ("" when none), anything else is an ID as is.
func (h *Handler) findUser(r *http.Request, s string) (id, email string, err error) {
	if !strings.Contains(s, "@") {
		return s, "", nil
	}
	var list userList
	if err := h.call(r, http.MethodGet, "/users", url.Values{"email": {s}, "page_size": {"500"}}, nil, &list); err != nil {
		return "", "", err
	}
	for _, u := range list.Items {
		if strings.EqualFold(u.Email, s) {
			return u.ID, u.Email, nil
		}
	}
	return "", "", nil
}
