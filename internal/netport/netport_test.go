package netport_test

import (
	"net/netip"
	"testing"

	"github.com/peer-node/peer/internal/netport"
)

func TestAddrSource(t *testing.T) {
	for _, tc := range []struct {
		ip      string
		relayed bool
		want    string
	}{
		{"", false, ""},
		{"", true, ""},
		{"192.0.2.1", false, "ip4 192.0.2.1"},
		{"::ffff:192.0.2.1", false, "ip4 192.0.2.1"},
		{"192.0.2.1", true, "relay ip4 192.0.2.1"},
		{"2001:db8:1:2:aaaa::1", false, "ip6 2001:db8:1:2::/64"},
		{"2001:db8:1:2:bbbb::9", false, "ip6 2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", false, "ip6 2001:db8:1:3::/64"},
		{"2001:db8:1:2::1", true, "relay ip6 2001:db8:1:2::/64"},
		{"fe80::1%eth0", false, "ip6 fe80::1"},
		{"::1", false, "ip6 ::1"},
	} {
		var a netport.Addr
		if tc.ip != "" {
			a.IP = netip.MustParseAddr(tc.ip)
		}
		a.Relayed = tc.relayed
		if got := a.Source(); got != tc.want {
			t.Errorf("Addr{%s, relayed %v}.Source() = %q, want %q", tc.ip, tc.relayed, got, tc.want)
		}
	}
}
