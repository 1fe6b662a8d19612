package audit

// Event types of the features that came after the first audit log: the
// second factor, the account page and API, federation, dynamic client
// registration. See docs/admin.md, "Audit log".
const (
	// MFAEnabled: a second factor's enrollment was confirmed with a code.
	MFAEnabled = "mfa.enabled"
	// MFAFailed: a wrong or throttled code at enrollment (the sign-in's
	// code failures are signin.failed with method mfa).
	MFAFailed = "mfa.failed"
	// MFADisabled: the user turned the second factor off.
	MFADisabled = "mfa.disabled"
	// MFARecoveryCodesRegenerated: a new set of recovery codes replaced
	// the old one.
	MFARecoveryCodesRegenerated = "mfa.recovery_codes_regenerated"
	// MFARecoveryCodeUsed: a recovery code was spent at sign-in.
	MFARecoveryCodeUsed = "mfa.recovery_code_used"
	// AdminUserMFAReset: an admin removed a user's second factor.
	AdminUserMFAReset = "admin.user.mfa_reset"

	// AccountProfileUpdated: the user changed their profile (details:
	// fields, names only).
	AccountProfileUpdated = "account.profile_updated"
	// AccountPasswordChanged: the user changed their password, or failed
	// to (reason wrong_password, throttled).
	AccountPasswordChanged = "account.password_changed"
	// AccountSessionEnded: the user ended one of their sessions.
	AccountSessionEnded = "account.session_ended"
	// AccountOtherSessionsEnded: a password change signed every other
	// session (and grant) of the user out.
	AccountOtherSessionsEnded = "account.other_sessions_ended"
	// AccountDeleted: the user deleted their account, or failed to
	// confirm it (reason wrong_password, throttled).
	AccountDeleted = "account.deleted"

	// IdentityLinked: an upstream account now signs in to a local user
	// (details: upstream, via password, trusted_email or account_page).
	IdentityLinked = "identity.linked"
	// IdentityUnlinked: the user removed an upstream identity.
	IdentityUnlinked = "identity.unlinked"
	// IdentityLinkRefused: linking was refused (reason wrong_password,
	// throttled, linked_elsewhere).
	IdentityLinkRefused = "identity.link_refused"

	// ClientRegistered, ClientRegistrationUpdated, ClientRegistrationDeleted:
	// dynamic client registration (RFC 7591, RFC 7592); a refused attempt
	// is recorded with a reason.
	ClientRegistered          = "client.registered"
	ClientRegistrationUpdated = "client.registration_updated"
	ClientRegistrationDeleted = "client.registration_deleted"
)
