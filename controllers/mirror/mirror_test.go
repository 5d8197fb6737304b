package mirror_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbsdk "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

// A Prod with a mirror gets an NLB that matches its Octavia load balancer and follows
// it: members added and removed in one poll interval with only the calls needed, no
// write at all in the steady state, nothing changed while Octavia cannot be read or
// answers a member list that would empty a target group, hand-made drift corrected, and
// nothing left in AWS once the Prod is deleted.
func TestMirrorFollowsOctavia(t *testing.T) {
	g := NewWithT(t)
	e := start(t)
	elb := e.moto.Clients(t).ELBv2
	lb := e.octavia.CreateLoadBalancer(t, twoPools("mirror-a"))
	e.octavia.SetOperatingStatus(t, octaviatest.LoadBalancerObject, lb.ID, "ONLINE")

	prod := mirroredProd("mirror-a", lb.ID)
	key := client.ObjectKeyFromObject(prod)
	torn := watchSyncedWithoutEndpoint(t, key)
	g.Expect(cp.Create(context.Background(), prod)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), prod) })

	// 1. The NLB, its listeners, target groups and targets match Octavia.
	wantAPI := []string{"10.1.0.1:8443", "10.1.0.2:8443", "10.1.0.3:8443"}
	wantWeb := []string{"10.1.1.1:8080", "10.1.1.2:8080"}
	g.Eventually(func(g Gomega) {
		c := prodCondition(g, key, droverv1.ProdMirrorSyncedCondition)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "MirrorSynced: %+v", c)
		p := getProd(g, key)
		g.Expect(p.Status.Endpoint).NotTo(BeNil())
		g.Expect(p.Status.Endpoint.NLBARN).NotTo(BeEmpty())
		g.Expect(p.Status.Endpoint.NLBDNSName).NotTo(BeEmpty())
		g.Expect(p.Status.Endpoint.VIP).To(Equal(lb.VIP))
		g.Expect(p.Status.Endpoint.OctaviaStatus).To(Equal("ONLINE"))
		g.Expect(p.Status.Mirror.TargetGroups).To(HaveLen(2))
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	nlb := readAWS(g, elb)
	g.Expect(nlb.LoadBalancers).To(HaveLen(1))
	g.Expect(nlb.Listeners).To(Equal([]string{"TCP:443", "TCP:80"}))
	g.Expect(nlb.Targets).To(Equal(map[int32][]string{443: wantAPI, 80: wantWeb}))
	g.Expect(nlb.HealthChecks[80]).To(Equal("HTTP /healthz"), "the web pool's HTTP monitor")
	g.Expect(nlb.HealthChecks[443]).To(HavePrefix("TCP"), "the API pool has no monitor")
	g.Expect(torn()).To(BeEmpty(), "versions of the Prod that said the mirror was synced without its endpoint")

	// 2. The steady state writes nothing: the sync after the one that made the NLB finds
	// it in sync, and two more syncs write nothing. (Counted in syncs, not in poll
	// intervals: under load a poll comes late.)
	g.Eventually(func(g Gomega) {
		g.Expect(getProd(g, key).Status.Mirror.Outcome).To(Equal(droverv1.ProdMirrorInSyncReason))
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	steady := writes()
	steadySyncs := syncsSince(droverv1.ProdMirrorInSyncReason)
	g.Eventually(steadySyncs, 60*time.Second, 250*time.Millisecond).Should(BeNumerically(">=", 2), "syncs in the steady state")
	g.Expect(steady()).To(BeEmpty(), "write calls in the steady state")

	// 3. A member added and one removed: mirrored by the first sync that reads the
	// change, with one register and one deregister call and nothing else. (Proven by
	// counting syncs, not by a clock: Octavia is made unreadable while it changes, so no
	// sync sees half of the change, and after that no sync may find the NLB in sync. The
	// time it took is logged; docs/traffic.md records it.)
	changed := writes()
	e.proxy.Inject(octaviatest.Fault{Method: "GET", Path: "/loadbalancers/*", Kind: octaviatest.Status, Status: 503})
	e.octavia.AddMember(t, lb.Listeners[0].PoolID, octaviatest.MemberSpec{Address: "10.1.0.4", Port: 8443})
	e.octavia.RemoveMember(t, lb.Listeners[0].PoolID, lb.Listeners[0].MemberIDs[0])
	wantAPI = []string{"10.1.0.2:8443", "10.1.0.3:8443", "10.1.0.4:8443"}
	inSyncSince := syncsSince(droverv1.ProdMirrorInSyncReason)
	e.proxy.Clear()
	mark := time.Now()
	g.Eventually(func(g Gomega) {
		g.Expect(readAWS(g, elb).Targets[443]).To(Equal(wantAPI))
	}, settle, 100*time.Millisecond).Should(Succeed())
	t.Logf("membership change mirrored %s after Octavia could be read again (poll interval %s)", time.Since(mark).Round(10*time.Millisecond), pollInterval)
	g.Expect(inSyncSince()).To(BeZero(), "syncs that found the NLB in sync after Octavia changed: the change waited for more than one sync")
	g.Eventually(changed, 2*time.Second).Should(Equal(map[string]int{"RegisterTargets": 1, "DeregisterTargets": 1}))

	// 4. Octavia failing to list members changes nothing in AWS. (Members are listed
	// when something changed: a member is added.)
	e.proxy.Inject(octaviatest.Fault{Method: "GET", Path: "/pools/*/members", Kind: octaviatest.Status, Status: 500})
	outage := writes()
	e.octavia.AddMember(t, lb.Listeners[1].PoolID, octaviatest.MemberSpec{Address: "10.1.1.3", Port: 8080})
	g.Eventually(func(g Gomega) {
		g.Expect(getProd(g, key).Status.Mirror.Outcome).To(Equal(droverv1.ProdMirrorOctaviaUnavailableReason))
	}, settle, 100*time.Millisecond).Should(Succeed())
	time.Sleep(2 * pollInterval)
	g.Expect(outage()).To(BeEmpty(), "write calls while Octavia cannot be read")
	g.Expect(readAWS(g, elb).Targets[80]).To(Equal(wantWeb))
	c := prodCondition(g, key, droverv1.ProdMirrorSyncedCondition)
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(c.Message).To(ContainSubstring("nothing was changed in AWS"))
	e.proxy.Clear()
	wantWeb = []string{"10.1.1.1:8080", "10.1.1.2:8080", "10.1.1.3:8080"}
	g.Eventually(func(g Gomega) {
		g.Expect(readAWS(g, elb).Targets[80]).To(Equal(wantWeb))
	}, settle, 100*time.Millisecond).Should(Succeed())

	// 5. A pool list that would empty the target groups (no member ids) trips the guard.
	e.proxy.Inject(octaviatest.Fault{Method: "GET", Path: "/pools", Kind: octaviatest.EmptyMembers})
	g.Eventually(func(g Gomega) {
		c := prodCondition(g, key, droverv1.ProdMirrorSyncedCondition)
		g.Expect(c.Reason).To(Equal(droverv1.ProdMirrorBlockedReason))
		g.Expect(c.Message).To(ContainSubstring(droverv1.AllowTargetRemovalAnnotation))
	}, settle, 100*time.Millisecond).Should(Succeed())
	blocked := writes()
	time.Sleep(pollInterval)
	g.Expect(blocked()).To(BeEmpty(), "write calls while the guard holds the sync")
	g.Expect(readAWS(g, elb).Targets[443]).To(Equal(wantAPI))
	g.Expect(eventReasons(g, prod)).To(ContainElement("MirrorBlocked"))
	e.proxy.Clear()
	g.Eventually(func(g Gomega) {
		g.Expect(getProd(g, key).Status.Mirror.Outcome).To(Equal(droverv1.ProdMirrorInSyncReason))
	}, settle, 100*time.Millisecond).Should(Succeed())

	// 6. Drift made by hand in AWS is corrected: a target deregistered and a health check
	// edited behind drover's back.
	before := getProd(g, key).Status.Mirror.DriftCorrections
	tgs, err := elb.DescribeTargetGroups(context.Background(), &elbsdk.DescribeTargetGroupsInput{})
	g.Expect(err).NotTo(HaveOccurred())
	for _, tg := range tgs.TargetGroups {
		switch aws.ToInt32(tg.Port) {
		case 443:
			_, err = elb.DeregisterTargets(context.Background(), &elbsdk.DeregisterTargetsInput{TargetGroupArn: tg.TargetGroupArn,
				Targets: []types.TargetDescription{{Id: aws.String("10.1.0.2"), Port: aws.Int32(8443)}}})
		case 80:
			_, err = elb.ModifyTargetGroup(context.Background(), &elbsdk.ModifyTargetGroupInput{TargetGroupArn: tg.TargetGroupArn, HealthCheckPath: aws.String("/by-hand")})
		}
		g.Expect(err).NotTo(HaveOccurred())
	}
	g.Eventually(func(g Gomega) {
		nlb := readAWS(g, elb)
		g.Expect(nlb.Targets[443]).To(Equal(wantAPI))
		g.Expect(nlb.HealthChecks[80]).To(Equal("HTTP /healthz"))
		g.Expect(getProd(g, key).Status.Mirror.DriftCorrections).To(BeNumerically(">", before))
	}, settle, 100*time.Millisecond).Should(Succeed())
	g.Expect(eventReasons(g, prod)).To(ContainElement("MirrorDriftCorrected"))

	// 7. Deleting the Prod leaves nothing in AWS.
	deleteAndWait(t, prod, 60*time.Second)
	nlb = readAWS(g, elb)
	g.Expect(nlb.LoadBalancers).To(BeEmpty())
	g.Expect(nlb.Targets).To(BeEmpty(), "target groups left")
}
