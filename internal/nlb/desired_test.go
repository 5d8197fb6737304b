package nlb

import (
	"errors"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/octavia"
)

func TestDesiredProtocolMapping(t *testing.T) {
	const cert = "arn:aws:acm:eu-west-1:000000000000:certificate/abc"
	cases := []struct {
		name                 string
		listener, poolProto  string
		tls                  TLSOptions
		wantListener, wantTG types.ProtocolEnum // "" = not mirrored
		wantProxy, wantCert  string
		warning              string
		wantNoWarnings       bool
	}{
		{name: "TCP", listener: "TCP", poolProto: "TCP", wantListener: "TCP", wantTG: "TCP", wantProxy: "false", wantNoWarnings: true},
		{name: "UDP", listener: "UDP", poolProto: "UDP", wantListener: "UDP", wantTG: "UDP", wantNoWarnings: true},
		{name: "HTTP is forwarded as TCP", listener: "HTTP", poolProto: "HTTP", wantListener: "TCP", wantTG: "TCP", wantProxy: "false", wantNoWarnings: true},
		{name: "HTTPS passes TLS through as TCP", listener: "HTTPS", poolProto: "HTTPS", wantListener: "TCP", wantTG: "TCP", wantProxy: "false", wantNoWarnings: true},
		{name: "TERMINATED_HTTPS without a certificate is skipped", listener: "TERMINATED_HTTPS", poolProto: "HTTP",
			warning: "ACM certificate"},
		{name: "TERMINATED_HTTPS with a certificate terminates TLS on the NLB", listener: "TERMINATED_HTTPS", poolProto: "HTTP",
			tls: TLSOptions{CertificateARN: cert, SSLPolicy: "ELBSecurityPolicy-TLS13-1-2-2021-06"}, wantListener: "TLS", wantTG: "TCP",
			wantProxy: "false", wantCert: cert, wantNoWarnings: true},
		{name: "SCTP is skipped", listener: "SCTP", poolProto: "SCTP", warning: "protocol SCTP cannot be mirrored"},
		{name: "PROMETHEUS is skipped", listener: "PROMETHEUS", poolProto: "TCP", warning: "protocol PROMETHEUS cannot be mirrored"},
		{name: "PROXYV2 pool: proxy protocol v2", listener: "TCP", poolProto: "PROXYV2", wantListener: "TCP", wantTG: "TCP", wantProxy: "true", wantNoWarnings: true},
		{name: "PROXY pool: proxy protocol v2, with a warning", listener: "TCP", poolProto: "PROXY", wantListener: "TCP", wantTG: "TCP",
			wantProxy: "true", warning: "version 2"},
		{name: "an SCTP pool behind a TCP listener is skipped", listener: "TCP", poolProto: "SCTP", warning: "cannot carry"},
		{name: "a TCP pool behind a UDP listener is skipped", listener: "UDP", poolProto: "TCP", warning: "cannot forward to"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := testSnapshot(func(s *octavia.Snapshot) {
				s.Listeners = []octavia.Listener{{ID: "l-1", Protocol: tc.listener, Port: 8000, DefaultPoolID: "p-web", AdminStateUp: true}}
				pool(s, "p-web").Protocol = tc.poolProto
				pool(s, "p-web").Monitor = nil
			})
			opts := testOptions()
			opts.TLS = tc.tls
			m, warnings, err := Desired(s, opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.warning != "" {
				containsAll(t, "warnings", warningsText(warnings), tc.warning)
			}
			if tc.wantNoWarnings && len(warnings) > 0 {
				t.Errorf("want no warnings, got %s", warningsText(warnings))
			}
			if tc.wantListener == "" {
				if len(m.Listeners) != 0 || len(m.TargetGroups) != 0 {
					t.Fatalf("want nothing mirrored, got listeners %v target groups %v", m.Listeners, slices.Collect(maps.Keys(m.TargetGroups)))
				}
				return
			}
			l, ok := m.Listeners[8000]
			if !ok {
				t.Fatalf("no listener on 8000: %v", m.Listeners)
			}
			if l.Protocol != tc.wantListener || l.TargetGroup != "p-web" || l.CertificateARN != tc.wantCert {
				t.Errorf("listener = %+v, want protocol %s to p-web with certificate %q", l, tc.wantListener, tc.wantCert)
			}
			if tc.wantCert != "" && l.SSLPolicy != tc.tls.SSLPolicy {
				t.Errorf("SSL policy = %q, want %q", l.SSLPolicy, tc.tls.SSLPolicy)
			}
			tg := m.TargetGroups["p-web"]
			if tg.Protocol != tc.wantTG {
				t.Errorf("target group protocol = %s, want %s", tg.Protocol, tc.wantTG)
			}
			if got := tg.Attributes[AttrProxyProtocolV2]; got != tc.wantProxy {
				t.Errorf("proxy protocol attribute = %q, want %q", got, tc.wantProxy)
			}
			if tc.wantTG == types.ProtocolEnumTcp && tg.Attributes[AttrPreserveClientIP] != "false" {
				t.Errorf("TCP target group must not preserve client IPs: %v", tg.Attributes)
			}
			if tc.wantTG == types.ProtocolEnumUdp && len(tg.Attributes) != 1 {
				t.Errorf("UDP target group attributes = %v, want only the deregistration delay", tg.Attributes)
			}
		})
	}
}

