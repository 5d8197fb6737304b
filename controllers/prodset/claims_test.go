package prodset_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/dnsbed"
)

// trafficReady is the set's TrafficReady condition once it has reason.
func trafficReason(g Gomega, set *droverv1.ProdSet, reason string) *metav1.Condition {
	var c *metav1.Condition
	g.Eventually(func(g Gomega) {
		c = conditions.Get(getSet(g, set), droverv1.ProdSetTrafficReadyCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(reason), "%s", c.Message)
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	return c
}

// A record name in a zone belongs to the first ProdSet that publishes under it. A second
// set asking for it publishes nothing and says why, while the first keeps serving; once the
// first is gone, the name is free and the second takes it.
func TestOneRecordNameOneSet(t *testing.T) {
	g := NewWithT(t)
	shared := func(s *droverv1.ProdSet) { s.Spec.Traffic.RecordName = "shared.example.com" }
	first := newSet(t, "first", 3, shared)
	firstNames := expectServing(g, first, eu1, eu2, us1)
	g.Expect(getSet(g, first).Status.Traffic.ClaimedName).To(Equal(zone + "/shared.example.com"))
	before := records(g, first)

	second := newSet(t, "second", 3, shared)
	c := trafficReason(g, second, droverv1.ProdSetNameClaimedReason)
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(c.Message).To(ContainSubstring("record shared.example.com in hosted zone " + zone + " belongs to ProdSet first"))
	expectEvent(g, second, droverv1.ProdSetNameClaimedReason)
	g.Consistently(func(g Gomega) {
		g.Expect(records(g, first)).To(Equal(before), "the name's records are the first set's only")
		g.Expect(getSet(g, second).Status.Traffic).To(Or(BeNil(), HaveField("ClaimedName", BeEmpty())))
	}, 4*time.Second, 500*time.Millisecond).Should(Succeed())
	for _, n := range firstNames {
		g.Expect(before).To(HaveKey(recordID(first, n)))
	}

	// The first goes; its records with it. The name is free: the second takes it.
	g.Expect(cp.Delete(context.Background(), first)).To(Succeed())
	g.Eventually(func(g Gomega) {
		err := cp.Get(context.Background(), client.ObjectKeyFromObject(first), &droverv1.ProdSet{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "ProdSet first still there: %v", err)
	}, 120*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		got := getSet(g, second)
		g.Expect(conditions.IsTrue(got, droverv1.ProdSetTrafficReadyCondition)).To(BeTrue(), "%v", conditions.Get(got, droverv1.ProdSetTrafficReadyCondition))
		g.Expect(got.Status.Traffic.ClaimedName).To(Equal(zone + "/shared.example.com"))
		recs := records(g, second)
		g.Expect(recs).To(HaveLen(3))
		for id := range recs {
			g.Expect(id).To(HavePrefix(second.Namespace+"/second-"), "only the second set's records are left")
		}
	}, 90*time.Second, 500*time.Millisecond).Should(Succeed())
}

// A namespace's Tenant says which hosted zones and record names its sets may use; the
// defaults may use any zone no Tenant lists. A set that may not publishes nothing, and a
// set whose Tenant stops allowing its name takes its records out of DNS.
func TestTenantsBoundRecordNames(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	dnsTenant := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "dns-test"}, Spec: droverv1.TenantSpec{
		HostedZones:     []droverv1.TenantHostedZone{{ID: zone, RecordNames: []string{"*.tenant.example.com"}}},
		OctaviaProjects: []string{dnsbed.StandInProject},
	}}
	g.Expect(cp.Create(ctx, dnsTenant)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(ctx, dnsTenant) })

	// The defaults may not publish in a zone a Tenant lists.
	squat := newSet(t, "squat", 3, func(s *droverv1.ProdSet) { s.Spec.Traffic.RecordName = "squat.tenant.example.com" })
	c := trafficReason(g, squat, droverv1.ProdSetTrafficNotPermittedReason)
	g.Expect(c.Message).To(ContainSubstring("a Tenant lists that zone"))
	g.Expect(records(g, squat)).To(BeEmpty())
	deleteSet(t, squat)

	// The suite's namespace joins the Tenant: its sets may publish below tenant.example.com.
	setNamespaceTenant(t, bed.Namespace, "dns-test")
	allowed := newSet(t, "allowed", 3, func(s *droverv1.ProdSet) { s.Spec.Traffic.RecordName = "allowed.tenant.example.com" })
	expectServing(g, allowed, eu1, eu2, us1)
	elsewhere := newSet(t, "elsewhere", 3, func(s *droverv1.ProdSet) { s.Spec.Traffic.RecordName = "elsewhere.example.com" })
	c = trafficReason(g, elsewhere, droverv1.ProdSetTrafficNotPermittedReason)
	g.Expect(c.Message).To(ContainSubstring("no record name or suffix the Tenant lists for that zone matches it"))
	g.Expect(records(g, elsewhere)).To(BeEmpty())

	// The Tenant stops allowing the name: the set takes its records out of DNS.
	g.Eventually(func() error {
		cur := &droverv1.Tenant{}
		if err := cp.Get(ctx, client.ObjectKeyFromObject(dnsTenant), cur); err != nil {
			return err
		}
		cur.Spec.HostedZones[0].RecordNames = []string{"*.other.example.com"}
		return cp.Update(ctx, cur)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	// The Tenant's change wakes the set: well within its resync (a minute).
	g.Eventually(func(g Gomega) {
		c := conditions.Get(getSet(g, allowed), droverv1.ProdSetTrafficReadyCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(droverv1.ProdSetTrafficNotPermittedReason), "%s", c.Message)
		g.Expect(records(g, allowed)).To(BeEmpty())
	}, 20*time.Second, 250*time.Millisecond).Should(Succeed())
}

// setNamespaceTenant labels a control-plane namespace with a Tenant until the test ends.
func setNamespaceTenant(t *testing.T, namespace, tenant string) {
	t.Helper()
	ctx := context.Background()
	label := func(value *string) error {
		ns := &corev1.Namespace{}
		if err := cp.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
			return err
		}
		if value == nil {
			delete(ns.Labels, droverv1.TenantLabel)
		} else {
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			ns.Labels[droverv1.TenantLabel] = *value
		}
		return cp.Update(ctx, ns)
	}
	NewWithT(t).Eventually(func() error { return label(&tenant) }, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	t.Cleanup(func() {
		NewWithT(t).Eventually(func() error {
			if err := label(nil); err != nil && !apierrors.IsNotFound(err) {
				return err
			}
			return nil
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	})
}
