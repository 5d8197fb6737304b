package rollouts_test

import (
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// A release engineer stops the line with a Freeze: a release shipped meanwhile waits,
// saying for what, and goes out once the freeze is deleted. A one-off freeze ends by
// itself. The platform team freezes one cluster: the release moves the other Prods and
// holds the one there until the ClusterFreeze is gone.
func TestFreezesHoldTheLine(t *testing.T) {
	g := NewWithT(t)
	newPolicy(t, "frozen", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "canary", Count: ptr.To(intstr.FromInt32(1))},
			{Name: "rest", MaxParallel: ptr.To(intstr.FromInt32(1))},
		},
	})
	ps := newSet(t, "frozen", "frozen", 4)
	prods := byCluster(g, ps)
	revisions := func(g Gomega) map[string]string {
		out := map[string]string{}
		for _, p := range getSet(g, ps).Status.Prods {
			out[p.Name] = p.Version
		}
		return out
	}

	// Until deleted.
	friday := &droverv1.Freeze{ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "friday"},
		Spec: droverv1.FreezeSpec{FreezeTime: droverv1.FreezeTime{Reason: "no releases on Friday evening"}, ProdSets: []string{ps.Name}}}
	g.Expect(cp.Create(ctx(), friday)).To(Succeed())
	v2 := ship(t, ps, "v2")
	g.Eventually(func(g Gomega) {
		ro := getSet(g, ps).Status.Rollout
		g.Expect(ro).NotTo(BeNil())
		g.Expect(ro.Revision).To(Equal(v2))
		g.Expect(ro.Message).To(ContainSubstring("frozen by Freeze " + bed.Namespace + "/friday (no releases on Friday evening) until it is deleted"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		for name, v := range revisions(g) {
			g.Expect(v).To(Equal("v1"), "%s moved under the freeze", name)
		}
	}, 3*time.Second, 250*time.Millisecond).Should(Succeed())
	expectSetEvent(g, ps, "RolloutFrozen", "frozen by Freeze "+bed.Namespace+"/friday")
	g.Expect(cp.Delete(ctx(), friday)).To(Succeed())
	expectSetEvent(g, ps, "RolloutUnfrozen", "revision "+v2+": no freeze holds the rollout any more")
	waitPhase(t, ps, v2, droverv1.RolloutSucceeded, 120*time.Second)

	// A Freeze of another namespace naming the set holds nothing here: a team cannot stop
	// another's releases. (It stays for the rest of the test, which ships twice more.)
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "elsewhere"}}
	g.Expect(client.IgnoreAlreadyExists(cp.Create(ctx(), other))).To(Succeed())
	foreign := &droverv1.Freeze{ObjectMeta: metav1.ObjectMeta{Namespace: other.Name, Name: "theirs"},
		Spec: droverv1.FreezeSpec{FreezeTime: droverv1.FreezeTime{Reason: "another team's freeze"}, ProdSets: []string{ps.Name}}}
	g.Expect(cp.Create(ctx(), foreign)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(ctx(), foreign) })

	// A one-off freeze of 8 s, for every set of the namespace: it ends by itself.
	end := metav1.NewTime(time.Now().Add(8 * time.Second))
	brief := &droverv1.Freeze{ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "brief"},
		Spec: droverv1.FreezeSpec{FreezeTime: droverv1.FreezeTime{Reason: "a database migration", End: &end}}}
	g.Expect(cp.Create(ctx(), brief)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(ctx(), brief) })
	v3 := ship(t, ps, "v3")
	s := waitPhase(t, ps, v3, droverv1.RolloutSucceeded, 120*time.Second)
	g.Expect(s.Status.Rollout.FinishedTime.Time).To(BeTemporally(">=", end.Truncate(time.Second)), "the release finished before the freeze ended")

	// The platform team freezes the cluster eu-1.
	cf := &droverv1.ClusterFreeze{ObjectMeta: metav1.ObjectMeta{Name: "eu-1-upgrade"},
		Spec: droverv1.ClusterFreezeSpec{FreezeTime: droverv1.FreezeTime{Reason: "upgrading eu-1"}, Clusters: []string{clusterOf(eu1)}}}
	g.Expect(cp.Create(ctx(), cf)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(ctx(), cf) })
	v4 := ship(t, ps, "v4")
	g.Eventually(func(g Gomega) {
		r := revisions(g)
		for cluster, name := range prods {
			if cluster != eu1 {
				g.Expect(r[name]).To(Equal("v4"), name)
			}
		}
		ro := getSet(g, ps).Status.Rollout
		g.Expect(ro.Message).To(ContainSubstring(prods[eu1] + " held: frozen by ClusterFreeze eu-1-upgrade (upgrading eu-1)"))
	}, 120*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(revisions(g)[prods[eu1]]).To(Equal("v3"), "the Prod on the frozen cluster moved")
	g.Expect(cp.Delete(ctx(), cf)).To(Succeed())
	waitPhase(t, ps, v4, droverv1.RolloutSucceeded, 120*time.Second)
	g.Expect(revisions(g)[prods[eu1]]).To(Equal("v4"))
}

// clusterOf is the namespace/name of the Cluster API Cluster of the named workload.
func clusterOf(name string) string {
	for _, w := range bed.Workloads {
		if w.Name == name {
			return w.Cluster.Namespace + "/" + w.Cluster.Name
		}
	}
	return ""
}
