package elbv2_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	sdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// counter reads how many calls of op with outcome were made since it was created.
func counter(op, outcome string) func() int {
	return awstest.CallsSince(cloudmetrics.ELBv2, op, outcome)
}

type env struct {
	t      *testing.T
	moto   *awstest.Moto
	client *elbv2.Client
	net    awstest.Network
}

func setup(t *testing.T, o elbv2.Options) *env {
	t.Helper()
	m := awstest.Shared(t)
	return &env{t: t, moto: m, client: elbv2.New(m.Clients(t).ELBv2, o), net: m.DefaultNetwork(t)}
}

func (e *env) nlb(name string, tags ...types.Tag) *types.LoadBalancer {
	e.t.Helper()
	lb, err := e.client.CreateLoadBalancer(e.t.Context(), &sdk.CreateLoadBalancerInput{
		Name:    aws.String(name),
		Type:    types.LoadBalancerTypeEnumNetwork,
		Scheme:  types.LoadBalancerSchemeEnumInternetFacing,
		Subnets: e.net.SubnetIDs()[:2],
		Tags:    tags,
	})
	if err != nil {
		e.t.Fatalf("CreateLoadBalancer %s: %v", name, err)
	}
	return lb
}

func (e *env) targetGroup(name string, tags ...types.Tag) *types.TargetGroup {
	e.t.Helper()
	tg, err := e.client.CreateTargetGroup(e.t.Context(), &sdk.CreateTargetGroupInput{
		Name:                aws.String(name),
		Protocol:            types.ProtocolEnumTcp,
		Port:                aws.Int32(443),
		VpcId:               aws.String(e.net.VPCID),
		TargetType:          types.TargetTypeEnumIp,
		HealthCheckProtocol: types.ProtocolEnumTcp,
		Tags:                tags,
	})
	if err != nil {
		e.t.Fatalf("CreateTargetGroup %s: %v", name, err)
	}
	return tg
}

func tag(k, v string) types.Tag { return types.Tag{Key: aws.String(k), Value: aws.String(v)} }

// ipTargets are n targets on the private cloud's addresses, reached over the dedicated
// line (AvailabilityZone "all").
func ipTargets(n int) []types.TargetDescription {
	targets := make([]types.TargetDescription, n)
	for i := range targets {
		targets[i] = types.TargetDescription{
			Id:               aws.String(fmt.Sprintf("10.20.%d.%d", i/250, i%250+1)),
			Port:             aws.Int32(8443),
			AvailabilityZone: aws.String("all"),
		}
	}
	return targets
}

