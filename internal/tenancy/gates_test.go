package tenancy_test

import (
	"net/netip"
	"strings"
	"testing"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

func TestGateURL(t *testing.T) {
	checks := tenant("checks", droverv1.TenantSpec{GateURLPrefixes: []string{"https://checks.shop.example.com/", "http://prometheus.monitoring:9090/"}})
	open := tenant("open", droverv1.TenantSpec{})
	for _, tc := range []struct {
		name   string
		policy tenancy.Policy
		url    string
		// rule is the refusal's rule, "" when allowed.
		rule string
	}{
		{"single-team allows any URL", tenancy.Resolve("a", labelled("checks"), lookupOf(checks), true), "http://169.254.169.254/latest", ""},
		{"the defaults allow any URL (the address decides)", tenancy.Resolve("a", nil, nil, false), "http://anything.example/", ""},
		{"a Tenant without prefixes allows any URL", tenancy.Resolve("a", labelled("open"), lookupOf(open), false), "http://anything.example/", ""},
		{"a URL under a prefix", tenancy.Resolve("a", labelled("checks"), lookupOf(checks), false), "https://checks.shop.example.com/healthz?prod=a", ""},
		{"the Prometheus query URL under a prefix", tenancy.Resolve("a", labelled("checks"), lookupOf(checks), false), "http://prometheus.monitoring:9090/api/v1/query?query=up", ""},
		{"another host", tenancy.Resolve("a", labelled("checks"), lookupOf(checks), false), "https://evil.example.com/", tenancy.RuleGateURLPrefixes},
		{"a host that only starts like the prefix's", tenancy.Resolve("a", labelled("checks"), lookupOf(checks), false), "https://checks.shop.example.com.evil.example/", tenancy.RuleGateURLPrefixes},
		{"another scheme", tenancy.Resolve("a", labelled("checks"), lookupOf(checks), false), "http://checks.shop.example.com/healthz", tenancy.RuleGateURLPrefixes},
		{"another port", tenancy.Resolve("a", labelled("checks"), lookupOf(checks), false), "https://checks.shop.example.com:8443/healthz", tenancy.RuleGateURLPrefixes},
		{"a missing Tenant refuses", tenancy.Resolve("a", labelled("gone"), lookupOf(checks), false), "https://checks.shop.example.com/", tenancy.RuleTenant},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.policy.GateURL(tc.url)
			switch {
			case tc.rule == "" && ref != nil:
				t.Fatalf("refused: %v", ref)
			case tc.rule != "" && ref == nil:
				t.Fatalf("allowed, want a refusal by %s", tc.rule)
			case ref != nil && ref.Rule != tc.rule:
				t.Fatalf("refused by %s, want %s: %v", ref.Rule, tc.rule, ref)
			}
		})
	}
}

