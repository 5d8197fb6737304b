package prodset_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// safetyCondition waits until the set's SafetyRulesKept condition has reason and its
// message says each of says, and returns the set.
func safetyCondition(g Gomega, set *droverv1.ProdSet, reason string, says ...string) *droverv1.ProdSet {
	var got *droverv1.ProdSet
	g.Eventually(func(g Gomega) {
		got = getSet(g, set)
		c := conditions.Get(got, droverv1.ProdSetSafetyRulesKeptCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Reason).To(Equal(reason), "%s", c.Message)
		for _, s := range says {
			g.Expect(c.Message).To(ContainSubstring(s))
		}
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	return got
}

// eventMessage is the note of obj's newest event with reason; "" when it has none.
func eventMessage(g Gomega, obj client.Object, reason string) string {
	list := &eventsv1.EventList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	msg := ""
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Reason == reason {
			msg = e.Note
		}
	}
	return msg
}

// leastServing replays every DNS change of the set and returns the fewest of prods with
// a weight above 0 after any change made once one of them had one.
func leastServing(set *droverv1.ProdSet, prods ...string) int {
	ids := map[string]bool{}
	for _, p := range prods {
		ids[recordID(set, p)] = true
	}
	weights := map[string]int32{}
	lowest, started := -1, false
	for _, change := range dns.Changes() {
		touched := false
		for _, w := range change {
			if ids[w.ID] {
				touched = true
				weights[w.ID] = w.Weight
				if w.Remove {
					weights[w.ID] = 0
				}
			}
		}
		if !touched {
			continue
		}
		up := 0
		for _, w := range weights {
			if w > 0 {
				up++
			}
		}
		started = started || up > 0
		if started && (lowest < 0 || up < lowest) {
			lowest = up
		}
	}
	return lowest
}

// A region's last Prod is not taken out of traffic when its cluster stops answering:
// minServingPerTopology holds the eviction, the set says which rule, and the eviction
// goes once the replacement in the same region serves.
func TestSafetyRulesHoldAFailoverUntilTheRegionHasAReplacement(t *testing.T) {
	g := NewWithT(t)
	toleration := 10 * time.Second
	set := newSet(t, "guarded", 3, func(s *droverv1.ProdSet) {
		s.Spec.Placement.UnreachableToleration = &metav1.Duration{Duration: toleration}
		s.Spec.Safety = &droverv1.SafetyRules{MinServingPerTopology: []droverv1.TopologyMinimum{{TopologyKey: region, MinServing: 1}}}
	})
	names := expectServing(g, set, eu1, eu2, us1)
	safetyCondition(g, set, droverv1.ProdSetSafetyKeptReason)

	w := bed.Workload(us1)
	g.Expect(w.StopAPIServer()).To(Succeed())
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = w.StartAPIServer()
		}
	})
	rule := "minServingPerTopology/" + region
	got := safetyCondition(g, set, droverv1.ProdSetSafetyHeldReason,
		"minServingPerTopology "+region+": 0 Prods would serve in "+region+"=us, below 1 (1 now)",
		names[us1]+" 100 -> 0", droverv1.SafetyOverrideAnnotation)
	g.Expect(got.Status.Safety).NotTo(BeNil())
	g.Expect(got.Status.Safety.Held).To(ConsistOf(droverv1.HeldMove{Prod: names[us1], Rule: rule, Weight: 0}))
	sum := summaryOf(g, got, names[us1])
	g.Expect(sum.Held).To(Equal(rule))
	g.Expect(sum.Evicted).To(Equal(droverv1.EvictedClusterUnreachable), "the set still wants it out")
	expectEvent(g, set, droverv1.ProdSetSafetyHeldReason)
	g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, names[us1]), int32(100)))

	// Replaced in the same region after the toleration: once the replacement serves, the
	// region keeps a Prod without the unreachable one, and the eviction goes.
	g.Eventually(func(g Gomega) {
		now := byCluster(g, set)
		g.Expect(now).To(HaveKey(us2))
		g.Expect(records(g, set)).To(And(
			HaveKeyWithValue(recordID(set, now[us2]), int32(100)),
			HaveKeyWithValue(recordID(set, names[us1]), int32(0))))
		names[us2] = now[us2]
	}, toleration+60*time.Second, 250*time.Millisecond).Should(Succeed())
	safetyCondition(g, set, droverv1.ProdSetSafetyKeptReason)
	g.Expect(leastServing(set, names[us1], names[us2])).To(Equal(1), "region us was never left without a Prod in DNS")

	g.Expect(w.StartAPIServer()).To(Succeed())
	restarted = true
	expectServing(g, set, eu1, eu2, us2)
}

