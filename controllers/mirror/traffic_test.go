package mirror_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/builder"

	"github.com/aws/aws-sdk-go-v2/aws"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/mirror"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

// webService is a Prod's front end: a Service of type LoadBalancer, which the OpenStack
// cloud provider (here: the test, see ccm) gives an Octavia load balancer.
func webService() []builder.Object {
	return []builder.Object{builder.ConfigMap("app"), {
		"apiVersion": "v1", "kind": "Service", "metadata": builder.Object{"name": "web"},
		"spec": builder.Object{"type": "LoadBalancer", "selector": builder.Object{"app": "web"},
			"ports": []any{builder.Object{"name": "http", "port": 80, "targetPort": 8080}}},
	}}
}

// ccm does what the OpenStack cloud controller manager does for the Prods' Services:
// for each Service "web" of a Prod, an Octavia load balancer (ONLINE), its id in the
// Service's annotation and its VIP in the Service's status. It returns the load
// balancer of each Prod once all of want are served.
type ccm struct {
	lbs map[string]*octaviatest.LoadBalancer // by Prod name
}

func (c *ccm) serve(t *testing.T, e *env, want int) map[string]*octaviatest.LoadBalancer {
	t.Helper()
	g := NewWithT(t)
	if c.lbs == nil {
		c.lbs = map[string]*octaviatest.LoadBalancer{}
	}
	g.Eventually(func(g Gomega) {
		list := &droverv1.ProdList{}
		g.Expect(cp.List(context.Background(), list, client.InNamespace(bed.Namespace))).To(Succeed())
		for _, p := range list.Items {
			if p.Spec.Traffic.ServiceRef == nil || c.lbs[p.Name] != nil {
				continue
			}
			wl := bed.Workload(p.Spec.ClusterRef.Name).Client
			svc := &corev1.Service{}
			if err := wl.Get(context.Background(), client.ObjectKey{Namespace: p.Spec.TargetNamespace, Name: p.Spec.Traffic.ServiceRef.Name}, svc); err != nil {
				continue // not applied yet
			}
			n := len(c.lbs) + 1
			lb := e.octavia.CreateLoadBalancer(t, octaviatest.LoadBalancerSpec{Name: p.Name, Listeners: []octaviatest.ListenerSpec{
				{Name: "web", Protocol: "HTTP", Port: 80, Pool: &octaviatest.PoolSpec{Name: "web", Members: []octaviatest.MemberSpec{
					{Address: fmt.Sprintf("10.2.%d.1", n), Port: 8080}, {Address: fmt.Sprintf("10.2.%d.2", n), Port: 8080},
				}}},
			}})
			e.octavia.SetOperatingStatus(t, octaviatest.LoadBalancerObject, lb.ID, "ONLINE")
			patch := client.MergeFrom(svc.DeepCopy())
			if svc.Annotations == nil {
				svc.Annotations = map[string]string{}
			}
			svc.Annotations[mirror.LoadBalancerIDAnnotation] = lb.ID
			g.Expect(wl.Patch(context.Background(), svc, patch)).To(Succeed())
			statusPatch := client.MergeFrom(svc.DeepCopy())
			svc.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: lb.VIP}}
			g.Expect(wl.Status().Patch(context.Background(), svc, statusPatch)).To(Succeed())
			c.lbs[p.Name] = lb
		}
		g.Expect(c.lbs).To(HaveLen(want))
	}, 3*time.Minute, 500*time.Millisecond).Should(Succeed())
	return c.lbs
}

