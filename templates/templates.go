// Package templates renders the hosted pages: sign in, consent, logout and
// errors. The pages are embedded html/template files sharing one layout; they
// need no JavaScript and no inline styles, so a strict CSP holds.
package templates

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"

	"github.com/tollgate/tollgate/static"
)

//go:embed pages/*.html layout.html mail/*.txt mail/*.html
var files embed.FS

// Page carries what every page needs.
type Page struct {
	// CSRFToken goes into a hidden csrf_token field of every form.
	CSRFToken string
}

// LoginPage is the sign-in form. Request is the pending authorization
// request's handle, empty when the user came to sign in directly.
type LoginPage struct {
	Page
	Request       string
	ClientName    string
	Email         string
	Failed        bool
	NotVerified   bool // right password, but the email is not confirmed yet
	Throttled     bool // too many failures: wait before trying again
	SignupEnabled bool
	ResetEnabled  bool
	Upstreams     []UpstreamButton // "Continue with …" buttons
	// Next is a page of Tollgate's own (such as /account) to return to
	// after a sign-in that no application asked for.
	Next string
}

// SignupPage is the account creation form; Error and Field say what to fix.
type SignupPage struct {
	Page
	Request    string
	ClientName string
	Email      string
	Name       string
	Error      string
	Field      string
}

// CheckEmailPage follows a sign-up or a reset request: the same page
// whether or not the address has an account.
type CheckEmailPage struct {
	Page
	Email string
	Reset bool // a password reset link, rather than a confirmation
}

// ForgotPasswordPage asks for the address to send a reset link to.
type ForgotPasswordPage struct {
	Page
	Request string
	Email   string
}

// ResetPasswordPage asks for the new password.
type ResetPasswordPage struct {
	Page
	Token string
	Error string
}

// PasswordChangedPage confirms a reset.
type PasswordChangedPage struct {
	Page
	Request string
}

// EmailVerifiedPage confirms an address; Request continues a pending sign-in.
type EmailVerifiedPage struct {
	Page
	Email   string
	Request string
}

// ConsentPage asks the user to grant a client the scopes it requested.
type ConsentPage struct {
	Page
	Request    string
	ClientName string
	UserEmail  string
	Scopes     []string
}

// LogoutPage asks the user to confirm signing out.
type LogoutPage struct {
	Page
	ClientName            string
	ClientID              string
	IDTokenHint           string
	PostLogoutRedirectURI string
	State                 string
}

// LoggedOutPage confirms the user is signed out.
type LoggedOutPage struct {
	Page
}

// SignedInPage confirms a sign-in that no application asked for.
type SignedInPage struct {
	Page
	Email string
}

// HomePage is shown at the issuer's root.
type HomePage struct {
	Page
	Email string
}

// ErrorPage explains why a request cannot go on. Code is an OAuth-style
// error code; Description is written for the person reading it.
type ErrorPage struct {
	Page
	Code        string
	Description string
}

// Renderer renders the hosted pages under one issuer path.
type Renderer struct {
	pages map[string]*template.Template
}

// New parses the embedded pages. basePath is the issuer's path ("" or
// "/tenant"), prefixed to every link and form action.
func New(basePath string) (*Renderer, error) {
	basePath = strings.TrimRight(basePath, "/")
	funcs := template.FuncMap{
		"url":   func(p string) string { return basePath + p },
		"asset": func(name string) string { return basePath + static.Path(name) },
		"scope": describeScope,
	}
	layout, err := template.New("layout.html").Funcs(funcs).ParseFS(files, "layout.html")
	if err != nil {
		return nil, fmt.Errorf("templates: layout: %w", err)
	}
	names, err := fs.Glob(files, "pages/*.html")
	if err != nil {
		return nil, fmt.Errorf("templates: %w", err)
	}
	r := &Renderer{pages: map[string]*template.Template{}}
	for _, name := range names {
		t, err := template.Must(layout.Clone()).ParseFS(files, name)
		if err != nil {
			return nil, fmt.Errorf("templates: %s: %w", name, err)
		}
		r.pages[strings.TrimSuffix(strings.TrimPrefix(name, "pages/"), ".html")] = t
	}
	return r, nil
}

// Render writes page with data and status. The page is rendered into a
// buffer first, so a template error becomes a 500 instead of half a page.
func (r *Renderer) Render(w http.ResponseWriter, status int, page string, data any) {
	t, ok := r.pages[page]
	if !ok {
		http.Error(w, "internal error: unknown page "+page, http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		http.Error(w, "internal error rendering page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

// Error renders the hosted error page; it never redirects.
func (r *Renderer) Error(w http.ResponseWriter, status int, code, description string) {
	r.Render(w, status, "error", ErrorPage{Code: code, Description: description})
}

// Unavailable renders the error page of a storage failure: 503, with a hint
// to retry (the page's own wording, never the failure's).
func (r *Renderer) Unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "2")
	r.Error(w, http.StatusServiceUnavailable, "unavailable", "The service is temporarily unavailable. Please try again in a moment.")
}

// scopeDescription is the consent page's wording for a scope.
type scopeDescription struct{ Title, Detail string }

func describeScope(scope string) scopeDescription {
	switch scope {
	case "openid":
		return scopeDescription{"Sign you in", "Confirm who you are to the application."}
	case "profile":
		return scopeDescription{"Your profile", "Your name, picture and when your profile last changed."}
	case "email":
		return scopeDescription{"Your email address", "Your email address and whether it is verified."}
	case "offline_access":
		return scopeDescription{"Stay signed in", "Keep access while you are away, until you sign out or revoke it."}
	default:
		return scopeDescription{scope, "Access named \u201c" + scope + "\u201d."}
	}
}
