package config_test

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate/tollgate/config"
)

func TestTrustedProxies(t *testing.T) {
	want := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}
	for name, load := range map[string]func() (config.Config, error){
		"YAML list": func() (config.Config, error) {
			return config.Load(writeFile(t, "trusted_proxies:\n  - 10.1.2.3/8\n  - 192.0.2.7\n  - 2001:db8::/32\n"), nil)
		},
		"YAML string": func() (config.Config, error) {
			return config.Load(writeFile(t, "trusted_proxies: 10.0.0.0/8, 192.0.2.7, 2001:db8::/32\n"), nil)
		},
		"environment": func() (config.Config, error) {
			return config.Load("", []string{"TOLLGATE_TRUSTED_PROXIES=10.0.0.0/8,192.0.2.7, 2001:db8::/32"})
		},
	} {
		cfg, err := load()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !slices.Equal(cfg.TrustedProxies, want) {
			t.Errorf("%s: %v, want %v", name, cfg.TrustedProxies, want)
		}
	}
	if cfg, err := config.Load("", nil); err != nil || len(cfg.TrustedProxies) != 0 {
		t.Fatalf("by default no proxy is trusted: %v %v", cfg.TrustedProxies, err)
	}
	_, err := config.Load("", []string{"TOLLGATE_TRUSTED_PROXIES=10.0.0.0/8,example.com"})
	if err == nil || !strings.Contains(err.Error(), "TOLLGATE_TRUSTED_PROXIES") || !strings.Contains(err.Error(), "example.com") {
		t.Fatalf("a host name was accepted: %v", err)
	}
}

func TestKeyPublishDelayAndLeeway(t *testing.T) {
	cfg, err := config.Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(cfg.KeyPublishDelay) != 6*time.Minute || time.Duration(cfg.ClockSkewLeeway) != time.Minute {
		t.Fatalf("defaults: publish delay %v, leeway %v", cfg.KeyPublishDelay, cfg.ClockSkewLeeway)
	}
	for env, want := range map[string]string{
		"TOLLGATE_KEY_PUBLISH_DELAY=30s":    "key_publish_delay",
		"TOLLGATE_KEY_PUBLISH_DELAY=1h":     "",
		"TOLLGATE_CLOCK_SKEW_LEEWAY=10m":    "clock_skew_leeway",
		"TOLLGATE_CLOCK_SKEW_LEEWAY=0s":     "",
		"TOLLGATE_KEY_ROTATION_INTERVAL=5m": "key_rotation_interval",
		"TOLLGATE_KEY_ROTATION_INTERVAL=0s": "",
	} {
		_, err := config.Load("", []string{env})
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", env, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%s: %v, want an error naming %s", env, err, want)
		}
	}
}