func TestDesiredListeners(t *testing.T) {
	t.Run("disabled listener, disabled pool, no default pool: skipped with warnings", func(t *testing.T) {
		s := testSnapshot(func(s *octavia.Snapshot) {
			s.Listeners = append(s.Listeners,
				octavia.Listener{ID: "l-off", Protocol: "TCP", Port: 81, DefaultPoolID: "p-web", AdminStateUp: false},
				octavia.Listener{ID: "l-nopool", Protocol: "TCP", Port: 82, AdminStateUp: true},
				octavia.Listener{ID: "l-pooloff", Protocol: "TCP", Port: 83, DefaultPoolID: "p-off", AdminStateUp: true})
			s.Pools = append(s.Pools, octavia.Pool{ID: "p-off", Protocol: "TCP", AdminStateUp: false, Members: members(80, "10.0.1.1")})
		})
		m, warnings, err := Desired(s, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if got := slices.Sorted(maps.Keys(m.Listeners)); !slices.Equal(got, []int32{80, 443}) {
			t.Errorf("listener ports = %v, want [80 443]", got)
		}
		if _, ok := m.TargetGroups["p-off"]; ok {
			t.Error("a disabled pool got a target group")
		}
		containsAll(t, "warnings", warningsText(warnings),
			"listener l-off (TCP:81): disabled in Octavia", "listener l-nopool (TCP:82): has no default pool", "listener l-pooloff (TCP:83): its pool p-off is disabled")
	})
	t.Run("TCP and UDP on one port: an NLB has one listener per port", func(t *testing.T) {
		s := testSnapshot(func(s *octavia.Snapshot) {
			s.Listeners = []octavia.Listener{
				{ID: "l-dns-udp", Protocol: "UDP", Port: 53, DefaultPoolID: "p-udp", AdminStateUp: true},
				{ID: "l-dns-tcp", Protocol: "TCP", Port: 53, DefaultPoolID: "p-web", AdminStateUp: true},
			}
			s.Pools = append(s.Pools, octavia.Pool{ID: "p-udp", Protocol: "UDP", AdminStateUp: true, Members: members(53, "10.0.1.1")})
		})
		m, warnings, err := Desired(s, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		if l := m.Listeners[53]; l.Protocol != types.ProtocolEnumTcp || l.OctaviaListenerID != "l-dns-tcp" {
			t.Errorf("listener 53 = %+v, want the TCP one (sorted first)", l)
		}
		if _, ok := m.TargetGroups["p-udp"]; ok {
			t.Error("the skipped listener's pool got a target group")
		}
		containsAll(t, "warnings", warningsText(warnings), "listener l-dns-udp (UDP:53): port 53 is already mirrored for listener l-dns-tcp")
	})
	t.Run("a pool shared by two listeners is one target group; unused pools none", func(t *testing.T) {
		s := testSnapshot(func(s *octavia.Snapshot) {
			s.Listeners = []octavia.Listener{
				{ID: "l-8080", Protocol: "TCP", Port: 8080, DefaultPoolID: "p-web", AdminStateUp: true},
				{ID: "l-80", Protocol: "TCP", Port: 80, DefaultPoolID: "p-web", AdminStateUp: true},
			}
		})
		m := mustDesired(t, s, testOptions())
		if len(m.TargetGroups) != 1 {
			t.Fatalf("target groups = %v, want only p-web", slices.Collect(maps.Keys(m.TargetGroups)))
		}
		if m.Listeners[80].TargetGroup != "p-web" || m.Listeners[8080].TargetGroup != "p-web" {
			t.Errorf("listeners = %+v", m.Listeners)
		}
		if got := m.TargetGroups["p-web"].Port; got != 80 {
			t.Errorf("target group port = %d, want 80 (the lowest listener port)", got)
		}
	})
}

func TestDesiredErrors(t *testing.T) {
	badOpts := func(edit func(*Options)) Options {
		o := testOptions()
		edit(&o)
		return o
	}
	cases := []struct {
		name       string
		snap       *octavia.Snapshot
		opts       Options
		notReady   bool
		wantSubstr string
	}{
		{name: "no snapshot", snap: nil, opts: testOptions(), wantSubstr: "no Octavia snapshot"},
		{name: "pending update", snap: testSnapshot(func(s *octavia.Snapshot) { s.LoadBalancer.ProvisioningStatus = "PENDING_UPDATE" }),
			opts: testOptions(), notReady: true, wantSubstr: "is PENDING_UPDATE, not ACTIVE"},
		{name: "error", snap: testSnapshot(func(s *octavia.Snapshot) { s.LoadBalancer.ProvisioningStatus = "ERROR" }),
			opts: testOptions(), notReady: true, wantSubstr: "ERROR"},
		{name: "administratively down", snap: testSnapshot(func(s *octavia.Snapshot) { s.LoadBalancer.AdminStateUp = false }),
			opts: testOptions(), notReady: true, wantSubstr: "administratively down"},
		{name: "a listener names a pool the snapshot lacks", snap: testSnapshot(func(s *octavia.Snapshot) { s.Listeners[0].DefaultPoolID = "p-gone" }),
			opts: testOptions(), wantSubstr: "inconsistent Octavia snapshot"},
		{name: "no manager identity", snap: testSnapshot(), opts: badOpts(func(o *Options) { o.Owner.Manager = "" }), wantSubstr: "manager identity is empty"},
		{name: "no Prod UID", snap: testSnapshot(), opts: badOpts(func(o *Options) { o.Owner.UID = "" }), wantSubstr: "UID is empty"},
		{name: "no VPC", snap: testSnapshot(), opts: badOpts(func(o *Options) { o.Network.VPCID = "" }), wantSubstr: "VPC id"},
		{name: "no subnets", snap: testSnapshot(), opts: badOpts(func(o *Options) { o.Network.Subnets = nil }), wantSubstr: "subnet"},
		{name: "bad scheme", snap: testSnapshot(), opts: badOpts(func(o *Options) { o.Network.Scheme = "public" }), wantSubstr: "scheme"},
		{name: "delay too long", snap: testSnapshot(), opts: badOpts(func(o *Options) { d := int32(4000); o.DeregistrationDelaySeconds = &d }), wantSubstr: "0–3600"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Desired(tc.snap, tc.opts)
			if err == nil {
				t.Fatal("want an error")
			}
			if errors.Is(err, ErrOctaviaNotReady) != tc.notReady {
				t.Errorf("errors.Is(ErrOctaviaNotReady) = %v, want %v (%v)", !tc.notReady, tc.notReady, err)
			}
			containsAll(t, "error", err.Error(), tc.wantSubstr)
		})
	}
}

func TestHealthCheck(t *testing.T) {
	def := DefaultHealthCheck
	tcp := func(i, to, h, u int32) HealthCheck {
		return HealthCheck{Protocol: "TCP", Port: HealthCheckPortTraffic, IntervalSeconds: i, TimeoutSeconds: to, HealthyThreshold: h, UnhealthyThreshold: u}
	}
	http := func(proto types.ProtocolEnum, path, matcher string, i, to, h, u int32) HealthCheck {
		hc := tcp(i, to, h, u)
		hc.Protocol, hc.Path, hc.Matcher = proto, path, matcher
		return hc
	}
	mon := func(typ string, delay, timeout, up, down int32) *octavia.Monitor {
		return &octavia.Monitor{Type: typ, Delay: delay, Timeout: timeout, MaxRetries: up, MaxRetriesDown: down, AdminStateUp: true}
	}
	withHTTP := func(m *octavia.Monitor, method, path, codes string) *octavia.Monitor {
		m.HTTPMethod, m.URLPath, m.ExpectedCodes = method, path, codes
		return m
	}
	cases := []struct {
		name    string
		m       *octavia.Monitor
		want    HealthCheck
		warning string
	}{
		{name: "no monitor: TCP with the defaults", m: nil, want: tcp(def.IntervalSeconds, def.TimeoutSeconds, def.HealthyThreshold, def.UnhealthyThreshold)},
		{name: "disabled monitor counts as none", m: func() *octavia.Monitor { m := mon("HTTP", 7, 3, 4, 4); m.AdminStateUp = false; return m }(),
			want: tcp(def.IntervalSeconds, def.TimeoutSeconds, def.HealthyThreshold, def.UnhealthyThreshold)},
		{name: "HTTP with path and codes", m: withHTTP(mon("HTTP", 5, 3, 3, 4), "GET", "/healthz", "200"), want: http("HTTP", "/healthz", "200", 5, 3, 3, 4)},
		{name: "HTTPS with Octavia's defaults for path and codes", m: withHTTP(mon("HTTPS", 10, 5, 2, 2), "", "", ""), want: http("HTTPS", "/", "200", 10, 5, 2, 2)},
		{name: "HTTP method other than GET", m: withHTTP(mon("HTTP", 10, 5, 2, 2), "HEAD", "/", "200"), want: http("HTTP", "/", "200", 10, 5, 2, 2),
			warning: "the monitor's HEAD is not mirrored"},
		{name: "HTTP path not a path", m: withHTTP(mon("HTTP", 10, 5, 2, 2), "GET", "healthz", "200"), want: http("HTTP", "/", "200", 10, 5, 2, 2),
			warning: `path "healthz"`},
		{name: "HTTP codes narrowed", m: withHTTP(mon("HTTP", 10, 5, 2, 2), "GET", "/", "100-299"), want: http("HTTP", "/", "200-299", 10, 5, 2, 2),
			warning: "narrowed to 200-299"},
		{name: "PING becomes TCP", m: mon("PING", 10, 5, 3, 3), want: tcp(10, 5, 3, 3)},
		{name: "TCP", m: mon("TCP", 10, 5, 3, 3), want: tcp(10, 5, 3, 3)},
		{name: "TLS-HELLO becomes TCP", m: mon("TLS-HELLO", 10, 5, 3, 3), want: tcp(10, 5, 3, 3)},
		{name: "UDP-CONNECT becomes TCP, with a warning", m: mon("UDP-CONNECT", 10, 5, 3, 3), want: tcp(10, 5, 3, 3), warning: "cannot health-check UDP"},
		{name: "unknown type becomes TCP, with a warning", m: mon("GOPHER", 10, 5, 3, 3), want: tcp(10, 5, 3, 3), warning: "GOPHER is unknown"},
		{name: "clamped up to the NLB minimums", m: mon("TCP", 1, 1, 1, 1), want: tcp(5, 2, 2, 2)},
		{name: "clamped down to the NLB maximums", m: mon("TCP", 1000, 500, 20, 20), want: tcp(300, 120, 10, 10)},
		{name: "timeout never above the interval", m: mon("TCP", 10, 20, 3, 3), want: tcp(10, 10, 3, 3)},
		{name: "Octavia's delay 5 timeout 5", m: mon("TCP", 5, 5, 3, 3), want: tcp(5, 5, 3, 3)},
		{name: "zero fields take the defaults", m: mon("TCP", 0, 0, 0, 0), want: tcp(def.IntervalSeconds, def.TimeoutSeconds, def.HealthyThreshold, def.UnhealthyThreshold)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, msgs := healthCheck(tc.m, DefaultHealthCheck)
			if got != tc.want {
				t.Errorf("health check = %s\nwant           %s", got, tc.want)
			}
			text := strings.Join(msgs, "\n")
			if tc.warning == "" && text != "" {
				t.Errorf("unexpected warnings: %s", text)
			}
			if tc.warning != "" {
				containsAll(t, "warnings", text, tc.warning)
			}
		})
	}
	t.Run("Options.HealthCheck replaces the defaults", func(t *testing.T) {
		opts := testOptions()
		opts.HealthCheck = HealthCheckDefaults{IntervalSeconds: 30, TimeoutSeconds: 10}
		got, _ := healthCheck(nil, opts.healthCheckDefaults())
		if want := tcp(30, 10, def.HealthyThreshold, def.UnhealthyThreshold); got != want {
			t.Errorf("health check = %s, want %s", got, want)
		}
	})
}

