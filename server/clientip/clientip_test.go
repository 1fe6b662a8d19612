package clientip_test

import (
	"net/netip"
	"testing"

	"github.com/tollgate/tollgate/server/clientip"
)

func TestResolve(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		remote  string
		xff     []string
		want    string
	}{
		{"no proxies configured: the header is ignored", nil, "10.0.0.5:4000", []string{"203.0.113.9"}, "10.0.0.5"},
		{"untrusted peer: the header is ignored", proxies, "198.51.100.7:4000", []string{"203.0.113.9"}, "198.51.100.7"},
		{"trusted peer", proxies, "10.0.0.5:4000", []string{"203.0.113.9"}, "203.0.113.9"},
		{"a forged entry left of the real client is ignored", proxies, "10.0.0.5:4000", []string{"1.2.3.4, 203.0.113.9"}, "203.0.113.9"},
		{"chain of trusted proxies", proxies, "10.0.0.5:4000", []string{"203.0.113.9, 192.0.2.1", "10.1.2.3"}, "203.0.113.9"},
		{"only proxies: the leftmost", proxies, "10.0.0.5:4000", []string{"10.9.9.9, 10.1.1.1"}, "10.9.9.9"},
		{"garbage stops the walk", proxies, "10.0.0.5:4000", []string{"203.0.113.9, bogus"}, "10.0.0.5"},
		{"trusted peer without header", proxies, "10.0.0.5:4000", nil, "10.0.0.5"},
		{"IPv6 and a port", []netip.Prefix{netip.MustParsePrefix("::1/128")}, "[::1]:4000", []string{"[2001:db8::7]:5555"}, "2001:db8::7"},
	} {
		if got := clientip.Resolve(c.trusted, c.remote, c.xff); got != c.want {
			t.Errorf("%s: got %s, want %s", c.name, got, c.want)
		}
	}
}
