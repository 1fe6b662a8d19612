package templates

import (
	"html/template"
	"strings"
)

// MFALoginPage asks for the second factor after the password (or to step
// up a session). Request is the pending authorization request, if any.
type MFALoginPage struct {
	Page
	Request    string
	ClientName string
	Failed     bool // a wrong, used or expired code
	Throttled  bool // too many failures: wait before trying again
}

// MFAAccountPage is /account/mfa: the setup (QR code and key, confirmed
// with a code) when the user has no second factor, else its management
// (recovery codes left; regenerate them or turn it off, with the password).
type MFAAccountPage struct {
	Page
	Request   string
	Email     string
	Enrolled  bool
	Secret    string // the key to type in by hand
	QRCode    string // data: URL of a PNG
	CodesLeft int
	// Required: the application the user is signing in to demands a second
	// factor.
	Required       bool
	Disabled       bool // just turned off
	Failed         bool // wrong code
	PasswordFailed bool // wrong password
	Throttled      bool
}

// RecoveryCodesPage shows new recovery codes, once.
type RecoveryCodesPage struct {
	Page
	Codes []string
	// Continue is where to go next: the pending sign-in, or the account page.
	Continue string
	Enrolled bool // the codes come with a new enrollment
}

// QRCodeSrc is QRCode trusted as an image source: html/template refuses
// data: URLs otherwise, and only a PNG data URL is let through.
func (p MFAAccountPage) QRCodeSrc() template.URL {
	if !strings.HasPrefix(p.QRCode, "data:image/png;base64,") {
		return ""
	}
	return template.URL(p.QRCode) //nolint:gosec // a PNG we rendered ourselves
}
