package passwords_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tollgate/tollgate/passwords"
)

func TestPolicy(t *testing.T) {
	nist := passwords.DefaultPolicy()
	strict := nist
	strict.RequireUpper, strict.RequireLower, strict.RequireDigit, strict.RequireSymbol = true, true, true, true
	for _, tc := range []struct {
		policy   passwords.Policy
		password string
		about    []string
		rule     string // "" when accepted
	}{
		{nist, "short1!", nil, "min_length"},
		{nist, strings.Repeat("long passphrase ", 9), nil, "max_length"},
		{nist, "password1", nil, "guessable"},
		{nist, "Password123!", nil, "guessable"},
		{nist, "qwertyuiop", nil, "guessable"},
		{nist, "lovelace1815", []string{"ada@example.com", "Ada Lovelace"}, "guessable"},
		{nist, "correct horse battery staple", nil, ""},
		// 128 characters is allowed.
		{nist, strings.Repeat("x7#Q", 32), nil, ""},
		{nist, "kX9#mQ2vL7pZ", nil, ""},
		{strict, "correct horse battery staple", nil, "upper"},
		{strict, "Correct horse battery staple", nil, "digit"},
		{strict, "Correct horse battery staple 9", nil, "symbol"},
		{strict, "Correct horse battery staple 9!", nil, ""},
	} {
		err := tc.policy.Check(tc.password, tc.about...)
		var pe *passwords.PolicyError
		switch {
		case tc.rule == "" && err != nil:
			t.Errorf("%q refused: %v", tc.password, err)
		case tc.rule != "" && (!errors.As(err, &pe) || pe.Rule != tc.rule):
			t.Errorf("%q: got %v, want the %s rule", tc.password, err, tc.rule)
		case tc.rule != "" && pe.Message == "":
			t.Errorf("%q: no message for the %s rule", tc.password, tc.rule)
		}
	}
}
