package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/mailer/mailtest"
	"github.com/tollgate/tollgate/server/admin"
	"github.com/tollgate/tollgate/storage"
	"github.com/tollgate/tollgate/storage/testbackend"
)

// postFormsHaveCSRF fails when a POST form on p has no CSRF token.
func postFormsHaveCSRF(t *testing.T, p page) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(p.body))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(n *html.Node, form *html.Node) bool
	walk = func(n *html.Node, form *html.Node) bool {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "name") == "csrf_token" && attr(n, "value") != "" {
			return true
		}
		found := false
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			found = walk(c, form) || found
		}
		return found
	}
	var forms func(n *html.Node)
	forms = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "form" && strings.EqualFold(attr(n, "method"), "post") && !walk(n, n) {
			t.Errorf("a form posting to %s has no CSRF token", attr(n, "action"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			forms(c)
		}
	}
	forms(doc)
}

// formAction returns the action of the first POST form on p whose action
// contains part.
func formAction(t *testing.T, p page, part string) string {
	t.Helper()
	re := regexp.MustCompile(`<form method="post" action="([^"]*` + regexp.QuoteMeta(part) + `[^"]*)"`)
	m := re.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no form posting to …%s… on %s:\n%s", part, p.url, p.body)
	}
	return p.url.ResolveReference(mustParse(t, html.UnescapeString(m[1]))).String()
}

// bobSignsIn signs the plain user in to the confidential client, remembering
// the consent, and returns the browser and the tokens.
func bobSignsIn(t *testing.T, e *env) (*browser, *oauth2.Token) {
	t.Helper()
	cfg := e.oauthConfig(confidentialID, confidentialKey)
	a := newAuthRequest(cfg)
	b := newBrowser(t)
	p := b.signIn(b.get(a.url), plainEmail, testPassword)
	if strings.HasSuffix(p.url.Path, "/consent") {
		p = b.consent(p, "allow", true)
	}
	q := callback(t, p, e.issuer)
	tok, err := cfg.Exchange(context.Background(), q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		t.Fatal(err)
	}
	return b, tok
}

// TestConsoleUserActivity: a user's page lists their live sessions and
// consents; the admin ends a session, revokes a consent (the client's
// tokens die with it), resets two-step verification (offered only while
// the user has it) and mails a password reset. Every form carries the
// CSRF token, and the audit log names the admin as the actor.
func TestConsoleUserActivity(t *testing.T) {
	signupBackends(t, func(t *testing.T, e *env, mail *mailtest.Server) {
		ctx := context.Background()
		bob := consoleUsers(t, e)
		bobBrowser, tok := bobSignsIn(t, e)
		bobSignsIn(t, e) // a second browser

		b, _ := consoleSignIn(t, e, testEmail)
		userURL := e.issuer + "/admin/users/" + bob.ID
		p := b.get(userURL)
		if p.status != http.StatusOK || strings.Count(p.body, ">End session</button>") != 2 ||
			!strings.Contains(p.body, "Web App") || strings.Count(p.body, ">Revoke</button>") != 1 {
			t.Fatalf("user page: %d, want two sessions and a consent for Web App:\n%s", p.status, p.body)
		}
		if strings.Contains(p.body, "Reset two-step verification") {
			t.Error("MFA reset offered for a user without a second factor")
		}
		if !strings.Contains(p.body, "Send password reset") {
			t.Error("no password reset action although mail is set up")
		}
		postFormsHaveCSRF(t, p)

		// Without the CSRF token nothing ends.
		end := formAction(t, p, "/sessions/")
		if got := b.post(end, url.Values{}); got.status != http.StatusForbidden {
			t.Fatalf("end session without CSRF: %d", got.status)
		}
		p = b.post(end, url.Values{"csrf_token": {csrfOf(t, p)}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "The session is ended") || strings.Count(p.body, ">End session</button>") != 1 {
			t.Fatalf("end session: %d\n%s", p.status, p.body)
		}
		if sessions, err := e.store.ListUserSessions(ctx, bob.ID); err != nil || len(sessions) != 1 {
			t.Fatalf("sessions left: %d (%v)", len(sessions), err)
		}
		// The same form again: the session is gone, the page says so.
		if again := b.post(end, url.Values{"csrf_token": {csrfOf(t, p)}}); !strings.Contains(again.body, "had already ended") {
			t.Fatalf("ending an ended session: %d\n%s", again.status, again.body)
		}

		// Revoking the consent revokes the client's tokens for the user.
		p = b.post(formAction(t, p, "/consents/"+confidentialID+"/revoke"), url.Values{"csrf_token": {csrfOf(t, p)}})
		if p.status != http.StatusOK || !strings.Contains(p.body, "The consent is revoked") || !strings.Contains(p.body, "No remembered consent") {
			t.Fatalf("revoke consent: %d\n%s", p.status, p.body)
		}
		if e.introspect(tok.AccessToken)["active"] != false {
			t.Error("an access token survived the revoked consent")
		}

		// Two-step verification: offered once the user has it.
		e.enrollMFA(bobBrowser)
		p = b.get(userURL)
		if !strings.Contains(p.body, "Reset two-step verification") {
			t.Fatalf("no MFA reset for a user with a second factor:\n%s", p.body)
		}
		p = b.post(formAction(t, p, "/mfa/reset"), url.Values{"csrf_token": {csrfOf(t, p)}})
		if !strings.Contains(p.body, "Two-step verification is reset") || strings.Contains(p.body, ">Reset two-step verification</button>") {
			t.Fatalf("MFA reset: %d\n%s", p.status, p.body)
		}
		if _, err := e.store.GetMFA(ctx, bob.ID); !errors.Is(err, storage.ErrNotFound) {
			t.Fatalf("second factor after the reset: %v", err)
		}

		// A password reset link, by mail.
		p = b.post(formAction(t, p, "/password-reset"), url.Values{"csrf_token": {csrfOf(t, p)}})
		if !strings.Contains(p.body, "A password reset link is on its way") {
			t.Fatalf("password reset: %d\n%s", p.status, p.body)
		}
		mail.WaitFor(t, plainEmail).Link(t, e.issuer+"/reset-password")

		events := e.auditEvents(url.Values{"user": {bob.ID}, "type": {"admin.*"}})
		for _, typ := range []string{"admin.user.session_ended", "admin.user.consent_revoked", "admin.user.mfa_reset", "admin.user.password_reset_sent"} {
			findEvent(t, events, admin.AuditEventView{Type: typ, Actor: "user:" + e.user.ID})
		}
	})
}

// TestConsoleUserWithoutMail: without mail set up there is no password
// reset action, and a user without sessions or consents says so.
func TestConsoleUserWithoutMail(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		bob := consoleUsers(t, e)
		b, _ := consoleSignIn(t, e, testEmail)
		p := b.get(e.issuer + "/admin/users/" + bob.ID)
		if p.status != http.StatusOK || strings.Contains(p.body, "Send password reset") ||
			!strings.Contains(p.body, "No live session") || !strings.Contains(p.body, "No remembered consent") {
			t.Fatalf("user page without mail, sessions or consents: %d\n%s", p.status, p.body)
		}
	})
}

