package templates

// AccountPage is the self-service account page. Notice says what was just
// saved; Error, Section and Field say what to fix, in which form
// (profile, password) and which field.
type AccountPage struct {
	Page
	Email         string
	EmailVerified bool
	Name          string
	Picture       string
	Locale        string
	Theme         string
	Themes        []string
	HasPassword   bool
	Sessions      []AccountSession
	Notice        string
	Error         string
	Section       string
	Field         string
	// PicturesEnabled offers the picture upload form.
	PicturesEnabled bool
	// UploadedPicture is the URL of the user's uploaded picture, shown as
	// a preview (an external URL is not fetched by the page).
	UploadedPicture string
}

// AccountSession is one signed-in browser on the account page.
type AccountSession struct {
	Handle    string // names the session in the sign-out form
	Browser   string // "Firefox on Linux"
	Started   string
	Expires   string
	Methods   string // how the user signed in: "password", "password, one-time code"
	Current   bool
	UserAgent string
}

// AccountDeletePage confirms deleting the account with the password.
type AccountDeletePage struct {
	Page
	Email       string
	HasPassword bool
	// Recent: the account has no password, and signed in recently enough
	// for that to confirm the deletion.
	Recent bool
	// Upstreams are the providers to sign in again with, when not Recent.
	Upstreams []UpstreamButton
	Error     string
}

// AccountDeletedPage confirms the account is gone.
type AccountDeletedPage struct {
	Page
}
