package config

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// keyCachePeriod is how long each replica caches the signing keys
// (keyring.DefaultCachePeriod); key_publish_delay must exceed it.
const keyCachePeriod = 30 * time.Second

// CIDRList is a list of networks: in YAML a list (or one comma-separated
// string), in the environment a comma-separated string. A bare address
// stands for itself alone (/32 or /128).
type CIDRList []netip.Prefix

// UnmarshalText parses "10.0.0.0/8, 192.0.2.7".
func (l *CIDRList) UnmarshalText(b []byte) error {
	var out CIDRList
	for _, item := range strings.Split(string(b), ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		p, err := parsePrefix(item)
		if err != nil {
			return err
		}
		out = append(out, p)
	}
	*l = out
	return nil
}

// UnmarshalYAML accepts a sequence of networks or one comma-separated string.
func (l *CIDRList) UnmarshalYAML(node *yaml.Node) error {
	if node.Kind == yaml.ScalarNode {
		return l.UnmarshalText([]byte(node.Value))
	}
	var items []string
	if err := node.Decode(&items); err != nil {
		return fmt.Errorf("want a list of CIDRs such as 10.0.0.0/8: %w", err)
	}
	return l.UnmarshalText([]byte(strings.Join(items, ",")))
}

// MarshalText writes the list comma-separated.
func (l CIDRList) MarshalText() ([]byte, error) {
	parts := make([]string, len(l))
	for i, p := range l {
		parts[i] = p.String()
	}
	return []byte(strings.Join(parts, ",")), nil
}

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("%q: want a CIDR such as 10.0.0.0/8 or an address", s)
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: want a CIDR such as 10.0.0.0/8 or an address", s)
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// validateOps checks the operational keys: key publication, clock leeway.
func (c Config) validateOps() []error {
	var errs []error
	bad := func(key string, value any, want string) {
		errs = append(errs, fmt.Errorf("%s=%q: %s", key, fmt.Sprint(value), want))
	}
	if time.Duration(c.KeyPublishDelay) <= keyCachePeriod {
		bad("key_publish_delay", time.Duration(c.KeyPublishDelay),
			fmt.Sprintf("want more than the replicas' key cache period (%s), such as 6m", keyCachePeriod))
	}
	if c.KeyRotationInterval > 0 && c.KeyRotationInterval <= c.KeyPublishDelay {
		bad("key_rotation_interval", time.Duration(c.KeyRotationInterval),
			fmt.Sprintf("want 0 or more than key_publish_delay (%s)", time.Duration(c.KeyPublishDelay)))
	}
	if c.ClockSkewLeeway < 0 || time.Duration(c.ClockSkewLeeway) > 5*time.Minute {
		bad("clock_skew_leeway", time.Duration(c.ClockSkewLeeway), "want a duration from 0 to 5m")
	}
	return errs
}
