package prodset_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/builder"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/traffic"
)

// --- builders and helpers ---------------------------------------------------------------

func newSet(t *testing.T, name string, replicas int32, mutate func(*droverv1.ProdSet)) *droverv1.ProdSet {
	t.Helper()
	set := builder.ProdSet(bed.Namespace, name, builder.Replicas(replicas), builder.OnClusters(pool, "shop"),
		builder.Spread(region, 1), builder.Records(zone, name+".example.com", 1),
		// An endpoint for each Prod (dnsbed.OctaviaStandIn): Route53 records point at it.
		builder.LoadBalancer("lb-"+name),
		builder.Mutate(mutate))
	NewWithT(t).Expect(cp.Create(context.Background(), set)).To(Succeed())
	t.Cleanup(func() { deleteSet(t, set) })
	return set
}

// deleteSet deletes the set and waits until it, its Prods and its DNS records are gone.
func deleteSet(t *testing.T, set *droverv1.ProdSet) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	if err := cp.Delete(ctx, set); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	g.Eventually(func(g Gomega) {
		err := cp.Get(ctx, client.ObjectKeyFromObject(set), &droverv1.ProdSet{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "ProdSet %s still there: %v", set.Name, err)
		g.Expect(prodsOf(g, set)).To(BeEmpty())
	}, 120*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(records(g, set)).To(BeEmpty(), "deleting the set removes its records")
}

func service(set *droverv1.ProdSet) traffic.Service {
	return traffic.Service{Zone: zone, Name: set.Spec.Traffic.RecordName}
}

// records are the weights Route53 holds for the set's Prods, by record id.
func records(g Gomega, set *droverv1.ProdSet) map[string]int32 {
	recs, err := dns.Records(service(set))
	g.Expect(err).NotTo(HaveOccurred())
	return recs
}

func getSet(g Gomega, set *droverv1.ProdSet) *droverv1.ProdSet {
	out := &droverv1.ProdSet{}
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(set), out)).To(Succeed())
	return out
}

func updateSet(g Gomega, set *droverv1.ProdSet, mutate func(*droverv1.ProdSet)) {
	g.Eventually(func() error {
		got := &droverv1.ProdSet{}
		if err := cp.Get(context.Background(), client.ObjectKeyFromObject(set), got); err != nil {
			return err
		}
		mutate(got)
		return cp.Update(context.Background(), got)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

func prodsOf(g Gomega, set *droverv1.ProdSet) []droverv1.Prod {
	list := &droverv1.ProdList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace),
		client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name})).To(Succeed())
	// The set's own: another author may label a Prod with the set's name.
	var own []droverv1.Prod
	for _, p := range list.Items {
		if metav1.IsControlledBy(&p, set) {
			own = append(own, p)
		}
	}
	return own
}

// byCluster maps cluster -> Prod name of the set's Prods (one per cluster here).
func byCluster(g Gomega, set *droverv1.ProdSet) map[string]string {
	out := map[string]string{}
	for _, p := range prodsOf(g, set) {
		g.Expect(out).NotTo(HaveKey(p.Spec.ClusterRef.Name), "two Prods on cluster %s", p.Spec.ClusterRef.Name)
		out[p.Spec.ClusterRef.Name] = p.Name
	}
	return out
}

func uids(g Gomega, set *droverv1.ProdSet) map[string]string {
	out := map[string]string{}
	for _, p := range prodsOf(g, set) {
		out[p.Name] = string(p.UID)
	}
	return out
}

func recordID(set *droverv1.ProdSet, prod string) string {
	return prodset.RecordID(set.Namespace, prod)
}

