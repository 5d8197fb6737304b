package mirror_test

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/test/builder"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
	"github.com/drover-dev/drover/internal/test/harness"
)

// elbWrites are the ELBv2 operations that change something.
var elbWrites = []string{
	"CreateLoadBalancer", "DeleteLoadBalancer", "CreateListener", "ModifyListener", "DeleteListener",
	"CreateTargetGroup", "ModifyTargetGroup", "ModifyTargetGroupAttributes", "DeleteTargetGroup",
	"RegisterTargets", "DeregisterTargets", "AddTags",
}

// writes counts ELBv2 write calls from now on, by operation.
func writes() func() map[string]int {
	since := map[string]func() int{}
	for _, op := range elbWrites {
		since[op] = awstest.CallsSince(cloudmetrics.ELBv2, op, cloudmetrics.Success)
	}
	return func() map[string]int {
		out := map[string]int{}
		for op, n := range since {
			if c := n(); c != 0 {
				out[op] = c
			}
		}
		return out
	}
}

// syncsSince counts the mirror syncs with outcome from now on
// (drover_nlb_mirror_syncs_total, in this process's registry).
func syncsSince(outcome string) func() int {
	count := func() int {
		families, err := ctrlmetrics.Registry.Gather()
		if err != nil {
			panic(err)
		}
		for _, f := range families {
			if f.GetName() != "drover_nlb_mirror_syncs_total" {
				continue
			}
			for _, m := range f.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == "outcome" && l.GetValue() == outcome {
						return int(m.GetCounter().GetValue())
					}
				}
			}
		}
		return 0
	}
	before := count()
	return func() int { return count() - before }
}

// twoPools is an Octavia load balancer as a Prod's front end has it: TCP 443 to an API
// pool of three members, HTTP 80 to a web pool of two behind an HTTP monitor.
func twoPools(name string) octaviatest.LoadBalancerSpec {
	return octaviatest.LoadBalancerSpec{Name: name, Listeners: []octaviatest.ListenerSpec{
		{Name: "api", Protocol: "TCP", Port: 443, Pool: &octaviatest.PoolSpec{Name: "api", Members: []octaviatest.MemberSpec{
			{Address: "10.1.0.1", Port: 8443}, {Address: "10.1.0.2", Port: 8443}, {Address: "10.1.0.3", Port: 8443},
		}}},
		{Name: "web", Protocol: "HTTP", Port: 80, Pool: &octaviatest.PoolSpec{Name: "web", Members: []octaviatest.MemberSpec{
			{Address: "10.1.1.1", Port: 8080}, {Address: "10.1.1.2", Port: 8080},
		}, Monitor: &octaviatest.MonitorSpec{Type: "HTTP", URLPath: "/healthz", ExpectedCodes: "200"}}},
	}}
}

// mirroredProd is a Prod on w1, applying a ConfigMap, whose Octavia load balancer lbID
// is mirrored to an NLB, read every pollInterval.
func mirroredProd(name, lbID string) *droverv1.Prod {
	return builder.Prod(bed.Namespace, w1, name, []builder.Object{builder.ConfigMap("app")}, builder.Named(name),
		builder.Traffic(droverv1.ProdTraffic{LoadBalancerID: lbID, Mirror: &droverv1.NLBMirror{
			PollInterval: &metav1.Duration{Duration: pollInterval}, DeregistrationDelaySeconds: ptr.To[int32](5),
		}}))
}

// mirroredSet is a ProdSet of two Prods spread over the regions, each with the Service
// "web" that the ccm gives an Octavia load balancer, mirrored to an NLB, published to
// zone as <name>.example.com with health checks.
func mirroredSet(name, zone string) *droverv1.ProdSet {
	return builder.ProdSet(bed.Namespace, name, builder.Replicas(2), builder.WithManifests(webService()...),
		builder.ServiceRef("web"), builder.Mirrored(pollInterval), builder.Spread("topology.drover.dev/region", 0),
		builder.Records(zone, name+".example.com", 1), builder.HealthCheck(80, "/healthz"))
}

func getProd(g Gomega, key client.ObjectKey) *droverv1.Prod {
	p := &droverv1.Prod{}
	g.Expect(cp.Get(context.Background(), key, p)).To(Succeed())
	return p
}