func TestGateAddress(t *testing.T) {
	nets := func(cidrs ...string) *droverv1.Tenant {
		return tenant("t", droverv1.TenantSpec{GateNetworks: cidrs})
	}
	under := func(tn *droverv1.Tenant) tenancy.Policy {
		return tenancy.Resolve("a", labelled("t"), lookupOf(tn), false)
	}
	defaults := tenancy.Resolve("a", nil, nil, false)
	defaultsWith := defaults
	defaultsWith.DefaultGateNetworks = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	for _, tc := range []struct {
		name   string
		policy tenancy.Policy
		addr   string
		// why is a part of the refusal's message, "" when allowed.
		why string
	}{
		{"single-team: loopback", tenancy.Policy{SingleTeam: true}, "127.0.0.1", ""},
		{"single-team: metadata", tenancy.Policy{SingleTeam: true}, "169.254.169.254", ""},
		{"defaults: a public address", defaults, "93.184.215.14", ""},
		{"defaults: a public IPv6 address", defaults, "2606:2800:21f:cb07:6820:80da:af6b:8b2c", ""},
		{"defaults: loopback", defaults, "127.0.0.1", "it is loopback"},
		{"defaults: IPv6 loopback", defaults, "::1", "it is loopback"},
		{"defaults: IPv4-mapped loopback", defaults, "::ffff:127.0.0.1", "it is loopback"},
		{"defaults: metadata", defaults, "169.254.169.254", "it is a cloud metadata address"},
		{"defaults: IPv6 metadata", defaults, "fd00:ec2::254", "it is a cloud metadata address"},
		{"defaults: Alibaba metadata", defaults, "100.100.100.200", "it is a cloud metadata address"},
		{"defaults: link-local", defaults, "169.254.1.1", "it is link-local"},
		{"defaults: IPv6 link-local", defaults, "fe80::1", "it is link-local"},
		{"defaults: unspecified", defaults, "0.0.0.0", "it is unspecified"},
		{"defaults: IPv6 unspecified", defaults, "::", "it is unspecified"},
		{"defaults: private", defaults, "10.1.2.3", "it is private"},
		{"defaults: private 172.16/12", defaults, "172.20.0.1", "it is private"},
		{"defaults: private 192.168/16", defaults, "192.168.1.1", "it is private"},
		{"defaults: CGNAT", defaults, "100.64.0.1", "carrier-grade NAT"},
		{"defaults: unique local", defaults, "fd12::1", "unique local"},
		{"defaults: broadcast", defaults, "255.255.255.255", "reserved"},
		{"defaults with --gate-networks: loopback listed", defaultsWith, "127.0.0.1", ""},
		{"defaults with --gate-networks: private listed", defaultsWith, "10.9.9.9", ""},
		{"defaults with --gate-networks: public not listed", defaultsWith, "93.184.215.14", "none of the networks the manager's --gate-networks lists"},
		{"defaults with --gate-networks: metadata still needs its own", defaultsWith, "169.254.169.254", "it is a cloud metadata address"},
		{"Tenant without networks: public", under(nets()), "93.184.215.14", ""},
		{"Tenant without networks: private", under(nets()), "10.1.2.3", "it is private"},
		{"Tenant without networks: loopback", under(nets()), "127.0.0.1", "it is loopback"},
		{"Tenant: an address in a listed network", under(nets("10.20.0.0/16")), "10.20.3.4", ""},
		{"Tenant: an address outside the listed networks", under(nets("10.20.0.0/16")), "10.21.3.4", "none of the networks spec.gateNetworks lists"},
		{"Tenant: a public address outside the listed networks", under(nets("10.20.0.0/16")), "93.184.215.14", "none of the networks"},
		{"Tenant: 0.0.0.0/0 allows private", under(nets("0.0.0.0/0")), "10.1.2.3", ""},
		{"Tenant: 0.0.0.0/0 does not allow loopback", under(nets("0.0.0.0/0")), "127.0.0.1", "it is loopback"},
		{"Tenant: 0.0.0.0/0 does not allow metadata", under(nets("0.0.0.0/0")), "169.254.169.254", "it is a cloud metadata address"},
		{"Tenant: ::/0 does not allow IPv6 loopback", under(nets("::/0")), "::1", "it is loopback"},
		{"Tenant: 127.0.0.0/8 allows loopback", under(nets("127.0.0.0/8")), "127.0.0.1", ""},
		{"Tenant: 127.0.0.1/32 allows that address only", under(nets("127.0.0.1/32")), "127.0.0.2", "it is loopback"},
		{"Tenant: 169.254.0.0/16 allows link-local", under(nets("169.254.0.0/16")), "169.254.1.1", ""},
		{"Tenant: 169.254.0.0/16 does not allow metadata", under(nets("169.254.0.0/16")), "169.254.169.254", "it is a cloud metadata address"},
		{"Tenant: metadata named by itself", under(nets("169.254.169.254/32")), "169.254.169.254", ""},
		{"Tenant: 100.64.0.0/10 does not allow Alibaba metadata", under(nets("100.64.0.0/10")), "100.100.100.200", "it is a cloud metadata address"},
		{"Tenant: an entry that is not a CIDR allows nothing", under(nets("10.0.0.0/8", "nonsense")), "11.0.0.1", "none of the networks"},
		{"a missing Tenant refuses", tenancy.Resolve("a", labelled("gone"), nil, false), "93.184.215.14", "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.policy.GateAddress(netip.MustParseAddr(tc.addr))
			switch {
			case tc.why == "" && ref != nil:
				t.Fatalf("refused: %v", ref)
			case tc.why != "" && ref == nil:
				t.Fatalf("allowed, want a refusal saying %q", tc.why)
			case ref != nil && !strings.Contains(ref.Message, tc.why):
				t.Fatalf("refusal %q does not say %q", ref.Message, tc.why)
			}
			if ref != nil && ref.Rule != tenancy.RuleGateNetworks && ref.Rule != tenancy.RuleTenant {
				t.Fatalf("refused by rule %s", ref.Rule)
			}
		})
	}
}
