package templates_test

import (
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/templates"
)

func render(t *testing.T, r *templates.Renderer, page string, data any) string {
	t.Helper()
	w := httptest.NewRecorder()
	r.Render(w, 200, page, data)
	if w.Code != 200 {
		t.Fatalf("%s: status %d: %s", page, w.Code, w.Body)
	}
	if got := w.Header().Get("Cache-Control"); got != "no-store" {
		t.Errorf("%s: Cache-Control %q", page, got)
	}
	return w.Body.String()
}

var postForm = regexp.MustCompile(`(?s)<form method="post".*?</form>`)

// Every page renders, each POST form carries the CSRF token, and nothing
// needs inline script or style (the CSP forbids them).
func TestPagesRender(t *testing.T) {
	r, err := templates.New("/tenant")
	if err != nil {
		t.Fatal(err)
	}
	page := templates.Page{CSRFToken: "csrf-value"}
	for name, data := range map[string]any{
		"login":            templates.LoginPage{Page: page, Request: "h", ClientName: "App", Failed: true},
		"consent":          templates.ConsentPage{Page: page, Request: "h", ClientName: "App", UserEmail: "a@example.com", Scopes: []string{"openid", "email", "api:read"}},
		"logout":           templates.LogoutPage{Page: page, ClientName: "App"},
		"logged_out":       templates.LoggedOutPage{Page: page},
		"signed_in":        templates.SignedInPage{Page: page, Email: "a@example.com"},
		"home":             templates.HomePage{Page: page},
		"signup":           templates.SignupPage{Page: page, Request: "h", ClientName: "App", Error: "Use at least 8 characters.", Field: "password"},
		"check_email":      templates.CheckEmailPage{Page: page, Email: "a@example.com"},
		"email_verified":   templates.EmailVerifiedPage{Page: page, Email: "a@example.com", Request: "h"},
		"forgot_password":  templates.ForgotPasswordPage{Page: page, Request: "h"},
		"reset_password":   templates.ResetPasswordPage{Page: page, Token: "t", Error: "Use at least 8 characters."},
		"password_changed": templates.PasswordChangedPage{Page: page, Request: "h"},
		"error":            templates.ErrorPage{Page: page, Code: "invalid_request", Description: "Bad <thing>"},
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
		if !strings.Contains(body, `href="/tenant/static/style.css?v=`) {
			t.Errorf("%s: stylesheet link missing", name)
		}
	}
	if body := render(t, r, "error", templates.ErrorPage{Description: "Bad <thing>"}); !strings.Contains(body, "Bad &lt;thing&gt;") {
		t.Error("error description is not escaped")
	}
	if body := render(t, r, "consent", templates.ConsentPage{Scopes: []string{"email"}}); !strings.Contains(body, "Your email address") {
		t.Error("consent page does not explain the email scope")
	}
}

func TestUnknownPageIs500(t *testing.T) {
	r, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	w := httptest.NewRecorder()
	r.Render(w, 200, "nope", nil)
	if w.Code != 500 {
		t.Fatalf("unknown page: %d", w.Code)
	}
}
