package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// ErrUnsealable: a sealed value does not decrypt under this key (the system
// secret changed, or the value was tampered with or moved to another row).
var ErrUnsealable = errors.New("keyring: value does not decrypt")

// Sealer encrypts small secrets at rest with AES-256-GCM under a key derived
// from the system secret for one purpose, so that the keys of two purposes
// never coincide. The signing keys use one; so do TOTP secrets.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer derives the key for purpose (an HKDF info string, never reused
// for another purpose) from the system secret.
func NewSealer(systemSecret []byte, purpose string) (*Sealer, error) {
	if len(systemSecret) < 32 {
		return nil, errors.New("keyring: system secret shorter than 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, systemSecret, nil, purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("keyring: derive key: %w", err)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("keyring: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plain under a fresh nonce, binding the ciphertext to
// boundTo (a row's ID) so that sealed values cannot be swapped between rows.
func (s *Sealer) Seal(plain []byte, boundTo string) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("keyring: nonce: %w", err)
	}
	return s.aead.Seal(nonce, nonce, plain, []byte(boundTo)), nil
}

// Open decrypts what Seal returned for the same boundTo; ErrUnsealable when
// it does not decrypt.
func (s *Sealer) Open(sealed []byte, boundTo string) ([]byte, error) {
	ns := s.aead.NonceSize()
	if len(sealed) < ns {
		return nil, ErrUnsealable
	}
	plain, err := s.aead.Open(nil, sealed[:ns], sealed[ns:], []byte(boundTo))
	if err != nil {
		return nil, ErrUnsealable
	}
	return plain, nil
}
