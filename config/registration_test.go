package config_test

import (
	"strings"
	"testing"

	"github.com/tollgate/tollgate/config"
)

// Registration is off by default, set from a nested YAML section or from
// the environment, and a short initial access token is refused.
func TestRegistrationSection(t *testing.T) {
	cfg, err := config.Load("", nil)
	if err != nil || cfg.Registration.Enabled {
		t.Fatalf("default: %+v, %v", cfg.Registration, err)
	}
	token := strings.Repeat("t", 40)
	cfg, err = config.Load(writeFile(t, "registration:\n  enabled: true\n  initial_access_token: "+token+"\n"), nil)
	if err != nil || !cfg.Registration.Enabled || cfg.Registration.InitialAccessToken != token {
		t.Fatalf("from file: %+v, %v", cfg.Registration, err)
	}
	cfg, err = config.Load("", []string{"TOLLGATE_REGISTRATION_ENABLED=true", "TOLLGATE_REGISTRATION_INITIAL_ACCESS_TOKEN=" + token})
	if err != nil || !cfg.Registration.Enabled || cfg.Registration.InitialAccessToken != token {
		t.Fatalf("from environment: %+v, %v", cfg.Registration, err)
	}
	_, err = config.Load("", []string{"TOLLGATE_REGISTRATION_ENABLED=true", "TOLLGATE_REGISTRATION_INITIAL_ACCESS_TOKEN=short"})
	if err == nil || !strings.Contains(err.Error(), "registration.initial_access_token") || strings.Contains(err.Error(), "short") {
		t.Fatalf("short token: %v", err)
	}
}
