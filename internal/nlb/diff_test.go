package nlb

import (
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/octavia"
)

func TestDiffSteadyStateIsEmpty(t *testing.T) {
	m := mustDesired(t, testSnapshot(), testOptions())
	p := Diff(m, steady(m), Guard{})
	if !p.Empty() || p.Blocked || len(p.Notes) > 0 {
		t.Fatalf("plan = %s (notes %v), want in sync", p.Summary(), p.Notes)
	}
	if p.Summary() != "in sync" {
		t.Errorf("summary = %q", p.Summary())
	}
	if p.LoadBalancer.ARN != lbARN(m.LoadBalancer.Name) || p.LoadBalancer.DNSName == "" {
		t.Errorf("plan load balancer = %+v", p.LoadBalancer)
	}
}

func TestDiffFromNothing(t *testing.T) {
	m := mustDesired(t, testSnapshot(), testOptions())
	for _, obs := range []*Observed{nil, {}} {
		p := Diff(m, obs, Guard{})
		c := p.Counts()
		want := Counts{CreateLoadBalancers: 1, CreateTargetGroups: 2, RegisterTargets: 8, CreateListeners: 2}
		if c != want || p.Blocked {
			t.Fatalf("counts = %+v, want %+v (blocked %v)", c, want, p.Blocked)
		}
		if p.CreateLoadBalancer.Name != m.LoadBalancer.Name {
			t.Errorf("creates %s", p.CreateLoadBalancer.Name)
		}
		for _, r := range p.RegisterTargets {
			for _, tg := range r.Targets {
				if tg.AvailabilityZone != AvailabilityZoneAll {
					t.Errorf("target %s registered in zone %q, want all", tg, tg.AvailabilityZone)
				}
			}
		}
		if c.Creates() != 5 || c.Registers() != 8 {
			t.Errorf("Creates() = %d, Registers() = %d", c.Creates(), c.Registers())
		}
	}
}

// diffCase edits the snapshot (the desired side) and/or the observed side, then checks
// the plan.
type diffCase struct {
	name     string
	snap     func(*octavia.Snapshot)
	opts     func(*Options)
	observed func(t *testing.T, o *Observed)
	guard    Guard
	want     Counts
	blocked  []string // substrings of the block reasons; nil = not blocked
	check    func(t *testing.T, m Model, p Plan)
}

func runDiffCases(t *testing.T, cases []diffCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m0 := mustDesired(t, testSnapshot(), testOptions())
			obs := steady(m0)
			if tc.observed != nil {
				tc.observed(t, obs)
			}
			opts := testOptions()
			if tc.opts != nil {
				tc.opts(&opts)
			}
			var edits []func(*octavia.Snapshot)
			if tc.snap != nil {
				edits = append(edits, tc.snap)
			}
			m := mustDesired(t, testSnapshot(edits...), opts)
			p := Diff(m, obs, tc.guard)
			if got := p.Counts(); got != tc.want {
				t.Errorf("counts = %+v\nwant     %+v\nsummary: %s", got, tc.want, p.Summary())
			}
			if p.Blocked != (tc.blocked != nil) {
				t.Errorf("blocked = %v, want %v: %s", p.Blocked, tc.blocked != nil, p.Summary())
			}
			containsAll(t, "block reasons", strings.Join(p.BlockedReasons, "\n"), tc.blocked...)
			if p.GuardOverridden != (tc.name == overriddenCase) {
				t.Errorf("GuardOverridden = %v", p.GuardOverridden)
			}
			if tc.check != nil {
				tc.check(t, m, p)
			}
		})
	}
}

const overriddenCase = "the operator allows a mass removal: not blocked, noted"

