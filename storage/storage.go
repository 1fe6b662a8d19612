// Package storage declares Tollgate's domain types and the storage contract that
// every backend implements. Nothing here knows about HTTP or about fosite: the
// fosite adapter (package oauthstore) translates between the two.
package storage

import (
	"context"
	"encoding/json"
	"errors"
	"time"
)

// The only sentinel errors a backend returns; everything else is a failure of
// the backend itself (and surfaces to clients as 503).
var (
	// ErrNotFound: no such record, or a record that has expired.
	ErrNotFound = errors.New("storage: not found")
	// ErrAlreadyExists: a create collided with an existing key.
	ErrAlreadyExists = errors.New("storage: already exists")
	// ErrInactive: a conditional state change lost, because the record was
	// already used or revoked (a code redeemed twice, a rotated refresh token).
	ErrInactive = errors.New("storage: already used or revoked")
)

// Client is an OAuth 2.0 client registration.
type Client struct {
	ID                     string
	SecretHash             string // empty for public clients
	Name                   string
	RedirectURIs           []string
	PostLogoutRedirectURIs []string
	GrantTypes             []string
	ResponseTypes          []string
	Scopes                 []string
	Audience               []string
	// WebOrigins are the browser origins (scheme://host[:port]) allowed to
	// call the token, userinfo, revocation and JWKS endpoints (CORS).
	WebOrigins            []string
	Public                bool // token_endpoint_auth_method none; PKCE only
	SkipConsent           bool
	RegistrationTokenHash string
	CreatedAt             time.Time
	UpdatedAt             time.Time

	// RequireMFA: every user signing in to this client gives a second factor.
	RequireMFA bool
}

// User is a local account. ID is the stable OpenID subject.
type User struct {
	ID            string
	Email         string // stored lower-cased; unique
	EmailVerified bool
	Name          string
	Picture       string
	PasswordHash  string // PHC-formatted argon2id; empty when the user has no password
	Disabled      bool
	Roles         []string // "admin" opens the admin console
	CreatedAt     time.Time
	UpdatedAt     time.Time

	// Preferences is a JSON object the user keeps for their applications
	// (locale, theme, ...); nil when there are none.
	Preferences json.RawMessage
}

// Session is a browser session at the hosted pages. ID is a hash of the
// cookie's value, so a database dump cannot be replayed as cookies.
type Session struct {
	ID        string
	UserID    string
	AuthTime  time.Time
	AMR       []string
	ExpiresAt time.Time
	CreatedAt time.Time
	// UserAgent is the browser's User-Agent when the session started, so
	// that its owner can tell their sessions apart.
	UserAgent string
}

// Consent remembers the scopes a user granted to a client.
type Consent struct {
	UserID    string
	ClientID  string
	Scopes    []string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// KeyState is where a signing key is in its life.
type KeyState string

const (
	// KeyNext is published in JWKS but does not sign yet, so verifiers have it
	// before the first token signed with it reaches them.
	KeyNext KeyState = "next"
	// KeyActive signs new tokens. There is at most one.
	KeyActive KeyState = "active"
	// KeyRetired no longer signs and stays published until RetiresAt, when the
	// last token it signed has expired.
	KeyRetired KeyState = "retired"
)

// SigningKey is an asymmetric key used to sign ID and access tokens.
type SigningKey struct {
	ID         string // the JWK kid
	Algorithm  string // RS256, ES256, EdDSA
	State      KeyState
	PrivateKey []byte // encrypted at rest by the keyring, never stored in clear
	PublicJWK  []byte // JSON Web Key, public part only
	CreatedAt  time.Time
	RetiresAt  time.Time // zero unless retired
}

// TokenKind names the kind of an OAuth artifact held in the token table.
type TokenKind string

const (
	KindAuthorizeCode   TokenKind = "authorize_code"
	KindAccessToken     TokenKind = "access_token"
	KindRefreshToken    TokenKind = "refresh_token"
	KindPKCE            TokenKind = "pkce"
	KindOpenIDSession   TokenKind = "oidc"
	KindClientAssertion TokenKind = "client_assertion"
)

// Token is a stored OAuth artifact: an authorization code, an access or refresh
// token, or a request bound to one. It is keyed by the token's signature (an
// HMAC or a JWT signature), never by the token itself.
type Token struct {
	Kind      TokenKind
	Signature string
	RequestID string // the grant: every token issued from one authorization shares it
	ClientID  string
	Subject   string
	JTI       string // access tokens: the JWT ID recorded on revocation
	Active    bool
	ExpiresAt time.Time
	Data      []byte // the serialized request, opaque to storage
	CreatedAt time.Time
}

// ClientStore holds client registrations.
type ClientStore interface {
	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id string) (Client, error)
	ListClients(ctx context.Context) ([]Client, error)
	// UpdateClient applies update to the stored client atomically.
	UpdateClient(ctx context.Context, id string, update func(Client) (Client, error)) error
	DeleteClient(ctx context.Context, id string) error
}

