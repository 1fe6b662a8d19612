package sqlstore

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tollgate/tollgate/storage"
)

// The gorm row structs mirror the tables of the latest migration. Column
// names are explicit so that renaming a Go field cannot rename a column, and
// gorm's automatic timestamps are off: the store writes what it is given.

type clientRow struct {
	ID                     string     `gorm:"column:id;primaryKey"`
	SecretHash             string     `gorm:"column:secret_hash"`
	Name                   string     `gorm:"column:name"`
	RedirectURIs           stringList `gorm:"column:redirect_uris"`
	PostLogoutRedirectURIs stringList `gorm:"column:post_logout_redirect_uris"`
	GrantTypes             stringList `gorm:"column:grant_types"`
	ResponseTypes          stringList `gorm:"column:response_types"`
	Scopes                 stringList `gorm:"column:scopes"`
	Audience               stringList `gorm:"column:audience"`
	WebOrigins             stringList `gorm:"column:web_origins"`
	Public                 bool       `gorm:"column:public"`
	SkipConsent            bool       `gorm:"column:skip_consent"`
	RequireMFA             bool       `gorm:"column:require_mfa"`
	RegistrationTokenHash  string     `gorm:"column:registration_token_hash"`
	CreatedAt              utcTime    `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt              utcTime    `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (clientRow) TableName() string { return "clients" }

func clientToRow(c storage.Client) clientRow {
	return clientRow{
		ID: c.ID, SecretHash: c.SecretHash, Name: c.Name,
		RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		GrantTypes: c.GrantTypes, ResponseTypes: c.ResponseTypes,
		Scopes: c.Scopes, Audience: c.Audience, WebOrigins: c.WebOrigins,
		Public: c.Public, SkipConsent: c.SkipConsent, RequireMFA: c.RequireMFA,
		RegistrationTokenHash: c.RegistrationTokenHash,
		CreatedAt:             utc(c.CreatedAt), UpdatedAt: utc(c.UpdatedAt),
	}
}

func (r clientRow) client() storage.Client {
	return storage.Client{
		ID: r.ID, SecretHash: r.SecretHash, Name: r.Name,
		RedirectURIs: r.RedirectURIs, PostLogoutRedirectURIs: r.PostLogoutRedirectURIs,
		GrantTypes: r.GrantTypes, ResponseTypes: r.ResponseTypes,
		Scopes: r.Scopes, Audience: r.Audience, WebOrigins: r.WebOrigins,
		Public: r.Public, SkipConsent: r.SkipConsent, RequireMFA: r.RequireMFA,
		RegistrationTokenHash: r.RegistrationTokenHash,
		CreatedAt:             r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
}

type userRow struct {
	ID            string     `gorm:"column:id;primaryKey"`
	Email         *string    `gorm:"column:email"` // NULL when the user has none
	EmailVerified bool       `gorm:"column:email_verified"`
	Name          string     `gorm:"column:name"`
	Picture       string     `gorm:"column:picture"`
	PasswordHash  string     `gorm:"column:password_hash"`
	Disabled      bool       `gorm:"column:disabled"`
	Roles         stringList `gorm:"column:roles"`
	CreatedAt     utcTime    `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt     utcTime    `gorm:"column:updated_at;autoUpdateTime:false"`

	// Migration 7.
	Preferences jsonObject `gorm:"column:preferences"`
}

func (userRow) TableName() string { return "users" }

func userToRow(u storage.User) userRow {
	r := userRow{
		ID: u.ID, EmailVerified: u.EmailVerified, Name: u.Name, Picture: u.Picture,
		PasswordHash: u.PasswordHash, Disabled: u.Disabled, Roles: u.Roles,
		CreatedAt: utc(u.CreatedAt), UpdatedAt: utc(u.UpdatedAt),
	}
	r.Preferences = jsonObject(u.Preferences)
	if e := normalizeEmail(u.Email); e != "" {
		r.Email = &e
	}
	return r
}

func (r userRow) user() storage.User {
	u := storage.User{
		ID: r.ID, EmailVerified: r.EmailVerified, Name: r.Name, Picture: r.Picture,
		PasswordHash: r.PasswordHash, Disabled: r.Disabled, Roles: r.Roles,
		CreatedAt: r.CreatedAt.Time, UpdatedAt: r.UpdatedAt.Time,
	}
	u.Preferences = json.RawMessage(r.Preferences)
	if r.Email != nil {
		u.Email = *r.Email
	}
	return u
}

type sessionRow struct {
	ID        string     `gorm:"column:id;primaryKey"`
	UserID    string     `gorm:"column:user_id"`
	AuthTime  utcTime    `gorm:"column:auth_time"`
	AMR       stringList `gorm:"column:amr"`
	ExpiresAt utcTime    `gorm:"column:expires_at"`
	CreatedAt utcTime    `gorm:"column:created_at;autoCreateTime:false"`
	UserAgent string     `gorm:"column:user_agent"`
}

func (sessionRow) TableName() string { return "sessions" }

func sessionToRow(s storage.Session) sessionRow {
	return sessionRow{
		ID: s.ID, UserID: s.UserID, AuthTime: utc(s.AuthTime), AMR: s.AMR,
		ExpiresAt: utc(s.ExpiresAt), CreatedAt: utc(s.CreatedAt), UserAgent: s.UserAgent,
	}
}

func (r sessionRow) session() storage.Session {
	return storage.Session{
		ID: r.ID, UserID: r.UserID, AuthTime: r.AuthTime.Time, AMR: r.AMR,
		ExpiresAt: r.ExpiresAt.Time, CreatedAt: r.CreatedAt.Time, UserAgent: r.UserAgent,
	}
}

type consentRow struct {
	UserID    string     `gorm:"column:user_id;primaryKey"`
	ClientID  string     `gorm:"column:client_id;primaryKey"`
	Scopes    stringList `gorm:"column:scopes"`
	CreatedAt utcTime    `gorm:"column:created_at;autoCreateTime:false"`
	UpdatedAt utcTime    `gorm:"column:updated_at;autoUpdateTime:false"`
}

func (consentRow) TableName() string { return "consents" }

type keyRow struct {
	ID         string   `gorm:"column:id;primaryKey"`
	Algorithm  string   `gorm:"column:algorithm"`
	State      string   `gorm:"column:state"`
	PrivateKey []byte   `gorm:"column:private_key"`
	PublicJWK  []byte   `gorm:"column:public_jwk"`
	CreatedAt  utcTime  `gorm:"column:created_at;autoCreateTime:false"`
	RetiresAt  nullTime `gorm:"column:retires_at"`
}

func (keyRow) TableName() string { return "signing_keys" }

func keyToRow(k storage.SigningKey) keyRow {
	return keyRow{
		ID: k.ID, Algorithm: k.Algorithm, State: string(k.State),
		PrivateKey: k.PrivateKey, PublicJWK: k.PublicJWK,
		CreatedAt: utc(k.CreatedAt), RetiresAt: nullTime{utc(k.RetiresAt)},
	}
}

func (r keyRow) key() storage.SigningKey {
	return storage.SigningKey{
		ID: r.ID, Algorithm: r.Algorithm, State: storage.KeyState(r.State),
		PrivateKey: nonEmpty(r.PrivateKey), PublicJWK: nonEmpty(r.PublicJWK),
		CreatedAt: r.CreatedAt.Time, RetiresAt: r.RetiresAt.Time,
	}
}

type tokenRow struct {
	Kind      string  `gorm:"column:kind;primaryKey"`
	Signature string  `gorm:"column:signature;primaryKey"`
	RequestID string  `gorm:"column:request_id"`
	ClientID  string  `gorm:"column:client_id"`
	Subject   string  `gorm:"column:subject"`
	JTI       string  `gorm:"column:jti"`
	Active    bool    `gorm:"column:active"`
	ExpiresAt utcTime `gorm:"column:expires_at"`
	Data      []byte  `gorm:"column:data"`
	CreatedAt utcTime `gorm:"column:created_at;autoCreateTime:false"`
}

func (tokenRow) TableName() string { return "tokens" }

func tokenToRow(t storage.Token) tokenRow {
	return tokenRow{
		Kind: string(t.Kind), Signature: t.Signature, RequestID: t.RequestID,
		ClientID: t.ClientID, Subject: t.Subject, JTI: t.JTI, Active: t.Active,
		ExpiresAt: utc(t.ExpiresAt), Data: t.Data, CreatedAt: utc(t.CreatedAt),
	}
}

func (r tokenRow) token() storage.Token {
	return storage.Token{
		Kind: storage.TokenKind(r.Kind), Signature: r.Signature, RequestID: r.RequestID,
		ClientID: r.ClientID, Subject: r.Subject, JTI: r.JTI, Active: r.Active,
		ExpiresAt: r.ExpiresAt.Time, Data: nonEmpty(r.Data), CreatedAt: r.CreatedAt.Time,
	}
}

func tokens(rows []tokenRow) []storage.Token {
	out := make([]storage.Token, len(rows))
	for i, r := range rows {
		out[i] = r.token()
	}
	return out
}

type revocationRow struct {
	JTI       string  `gorm:"column:jti;primaryKey"`
	ExpiresAt utcTime `gorm:"column:expires_at"`
}

func (revocationRow) TableName() string { return "revocations" }

func nonEmpty(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return b
}

// stringList is a []string stored as a JSON array in a text column. An empty
// list reads back as nil.
type stringList []string

func (l stringList) Value() (driver.Value, error) {
	if len(l) == 0 {
		return "[]", nil
	}
	b, err := json.Marshal([]string(l))
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func (l *stringList) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		*l = nil
		return nil
	case string:
		b = []byte(v)
	case []byte:
		b = v
	default:
		return fmt.Errorf("scan string list: unexpected %T", src)
	}
	var out []string
	if err := json.Unmarshal(b, &out); err != nil {
		return fmt.Errorf("scan string list: %w", err)
	}
	if len(out) == 0 {
		out = nil
	}
	*l = out
	return nil
}

// utcTime stores a time in UTC at microsecond precision (PostgreSQL's), so
// both databases read back the same value. On SQLite times are text in one
// fixed layout, always UTC, which compares in time order.
type utcTime struct{ time.Time }

func utc(t time.Time) utcTime { return utcTime{t.UTC().Truncate(time.Microsecond)} }

func (t utcTime) Value() (driver.Value, error) { return t.UTC().Truncate(time.Microsecond), nil }

// nullTime is a utcTime stored as NULL when zero.
type nullTime struct{ utcTime }

func (t nullTime) Value() (driver.Value, error) {
	if t.IsZero() {
		return nil, nil
	}
	return t.utcTime.Value()
}

func (t *utcTime) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v.UTC()
	case string:
		return t.parse(v)
	case []byte:
		return t.parse(string(v))
	default:
		return fmt.Errorf("scan time: unexpected %T", src)
	}
	return nil
}

// parse reads the layout the SQLite driver writes, for columns whose
// declared type the driver does not see (such as RETURNING).
func (t *utcTime) parse(s string) error {
	for _, layout := range []string{"2006-01-02 15:04:05.999999999-07:00", time.RFC3339Nano} {
		if v, err := time.Parse(layout, s); err == nil {
			t.Time = v.UTC()
			return nil
		}
	}
	return fmt.Errorf("scan time: unexpected layout %q", s)
}

// jsonObject is a JSON object stored as text, "{}" when empty; an empty
// object reads back as nil.
type jsonObject []byte

func (o jsonObject) Value() (driver.Value, error) {
	if len(o) == 0 {
		return "{}", nil
	}
	return string(o), nil
}

func (o *jsonObject) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
	case string:
		b = []byte(v)
	case []byte:
		b = append([]byte(nil), v...)
	default:
		return fmt.Errorf("scan JSON object: unexpected %T", src)
	}
	if s := string(b); s == "" || s == "{}" {
		b = nil
	}
	*o = b
	return nil
}