func TestDiffMembers(t *testing.T) {
	runDiffCases(t, []diffCase{
		{
			name: "a member added in Octavia is registered",
			snap: func(s *octavia.Snapshot) {
				pool(s, "p-web").Members = append(pool(s, "p-web").Members, member("10.0.0.5", 8080))
			},
			want: Counts{RegisterTargets: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				r := p.RegisterTargets[0]
				if r.TargetGroup.ARN != tgARN("p-web") || !slices.Equal(r.Targets, []PlacedTarget{{Target{"10.0.0.5", 8080}, "all"}}) {
					t.Errorf("register = %+v", r)
				}
			},
		},
		{
			name: "a member removed in Octavia is deregistered (1 of 4 is within the limit)",
			snap: func(s *octavia.Snapshot) { pool(s, "p-web").Members = pool(s, "p-web").Members[1:] },
			want: Counts{DeregisterTargets: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				d := p.DeregisterTargets[0]
				if d.TargetGroup.ARN != tgARN("p-web") || !slices.Equal(d.Targets, []PlacedTarget{{Target{"10.0.0.1", 8080}, "all"}}) {
					t.Errorf("deregister = %+v", d)
				}
			},
		},
		{
			name: "half the members removed: exactly the limit is allowed",
			snap: func(s *octavia.Snapshot) { pool(s, "p-web").Members = pool(s, "p-web").Members[2:] },
			want: Counts{DeregisterTargets: 2},
		},
		{
			name:    "three of four members removed: blocked, naming the target group, the counts and the limit",
			snap:    func(s *octavia.Snapshot) { pool(s, "p-web").Members = pool(s, "p-web").Members[3:] },
			want:    Counts{DeregisterTargets: 3},
			blocked: []string{"Octavia pool p-web", "would deregister 3 of its 4 targets (75%)", "more than the 50% allowed"},
			check: func(t *testing.T, _ Model, p Plan) {
				containsAll(t, "summary", p.Summary(), "blocked: ", "held: deregister 3 targets")
			},
		},
		{
			name:    "an empty member list while AWS has targets is a 100% removal: blocked",
			snap:    func(s *octavia.Snapshot) { pool(s, "p-web").Members = nil },
			want:    Counts{DeregisterTargets: 4},
			blocked: []string{"would deregister 4 of its 4 targets (100%)"},
		},
		{
			name:  overriddenCase,
			snap:  func(s *octavia.Snapshot) { pool(s, "p-web").Members = nil },
			guard: Guard{AllowMassRemoval: true},
			want:  Counts{DeregisterTargets: 4},
			check: func(t *testing.T, _ Model, p Plan) {
				containsAll(t, "notes", strings.Join(p.Notes, "\n"), "allowed by the operator: target group", "4 of its 4")
			},
		},
		{
			name:  "maxTargetRemovalPercent 100 never blocks",
			snap:  func(s *octavia.Snapshot) { pool(s, "p-web").Members = nil },
			guard: Guard{MaxTargetRemovalPercent: 100},
			want:  Counts{DeregisterTargets: 4},
		},
		{
			name:    "a stricter limit blocks a smaller removal",
			snap:    func(s *octavia.Snapshot) { pool(s, "p-web").Members = pool(s, "p-web").Members[1:] },
			guard:   Guard{MaxTargetRemovalPercent: 20},
			want:    Counts{DeregisterTargets: 1},
			blocked: []string{"1 of its 4 targets (25%), more than the 20% allowed"},
		},
		{
			name: "replacing every member at once is a 100% removal: blocked (additions are held too)",
			snap: func(s *octavia.Snapshot) {
				pool(s, "p-web").Members = members(8080, "10.0.1.1", "10.0.1.2", "10.0.1.3", "10.0.1.4")
			},
			want:    Counts{RegisterTargets: 4, DeregisterTargets: 4},
			blocked: []string{"4 of its 4"},
		},
		{
			name: "a member's port changed is a new target and a removed one",
			snap: func(s *octavia.Snapshot) { pool(s, "p-web").Members[0].Port = 9090 },
			want: Counts{RegisterTargets: 1, DeregisterTargets: 1},
		},
	})
}

