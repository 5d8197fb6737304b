package tenancy

import (
	"fmt"
	"net/netip"
	"strings"
)

// The rules a gate's Refusal names.
const (
	RuleGateURLPrefixes = "spec.gateURLPrefixes"
	RuleGateNetworks    = "spec.gateNetworks"
)

// specialRange is a range of addresses no gate reaches unless a network listed for it
// lies within the range: naming a wider network ("0.0.0.0/0") does not hand it over.
type specialRange struct {
	prefix netip.Prefix
	what   string
}

// specialRanges, the most specific first: a cloud metadata address is also link-local
// or private, and must be named by itself.
var specialRanges = func() []specialRange {
	var out []specialRange
	for _, a := range []string{
		"169.254.169.254", // AWS, GCP, Azure, OpenStack, DigitalOcean, ... instance metadata
		"169.254.170.2",   // AWS ECS task metadata and credentials
		"169.254.170.23",  // AWS EKS Pod Identity agent
		"100.100.100.200", // Alibaba Cloud metadata
		"192.0.0.192",     // Oracle Cloud metadata (legacy)
		"fd00:ec2::254",   // AWS instance metadata over IPv6
		"fd00:ec2::23",    // AWS EKS Pod Identity agent over IPv6
	} {
		addr := netip.MustParseAddr(a)
		out = append(out, specialRange{netip.PrefixFrom(addr, addr.BitLen()), "a cloud metadata address"})
	}
	for _, r := range []struct{ cidr, what string }{
		{"127.0.0.0/8", "loopback"},
		{"::1/128", "loopback"},
		{"169.254.0.0/16", "link-local"},
		{"fe80::/10", "link-local"},
		{"0.0.0.0/8", "unspecified"},
		{"::/128", "unspecified"},
	} {
		out = append(out, specialRange{netip.MustParsePrefix(r.cidr), r.what})
	}
	return out
}()

// nonPublic are the ranges besides the special ones that are not public: a namespace
// reaches them only through networks listed for it.
var nonPublic = func() []specialRange {
	var out []specialRange
	for _, r := range []struct{ cidr, what string }{
		{"10.0.0.0/8", "private"},
		{"172.16.0.0/12", "private"},
		{"192.168.0.0/16", "private"},
		{"100.64.0.0/10", "shared address space (carrier-grade NAT)"},
		{"192.0.0.0/24", "reserved for protocol assignments"},
		{"198.18.0.0/15", "reserved for benchmarking"},
		{"224.0.0.0/4", "multicast"},
		{"240.0.0.0/4", "reserved"},
		{"fc00::/7", "private (unique local)"},
		{"ff00::/8", "multicast"},
		{"64:ff9b::/96", "an IPv4/IPv6 translation address"},
		{"64:ff9b:1::/48", "an IPv4/IPv6 translation address"},
	} {
		out = append(out, specialRange{netip.MustParsePrefix(r.cidr), r.what})
	}
	return out
}()

// GateURL checks a URL a gate requests (an httpCheck's URL with its template filled
// in, or the query URL under a Prometheus gate's address) against the Tenant's
// spec.gateURLPrefixes: it must start with one of them, character for character. An
// empty list allows any URL, as the defaults and single-team mode do: the address the
// URL connects to is judged by GateAddress, whatever the URL says.
func (p Policy) GateURL(url string) *Refusal {
	switch {
	case p.SingleTeam:
		return nil
	case p.missing():
		return p.refuseMissing("a gate's URL")
	case p.Tenant == nil || len(p.Tenant.Spec.GateURLPrefixes) == 0:
		return nil
	}
	for _, prefix := range p.Tenant.Spec.GateURLPrefixes {
		if prefix != "" && strings.HasPrefix(url, prefix) {
			return nil
		}
	}
	// The URL is the tenant's own; the prefixes are the Tenant's, which the tenant may read.
	return p.refuse(RuleGateURLPrefixes, fmt.Sprintf("gate URL %q", url), "it starts with none of the Tenant's prefixes")
}

// GateNetworks are the networks a policy's gates may connect to: the Tenant's
// spec.gateNetworks, or for the defaults the manager's (DefaultGateNetworks). An entry
// that is not a CIDR allows nothing.
func (p Policy) GateNetworks() []netip.Prefix {
	if p.Tenant == nil {
		return p.DefaultGateNetworks
	}
	var out []netip.Prefix
	for _, c := range p.Tenant.Spec.GateNetworks {
		if prefix, err := netip.ParsePrefix(c); err == nil {
			out = append(out, prefix.Masked())
		}
	}
	return out
}

// GateAddress checks an address a gate is about to connect to (after DNS, on every
// connection, redirects included). Single-team mode allows every address.
// Otherwise:
//
//   - loopback, link-local, unspecified and cloud metadata addresses are refused unless
//     a network listed for the namespace lies within their range (a metadata address:
//     is that very address), so "0.0.0.0/0" never hands them over by accident;
//   - when networks are listed (the Tenant's spec.gateNetworks, or the manager's
//     --gate-networks for the defaults), the address must be in one of them;
//   - when none are, it must be public: not private (10/8, 172.16/12, 192.168/16,
//     fc00::/7), carrier-grade NAT, multicast or reserved.
//
// An IPv4-mapped IPv6 address is judged as the IPv4 address it maps.
func (p Policy) GateAddress(addr netip.Addr) *Refusal {
	addr = addr.Unmap().WithZone("")
	subject := "gate address " + addr.String()
	switch {
	case p.SingleTeam:
		return nil
	case p.missing():
		return p.refuseMissing(subject)
	case !addr.IsValid():
		return p.refuseAlways(RuleGateNetworks, "a gate address", "it is not an IP address")
	}
	networks := p.GateNetworks()
	where := RuleGateNetworks
	if p.Tenant == nil {
		where = "the manager's --gate-networks"
	}
	for _, r := range specialRanges {
		if !r.prefix.Contains(addr) {
			continue
		}
		for _, n := range networks {
			if n.Contains(addr) && n.Bits() >= r.prefix.Bits() && r.prefix.Contains(n.Addr()) {
				return nil
			}
		}
		return p.refuse(RuleGateNetworks, subject, fmt.Sprintf("it is %s, allowed only when %s names a network within %s",
			r.what, where, r.prefix))
	}
	if len(networks) > 0 {
		for _, n := range networks {
			if n.Contains(addr) {
				return nil
			}
		}
		return p.refuse(RuleGateNetworks, subject, fmt.Sprintf("it is in none of the networks %s lists", where))
	}
	for _, r := range nonPublic {
		if r.prefix.Contains(addr) {
			return p.refuse(RuleGateNetworks, subject, fmt.Sprintf("it is %s, and only public addresses are allowed while %s lists no network",
				r.what, where))
		}
	}
	if addr.Is4() && addr == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return p.refuse(RuleGateNetworks, subject, "it is the broadcast address")
	}
	return nil
}
