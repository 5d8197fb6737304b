package prodset_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
)

// A set whose records Route53 refuses does not hold up the other sets of its zone: a
// drain of a cluster hosting Prods of both goes out for the healthy set within one retry
// of the refused change, and the poisoned set says why on its TrafficReady condition,
// with Route53's reason. Once what was wrong is fixed and the spec changes, it publishes
// at once.
func TestAPoisonedSetDoesNotHoldUpItsZone(t *testing.T) {
	g := NewWithT(t)
	calm := newSet(t, "calm", 3, nil)
	poison := newSet(t, "poison", 3, nil)
	calmNames := expectServing(g, calm, eu1, eu2, us1)
	poisonNames := expectServing(g, poison, eu1, eu2, us1)

	// Route53 refuses every change holding a record of the poisoned set's name, as it
	// does when a conflicting record of another type is there.
	const reason = "RRSet of type CNAME with DNS name poison.example.com. is not permitted because a conflicting RRSet of type A with the same DNS name already exists in zone example.com."
	dns.Proxy.Inject(awstest.Fault{Service: cloudmetrics.Route53, Operation: "ChangeResourceRecordSets", Kind: awstest.InvalidChangeBatch,
		Mentions: "poison.example.com", Message: reason})
	t.Cleanup(dns.Proxy.Clear)
	refusedBefore := dns.Proxy.Injected(awstest.InvalidChangeBatch, "", "")

	// Both sets evict their Prod of eu-1 at once: their weights share a batch.
	m := newMaintenance(t, "poisoned-zone", eu1, false)
	g.Eventually(func(g Gomega) {
		g.Expect(records(g, calm)).To(HaveKeyWithValue(recordID(calm, calmNames[eu1]), BeEquivalentTo(0)))
		got := getSet(g, calm)
		g.Expect(conditions.IsTrue(got, droverv1.ProdSetTrafficReadyCondition)).To(BeTrue(), "%v", conditions.Get(got, droverv1.ProdSetTrafficReadyCondition))
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed(), "the healthy set's eviction went out")
	g.Expect(dns.Proxy.Injected(awstest.InvalidChangeBatch, "", "")-refusedBefore).To(Equal(1),
		"one refused change, then the batch went again at once without the poisoned set")

	g.Eventually(func(g Gomega) {
		got := getSet(g, poison)
		c := conditions.Get(got, droverv1.ProdSetTrafficReadyCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(c.Reason).To(Equal(droverv1.ProdSetTrafficRefusedReason))
		g.Expect(c.Message).To(ContainSubstring(reason))
		g.Expect(got.Status.Traffic).NotTo(BeNil())
		g.Expect(got.Status.Traffic.RefusedTime).NotTo(BeNil())
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	expectEvent(g, poison, droverv1.ProdSetTrafficRefusedReason)
	g.Expect(records(g, poison)).To(HaveKeyWithValue(recordID(poison, poisonNames[eu1]), BeEquivalentTo(100)),
		"nothing of the refused change was written")
	// It does not try again every reconcile: each try would cost its zone a refused change.
	g.Consistently(func() int {
		return dns.Proxy.Injected(awstest.InvalidChangeBatch, "", "") - refusedBefore
	}, 5*time.Second, 500*time.Millisecond).Should(Equal(1))

	// Fixed, and the spec changed: it publishes at once.
	dns.Proxy.Clear()
	updateSet(g, poison, func(s *droverv1.ProdSet) { s.Spec.Traffic.TTL = 2 })
	g.Eventually(func(g Gomega) {
		g.Expect(records(g, poison)).To(HaveKeyWithValue(recordID(poison, poisonNames[eu1]), BeEquivalentTo(0)))
		got := getSet(g, poison)
		g.Expect(conditions.IsTrue(got, droverv1.ProdSetTrafficReadyCondition)).To(BeTrue(), "%v", conditions.Get(got, droverv1.ProdSetTrafficReadyCondition))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	deleteMaintenance(t, m)
}