func TestDiffDrift(t *testing.T) {
	runDiffCases(t, []diffCase{
		{
			name: "a target deregistered by hand is registered again",
			observed: func(t *testing.T, o *Observed) {
				tg := o.tgByPool(t, "p-tls")
				tg.Targets = tg.Targets[1:]
			},
			want: Counts{RegisterTargets: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				if got := p.RegisterTargets[0].Targets[0].Target; got != (Target{"10.0.0.1", 8443}) {
					t.Errorf("registers %v", got)
				}
			},
		},
		{
			name: "a target registered by hand is deregistered",
			observed: func(t *testing.T, o *Observed) {
				tg := o.tgByPool(t, "p-tls")
				tg.Targets = append(tg.Targets, ObservedTarget{Target: Target{"10.0.0.99", 8443}, AvailabilityZone: "all"})
			},
			want: Counts{DeregisterTargets: 1},
		},
		{
			name: "a health check edited by hand is set back",
			observed: func(t *testing.T, o *Observed) {
				hc := &o.tgByPool(t, "p-web").HealthCheck
				hc.IntervalSeconds, hc.Path = 30, "/"
			},
			want: Counts{ModifyTargetGroups: 1},
			check: func(t *testing.T, m Model, p Plan) {
				mod := p.ModifyTargetGroups[0]
				if mod.HealthCheck == nil || *mod.HealthCheck != m.TargetGroups["p-web"].HealthCheck || mod.Attributes != nil {
					t.Errorf("modification = %+v", mod)
				}
				containsAll(t, "changes", strings.Join(mod.Changes, ";"), "health check interval 30 → 5", "health check path / → /healthz")
			},
		},
		{
			name: "the path and matcher of a TCP health check are not compared",
			observed: func(t *testing.T, o *Observed) {
				hc := &o.tgByPool(t, "p-tls").HealthCheck
				hc.Path, hc.Matcher, hc.Port = "/x", "200-399", ""
			},
			want: Counts{},
		},
		{
			name: "an attribute edited by hand is set back",
			observed: func(t *testing.T, o *Observed) {
				o.tgByPool(t, "p-web").Attributes[AttrDeregistrationDelay] = "300"
			},
			want: Counts{ModifyTargetGroups: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				mod := p.ModifyTargetGroups[0]
				if mod.HealthCheck != nil || len(mod.Attributes) != 1 || mod.Attributes[AttrDeregistrationDelay] != "30" {
					t.Errorf("modification = %+v", mod)
				}
			},
		},
		{
			name: "attributes AWS does not list count as their defaults",
			observed: func(t *testing.T, o *Observed) {
				tg := o.tgByPool(t, "p-web")
				delete(tg.Attributes, AttrProxyProtocolV2)
				delete(tg.Attributes, AttrPreserveClientIP)
			},
			want: Counts{},
		},
		{
			name: "a draining target is not registered: it is registered again",
			observed: func(t *testing.T, o *Observed) {
				// Observe leaves draining targets out; the pure side sees them missing.
				tg := o.tgByPool(t, "p-web")
				tg.Targets = tg.Targets[:3]
			},
			want: Counts{RegisterTargets: 1},
		},
		{
			name: "a listener moved to another port by hand is put back",
			observed: func(t *testing.T, o *Observed) {
				l := &o.LoadBalancers[0].Listeners[0]
				l.Port, l.ARN = 8080, "arn:listener/8080"
			},
			want: Counts{CreateListeners: 1, DeleteListeners: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				if p.CreateListeners[0].Port != 80 || p.DeleteListeners[0].Port != 8080 {
					t.Errorf("creates %d, deletes %d", p.CreateListeners[0].Port, p.DeleteListeners[0].Port)
				}
			},
		},
		{
			name: "a listener switched to another target group or protocol by hand is modified back",
			observed: func(t *testing.T, o *Observed) {
				o.LoadBalancers[0].Listeners[0].TargetGroupARN = tgARN("p-tls")
				o.LoadBalancers[0].Listeners[1].Protocol = types.ProtocolEnumTls
			},
			want: Counts{ModifyListeners: 2},
			check: func(t *testing.T, _ Model, p Plan) {
				for _, mod := range p.ModifyListeners {
					if mod.ARN != listenerARN(mod.Port) || mod.Listener.Port != mod.Port {
						t.Errorf("modification = %+v", mod)
					}
				}
				containsAll(t, "changes", strings.Join(append(p.ModifyListeners[0].Changes, p.ModifyListeners[1].Changes...), ";"),
					"forward to target group", "protocol TLS → TCP")
			},
		},
		{
			name: "a target group whose tags were removed is invisible: it is created again",
			observed: func(t *testing.T, o *Observed) {
				// Observe filters by tag; what it drops never reaches Diff.
				o.TargetGroups = slices.DeleteFunc(o.TargetGroups, func(tg ObservedTargetGroup) bool { return tg.PoolID() == "p-web" })
			},
			want: Counts{CreateTargetGroups: 1, RegisterTargets: 4, ModifyListeners: 1},
		},
	})
}

