package prodset_test

import (
	"context"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/builder"

	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/config/argocd"
)

func newMaintenance(t *testing.T, name, cluster string, surge bool) *droverv1.ClusterMaintenance {
	t.Helper()
	m := builder.Maintenance(bed.Namespace, name, cluster, surge)
	NewWithT(t).Expect(cp.Create(context.Background(), m)).To(Succeed())
	t.Cleanup(func() { deleteMaintenance(t, m) })
	return m
}

func getMaintenance(g Gomega, m *droverv1.ClusterMaintenance) *droverv1.ClusterMaintenance {
	out := &droverv1.ClusterMaintenance{}
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(m), out)).To(Succeed())
	return out
}

// deleteMaintenance deletes m and waits until drover let it go (the cluster's Prods are
// back in traffic).
func deleteMaintenance(t *testing.T, m *droverv1.ClusterMaintenance) {
	t.Helper()
	ctx := context.Background()
	if err := cp.Delete(ctx, m); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	NewWithT(t).Eventually(func() bool {
		return apierrors.IsNotFound(cp.Get(ctx, client.ObjectKeyFromObject(m), &droverv1.ClusterMaintenance{}))
	}, 60*time.Second, 250*time.Millisecond).Should(BeTrue(), "ClusterMaintenance %s not released", m.Name)
}

func expectPhase(g Gomega, m *droverv1.ClusterMaintenance, phase droverv1.MaintenancePhase, timeout time.Duration) *droverv1.ClusterMaintenance {
	var got *droverv1.ClusterMaintenance
	g.Eventually(func(g Gomega) {
		got = getMaintenance(g, m)
		g.Expect(got.Status.Phase).To(Equal(phase), "conditions: %+v", got.Status.Conditions)
	}, timeout, 250*time.Millisecond).Should(Succeed())
	return got
}

