package nlb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/test/nlbtest"
)

// FuzzDesiredDiff builds an Octavia snapshot (JSON of octavia.Snapshot; bytes that are
// not choose its listeners, pools, members, monitors, protocols and states instead, see
// generateSnapshot) and mirror Options (JSON of Options; the test options when they do
// not decode), and checks the pure core of the NLB mirror and its round trip through the
// in-memory ELBv2 of internal/nlb/nlbtest.
//
// Desired never panics, leaves the snapshot alone, is deterministic and does not depend
// on the order Octavia lists things in; it refuses (with an error, and no model) invalid
// options, inconsistent snapshots and load balancers that are not ACTIVE and up.
//
// What it builds is a valid NLB: AWS names (at most 32 of [A-Za-z0-9-], no '-' at either
// end, under the owner's prefix, unique), ports 1–65535, valid tags carrying the
// ownership, listeners of TCP/UDP/TLS that forward to a target group of a protocol they
// can carry, health checks within NLB limits with a matcher of codes 200–599, and as
// targets exactly the enabled, weighted, non-backup IPv4 members in the allowed CIDRs,
// each once, sorted.
//
// Diff(model, what AWS holds once the model is applied) is empty; from nothing it creates
// everything and registers every target with AvailabilityZone "all". From what another
// snapshot (before) left in AWS, Diff's plan either is blocked and Apply changes nothing,
// or Apply carries it out and removes no more than the configured share of targets unless
// the operator allowed it; after it the next Diff is empty (one sync converges), and
// DeletePlan then leaves nothing.
//
// Found by it, each with a seed in testdata: an expected_codes of "0200" or "+200" went
// into the matcher as written (matcher-codes-written-oddly); a pool id, load balancer id
// or Prod name that is no valid AWS tag value went into the tags, so every create would
// fail in AWS (pool-id-not-a-tag-value, prod-name-not-a-tag-value); two listeners of one
// id on one port made the model depend on Octavia's order (repeated-listener-id).
//
//	go test -run='^$' -fuzz='^FuzzDesiredDiff$' -fuzztime=60s -fuzzminimizetime=100x -parallel=1 ./internal/nlb/
func FuzzDesiredDiff(f *testing.F) {
	opts := func(edit func(*Options)) []byte {
		o := testOptions()
		if edit != nil {
			edit(&o)
		}
		return mustMarshal(f, o)
	}
	snap := func(edits ...func(*octavia.Snapshot)) []byte { return mustMarshal(f, testSnapshot(edits...)) }
	const cert = "arn:aws:acm:eu-west-1:000000000000:certificate/abc"
	for _, seed := range []struct {
		after, before, options []byte
		maxRemoval             int32
		allow                  bool
	}{
		{after: snap(), before: nil, options: opts(nil)},
		{after: snap(), before: snap(), options: opts(nil)},
		// Members leave: 3 of 4 in each pool is more than 50%, blocked unless allowed.
		{after: snap(func(s *octavia.Snapshot) {
			pool(s, "p-web").Members = pool(s, "p-web").Members[:1]
			pool(s, "p-tls").Members = nil
		}), before: snap(), options: opts(nil)},
		{after: snap(func(s *octavia.Snapshot) { pool(s, "p-web").Members = pool(s, "p-web").Members[:1] }), before: snap(), options: opts(nil), allow: true},
		{after: snap(func(s *octavia.Snapshot) { pool(s, "p-web").Members = pool(s, "p-web").Members[:3] }), before: snap(), options: opts(nil), maxRemoval: 25},
		// A pool changes protocol (a new target group), a listener moves and one goes.
		{after: snap(func(s *octavia.Snapshot) {
			pool(s, "p-web").Protocol = "UDP"
			s.Listeners[0].Protocol = "UDP"
			s.Listeners[1].Port = 8443
		}), before: snap(), options: opts(nil), allow: true},
		{after: snap(func(s *octavia.Snapshot) { s.Listeners = s.Listeners[:1] }), before: snap(), options: opts(nil), maxRemoval: 100},
		// Everything Desired skips or clamps.
		{after: snap(func(s *octavia.Snapshot) {
			s.Listeners = append(s.Listeners,
				octavia.Listener{ID: "l-tls", Protocol: "TERMINATED_HTTPS", Port: 8443, DefaultPoolID: "p-web", AdminStateUp: true},
				octavia.Listener{ID: "l-dup", Protocol: "TCP", Port: 80, DefaultPoolID: "p-tls", AdminStateUp: true},
				octavia.Listener{ID: "l-off", Protocol: "TCP", Port: 81, DefaultPoolID: "p-web"},
				octavia.Listener{ID: "l-sctp", Protocol: "SCTP", Port: 82, DefaultPoolID: "p-web", AdminStateUp: true},
				octavia.Listener{ID: "l-0", Protocol: "TCP", Port: 0, DefaultPoolID: "p-web", AdminStateUp: true},
				octavia.Listener{ID: "l-l7", Protocol: "HTTP", Port: 83, AdminStateUp: true})
			p := pool(s, "p-web")
			p.Protocol = "PROXY"
			p.Members = append(p.Members,
				octavia.Member{Address: "10.0.0.9", Port: 8080, Weight: 1, Backup: true, AdminStateUp: true},
				octavia.Member{Address: "fd00::1", Port: 8080, Weight: 1, AdminStateUp: true},
				octavia.Member{Address: "::ffff:10.0.0.7", Port: 8080, Weight: 1, AdminStateUp: true},
				octavia.Member{Address: "8.8.8.8", Port: 8080, Weight: 1, AdminStateUp: true},
				octavia.Member{Address: "10.0.0.8", Port: 70000, Weight: 1, AdminStateUp: true},
				octavia.Member{Address: "10.0.0.1", Port: 8080, Weight: 5, AdminStateUp: true},
				octavia.Member{Address: "10.0.0.6", Port: 8080, Weight: 0, AdminStateUp: true})
			p.Monitor = &octavia.Monitor{Type: "HTTP", Delay: 1000, Timeout: 1, MaxRetries: 20, MaxRetriesDown: 1, HTTPMethod: "HEAD",
				URLPath: "healthz", ExpectedCodes: "100-204", AdminStateUp: true}
			pool(s, "p-tls").Monitor.ExpectedCodes = "200,202,600"
			pool(s, "p-tls").Monitor.Type = "HTTPS"
		}), options: opts(func(o *Options) {
			o.TLS.CertificateARN = cert
			o.HealthCheck = HealthCheckDefaults{IntervalSeconds: 30, HealthyThreshold: 5}
			o.DeregistrationDelaySeconds = aws.Int32(0)
			o.TargetCIDRs = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/30")}
		})},
		// Refused: not ACTIVE, a listener naming a missing pool, a repeated pool, bad options.
		{after: snap(func(s *octavia.Snapshot) { s.LoadBalancer.ProvisioningStatus = "PENDING_UPDATE" }), options: opts(nil)},
		{after: snap(func(s *octavia.Snapshot) { s.Listeners[0].DefaultPoolID = "p-gone" }), options: opts(nil)},
		{after: snap(func(s *octavia.Snapshot) { s.Pools = append(s.Pools, s.Pools[0]) }), options: opts(nil)},
		{after: snap(), options: opts(func(o *Options) { o.Owner.Manager = "bad\x00manager"; o.Network.Subnets = nil })},
		{after: snap(), options: opts(func(o *Options) { o.Network.Scheme = types.LoadBalancerSchemeEnumInternal })},
		{after: []byte(`{}`), options: []byte(`{`)},
		// Not JSON: generateSnapshot's choices (pools with members and monitors, listeners).
		{after: []byte("\x00\x00\x00\x03\x00\x00\x00\x05\x01\x02\x03\x00\x00\x00\x07\x01\x00\x00\x01\x01\x05\x05\x05\x05\x00\x02\x02\x01\x00\x00\x00\x00\x03\x04\x05\x06\x07"),
			before: []byte("\x00\x00\x00\x03\x00\x00\x00\x06\x01\x02\x03\x00\x00\x00\x07\x09\x00\x00\x00\x00\x05\x05\x05\x05\x00\x02\x02\x01"), options: opts(nil), maxRemoval: 30},
	} {
		f.Add(seed.after, seed.before, seed.options, seed.maxRemoval, seed.allow)
	}
	f.Fuzz(fuzzDesiredDiff)
}