func TestDiffStructure(t *testing.T) {
	runDiffCases(t, []diffCase{
		{
			name: "a listener added in Octavia",
			snap: func(s *octavia.Snapshot) {
				s.Listeners = append(s.Listeners, octavia.Listener{ID: "l-53", Protocol: "UDP", Port: 53, DefaultPoolID: "p-dns", AdminStateUp: true})
				s.Pools = append(s.Pools, octavia.Pool{ID: "p-dns", Protocol: "UDP", AdminStateUp: true, Members: members(53, "10.0.2.1", "10.0.2.2")})
			},
			want: Counts{CreateTargetGroups: 1, RegisterTargets: 2, CreateListeners: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				if p.RegisterTargets[0].TargetGroup.ARN != "" || p.RegisterTargets[0].TargetGroup.PoolID != "p-dns" {
					t.Errorf("registration into the new target group = %+v", p.RegisterTargets[0].TargetGroup)
				}
				if l := p.CreateListeners[0]; l.Port != 53 || l.Protocol != types.ProtocolEnumUdp || l.TargetGroup != "p-dns" {
					t.Errorf("listener = %+v", l)
				}
			},
		},
		{
			name: "a listener removed in Octavia: its listener and target group go (half the targets is within the limit)",
			snap: func(s *octavia.Snapshot) { s.Listeners = s.Listeners[:1] },
			want: Counts{DeleteListeners: 1, DeleteTargetGroups: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				if p.DeleteListeners[0].Port != 443 || p.DeleteTargetGroups[0].ARN != tgARN("p-tls") {
					t.Errorf("deletes %+v and %+v", p.DeleteListeners, p.DeleteTargetGroups)
				}
			},
		},
		{
			name:    "every listener gone from Octavia: the NLB would lose every target: blocked",
			snap:    func(s *octavia.Snapshot) { s.Listeners = nil },
			want:    Counts{DeleteListeners: 2, DeleteTargetGroups: 2},
			blocked: []string{"the NLB would go from 8 registered targets to 0 (100% fewer)"},
		},
		{
			name: "a pool replaced by one with the same members: new target group, listener switched, old one deleted; no loss, not blocked",
			snap: func(s *octavia.Snapshot) {
				pool(s, "p-web").ID = "p-web2"
				s.Listeners[0].DefaultPoolID = "p-web2"
			},
			want: Counts{CreateTargetGroups: 1, RegisterTargets: 4, ModifyListeners: 1, DeleteTargetGroups: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				if p.CreateTargetGroups[0].PoolID != "p-web2" || p.DeleteTargetGroups[0].ARN != tgARN("p-web") {
					t.Errorf("creates %s, deletes %s", p.CreateTargetGroups[0].PoolID, p.DeleteTargetGroups[0])
				}
				if mod := p.ModifyListeners[0]; mod.Port != 80 || mod.Listener.TargetGroup != "p-web2" {
					t.Errorf("listener modification = %+v", mod)
				}
			},
		},
		{
			name: "a target group whose protocol cannot serve the pool is replaced",
			observed: func(t *testing.T, o *Observed) {
				o.tgByPool(t, "p-web").Protocol = types.ProtocolEnumUdp
			},
			want: Counts{CreateTargetGroups: 1, RegisterTargets: 4, ModifyListeners: 1, DeleteTargetGroups: 1},
		},
		{
			name: "an extra owned target group of the same pool (a replacement cut short) is deleted",
			observed: func(t *testing.T, o *Observed) {
				extra := *o.tgByPool(t, "p-web")
				extra.ARN, extra.Name, extra.LoadBalancerARNs = "arn:tg/p-web-old", "drv-old", nil
				o.TargetGroups = append(o.TargetGroups, extra)
			},
			want: Counts{DeleteTargetGroups: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				if p.DeleteTargetGroups[0].ARN != "arn:tg/p-web-old" || p.TargetGroupARNs["p-web"] != tgARN("p-web") {
					t.Errorf("deletes %v, keeps %v", p.DeleteTargetGroups, p.TargetGroupARNs)
				}
			},
		},
		{
			name: "an owned target group attached to a load balancer drover does not own is left alone",
			observed: func(t *testing.T, o *Observed) {
				extra := *o.tgByPool(t, "p-web")
				extra.ARN, extra.Name, extra.LoadBalancerARNs = "arn:tg/borrowed", "drv-borrowed", []string{"arn:lb/someone-else"}
				extra.Tags = map[string]string{TagManagedBy: "drover", TagOwner: testOwner.Manager, TagProdUID: testOwner.UID, TagOctaviaPool: "p-gone"}
				o.TargetGroups = append(o.TargetGroups, extra)
			},
			want: Counts{},
			check: func(t *testing.T, _ Model, p Plan) {
				containsAll(t, "notes", strings.Join(p.Notes, "\n"), "drv-borrowed", "which drover does not own")
			},
		},
		{
			name: "the TLS certificate changed in the options: the listener is modified",
			snap: func(s *octavia.Snapshot) {
				s.Listeners = append(s.Listeners, octavia.Listener{ID: "l-8443", Protocol: "TERMINATED_HTTPS", Port: 8443, DefaultPoolID: "p-web", AdminStateUp: true})
			},
			opts: func(o *Options) { o.TLS.CertificateARN = "arn:cert/new" },
			observed: func(t *testing.T, o *Observed) {
				o.LoadBalancers[0].Listeners = append(o.LoadBalancers[0].Listeners, ObservedListener{ARN: "arn:listener/8443", LoadBalancerARN: o.LoadBalancers[0].ARN,
					Port: 8443, Protocol: types.ProtocolEnumTls, TargetGroupARN: tgARN("p-web"), CertificateARN: "arn:cert/old"})
			},
			want: Counts{ModifyListeners: 1},
			check: func(t *testing.T, _ Model, p Plan) {
				containsAll(t, "changes", strings.Join(p.ModifyListeners[0].Changes, ";"), "certificate arn:cert/old → arn:cert/new")
			},
		},
		{
			name: "different subnets are noted, not acted on",
			observed: func(t *testing.T, o *Observed) {
				o.LoadBalancers[0].Subnets = []string{"subnet-a"}
			},
			want: Counts{},
			check: func(t *testing.T, _ Model, p Plan) {
				containsAll(t, "notes", strings.Join(p.Notes, "\n"), "subnets subnet-a, not subnet-a,subnet-b")
			},
		},
	})
}

