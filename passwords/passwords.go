// Package passwords hashes and verifies passwords with argon2id (RFC 9106),
// storing parameters with each hash so they can be raised without breaking
// existing accounts.
package passwords

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"

	"golang.org/x/crypto/argon2"
)

const (
	saltLen = 16
	keyLen  = 32
)

// Params are argon2id's cost parameters.
type Params struct {
	MemoryKiB   uint32
	Iterations  uint32
	Parallelism uint8
}

// Hasher hashes passwords at fixed parameters.
type Hasher struct {
	params Params
	// slots bounds concurrent derivations to the cores that can run them:
	// each holds MemoryKiB, so a burst of sign-ins queues for a core
	// instead of multiplying the process's memory.
	slots chan struct{}
}

// ErrMalformedHash reports a stored hash Tollgate cannot read.
var ErrMalformedHash = errors.New("passwords: malformed hash")

// New returns a hasher for p.
func New(p Params) (*Hasher, error) {
	if p.MemoryKiB < 8*uint32(p.Parallelism) || p.Iterations < 1 || p.Parallelism < 1 {
		return nil, fmt.Errorf("passwords: argon2id needs at least 1 iteration, 1 lane and 8 KiB per lane (got m=%d, t=%d, p=%d)", p.MemoryKiB, p.Iterations, p.Parallelism)
	}
	return &Hasher{params: p, slots: make(chan struct{}, runtime.GOMAXPROCS(0))}, nil
}

// Hash returns the PHC string of password under fresh salt:
// $argon2id$v=19$m=19456,t=2,p=1$salt$hash.
func (h *Hasher) Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passwords: salt: %w", err)
	}
	p := h.params
	key := h.derive(password, salt, p, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Iterations, p.Parallelism, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// Verify reports whether password matches encoded, and whether encoded was
// made with weaker parameters than the hasher's and should be replaced.
func (h *Hasher) Verify(password, encoded string) (ok, rehash bool, err error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, false, err
	}
	got := h.derive(password, salt, p, uint32(len(want)))
	ok = subtle.ConstantTimeCompare(got, want) == 1
	rehash = p.MemoryKiB < h.params.MemoryKiB || p.Iterations < h.params.Iterations || p.Parallelism < h.params.Parallelism
	return ok, rehash, nil
}

func (h *Hasher) derive(password string, salt []byte, p Params, n uint32) []byte {
	h.slots <- struct{}{}
	defer func() { <-h.slots }()
	return argon2.IDKey([]byte(password), salt, p.Iterations, p.MemoryKiB, p.Parallelism, n)
}

// VerifyNothing spends the time of one verification at the hasher's
// parameters, so that a sign-in for an unknown account takes as long as
// one with a wrong password.
func (h *Hasher) VerifyNothing(password string) {
	_ = h.derive(password, make([]byte, saltLen), h.params, keyLen)
}

func decode(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return Params{}, nil, nil, ErrMalformedHash
	}
	var p Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Iterations, &p.Parallelism); err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, ErrMalformedHash
	}
	key, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(key) == 0 {
		return Params{}, nil, nil, ErrMalformedHash
	}
	return p, salt, key, nil
}
