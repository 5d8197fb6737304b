package mirror_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	r53sdk "github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cloud/awsclient"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
	"github.com/drover-dev/drover/internal/traffic/route53"
)

const (
	// faultAttempts is how many times the manager's AWS clients try a call: the
	// production default, so that a fault taking every attempt of a call is as rare
	// (or, for the first-N faults below, as certain) as in production.
	faultAttempts = awsclient.DefaultMaxAttempts
	// attemptTimeout is the manager's per-attempt AWS timeout in the fault tests: what
	// each Timeout and LostAnswer fault costs a call.
	attemptTimeout = time.Second
)

// stopwatch logs how long each phase of a test took.
func stopwatch(t *testing.T) func(phase string) {
	last := time.Now()
	return func(phase string) {
		t.Logf("%s: %s", phase, time.Since(last).Round(100*time.Millisecond))
		last = time.Now()
	}
}

// route53Writes are the Route53 operations that change something.
var route53Writes = []string{"ChangeResourceRecordSets", "CreateHealthCheck", "UpdateHealthCheck", "DeleteHealthCheck", "ChangeTagsForResource"}

// wireWrites counts the write requests the manager sent to AWS (every attempt,
// whatever its outcome), as the AWS fault proxy saw them.
func wireWrites(p *awstest.FaultProxy) func() map[string]int {
	count := func() map[string]int {
		out := map[string]int{}
		for _, op := range elbWrites {
			out[op] = p.Requests(cloudmetrics.ELBv2, op)
		}
		for _, op := range route53Writes {
			out[op] = p.Requests(cloudmetrics.Route53, op)
		}
		return out
	}
	before := count()
	return func() map[string]int {
		out := map[string]int{}
		for op, n := range count() {
			if d := n - before[op]; d != 0 {
				out[op] = d
			}
		}
		return out
	}
}

// awsResource is a load balancer or target group as moto holds it.
type awsResource struct {
	ARN, Name string
	Tags      map[string]string
	// Forwards are a load balancer's listeners, "PROTOCOL:port>target group ARN".
	Forwards []string
	// Targets are a target group's, "ip:port".
	Targets []string
}

// inventory is everything in moto that drover could have made, read with the SDK
// straight from moto (not through the proxy, not with drover's code).
type inventory struct {
	LoadBalancers []awsResource
	TargetGroups  []awsResource
	// HealthChecks are the tags of every health check, by id.
	HealthChecks map[string]map[string]string
}

