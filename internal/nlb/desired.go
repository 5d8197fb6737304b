package nlb

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/octavia"
)

// ErrOctaviaNotReady is wrapped by Desired when the Octavia load balancer is in a state
// that must not be mirrored (not ACTIVE, or administratively down). Nothing should change
// in AWS; try again on the next poll.
var ErrOctaviaNotReady = errors.New("the Octavia load balancer cannot be mirrored now")

// errInconsistent is wrapped when the snapshot contradicts itself (a listener names a
// pool the snapshot does not have): a read to distrust, not a model to build.
var errInconsistent = errors.New("inconsistent Octavia snapshot")

const maxHealthCheckPath = 1024

// Desired returns the NLB the Prod should have for this Octavia snapshot; see the package
// documentation for the mapping. Warnings name what is not mirrored, or mirrored only
// approximately. An error means no model: the snapshot is missing, inconsistent, or of a
// load balancer that must not be mirrored now (ErrOctaviaNotReady), or the options are
// invalid. It is pure.
func Desired(snap *octavia.Snapshot, opts Options) (Model, []Warning, error) {
	if err := opts.validate(); err != nil {
		return Model{}, nil, fmt.Errorf("NLB mirror options: %w", err)
	}
	if snap == nil {
		return Model{}, nil, errors.New("no Octavia snapshot")
	}
	olb := snap.LoadBalancer
	if olb.ID == "" {
		return Model{}, nil, fmt.Errorf("%w: the load balancer has no id", errInconsistent)
	}
	// The ids become tag values (TagOctaviaLoadBalancer, TagOctaviaPool); Octavia's are
	// UUIDs, and one AWS would refuse as a tag is a read to distrust.
	if !validTagValue(olb.ID) {
		return Model{}, nil, fmt.Errorf("%w: load balancer id %q is not a valid AWS tag value", errInconsistent, olb.ID)
	}
	if olb.ProvisioningStatus != "ACTIVE" {
		return Model{}, nil, fmt.Errorf("%w: load balancer %s is %s, not ACTIVE", ErrOctaviaNotReady, olb.ID, orNone(olb.ProvisioningStatus))
	}
	if !olb.AdminStateUp {
		return Model{}, nil, fmt.Errorf("%w: load balancer %s is administratively down", ErrOctaviaNotReady, olb.ID)
	}
	pools := make(map[string]*octavia.Pool, len(snap.Pools))
	for i := range snap.Pools {
		p := &snap.Pools[i]
		if _, dup := pools[p.ID]; dup || p.ID == "" {
			return Model{}, nil, fmt.Errorf("%w: pool id %q is empty or repeated", errInconsistent, p.ID)
		}
		if !validTagValue(p.ID) {
			return Model{}, nil, fmt.Errorf("%w: pool id %q is not a valid AWS tag value", errInconsistent, p.ID)
		}
		pools[p.ID] = p
	}

	// Listeners are taken in order of port, protocol and id: two of one id could land on
	// the same port in either order.
	listenerIDs := make(map[string]bool, len(snap.Listeners))
	for _, l := range snap.Listeners {
		if listenerIDs[l.ID] || l.ID == "" {
			return Model{}, nil, fmt.Errorf("%w: listener id %q is empty or repeated", errInconsistent, l.ID)
		}
		listenerIDs[l.ID] = true
	}

	b := &builder{opts: opts}
	scheme := opts.scheme()
	vpc := opts.Network.VPCID
	lbName := LoadBalancerName(opts.Owner, scheme, vpc)
	m := Model{
		Owner:                 opts.Owner,
		OctaviaLoadBalancerID: olb.ID,
		LoadBalancer: LoadBalancerSpec{
			Name:    lbName,
			Scheme:  scheme,
			VPCID:   vpc,
			Subnets: slices.Sorted(slices.Values(opts.Network.Subnets)),
			Tags:    withTags(opts.Owner.Tags(), map[string]string{TagOctaviaLoadBalancer: olb.ID}),
		},
		TargetGroups: map[string]TargetGroupSpec{},
		Listeners:    map[int32]ListenerSpec{},
	}

	listeners := slices.Clone(snap.Listeners)
	slices.SortFunc(listeners, func(a, b octavia.Listener) int {
		return cmp.Or(cmp.Compare(a.Port, b.Port), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.ID, b.ID))
	})
	usedBy := map[string][]int32{} // pool id → listener ports
	for _, l := range listeners {
		subject := fmt.Sprintf("listener %s (%s:%d)", l.ID, l.Protocol, l.Port)
		if !l.AdminStateUp {
			b.warn(subject, "disabled in Octavia; not mirrored")
			continue
		}
		if l.Port < 1 || l.Port > 65535 {
			b.warn(subject, "port outside 1–65535; not mirrored")
			continue
		}
		proto, ok := b.listenerProtocol(subject, l.Protocol)
		if !ok {
			continue
		}
		if l.DefaultPoolID == "" {
			b.warn(subject, "has no default pool; not mirrored (L7 policies are not mirrored)")
			continue
		}
		pool, found := pools[l.DefaultPoolID]
		if !found {
			return Model{}, nil, fmt.Errorf("%w: %s names default pool %s, which the snapshot does not have", errInconsistent, subject, l.DefaultPoolID)
		}
		if !pool.AdminStateUp {
			b.warn(subject, fmt.Sprintf("its pool %s is disabled in Octavia; not mirrored", pool.ID))
			continue
		}
		tgProto, _, ok := poolProtocol(pool.Protocol)
		if !ok {
			b.warn(subject, fmt.Sprintf("its pool %s has protocol %s, which an NLB target group cannot carry; not mirrored", pool.ID, pool.Protocol))
			continue
		}
		if tgProto != targetGroupProtocolFor(proto) {
			b.warn(subject, fmt.Sprintf("its pool %s has protocol %s, which an NLB %s listener cannot forward to; not mirrored", pool.ID, pool.Protocol, proto))
			continue
		}
		if prev, taken := m.Listeners[l.Port]; taken {
			b.warn(subject, fmt.Sprintf("port %d is already mirrored for listener %s and an NLB has one listener per port; not mirrored", l.Port, prev.OctaviaListenerID))
			continue
		}
		spec := ListenerSpec{Port: l.Port, Protocol: proto, TargetGroup: pool.ID, OctaviaListenerID: l.ID, Tags: m.LoadBalancer.Tags}
		if proto == types.ProtocolEnumTls {
			spec.CertificateARN, spec.SSLPolicy = opts.TLS.CertificateARN, opts.TLS.SSLPolicy
		}
		m.Listeners[l.Port] = spec
		usedBy[pool.ID] = append(usedBy[pool.ID], l.Port)
	}
	for _, id := range slices.Sorted(maps.Keys(usedBy)) {
		m.TargetGroups[id] = b.targetGroup(pools[id], lbName, slices.Min(usedBy[id]), olb.ID)
	}
	return m, b.warnings, nil
}

