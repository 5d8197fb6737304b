package deploy

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/test/nlbtest"
)

// syncOnce runs one mirror sync against the fake: Desired, Observe, Diff, Apply. It
// resets the fake's call log first, so f.Calls holds this sync's calls.
func syncOnce(t *testing.T, f *nlbtest.ELB, snap *octavia.Snapshot, opts nlb.Options, guard nlb.Guard) (nlb.Plan, Result, error) {
	t.Helper()
	m := mustDesired(t, snap, opts)
	f.Calls = nil
	obs, err := Observe(context.Background(), f, opts.Owner)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	p := nlb.Diff(m, obs, guard)
	res, err := Apply(context.Background(), f, p)
	return p, res, err
}

// assertInSync checks a fresh Observe of the fake gives an empty plan.
func assertInSync(t *testing.T, f *nlbtest.ELB, snap *octavia.Snapshot, opts nlb.Options) *nlb.Observed {
	t.Helper()
	obs, err := Observe(context.Background(), f, opts.Owner)
	if err != nil {
		t.Fatalf("Observe: %v", err)
	}
	if p := nlb.Diff(mustDesired(t, snap, opts), obs, nlb.Guard{}); !p.Empty() || p.Blocked {
		t.Fatalf("after apply the plan is %s, want in sync", p.Summary())
	}
	return obs
}

func TestApplyCreatesInDependencyOrderAndConverges(t *testing.T) {
	f := nlbtest.NewELB()
	opts := testOptions()
	snap := testSnapshot()
	p, res, err := syncOnce(t, f, snap, opts, nlb.Guard{})
	if err != nil {
		t.Fatalf("Apply: %v", err)
	}
	if res.Done != p.Counts() {
		t.Errorf("done %+v, planned %+v", res.Done, p.Counts())
	}
	if !strings.Contains(res.LoadBalancer.ARN, "loadbalancer/net/"+p.CreateLoadBalancer.Name) || res.LoadBalancer.DNSName == "" || res.LoadBalancer.CanonicalHostedZoneID == "" {
		t.Errorf("result load balancer = %+v", res.LoadBalancer)
	}
	ops := f.Ops()
	assertBefore(t, ops, "CreateLoadBalancer", "CreateTargetGroup")
	assertBefore(t, ops, "CreateTargetGroup", "RegisterTargets")
	assertBefore(t, ops, "RegisterTargets", "CreateListener")

	obs := assertInSync(t, f, snap, opts)
	if len(obs.LoadBalancers) != 1 || len(obs.TargetGroups) != 2 {
		t.Fatalf("observed %d load balancers, %d target groups", len(obs.LoadBalancers), len(obs.TargetGroups))
	}
	for _, tg := range obs.TargetGroups {
		if len(tg.Targets) != 4 || tg.Attributes[nlb.AttrDeregistrationDelay] != "30" || !slices.Equal(tg.LoadBalancerARNs, []string{res.LoadBalancer.ARN}) {
			t.Errorf("target group %s: %d targets, attributes %v, attached to %v", tg.Name, len(tg.Targets), tg.Attributes, tg.LoadBalancerARNs)
		}
		for _, tgt := range tg.Targets {
			if tgt.AvailabilityZone != nlb.AvailabilityZoneAll {
				t.Errorf("target %s in zone %q", tgt.Target, tgt.AvailabilityZone)
			}
		}
	}

	// A second sync writes nothing.
	if _, _, err := syncOnce(t, f, snap, opts, nlb.Guard{}); err != nil {
		t.Fatal(err)
	}
	if w := f.Writes(); len(w) > 0 {
		t.Errorf("a sync in steady state wrote %v", w)
	}
}