// deleteAndWait deletes obj and waits until it is gone (its finalizers done).
func deleteAndWait(t *testing.T, obj client.Object, timeout time.Duration) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(client.IgnoreNotFound(cp.Delete(context.Background(), obj))).To(Succeed())
	g.Eventually(func() bool {
		err := cp.Get(context.Background(), client.ObjectKeyFromObject(obj), obj)
		return apierrors.IsNotFound(err)
	}, timeout, 200*time.Millisecond).Should(BeTrue(), "%s %s still exists", obj.GetObjectKind().GroupVersionKind().Kind, obj.GetName())
}

// awsNLB is what AWS has, read with the SDK (not drover's code): listeners as
// "PROTOCOL:port", and each target group's targets as "ip:port", keyed by the target
// group's port (the port of the listener it serves).
type awsNLB struct {
	LoadBalancers []string
	Listeners     []string
	Targets       map[int32][]string
	HealthChecks  map[int32]string
}

func readAWS(g Gomega, c *elbsdk.Client) awsNLB {
	ctx := context.Background()
	out := awsNLB{Targets: map[int32][]string{}, HealthChecks: map[int32]string{}}
	lbs, err := c.DescribeLoadBalancers(ctx, &elbsdk.DescribeLoadBalancersInput{})
	g.Expect(err).NotTo(HaveOccurred())
	for _, lb := range lbs.LoadBalancers {
		out.LoadBalancers = append(out.LoadBalancers, aws.ToString(lb.LoadBalancerName))
		ls, err := c.DescribeListeners(ctx, &elbsdk.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
		g.Expect(err).NotTo(HaveOccurred())
		for _, l := range ls.Listeners {
			out.Listeners = append(out.Listeners, fmt.Sprintf("%s:%d", l.Protocol, aws.ToInt32(l.Port)))
		}
	}
	sort.Strings(out.Listeners)
	tgs, err := c.DescribeTargetGroups(ctx, &elbsdk.DescribeTargetGroupsInput{})
	g.Expect(err).NotTo(HaveOccurred())
	for _, tg := range tgs.TargetGroups {
		port := aws.ToInt32(tg.Port)
		out.HealthChecks[port] = fmt.Sprintf("%s %s", tg.HealthCheckProtocol, aws.ToString(tg.HealthCheckPath))
		th, err := c.DescribeTargetHealth(ctx, &elbsdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		g.Expect(err).NotTo(HaveOccurred())
		targets := []string{}
		for _, d := range th.TargetHealthDescriptions {
			targets = append(targets, fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port)))
		}
		sort.Strings(targets)
		out.Targets[port] = targets
	}
	return out
}

func prodCondition(g Gomega, key client.ObjectKey, typ string) metav1.Condition {
	return conditionOf(getProd(g, key), typ)
}

// conditionOf returns p's condition of type typ, or the zero condition.
func conditionOf(p *droverv1.Prod, typ string) metav1.Condition {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

// events returns the reasons of the events recorded for obj.
func eventReasons(g Gomega, obj client.Object) []string {
	list := &corev1.EventList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.InvolvedObject.Name == obj.GetName() {
			out = append(out, e.Reason)
		}
	}
	slices.Sort(out)
	return out
}

// watchSyncedWithoutEndpoint watches the Prod of key from now on and returns what every
// version of it a watcher saw got wrong: MirrorSynced True without the VIP and the NLB it
// synced in status.endpoint. The status is written before the condition, so no reader
// ever sees one without the other.
func watchSyncedWithoutEndpoint(t *testing.T, key client.ObjectKey) func() []string {
	t.Helper()
	return harness.WatchVersions(t, bed.ControlPlane.Config, cp.Scheme(), &droverv1.ProdList{}, key,
		func(p *droverv1.Prod) []string {
			if conditionOf(p, droverv1.ProdMirrorSyncedCondition).Status != metav1.ConditionTrue {
				return nil
			}
			if ep := p.Status.Endpoint; ep == nil || ep.VIP == "" || ep.NLBARN == "" {
				return []string{fmt.Sprintf("resourceVersion %s: MirrorSynced True with status.endpoint %+v", p.ResourceVersion, ep)}
			}
			return nil
		})
}