type builder struct {
	opts     Options
	warnings []Warning
}

func (b *builder) warn(subject, msg string) {
	b.warnings = append(b.warnings, Warning{Subject: subject, Message: msg})
}

// listenerProtocol maps an Octavia listener protocol to the NLB's.
func (b *builder) listenerProtocol(subject, p string) (types.ProtocolEnum, bool) {
	switch strings.ToUpper(p) {
	case "TCP", "HTTP", "HTTPS":
		return types.ProtocolEnumTcp, true
	case "UDP":
		return types.ProtocolEnumUdp, true
	case "TERMINATED_HTTPS":
		if b.opts.TLS.CertificateARN == "" {
			b.warn(subject, "not mirrored: the NLB cannot use Octavia's certificate and forwarding TCP would hand TLS "+
				"clients to members that speak plain HTTP; configure an ACM certificate for the mirror to terminate TLS on the NLB")
			return "", false
		}
		return types.ProtocolEnumTls, true
	default:
		b.warn(subject, fmt.Sprintf("protocol %s cannot be mirrored to an NLB; not mirrored", p))
		return "", false
	}
}

// poolProtocol maps an Octavia pool protocol to a target group protocol, and tells
// whether the members expect the PROXY protocol.
func poolProtocol(p string) (proto types.ProtocolEnum, proxy, ok bool) {
	switch strings.ToUpper(p) {
	case "TCP", "HTTP", "HTTPS":
		return types.ProtocolEnumTcp, false, true
	case "PROXY", "PROXYV2":
		return types.ProtocolEnumTcp, true, true
	case "UDP":
		return types.ProtocolEnumUdp, false, true
	}
	return "", false, false
}

// targetGroupProtocolFor is the target group protocol a listener protocol forwards to.
func targetGroupProtocolFor(listener types.ProtocolEnum) types.ProtocolEnum {
	if listener == types.ProtocolEnumUdp {
		return types.ProtocolEnumUdp
	}
	return types.ProtocolEnumTcp
}