var auditRow = regexp.MustCompile(`<td class="event">`)
var auditType = regexp.MustCompile(`<td class="event"><code>([a-z_.]+)</code>`)

// auditTypes returns the types of the events listed on the audit page.
func auditTypes(p page) []string {
	var out []string
	for _, m := range auditType.FindAllStringSubmatch(p.body, -1) {
		out = append(out, m[1])
	}
	return out
}

// TestConsoleAuditLog: the audit page, in the navigation, lists events
// newest first; filters by type (a prefix with .*), user (by email too),
// client and time narrow it; a bad time is explained; the next page link
// keeps the filters; a non-admin cannot see it.
func TestConsoleAuditLog(t *testing.T) {
	backends(t, func(t *testing.T, e *env) {
		ctx := context.Background()
		bob := consoleUsers(t, e)
		wrong := newBrowser(t)
		wrong.signIn(wrong.get(e.issuer+"/login"), plainEmail, "not the password")
		bobSignsIn(t, e)
		// Sixty old events of a type of their own, to page through.
		base := time.Now().Add(-48 * time.Hour).UTC()
		var old []storage.AuditEvent
		for i := range 60 {
			old = append(old, storage.AuditEvent{
				ID: fmt.Sprintf("00000000-0000-7000-8000-%012d", i), Time: base.Add(time.Duration(i) * time.Second),
				Type: "test.paging", Actor: "cli", Outcome: "success", ClientID: publicID,
			})
		}
		if err := e.store.AppendAuditEvents(ctx, old...); err != nil {
			t.Fatal(err)
		}

		b, _ := consoleSignIn(t, e, testEmail)
		p := b.get(e.issuer + "/admin/clients")
		if !strings.Contains(p.body, `href="/admin/audit"`) {
			t.Fatalf("no audit log in the navigation:\n%s", p.body)
		}
		p = b.get(e.issuer + "/admin/audit")
		if p.status != http.StatusOK || !strings.Contains(p.body, `href="/admin/audit" aria-current="page"`) {
			t.Fatalf("audit page: %d\n%s", p.status, p.body)
		}
		if n := len(auditRow.FindAllString(p.body, -1)); n != 50 {
			t.Fatalf("first page: %d events, want 50", n)
		}
		if types := auditTypes(p); types[0] == "test.paging" {
			t.Fatalf("not newest first: %v", types[:3])
		}

		// By type, with a prefix.
		p = b.get(e.issuer + "/admin/audit?type=signin.*")
		types := auditTypes(p)
		if len(types) < 3 {
			t.Fatalf("signin.*: %v", types)
		}
		for _, typ := range types {
			if !strings.HasPrefix(typ, "signin.") {
				t.Fatalf("signin.* lists %s", typ)
			}
		}
		if !strings.Contains(p.body, "bad_password") {
			t.Error("the failed sign-in's reason is not shown")
		}
		// By user, given as an email address.
		p = b.get(e.issuer + "/admin/audit?user=" + url.QueryEscape(plainEmail))
		if p.status != http.StatusOK || !strings.Contains(p.body, "Events about "+plainEmail) || !strings.Contains(p.body, bob.ID) ||
			strings.Contains(p.body, "/admin/users/"+e.user.ID+`"><code>`) {
			t.Fatalf("by user email: %d\n%s", p.status, p.body)
		}
		if p = b.get(e.issuer + "/admin/audit?user=nobody@example.com"); p.status != http.StatusBadRequest || !strings.Contains(p.body, `aria-invalid="true"`) {
			t.Fatalf("an unknown email: %d", p.status)
		}
		// By time: a datetime-local value, read as UTC.
		future := time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04")
		if p = b.get(e.issuer + "/admin/audit?since=" + future); p.status != http.StatusOK || !strings.Contains(p.body, "No event matches") {
			t.Fatalf("since the future: %d", p.status)
		}
		if p = b.get(e.issuer + "/admin/audit?until=yesterday"); p.status != http.StatusBadRequest || !strings.Contains(p.body, `id="until" name="until" type="datetime-local" value="yesterday" aria-invalid="true"`) {
			t.Fatalf("a bad time: %d\n%s", p.status, p.body)
		}

		// Paging keeps the filters: 50, then 10, then no further link.
		p = b.get(e.issuer + "/admin/audit?type=test.paging&client=" + publicID)
		if n := len(auditRow.FindAllString(p.body, -1)); n != 50 {
			t.Fatalf("paging, first page: %d", n)
		}
		m := regexp.MustCompile(`<p class="pager"><a href="([^"]+)">Next page`).FindStringSubmatch(p.body)
		if m == nil {
			t.Fatalf("no next page link:\n%s", p.body)
		}
		next := html.UnescapeString(m[1])
		if !strings.Contains(next, "type=test.paging") || !strings.Contains(next, "client="+publicID) {
			t.Fatalf("the next page link drops the filters: %s", next)
		}
		p = b.get(e.issuer + next)
		if n := len(auditRow.FindAllString(p.body, -1)); n != 10 || strings.Contains(p.body, "Next page") {
			t.Fatalf("paging, second page: %d events", n)
		}
		for _, typ := range auditTypes(p) {
			if typ != "test.paging" {
				t.Fatalf("the second page lists %s", typ)
			}
		}

		// Not for users without the admin role.
		bb, _ := consoleSignIn(t, e, plainEmail)
		if p := bb.get(e.issuer + "/admin/audit"); p.status != http.StatusForbidden {
			t.Fatalf("a non-admin's audit page: %d", p.status)
		}
	})
}