func TestApplyReplacesAPoolWithoutAGap(t *testing.T) {
	f := nlbtest.NewELB()
	opts := testOptions()
	if _, _, err := syncOnce(t, f, testSnapshot(), opts, nlb.Guard{}); err != nil {
		t.Fatal(err)
	}
	// The pool behind :80 is replaced by a new one, with one member fewer; :443 loses a member.
	snap := testSnapshot(func(s *octavia.Snapshot) {
		p := pool(s, "p-web")
		p.ID, p.Members = "p-web2", p.Members[:3]
		s.Listeners[0].DefaultPoolID = "p-web2"
		pool(s, "p-tls").Members = pool(s, "p-tls").Members[1:]
	})
	p, res, err := syncOnce(t, f, snap, opts, nlb.Guard{})
	if err != nil {
		t.Fatalf("Apply: %v (%s)", err, p.Summary())
	}
	want := nlb.Counts{CreateTargetGroups: 1, RegisterTargets: 3, ModifyListeners: 1, DeregisterTargets: 1, DeleteTargetGroups: 1}
	if res.Done != want {
		t.Errorf("done %+v, want %+v", res.Done, want)
	}
	// The contract: new targets are in before the listener switches, and the old target
	// group and the removed targets go only after it.
	ops := f.Ops()
	assertBefore(t, ops, "CreateTargetGroup", "RegisterTargets")
	assertBefore(t, ops, "RegisterTargets", "ModifyListener")
	assertBefore(t, ops, "ModifyListener", "DeregisterTargets")
	assertBefore(t, ops, "ModifyListener", "DeleteTargetGroup")
	assertInSync(t, f, snap, opts)
}

