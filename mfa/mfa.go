// Package mfa is the second factor: TOTP (RFC 6238) through pquerna/otp,
// with secrets sealed at rest under the system secret, codes accepted once
// within one step of clock skew, and single-use recovery codes stored as
// keyed hashes. It knows nothing of HTTP; the hosted pages call it.
package mfa

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"image/png"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/tollgate/tollgate/keyring"
	"github.com/tollgate/tollgate/storage"
)

// ACR is the authentication context class of a sign-in with a second
// factor, put in ID tokens as acr and accepted in acr_values.
const ACR = "urn:tollgate:mfa"

// Authentication method references (RFC 8176) of the second factors.
const (
	AMRTOTP     = "otp" // a TOTP code
	AMRRecovery = "mfa" // a recovery code: some second factor, not the device
)

// RecoveryCodeCount is how many recovery codes an enrollment gets.
const RecoveryCodeCount = 10

const (
	period = 30 // seconds per TOTP step
	skew   = 1  // steps accepted either side of now
	digits = otp.DigitsSix
)

// ErrWrongCode: the code is not right, already used, or there is no second
// factor to check it against. Callers answer all of these alike.
var ErrWrongCode = errors.New("mfa: wrong code")

// Store is what the second factor reads and writes.
type Store interface {
	storage.MFAStore
}

// Factors enrolls and checks second factors.
type Factors struct {
	store   Store
	sealer  *keyring.Sealer
	codeKey []byte
	issuer  string
	now     func() time.Time
}

// New returns second factors over store. issuer is the name authenticator
// apps show next to the account (the issuer's host).
func New(store Store, systemSecret []byte, issuer string) (*Factors, error) {
	sealer, err := keyring.NewSealer(systemSecret, "tollgate totp-secret encryption v1")
	if err != nil {
		return nil, fmt.Errorf("mfa: %w", err)
	}
	codeKey, err := hkdf.Key(sha256.New, systemSecret, nil, "tollgate recovery-code hash v1", 32)
	if err != nil {
		return nil, fmt.Errorf("mfa: derive key: %w", err)
	}
	return &Factors{store: store, sealer: sealer, codeKey: codeKey, issuer: issuer, now: time.Now}, nil
}

// Enrollment is what the user needs to add Tollgate to an authenticator.
type Enrollment struct {
	Secret string // base32, for typing in by hand
	URL    string // otpauth:// URI, what the QR code holds
	QRCode string // data:image/png;base64,… of the URI
}

// Status reports whether the user has a confirmed second factor.
func (f *Factors) Status(ctx context.Context, userID string) (confirmed bool, err error) {
	m, err := f.store.GetMFA(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	return m.Confirmed, nil
}

// Begin returns the user's pending enrollment, creating it (with a new
// secret) when there is none, so that reloading the page shows the same key.
// It fails with ErrAlreadyEnrolled when the user has a confirmed factor.
func (f *Factors) Begin(ctx context.Context, userID, account string) (Enrollment, error) {
	m, err := f.store.GetMFA(ctx, userID)
	switch {
	case err == nil && m.Confirmed:
		return Enrollment{}, ErrAlreadyEnrolled
	case err == nil:
		secret, err := f.open(m)
		if err == nil {
			return f.enrollment(secret, account)
		}
		// A pending secret sealed under an old system secret: start over.
	case !errors.Is(err, storage.ErrNotFound):
		return Enrollment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: f.issuer, AccountName: account, Period: period, Digits: digits})
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: generate: %w", err)
	}
	sealed, err := f.sealer.Seal([]byte(key.Secret()), userID)
	if err != nil {
		return Enrollment{}, err
	}
	now := f.now().UTC()
	if err := f.store.SaveMFA(ctx, storage.MFA{UserID: userID, SealedSecret: sealed, CreatedAt: now, UpdatedAt: now}); err != nil {
		return Enrollment{}, err
	}
	return f.enrollment(key.Secret(), account)
}

// ErrAlreadyEnrolled: the user has a confirmed second factor already.
var ErrAlreadyEnrolled = errors.New("mfa: already enrolled")

func (f *Factors) enrollment(secret, account string) (Enrollment, error) {
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: f.issuer, AccountName: account, Period: period, Digits: digits, Secret: mustDecode(secret),
	})
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: key: %w", err)
	}
	img, err := key.Image(240, 240)
	if err != nil {
		return Enrollment{}, fmt.Errorf("mfa: qr code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return Enrollment{}, fmt.Errorf("mfa: qr code: %w", err)
	}
	return Enrollment{
		Secret: key.Secret(), URL: key.URL(),
		QRCode: "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()),
	}, nil
}

func mustDecode(secret string) []byte {
	b, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	return b
}

