package rollouts_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// An InPlace rollout takes each Prod out of traffic to update it. With maxOut 0 every
// such step is held: DNS keeps every Prod at 100, no Prod is updated, and the set names
// the rule, until the release engineer's override lets the steps through; the rollout
// then completes, and an event records the override's reason and what it let through.
func TestSafetyRulesHoldARolloutStepUntilOverridden(t *testing.T) {
	g := NewWithT(t)
	newPolicy(t, "one-by-one", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.PauseFailurePolicy,
		Steps: []droverv1.RolloutStep{{Name: "all", MaxParallel: ptr.To(intstr.FromInt32(1))}},
	})
	set := newSet(t, "kept", "one-by-one", 3)
	g.Eventually(func() error {
		s := &droverv1.ProdSet{}
		if err := cp.Get(ctx(), client.ObjectKeyFromObject(set), s); err != nil {
			return err
		}
		s.Spec.Safety = &droverv1.SafetyRules{MaxOut: ptr.To[int32](0)}
		return cp.Update(ctx(), s)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())

	v2 := ship(t, set, "v2")
	g.Eventually(func(g Gomega) {
		s := getSet(g, set)
		c := conditions.Get(s, droverv1.ProdSetSafetyRulesKeptCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(droverv1.ProdSetSafetyHeldReason), "%s", c.Message)
		g.Expect(c.Message).To(ContainSubstring("maxOut 0: 1 of 3 replicas would be out of traffic (0 now)"))
		g.Expect(s.Status.Rollout).NotTo(BeNil())
		g.Expect(s.Status.Rollout.Revision).To(Equal(v2))
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for id, w := range records(g, set) {
			g.Expect(w).To(BeEquivalentTo(100), "%s stays in DNS", id)
		}
		for _, p := range getSet(g, set).Status.Prods {
			g.Expect(p.Version).To(Equal("v1"), "no Prod is updated while it serves")
		}
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, droverv1.SafetyOverrideAnnotation, "CVE-2026-0001 fix must ship tonight")
	g.Expect(cp.Patch(context.Background(), set, client.RawPatch("application/merge-patch+json", patch))).To(Succeed())
	waitPhase(t, set, v2, droverv1.RolloutSucceeded, 180*time.Second)
	g.Eventually(func(g Gomega) {
		list := &eventsv1.EventList{}
		g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace))).To(Succeed())
		found := false
		for _, e := range list.Items {
			if e.Regarding.Name == set.Name && e.Reason == "SafetyOverride" {
				g.Expect(e.Note).To(And(ContainSubstring("CVE-2026-0001"), ContainSubstring("100 -> 0"), ContainSubstring("maxOut 0")))
				found = true
			}
		}
		g.Expect(found).To(BeTrue(), "a SafetyOverride event")
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
}