func (b *builder) targetGroup(pool *octavia.Pool, lbName string, port int32, octaviaLB string) TargetGroupSpec {
	subject := "pool " + pool.ID
	proto, proxy, _ := poolProtocol(pool.Protocol)
	vpc := b.opts.Network.VPCID
	attrs := map[string]string{AttrDeregistrationDelay: i32s(b.opts.deregistrationDelay())}
	if proto == types.ProtocolEnumTcp {
		attrs[AttrProxyProtocolV2] = strconv.FormatBool(proxy)
		// Targets outside the VPC must answer through the NLB: with the client's address
		// as source they would answer the client directly, over the wrong path.
		attrs[AttrPreserveClientIP] = "false"
	}
	if strings.EqualFold(pool.Protocol, "PROXY") {
		b.warn(subject, "PROXY (version 1) is mirrored as PROXY protocol version 2, the only one an NLB speaks; the members must accept version 2")
	}
	hc, msgs := healthCheck(pool.Monitor, b.opts.healthCheckDefaults())
	for _, msg := range msgs {
		b.warn(subject, msg)
	}
	targets, msgs := targets(pool.Members, b.opts.targetCIDRs())
	for _, msg := range msgs {
		b.warn(subject, msg)
	}
	return TargetGroupSpec{
		PoolID:      pool.ID,
		Name:        TargetGroupName(b.opts.Owner, lbName, pool.ID, proto, vpc),
		Protocol:    proto,
		Port:        port,
		VPCID:       vpc,
		HealthCheck: hc,
		Attributes:  attrs,
		Targets:     targets,
		Tags: withTags(b.opts.Owner.Tags(), map[string]string{
			TagOctaviaLoadBalancer: octaviaLB,
			TagOctaviaPool:         pool.ID,
		}),
	}
}

// healthCheck maps an Octavia monitor to a target group health check (see the package
// documentation), with messages for what it cannot carry over.
func healthCheck(m *octavia.Monitor, d HealthCheckDefaults) (HealthCheck, []string) {
	var msgs []string
	hc := HealthCheck{Protocol: types.ProtocolEnumTcp, Port: HealthCheckPortTraffic}
	interval, timeout, healthy, unhealthy := d.IntervalSeconds, d.TimeoutSeconds, d.HealthyThreshold, d.UnhealthyThreshold
	if m != nil && m.AdminStateUp {
		switch t := strings.ToUpper(m.Type); t {
		case "HTTP", "HTTPS":
			hc.Protocol = types.ProtocolEnum(t)
			hc.Path = m.URLPath
			if hc.Path == "" {
				hc.Path = "/"
			}
			if !strings.HasPrefix(hc.Path, "/") || len(hc.Path) > maxHealthCheckPath {
				msgs = append(msgs, fmt.Sprintf("monitor path %q is not a path an NLB health check accepts; checking / instead", m.URLPath))
				hc.Path = "/"
			}
			var msg string
			hc.Matcher, msg = httpMatcher(m.ExpectedCodes)
			if msg != "" {
				msgs = append(msgs, msg)
			}
			if m.HTTPMethod != "" && !strings.EqualFold(m.HTTPMethod, "GET") {
				msgs = append(msgs, fmt.Sprintf("an NLB health check has no HTTP method setting; the monitor's %s is not mirrored", m.HTTPMethod))
			}
		case "PING", "TCP", "TLS-HELLO", "SCTP":
		case "UDP-CONNECT":
			msgs = append(msgs, "an NLB cannot health-check UDP; checking TCP on the traffic port instead, which the members must accept")
		default:
			msgs = append(msgs, fmt.Sprintf("monitor type %s is unknown; checking TCP on the traffic port instead", m.Type))
		}
		interval = orDefault(m.Delay, interval)
		timeout = orDefault(m.Timeout, timeout)
		healthy = orDefault(m.MaxRetries, healthy)
		unhealthy = orDefault(m.MaxRetriesDown, unhealthy)
	}
	hc.IntervalSeconds = clamp(interval, minInterval, maxInterval)
	hc.TimeoutSeconds = min(clamp(timeout, minTimeout, maxTimeout), hc.IntervalSeconds)
	hc.HealthyThreshold = clamp(healthy, minThreshold, maxThreshold)
	hc.UnhealthyThreshold = clamp(unhealthy, minThreshold, maxThreshold)
	return hc, msgs
}

