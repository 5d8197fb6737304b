package nlb

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/test/nlbtest"
)

var testOwner = Owner{Manager: "mgr-eu1", Namespace: "shop", Name: "shop-a", UID: "0b6f3c1e-8d4a-4f8e-9c55-3a1d2e7f9b10"}

func testOptions() Options {
	return Options{Owner: testOwner, Network: Network{VPCID: "vpc-1", Subnets: []string{"subnet-b", "subnet-a"}, Scheme: types.LoadBalancerSchemeEnumInternetFacing}}
}

// What the tests share with internal/nlb/deploy's: the Octavia load balancer they mirror,
// and an assertion.
var (
	member       = nlbtest.Member
	members      = nlbtest.Members
	testSnapshot = nlbtest.Snapshot
	pool         = nlbtest.Pool
	containsAll  = nlbtest.ContainsAll
)

func mustDesired(t *testing.T, s *octavia.Snapshot, opts Options) Model {
	t.Helper()
	m, _, err := Desired(s, opts)
	if err != nil {
		t.Fatalf("Desired: %v", err)
	}
	return m
}

// Fake ARNs of steady.
func lbARN(name string) string      { return "arn:lb/" + name }
func tgARN(poolID string) string    { return "arn:tg/" + poolID }
func listenerARN(port int32) string { return "arn:listener/" + i32s(port) }

// steady is what AWS holds once the model is applied, built purely from the model: one
// active load balancer, target groups with ARN arn:tg/<pool id>, listeners with ARN
// arn:listener/<port>.
func steady(m Model) *Observed {
	lb := ObservedLoadBalancer{
		ARN: lbARN(m.LoadBalancer.Name), Name: m.LoadBalancer.Name, DNSName: m.LoadBalancer.Name + ".elb.example",
		CanonicalHostedZoneID: "Z2IFOLAFXWLO4F", Scheme: m.LoadBalancer.Scheme, Type: types.LoadBalancerTypeEnumNetwork,
		State: types.LoadBalancerStateEnumActive, VPCID: m.LoadBalancer.VPCID, Subnets: slices.Clone(m.LoadBalancer.Subnets),
		Tags: maps.Clone(m.LoadBalancer.Tags),
	}
	for _, port := range slices.Sorted(maps.Keys(m.Listeners)) {
		l := m.Listeners[port]
		lb.Listeners = append(lb.Listeners, ObservedListener{
			ARN: listenerARN(port), LoadBalancerARN: lb.ARN, Port: port, Protocol: l.Protocol,
			TargetGroupARN: tgARN(l.TargetGroup), CertificateARN: l.CertificateARN, SSLPolicy: l.SSLPolicy,
		})
	}
	obs := &Observed{LoadBalancers: []ObservedLoadBalancer{lb}}
	for _, key := range slices.Sorted(maps.Keys(m.TargetGroups)) {
		spec := m.TargetGroups[key]
		tg := ObservedTargetGroup{
			ARN: tgARN(key), Name: spec.Name, Protocol: spec.Protocol, Port: spec.Port, TargetType: types.TargetTypeEnumIp,
			IPAddressType: types.TargetGroupIpAddressTypeEnumIpv4, VPCID: spec.VPCID, LoadBalancerARNs: []string{lb.ARN},
			HealthCheck: spec.HealthCheck, Attributes: maps.Clone(spec.Attributes), Tags: maps.Clone(spec.Tags),
		}
		for _, t := range spec.Targets {
			tg.Targets = append(tg.Targets, ObservedTarget{Target: t, AvailabilityZone: AvailabilityZoneAll, State: types.TargetHealthStateEnumHealthy})
		}
		obs.TargetGroups = append(obs.TargetGroups, tg)
	}
	return obs
}

func (o *Observed) tgByPool(t *testing.T, poolID string) *ObservedTargetGroup {
	t.Helper()
	for i := range o.TargetGroups {
		if o.TargetGroups[i].PoolID() == poolID {
			return &o.TargetGroups[i]
		}
	}
	t.Fatalf("no observed target group for pool %s", poolID)
	return nil
}

func warningsText(ws []Warning) string {
	parts := make([]string, len(ws))
	for i, w := range ws {
		parts[i] = w.String()
	}
	return strings.Join(parts, "\n")
}