func TestMaintenanceRefusesThenSurgesDrainsAndRestores(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	set := newSet(t, "maint", 3, func(s *droverv1.ProdSet) {
		s.Spec.Placement.MinAvailable = ptrIntstr(intstr.FromInt32(3))
	})
	names := expectServing(g, set, eu1, eu2, us1)
	before := records(g, set)

	// Draining eu-1 would leave 2 serving, below minAvailable 3: refused, nothing changes.
	m := newMaintenance(t, "eu-1-upgrade", eu1, false)
	got := expectPhase(g, m, droverv1.MaintenanceRefused, 30*time.Second)
	g.Expect(conditions.IsFalse(got, droverv1.MaintenanceAdmittedCondition)).To(BeTrue())
	g.Expect(conditions.GetReason(got, droverv1.MaintenanceAdmittedCondition)).To(Equal(droverv1.MaintenanceRefusedReason))
	g.Expect(conditions.GetMessage(got, droverv1.MaintenanceAdmittedCondition)).To(And(
		ContainSubstring("ProdSet default/maint would have 2 serving Prods, below its minimum of 3"),
		ContainSubstring("spec.surge: true")))
	expectEvent(g, m, "Refused")
	g.Expect(kstatusOf(g, "ClusterMaintenance", m).Status).To(Equal(status.FailedStatus), "a refused drain is stalled until something changes")
	g.Consistently(func(g Gomega) {
		g.Expect(records(g, set)).To(Equal(before))
		g.Expect(prodsOf(g, set)).To(HaveLen(3))
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	// Told to surge: a stand-in on the spare cluster first, then the drain.
	g.Eventually(func() error {
		cur := getMaintenance(g, m)
		cur.Spec.Surge = true
		return cp.Update(ctx, cur)
	}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	got = expectPhase(g, m, droverv1.MaintenanceDrained, 90*time.Second)
	standIn := byCluster(g, set)[us2]
	g.Expect(standIn).NotTo(BeEmpty())
	p := &droverv1.Prod{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: standIn}, p)).To(Succeed())
	g.Expect(p.Labels).To(HaveKeyWithValue(droverv1.SurgeForLabel, eu1))
	g.Expect(records(g, set)).To(Equal(map[string]int32{
		recordID(set, names[eu1]): 0, recordID(set, names[eu2]): 100, recordID(set, names[us1]): 100, recordID(set, standIn): 100,
	}))
	g.Expect(conditions.IsTrue(got, droverv1.MaintenanceDrainedCondition)).To(BeTrue())
	g.Eventually(func(g Gomega) {
		g.Expect(kstatusOf(g, "ClusterMaintenance", m).Status).To(Equal(status.CurrentStatus))
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed(), "a drained maintenance is current")
	g.Expect(got.Status.Prods).To(ConsistOf(HaveField("Name", names[eu1])))
	g.Expect(got.Status.Prods[0].Drained).To(BeTrue())
	// Drained means weight 0 in sync plus one TTL (1s here).
	sum := summaryOf(g, set, names[eu1])
	g.Expect(got.Status.DrainedTime.Time).To(BeTemporally(">=", sum.PublishedTime.Add(time.Second)))
	expectEvent(g, m, "Drained")

	// Done: the Prod is back in traffic, the stand-in goes, the maintenance is released.
	deleteMaintenance(t, m)
	expectServing(g, set, eu1, eu2, us1)
	g.Expect(minPublished(set, 3)).To(BeNumerically(">=", 3), "never fewer than minAvailable in DNS")
}

func TestConcurrentMaintenancesKeepTheMinimum(t *testing.T) {
	g := NewWithT(t)
	// Default serving minimum: replicas - 1 = 2.
	set := newSet(t, "pair", 3, nil)
	names := expectServing(g, set, eu1, eu2, us1)

	first := newMaintenance(t, "first", eu1, false)
	expectPhase(g, first, droverv1.MaintenanceDrained, 60*time.Second)
	g.Eventually(func(g Gomega) {
		g.Expect(eventNotes(g, first, "Admitted")).To(ContainElement(ContainSubstring("draining cluster "+eu1+" (asked by prodset.test)")),
			"the drain's event names who created the maintenance")
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(records(g, set)).To(HaveKeyWithValue(recordID(set, names[eu1]), int32(0)))

	second := newMaintenance(t, "second", us1, false)
	got := expectPhase(g, second, droverv1.MaintenanceRefused, 30*time.Second)
	g.Expect(conditions.GetMessage(got, droverv1.MaintenanceAdmittedCondition)).To(ContainSubstring("would have 1 serving Prod, below its minimum of 2"))

	// The first one ends by Argo CD's restore action, as Git keeps the object: its
	// cluster comes back, the object stays, and the second may go.
	argoAction(g, first, "restore", true)
	restored := expectPhase(g, first, droverv1.MaintenanceRestored, 60*time.Second)
	g.Expect(restored.Status.RestoreTime).NotTo(BeNil())
	g.Expect(restored.Status.AdmittedTime).To(BeNil())
	g.Expect(restored.Finalizers).To(ContainElement(droverv1.ClusterMaintenanceFinalizer), "restored, not deleted")
	expectEvent(g, first, "RestoreRequested")
	g.Expect(kstatusOf(g, "ClusterMaintenance", first).Status).To(Equal(status.CurrentStatus), "a restored maintenance is done")
	expectPhase(g, second, droverv1.MaintenanceDrained, 60*time.Second)
	g.Expect(records(g, set)).To(And(
		HaveKeyWithValue(recordID(set, names[eu1]), int32(100)),
		HaveKeyWithValue(recordID(set, names[us1]), int32(0))))
	g.Expect(actionsOf(g, first)).To(Equal(map[string]bool{"restore": true, "drain": false}), "only drain is offered once restored")

	// Drained again by the drain action: admitted from scratch, so refused while the
	// second one holds us-1; it drains once the second is deleted.
	argoAction(g, first, "drain", false)
	got = expectPhase(g, first, droverv1.MaintenanceRefused, 30*time.Second)
	g.Expect(got.Status.RestoreTime).To(BeNil())
	expectEvent(g, first, "DrainRequested")
	deleteMaintenance(t, second)
	expectPhase(g, first, droverv1.MaintenanceDrained, 60*time.Second)
	g.Expect(records(g, set)).To(And(
		HaveKeyWithValue(recordID(set, names[eu1]), int32(0)),
		HaveKeyWithValue(recordID(set, names[us1]), int32(100))))
	deleteMaintenance(t, first)
	expectServing(g, set, eu1, eu2, us1)
	g.Expect(minPublished(set, 3)).To(BeNumerically(">=", 2))
}

// argoAction runs a ClusterMaintenance's Argo CD action on it as Argo CD does: the
// discovery script must offer it (enabled), and the object the action returns is
// written back under Argo CD's field manager.
func argoAction(g Gomega, m *droverv1.ClusterMaintenance, name string, wasDrained bool) {
	g.Eventually(func(g Gomega) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(droverv1.GroupVersion.WithKind("ClusterMaintenance"))
		g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(m), u)).To(Succeed())
		actions, err := argocd.Actions(u)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(actions).To(HaveKeyWithValue(name, false), "%s is offered (drained before: %v)", name, wasDrained)
		out, err := argocd.RunAction(u, name)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(cp.Update(context.Background(), out, client.FieldOwner("argocd-server"))).To(Succeed())
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
}

// eventNotes are the notes of obj's events with reason.
func eventNotes(g Gomega, obj client.Object, reason string) []string {
	list := &eventsv1.EventList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(obj.GetNamespace()))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == obj.GetName() && e.Reason == reason {
			out = append(out, e.Note)
		}
	}
	return out
}

func actionsOf(g Gomega, m *droverv1.ClusterMaintenance) map[string]bool {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(droverv1.GroupVersion.WithKind("ClusterMaintenance"))
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(m), u)).To(Succeed())
	actions, err := argocd.Actions(u)
	g.Expect(err).NotTo(HaveOccurred())
	return actions
}

// kstatusOf reads obj from the API server as any tool does (unstructured) and returns
// what kstatus, which Flux's health checks and cli-utils use, makes of it.
func kstatusOf(g Gomega, kind string, obj client.Object) *status.Result {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(droverv1.GroupVersion.WithKind(kind))
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(obj), u)).To(Succeed())
	res, err := status.Compute(u)
	g.Expect(err).NotTo(HaveOccurred())
	return res
}

func summaryOf(g Gomega, set *droverv1.ProdSet, prod string) droverv1.ProdSummary {
	for _, p := range getSet(g, set).Status.Prods {
		if p.Name == prod {
			return p
		}
	}
	g.Expect(prod).To(BeEmpty(), "no summary for Prod %s", prod)
	return droverv1.ProdSummary{}
}

func ptrIntstr(v intstr.IntOrString) *intstr.IntOrString { return &v }