func TestApplyStopsAtTheFirstErrorAndTheNextSyncFinishes(t *testing.T) {
	f := nlbtest.NewELB()
	opts := testOptions()
	snap := testSnapshot()
	boom := errors.New("Throttling: rate exceeded")
	f.Fail["CreateListener"] = boom

	_, res, err := syncOnce(t, f, snap, opts, nlb.Guard{})
	if !errors.Is(err, boom) {
		t.Fatalf("Apply error = %v, want the CreateListener failure", err)
	}
	containsAll(t, "error", err.Error(), "create listener TCP:")
	if res.LoadBalancer.ARN == "" || res.LoadBalancer.DNSName == "" {
		t.Errorf("the load balancer exists; the result must say so: %+v", res.LoadBalancer)
	}
	if want := (nlb.Counts{CreateLoadBalancers: 1, CreateTargetGroups: 2, RegisterTargets: 8}); res.Done != want {
		t.Errorf("done %+v, want %+v", res.Done, want)
	}
	if last := f.Calls[len(f.Calls)-1]; !strings.HasPrefix(last, "CreateListener ") {
		t.Errorf("Apply went on after the failure: last call %q", last)
	}

	// The next sync plans only what is left: no second load balancer or target group.
	p, res, err := syncOnce(t, f, snap, opts, nlb.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (nlb.Counts{CreateListeners: 2}); p.Counts() != want || res.Done != want {
		t.Errorf("resumed plan %+v, done %+v, want %+v", p.Counts(), res.Done, want)
	}
	assertInSync(t, f, snap, opts)
	if len(f.LBs) != 1 || len(f.TGs) != 2 {
		t.Errorf("fake holds %d load balancers and %d target groups, want 1 and 2", len(f.LBs), len(f.TGs))
	}
}

func TestApplyAttributesFailureIsRepairedNextSync(t *testing.T) {
	f := nlbtest.NewELB()
	opts := testOptions()
	snap := testSnapshot()
	f.Fail["ModifyTargetGroupAttributes"] = errors.New("InternalFailure")
	_, res, err := syncOnce(t, f, snap, opts, nlb.Guard{})
	if err == nil || res.Done.CreateTargetGroups != 1 || res.Done.RegisterTargets != 0 {
		t.Fatalf("err %v, done %+v: want a stop right after the first target group", err, res.Done)
	}
	p, _, err := syncOnce(t, f, snap, opts, nlb.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Counts().ModifyTargetGroups != 1 || p.Counts().CreateTargetGroups != 1 {
		t.Errorf("resumed plan %s: want the first target group's attributes set and the second created", p.Summary())
	}
	assertInSync(t, f, snap, opts)
}

func TestApplyRefusesABlockedPlan(t *testing.T) {
	f := nlbtest.NewELB()
	opts := testOptions()
	if _, _, err := syncOnce(t, f, testSnapshot(), opts, nlb.Guard{}); err != nil {
		t.Fatal(err)
	}
	// Octavia says the web pool is empty and adds a member to the other one.
	snap := testSnapshot(func(s *octavia.Snapshot) {
		pool(s, "p-web").Members = nil
		pool(s, "p-tls").Members = append(pool(s, "p-tls").Members, member("10.0.0.5", 8443))
	})
	p, res, err := syncOnce(t, f, snap, opts, nlb.Guard{})
	if !errors.Is(err, ErrBlocked) || !p.Blocked {
		t.Fatalf("err = %v, blocked = %v; want ErrBlocked", err, p.Blocked)
	}
	containsAll(t, "error", err.Error(), "4 of its 4 targets")
	if w := f.Writes(); len(w) > 0 {
		t.Errorf("a blocked plan wrote %v (additions are held too)", w)
	}
	if !res.Done.IsZero() || res.LoadBalancer.ARN == "" {
		t.Errorf("result %+v", res)
	}

	// With the operator's say-so it runs.
	if _, res, err := syncOnce(t, f, snap, opts, nlb.Guard{AllowMassRemoval: true}); err != nil || res.Done.DeregisterTargets != 4 || res.Done.RegisterTargets != 1 {
		t.Fatalf("allowed: err %v, done %+v", err, res.Done)
	}
	assertInSync(t, f, snap, opts)
}

func TestApplyReplacesTheLoadBalancerOnceTheNewOneIsActive(t *testing.T) {
	f := nlbtest.NewELB()
	opts := testOptions()
	snap := testSnapshot()
	if _, _, err := syncOnce(t, f, snap, opts, nlb.Guard{}); err != nil {
		t.Fatal(err)
	}
	oldARN := aws.ToString(f.LBs[0].LoadBalancerArn)

	internal := testOptions()
	internal.Network.Scheme = types.LoadBalancerSchemeEnumInternal
	f.NewLBState = types.LoadBalancerStateEnumProvisioning
	_, res, err := syncOnce(t, f, snap, internal, nlb.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	if res.LoadBalancer.ARN == oldARN || res.Done.CreateListeners != 2 || res.Done.Deletes() != 0 {
		t.Fatalf("phase 1: %+v, done %s", res.LoadBalancer, res)
	}
	if _, _, err := syncOnce(t, f, snap, internal, nlb.Guard{}); err != nil || len(f.Writes()) > 0 {
		t.Fatalf("while the new one provisions: err %v, writes %v", err, f.Writes())
	}

	f.LBs[1].State.Code = types.LoadBalancerStateEnumActive
	_, res, err = syncOnce(t, f, snap, internal, nlb.Guard{})
	if err != nil {
		t.Fatal(err)
	}
	if want := (nlb.Counts{DeleteListeners: 2, DeleteLoadBalancers: 1, DeleteTargetGroups: 2}); res.Done != want {
		t.Errorf("phase 3 done %+v, want %+v", res.Done, want)
	}
	ops := f.Ops()
	assertBefore(t, ops, "DeleteListener", "DeleteLoadBalancer")
	assertBefore(t, ops, "DeleteLoadBalancer", "DeleteTargetGroup")
	obs := assertInSync(t, f, snap, internal)
	if len(obs.LoadBalancers) != 1 || obs.LoadBalancers[0].ARN == oldARN {
		t.Errorf("left %+v", obs.LoadBalancers)
	}
}

// addForeign puts resources drover must never touch into the fake: an untagged target
// group and load balancer whose names even carry the owner's prefix, and a target group
// of another drover installation.
func addForeign(t *testing.T, f *nlbtest.ELB) []string {
	t.Helper()
	ctx := context.Background()
	prefix := nlb.ResourceNamePrefix(testOwner)
	untaggedTG, err := f.CreateTargetGroup(ctx, buildCreateTargetGroupInput(nlb.TargetGroupSpec{Name: prefix + "byhand", Protocol: "TCP", Port: 80, VPCID: "vpc-1",
		HealthCheck: nlb.HealthCheck{Protocol: "TCP", Port: nlb.HealthCheckPortTraffic, IntervalSeconds: 10, TimeoutSeconds: 5, HealthyThreshold: 3, UnhealthyThreshold: 3}}))
	if err != nil {
		t.Fatal(err)
	}
	untaggedLB, err := f.CreateLoadBalancer(ctx, buildCreateLoadBalancerInput(nlb.LoadBalancerSpec{Name: prefix + "byhand", Scheme: "internet-facing", Subnets: []string{"subnet-a"}}))
	if err != nil {
		t.Fatal(err)
	}
	other := testOwner
	other.Manager = "mgr-us1"
	otherTG, err := f.CreateTargetGroup(ctx, buildCreateTargetGroupInput(nlb.TargetGroupSpec{Name: prefix + "other", Protocol: "TCP", Port: 80, VPCID: "vpc-1",
		Tags:        withTags(other.Tags(), map[string]string{nlb.TagOctaviaPool: "p-web"}),
		HealthCheck: nlb.HealthCheck{Protocol: "TCP", Port: nlb.HealthCheckPortTraffic, IntervalSeconds: 10, TimeoutSeconds: 5, HealthyThreshold: 3, UnhealthyThreshold: 3}}))
	if err != nil {
		t.Fatal(err)
	}
	if err := f.RegisterTargets(ctx, aws.ToString(otherTG.TargetGroupArn), targetDescriptions([]nlb.PlacedTarget{{Target: nlb.Target{IP: "10.0.0.1", Port: 8080}, AvailabilityZone: "all"}})); err != nil {
		t.Fatal(err)
	}
	return []string{aws.ToString(untaggedTG.TargetGroupArn), aws.ToString(untaggedLB.LoadBalancerArn), aws.ToString(otherTG.TargetGroupArn)}
}

func TestForeignResourcesAreInvisibleAndUntouched(t *testing.T) {
	f := nlbtest.NewELB()
	foreign := addForeign(t, f)
	opts := testOptions()
	snap := testSnapshot()

	obs, err := Observe(context.Background(), f, opts.Owner)
	if err != nil {
		t.Fatal(err)
	}
	if len(obs.LoadBalancers) != 0 || len(obs.TargetGroups) != 0 {
		t.Fatalf("Observe sees resources without the owner's tags: %+v", obs)
	}
	if _, _, err := syncOnce(t, f, snap, opts, nlb.Guard{}); err != nil {
		t.Fatal(err)
	}
	assertInSync(t, f, snap, opts)

	// Tear down: only ours go.
	obs, err = Observe(context.Background(), f, opts.Owner)
	if err != nil {
		t.Fatal(err)
	}
	f.Calls = nil
	res, err := Apply(context.Background(), f, nlb.DeletePlan(obs))
	if err != nil {
		t.Fatal(err)
	}
	if want := (nlb.Counts{DeleteListeners: 2, DeleteLoadBalancers: 1, DeleteTargetGroups: 2}); res.Done != want {
		t.Errorf("teardown done %+v, want %+v", res.Done, want)
	}
	ops := f.Ops()
	assertBefore(t, ops, "DeleteListener", "DeleteLoadBalancer")
	assertBefore(t, ops, "DeleteLoadBalancer", "DeleteTargetGroup")
	if obs, _ := Observe(context.Background(), f, opts.Owner); len(obs.LoadBalancers)+len(obs.TargetGroups) != 0 {
		t.Errorf("left after teardown: %+v", obs)
	}
	for _, arn := range foreign {
		if f.LB(arn) == nil && f.TG(arn) == nil {
			t.Errorf("foreign resource %s was deleted", arn)
		}
	}
	if n := len(f.Registered[foreign[2]]); n != 1 {
		t.Errorf("the other installation's target group has %d targets, want 1", n)
	}
}

func TestObserveFailsWhole(t *testing.T) {
	for _, op := range []string{"LoadBalancers", "Tags", "Listeners", "TargetGroups", "TargetGroupAttributes", "Targets"} {
		t.Run(op, func(t *testing.T) {
			f := nlbtest.NewELB()
			if _, _, err := syncOnce(t, f, testSnapshot(), testOptions(), nlb.Guard{}); err != nil {
				t.Fatal(err)
			}
			boom := errors.New("boom")
			f.Fail[op] = boom
			obs, err := Observe(context.Background(), f, testOwner)
			if !errors.Is(err, boom) || obs != nil {
				t.Errorf("Observe = %v, %v; want the error and no partial picture", obs, err)
			}
		})
	}
	if _, err := Observe(context.Background(), nlbtest.NewELB(), nlb.Owner{}); err == nil {
		t.Error("Observe without an owner must fail")
	}
}

func TestObservedTranslation(t *testing.T) {
	l := observedListener(types.Listener{
		ListenerArn: aws.String("arn:l"), Port: aws.Int32(443), Protocol: types.ProtocolEnumTls,
		DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
			TargetGroups: []types.TargetGroupTuple{{TargetGroupArn: aws.String("arn:tg")}}}}},
		Certificates: []types.Certificate{{CertificateArn: aws.String("arn:cert")}},
	})
	if l.TargetGroupARN != "arn:tg" || l.CertificateARN != "arn:cert" || l.Port != 443 {
		t.Errorf("listener = %+v", l)
	}
	weighted := observedListener(types.Listener{DefaultActions: []types.Action{{Type: types.ActionTypeEnumForward, ForwardConfig: &types.ForwardActionConfig{
		TargetGroups: []types.TargetGroupTuple{{TargetGroupArn: aws.String("a")}, {TargetGroupArn: aws.String("b")}}}}}})
	if weighted.TargetGroupARN != "" {
		t.Errorf("a forward to two target groups is not ours to keep: %+v", weighted)
	}

	th := func(ip string, port *int32, state types.TargetHealthStateEnum) types.TargetHealthDescription {
		return types.TargetHealthDescription{Target: &types.TargetDescription{Id: aws.String(ip), Port: port, AvailabilityZone: aws.String("all")},
			TargetHealth: &types.TargetHealth{State: state}}
	}
	tg := observedTargetGroup(types.TargetGroup{TargetGroupArn: aws.String("arn:tg"), Port: aws.Int32(80), HealthCheckPort: aws.String("traffic-port"),
		Matcher: &types.Matcher{HttpCode: aws.String("200")}}, nil, nil,
		[]types.TargetHealthDescription{
			th("10.0.0.2", aws.Int32(8080), types.TargetHealthStateEnumHealthy),
			th("10.0.0.1", nil, types.TargetHealthStateEnumUnhealthy),
			th("10.0.0.3", aws.Int32(8080), types.TargetHealthStateEnumDraining),
			th("10.0.0.4", aws.Int32(8080), types.TargetHealthStateEnumUnhealthyDraining),
		})
	var got []nlb.Target
	for _, t := range tg.Targets {
		got = append(got, t.Target)
	}
	want := []nlb.Target{{IP: "10.0.0.1", Port: 80}, {IP: "10.0.0.2", Port: 8080}, {IP: "10.0.0.4", Port: 8080}}
	if !slices.Equal(got, want) {
		t.Errorf("targets = %v, want %v (draining ones are deregistered already; unhealthy.draining ones are not)", got, want)
	}
	if tg.HealthCheck.Matcher != "200" {
		t.Errorf("health check = %+v", tg.HealthCheck)
	}
}