func TestLoadBalancerListenersAndTags(t *testing.T) {
	e := setup(t, elbv2.Options{})
	ctx := t.Context()
	lb := e.nlb("drover-shop-a", tag("drover.dev/owner", "shop-a"))
	if lb.Type != types.LoadBalancerTypeEnumNetwork || aws.ToString(lb.DNSName) == "" || aws.ToString(lb.LoadBalancerArn) == "" {
		t.Fatalf("created %+v", lb)
	}
	lbs, err := e.client.LoadBalancers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(lbs) != 1 || aws.ToString(lbs[0].LoadBalancerArn) != aws.ToString(lb.LoadBalancerArn) {
		t.Fatalf("LoadBalancers = %d, want the one created", len(lbs))
	}

	tg := e.targetGroup("drover-shop-a-https", tag("drover.dev/owner", "shop-a"), tag("drover.dev/pool", "p1"))
	tags, err := e.client.Tags(ctx, []string{aws.ToString(lb.LoadBalancerArn), aws.ToString(tg.TargetGroupArn)})
	if err != nil {
		t.Fatal(err)
	}
	if got := tags[aws.ToString(lb.LoadBalancerArn)]; got["drover.dev/owner"] != "shop-a" || len(got) != 1 {
		t.Errorf("load balancer tags %v", got)
	}
	if got := tags[aws.ToString(tg.TargetGroupArn)]; got["drover.dev/pool"] != "p1" || len(got) != 2 {
		t.Errorf("target group tags %v", got)
	}

	forward := []types.Action{{Type: types.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroupArn}}
	l, err := e.client.CreateListener(ctx, &sdk.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancerArn, Protocol: types.ProtocolEnumTcp, Port: aws.Int32(443), DefaultActions: forward,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.client.ModifyListener(ctx, &sdk.ModifyListenerInput{ListenerArn: l.ListenerArn, Port: aws.Int32(8443)}); err != nil {
		t.Fatal(err)
	}
	listeners, err := e.client.Listeners(ctx, aws.ToString(lb.LoadBalancerArn))
	if err != nil {
		t.Fatal(err)
	}
	if len(listeners) != 1 || aws.ToInt32(listeners[0].Port) != 8443 || listeners[0].Protocol != types.ProtocolEnumTcp {
		t.Fatalf("listeners after the change %+v", listeners)
	}

	deleted := counter("DeleteListener", cloudmetrics.NotFound)
	for range 2 {
		if err := e.client.DeleteListener(ctx, aws.ToString(l.ListenerArn)); err != nil {
			t.Fatalf("DeleteListener: %v", err)
		}
	}
	if deleted() != 1 {
		t.Errorf("deleting the listener again counted %d not_found, want 1", deleted())
	}
	if listeners, err := e.client.Listeners(ctx, aws.ToString(lb.LoadBalancerArn)); err != nil || len(listeners) != 0 {
		t.Fatalf("listeners after the delete: %d, %v", len(listeners), err)
	}
	for range 2 {
		if err := e.client.DeleteLoadBalancer(ctx, aws.ToString(lb.LoadBalancerArn)); err != nil {
			t.Fatalf("DeleteLoadBalancer: %v", err)
		}
	}
	_, err = e.client.Listeners(ctx, aws.ToString(lb.LoadBalancerArn))
	if !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("Listeners of a deleted load balancer: %v, want ErrNotFound", err)
	}
	if lbs, err := e.client.LoadBalancers(ctx); err != nil || len(lbs) != 0 {
		t.Errorf("load balancers after the delete: %d, %v", len(lbs), err)
	}
}

func TestTargetsInChunks(t *testing.T) {
	e := setup(t, elbv2.Options{})
	ctx := t.Context()
	arn := aws.ToString(e.targetGroup("drover-shop-a-https").TargetGroupArn)

	registered := counter("RegisterTargets", cloudmetrics.Success)
	targets := ipTargets(450)
	if err := e.client.RegisterTargets(ctx, arn, targets); err != nil {
		t.Fatal(err)
	}
	if got := registered(); got != 3 {
		t.Errorf("450 targets took %d RegisterTargets calls, want 3", got)
	}
	have, err := e.client.Targets(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	if ids := targetIDs(have); !slices.Equal(ids, targetIDs2(targets)) {
		t.Fatalf("registered %d targets, want the 450 sent", len(ids))
	}

	deregistered := counter("DeregisterTargets", cloudmetrics.Success)
	if err := e.client.DeregisterTargets(ctx, arn, targets[:250]); err != nil {
		t.Fatal(err)
	}
	if got := deregistered(); got != 2 {
		t.Errorf("250 targets took %d DeregisterTargets calls, want 2", got)
	}
	have, err = e.client.Targets(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	if ids := targetIDs(have); !slices.Equal(ids, targetIDs2(targets[250:])) {
		t.Fatalf("after deregistering 250: %d targets, want the last 200", len(ids))
	}

	if err := e.client.RegisterTargets(ctx, arn, nil); err != nil {
		t.Fatalf("registering no targets: %v", err)
	}
}

func targetIDs(hs []types.TargetHealthDescription) []string {
	var ids []string
	for _, h := range hs {
		ids = append(ids, aws.ToString(h.Target.Id))
	}
	slices.Sort(ids)
	return ids
}

func targetIDs2(ts []types.TargetDescription) []string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, aws.ToString(t.Id))
	}
	slices.Sort(ids)
	return ids
}