// Confirm activates the pending enrollment when code is right, and returns
// the recovery codes, in clear, for the user to keep: they are never shown
// again.
func (f *Factors) Confirm(ctx context.Context, userID, code string) ([]string, error) {
	m, err := f.store.GetMFA(ctx, userID)
	if errors.Is(err, storage.ErrNotFound) || (err == nil && m.Confirmed) {
		return nil, ErrWrongCode
	}
	if err != nil {
		return nil, err
	}
	secret, err := f.open(m)
	if err != nil {
		return nil, ErrWrongCode
	}
	step, ok := f.match(secret, code)
	if !ok {
		return nil, ErrWrongCode
	}
	codes, hashes, err := f.newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	// The confirming code's step counts as used.
	m.Confirmed, m.LastStep, m.UpdatedAt = true, step, f.now().UTC()
	if err := f.store.SaveMFA(ctx, m); err != nil {
		return nil, err
	}
	if err := f.store.ReplaceRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// Verify checks a code at sign-in: six digits are a TOTP code, anything
// else a recovery code. It returns the amr value of the factor used, or
// ErrWrongCode for a wrong, replayed or spent code.
func (f *Factors) Verify(ctx context.Context, userID, code string) (string, error) {
	code = strings.TrimSpace(code)
	if isTOTP(code) {
		m, err := f.store.GetMFA(ctx, userID)
		if errors.Is(err, storage.ErrNotFound) || (err == nil && !m.Confirmed) {
			return "", ErrWrongCode
		}
		if err != nil {
			return "", err
		}
		secret, err := f.open(m)
		if err != nil {
			return "", ErrWrongCode
		}
		step, ok := f.match(secret, code)
		if !ok {
			return "", ErrWrongCode
		}
		err = f.store.UseTOTPStep(ctx, userID, step)
		if errors.Is(err, storage.ErrInactive) || errors.Is(err, storage.ErrNotFound) {
			return "", ErrWrongCode
		}
		if err != nil {
			return "", err
		}
		return AMRTOTP, nil
	}
	if confirmed, err := f.Status(ctx, userID); err != nil || !confirmed {
		if err != nil {
			return "", err
		}
		return "", ErrWrongCode
	}
	err := f.store.UseRecoveryCode(ctx, userID, f.hashRecoveryCode(code))
	if errors.Is(err, storage.ErrNotFound) {
		return "", ErrWrongCode
	}
	if err != nil {
		return "", err
	}
	return AMRRecovery, nil
}

// RegenerateRecoveryCodes replaces the user's recovery codes with new ones.
func (f *Factors) RegenerateRecoveryCodes(ctx context.Context, userID string) ([]string, error) {
	codes, hashes, err := f.newRecoveryCodes()
	if err != nil {
		return nil, err
	}
	if err := f.store.ReplaceRecoveryCodes(ctx, userID, hashes); err != nil {
		return nil, err
	}
	return codes, nil
}

// RecoveryCodesLeft counts the user's unused recovery codes.
func (f *Factors) RecoveryCodesLeft(ctx context.Context, userID string) (int, error) {
	return f.store.CountRecoveryCodes(ctx, userID)
}

// Remove deletes the user's second factor and recovery codes.
func (f *Factors) Remove(ctx context.Context, userID string) error {
	return f.store.DeleteMFA(ctx, userID)
}

func (f *Factors) open(m storage.MFA) (string, error) {
	b, err := f.sealer.Open(m.SealedSecret, m.UserID)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// match finds the step, within the skew, whose code is code.
func (f *Factors) match(secret, code string) (int64, bool) {
	if !isTOTP(code) {
		return 0, false
	}
	now := f.now()
	opts := totp.ValidateOpts{Period: period, Digits: digits, Algorithm: otp.AlgorithmSHA1}
	found, step := false, int64(0)
	for d := -skew; d <= skew; d++ {
		at := now.Add(time.Duration(d*period) * time.Second)
		want, err := totp.GenerateCodeCustom(secret, at, opts)
		if err != nil {
			return 0, false
		}
		// Every candidate is compared, in constant time each.
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !found {
			found, step = true, at.Unix()/period
		}
	}
	return step, found
}

func isTOTP(code string) bool {
	if len(code) != digits.Length() {
		return false
	}
	for _, c := range code {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Recovery codes are 12 characters of base32 (60 bits) in three groups,
// e.g. "7KQ2-M4XA-9TBD". Case, spaces and dashes do not matter when typed.
var recoveryAlphabet = base32.NewEncoding("ABCDEFGHJKLMNPQRSTUVWXYZ23456789").WithPadding(base32.NoPadding)

func (f *Factors) newRecoveryCodes() (codes, hashes []string, err error) {
	for range RecoveryCodeCount {
		b := make([]byte, 8)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, fmt.Errorf("mfa: random: %w", err)
		}
		s := recoveryAlphabet.EncodeToString(b)[:12]
		code := s[0:4] + "-" + s[4:8] + "-" + s[8:12]
		codes = append(codes, code)
		hashes = append(hashes, f.hashRecoveryCode(code))
	}
	return codes, hashes, nil
}

// hashRecoveryCode is a keyed hash: a database dump alone does not allow
// guessing codes offline.
func (f *Factors) hashRecoveryCode(code string) string {
	norm := strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, code)
	mac := hmac.New(sha256.New, f.codeKey)
	mac.Write([]byte(norm))
	return hex.EncodeToString(mac.Sum(nil))
}