// failingActivity is a store whose consent and audit reads fail while
// down is set, as a database that stops answering in the middle of a page.
type failingActivity struct {
	storage.Store
	down atomic.Bool
}

var errDown = errors.New("database unavailable")

func (s *failingActivity) ListUserConsents(ctx context.Context, userID string) ([]storage.Consent, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.ListUserConsents(ctx, userID)
}

func (s *failingActivity) QueryAuditEvents(ctx context.Context, q storage.AuditQuery) ([]storage.AuditEvent, error) {
	if s.down.Load() {
		return nil, errDown
	}
	return s.Store.QueryAuditEvents(ctx, q)
}

// TestConsoleActivityOutage: when the reads behind a user's page or the
// audit log fail, the console answers 503 with a retry hint, never a page
// that shows no consents or no events as if there were none.
func TestConsoleActivityOutage(t *testing.T) {
	store := &failingActivity{Store: testbackend.SQLite(t)}
	e := newEnvWith(t, "sqlite", store, keyring.RS256)
	bob := consoleUsers(t, e)
	b, _ := consoleSignIn(t, e, testEmail)
	store.down.Store(true)
	for _, p := range []page{
		b.get(e.issuer + "/admin/users/" + bob.ID),
		b.get(e.issuer + "/admin/audit?type=signin.*"),
	} {
		if p.status != http.StatusServiceUnavailable || p.header.Get("Retry-After") == "" || !strings.Contains(p.body, "Temporarily unavailable") {
			t.Errorf("%s with failing reads: %d", p.url, p.status)
		}
	}
	store.down.Store(false)
	if p := b.get(e.issuer + "/admin/audit"); p.status != http.StatusOK {
		t.Fatalf("audit page once the reads work: %d", p.status)
	}
}