func readInventory(g Gomega, c *awsclient.Clients) inventory {
	ctx := context.Background()
	inv := inventory{HealthChecks: map[string]map[string]string{}}
	tagsOf := func(arns []string) map[string]map[string]string {
		out := map[string]map[string]string{}
		for chunk := range slices.Chunk(arns, 20) {
			tags, err := c.ELBv2.DescribeTags(ctx, &elbsdk.DescribeTagsInput{ResourceArns: chunk})
			g.Expect(err).NotTo(HaveOccurred())
			for _, d := range tags.TagDescriptions {
				m := map[string]string{}
				for _, t := range d.Tags {
					m[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
				out[aws.ToString(d.ResourceArn)] = m
			}
		}
		return out
	}
	lbs, err := c.ELBv2.DescribeLoadBalancers(ctx, &elbsdk.DescribeLoadBalancersInput{})
	g.Expect(err).NotTo(HaveOccurred())
	var arns []string
	for _, lb := range lbs.LoadBalancers {
		arns = append(arns, aws.ToString(lb.LoadBalancerArn))
	}
	tags := tagsOf(arns)
	for _, lb := range lbs.LoadBalancers {
		r := awsResource{ARN: aws.ToString(lb.LoadBalancerArn), Name: aws.ToString(lb.LoadBalancerName), Tags: tags[aws.ToString(lb.LoadBalancerArn)]}
		ls, err := c.ELBv2.DescribeListeners(ctx, &elbsdk.DescribeListenersInput{LoadBalancerArn: lb.LoadBalancerArn})
		g.Expect(err).NotTo(HaveOccurred())
		for _, l := range ls.Listeners {
			tg := ""
			if len(l.DefaultActions) > 0 {
				tg = aws.ToString(l.DefaultActions[0].TargetGroupArn)
			}
			r.Forwards = append(r.Forwards, fmt.Sprintf("%s:%d>%s", l.Protocol, aws.ToInt32(l.Port), tg))
		}
		sort.Strings(r.Forwards)
		inv.LoadBalancers = append(inv.LoadBalancers, r)
	}
	tgs, err := c.ELBv2.DescribeTargetGroups(ctx, &elbsdk.DescribeTargetGroupsInput{})
	g.Expect(err).NotTo(HaveOccurred())
	arns = nil
	for _, tg := range tgs.TargetGroups {
		arns = append(arns, aws.ToString(tg.TargetGroupArn))
	}
	tags = tagsOf(arns)
	for _, tg := range tgs.TargetGroups {
		r := awsResource{ARN: aws.ToString(tg.TargetGroupArn), Name: aws.ToString(tg.TargetGroupName), Tags: tags[aws.ToString(tg.TargetGroupArn)], Targets: []string{}}
		th, err := c.ELBv2.DescribeTargetHealth(ctx, &elbsdk.DescribeTargetHealthInput{TargetGroupArn: tg.TargetGroupArn})
		g.Expect(err).NotTo(HaveOccurred())
		for _, d := range th.TargetHealthDescriptions {
			r.Targets = append(r.Targets, fmt.Sprintf("%s:%d", aws.ToString(d.Target.Id), aws.ToInt32(d.Target.Port)))
		}
		sort.Strings(r.Targets)
		inv.TargetGroups = append(inv.TargetGroups, r)
	}
	hcs, err := c.Route53.ListHealthChecks(ctx, &r53sdk.ListHealthChecksInput{})
	g.Expect(err).NotTo(HaveOccurred())
	var ids []string
	for _, hc := range hcs.HealthChecks {
		ids = append(ids, aws.ToString(hc.Id))
		inv.HealthChecks[aws.ToString(hc.Id)] = map[string]string{}
	}
	for chunk := range slices.Chunk(ids, 10) {
		out, err := c.Route53.ListTagsForResources(ctx, &r53sdk.ListTagsForResourcesInput{ResourceType: r53types.TagResourceTypeHealthcheck, ResourceIds: chunk})
		g.Expect(err).NotTo(HaveOccurred())
		for _, set := range out.ResourceTagSets {
			for _, t := range set.Tags {
				inv.HealthChecks[aws.ToString(set.ResourceId)][aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
	}
	return inv
}

// recordHealthChecks are the health check ids drover's records in zone use.
func recordHealthChecks(g Gomega, c *r53sdk.Client, zone string) []string {
	out, err := c.ListResourceRecordSets(context.Background(), &r53sdk.ListResourceRecordSetsInput{HostedZoneId: aws.String(zone)})
	g.Expect(err).NotTo(HaveOccurred())
	var ids []string
	for _, r := range out.ResourceRecordSets {
		if strings.HasPrefix(aws.ToString(r.SetIdentifier), route53.DefaultOwner+"/") && r.HealthCheckId != nil {
			ids = append(ids, aws.ToString(r.HealthCheckId))
		}
	}
	sort.Strings(ids)
	return ids
}

// octaviaMembers are the members of the Prod's Octavia load balancer's first pool,
// "ip:port", read from Octavia.
func octaviaMembers(t *testing.T, g Gomega, e *env, lb *octaviatest.LoadBalancer) []string {
	pages, err := pools.ListMembers(e.octavia.ServiceClient(t), lb.Listeners[0].PoolID, pools.ListMembersOpts{}).AllPages(context.Background())
	g.Expect(err).NotTo(HaveOccurred())
	ms, err := pools.ExtractMembers(pages)
	g.Expect(err).NotTo(HaveOccurred())
	out := []string{}
	for _, m := range ms {
		out = append(out, fmt.Sprintf("%s:%d", m.Address, m.ProtocolPort))
	}
	sort.Strings(out)
	return out
}

// Two ProdSets with NLB mirrors publish to Route53 while the proxy between the manager
// and moto throttles, fails, times out, loses answers of writes it did carry out and
// slows everything down. Everything converges: each Prod's NLB matches its Octavia load
// balancer, its records are at 100 and 90/10 with health checks, MirrorSynced is true;
// each fault kind really happened; moto holds exactly one NLB per Prod, one target
// group per pool, one health check per path, each used by one record, nothing untagged
// or of no Prod. With the faults off, the steady state sends no write. Deleting the sets
// under faults again leaves nothing of drover's in AWS.
func TestAWSFaultsConvergeWithoutLeftovers(t *testing.T) {
	g := NewWithT(t)
	e := start(t, func(o *awsclient.Options) {
		o.MaxAttempts, o.MaxBackoff, o.AttemptTimeout = faultAttempts, 100*time.Millisecond, attemptTimeout
	})
	direct := e.moto.Clients(t)
	zone := newZone(t, direct.Route53)
	_, foreign := records(g, direct.Route53, zone)

	const elb, r53 = cloudmetrics.ELBv2, cloudmetrics.Route53
	rates := []awstest.Fault{
		{Kind: awstest.Throttling, Rate: 0.2},
		{Kind: awstest.InternalFailure, Rate: 0.1},
		{Service: r53, Operation: "ChangeResourceRecordSets", Kind: awstest.PriorRequestNotComplete, Rate: 0.05},
		{Kind: awstest.Timeout, Rate: 0.02},
	}
	e.aws.Inject(awstest.Fault{Kind: awstest.Latency, Rate: 0.3, Delay: 150 * time.Millisecond})
	// Each kind at least once into each service, whatever the draws: Route53 gets few
	// requests.
	e.aws.Inject(
		awstest.Fault{Service: elb, Operation: "DescribeTargetGroups", Kind: awstest.Timeout, Times: 1},
		awstest.Fault{Service: r53, Operation: "ListResourceRecordSets", Kind: awstest.Timeout, Times: 1},
		awstest.Fault{Service: r53, Operation: "ListResourceRecordSets", Kind: awstest.Throttling, Times: 1},
		awstest.Fault{Service: r53, Operation: "GetChange", Kind: awstest.InternalFailure, Times: 1},
	)
	// The first of each creation is carried out and its answer lost; every attempt of
	// the first CreateHealthCheck call is, so that call fails with its health check made.
	e.aws.Inject(
		awstest.Fault{Service: elb, Operation: "CreateLoadBalancer", Kind: awstest.LostAnswer, Times: 1},
		awstest.Fault{Service: elb, Operation: "CreateTargetGroup", Kind: awstest.LostAnswer, Times: 1},
		awstest.Fault{Service: elb, Operation: "RegisterTargets", Kind: awstest.LostAnswer, Times: 1},
		awstest.Fault{Service: elb, Operation: "CreateListener", Kind: awstest.LostAnswer, Times: 1},
		awstest.Fault{Service: r53, Operation: "ChangeResourceRecordSets", Kind: awstest.LostAnswer, Times: 1},
		awstest.Fault{Service: r53, Operation: "CreateHealthCheck", Kind: awstest.LostAnswer, Times: faultAttempts},
		awstest.Fault{Service: r53, Operation: "ChangeResourceRecordSets", Kind: awstest.PriorRequestNotComplete, Times: 2},
	)
	e.aws.Inject(rates...)

	names := []string{"shop", "cart"}
	var sets []*droverv1.ProdSet
	for _, name := range names {
		set := mirroredSet(name, zone)
		g.Expect(cp.Create(context.Background(), set)).To(Succeed())
		t.Cleanup(func() { _ = cp.Delete(context.Background(), set) })
		sets = append(sets, set)
	}
	phase := stopwatch(t)
	lbs := (&ccm{}).serve(t, e, 4)
	phase("Octavia load balancers made")

	prodsOf := func(g Gomega) []droverv1.Prod {
		list := &droverv1.ProdList{}
		g.Expect(cp.List(context.Background(), list, client.InNamespace(bed.Namespace))).To(Succeed())
		return list.Items
	}
	wantRecords := func(g Gomega, prods []droverv1.Prod) map[string]string {
		out := map[string]string{}
		for _, p := range prods {
			g.Expect(p.Status.Endpoint).NotTo(BeNil())
			id := bed.Namespace + "/" + p.Name
			out["drover/"+id] = "100 " + route53.ProdRecordName(p.Labels[droverv1.ProdSetNameLabel]+".example.com", id)
			out["drover/"+id+"/octavia"] = fmt.Sprintf("90 %s hc", lbs[p.Name].VIP)
			out["drover/"+id+"/nlb"] = fmt.Sprintf("10 %s hc", strings.ToLower(p.Status.Endpoint.NLBDNSName))
		}
		return out
	}
	// converged: every Prod's mirror synced and its NLB's targets Octavia's members,
	// every record at its weight.
	converged := func(g Gomega) {
		prods := prodsOf(g)
		g.Expect(prods).To(HaveLen(4))
		inv := readInventory(g, direct)
		for _, p := range prods {
			c := prodCondition(g, client.ObjectKeyFromObject(&p), droverv1.ProdMirrorSyncedCondition)
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "MirrorSynced of %s: %+v", p.Name, c)
			g.Expect(p.Status.Endpoint).NotTo(BeNil())
			var targets []string
			for _, lb := range inv.LoadBalancers {
				if lb.ARN != p.Status.Endpoint.NLBARN {
					continue
				}
				for _, tg := range inv.TargetGroups {
					if slices.Contains(lb.Forwards, "TCP:80>"+tg.ARN) {
						targets = tg.Targets
					}
				}
			}
			g.Expect(targets).To(Equal(octaviaMembers(t, g, e, lbs[p.Name])), "targets of %s's NLB", p.Name)
		}
		ours, _ := records(g, direct.Route53, zone)
		g.Expect(ours).To(Equal(wantRecords(g, prods)))
	}
	g.Eventually(converged, 3*time.Minute, time.Second).Should(Succeed())
	phase("converged under faults")

	// Every kind of fault happened.
	e.aws.Clear()
	t.Logf("faults injected:\n%s", strings.Join(e.aws.Injections(), "\n"))
	for _, kind := range []awstest.FaultKind{awstest.Throttling, awstest.PriorRequestNotComplete, awstest.InternalFailure, awstest.Timeout, awstest.LostAnswer, awstest.Latency} {
		for _, svc := range []string{elb, r53} {
			if kind == awstest.PriorRequestNotComplete && svc == elb {
				continue
			}
			g.Expect(e.aws.Injected(kind, svc, "")).To(BeNumerically(">", 0), "%s injected into %s", kind, svc)
		}
	}
	for _, op := range []string{"CreateLoadBalancer", "CreateTargetGroup", "RegisterTargets", "CreateListener"} {
		g.Expect(e.aws.Injected(awstest.LostAnswer, elb, op)).To(Equal(1), "lost answers of %s", op)
	}
	g.Expect(e.aws.Injected(awstest.LostAnswer, r53, "CreateHealthCheck")).To(Equal(faultAttempts))
	g.Expect(e.aws.Injected(awstest.LostAnswer, r53, "ChangeResourceRecordSets")).To(Equal(1))

	// Nothing duplicated, nothing orphaned: per Prod one NLB with one listener, one
	// target group, two health checks, all tagged as the Prod's; every health check used
	// by exactly one record.
	prods := prodsOf(g)
	uids := map[string]string{}
	for _, p := range prods {
		uids[string(p.UID)] = p.Name
	}
	inv := readInventory(g, direct)
	perProd := func(rs []awsResource, what string) {
		count := map[string]int{}
		for _, r := range rs {
			g.Expect(r.Tags).To(HaveKeyWithValue(nlb.TagManagedBy, nlb.ManagedByValue), "%s %s", what, r.Name)
			g.Expect(r.Tags).To(HaveKeyWithValue(nlb.TagOwner, route53.DefaultOwner), "%s %s", what, r.Name)
			g.Expect(uids).To(HaveKey(r.Tags[nlb.TagProdUID]), "%s %s belongs to no Prod", what, r.Name)
			count[uids[r.Tags[nlb.TagProdUID]]]++
		}
		for _, p := range prods {
			g.Expect(count[p.Name]).To(Equal(1), "%ss of %s", what, p.Name)
		}
	}
	perProd(inv.LoadBalancers, "load balancer")
	perProd(inv.TargetGroups, "target group")
	for _, lb := range inv.LoadBalancers {
		g.Expect(lb.Forwards).To(HaveLen(1), "listeners of %s", lb.Name)
	}
	hcs := map[string]int{}
	for id, tags := range inv.HealthChecks {
		g.Expect(tags).To(HaveKeyWithValue(route53.TagOwner, route53.DefaultOwner), "health check %s", id)
		hcs[tags[route53.TagProd]+" "+tags[route53.TagPath]]++
	}
	g.Expect(hcs).To(HaveLen(2*len(prods)), "health checks by Prod and path: %v", hcs)
	for k, n := range hcs {
		g.Expect(n).To(Equal(1), "health checks of %s", k)
	}
	used := recordHealthChecks(g, direct.Route53, zone)
	g.Expect(used).To(ConsistOf(slices.Collect(maps.Keys(inv.HealthChecks))), "health checks in moto vs those drover's records use")

	// With the faults off, once every change is in and every mirror in sync, nothing is
	// written: not a retry, not a repair.
	g.Eventually(func(g Gomega) {
		for _, s := range sets {
			got := &droverv1.ProdSet{}
			g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(s), got)).To(Succeed())
			g.Expect(got.Status.Traffic).NotTo(BeNil())
			g.Expect(got.Status.Traffic.ChangeID).To(BeEmpty(), "%s has a DNS change in flight", s.Name)
		}
		for _, p := range prodsOf(g) {
			g.Expect(p.Status.Mirror).NotTo(BeNil())
			g.Expect(p.Status.Mirror.Outcome).To(Equal(droverv1.ProdMirrorInSyncReason), "mirror of %s", p.Name)
		}
	}, settle, 250*time.Millisecond).Should(Succeed())
	steady := wireWrites(e.aws)
	inSync := syncsSince(droverv1.ProdMirrorInSyncReason)
	g.Eventually(inSync, settle, 100*time.Millisecond).Should(BeNumerically(">=", 3*len(prods)), "mirror syncs")
	g.Expect(steady()).To(BeEmpty(), "write requests in the steady state")
	phase("steady state checked")

	// Deleting the sets under faults: lost answers of deletions, a health check whose
	// first deletion fails every attempt, and the rates.
	e.aws.Inject(
		awstest.Fault{Service: elb, Operation: "DeleteLoadBalancer", Kind: awstest.LostAnswer, Times: 1},
		awstest.Fault{Service: elb, Operation: "DeleteTargetGroup", Kind: awstest.LostAnswer, Times: 1},
		awstest.Fault{Service: r53, Operation: "ChangeResourceRecordSets", Kind: awstest.LostAnswer, Times: 1},
		awstest.Fault{Service: r53, Operation: "DeleteHealthCheck", Kind: awstest.InternalFailure, Times: faultAttempts},
	)
	e.aws.Inject(rates...)
	for _, set := range sets {
		g.Expect(cp.Delete(context.Background(), set)).To(Succeed())
	}
	for _, set := range sets {
		deleteAndWait(t, set, 3*time.Minute)
	}
	g.Eventually(func(g Gomega) {
		inv := readInventory(g, direct)
		g.Expect(inv.LoadBalancers).To(BeEmpty(), "load balancers left")
		g.Expect(inv.TargetGroups).To(BeEmpty(), "target groups left")
		g.Expect(inv.HealthChecks).To(BeEmpty(), "health checks left")
		ours, after := records(g, direct.Route53, zone)
		g.Expect(ours).To(BeEmpty(), "drover's records left")
		g.Expect(after).To(Equal(foreign), "foreign records")
	}, settle, time.Second).Should(Succeed())
	phase("deleted under faults")
	for _, op := range []string{"DeleteLoadBalancer", "DeleteTargetGroup"} {
		g.Expect(e.aws.Injected(awstest.LostAnswer, elb, op)).To(Equal(1), "lost answers of %s", op)
	}
	g.Expect(e.aws.Injected(awstest.LostAnswer, r53, "ChangeResourceRecordSets")).To(Equal(2), "lost answers of ChangeResourceRecordSets, both phases")
	g.Expect(e.aws.Injected(awstest.InternalFailure, r53, "DeleteHealthCheck")).To(BeNumerically(">=", faultAttempts))
	t.Logf("faults injected in all:\n%s", strings.Join(e.aws.Injections(), "\n"))
}

// An Octavia load balancer mid-change, and an Octavia that fails: with the worker
// stopped, a member added leaves the load balancer PENDING_UPDATE; then reading it
// answers 409; then the load balancer turns ACTIVE again but its members answer 500. Through all of it the mirror syncs (counted) and changes
// nothing in AWS; once Octavia answers, the first sync that reads it registers the new
// member, with one RegisterTargets and no other write. (The empty member list that
// trips the removal guard is TestMirrorFollowsOctavia's.)
func TestMirrorWaitsOutPendingAndFailingOctavia(t *testing.T) {
	g := NewWithT(t)
	e := start(t)
	phase := stopwatch(t)
	elb := e.moto.Clients(t).ELBv2
	lb := e.octavia.CreateLoadBalancer(t, octaviatest.LoadBalancerSpec{Name: "pending-a", Listeners: []octaviatest.ListenerSpec{
		{Name: "web", Protocol: "HTTP", Port: 80, Pool: &octaviatest.PoolSpec{Name: "web", Members: []octaviatest.MemberSpec{
			{Address: "10.3.0.1", Port: 8080}, {Address: "10.3.0.2", Port: 8080},
		}}},
	}})
	prod := mirroredProd("pending-a", lb.ID)
	key := client.ObjectKeyFromObject(prod)
	g.Expect(cp.Create(context.Background(), prod)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), prod) })
	before := []string{"10.3.0.1:8080", "10.3.0.2:8080"}
	g.Eventually(func(g Gomega) {
		g.Expect(prodCondition(g, key, droverv1.ProdMirrorSyncedCondition).Status).To(Equal(metav1.ConditionTrue))
		g.Expect(readAWS(g, elb).Targets[80]).To(Equal(before))
	}, settle, 250*time.Millisecond).Should(Succeed())
	unavailable := func(g Gomega, why string) {
		c := prodCondition(g, key, droverv1.ProdMirrorSyncedCondition)
		g.Expect(c.Reason).To(Equal(droverv1.ProdMirrorOctaviaUnavailableReason), "MirrorSynced: %+v", c)
		g.Expect(c.Message).To(ContainSubstring(why))
		g.Expect(c.Message).To(ContainSubstring("nothing was changed in AWS"))
	}
	phase("mirrored")
	held, heldOnWire := writes(), wireWrites(e.aws)

	// 1. PENDING_UPDATE: the worker stopped, a member added through the API.
	resume := e.octavia.PauseWorker(t)
	_, err := pools.CreateMember(context.Background(), e.octavia.ServiceClient(t), lb.Listeners[0].PoolID,
		pools.CreateMemberOpts{Address: "10.3.0.3", ProtocolPort: 8080}).Extract()
	g.Expect(err).NotTo(HaveOccurred())
	pending := syncsSince(droverv1.ProdMirrorOctaviaUnavailableReason)
	g.Eventually(func(g Gomega) { unavailable(g, "PENDING_UPDATE") }, settle, 100*time.Millisecond).Should(Succeed())
	g.Eventually(pending, settle, 100*time.Millisecond).Should(BeNumerically(">=", 2), "syncs that found the load balancer PENDING_UPDATE")
	phase("pending")

	// 2. Still pending, reading it fails: 409.
	conflict := octaviatest.Fault{Method: "GET", Path: "/loadbalancers/*", Kind: octaviatest.Status, Status: 409}
	e.proxy.Inject(conflict)
	g.Eventually(func(g Gomega) { unavailable(g, "409") }, settle, 100*time.Millisecond).Should(Succeed())
	g.Expect(e.proxy.Hits(conflict)).To(BeNumerically(">", 0))
	e.proxy.Clear()

	// 3. Its members cannot be read (500) while the worker comes back and the load
	// balancer turns ACTIVE with the new member.
	failure := octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Kind: octaviatest.Status, Status: 500}
	e.proxy.Inject(failure)
	resume()
	e.octavia.WaitActive(t, lb.ID)
	failing := syncsSince(droverv1.ProdMirrorOctaviaUnavailableReason)
	g.Eventually(failing, settle, 100*time.Millisecond).Should(BeNumerically(">=", 2), "syncs while the members cannot be read")
	g.Eventually(func(g Gomega) { unavailable(g, "500") }, settle, 100*time.Millisecond).Should(Succeed())
	g.Expect(e.proxy.Hits(failure)).To(BeNumerically(">", 0))
	g.Expect(held()).To(BeEmpty(), "ELBv2 writes while Octavia was pending or failing")
	g.Expect(heldOnWire()).To(BeEmpty(), "write requests while Octavia was pending or failing")
	g.Expect(readAWS(g, elb).Targets[80]).To(Equal(before))
	phase("409 and 500")

	// 4. Octavia answers: the first sync that reads it mirrors the member.
	changed := writes()
	inSync := syncsSince(droverv1.ProdMirrorInSyncReason)
	e.proxy.Clear()
	g.Eventually(func(g Gomega) {
		g.Expect(readAWS(g, elb).Targets[80]).To(Equal([]string{"10.3.0.1:8080", "10.3.0.2:8080", "10.3.0.3:8080"}))
		g.Expect(prodCondition(g, key, droverv1.ProdMirrorSyncedCondition).Status).To(Equal(metav1.ConditionTrue))
	}, settle, 100*time.Millisecond).Should(Succeed())
	g.Expect(inSync()).To(BeZero(), "syncs that found the NLB in sync after Octavia answered again")
	g.Eventually(changed, 2*time.Second).Should(Equal(map[string]int{"RegisterTargets": 1}))
	phase("converged")
	deleteAndWait(t, prod, time.Minute)
	phase("deleted")
}