// UserStore holds local accounts.
type UserStore interface {
	CreateUser(ctx context.Context, u User) error
	GetUser(ctx context.Context, id string) (User, error)
	// GetUserByEmail matches the address case-insensitively.
	GetUserByEmail(ctx context.Context, email string) (User, error)
	UserSearcher
	UpdateUser(ctx context.Context, id string, update func(User) (User, error)) error
	DeleteUser(ctx context.Context, id string) error
}

// SessionStore holds browser sessions.
type SessionStore interface {
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns ErrNotFound for an expired session.
	GetSession(ctx context.Context, id string) (Session, error)
	DeleteSession(ctx context.Context, id string) error
	DeleteUserSessions(ctx context.Context, userID string) error
	// DeleteExpiredSessions removes up to limit sessions that expired
	// before t, and reports how many it removed.
	DeleteExpiredSessions(ctx context.Context, before time.Time, limit int) (int, error)
}

// ConsentStore remembers consent decisions.
type ConsentStore interface {
	// SaveConsent creates or replaces the user's consent for the client.
	SaveConsent(ctx context.Context, c Consent) error
	GetConsent(ctx context.Context, userID, clientID string) (Consent, error)
	DeleteConsent(ctx context.Context, userID, clientID string) error
}

// KeyStore holds signing keys, shared by every replica.
type KeyStore interface {
	CreateKey(ctx context.Context, k SigningKey) error
	// ListKeys returns all keys, oldest first.
	ListKeys(ctx context.Context) ([]SigningKey, error)
	UpdateKey(ctx context.Context, id string, update func(SigningKey) (SigningKey, error)) error
	DeleteKey(ctx context.Context, id string) error
	// LockKeys, inside a transaction, waits until no other transaction
	// holds the lock on the signing keys and takes it until commit or
	// rollback, so replicas change keys one at a time.
	LockKeys(ctx context.Context) error
}

// TokenKey names one stored artifact.
type TokenKey struct {
	Kind      TokenKind
	Signature string
}

// Redemption is what a token request writes: the code or refresh token it
// uses up, what goes with it, and what it issues.
type Redemption struct {
	Use    *TokenKey  // deactivated; the others apply only if it was active
	Delete []TokenKey // removed where present; must not include Use
	Create []Token
}

