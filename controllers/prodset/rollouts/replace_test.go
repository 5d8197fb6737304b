package rollouts_test

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/dnsbed"
)

// Replace: new-version Prods are made beside the old ones, the traffic moves to them,
// and the old ones stay warm for the rollback window, so a rollback is one weight
// change. After the window the old ones go.
func TestReplaceKeepsTheOldVersionWarmForARollback(t *testing.T) {
	g := NewWithT(t)
	newPolicy(t, "blue-green", droverv1.RolloutPolicySpec{
		Strategy: droverv1.ReplaceStrategy, RollbackWindow: &metav1.Duration{Duration: 15 * time.Second},
		Steps: []droverv1.RolloutStep{{Name: "eu", Selector: regionIs("eu")}, {Name: "rest"}},
	})
	set := newSet(t, "blue", "blue-green", 2)
	originals := byCluster(g, set)
	v1 := getSet(g, set).Status.CurrentRevision
	changes := len(dns.Changes())

	v2 := ship(t, set, "v2")
	waitPhase(t, set, v2, droverv1.RolloutSucceeded, 90*time.Second)
	prods := prodsByName(g, set)
	g.Expect(prods).To(HaveLen(4), "two originals, warm, and two replacements")
	for cluster, orig := range originals {
		p := prods[orig]
		g.Expect(p.Labels[droverv1.RevisionLabel]).To(Equal(v1))
		g.Expect(p.DesiredWeight()).To(BeEquivalentTo(0), "%s is warm, out of traffic", orig)
		var rep *droverv1.Prod
		for _, q := range prods {
			if q.Labels[droverv1.ReplacesLabel] == orig {
				rep = q
			}
		}
		g.Expect(rep).NotTo(BeNil(), "a replacement of %s", orig)
		g.Expect(rep.Spec.ClusterRef.Name).To(Equal(cluster))
		g.Expect(rep.Spec.TargetNamespace).To(Equal("blue-1"), "beside the original, in its own namespace")
		g.Expect(rep.Labels[droverv1.RevisionLabel]).To(Equal(v2))
		g.Expect(rep.DesiredWeight()).To(BeEquivalentTo(100))
	}
	// Route53 holds the rollout's end: the originals warm at 0, the replacements at 100.
	// (Succeeded is reported once the replacements are available, before the traffic
	// has moved in Route53, even before it was submitted: wait for it.)
	want := map[string]int32{}
	for name, p := range prods {
		want[set.Namespace+"/"+name] = 0
		if p.Labels[droverv1.ReplacesLabel] != "" {
			want[set.Namespace+"/"+name] = 100
		}
	}
	g.Eventually(func(g Gomega) {
		g.Expect(records(g, set)).To(Equal(want))
		g.Expect(getSet(g, set).Status.Traffic.ChangeID).To(BeEmpty(), "a change of the set in flight")
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// The serving count never dipped: every Prod had its replacement in traffic before
	// it left.
	before, history := weightHistory(set, changes)
	for _, records := range append([]map[string]int32{before}, history...) {
		up := 0
		for _, w := range records {
			if w > 0 {
				up++
			}
		}
		g.Expect(up).To(BeNumerically(">=", 2), "records %v", records)
	}

	// Within the window, a rollback is one DNS change: the originals take the traffic
	// back. With Route53 keeping the change PENDING for 3 s, the rollback is not
	// reported done before Route53 says the change is INSYNC.
	changes = len(dns.Changes())
	var replacements []string
	for name, p := range prods {
		if p.Labels[droverv1.ReplacesLabel] != "" {
			replacements = append(replacements, set.Namespace+"/"+name)
		}
	}
	g.Expect(replacements).To(HaveLen(2))
	const slow = 3 * time.Second
	dns.Proxy.Propagation(slow)
	t.Cleanup(func() { dns.Proxy.Propagation(propagation) })
	asked := time.Now()
	command(t, set, "rollback")
	rolledBack := dnsbed.WaitReported(t, "the rollback", func() bool {
		s := &droverv1.ProdSet{}
		return cp.Get(ctx(), client.ObjectKeyFromObject(set), s) == nil && s.Status.Rollout != nil &&
			s.Status.Rollout.Revision == v2 && s.Status.Rollout.Phase == droverv1.RolloutRolledBack
	}, func() (awstest.Route53Change, bool) { return dns.WeightChange(replacements[0], 0, asked) }, 0, slow)
	dns.Proxy.Propagation(propagation)
	expectOneChange(t, set, rolledBack.Submitted, replacements...)
	t.Logf("rollback: change submitted %s after the request, INSYNC %s later, RolledBack seen %s after INSYNC",
		rolledBack.Submitted.Sub(asked).Round(time.Millisecond), rolledBack.ReportedInSync.Sub(rolledBack.Submitted).Round(time.Millisecond),
		rolledBack.Reported.Sub(rolledBack.ReportedInSync).Round(time.Millisecond))
	s := waitPhase(t, set, v2, droverv1.RolloutRolledBack, 60*time.Second)
	g.Expect(s.Status.Rollout.RollbackLatency).NotTo(BeNil())
	t.Logf("rollback of a Replace rollout: traffic change submitted %s after the request", s.Status.Rollout.RollbackLatency.Duration)
	// The change that brought the originals back (after any change of the rollout still
	// going out when it said Succeeded: it reports that once the replacements are
	// available, not once the originals' weight 0 is INSYNC).
	_, history = weightHistory(set, changes)
	back := slices.IndexFunc(history, func(r map[string]int32) bool {
		return slices.ContainsFunc(slices.Collect(maps.Values(originals)), func(o string) bool { return r[o] > 0 })
	})
	g.Expect(back).To(BeNumerically(">=", 0), "no change put an original back in traffic: %v", history)
	first := history[back]
	for _, orig := range originals {
		g.Expect(first[orig]).To(BeEquivalentTo(100), "the originals are back in the first change: %v", first)
	}
	for name, w := range first {
		if _, isOrig := prods[name]; isOrig && prods[name].Labels[droverv1.ReplacesLabel] != "" {
			g.Expect(w).To(BeEquivalentTo(0), "%s leaves in the same change", name)
		}
	}
	g.Eventually(func(g Gomega) {
		g.Expect(prodsByName(g, set)).To(HaveLen(2), "the replacements are retired")
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	// v3, and after the window the originals go; the replacements are Prods like others.
	v3 := ship(t, set, "v3")
	waitPhase(t, set, v3, droverv1.RolloutSucceeded, 90*time.Second)
	g.Expect(prodsByName(g, set)).To(HaveLen(4))
	g.Eventually(func(g Gomega) {
		prods := prodsByName(g, set)
		g.Expect(prods).To(HaveLen(2))
		for _, p := range prods {
			g.Expect(p.Labels[droverv1.RevisionLabel]).To(Equal(v3))
			g.Expect(p.Labels).NotTo(HaveKey(droverv1.ReplacesLabel))
		}
		g.Expect(getSet(g, set).Status.ServingReplicas).To(BeEquivalentTo(2))
	}, 60*time.Second, 500*time.Millisecond).Should(Succeed())
}

func prodsByName(g Gomega, set *droverv1.ProdSet) map[string]*droverv1.Prod {
	list := &droverv1.ProdList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name})).To(Succeed())
	out := map[string]*droverv1.Prod{}
	for i := range list.Items {
		if list.Items[i].DeletionTimestamp.IsZero() {
			out[list.Items[i].Name] = &list.Items[i]
		}
	}
	return out
}