// records reads drover's records of a zone with the SDK: "weight target" by
// SetIdentifier, and the foreign ones as lines.
func records(g Gomega, c *r53sdk.Client, zone string) (ours map[string]string, foreign []string) {
	out, err := c.ListResourceRecordSets(context.Background(), &r53sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	g.Expect(err).NotTo(HaveOccurred())
	ours = map[string]string{}
	for _, r := range out.ResourceRecordSets {
		id := aws.ToString(r.SetIdentifier)
		target := ""
		if r.AliasTarget != nil {
			target = strings.TrimSuffix(aws.ToString(r.AliasTarget.DNSName), ".")
		} else if len(r.ResourceRecords) > 0 {
			target = aws.ToString(r.ResourceRecords[0].Value)
		}
		switch {
		case strings.HasPrefix(id, route53.DefaultOwner+"/"):
			hc := ""
			if r.HealthCheckId != nil {
				hc = " hc"
			}
			ours[id] = fmt.Sprintf("%d %s%s", aws.ToInt64(r.Weight), target, hc)
		case r.Type != r53types.RRTypeNs && r.Type != r53types.RRTypeSoa:
			foreign = append(foreign, fmt.Sprintf("%s %s %s %d %s", aws.ToString(r.Name), r.Type, id, aws.ToInt64(r.Weight), target))
		}
	}
	sort.Strings(foreign)
	return ours, foreign
}

// newZone makes a hosted zone holding records drover must never touch, for the
// services of the suite's sets (builder.ForeignZone).
func newZone(t *testing.T, c *r53sdk.Client) string {
	t.Helper()
	return builder.ForeignZone(t, c, "shop.example.com", "cart.example.com")
}

// Three ProdSets with mirrors publish to Route53: each Prod's service record, its
// Octavia and NLB paths at 90/10 with health checks; a failed Octavia load balancer
// sends its Prod's traffic to the NLB; a cluster drained for maintenance takes all its
// Prods out in one change to the zone; deleting the sets leaves nothing of drover's in
// AWS; foreign records survive all of it.
func TestRoute53TwoLevelsSplitAndEviction(t *testing.T) {
	g := NewWithT(t)
	e := start(t)
	clients := e.moto.Clients(t)
	zone := newZone(t, clients.Route53)
	_, foreign := records(g, clients.Route53, zone)

	names := []string{"shop", "cart", "search"}
	var sets []*droverv1.ProdSet
	for _, name := range names {
		set := mirroredSet(name, zone)
		g.Expect(cp.Create(context.Background(), set)).To(Succeed())
		sets = append(sets, set)
	}
	lbs := (&ccm{}).serve(t, e, 6)

	// Every Prod: its service record at 100, its paths at 90/10 with health checks.
	prodsOf := func(g Gomega) map[string]*droverv1.Prod {
		list := &droverv1.ProdList{}
		g.Expect(cp.List(context.Background(), list, client.InNamespace(bed.Namespace))).To(Succeed())
		out := map[string]*droverv1.Prod{}
		for i := range list.Items {
			out[list.Items[i].Name] = &list.Items[i]
		}
		return out
	}
	want := func(g Gomega, prods map[string]*droverv1.Prod, weight func(p *droverv1.Prod) (int, int, int)) map[string]string {
		out := map[string]string{}
		for _, p := range prods {
			set := p.Labels[droverv1.ProdSetNameLabel]
			id := bed.Namespace + "/" + p.Name
			svc, oct, nlb := weight(p)
			g.Expect(p.Status.Endpoint).NotTo(BeNil())
			out["drover/"+id] = fmt.Sprintf("%d %s", svc, route53.ProdRecordName(set+".example.com", id))
			out["drover/"+id+"/octavia"] = fmt.Sprintf("%d %s hc", oct, lbs[p.Name].VIP)
			out["drover/"+id+"/nlb"] = fmt.Sprintf("%d %s hc", nlb, strings.ToLower(p.Status.Endpoint.NLBDNSName))
		}
		return out
	}
	steady := func(*droverv1.Prod) (int, int, int) { return 100, 90, 10 }
	g.Eventually(func(g Gomega) {
		prods := prodsOf(g)
		g.Expect(prods).To(HaveLen(6))
		ours, _ := records(g, clients.Route53, zone)
		g.Expect(ours).To(Equal(want(g, prods, steady)))
	}, 2*time.Minute, 500*time.Millisecond).Should(Succeed())

	// The steady state writes nothing to Route53 (nor to ELBv2): no request on the wire.
	dnsWrites := map[string]func() int{}
	for _, op := range []string{"ChangeResourceRecordSets", "CreateHealthCheck", "DeleteHealthCheck", "ChangeTagsForResource"} {
		dnsWrites[op] = e.requestsSince(cloudmetrics.Route53, op)
	}
	elbWritten := writes()
	time.Sleep(3 * pollInterval)
	for op, n := range dnsWrites {
		g.Expect(n()).To(BeZero(), "%s calls in the steady state", op)
	}
	g.Expect(elbWritten()).To(BeEmpty(), "ELBv2 write calls in the steady state")

	// Octavia's load balancer of one Prod fails: the NLB takes that Prod's traffic.
	var failed string
	for name := range lbs {
		if strings.HasPrefix(name, "shop-") {
			failed = name
			break
		}
	}
	e.octavia.SetOperatingStatus(t, octaviatest.LoadBalancerObject, lbs[failed].ID, "ERROR")
	split := func(p *droverv1.Prod) (int, int, int) {
		if p.Name == failed {
			return 100, 0, 100
		}
		return 100, 90, 10
	}
	g.Eventually(func(g Gomega) {
		ours, _ := records(g, clients.Route53, zone)
		g.Expect(ours).To(Equal(want(g, prodsOf(g), split)))
	}, settle, 250*time.Millisecond).Should(Succeed())
	e.octavia.SetOperatingStatus(t, octaviatest.LoadBalancerObject, lbs[failed].ID, "ONLINE")
	g.Eventually(func(g Gomega) {
		ours, _ := records(g, clients.Route53, zone)
		g.Expect(ours).To(Equal(want(g, prodsOf(g), steady)))
	}, settle, 250*time.Millisecond).Should(Succeed())

	// Draining w-1 evicts one Prod of each set: one change to the zone, as the proxy in
	// front of moto sees the requests.
	time.Sleep(2 * linger) // nothing else in flight
	changes := e.requestsSince(cloudmetrics.Route53, "ChangeResourceRecordSets")
	cm := builder.Maintenance(bed.Namespace, "upgrade-"+w1, w1, false)
	g.Expect(cp.Create(context.Background(), cm)).To(Succeed())
	evicted := func(p *droverv1.Prod) (int, int, int) {
		if p.Spec.ClusterRef.Name == w1 {
			return 0, 90, 10
		}
		return 100, 90, 10
	}
	g.Eventually(func(g Gomega) {
		got := &droverv1.ClusterMaintenance{}
		g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(cm), got)).To(Succeed())
		g.Expect(got.Status.Phase).To(Equal(droverv1.MaintenancePhase("Drained")))
		ours, _ := records(g, clients.Route53, zone)
		g.Expect(ours).To(Equal(want(g, prodsOf(g), evicted)))
	}, time.Minute, 250*time.Millisecond).Should(Succeed())
	g.Expect(changes()).To(Equal(1), "ChangeResourceRecordSets calls for the eviction of three Prods of three sets")
	deleteAndWait(t, cm, time.Minute)
	g.Eventually(func(g Gomega) {
		ours, _ := records(g, clients.Route53, zone)
		g.Expect(ours).To(Equal(want(g, prodsOf(g), steady)))
	}, time.Minute, 250*time.Millisecond).Should(Succeed())

	// Deleting the sets leaves nothing of drover's: records, health checks, NLBs.
	for _, set := range sets {
		deleteAndWait(t, set, 2*time.Minute)
	}
	ours, after := records(g, clients.Route53, zone)
	g.Expect(ours).To(BeEmpty())
	g.Expect(after).To(Equal(foreign), "foreign records")
	g.Eventually(func(g Gomega) {
		hcs, err := clients.Route53.ListHealthChecks(context.Background(), &r53sdk.ListHealthChecksInput{})
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(hcs.HealthChecks).To(BeEmpty())
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	nlb := readAWS(g, clients.ELBv2)
	g.Expect(nlb.LoadBalancers).To(BeEmpty())
	g.Expect(nlb.Targets).To(BeEmpty())
}