func TestHTTPMatcher(t *testing.T) {
	cases := []struct {
		in, want string
		warns    bool
	}{
		{"", "200", false},
		{"200", "200", false},
		{"200,202", "200,202", false},
		{"200, 202", "200,202", false},
		{"200-204", "200-204", false},
		{"200-200", "200", false},
		{"200-599", "200-599", false},
		{"100-299", "200-299", true},
		{"500-700", "500-599", true},
		{"101", "200", true},
		{"101,204", "204", true},
		{"abc", "200", true},
		{"300-200", "200", true},
		{"600-700", "200", true},
	}
	for _, tc := range cases {
		got, msg := httpMatcher(tc.in)
		if got != tc.want || (msg != "") != tc.warns {
			t.Errorf("httpMatcher(%q) = %q, %q; want %q, warning %v", tc.in, got, msg, tc.want, tc.warns)
		}
	}
}

func TestDesiredTargets(t *testing.T) {
	off := member("10.0.0.5", 8080)
	off.AdminStateUp = false
	drained := member("10.0.0.6", 8080)
	drained.Weight = 0
	backup := member("10.0.0.7", 8080)
	backup.Backup = true
	ms := []octavia.Member{
		member("10.0.0.10", 8080), member("10.0.0.9", 8080), member("10.0.0.9", 8080), // sorted numerically, deduplicated
		off, drained, backup,
		member("fd00::1", 8080),     // IPv6
		member("203.0.113.7", 8080), // public: not accepted by ELBv2 outside the VPC
		member("100.64.1.1", 8080),  // RFC 6598
		member("172.16.0.1", 0),     // bad port
	}
	got, msgs := targets(ms, DefaultTargetCIDRs)
	want := []Target{{"10.0.0.9", 8080}, {"10.0.0.10", 8080}, {"100.64.1.1", 8080}}
	if !slices.Equal(got, want) {
		t.Errorf("targets = %v, want %v", got, want)
	}
	containsAll(t, "warnings", strings.Join(msgs, "\n"),
		"1 backup member not registered", "10.0.0.7",
		"1 member not registered: not an IPv4 address", "fd00::1",
		"1 member not registered: outside 10.0.0.0/8", "203.0.113.7",
		"port outside 1–65535 (172.16.0.1 port 0)")
	if strings.Contains(strings.Join(msgs, "\n"), "10.0.0.5") || strings.Contains(strings.Join(msgs, "\n"), "10.0.0.6") {
		t.Errorf("disabled and weight-0 members are Octavia's own drain and need no warning: %v", msgs)
	}

	t.Run("Options.TargetCIDRs widen what is registered", func(t *testing.T) {
		got, _ := targets([]octavia.Member{member("192.0.2.1", 80)}, []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")})
		if !slices.Equal(got, []Target{{"192.0.2.1", 80}}) {
			t.Errorf("targets = %v", got)
		}
	})
	t.Run("an empty pool is an empty target list, not nil", func(t *testing.T) {
		s := testSnapshot(func(s *octavia.Snapshot) { pool(s, "p-web").Members = nil })
		m := mustDesired(t, s, testOptions())
		if tg := m.TargetGroups["p-web"]; tg.Targets == nil || len(tg.Targets) != 0 {
			t.Errorf("targets = %#v", tg.Targets)
		}
	})
}

func TestDesiredAttributes(t *testing.T) {
	for _, tc := range []struct {
		delay *int32
		want  string
	}{{nil, "30"}, {new(int32), "0"}, {func() *int32 { v := int32(120); return &v }(), "120"}} {
		opts := testOptions()
		opts.DeregistrationDelaySeconds = tc.delay
		m := mustDesired(t, testSnapshot(), opts)
		for _, tg := range m.TargetGroups {
			if got := tg.Attributes[AttrDeregistrationDelay]; got != tc.want {
				t.Errorf("deregistration delay = %s, want %s", got, tc.want)
			}
		}
	}
}

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?$`)

func TestNames(t *testing.T) {
	m := mustDesired(t, testSnapshot(), testOptions())
	again := mustDesired(t, testSnapshot(), testOptions())
	names := []string{m.LoadBalancer.Name}
	for _, key := range slices.Sorted(maps.Keys(m.TargetGroups)) {
		names = append(names, m.TargetGroups[key].Name)
		if again.TargetGroups[key].Name != m.TargetGroups[key].Name {
			t.Errorf("target group name of %s is not deterministic", key)
		}
	}
	if again.LoadBalancer.Name != m.LoadBalancer.Name {
		t.Error("load balancer name is not deterministic")
	}
	prefix := ResourceNamePrefix(testOwner)
	for _, n := range names {
		if len(n) > MaxNameLength || !nameRE.MatchString(n) || !strings.HasPrefix(n, prefix) || strings.HasPrefix(n, "internal-") {
			t.Errorf("name %q (%d chars) is not a valid ELBv2 name with prefix %s", n, len(n), prefix)
		}
	}

	// Every input that identifies a resource changes its name.
	base := TargetGroupName(testOwner, "lb", "pool", "TCP", "vpc-1")
	other := testOwner
	other.UID = "another-uid"
	otherMgr := testOwner
	otherMgr.Manager = "mgr-us1"
	variants := map[string]string{
		"uid":      TargetGroupName(other, "lb", "pool", "TCP", "vpc-1"),
		"manager":  TargetGroupName(otherMgr, "lb", "pool", "TCP", "vpc-1"),
		"lb":       TargetGroupName(testOwner, "lb2", "pool", "TCP", "vpc-1"),
		"pool":     TargetGroupName(testOwner, "lb", "pool2", "TCP", "vpc-1"),
		"protocol": TargetGroupName(testOwner, "lb", "pool", "UDP", "vpc-1"),
		"vpc":      TargetGroupName(testOwner, "lb", "pool", "TCP", "vpc-2"),
	}
	for what, n := range variants {
		if n == base {
			t.Errorf("changing the %s keeps the target group name %s", what, n)
		}
	}
	lb := LoadBalancerName(testOwner, "internet-facing", "vpc-1")
	for what, n := range map[string]string{
		"scheme": LoadBalancerName(testOwner, "internal", "vpc-1"),
		"vpc":    LoadBalancerName(testOwner, "internet-facing", "vpc-2"),
		"uid":    LoadBalancerName(other, "internet-facing", "vpc-1"),
	} {
		if n == lb {
			t.Errorf("changing the %s keeps the load balancer name %s", what, n)
		}
	}
	if strings.HasPrefix(ResourceNamePrefix(other), prefix) {
		t.Error("two Prods share a name prefix")
	}
}

func TestDesiredTags(t *testing.T) {
	m := mustDesired(t, testSnapshot(), testOptions())
	wantLB := map[string]string{
		"drover.dev/managed-by": "drover",
		"drover.dev/owner":      "mgr-eu1",
		"drover.dev/prod":       "shop/shop-a",
		"drover.dev/prod-uid":   testOwner.UID,
		"drover.dev/octavia-lb": "lb-1",
	}
	if !maps.Equal(m.LoadBalancer.Tags, wantLB) {
		t.Errorf("load balancer tags = %v, want %v", m.LoadBalancer.Tags, wantLB)
	}
	for key, tg := range m.TargetGroups {
		want := maps.Clone(wantLB)
		want["drover.dev/octavia-pool"] = key
		if !maps.Equal(tg.Tags, want) {
			t.Errorf("target group %s tags = %v, want %v", key, tg.Tags, want)
		}
		if !testOwner.Owns(tg.Tags) {
			t.Errorf("the owner does not own its target group %s", key)
		}
	}
	for _, l := range m.Listeners {
		if !testOwner.Owns(l.Tags) {
			t.Errorf("listener %d is not tagged: %v", l.Port, l.Tags)
		}
	}

	t.Run("ownership needs managed-by, owner and UID", func(t *testing.T) {
		for what, edit := range map[string]func(map[string]string){
			"another installation": func(m map[string]string) { m[TagOwner] = "mgr-us1" },
			"another Prod":         func(m map[string]string) { m[TagProdUID] = "x" },
			"not managed":          func(m map[string]string) { delete(m, TagManagedBy) },
		} {
			tags := maps.Clone(wantLB)
			edit(tags)
			if testOwner.Owns(tags) {
				t.Errorf("%s: owned", what)
			}
		}
		if testOwner.Owns(nil) || (Owner{}).Owns(map[string]string{TagManagedBy: "drover", TagOwner: "", TagProdUID: ""}) {
			t.Error("empty tags or an empty owner own something")
		}
	})
	t.Run("a long Prod name is cut to AWS's 256 characters", func(t *testing.T) {
		o := testOwner
		o.Name = strings.Repeat("a", 253)
		if got := o.Tags()[TagProd]; len(got) != 256 {
			t.Errorf("prod tag is %d characters", len(got))
		}
	})
	t.Run("a manager identity AWS cannot store is refused", func(t *testing.T) {
		o := testOwner
		o.Manager = "mgr#1"
		if o.Validate() == nil {
			t.Error("want an error")
		}
	})
}