func TestBuildInputs(t *testing.T) {
	m := mustDesired(t, testSnapshot(), testOptions())
	web := buildCreateTargetGroupInput(m.TargetGroups["p-web"])
	if web.TargetType != types.TargetTypeEnumIp || web.HealthCheckProtocol != "HTTP" || aws.ToString(web.HealthCheckPath) != "/healthz" ||
		web.Matcher == nil || aws.ToString(web.Matcher.HttpCode) != "200" || aws.ToString(web.VpcId) != "vpc-1" || len(web.Tags) != 6 {
		t.Errorf("HTTP-checked target group input = %+v", web)
	}
	tls := buildCreateTargetGroupInput(m.TargetGroups["p-tls"])
	if tls.HealthCheckProtocol != "TCP" || tls.HealthCheckPath != nil || tls.Matcher != nil {
		t.Errorf("TCP-checked target group input carries HTTP settings: %+v", tls)
	}
	lbIn := buildCreateLoadBalancerInput(m.LoadBalancer)
	if lbIn.Type != types.LoadBalancerTypeEnumNetwork || lbIn.Scheme != types.LoadBalancerSchemeEnumInternetFacing ||
		!slices.Equal(lbIn.Subnets, []string{"subnet-a", "subnet-b"}) || len(lbIn.Tags) != 5 {
		t.Errorf("load balancer input = %+v", lbIn)
	}
	l := buildCreateListenerInput("arn:lb", nlb.ListenerSpec{Port: 443, Protocol: "TLS", CertificateARN: "arn:cert", SSLPolicy: "pol"}, "arn:tg")
	if len(l.Certificates) != 1 || aws.ToString(l.SslPolicy) != "pol" || aws.ToString(l.DefaultActions[0].TargetGroupArn) != "arn:tg" {
		t.Errorf("TLS listener input = %+v", l)
	}
	tcp := buildModifyListenerInput("arn:l", nlb.ListenerSpec{Port: 80, Protocol: "TCP", CertificateARN: "ignored"}, "arn:tg")
	if tcp.Certificates != nil || tcp.Protocol != "TCP" {
		t.Errorf("TCP listener input = %+v", tcp)
	}
	ds := targetDescriptions([]nlb.PlacedTarget{{Target: nlb.Target{IP: "10.0.0.1", Port: 80}, AvailabilityZone: "all"}, {Target: nlb.Target{IP: "10.0.0.2", Port: 81}, AvailabilityZone: ""}})
	if aws.ToString(ds[0].AvailabilityZone) != "all" || ds[1].AvailabilityZone != nil || aws.ToInt32(ds[1].Port) != 81 {
		t.Errorf("target descriptions = %+v", ds)
	}
}