func fuzzDesiredDiff(t *testing.T, after, before, options []byte, maxRemoval int32, allow bool) {
	opts := testOptions()
	if err := json.Unmarshal(options, &opts); err != nil {
		opts = testOptions()
	}
	if opts.Network.VPCID != "" {
		opts.Network.VPCID = "vpc-1" // the fake ELBv2's only VPC
	}
	snap := decodeSnapshot(after)
	m, ok := checkDesired(t, snap, opts)
	if !ok {
		return
	}
	checkModel(t, m, snap, opts)

	guard := Guard{MaxTargetRemovalPercent: maxRemoval, AllowMassRemoval: allow}
	if p := Diff(m, steady(m), guard); !p.Empty() || p.Blocked || len(p.Notes) > 0 {
		t.Fatalf("steady state: Diff is not empty: %s; notes %v", p.Summary(), p.Notes)
	}
	checkCreatePlan(t, m, Diff(m, nil, guard))
	checkRoundTrip(t, m, before, opts, guard)
}

func mustMarshal(tb testing.TB, v any) []byte {
	tb.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// checkDesired runs Desired on the snapshot, a copy and a reordered copy; it returns the
// model, or false when Desired refused (rightly).
func checkDesired(t *testing.T, snap *octavia.Snapshot, opts Options) (Model, bool) {
	t.Helper()
	orig := cloneSnapshot(t, snap)
	m, warnings, err := Desired(snap, opts)
	if !reflect.DeepEqual(orig, snap) {
		t.Fatalf("Desired changed the snapshot")
	}
	m2, warnings2, err2 := Desired(cloneSnapshot(t, snap), opts)
	if !reflect.DeepEqual(m, m2) || !reflect.DeepEqual(warnings, warnings2) || errText(err) != errText(err2) {
		t.Fatalf("Desired is not deterministic:\n%+v %v\n%+v %v", m, err, m2, err2)
	}
	// Octavia lists things in an order of its own; the NLB must not depend on it.
	rev := cloneSnapshot(t, snap)
	slices.Reverse(rev.Listeners)
	slices.Reverse(rev.Pools)
	for i := range rev.Pools {
		slices.Reverse(rev.Pools[i].Members)
	}
	m3, _, err3 := Desired(rev, opts)
	if (err == nil) != (err3 == nil) || !reflect.DeepEqual(m, m3) {
		t.Fatalf("Desired depends on the order of the snapshot:\n%+v %v\nreversed:\n%+v %v", m, err, m3, err3)
	}

	olb := snap.LoadBalancer
	optsErr := opts.validate()
	mustRefuse := optsErr != nil || olb.ID == "" || olb.ProvisioningStatus != "ACTIVE" || !olb.AdminStateUp
	switch {
	case err != nil:
		if err.Error() == "" || !reflect.DeepEqual(m, Model{}) || warnings != nil {
			t.Fatalf("Desired refused with %q but returned a model or warnings: %+v %v", err, m, warnings)
		}
		if optsErr != nil && !strings.Contains(err.Error(), "NLB mirror options") {
			t.Errorf("invalid options (%v) refused with %q", optsErr, err)
		}
		if optsErr == nil && olb.ID != "" && (olb.ProvisioningStatus != "ACTIVE" || !olb.AdminStateUp) && !errors.Is(err, ErrOctaviaNotReady) {
			t.Errorf("a load balancer %s (admin up %v) refused with %q, want ErrOctaviaNotReady", olb.ProvisioningStatus, olb.AdminStateUp, err)
		}
		return Model{}, false
	case mustRefuse:
		t.Fatalf("Desired mirrored what it must refuse (options: %v; load balancer %q %s, admin up %v)", optsErr, olb.ID, olb.ProvisioningStatus, olb.AdminStateUp)
	}
	for _, w := range warnings {
		if w.Subject == "" || w.Message == "" {
			t.Errorf("warning without subject or message: %+v", w)
		}
	}
	return m, true
}

func cloneSnapshot(t *testing.T, s *octavia.Snapshot) *octavia.Snapshot {
	t.Helper()
	var out octavia.Snapshot
	if err := json.Unmarshal(mustMarshal(t, s), &out); err != nil {
		t.Fatal(err)
	}
	// JSON turns empty slices into nil and back; keep Desired's input exactly as given.
	if s.Listeners != nil && out.Listeners == nil {
		out.Listeners = []octavia.Listener{}
	}
	if s.Pools != nil && out.Pools == nil {
		out.Pools = []octavia.Pool{}
	}
	for i := range s.Pools {
		if s.Pools[i].Members != nil && out.Pools[i].Members == nil {
			out.Pools[i].Members = []octavia.Member{}
		}
	}
	return &out
}

var (
	awsName      = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?$`)
	codesMatcher = regexp.MustCompile(`^([2-5][0-9]{2})(,[2-5][0-9]{2})*$|^([2-5][0-9]{2})-([2-5][0-9]{2})$`)
)

func checkName(t *testing.T, what, name string, o Owner) {
	t.Helper()
	if len(name) > MaxNameLength || !awsName.MatchString(name) || strings.HasPrefix(name, "internal-") || !strings.HasPrefix(name, ResourceNamePrefix(o)) {
		t.Errorf("%s name %q is not a valid ELBv2 name of the owner (at most 32 of [A-Za-z0-9-], no '-' at either end, prefix %s)", what, name, ResourceNamePrefix(o))
	}
}

func checkTags(t *testing.T, what string, tags map[string]string, o Owner) {
	t.Helper()
	if !o.Owns(tags) {
		t.Errorf("%s tags %v lack the owner's", what, tags)
	}
	for k, v := range tags {
		if len(k) == 0 || len(k) > 128 || strings.HasPrefix(k, "aws:") || !tagValueRE.MatchString(k) {
			t.Errorf("%s tag key %q is not valid in AWS", what, k)
		}
		if len(v) > maxTagValue || !tagValueRE.MatchString(v) {
			t.Errorf("%s tag %s=%q is not a valid AWS tag value", what, k, v)
		}
	}
}

// checkModel checks that the model is an NLB AWS accepts and that it mirrors the snapshot.
func checkModel(t *testing.T, m Model, snap *octavia.Snapshot, opts Options) {
	t.Helper()
	o := opts.Owner
	lb := m.LoadBalancer
	checkName(t, "load balancer", lb.Name, o)
	checkTags(t, "load balancer", lb.Tags, o)
	if lb.Scheme != types.LoadBalancerSchemeEnumInternetFacing && lb.Scheme != types.LoadBalancerSchemeEnumInternal {
		t.Errorf("scheme %q", lb.Scheme)
	}
	if want := slices.Sorted(slices.Values(opts.Network.Subnets)); !slices.Equal(lb.Subnets, want) {
		t.Errorf("subnets %v, want %v", lb.Subnets, want)
	}
	if m.Owner != o || m.OctaviaLoadBalancerID != snap.LoadBalancer.ID {
		t.Errorf("model of %+v / %q, want %+v / %q", m.Owner, m.OctaviaLoadBalancerID, o, snap.LoadBalancer.ID)
	}

	pools := map[string]octavia.Pool{}
	for _, p := range snap.Pools {
		pools[p.ID] = p
	}
	usedBy := map[string][]int32{}
	for port, l := range m.Listeners {
		if port != l.Port || l.Port < 1 || l.Port > 65535 {
			t.Errorf("listener under port %d has port %d", port, l.Port)
		}
		tg, ok := m.TargetGroups[l.TargetGroup]
		if !ok {
			t.Errorf("listener %d forwards to target group %q, which the model does not have", port, l.TargetGroup)
			continue
		}
		usedBy[l.TargetGroup] = append(usedBy[l.TargetGroup], port)
		switch l.Protocol {
		case types.ProtocolEnumTcp, types.ProtocolEnumTls:
			if tg.Protocol != types.ProtocolEnumTcp {
				t.Errorf("%s listener %d forwards to a %s target group", l.Protocol, port, tg.Protocol)
			}
		case types.ProtocolEnumUdp:
			if tg.Protocol != types.ProtocolEnumUdp {
				t.Errorf("UDP listener %d forwards to a %s target group", port, tg.Protocol)
			}
		default:
			t.Errorf("listener %d has protocol %q", port, l.Protocol)
		}
		if (l.Protocol == types.ProtocolEnumTls) != (l.CertificateARN != "") || l.Protocol == types.ProtocolEnumTls && l.CertificateARN != opts.TLS.CertificateARN {
			t.Errorf("%s listener %d has certificate %q", l.Protocol, port, l.CertificateARN)
		}
		found := false
		for _, ol := range snap.Listeners {
			if ol.ID == l.OctaviaListenerID && ol.Port == port && ol.DefaultPoolID == l.TargetGroup && ol.AdminStateUp {
				found = true
			}
		}
		if !found {
			t.Errorf("listener %d mirrors no enabled Octavia listener on that port with pool %s", port, l.TargetGroup)
		}
	}

	names := map[string]bool{}
	delay := i32s(opts.deregistrationDelay())
	cidrs := opts.targetCIDRs()
	for key, tg := range m.TargetGroups {
		checkName(t, "target group", tg.Name, o)
		checkTags(t, "target group", tg.Tags, o)
		if names[tg.Name] {
			t.Errorf("two target groups named %s", tg.Name)
		}
		names[tg.Name] = true
		if tg.PoolID != key || tg.Tags[TagOctaviaPool] != key {
			t.Errorf("target group under %q is for pool %q (tag %q)", key, tg.PoolID, tg.Tags[TagOctaviaPool])
		}
		if len(usedBy[key]) == 0 {
			t.Errorf("target group of pool %s is used by no listener", key)
		} else if tg.Port != slices.Min(usedBy[key]) {
			t.Errorf("target group of pool %s has port %d, want its lowest listener port %d", key, tg.Port, slices.Min(usedBy[key]))
		}
		if tg.VPCID != opts.Network.VPCID || tg.Protocol != types.ProtocolEnumTcp && tg.Protocol != types.ProtocolEnumUdp {
			t.Errorf("target group %s: VPC %q, protocol %q", key, tg.VPCID, tg.Protocol)
		}
		if tg.Attributes[AttrDeregistrationDelay] != delay {
			t.Errorf("target group %s: deregistration delay %q, want %s", key, tg.Attributes[AttrDeregistrationDelay], delay)
		}
		_, hasProxy := tg.Attributes[AttrProxyProtocolV2]
		if tcp := tg.Protocol == types.ProtocolEnumTcp; hasProxy != tcp || tcp && tg.Attributes[AttrPreserveClientIP] != "false" {
			t.Errorf("%s target group %s has attributes %v", tg.Protocol, key, tg.Attributes)
		}
		checkHealthCheck(t, key, tg.HealthCheck)

		// The targets are exactly the members that can serve through an NLB, once each.
		pool, ok := pools[key]
		if !ok {
			t.Errorf("target group for pool %s, which the snapshot does not have", key)
			continue
		}
		want := map[Target]bool{}
		for _, mem := range pool.Members {
			addr, err := netip.ParseAddr(mem.Address)
			if !mem.AdminStateUp || mem.Weight == 0 || mem.Backup || err != nil || !addr.Unmap().Is4() || mem.Port < 1 || mem.Port > 65535 {
				continue
			}
			addr = addr.Unmap()
			if slices.ContainsFunc(cidrs, func(p netip.Prefix) bool { return p.Contains(addr) }) {
				want[Target{IP: addr.String(), Port: mem.Port}] = true
			}
		}
		for i, tgt := range tg.Targets {
			if !want[tgt] {
				t.Errorf("target group %s: target %s is no member that can serve", key, tgt)
			}
			if i > 0 && CompareTargets(tg.Targets[i-1], tgt) >= 0 {
				t.Errorf("target group %s: targets not sorted and unique: %v", key, tg.Targets)
			}
		}
		if len(tg.Targets) != len(want) {
			t.Errorf("target group %s has %d targets, want the %d members that can serve", key, len(tg.Targets), len(want))
		}
	}
}

func checkHealthCheck(t *testing.T, key string, hc HealthCheck) {
	t.Helper()
	switch {
	case hc.Port != HealthCheckPortTraffic,
		hc.IntervalSeconds < minInterval || hc.IntervalSeconds > maxInterval,
		hc.TimeoutSeconds < minTimeout || hc.TimeoutSeconds > maxTimeout || hc.TimeoutSeconds > hc.IntervalSeconds,
		hc.HealthyThreshold < minThreshold || hc.HealthyThreshold > maxThreshold,
		hc.UnhealthyThreshold < minThreshold || hc.UnhealthyThreshold > maxThreshold:
		t.Errorf("target group %s: health check %s outside the NLB's limits", key, hc)
	}
	switch hc.Protocol {
	case types.ProtocolEnumTcp:
		if hc.Path != "" || hc.Matcher != "" {
			t.Errorf("target group %s: TCP health check with path %q, matcher %q", key, hc.Path, hc.Matcher)
		}
	case types.ProtocolEnumHttp, types.ProtocolEnumHttps:
		if !strings.HasPrefix(hc.Path, "/") || len(hc.Path) > maxHealthCheckPath {
			t.Errorf("target group %s: health check path %q", key, hc.Path)
		}
		g := codesMatcher.FindStringSubmatch(hc.Matcher)
		if g == nil {
			t.Errorf("target group %s: matcher %q is not HTTP codes 200-599 an NLB accepts", key, hc.Matcher)
		} else if g[3] != "" {
			lo, _ := strconv.Atoi(g[3])
			hi, _ := strconv.Atoi(g[4])
			if lo >= hi || hi > maxHTTPCode {
				t.Errorf("target group %s: matcher range %q", key, hc.Matcher)
			}
		} else {
			for c := range strings.SplitSeq(hc.Matcher, ",") {
				if n, _ := strconv.Atoi(c); n > maxHTTPCode || strings.Count(hc.Matcher, c) > 1 {
					t.Errorf("target group %s: matcher %q", key, hc.Matcher)
				}
			}
		}
	default:
		t.Errorf("target group %s: health check protocol %q", key, hc.Protocol)
	}
}

// checkCreatePlan: from nothing, the plan creates the whole model and blocks nothing.
func checkCreatePlan(t *testing.T, m Model, p Plan) {
	t.Helper()
	c := p.Counts()
	targets := 0
	for _, tg := range m.TargetGroups {
		targets += len(tg.Targets)
	}
	if p.Blocked || p.CreateLoadBalancer == nil || c.CreateTargetGroups != len(m.TargetGroups) || c.CreateListeners != len(m.Listeners) ||
		c.RegisterTargets != targets || c.Deletes() != 0 || c.Deregisters() != 0 || c.Modifies() != 0 {
		t.Fatalf("from nothing: %s (blocked %v), want the model created", p.Summary(), p.Blocked)
	}
	checkPlacement(t, p)
}

// checkPlacement: every target is registered in AvailabilityZone "all".
func checkPlacement(t *testing.T, p Plan) {
	t.Helper()
	for _, r := range p.RegisterTargets {
		for _, tgt := range r.Targets {
			if tgt.AvailabilityZone != AvailabilityZoneAll || tgt.Port < 1 || tgt.Port > 65535 {
				t.Errorf("target %s registered in zone %q", tgt.Target, tgt.AvailabilityZone)
			}
		}
	}
}

// Deploy is the AWS side of the round trip: internal/nlb/deploy's Observe, Apply and
// ErrBlocked. That package imports this one, so these tests cannot import it; the external
// test package hands them over (deploy_test.go).
var Deploy struct {
	Observe    func(context.Context, elbv2.API, Owner) (*Observed, error)
	Apply      func(context.Context, elbv2.API, Plan) (fmt.Stringer, error)
	ErrBlocked error
}

// checkRoundTrip applies the model of before (if any) to an empty fake ELBv2, then syncs
// to m through Observe, Diff and Apply, checking the guard and that one sync converges,
// and tears down.
func checkRoundTrip(t *testing.T, m Model, before []byte, opts Options, guard Guard) {
	t.Helper()
	ctx := t.Context()
	fake := nlbtest.NewELB()
	if len(before) > 0 {
		if mb, _, err := Desired(decodeSnapshot(before), opts); err == nil {
			if _, err := Deploy.Apply(ctx, fake, Diff(mb, nil, Guard{})); err != nil {
				t.Fatalf("creating the NLB of the snapshot before: %v", err)
			}
		}
	}
	obs, err := Deploy.Observe(ctx, fake, opts.Owner)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	plan := Diff(m, obs, guard)
	checkPlacement(t, plan)
	writes := len(fake.Writes())
	if plan.Blocked {
		if guard.AllowMassRemoval || len(plan.BlockedReasons) == 0 {
			t.Fatalf("blocked with the operator's say-so %v, reasons %v", guard.AllowMassRemoval, plan.BlockedReasons)
		}
		if _, err := Deploy.Apply(ctx, fake, plan); !errors.Is(err, Deploy.ErrBlocked) || len(fake.Writes()) != writes {
			t.Fatalf("Apply of a blocked plan: %v, and %d writes", err, len(fake.Writes())-writes)
		}
		guard.AllowMassRemoval = true // the operator says so
		plan = Diff(m, obs, guard)
		if plan.Blocked || !plan.GuardOverridden {
			t.Fatalf("allowed, the plan is still blocked (%v) or not marked overridden (%v)", plan.Blocked, plan.GuardOverridden)
		}
	}
	if _, err := Deploy.Apply(ctx, fake, plan); err != nil {
		t.Fatalf("Apply %s: %v", plan.Summary(), err)
	}
	after, err := Deploy.Observe(ctx, fake, opts.Owner)
	if err != nil {
		t.Fatalf("Observe after Apply: %v", err)
	}
	if !plan.GuardOverridden {
		checkRemovals(t, obs, after, guard)
	}
	if p := Diff(m, after, Guard{}); !p.Empty() || p.Blocked {
		t.Fatalf("one sync did not converge: after %s, Diff plans %s (blocked %v); notes %v", plan.Summary(), p.Summary(), p.Blocked, p.Notes)
	}
	if len(after.LoadBalancers) != 1 || after.LoadBalancers[0].Name != m.LoadBalancer.Name || len(after.TargetGroups) != len(m.TargetGroups) {
		t.Fatalf("AWS holds %d load balancers and %d target groups for a model of 1 and %d", len(after.LoadBalancers), len(after.TargetGroups), len(m.TargetGroups))
	}
	for _, tg := range after.TargetGroups {
		for _, tgt := range tg.Targets {
			if tgt.AvailabilityZone != AvailabilityZoneAll {
				t.Errorf("target %s of %s registered in zone %q", tgt.Target, tg.Name, tgt.AvailabilityZone)
			}
		}
	}
	if _, err := Deploy.Apply(ctx, fake, DeletePlan(after)); err != nil {
		t.Fatalf("teardown: %v", err)
	}
	if gone, err := Deploy.Observe(ctx, fake, opts.Owner); err != nil || len(gone.LoadBalancers)+len(gone.TargetGroups) > 0 {
		t.Fatalf("after teardown: %+v, %v", gone, err)
	}
}

// checkRemovals: a sync the guard let through removed no more than the limit's share of
// any target group it kept, nor of the load balancer's targets in all.
func checkRemovals(t *testing.T, before, after *Observed, guard Guard) {
	t.Helper()
	limit := int64(guard.limit())
	afterByARN := map[string]ObservedTargetGroup{}
	for _, tg := range after.TargetGroups {
		afterByARN[tg.ARN] = tg
	}
	total := func(o *Observed) int64 {
		if len(o.LoadBalancers) == 0 {
			return 0
		}
		n := int64(0)
		for _, tg := range o.TargetGroups {
			if slices.Contains(tg.LoadBalancerARNs, o.LoadBalancers[0].ARN) {
				n += int64(len(tg.Targets))
			}
		}
		return n
	}
	for _, tg := range before.TargetGroups {
		kept, ok := afterByARN[tg.ARN]
		if !ok {
			continue
		}
		still := map[Target]bool{}
		for _, tgt := range kept.Targets {
			still[tgt.Target] = true
		}
		removed := int64(0)
		for _, tgt := range tg.Targets {
			if !still[tgt.Target] {
				removed++
			}
		}
		if removed*100 > limit*int64(len(tg.Targets)) {
			t.Errorf("target group %s lost %d of %d targets, more than %d%%, without the operator's say-so", tg.Name, removed, len(tg.Targets), limit)
		}
	}
	if b, a := total(before), total(after); b > 0 && (b-a)*100 > limit*b {
		t.Errorf("the NLB went from %d to %d targets, more than %d%% fewer, without the operator's say-so", b, a, limit)
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// decodeSnapshot reads a snapshot as JSON, or has generateSnapshot make one of the bytes.
func decodeSnapshot(data []byte) *octavia.Snapshot {
	var s octavia.Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return generateSnapshot(data)
	}
	return &s
}

// generateSnapshot builds a snapshot from bytes that are not JSON: each byte chooses one
// part among the shapes Desired treats differently (mostly valid, sometimes not);
// missing bytes choose the first.
func generateSnapshot(data []byte) *octavia.Snapshot {
	next := func() int {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return int(b)
	}
	pick := func(n int) int { return next() % n }
	oneOf := func(xs ...string) string { return xs[pick(len(xs))] }
	mostly := func() bool { return pick(8) != 7 }
	port := func() int32 {
		switch b := next(); b % 8 {
		case 5:
			return []int32{0, -1, 65535, 65536, 1 << 30}[b%5]
		default:
			return int32(1 + b*257%65535)
		}
	}
	small := func() int32 { return int32(int8(next())) } // a byte as a small signed number

	s := &octavia.Snapshot{LoadBalancer: octavia.LoadBalancer{
		ID:                 oneOf("lb-1", "lb-1", "lb-1", "", "lb 2/b", "ünï"),
		ProvisioningStatus: oneOf("ACTIVE", "ACTIVE", "ACTIVE", "PENDING_UPDATE", "ERROR", "active"),
		AdminStateUp:       mostly(),
		VIP:                "10.9.0.10",
	}}
	poolIDs := []string{"p-0", "p-1", "p-2", "p-3"}
	for i := range pick(4) {
		p := octavia.Pool{
			ID:           poolIDs[i],
			Protocol:     oneOf("TCP", "HTTP", "HTTPS", "PROXY", "PROXYV2", "UDP", "SCTP", "tcp", "proxyv2"),
			AdminStateUp: mostly(),
		}
		switch pick(16) {
		case 0:
			p.ID = ""
		case 1:
			p.ID = poolIDs[0] // repeated
		case 2:
			p.ID = "pool/ü?"
		}
		for range pick(7) {
			a := next()
			p.Members = append(p.Members, octavia.Member{
				Address: oneOf("10.0.0.", "10.0.0.", "192.168.1.", "100.64.0.", "172.16.0.", "8.8.8.", "fd00::", "::ffff:10.0.0.", "10.0.0.2", "", "010.0.0.") +
					strconv.Itoa(a%4),
				Port:         port(),
				Weight:       []int32{1, 1, 1, 0, 5, -1}[pick(6)],
				Backup:       pick(8) == 0,
				AdminStateUp: mostly(),
			})
		}
		if pick(3) > 0 {
			p.Monitor = &octavia.Monitor{
				Type:           oneOf("HTTP", "HTTPS", "PING", "TCP", "TLS-HELLO", "UDP-CONNECT", "SCTP", "http", "GRPC"),
				Delay:          small(),
				Timeout:        small(),
				MaxRetries:     small(),
				MaxRetriesDown: small(),
				HTTPMethod:     oneOf("", "GET", "HEAD", "get"),
				URLPath:        oneOf("/", "", "/healthz", "healthz", "/a b", "/"+strings.Repeat("x", 1024)),
				ExpectedCodes: oneOf("200", "", "200,202", "200-204", "100-199", "+200", "0200", "200,200", "abc", "600",
					"200-", " 200 , 202 ", "199-600", "204-200", "-5", "200--300"),
				AdminStateUp: mostly(),
			}
		}
		s.Pools = append(s.Pools, p)
	}
	for i := range pick(6) {
		l := octavia.Listener{
			ID:           fmt.Sprintf("l-%d", i),
			Protocol:     oneOf("TCP", "TCP", "UDP", "HTTP", "HTTPS", "TERMINATED_HTTPS", "SCTP", "PROMETHEUS", "tcp"),
			Port:         port(),
			AdminStateUp: mostly(),
		}
		if pick(4) == 0 {
			l.Port = []int32{80, 443}[i%2] // ports collide
		}
		switch c := pick(8); {
		case c < len(s.Pools) && c < 6:
			l.DefaultPoolID = s.Pools[c].ID
		case c == 6:
			l.DefaultPoolID = "p-missing"
		case len(s.Pools) > 0:
			l.DefaultPoolID = s.Pools[0].ID
		}
		if pick(16) == 0 {
			l.ID = "l-0" // repeated
		}
		s.Listeners = append(s.Listeners, l)
	}
	return s
}