// httpMatcher maps Octavia expected_codes ("200", "200,202", "200-204") to an NLB
// matcher, keeping the codes 200-599 an NLB target group accepts. Codes it must drop or
// cannot read are reported; with nothing left it matches 200, Octavia's default.
func httpMatcher(expected string) (string, string) {
	const fallback = "200"
	s := strings.ReplaceAll(expected, " ", "")
	if s == "" {
		return fallback, ""
	}
	bad := func(why string) (string, string) {
		return fallback, fmt.Sprintf("expected codes %q %s; matching %s instead", expected, why, fallback)
	}
	if lo, hi, isRange := strings.Cut(s, "-"); isRange {
		l, errL := strconv.Atoi(lo)
		h, errH := strconv.Atoi(hi)
		if errL != nil || errH != nil || l > h {
			return bad("cannot be read")
		}
		cl, ch := max(l, minHTTPCode), min(h, maxHTTPCode)
		if cl > ch {
			return bad("lie outside the 200-599 an NLB accepts")
		}
		out := strconv.Itoa(cl)
		if ch > cl {
			out += "-" + strconv.Itoa(ch)
		}
		if cl != l || ch != h {
			return out, fmt.Sprintf("expected codes %q narrowed to %s, the part within the 200-599 an NLB accepts", expected, out)
		}
		return out, ""
	}
	var kept, dropped []string
	for c := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(c)
		if err != nil {
			return bad("cannot be read")
		}
		if n < minHTTPCode || n > maxHTTPCode {
			dropped = append(dropped, c)
			continue
		}
		// As a number: "0200" or "+200" is 200 to Atoi, but not a code an NLB reads.
		if code := strconv.Itoa(n); !slices.Contains(kept, code) {
			kept = append(kept, code)
		}
	}
	if len(kept) == 0 {
		return bad("lie outside the 200-599 an NLB accepts")
	}
	out := strings.Join(kept, ",")
	if len(dropped) > 0 {
		return out, fmt.Sprintf("expected codes %s dropped (an NLB accepts 200-599); matching %s", strings.Join(dropped, ","), out)
	}
	return out, ""
}

// targets are the members that become targets (see the package documentation), sorted,
// with messages about the ones left out for a reason an operator should know.
func targets(members []octavia.Member, cidrs []netip.Prefix) ([]Target, []string) {
	out := []Target{}
	seen := map[Target]bool{}
	var backups, notIPv4, outside, badPort []string
	for _, mem := range members {
		if !mem.AdminStateUp || mem.Weight == 0 {
			continue // disabled or draining in Octavia: not serving there either
		}
		if mem.Backup {
			backups = append(backups, mem.Address)
			continue
		}
		addr, err := netip.ParseAddr(mem.Address)
		if err != nil || !addr.Unmap().Is4() {
			notIPv4 = append(notIPv4, mem.Address)
			continue
		}
		addr = addr.Unmap()
		if !slices.ContainsFunc(cidrs, func(p netip.Prefix) bool { return p.Contains(addr) }) {
			outside = append(outside, mem.Address)
			continue
		}
		if mem.Port < 1 || mem.Port > 65535 {
			badPort = append(badPort, fmt.Sprintf("%s port %d", mem.Address, mem.Port))
			continue
		}
		t := Target{IP: addr.String(), Port: mem.Port}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	var msgs []string
	if len(backups) > 0 {
		msgs = append(msgs, fmt.Sprintf("%s not registered: an NLB has no backup targets, so a backup member would take regular traffic (%s)",
			members1(len(backups), "backup member"), listSome(backups)))
	}
	if len(notIPv4) > 0 {
		msgs = append(msgs, fmt.Sprintf("%s not registered: not an IPv4 address, and the target groups are IPv4 (%s)",
			members1(len(notIPv4), "member"), listSome(notIPv4)))
	}
	if len(outside) > 0 {
		cs := make([]string, len(cidrs))
		for i, c := range cidrs {
			cs[i] = c.String()
		}
		msgs = append(msgs, fmt.Sprintf("%s not registered: outside %s, the addresses outside the VPC an NLB accepts as targets (%s)",
			members1(len(outside), "member"), strings.Join(cs, ", "), listSome(outside)))
	}
	if len(badPort) > 0 {
		msgs = append(msgs, fmt.Sprintf("%s not registered: port outside 1–65535 (%s)", members1(len(badPort), "member"), listSome(badPort)))
	}
	return sortTargets(out), msgs
}

// members1 is "1 member" or "3 members".
func members1(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}

// listSome lists up to five items.
func listSome(items []string) string {
	const most = 5
	if len(items) <= most {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:most], ", ") + fmt.Sprintf(" and %d more", len(items)-most)
}

func orDefault(v, def int32) int32 {
	if v <= 0 {
		return def
	}
	return v
}

func clamp(v, lo, hi int32) int32 { return max(lo, min(v, hi)) }

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
