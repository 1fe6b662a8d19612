package templates_test

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/templates"
)

// The account pages follow the rules of every page: CSRF tokens in POST
// forms, actions under the issuer path, no inline script or style; and the
// page shows what it is given, escaped.
func TestAccountPagesRender(t *testing.T) {
	r, err := templates.New("/tenant")
	if err != nil {
		t.Fatal(err)
	}
	page := templates.Page{CSRFToken: "csrf-value"}
	account := templates.AccountPage{
		Page: page, Email: "a@example.com", EmailVerified: true, Name: "Ada <script>", Locale: "en-GB", Theme: "dark",
		Themes: []string{"system", "light", "dark"}, HasPassword: true, Notice: "Your profile is saved.",
		Section: "password", Field: "new_password", Error: "Use at least 8 characters.",
		Sessions: []templates.AccountSession{
			{Handle: "h1", Browser: "Firefox on Linux", Started: "1 Jan 2026, 10:00 UTC", Methods: "password", Current: true},
			{Handle: "h2", Browser: "Safari on iOS", Started: "2 Jan 2026, 10:00 UTC"},
		},
	}
	for name, data := range map[string]any{
		"account":         account,
		"account_delete":  templates.AccountDeletePage{Page: page, Email: "a@example.com", HasPassword: true, Error: "The password is not right."},
		"account_deleted": templates.AccountDeletedPage{Page: page},
	} {
		body := render(t, r, name, data)
		for _, form := range postForm.FindAllString(body, -1) {
			if !strings.Contains(form, `name="csrf_token" value="csrf-value"`) {
				t.Errorf("%s: a form without the CSRF token:\n%s", name, form)
			}
			if !strings.Contains(form, `action="/tenant/`) {
				t.Errorf("%s: form action outside the issuer path:\n%s", name, form)
			}
		}
		if strings.Contains(body, "<script") || strings.Contains(body, "style=") {
			t.Errorf("%s: inline script or style", name)
		}
	}
	body := render(t, r, "account", account)
	for _, want := range []string{
		"Ada &lt;script&gt;", `<option value="dark" selected>`, "this browser", `value="h2"`,
		`href="/tenant/account/identities"`, `href="/tenant/account/mfa"`, "Your profile is saved.",
		`id="new_password" name="new_password" type="password" autocomplete="new-password" required minlength="8" maxlength="128" aria-invalid="true"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("account page lacks %q", want)
		}
	}
	if n := strings.Count(body, "this browser"); n != 1 {
		t.Errorf("%d sessions marked as this browser, want 1", n)
	}
	noPassword := account
	noPassword.HasPassword, noPassword.Section = false, ""
	if body := render(t, r, "account", noPassword); strings.Contains(body, "current_password") || !strings.Contains(body, "no password") {
		t.Error("an account without a password is offered a password change")
	}
}
