package passwords

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	zxcvbn "github.com/ccojocar/zxcvbn-go"
)

// Policy decides which new passwords are acceptable. Its defaults follow
// NIST SP 800-63B §3.1.1.2: at least 8 characters, up to 128 kept whole,
// nothing common or guessable; composition rules are off unless a team's
// own rules demand them.
type Policy struct {
	MinLength int // at least 8
	MaxLength int // 128: long passphrases, never truncated
	// MinStrength is the lowest zxcvbn score (0-4) accepted: 3 refuses
	// passwords that its dictionaries, keyboard patterns and the user's own
	// details guess quickly.
	MinStrength   int
	RequireUpper  bool
	RequireLower  bool
	RequireDigit  bool
	RequireSymbol bool
}

// DefaultPolicy is the NIST-aligned policy.
func DefaultPolicy() Policy {
	return Policy{MinLength: 8, MaxLength: 128, MinStrength: 3}
}

// PolicyError says which rule a password broke, in words for its owner.
type PolicyError struct {
	Rule    string // min_length, max_length, guessable, upper, lower, digit, symbol
	Message string
}

func (e *PolicyError) Error() string { return e.Message }

// Check returns a *PolicyError for the first rule password breaks. about
// lists what the password must not be built from: the user's email, name.
func (p Policy) Check(password string, about ...string) error {
	n := utf8.RuneCountInString(password)
	switch {
	case n < p.MinLength:
		return &PolicyError{"min_length", fmt.Sprintf("Use at least %d characters.", p.MinLength)}
	case n > p.MaxLength:
		return &PolicyError{"max_length", fmt.Sprintf("Use at most %d characters.", p.MaxLength)}
	}
	for _, rule := range []struct {
		on      bool
		name    string
		has     func(rune) bool
		message string
	}{
		{p.RequireUpper, "upper", unicode.IsUpper, "Include an uppercase letter."},
		{p.RequireLower, "lower", unicode.IsLower, "Include a lowercase letter."},
		{p.RequireDigit, "digit", unicode.IsDigit, "Include a digit."},
		{p.RequireSymbol, "symbol", func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) && !unicode.IsSpace(r) }, "Include a symbol."},
	} {
		if rule.on && !strings.ContainsFunc(password, rule.has) {
			return &PolicyError{rule.name, rule.message}
		}
	}
	var inputs []string
	for _, a := range about {
		inputs = append(inputs, a)
		if local, _, ok := strings.Cut(a, "@"); ok {
			inputs = append(inputs, local)
		}
		inputs = append(inputs, strings.Fields(a)...)
	}
	if zxcvbn.PasswordStrength(password, inputs).Score < p.MinStrength {
		return &PolicyError{"guessable", "This password is too common or too easy to guess (from words, names, patterns or your own details). Try a longer passphrase."}
	}
	return nil
}