func TestDiffReplaceLoadBalancer(t *testing.T) {
	old := mustDesired(t, testSnapshot(), testOptions())
	obs := steady(old)
	internal := testOptions()
	internal.Network.Scheme = types.LoadBalancerSchemeEnumInternal
	m := mustDesired(t, testSnapshot(), internal)
	if m.LoadBalancer.Name == old.LoadBalancer.Name || m.TargetGroups["p-web"].Name == old.TargetGroups["p-web"].Name {
		t.Fatal("a replacement must get new names")
	}

	// Phase 1: the new load balancer with new target groups; the old one keeps serving.
	p := Diff(m, obs, Guard{})
	want := Counts{CreateLoadBalancers: 1, CreateTargetGroups: 2, RegisterTargets: 8, CreateListeners: 2}
	if got := p.Counts(); got != want || p.Blocked {
		t.Fatalf("phase 1 = %+v (%s), want %+v", got, p.Summary(), want)
	}
	containsAll(t, "notes", strings.Join(p.Notes, "\n"), old.LoadBalancer.Name+" is kept", "until its replacement "+m.LoadBalancer.Name+" is active")

	// Phase 2: the new one exists, still provisioning: nothing to do but wait.
	next := steady(m)
	for i := range next.LoadBalancers {
		next.LoadBalancers[i].State = types.LoadBalancerStateEnumProvisioning
	}
	both := &Observed{
		LoadBalancers: append(slices.Clone(obs.LoadBalancers), next.LoadBalancers...),
		TargetGroups:  append(slices.Clone(obs.TargetGroups), next.TargetGroups...),
	}
	// steady() names ARNs by pool; give the new target groups ARNs of their own.
	for i := len(obs.TargetGroups); i < len(both.TargetGroups); i++ {
		both.TargetGroups[i].ARN += "-new"
	}
	for i := range both.LoadBalancers[1].Listeners {
		both.LoadBalancers[1].Listeners[i].TargetGroupARN += "-new"
		both.LoadBalancers[1].Listeners[i].ARN += "-new"
	}
	p = Diff(m, both, Guard{})
	if !p.Empty() {
		t.Fatalf("phase 2 (provisioning) = %s, want nothing", p.Summary())
	}

	// Phase 3: active: the old listeners, load balancer and target groups go.
	both.LoadBalancers[1].State = types.LoadBalancerStateEnumActive
	p = Diff(m, both, Guard{})
	want = Counts{DeleteListeners: 2, DeleteLoadBalancers: 1, DeleteTargetGroups: 2}
	if got := p.Counts(); got != want || p.Blocked {
		t.Fatalf("phase 3 = %+v (%s), want %+v", got, p.Summary(), want)
	}
	if p.DeleteLoadBalancers[0].Name != old.LoadBalancer.Name || p.LoadBalancer.Name != m.LoadBalancer.Name {
		t.Errorf("deletes %s, keeps %s", p.DeleteLoadBalancers[0].Name, p.LoadBalancer.Name)
	}
	for _, l := range p.DeleteListeners {
		if l.LoadBalancerARN != lbARN(old.LoadBalancer.Name) {
			t.Errorf("deletes listener %+v of the new load balancer", l)
		}
	}
}

