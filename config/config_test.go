package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
)

func writeFile(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tollgate.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsNeedNothing(t *testing.T) {
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "http://localhost:8080" || cfg.Listen != ":8080" || !cfg.EmbeddedDatabase() ||
		cfg.DatabaseURL != "sqlite:"+filepath.Join("data", "tollgate.db") {
		t.Fatalf("defaults: %+v", cfg)
	}
	if time.Duration(cfg.AccessTokenLifetime) != time.Hour || time.Duration(cfg.RefreshTokenLifetime) != 30*24*time.Hour ||
		time.Duration(cfg.CodeLifetime) != time.Minute || time.Duration(cfg.IDTokenLifetime) != time.Hour {
		t.Fatalf("lifetimes: %+v", cfg)
	}
}

// The environment wins over the file, which wins over the defaults; the
// listen port follows the issuer's.
func TestEnvironmentWinsOverFile(t *testing.T) {
	path := writeFile(t, "issuer: https://id.example.com:9443/\naccess_token_lifetime: 15m\ndata_dir: /var/lib/tollgate\n")
	cfg, err := config.Load(path, []string{"TOLLGATE_ACCESS_TOKEN_LIFETIME=5m", "UNRELATED=1"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Issuer != "https://id.example.com:9443" || cfg.Listen != ":9443" {
		t.Fatalf("issuer %q listen %q", cfg.Issuer, cfg.Listen)
	}
	if time.Duration(cfg.AccessTokenLifetime) != 5*time.Minute {
		t.Fatalf("access_token_lifetime = %v, want the environment's 5m", time.Duration(cfg.AccessTokenLifetime))
	}
	if cfg.DatabaseURL != "sqlite:/var/lib/tollgate/tollgate.db" {
		t.Fatalf("database_url = %q", cfg.DatabaseURL)
	}
}

// Every kind of setting can come from the environment, numbers included.
func TestEnvironmentNumbers(t *testing.T) {
	cfg, err := config.Load("", []string{"TOLLGATE_SMTP_PORT=2525"})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.SMTPPort != 2525 {
		t.Fatalf("smtp_port = %d, want 2525 from TOLLGATE_SMTP_PORT", cfg.SMTPPort)
	}
	if _, err := config.Load("", []string{"TOLLGATE_SMTP_PORT=twenty"}); err == nil || !strings.Contains(err.Error(), "TOLLGATE_SMTP_PORT") {
		t.Fatalf("a port that is not a number: %v", err)
	}
}

// Every bad key is named in one error; passwords in URLs are never echoed.
func TestErrorsNameEveryKey(t *testing.T) {
	path := writeFile(t, "issuer: ftp://x\ncode_lifetime: 0s\n")
	_, err := config.Load(path, []string{
		"TOLLGATE_DATABASE_URL=mysql://root:hunter2@db/x",
		"TOLLGATE_SECRET=short",
		"TOLLGATE_ARGON2_MEMORY_KIB=1024",
	})
	if err == nil {
		t.Fatal("bad configuration accepted")
	}
	msg := err.Error()
	for _, key := range []string{"issuer=", "code_lifetime=", "database_url=", "secret=", "argon2_memory_kib="} {
		if !strings.Contains(msg, key) {
			t.Errorf("error does not name %s: %s", key, msg)
		}
	}
	if strings.Contains(msg, "hunter2") || strings.Contains(msg, "short") {
		t.Errorf("error leaks a secret: %s", msg)
	}
}

func TestUnknownKeysAndBadValuesAreRefused(t *testing.T) {
	if _, err := config.Load(writeFile(t, "isuer: https://typo.example\n"), nil); err == nil || !strings.Contains(err.Error(), "isuer") {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := config.Load("", []string{"TOLLGATE_ACCESS_TOKEN_LIFETIME=soon"}); err == nil || !strings.Contains(err.Error(), "TOLLGATE_ACCESS_TOKEN_LIFETIME") {
		t.Fatalf("bad duration: %v", err)
	}
	if _, err := config.Load(filepath.Join(t.TempDir(), "missing.yaml"), nil); err == nil {
		t.Fatal("missing file accepted")
	}
}