// expectServing waits until the set has exactly the Prods on clusters, all available and
// published at weight 100, and nothing else in DNS.
func expectServing(g Gomega, set *droverv1.ProdSet, clusters ...string) map[string]string {
	var names map[string]string
	g.Eventually(func(g Gomega) {
		names = byCluster(g, set)
		g.Expect(slices.Collect(maps.Keys(names))).To(ConsistOf(clusters))
		want := map[string]int32{}
		for _, n := range names {
			want[recordID(set, n)] = 100
		}
		g.Expect(records(g, set)).To(Equal(want))
		got := getSet(g, set)
		g.Expect(got.Status.ServingReplicas).To(BeEquivalentTo(len(clusters)))
		g.Expect(conditions.IsTrue(got, droverv1.ProdSetTrafficReadyCondition)).To(BeTrue(), "%v", conditions.Get(got, droverv1.ProdSetTrafficReadyCondition))
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed())
	return names
}

func setClusterLabel(g Gomega, name, key, value string) {
	g.Eventually(func() error {
		c := &clusterv1.Cluster{}
		if err := cp.Get(context.Background(), client.ObjectKey{Namespace: bed.Namespace, Name: name}, c); err != nil {
			return err
		}
		c.Labels[key] = value
		return cp.Update(context.Background(), c)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
}

// minPublished replays every DNS change of the service and returns the fewest records
// with a weight above 0 after any change made once at least floor of them were up: at
// no moment may the set have been served by fewer.
func minPublished(set *droverv1.ProdSet, floor int) int {
	records := map[string]int32{}
	lowest, started := -1, false
	prefix := set.Namespace + "/" + set.Name + "-"
	for _, change := range dns.Changes() {
		mine := false
		for _, w := range change {
			if len(w.ID) > len(prefix) && w.ID[:len(prefix)] == prefix {
				mine = true
				if w.Remove {
					delete(records, w.ID)
				} else {
					records[w.ID] = w.Weight
				}
			}
		}
		if !mine {
			continue
		}
		up := 0
		for _, w := range records {
			if w > 0 {
				up++
			}
		}
		if up >= floor {
			started = true
		}
		if started && (lowest < 0 || up < lowest) {
			lowest = up
		}
	}
	return lowest
}

func expectEvent(g Gomega, obj client.Object, reason string) {
	list := &eventsv1.EventList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Reason == reason {
			return
		}
	}
	g.Expect(fmt.Errorf("no %s event for %s", reason, obj.GetName())).NotTo(HaveOccurred())
}

// --- tests -----------------------------------------------------------------------------

func TestReplicasAreSpreadAndStable(t *testing.T) {
	g := NewWithT(t)
	// us-2 is not in the pool at first.
	setClusterLabel(g, us2, pool, "spare")
	t.Cleanup(func() { setClusterLabel(NewWithT(t), us2, pool, "shop") })

	set := newSet(t, "spread", 3, nil)
	torn := watchTornStatus(t, set)
	names := expectServing(g, set, eu1, eu2, us1)
	g.Expect(names).To(HaveKeyWithValue(eu1, "spread-eu-1"), "Prods are named after their set and cluster")
	before := uids(g, set)
	got := getSet(g, set)
	g.Expect(conditions.IsTrue(got, droverv1.ProdSetPlacedCondition)).To(BeTrue())
	g.Expect(conditions.IsTrue(got, droverv1.ProdSetAvailableCondition)).To(BeTrue())
	g.Expect(got.Status.Prods).To(HaveLen(3))
	logUnpublished(t, got)
	for _, p := range got.Status.Prods {
		g.Expect(p.Version).To(Equal("v1"))
		g.Expect(p.Weight).To(HaveValue(BeEquivalentTo(100)), "status.prods[%s].weight", p.Name)
		g.Expect(p.PublishedWeight).To(HaveValue(BeEquivalentTo(100)), "status.prods[%s].publishedWeight", p.Name)
		g.Expect(p.Available).To(Equal(metav1.ConditionTrue))
	}

	// A new cluster joins the pool: nothing running moves.
	setClusterLabel(g, us2, pool, "shop")
	g.Consistently(func(g Gomega) {
		g.Expect(uids(g, set)).To(Equal(before))
	}, 4*time.Second, 500*time.Millisecond).Should(Succeed())

	// Scaling up uses it; the running Prods stay.
	updateSet(g, set, func(s *droverv1.ProdSet) { s.Spec.Replicas = ptr.To[int32](4) })
	expectServing(g, set, eu1, eu2, us1, us2)
	for name, uid := range before {
		g.Expect(uids(g, set)).To(HaveKeyWithValue(name, uid))
	}

	// Scaling down drains before it deletes, and keeps one per region.
	updateSet(g, set, func(s *droverv1.ProdSet) { s.Spec.Replicas = ptr.To[int32](2) })
	expectServing(g, set, eu1, us1)
	for _, gone := range []string{"spread-eu-2", "spread-us-2"} {
		zeroed, removed := -1, -1
		for i, change := range dns.Changes() {
			for _, w := range change {
				if w.ID == recordID(set, gone) && !w.Remove && w.Weight == 0 && zeroed < 0 {
					zeroed = i
				}
				if w.ID == recordID(set, gone) && w.Remove {
					removed = i
				}
			}
		}
		g.Expect(zeroed).To(BeNumerically(">=", 0), "%s was taken to weight 0", gone)
		g.Expect(removed).To(BeNumerically(">", zeroed), "%s's record goes after its weight was 0", gone)
	}
	g.Expect(torn()).To(BeEmpty(), "every version of the set's status a watcher saw was whole")

	// Without a RolloutPolicy a new template reaches every Prod at once, and the set
	// keeps a Release of it too: who changed the template, its one step, how it ended.
	var v2 string
	g.Eventually(func() error {
		got := getSet(g, set)
		got.Spec.Template.Spec.Version = "v2"
		v2 = prodset.Revision(&got.Spec.Template)
		return cp.Update(context.Background(), got, client.FieldOwner("app-team"))
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		list := &droverv1.ReleaseList{}
		g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace),
			client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name, droverv1.ReleaseLabel: v2})).To(Succeed())
		g.Expect(list.Items).To(HaveLen(1))
		rel := list.Items[0]
		g.Expect(rel.StartedBy).To(Equal("app-team"))
		g.Expect(rel.Version).To(Equal("v2"))
		g.Expect(rel.Outcome).To(Equal(droverv1.ReleaseCompleted), "message: %s", rel.Message)
		g.Expect(rel.Steps).To(HaveLen(1))
		g.Expect(rel.Steps[0].Name).To(Equal("at once"))
		g.Expect(rel.Steps[0].Prods).To(HaveLen(2))
		for _, p := range getSet(g, set).Status.Prods {
			g.Expect(p.Version).To(Equal("v2"))
		}
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
}

