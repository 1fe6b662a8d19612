package templates

import "time"

// UpstreamButton is a "Continue with NAME" button for an upstream OpenID
// Provider.
type UpstreamButton struct {
	ID   string
	Name string
}

// UpstreamLinkPage asks the owner of an existing account to prove it with
// its password before an upstream identity is linked to it.
type UpstreamLinkPage struct {
	Page
	Token        string // the pending link, single use
	Request      string
	UpstreamName string
	Email        string
	HasPassword  bool // false: the account signs in some other way
	Failed       bool
	Throttled    bool
}

// IdentitiesPage lists the upstream identities linked to the account.
type IdentitiesPage struct {
	Page
	SignedIn   bool
	Email      string
	Identities []IdentityRow
	// Available are the upstreams not linked yet.
	Available []UpstreamButton
	Notice    string
	Error     string
}

// IdentityRow is one linked identity.
type IdentityRow struct {
	ID           string
	UpstreamName string
	Email        string
	LinkedAt     time.Time
	// CanUnlink is false for the last way into an account without a
	// password.
	CanUnlink bool
}
