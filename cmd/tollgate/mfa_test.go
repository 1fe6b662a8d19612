package main

import (
	"path/filepath"
	"testing"

	"github.com/tollgate/tollgate/clientreg"
)

// TestClientsCreateRequireMFA: --require-mfa registers a client whose users
// must give a second factor; it is kept and shown.
func TestClientsCreateRequireMFA(t *testing.T) {
	c := cli{t, []string{"TOLLGATE_DATA_DIR=" + filepath.Join(t.TempDir(), "data")}}
	var strict, lax clientreg.View
	c.ok(&strict, "", "clients", "create", "--name", "Payroll", "--redirect-uri", "https://payroll.example/cb", "--require-mfa")
	c.ok(&lax, "", "clients", "create", "--name", "Wiki", "--redirect-uri", "https://wiki.example/cb")
	if !strict.RequireMFA || lax.RequireMFA {
		t.Fatalf("require_mfa: %v with the flag, %v without", strict.RequireMFA, lax.RequireMFA)
	}
	var got clientreg.View
	c.ok(&got, "", "clients", "get", strict.ClientID)
	if !got.RequireMFA {
		t.Fatalf("require_mfa was not stored: %+v", got)
	}
}