func TestTargetGroupChangesAndDeletes(t *testing.T) {
	e := setup(t, elbv2.Options{})
	ctx := t.Context()
	tg := e.targetGroup("drover-shop-a-https")
	arn := aws.ToString(tg.TargetGroupArn)

	if err := e.client.ModifyTargetGroup(ctx, &sdk.ModifyTargetGroupInput{
		TargetGroupArn: tg.TargetGroupArn, HealthCheckIntervalSeconds: aws.Int32(10), HealthyThresholdCount: aws.Int32(3),
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.ModifyTargetGroupAttributes(ctx, arn, map[string]string{
		"deregistration_delay.timeout_seconds": "30",
		"preserve_client_ip.enabled":           "false",
	}); err != nil {
		t.Fatal(err)
	}
	attrs, err := e.client.TargetGroupAttributes(ctx, arn)
	if err != nil {
		t.Fatal(err)
	}
	if attrs["deregistration_delay.timeout_seconds"] != "30" || attrs["preserve_client_ip.enabled"] != "false" {
		t.Errorf("attributes after the change: %v", attrs)
	}
	tgs, err := e.client.TargetGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(tgs) != 1 || aws.ToInt32(tgs[0].HealthCheckIntervalSeconds) != 10 || tgs[0].TargetType != types.TargetTypeEnumIp {
		t.Fatalf("target groups %+v", tgs)
	}

	notFound := counter("DeleteTargetGroup", cloudmetrics.NotFound)
	for range 2 {
		if err := e.client.DeleteTargetGroup(ctx, arn); err != nil {
			t.Fatalf("DeleteTargetGroup: %v", err)
		}
	}
	if notFound() != 1 {
		t.Errorf("deleting the target group again counted %d not_found, want 1", notFound())
	}
	missing := counter("DescribeTargetHealth", cloudmetrics.NotFound)
	if _, err := e.client.Targets(ctx, arn); !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("Targets of a deleted target group: %v, want ErrNotFound", err)
	}
	if missing() != 1 {
		t.Errorf("DescribeTargetHealth of a deleted target group counted %d not_found, want 1", missing())
	}
	if err := e.client.RegisterTargets(ctx, arn, ipTargets(1)); !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("RegisterTargets to a deleted target group: %v, want ErrNotFound", err)
	}
	if _, err := e.client.TargetGroupAttributes(ctx, arn); !errors.Is(err, cloudmetrics.ErrNotFound) {
		t.Errorf("TargetGroupAttributes of a deleted target group: %v, want ErrNotFound", err)
	}

	// Things that never existed are deleted too.
	gone := "arn:aws:elasticloadbalancing:us-east-1:123456789012:"
	if err := e.client.DeleteTargetGroup(ctx, gone+"targetgroup/never/0123456789abcdef"); err != nil {
		t.Errorf("DeleteTargetGroup of an unknown ARN: %v", err)
	}
	if err := e.client.DeleteListener(ctx, gone+"listener/net/never/0123456789abcdef/0123456789abcdef"); err != nil {
		t.Errorf("DeleteListener of an unknown ARN: %v", err)
	}
	if err := e.client.DeleteLoadBalancer(ctx, gone+"loadbalancer/net/never/0123456789abcdef"); err != nil {
		t.Errorf("DeleteLoadBalancer of an unknown ARN: %v", err)
	}
}

func TestPagination(t *testing.T) {
	e := setup(t, elbv2.Options{PageSize: 2})
	ctx := t.Context()
	var want []string
	for i := range 5 {
		want = append(want, aws.ToString(e.nlb(fmt.Sprintf("drover-%d", i)).LoadBalancerArn))
	}
	pages := counter("DescribeLoadBalancers", cloudmetrics.Success)
	lbs, err := e.client.LoadBalancers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, lb := range lbs {
		got = append(got, aws.ToString(lb.LoadBalancerArn))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("LoadBalancers = %v, want %v", got, want)
	}
	if pages() != 3 {
		t.Errorf("5 load balancers in pages of 2 took %d calls, want 3", pages())
	}

	// moto answers target groups in one page; all must come back all the same.
	var tgs []string
	for i := range 25 {
		tgs = append(tgs, aws.ToString(e.targetGroup(fmt.Sprintf("drover-tg-%d", i), tag("i", fmt.Sprint(i))).TargetGroupArn))
	}
	all, err := e.client.TargetGroups(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 25 {
		t.Errorf("TargetGroups = %d, want 25", len(all))
	}

	described := counter("DescribeTags", cloudmetrics.Success)
	tags, err := e.client.Tags(ctx, tgs)
	if err != nil {
		t.Fatal(err)
	}
	if described() != 2 {
		t.Errorf("tags of 25 target groups took %d DescribeTags calls, want 2", described())
	}
	for i, arn := range tgs {
		if tags[arn]["i"] != fmt.Sprint(i) {
			t.Errorf("tags of target group %d: %v", i, tags[arn])
		}
	}
}