func TestApplyDoesNotAdoptAnUntaggedResourceOfTheSameName(t *testing.T) {
	f := nlbtest.NewELB()
	opts := testOptions()
	snap := testSnapshot()
	m := mustDesired(t, snap, opts)
	// Someone removed the tags of drover's target group: ELBv2 would hand it back on create.
	spec := m.TargetGroups["p-web"]
	spec.Tags = nil
	squatter, err := f.CreateTargetGroup(context.Background(), buildCreateTargetGroupInput(spec))
	if err != nil {
		t.Fatal(err)
	}
	_, res, err := syncOnce(t, f, snap, opts, nlb.Guard{})
	if !errors.Is(err, ErrNotOwned) {
		t.Fatalf("Apply error = %v, want ErrNotOwned", err)
	}
	for _, c := range f.Writes() {
		if strings.Contains(c, aws.ToString(squatter.TargetGroupArn)) && !strings.HasPrefix(c, "CreateTargetGroup") {
			t.Errorf("wrote to the untagged target group: %s", c)
		}
	}
	if res.Done.RegisterTargets != 0 || res.Done.CreateListeners != 0 {
		t.Errorf("went on after the refusal: %s", res)
	}
}

// lingering is the fake ELB with extra load balancer ARNs in every target group's
// LoadBalancerArns, as moto leaves a deleted load balancer's there.
type lingering struct {
	*nlbtest.ELB
	extra map[string][]string // target group ARN → load balancer ARNs added
}

