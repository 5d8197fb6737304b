package mirror

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/nlb"
)

// BenchmarkMirrorPlan measures drover's own work per sync, without I/O: nlb.Desired from
// an Octavia snapshot, nlb.Diff against the NLB AWS has, and the model's digest, as one
// sync of controllers/mirror does them. churn: the snapshot has 10% of the members
// replaced (5% gone, 5% new) since AWS was synced; steady: nothing changed. Each case
// checks its plan before it is timed. ns/op, B/op and allocs/op are per plan.
func BenchmarkMirrorPlan(b *testing.B) {
	for _, n := range []int{500, 5000} {
		k := n / 10 / 2
		opts := nlb.Options{
			Owner:   nlb.Owner{Manager: "drover", Namespace: "bench", Name: "plan", UID: "00000000-0000-4000-8000-000000000001"},
			Network: nlb.Network{VPCID: "vpc-0123456789abcdef0", Subnets: []string{"subnet-a", "subnet-b"}},
		}
		synced := syntheticSnapshot(0, n)
		model, _, err := nlb.Desired(synced, opts)
		if err != nil {
			b.Fatal(err)
		}
		observed := observedAfter(model)
		for _, c := range []struct {
			name string
			snap *octavia.Snapshot
			want nlb.Counts
		}{
			{"churn", syntheticSnapshot(k, n), nlb.Counts{RegisterTargets: k, DeregisterTargets: k}},
			{"steady", synced, nlb.Counts{}},
		} {
			b.Run(fmt.Sprintf("members=%d/%s", n, c.name), func(b *testing.B) {
				if got := planOnce(b, c.snap, opts, observed).Counts(); got != c.want {
					b.Fatalf("plan %s, want %s", got, c.want)
				}
				// Many plans per iteration, so that -benchtime=1x (make bench) still times
				// more than one; the metrics are per plan.
				reps := max(1, 100_000/n)
				b.ReportAllocs()
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				start := time.Now()
				for range b.N {
					for range reps {
						planOnce(b, c.snap, opts, observed)
					}
				}
				elapsed := time.Since(start)
				runtime.ReadMemStats(&after)
				plans := float64(b.N * reps)
				b.ReportMetric(float64(elapsed.Nanoseconds())/plans, "ns/op")
				b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/plans, "B/op")
				b.ReportMetric(float64(after.Mallocs-before.Mallocs)/plans, "allocs/op")
			})
		}
	}
}

// planOnce is the pure part of one sync.
func planOnce(b *testing.B, snap *octavia.Snapshot, opts nlb.Options, observed *nlb.Observed) nlb.Plan {
	model, _, err := nlb.Desired(snap, opts)
	if err != nil {
		b.Fatal(err)
	}
	plan := nlb.Diff(model, observed, nlb.Guard{})
	_ = model.Digest()
	if plan.Blocked {
		b.Fatalf("blocked: %s", plan.Summary())
	}
	return plan
}

// syntheticSnapshot is an ACTIVE Octavia load balancer with a TCP listener on 443 whose
// pool (TCP monitor) has n members, numbered from first on (the addresses newMember
// gives).
func syntheticSnapshot(first, n int) *octavia.Snapshot {
	pool := octavia.Pool{
		ID: "pool-1", Name: "api", Protocol: "TCP", LBAlgorithm: "ROUND_ROBIN", AdminStateUp: true, OperatingStatus: "ONLINE",
		Monitor: &octavia.Monitor{ID: "hm-1", Type: "TCP", Delay: 5, Timeout: 3, MaxRetries: 3, MaxRetriesDown: 3, AdminStateUp: true},
	}
	for i := first; i < first+n; i++ {
		addr := fmt.Sprintf("10.20.%d.%d", i/250, i%250+1)
		pool.Members = append(pool.Members, octavia.Member{
			ID: fmt.Sprintf("member-%d", i), Name: "m-" + addr, Address: addr, Port: memberPort,
			Weight: 1, AdminStateUp: true, OperatingStatus: "ONLINE",
		})
	}
	return &octavia.Snapshot{
		LoadBalancer: octavia.LoadBalancer{ID: "lb-1", Name: "bench", VIP: "198.51.100.1", ProvisioningStatus: "ACTIVE", OperatingStatus: "ONLINE", AdminStateUp: true},
		Listeners:    []octavia.Listener{{ID: "listener-1", Name: "api", Protocol: "TCP", Port: listenerPort, DefaultPoolID: pool.ID, AdminStateUp: true}},
		Pools:        []octavia.Pool{pool},
		ReadAt:       time.Unix(0, 0),
	}
}

// observedAfter is what Observe reads from AWS once model was applied.
func observedAfter(m nlb.Model) *nlb.Observed {
	lbARN := "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/" + m.LoadBalancer.Name + "/1"
	obs := &nlb.Observed{LoadBalancers: []nlb.ObservedLoadBalancer{{
		ARN: lbARN, Name: m.LoadBalancer.Name, DNSName: m.LoadBalancer.Name + ".elb.amazonaws.com",
		Scheme: m.LoadBalancer.Scheme, Type: types.LoadBalancerTypeEnumNetwork, State: types.LoadBalancerStateEnumActive,
		VPCID: m.LoadBalancer.VPCID, Subnets: m.LoadBalancer.Subnets, Tags: m.LoadBalancer.Tags,
	}}}
	tgARN := map[string]string{}
	for id, tg := range m.TargetGroups {
		arn := "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/" + tg.Name + "/1"
		tgARN[id] = arn
		o := nlb.ObservedTargetGroup{
			ARN: arn, Name: tg.Name, Protocol: tg.Protocol, Port: tg.Port, TargetType: types.TargetTypeEnumIp,
			IPAddressType: types.TargetGroupIpAddressTypeEnumIpv4, VPCID: tg.VPCID, LoadBalancerARNs: []string{lbARN},
			HealthCheck: tg.HealthCheck, Attributes: tg.Attributes, Tags: tg.Tags,
		}
		for _, t := range tg.Targets {
			o.Targets = append(o.Targets, nlb.ObservedTarget{Target: t, AvailabilityZone: nlb.AvailabilityZoneAll, State: types.TargetHealthStateEnumHealthy})
		}
		obs.TargetGroups = append(obs.TargetGroups, o)
	}
	for port, l := range m.Listeners {
		obs.LoadBalancers[0].Listeners = append(obs.LoadBalancers[0].Listeners, nlb.ObservedListener{
			ARN: fmt.Sprintf("%s/listener/%d", lbARN, port), LoadBalancerARN: lbARN, Port: port, Protocol: l.Protocol,
			TargetGroupARN: tgARN[l.TargetGroup], CertificateARN: l.CertificateARN, SSLPolicy: l.SSLPolicy,
		})
	}
	return obs
}