// TokenStore holds OAuth artifacts by signature.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	// CreateTokens stores several artifacts in one round trip: those issued
	// together, such as a code with its PKCE challenge and OpenID request,
	// or an access token with its refresh token. ErrAlreadyExists if a kind
	// and signature were taken; the others are stored all the same, so in
	// a transaction the caller rolls back.
	CreateTokens(ctx context.Context, ts []Token) error
	// ReplaceToken stores t in place of the artifact of the same kind and
	// signature, or as a new one: in one statement, so that no reader ever
	// finds neither.
	ReplaceToken(ctx context.Context, t Token) error
	// GetTokens returns those of the artifacts that exist, in any order, in
	// one round trip.
	GetTokens(ctx context.Context, keys []TokenKey) ([]Token, error)
	// DeleteTokens removes those of the artifacts that exist, in one round
	// trip; absent ones are no error.
	DeleteTokens(ctx context.Context, keys []TokenKey) error
	// GetToken returns the token whether active or not; ErrNotFound if absent.
	GetToken(ctx context.Context, kind TokenKind, signature string) (Token, error)
	// DeactivateToken marks an active token used. It returns ErrInactive when
	// the token exists but was already deactivated, so that of two concurrent
	// redemptions exactly one succeeds.
	DeactivateToken(ctx context.Context, kind TokenKind, signature string) error
	// RedeemTokens applies r all or nothing: it marks r.Use used (failing
	// as DeactivateToken does), deletes r.Delete and creates r.Create
	// (ErrAlreadyExists if a key is taken). On PostgreSQL it is one
	// statement, so a token exchange writes in one round trip.
	RedeemTokens(ctx context.Context, r Redemption) error
	DeleteToken(ctx context.Context, kind TokenKind, signature string) error
	// DeactivateGrant deactivates every token of the kind issued under the grant.
	DeactivateGrant(ctx context.Context, kind TokenKind, requestID string) error
	// DeleteGrant deletes every token of the kind issued under the grant and
	// returns what it deleted.
	DeleteGrant(ctx context.Context, kind TokenKind, requestID string) ([]Token, error)
	// DeleteSubjectTokens deletes the tokens of the kind issued to a user.
	DeleteSubjectTokens(ctx context.Context, kind TokenKind, subject string) ([]Token, error)
	// DeleteExpiredTokens removes up to limit tokens that expired before t.
	DeleteExpiredTokens(ctx context.Context, before time.Time, limit int) (int, error)
}

// Revocation is a revoked access token's ID and when the token expires.
type Revocation struct {
	JTI       string
	ExpiresAt time.Time
}

// RevocationList records revoked access-token IDs until the tokens expire.
type RevocationList interface {
	Revoke(ctx context.Context, jti string, expiresAt time.Time) error
	IsRevoked(ctx context.Context, jti string) (bool, error)
	// ListRevocations returns the revocations whose token expires after
	// notExpiredAt (used to re-seed a cache such as Redis after a flush).
	ListRevocations(ctx context.Context, notExpiredAt time.Time) ([]Revocation, error)
	// DeleteExpiredRevocations removes up to limit revocations whose token
	// expired before t, and reports how many it removed.
	DeleteExpiredRevocations(ctx context.Context, before time.Time, limit int) (int, error)
}

// Attempts are the recent failures counted under one key (an account, an
// address).
type Attempts struct {
	Failures    int
	LastFailure time.Time
}

// Throttle counts failed attempts (passwords, codes) so that guessing can be
// slowed down. A key's count is forgotten once no failure has been recorded
// for the forget period given with the last one.
type Throttle interface {
	// RecordFailure adds one failure under key, atomically, and returns the
	// count including it.
	RecordFailure(ctx context.Context, key string, forget time.Duration) (Attempts, error)
	// Attempts returns the count under each key, in order (zero when
	// forgotten), in one round trip to each place counts are kept.
	Attempts(ctx context.Context, keys ...string) ([]Attempts, error)
	// ResetAttempts forgets key's failures, after a success.
	ResetAttempts(ctx context.Context, key string) error
	// DeleteExpiredAttempts removes up to limit forgotten counts.
	DeleteExpiredAttempts(ctx context.Context, before time.Time, limit int) (int, error)
}

// Transactor runs a group of calls atomically. Calls made with the returned
// context join the transaction.
type Transactor interface {
	BeginTx(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
	// RedeemAndCommit applies r (see TokenStore.RedeemTokens) as the
	// transaction's last write and commits, or rolls back on error. When
	// nothing else ran in the transaction, r runs on its own, in one round
	// trip on PostgreSQL: a transaction begins at its first statement.
	RedeemAndCommit(ctx context.Context, r Redemption) error
}

// Store is everything Tollgate keeps. Handlers ask for the smaller interfaces.
type Store interface {
	ClientStore
	UserStore
	SessionStore
	AccountStore
	ConsentStore
	KeyStore
	TokenStore
	RevocationList
	Throttle
	MFAStore
	IdentityStore
	AuditStore
	UserActivityStore
	Transactor
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	Close() error
}