func (l lingering) TargetGroups(ctx context.Context) ([]types.TargetGroup, error) {
	tgs, err := l.ELB.TargetGroups(ctx)
	for i := range tgs {
		tgs[i].LoadBalancerArns = append(tgs[i].LoadBalancerArns, l.extra[aws.ToString(tgs[i].TargetGroupArn)]...)
	}
	return tgs, err
}

func TestTeardownAfterALostLoadBalancerDeletion(t *testing.T) {
	ctx := context.Background()
	f := nlbtest.NewELB()
	foreign := addForeign(t, f)
	foreignLB := foreign[1]
	opts := testOptions()
	if _, _, err := syncOnce(t, f, testSnapshot(), opts, nlb.Guard{}); err != nil {
		t.Fatal(err)
	}
	obs := assertInSync(t, f, testSnapshot(), opts)
	if len(obs.LoadBalancers) != 1 || len(obs.TargetGroups) != 2 {
		t.Fatalf("observed %d load balancers and %d target groups, want 1 and 2", len(obs.LoadBalancers), len(obs.TargetGroups))
	}
	ours := obs.LoadBalancers[0].ARN
	// The first teardown deleted the load balancer, but its answer was lost; the ARN
	// lingers in both target groups, and the second one is also held by a load balancer
	// that exists and is not drover's.
	if err := f.DeleteLoadBalancer(ctx, ours); err != nil {
		t.Fatal(err)
	}
	api := lingering{ELB: f, extra: map[string][]string{
		obs.TargetGroups[0].ARN: {ours},
		obs.TargetGroups[1].ARN: {ours, foreignLB},
	}}

	obs, err := Observe(ctx, api, opts.Owner)
	if err != nil {
		t.Fatal(err)
	}
	if got := obs.TargetGroups[0].LoadBalancerARNs; len(got) != 0 {
		t.Errorf("target group %s is attached to %v, want nothing (that load balancer is gone)", obs.TargetGroups[0].Name, got)
	}
	if got := obs.TargetGroups[1].LoadBalancerARNs; !slices.Equal(got, []string{foreignLB}) {
		t.Errorf("target group %s is attached to %v, want only the existing %s", obs.TargetGroups[1].Name, got, foreignLB)
	}
	plan := nlb.DeletePlan(obs)
	if got := plan.DeleteTargetGroups; len(got) != 1 || got[0].ARN != obs.TargetGroups[0].ARN {
		t.Errorf("teardown deletes target groups %v, want only %s", got, obs.TargetGroups[0].ARN)
	}
	if len(plan.Notes) != 1 || !strings.Contains(plan.Notes[0], foreignLB) {
		t.Errorf("notes = %q, want one naming %s", plan.Notes, foreignLB)
	}
	if _, err := Apply(ctx, api, plan); err != nil {
		t.Fatal(err)
	}
	if f.LB(foreignLB) == nil {
		t.Errorf("the foreign load balancer %s was deleted", foreignLB)
	}
}