// A drain that would take more replicas out than maxOut allows is refused, naming the
// rule, and nothing moves; the platform team's override on the ClusterMaintenance lets it
// through, recorded in an event and in the maintenance's status. The set does not hold
// the drain's evictions: they were judged at the admission.
func TestSafetyRulesRefuseADrainUntilThePlatformTeamOverrides(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	set := newSet(t, "capped", 3, func(s *droverv1.ProdSet) {
		s.Spec.Safety = &droverv1.SafetyRules{MaxOut: ptr.To[int32](0)}
	})
	names := expectServing(g, set, eu1, eu2, us1)
	before := records(g, set)

	m := newMaintenance(t, "eu-1-kernel", eu1, false)
	got := expectPhase(g, m, droverv1.MaintenanceRefused, 30*time.Second)
	g.Expect(conditions.GetReason(got, droverv1.MaintenanceAdmittedCondition)).To(Equal(droverv1.MaintenanceSafetyRuleReason))
	g.Expect(conditions.GetMessage(got, droverv1.MaintenanceAdmittedCondition)).To(And(
		ContainSubstring("refused by safety rules"),
		ContainSubstring("ProdSet default/capped: maxOut 0: 1 of 3 replicas would be out of traffic (0 now) ("+names[eu1]+" 100 -> 0)"),
		ContainSubstring(droverv1.SafetyOverrideAnnotation)))
	g.Consistently(func(g Gomega) {
		g.Expect(records(g, set)).To(Equal(before))
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	// An override without a reason is none.
	annotate(g, m, "  ")
	g.Eventually(func(g Gomega) {
		g.Expect(conditions.GetMessage(getMaintenance(g, m), droverv1.MaintenanceAdmittedCondition)).To(ContainSubstring("is no override: the override gives no reason"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(getMaintenance(g, m).Status.Phase).To(Equal(droverv1.MaintenanceRefused))

	annotate(g, m, "INC-4711: eu-1's hypervisor is failing")
	got = expectPhase(g, m, droverv1.MaintenanceDrained, 60*time.Second)
	g.Expect(got.Status.Overridden).To(And(ContainSubstring(`"INC-4711: eu-1's hypervisor is failing"`), ContainSubstring("maxOut 0")))
	g.Expect(conditions.GetMessage(got, droverv1.MaintenanceAdmittedCondition)).To(ContainSubstring("under the " + droverv1.SafetyOverrideAnnotation + " annotation"))
	g.Eventually(func(g Gomega) {
		msg := eventMessage(g, m, "SafetyOverride")
		g.Expect(msg).To(And(ContainSubstring("set by "), ContainSubstring("INC-4711"), ContainSubstring("maxOut 0")))
		g.Expect(msg).NotTo(ContainSubstring("set by unknown"), "the event names the field manager that set the override")
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, names[eu1]), int32(0)))
	// The set does not hold what the admission let through; it says the rule is broken.
	got2 := safetyCondition(g, set, droverv1.ProdSetSafetyBrokenReason, "maxOut 0: 1 of 3 replicas are out of traffic")
	g.Expect(got2.Status.Safety).To(BeNil())

	g.Expect(cp.Delete(ctx, m)).To(Succeed())
	expectServing(g, set, eu1, eu2, us1)
	safetyCondition(g, set, droverv1.ProdSetSafetyKeptReason)
}

// Scaling down would leave each remaining Prod more of the service than maxSharePercent
// allows: the retirement is held, with the Prod still in DNS and not deleted, until the
// set's own override lets it through, which an event records with the reason.
func TestSafetyRulesHoldARetirementUntilTheSetsOverride(t *testing.T) {
	g := NewWithT(t)
	set := newSet(t, "shared", 3, func(s *droverv1.ProdSet) {
		s.Spec.Safety = &droverv1.SafetyRules{MaxSharePercent: ptr.To[int32](40)}
	})
	expectServing(g, set, eu1, eu2, us1)
	updateSet(g, set, func(s *droverv1.ProdSet) { s.Spec.Replicas = ptr.To[int32](2) })
	got := safetyCondition(g, set, droverv1.ProdSetSafetyHeldReason, "maxSharePercent 40: one Prod would carry 50% of the service's weight (33% now)")
	g.Expect(got.Status.Safety.Held).To(HaveLen(1))
	retiring := got.Status.Safety.Held[0].Prod
	g.Expect(summaryOf(g, got, retiring).Evicted).To(Equal(droverv1.EvictedRetiring))
	g.Consistently(func(g Gomega) {
		g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, retiring), int32(100)))
		g.Expect(prodsOf(g, set)).To(HaveLen(3), "a Prod DNS still gives traffic is not deleted")
		g.Expect(getSet(g, set).Status.ServingReplicas).To(BeEquivalentTo(3), "a Prod held in DNS serves")
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	annotate(g, set, "fewer replicas for the winter; the two left carry 50% each")
	g.Eventually(func(g Gomega) {
		g.Expect(prodsOf(g, set)).To(HaveLen(2))
		g.Expect(records(g, set)).NotTo(HaveKey(recordID(set, retiring)))
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		msg := eventMessage(g, set, "SafetyOverride")
		g.Expect(msg).To(And(ContainSubstring("fewer replicas for the winter"), ContainSubstring(retiring+" 100 -> 0"), ContainSubstring("maxSharePercent 40")))
		g.Expect(msg).To(ContainSubstring("set by prodset.test"), "the event names the field manager that set the override")
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	safetyCondition(g, set, droverv1.ProdSetSafetyBrokenReason, "maxSharePercent 40: one Prod carries 50%", "the "+droverv1.SafetyOverrideAnnotation+" annotation is set")
}

// annotate sets obj's safety override to reason.
func annotate(g Gomega, obj client.Object, reason string) {
	g.Eventually(func() error {
		cur := obj.DeepCopyObject().(client.Object)
		if err := cp.Get(context.Background(), client.ObjectKeyFromObject(obj), cur); err != nil {
			return err
		}
		ann := cur.GetAnnotations()
		if ann == nil {
			ann = map[string]string{}
		}
		ann[droverv1.SafetyOverrideAnnotation] = reason
		cur.SetAnnotations(ann)
		return cp.Update(context.Background(), cur)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}