func TestDeletePlan(t *testing.T) {
	m := mustDesired(t, testSnapshot(), testOptions())
	p := DeletePlan(steady(m))
	want := Counts{DeleteListeners: 2, DeleteLoadBalancers: 1, DeleteTargetGroups: 2}
	if got := p.Counts(); got != want || p.Blocked {
		t.Fatalf("counts = %+v, want %+v", got, want)
	}
	if p := DeletePlan(nil); !p.Empty() {
		t.Errorf("nothing observed: %s", p.Summary())
	}
	if p := DeletePlan(&Observed{}); !p.Empty() {
		t.Errorf("nothing observed: %s", p.Summary())
	}
}

func TestPlanSummary(t *testing.T) {
	c := Counts{CreateTargetGroups: 1, RegisterTargets: 3, ModifyListeners: 1, DeregisterTargets: 1, DeleteTargetGroups: 2}
	if got, want := c.String(), "create 1 target group, register 3 targets, modify 1 listener, deregister 1 target, delete 2 target groups"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got, want := c.PastTense(), "created 1 target group, registered 3 targets, modified 1 listener, deregistered 1 target, deleted 2 target groups"; got != want {
		t.Errorf("PastTense() = %q, want %q", got, want)
	}
	if c.Creates() != 1 || c.Modifies() != 1 || c.Deletes() != 2 || c.Registers() != 3 || c.Deregisters() != 1 {
		t.Errorf("totals of %+v", c)
	}
	if (Counts{}).String() != "nothing" {
		t.Error("empty counts")
	}
}