// watchTornStatus watches the set for the rest of the test and returns what every version
// of it a watcher saw got wrong: TrafficReady True while a DNS change is still in flight
// or a Prod's weight is still pending. The status is written in one request, so no reader
// ever sees a condition from one reconcile beside the traffic of the last.
func watchTornStatus(t *testing.T, set *droverv1.ProdSet) func() []string {
	t.Helper()
	return harness.WatchVersions(t, bed.ControlPlane.Config, cp.Scheme(), &droverv1.ProdSetList{}, client.ObjectKeyFromObject(set),
		func(got *droverv1.ProdSet) []string {
			if !conditions.IsTrue(got, droverv1.ProdSetTrafficReadyCondition) {
				return nil
			}
			var wrong []string
			if got.Status.Traffic != nil && got.Status.Traffic.ChangeID != "" {
				wrong = append(wrong, "change "+got.Status.Traffic.ChangeID+" in flight")
			}
			for _, p := range got.Status.Prods {
				if p.PendingWeight != nil {
					wrong = append(wrong, p.Name+"'s weight pending")
				}
			}
			if len(wrong) == 0 {
				return nil
			}
			return []string{fmt.Sprintf("resourceVersion %s: TrafficReady True with %s", got.ResourceVersion, strings.Join(wrong, ", "))}
		})
}

// logUnpublished logs the set's status and every DNS change when a Prod of it has no
// published weight although the set said its traffic was ready (seen once in CI under
// load and not reproduced since: the log is what tells why).
func logUnpublished(t *testing.T, set *droverv1.ProdSet) {
	t.Helper()
	for _, p := range set.Status.Prods {
		if p.PublishedWeight != nil {
			continue
		}
		status, _ := json.MarshalIndent(set.Status, "", "  ")
		t.Logf("%s has no published weight; the set's status:\n%s", p.Name, status)
		for i, c := range dns.Changes() {
			t.Logf("DNS change %d: %+v", i+1, c)
		}
		return
	}
}

