package mirror_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

// The mirror reads only what changed in Octavia (internal/cloud/octavia/change.go) and
// misses no change made through Octavia's API: a member's weight set to 0, its admin
// state down, its backup flag set, a member added, one removed; a member removed while
// the load balancer's and the pool's updated_at are put back (its id is gone from the
// pool list). A change that moved nothing the cheap reads look at (a weight changed and
// every updated_at put back in the database, which no API call can do) is mirrored by the
// next full read, FullRefresh after the last, whatever Octavia's answers say: what a
// tenant does in its project cannot keep a change from the NLB longer than that.
func TestMirrorSeesEveryMemberChange(t *testing.T) {
	g := NewWithT(t)
	const fullRefresh = 30 * time.Second
	e := startEnv(t, func(o *octavia.Options) { o.FullRefresh = fullRefresh }, nil)
	elb := e.moto.Clients(t).ELBv2
	var members []octaviatest.MemberSpec
	for i := range 6 {
		members = append(members, octaviatest.MemberSpec{Address: fmt.Sprintf("10.4.0.%d", i+1), Port: 8443})
	}
	lb := e.octavia.CreateLoadBalancer(t, octaviatest.LoadBalancerSpec{Name: "mirror-changes", Listeners: []octaviatest.ListenerSpec{
		{Name: "api", Protocol: "TCP", Port: 443, Pool: &octaviatest.PoolSpec{Name: "api", Members: members}},
	}})
	poolID, ids := lb.Listeners[0].PoolID, lb.Listeners[0].MemberIDs
	prod := mirroredProd("mirror-changes", lb.ID)
	key := client.ObjectKeyFromObject(prod)
	g.Expect(cp.Create(context.Background(), prod)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), prod) })

	targets := []string{"10.4.0.1:8443", "10.4.0.2:8443", "10.4.0.3:8443", "10.4.0.4:8443", "10.4.0.5:8443", "10.4.0.6:8443"}
	without := func(gone ...string) []string {
		var out []string
		for _, t := range targets {
			keep := true
			for _, g := range gone {
				keep = keep && t != g
			}
			if keep {
				out = append(out, t)
			}
		}
		targets = out
		return out
	}
	mirrored := func(step string, want []string) {
		t.Helper()
		mark := time.Now()
		g.Eventually(func(g Gomega) {
			g.Expect(readAWS(g, elb).Targets[443]).To(Equal(want))
			ms := getProd(g, key).Status.Mirror
			g.Expect(ms).NotTo(BeNil(), "status.mirror")
			g.Expect(ms.Outcome).To(BeElementOf(droverv1.ProdMirrorInSyncReason, droverv1.ProdMirrorChangedReason))
		}, settle, 100*time.Millisecond).Should(Succeed(), step)
		t.Logf("%s: mirrored %s after the change", step, time.Since(mark).Round(10*time.Millisecond))
	}
	mirrored("created", targets)

	// Through the API, each change in turn.
	sc := e.octavia.ServiceClient(t)
	update := func(i int, opts pools.UpdateMemberOpts) {
		t.Helper()
		_, err := pools.UpdateMember(context.Background(), sc, poolID, ids[i], opts).Extract()
		g.Expect(err).NotTo(HaveOccurred())
		e.octavia.WaitActive(t, lb.ID)
	}
	zero, yes, no := 0, true, false
	update(1, pools.UpdateMemberOpts{Weight: &zero})
	mirrored("weight 0", without("10.4.0.2:8443"))
	update(2, pools.UpdateMemberOpts{AdminStateUp: &no})
	mirrored("admin state down", without("10.4.0.3:8443"))
	update(3, pools.UpdateMemberOpts{Backup: &yes})
	mirrored("backup", without("10.4.0.4:8443"))
	one := 1
	update(1, pools.UpdateMemberOpts{Weight: &one})
	targets = append([]string{"10.4.0.1:8443", "10.4.0.2:8443"}, targets[1:]...)
	mirrored("weight 1 again", targets)
	added := e.octavia.AddMember(t, poolID, octaviatest.MemberSpec{Address: "10.4.0.7", Port: 8443})
	targets = append(targets, "10.4.0.7:8443")
	mirrored("a member added", targets)
	e.octavia.RemoveMember(t, poolID, ids[0])
	mirrored("a member removed", without("10.4.0.1:8443"))

	// hidden makes a change while Octavia cannot be read (so that no sync sees it before
	// it is hidden), then puts back the updated_at of the objects named.
	hidden := func(change func(), objs map[octaviatest.Object]string) {
		t.Helper()
		before := map[octaviatest.Object]time.Time{}
		for obj, id := range objs {
			before[obj] = e.octavia.UpdatedAt(t, obj, id, poolID)
		}
		fault := octaviatest.Fault{Method: "GET", Path: "/loadbalancers/*", Kind: octaviatest.Status, Status: 503}
		e.proxy.Inject(fault)
		change()
		for obj, id := range objs {
			e.octavia.SetUpdatedAt(t, obj, id, before[obj])
		}
		e.proxy.Clear()
	}

	// A member removed with the load balancer's and the pool's updated_at put back: the
	// pool list no longer has its id.
	hidden(func() { e.octavia.RemoveMember(t, poolID, added) },
		map[octaviatest.Object]string{octaviatest.LoadBalancerObject: lb.ID, octaviatest.PoolObject: poolID})
	mirrored("a member removed, updated_at put back", without("10.4.0.7:8443"))

	// A weight set to 0 with every updated_at put back: no cheap read sees it; the full
	// read does, at most FullRefresh after the last one.
	hidden(func() { update(5, pools.UpdateMemberOpts{Weight: &zero}) }, map[octaviatest.Object]string{
		octaviatest.LoadBalancerObject: lb.ID, octaviatest.PoolObject: poolID, octaviatest.MemberObject: ids[5],
	})
	mark := time.Now()
	g.Eventually(func(g Gomega) {
		g.Expect(readAWS(g, elb).Targets[443]).To(Equal(without("10.4.0.6:8443")))
	}, fullRefresh+settle, 250*time.Millisecond).Should(Succeed(), "a hidden change, until the full read")
	t.Logf("a change hidden from the cheap reads: mirrored %s after it (full refresh every %s)", time.Since(mark).Round(10*time.Millisecond), fullRefresh)
}