func TestUnreachableClusterIsEvictedThenReplacedAndCleanedUp(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	toleration := 15 * time.Second
	set := newSet(t, "failover", 3, func(s *droverv1.ProdSet) {
		s.Spec.Placement.UnreachableToleration = &metav1.Duration{Duration: toleration}
	})
	names := expectServing(g, set, eu1, eu2, us1)
	unreachableProd := names[us1]

	w := bed.Workload(us1)
	// The API server refuses connections early in its shutdown, so the clock starts
	// before the stop: drover may see it unreachable before StopAPIServer returns.
	stopped := time.Now()
	g.Expect(w.StopAPIServer()).To(Succeed())
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = w.StartAPIServer()
		}
	})

	// Out of traffic at once, reversibly: the Prod stays, its weight goes to 0.
	g.Eventually(func(g Gomega) {
		g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, unreachableProd), int32(0)))
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed(), "an unreachable cluster's Prods leave traffic within 30s")
	t.Logf("weight 0 submitted to DNS %s after the API server began to stop", time.Since(stopped).Round(100*time.Millisecond))
	// The status that says why follows the DNS change within the same reconcile.
	g.Eventually(func(g Gomega) {
		sum := summaryOf(g, set, unreachableProd)
		g.Expect(sum.Evicted).To(Equal(droverv1.EvictedClusterUnreachable))
		g.Expect(sum.PublishedWeight).To(HaveValue(BeEquivalentTo(0)))
		expectEvent(g, set, "Evicted")
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	t.Logf("weight 0 in sync in DNS %s after the API server began to stop", time.Since(stopped).Round(100*time.Millisecond))

	// Replaced after the toleration, on the spare cluster; the unreachable cluster's Prod
	// is kept.
	g.Eventually(func(g Gomega) {
		names := byCluster(g, set)
		g.Expect(names).To(HaveKey(us2))
		g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, names[us2]), int32(100)))
	}, toleration+60*time.Second, 250*time.Millisecond).Should(Succeed())
	replacedAfter := time.Since(stopped)
	g.Expect(replacedAfter).To(BeNumerically(">=", toleration), "not replaced before the toleration")
	t.Logf("replacement serving %s after the API server began to stop (toleration %s)", replacedAfter.Round(100*time.Millisecond), toleration)
	old := &droverv1.Prod{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: unreachableProd}, old)).To(Succeed())
	g.Expect(old.DeletionTimestamp.IsZero()).To(BeTrue(), "nothing is deleted on a cluster while it is unreachable")
	g.Expect(old.Annotations).To(HaveKey(droverv1.SupersededAnnotation))
	g.Consistently(func(g Gomega) {
		g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: unreachableProd}, old)).To(Succeed())
		g.Expect(old.DeletionTimestamp.IsZero()).To(BeTrue())
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	// The cluster returns: the superseded Prod is retired there, cleanly.
	g.Expect(w.StartAPIServer()).To(Succeed())
	restarted = true
	expectServing(g, set, eu1, eu2, us2)
	g.Eventually(func(g Gomega) {
		err := w.Client.Get(ctx, client.ObjectKey{Namespace: set.Name, Name: "settings"}, &corev1.ConfigMap{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the superseded Prod's objects are deleted from the returning cluster: %v", err)
	}, 60*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(minPublished(set, 2)).To(BeNumerically(">=", 2), "never fewer than the serving minimum in DNS")
}

func TestFreezeWhenMostClustersAreUnreachable(t *testing.T) {
	g := NewWithT(t)
	set := newSet(t, "freeze", 2, func(s *droverv1.ProdSet) {
		s.Spec.Placement.UnreachableToleration = &metav1.Duration{Duration: 8 * time.Second}
	})
	names := expectServing(g, set, eu1, us1)
	before := records(g, set)
	prods := uids(g, set)

	// Three of four clusters become unreachable at once, as when the control plane loses
	// its network.
	unreachable := []string{eu1, eu2, us2}
	errs := make(chan error, len(unreachable))
	for _, c := range unreachable {
		go func() { errs <- bed.Workload(c).StopAPIServer() }()
	}
	for range unreachable {
		g.Expect(<-errs).To(Succeed())
	}
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			for _, c := range unreachable {
				_ = bed.Workload(c).StartAPIServer()
			}
		}
	})
	g.Eventually(func(g Gomega) {
		got := getSet(g, set)
		g.Expect(conditions.IsTrue(got, droverv1.ProdSetFrozenCondition)).To(BeTrue())
		g.Expect(conditions.GetMessage(got, droverv1.ProdSetFrozenCondition)).To(ContainSubstring("3 of 4 selected clusters are unreachable"))
		expectEvent(g, set, "Frozen")
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	// Past the grace and the toleration: nothing changes.
	g.Consistently(func(g Gomega) {
		g.Expect(records(g, set)).To(Equal(before))
		g.Expect(uids(g, set)).To(Equal(prods))
		for _, n := range names {
			p := &droverv1.Prod{}
			g.Expect(cp.Get(context.Background(), client.ObjectKey{Namespace: set.Namespace, Name: n}, p)).To(Succeed())
			g.Expect(p.Annotations).NotTo(HaveKey(droverv1.SupersededAnnotation))
			g.Expect(p.DesiredWeight()).To(BeEquivalentTo(100))
		}
	}, 15*time.Second, 500*time.Millisecond).Should(Succeed())

	for _, c := range unreachable {
		g.Expect(bed.Workload(c).StartAPIServer()).To(Succeed())
	}
	restarted = true
	g.Eventually(func(g Gomega) {
		g.Expect(conditions.IsFalse(getSet(g, set), droverv1.ProdSetFrozenCondition)).To(BeTrue())
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	expectServing(g, set, eu1, us1)
	g.Expect(uids(g, set)).To(Equal(prods))
}

func TestAProdOfItsOwnIsNeverTakenOver(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	cm, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings"}})
	own := &droverv1.Prod{
		ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "own-eu-1"},
		Spec: droverv1.ProdSpec{ClusterRef: droverv1.ClusterReference{Name: eu1}, ProdTemplateSpec: droverv1.ProdTemplateSpec{
			Version: "mine", TargetNamespace: "own", Manifests: []runtime.RawExtension{{Raw: cm}},
		}},
	}
	g.Expect(cp.Create(ctx, own)).To(Succeed())
	t.Cleanup(func() {
		_ = cp.Delete(ctx, own)
		NewWithT(t).Eventually(func() bool {
			return apierrors.IsNotFound(cp.Get(ctx, client.ObjectKeyFromObject(own), &droverv1.Prod{}))
		}, 60*time.Second, 250*time.Millisecond).Should(BeTrue())
	})

	// Another author's Prod that claims, by the label the set's Prods carry, to be one
	// of the set's: the set lists its Prods by that label (an index), and must still
	// take only those it controls.
	decoy := own.DeepCopy()
	decoy.ObjectMeta = metav1.ObjectMeta{Namespace: bed.Namespace, Name: "decoy-eu-1", Labels: map[string]string{droverv1.ProdSetNameLabel: "own"}}
	decoy.Spec.Version, decoy.Spec.TargetNamespace = "decoy", "decoy"
	g.Expect(cp.Create(ctx, decoy)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(ctx, decoy) })

	// The set's first Prod would be "own-eu-1" on eu-1: it takes the next name, and a
	// target namespace of its own.
	set := newSet(t, "own", 1, nil)
	names := expectServing(g, set, eu1)
	g.Expect(names[eu1]).To(Equal("own-eu-1-1"))
	p := &droverv1.Prod{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: names[eu1]}, p)).To(Succeed())
	g.Expect(p.Spec.TargetNamespace).To(Equal("own-1"))
	g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(own), own)).To(Succeed())
	g.Expect(own.Labels).NotTo(HaveKey(droverv1.ProdSetNameLabel))
	g.Expect(own.OwnerReferences).To(BeEmpty())
	g.Expect(own.Spec.Version).To(Equal("mine"))
	g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(decoy), decoy)).To(Succeed())
	g.Expect(decoy.OwnerReferences).To(BeEmpty())
	g.Expect(decoy.Spec.Version).To(Equal("decoy"))
	g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(set), set)).To(Succeed())
	for _, sum := range set.Status.Prods {
		g.Expect(sum.Name).NotTo(Equal(decoy.Name), "the set counts another author's Prod as its own")
	}
}
