package prod_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/test/builder"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/rand"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/manifests"
	"github.com/drover-dev/drover/internal/test/harness"
)

// --- builders --------------------------------------------------------------------------

func configMap(name string, data map[string]string) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": data}
}

func deployment(name string, replicas int) map[string]any {
	labels := map[string]any{"app": name}
	return map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": name},
		"spec": map[string]any{
			"replicas": replicas,
			"selector": map[string]any{"matchLabels": labels},
			"template": map[string]any{
				"metadata": map[string]any{"labels": labels},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": name, "image": "registry.example/" + name + ":${DROVER_VERSION}",
				}}},
			},
		},
	}
}

// raw is the objects as a Prod's manifests.
func raw(objs ...map[string]any) []runtime.RawExtension { return builder.Manifests(objs...) }

func newProd(t *testing.T, cluster, targetNS string, objs ...map[string]any) *droverv1.Prod {
	t.Helper()
	p := builder.Prod(bed.Namespace, cluster, targetNS, objs)
	NewWithT(t).Expect(cp.Create(context.Background(), p)).To(Succeed())
	return p
}

// --- helpers ---------------------------------------------------------------------------

func getProd(g Gomega, p *droverv1.Prod) *droverv1.Prod {
	out := &droverv1.Prod{}
	g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(p), out)).To(Succeed())
	return out
}

// haveCondition matches a Prod whose condition has the status (and, if given, reason)
// and was computed for the Prod's current generation.
func expectCondition(g Gomega, p *droverv1.Prod, condType string, status metav1.ConditionStatus, reason string) {
	c := conditions.Get(p, condType)
	g.Expect(c).NotTo(BeNil(), "condition %s is not set", condType)
	g.Expect(c.Status).To(Equal(status), "condition %s: %s %s", condType, c.Reason, c.Message)
	if reason != "" {
		g.Expect(c.Reason).To(Equal(reason), "condition %s: %s", condType, c.Message)
	}
	g.Expect(c.ObservedGeneration).To(Equal(p.Generation))
}

func workloadClient(name string) client.Client { return bed.Workload(name).Client }

func deleteProd(t *testing.T, p *droverv1.Prod) {
	t.Helper()
	g := NewWithT(t)
	g.Expect(client.IgnoreNotFound(cp.Delete(context.Background(), p))).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(cp.Get(context.Background(), client.ObjectKeyFromObject(p), &droverv1.Prod{}))
	}, 60*time.Second, 250*time.Millisecond).Should(BeTrue(), "Prod %s was not deleted", p.Name)
}

// --- tests -----------------------------------------------------------------------------

func TestProdLandsAndBecomesAvailable(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	p := newProd(t, rolloutCluster, "shop-lands", configMap("settings", map[string]string{"color": "blue"}), deployment("api", 2))
	t.Cleanup(func() { deleteProd(t, p) })

	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdClusterReachableCondition, metav1.ConditionTrue, droverv1.ProdClusterReachableReason)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
		expectCondition(g, got, droverv1.ProdAvailableCondition, metav1.ConditionTrue, droverv1.ProdAvailableReason)
		g.Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		g.Expect(got.Status.AppliedVersion).To(Equal("v1"))
		g.Expect(got.Status.Cluster).To(Equal(bed.Namespace + "/" + rolloutCluster))
		g.Expect(got.Finalizers).To(ContainElement(droverv1.ProdFinalizer))
	}, 90*time.Second, 500*time.Millisecond).Should(Succeed())

	// The objects are really there, applied by drover's field manager, labelled, with the
	// version substituted, and the Deployment really rolled out. The inventory records
	// each with its UID on the workload cluster.
	w := workloadClient(rolloutCluster)
	dep := &appsv1.Deployment{}
	g.Expect(w.Get(ctx, client.ObjectKey{Namespace: "shop-lands", Name: "api"}, dep)).To(Succeed())
	settings := &corev1.ConfigMap{}
	g.Expect(w.Get(ctx, client.ObjectKey{Namespace: "shop-lands", Name: "settings"}, settings)).To(Succeed())
	inventory := getProd(g, p).Status.Inventory
	for i := range inventory {
		g.Expect(inventory[i].Applied).NotTo(BeEmpty(), "%s has no apply record", inventory[i].Name)
		inventory[i].Applied = ""
	}
	g.Expect(inventory).To(ConsistOf(
		droverv1.ObjectReference{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop-lands", Name: "api", UID: dep.UID},
		droverv1.ObjectReference{Version: "v1", Kind: "ConfigMap", Namespace: "shop-lands", Name: "settings", UID: settings.UID},
	))
	g.Expect(dep.Spec.Template.Spec.Containers[0].Image).To(Equal("registry.example/api:v1"))
	g.Expect(dep.Labels).To(HaveKeyWithValue(droverv1.ProdNameLabel, p.Name))
	g.Expect(dep.Labels).To(HaveKeyWithValue(droverv1.ProdUIDLabel, string(p.UID)))
	g.Expect(dep.Annotations).To(HaveKeyWithValue(droverv1.ProdRefAnnotation, p.Namespace+"/"+p.Name))
	target := &corev1.Namespace{}
	g.Expect(w.Get(ctx, client.ObjectKey{Name: "shop-lands"}, target)).To(Succeed())
	g.Expect(target.Labels).To(HaveKeyWithValue(droverv1.ManagedByLabel, droverv1.FieldManager))
	g.Expect(target.Annotations).To(HaveKeyWithValue(droverv1.OwnerNamespaceAnnotation, bed.Namespace))
	g.Expect(dep.Status.AvailableReplicas).To(Equal(int32(2)))
	g.Expect(managers(dep.ManagedFields)).To(ContainElement(droverv1.FieldManager))

	// Nothing landed on the other clusters.
	for _, other := range []string{otherCluster, outageCluster} {
		err := workloadClient(other).Get(ctx, client.ObjectKey{Namespace: "shop-lands", Name: "api"}, &appsv1.Deployment{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "the Deployment must not exist on %s: %v", other, err)
	}
}

func managers(fields []metav1.ManagedFieldsEntry) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Manager)
	}
	return out
}

func TestEditingManifestsUpdatesAndPrunes(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-edit"
	p := newProd(t, rolloutCluster, ns, configMap("old", map[string]string{"a": "1"}), configMap("kept", map[string]string{"a": "1", "b": "1"}), deployment("web", 1))
	t.Cleanup(func() { deleteProd(t, p) })
	w := workloadClient(rolloutCluster)

	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAvailableCondition, metav1.ConditionTrue, "")
	}, 90*time.Second, 500*time.Millisecond).Should(Succeed())

	// An object someone else took over (deleted and made again as theirs, without drover's
	// labels) is not pruned. (Removing drover's labels from an object still in the
	// manifests is drift, which the workload watch puts back at once.)
	adopted := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adopted"}}
	// ... it first has to be drover's: add it, wait, then take it over.
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Manifests = append(p.Spec.Manifests, raw(configMap("adopted", nil))...)
	})).To(Succeed())
	g.Eventually(func() error { return w.Get(ctx, client.ObjectKeyFromObject(adopted), adopted) }, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		// drover may put its object back between the delete and the create: again.
		g.Expect(client.IgnoreNotFound(w.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adopted"}}))).To(Succeed())
		theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "adopted", Labels: map[string]string{"owner": "someone-else"}}}
		g.Expect(w.Create(ctx, theirs)).To(Succeed())
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())

	// New version, a changed Deployment, a key of "kept" dropped, "old" and "adopted"
	// removed, a Secret added.
	ahead := watchConditionsAhead(t, p)
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Version = "v2"
		p.Spec.Manifests = raw(
			configMap("kept", map[string]string{"a": "2"}),
			deployment("web", 2),
			map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "token"}, "stringData": map[string]any{"t": "x"}},
		)
	})).To(Succeed())

	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionTrue, "")
		expectCondition(g, got, droverv1.ProdAvailableCondition, metav1.ConditionTrue, "")
		g.Expect(got.Status.AppliedVersion).To(Equal("v2"))
		g.Expect(got.Status.Inventory).To(HaveLen(3))

		dep := &appsv1.Deployment{}
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "web"}, dep)).To(Succeed())
		g.Expect(dep.Spec.Template.Spec.Containers[0].Image).To(Equal("registry.example/web:v2"))
		g.Expect(dep.Status.AvailableReplicas).To(Equal(int32(2)))

		kept := &corev1.ConfigMap{}
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "kept"}, kept)).To(Succeed())
		// The dropped key is gone: drover created "kept" and then applied it, and only its
		// apply's managedFields entry is left, so nothing else holds the key.
		g.Expect(kept.Data).To(Equal(map[string]string{"a": "2"}))
		for _, m := range kept.ManagedFields {
			if m.Manager == droverv1.FieldManager {
				g.Expect(m.Operation).To(Equal(metav1.ManagedFieldsOperationApply), "drover's entries of kept: %v", kept.ManagedFields)
			}
		}
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "token"}, &corev1.Secret{})).To(Succeed())
		g.Expect(apierrors.IsNotFound(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "old"}, &corev1.ConfigMap{}))).To(BeTrue(), "old must be pruned")
	}, 90*time.Second, 500*time.Millisecond).Should(Succeed())
	g.Expect(w.Get(ctx, client.ObjectKeyFromObject(adopted), &corev1.ConfigMap{})).To(Succeed(), "an object that is no longer drover's must not be pruned")
	g.Expect(ahead()).To(BeEmpty(), "versions of the Prod whose conditions were ahead of the rest of its status")
}

func updateProd(p *droverv1.Prod, mutate func(*droverv1.Prod)) error {
	ctx := context.Background()
	for range 10 {
		got := &droverv1.Prod{}
		if err := cp.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			return err
		}
		mutate(got)
		err := cp.Update(ctx, got)
		if !apierrors.IsConflict(err) {
			return err
		}
	}
	return fmt.Errorf("too many conflicts updating %s", p.Name)
}

func TestDeletingProdCleansUp(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-delete"
	p := newProd(t, otherCluster, ns, configMap("settings", nil), deployment("api", 1))
	w := workloadClient(otherCluster)
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAvailableCondition, metav1.ConditionTrue, "")
	}, 90*time.Second, 500*time.Millisecond).Should(Succeed())

	// An object with the same labels that drover never applied is not in the inventory
	// and must survive.
	bystander := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "bystander"}}
	g.Expect(w.Create(ctx, bystander)).To(Succeed())

	deleteProd(t, p)
	g.Expect(apierrors.IsNotFound(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &corev1.ConfigMap{}))).To(BeTrue())
	// The Deployment is deleted (its Pods go by garbage collection in the background).
	dep := &appsv1.Deployment{}
	err := w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "api"}, dep)
	g.Expect(apierrors.IsNotFound(err) || !dep.DeletionTimestamp.IsZero()).To(BeTrue(), "the Deployment must be gone or going: %v", err)
	g.Expect(w.Get(ctx, client.ObjectKeyFromObject(bystander), bystander)).To(Succeed())
	target := &corev1.Namespace{}
	g.Expect(w.Get(ctx, client.ObjectKey{Name: ns}, target)).To(Succeed())
	g.Expect(target.DeletionTimestamp.IsZero()).To(BeTrue(), "drover never deletes a namespace, not even one it created")
}

func TestUnreachableClusterIsLeftAloneAndRecovers(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-outage"
	p := newProd(t, outageCluster, ns, configMap("settings", map[string]string{"v": "1"}))
	t.Cleanup(func() { deleteProd(t, p) })
	healthy := newProd(t, otherCluster, ns, configMap("settings", map[string]string{"v": "1"}))
	t.Cleanup(func() { deleteProd(t, healthy) })
	// The reconcile's status lands in two writes (its conditions, then the rest), so the
	// inventory is taken once it records the applied object, not at Available alone.
	var before *droverv1.Prod
	for _, each := range []*droverv1.Prod{p, healthy} {
		g.Eventually(func(g Gomega) {
			got := getProd(g, each)
			expectCondition(g, got, droverv1.ProdAvailableCondition, metav1.ConditionTrue, "")
			g.Expect(got.Status.Inventory).To(HaveLen(1))
			g.Expect(got.Status.Inventory[0].UID).NotTo(BeEmpty())
			g.Expect(got.Status.Inventory[0].Applied).NotTo(BeEmpty())
			if each == p {
				before = got
			}
		}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	}

	w := bed.Workload(outageCluster)
	g.Expect(w.StopAPIServer()).To(Succeed())
	stopped := time.Now()
	restarted := false
	t.Cleanup(func() {
		if !restarted {
			_ = w.StartAPIServer()
		}
	})

	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		c := conditions.Get(got, droverv1.ProdClusterReachableCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "%s: %s", c.Reason, c.Message)
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed(), "ClusterReachable must turn False within 30s of losing the API server")
	t.Logf("ClusterReachable turned False %s after the API server stopped", time.Since(stopped).Round(100*time.Millisecond))

	// While unreachable, a spec change waits; nothing is lost from the inventory, and
	// the Prod on the healthy cluster is unaffected.
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(configMap("settings", map[string]string{"v": "2"}))
	})).To(Succeed())
	g.Consistently(func(g Gomega) {
		got := getProd(g, p)
		g.Expect(got.Status.Inventory).To(Equal(before.Status.Inventory))
		g.Expect(got.Finalizers).To(ContainElement(droverv1.ProdFinalizer))
		g.Expect(conditions.IsTrue(got, droverv1.ProdAppliedCondition)).To(BeFalse(), "the new generation cannot be applied yet")
		expectCondition(g, getProd(g, healthy), droverv1.ProdClusterReachableCondition, metav1.ConditionTrue, "")
	}, 5*time.Second, 500*time.Millisecond).Should(Succeed())

	g.Expect(w.StartAPIServer()).To(Succeed())
	restarted = true
	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdClusterReachableCondition, metav1.ConditionTrue, "")
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionTrue, "")
		cm := &corev1.ConfigMap{}
		g.Expect(w.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
		g.Expect(cm.Data).To(HaveKeyWithValue("v", "2"))
	}, 120*time.Second, 500*time.Millisecond).Should(Succeed())
}

func TestProdWithoutUsableCluster(t *testing.T) {
	ctx := context.Background()
	g := NewWithT(t)

	missing := newProd(t, "no-such-cluster", "shop", configMap("settings", nil))
	t.Cleanup(func() { deleteProd(t, missing) })
	g.Eventually(func(g Gomega) {
		got := getProd(g, missing)
		expectCondition(g, got, droverv1.ProdClusterReachableCondition, metav1.ConditionFalse, droverv1.ProdClusterNotFoundReason)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdApplyPendingReason)
		expectCondition(g, got, droverv1.ProdAvailableCondition, metav1.ConditionUnknown, "")
		g.Expect(conditions.GetMessage(got, droverv1.ProdClusterReachableCondition)).To(ContainSubstring("no-such-cluster does not exist"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// A Cluster that is not provisioned yet says so; once Cluster API reports it
	// provisioned and it has a kubeconfig, the Prod lands there.
	notReady := &clusterv1.Cluster{ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "provisioning"},
		Spec: clusterv1.ClusterSpec{ControlPlaneEndpoint: clusterv1.APIEndpoint{Host: "127.0.0.1", Port: 1}}}
	g.Expect(cp.Create(ctx, notReady)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(ctx, notReady) })
	p := newProd(t, "provisioning", "shop", configMap("settings", nil))
	t.Cleanup(func() { deleteProd(t, p) })
	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdClusterReachableCondition, metav1.ConditionFalse, droverv1.ProdClusterNotReadyReason)
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// Deleting a Prod whose cluster never existed does not hang.
	deleteProd(t, missing)
}

func TestInvalidManifestChangesNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-invalid"
	p := newProd(t, otherCluster, ns, configMap("settings", map[string]string{"v": "1"}))
	t.Cleanup(func() { deleteProd(t, p) })
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, "")
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	// The API server cannot see duplicates; the controller refuses them and touches nothing.
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(configMap("settings", map[string]string{"v": "2"}), configMap("settings", map[string]string{"v": "3"}))
	})).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdInvalidManifestReason)
		g.Expect(conditions.GetMessage(got, droverv1.ProdAppliedCondition)).To(ContainSubstring("duplicates spec.manifests[0]"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	cm := &corev1.ConfigMap{}
	g.Expect(workloadClient(otherCluster).Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
	g.Expect(cm.Data).To(HaveKeyWithValue("v", "1"))

	// A kind the workload cluster does not serve is reported, not retried into a crash loop.
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(map[string]any{"apiVersion": "example.com/v1", "kind": "Widget", "metadata": map[string]any{"name": "w"}})
	})).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdApplyFailedReason)
		g.Expect(conditions.GetMessage(got, droverv1.ProdAppliedCondition)).To(ContainSubstring("Widget"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(workloadClient(otherCluster).Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed(), "nothing running is removed because of bad input")
}

func TestDeletionWaitsForTrafficToDrain(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-drain"
	p := newProd(t, otherCluster, ns, configMap("settings", nil))
	t.Cleanup(func() { deleteProd(t, p) })
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, "")
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	// A weight is still published for the Prod (as a traffic provider would record it).
	got := getProd(g, p)
	before := got.DeepCopy()
	got.Status.PublishedWeight = ptr.To[int32](50)
	g.Expect(cp.Status().Patch(ctx, got, client.MergeFrom(before))).To(Succeed())

	g.Expect(cp.Delete(ctx, p)).To(Succeed())
	g.Eventually(func(g Gomega) {
		expectTrafficDraining(g, getProd(g, p))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		expectTrafficDraining(g, getProd(g, p))
		g.Expect(workloadClient(otherCluster).Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &corev1.ConfigMap{})).
			To(Succeed(), "nothing is deleted while the Prod may still receive traffic")
	}, 5*time.Second, 500*time.Millisecond).Should(Succeed())

	// Traffic gone: the Prod and its objects go.
	got = getProd(g, p)
	before = got.DeepCopy()
	got.Status.PublishedWeight = ptr.To[int32](0)
	g.Expect(cp.Status().Patch(ctx, got, client.MergeFrom(before))).To(Succeed())
	deleteProd(t, p)
	g.Expect(apierrors.IsNotFound(workloadClient(otherCluster).Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &corev1.ConfigMap{}))).To(BeTrue())
}

func expectTrafficDraining(g Gomega, p *droverv1.Prod) {
	c := conditions.Get(p, droverv1.ProdTrafficReadyCondition)
	g.Expect(c).NotTo(BeNil())
	g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
	g.Expect(c.Reason).To(Equal(droverv1.ProdTrafficDrainingReason))
	g.Expect(conditions.Get(p, droverv1.ProdAppliedCondition).Reason).To(Equal(droverv1.ProdDeletingReason))
	g.Expect(p.Finalizers).To(ContainElement(droverv1.ProdFinalizer))
}

func TestDriftOnTheWorkloadClusterIsCorrected(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-drift"
	p := newProd(t, otherCluster, ns, configMap("settings", map[string]string{"color": "blue"}))
	t.Cleanup(func() { deleteProd(t, p) })
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, "")
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	// Someone edits a field drover owns, by hand, on the workload cluster.
	w := workloadClient(otherCluster)
	cm := &corev1.ConfigMap{}
	g.Expect(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
	cm.Data["color"] = "red"
	g.Expect(w.Update(ctx, cm)).To(Succeed())

	// The suite resyncs every 3s (the manager's default is 10m).
	g.Eventually(func(g Gomega) {
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
		g.Expect(cm.Data).To(HaveKeyWithValue("color", "blue"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed(), "drift on the workload cluster must be put back")
}

func TestTwoProdsNeverManageTheSameObject(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-shared"
	first := newProd(t, otherCluster, ns, configMap("settings", map[string]string{"owner": "first"}))
	t.Cleanup(func() { deleteProd(t, first) })
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, first), droverv1.ProdAvailableCondition, metav1.ConditionTrue, "")
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	second := newProd(t, otherCluster, ns, configMap("settings", map[string]string{"owner": "second"}))
	t.Cleanup(func() { deleteProd(t, second) })
	g.Eventually(func(g Gomega) {
		got := getProd(g, second)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdOwnershipConflictReason)
		g.Expect(conditions.GetMessage(got, droverv1.ProdAppliedCondition)).To(ContainSubstring("belongs to Prod " + bed.Namespace + "/" + first.Name))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		cm := &corev1.ConfigMap{}
		g.Expect(workloadClient(otherCluster).Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, cm)).To(Succeed())
		g.Expect(cm.Data).To(HaveKeyWithValue("owner", "first"))
		g.Expect(cm.Labels).To(HaveKeyWithValue(droverv1.ProdNameLabel, first.Name))
		g.Expect(getProd(g, second).Status.Inventory).To(BeEmpty(), "nothing of the first Prod's enters the second's inventory")
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
}

// --- ownership: never take what is not ours --------------------------------------------

func TestObjectsDroverDidNotCreateAreNotTakenOver(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-foreign"
	w := workloadClient(otherCluster)
	name := "shop-foreign-" + rand.String(5)
	// A namespace a platform team handed over to the suite's namespace.
	g.Expect(w.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns,
		Annotations: map[string]string{droverv1.OwnerNamespaceAnnotation: bed.Namespace}}})).To(Succeed())
	// Another team's ConfigMap, and one handed over to the Prod.
	foreign := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "foreign", Labels: map[string]string{"team": "other"}},
		Data: map[string]string{"owner": "other"}}
	g.Expect(w.Create(ctx, foreign)).To(Succeed())
	handed := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "handed",
		Annotations: map[string]string{droverv1.AdoptAnnotation: bed.Namespace + "/" + name}}, Data: map[string]string{"owner": "other"}}
	g.Expect(w.Create(ctx, handed)).To(Succeed())
	expectForeignUnchanged := func(g Gomega) {
		got := &corev1.ConfigMap{}
		g.Expect(w.Get(ctx, client.ObjectKeyFromObject(foreign), got)).To(Succeed())
		g.Expect(got.Labels).To(Equal(map[string]string{"team": "other"}))
		g.Expect(got.Annotations).To(BeEmpty())
		g.Expect(got.Data).To(Equal(map[string]string{"owner": "other"}))
		g.Expect(managers(got.ManagedFields)).NotTo(ContainElement(droverv1.FieldManager))
	}

	p := builder.Prod(bed.Namespace, otherCluster, ns, []builder.Object{configMap("mine", nil), configMap("foreign", map[string]string{"owner": "drover"})}, builder.Named(name))
	g.Expect(cp.Create(ctx, p)).To(Succeed())
	t.Cleanup(func() { deleteProd(t, p) })
	expectNotOwned := func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdNotOwnedReason)
		msg := conditions.GetMessage(got, droverv1.ProdAppliedCondition)
		g.Expect(msg).To(ContainSubstring("ConfigMap " + ns + "/foreign"))
		g.Expect(msg).To(ContainSubstring(droverv1.AdoptAnnotation + "=" + bed.Namespace + "/" + name))
		g.Expect(got.Status.Inventory).To(BeEmpty())
	}
	g.Eventually(expectNotOwned, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	// Nothing is applied for the Prod while one of its objects is refused.
	g.Consistently(func(g Gomega) {
		expectNotOwned(g)
		expectForeignUnchanged(g)
		g.Expect(apierrors.IsNotFound(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "mine"}, &corev1.ConfigMap{}))).To(BeTrue())
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	// An update still listing it is refused too.
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Version = "v2"
		p.Spec.Manifests = raw(configMap("mine", nil), configMap("foreign", map[string]string{"owner": "drover", "v": "2"}))
	})).To(Succeed())
	g.Eventually(expectNotOwned, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	expectForeignUnchanged(g)

	// Without it, and with the object handed over, the Prod applies and takes that one.
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(configMap("mine", nil), configMap("handed", map[string]string{"owner": "drover"}))
	})).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
		g.Expect(got.Status.Inventory).To(HaveLen(2))
		cm := &corev1.ConfigMap{}
		g.Expect(w.Get(ctx, client.ObjectKeyFromObject(handed), cm)).To(Succeed())
		g.Expect(cm.Labels).To(HaveKeyWithValue(droverv1.ProdUIDLabel, string(got.UID)))
		g.Expect(cm.Annotations).To(HaveKeyWithValue(droverv1.ProdRefAnnotation, bed.Namespace+"/"+name))
		g.Expect(cm.Data).To(HaveKeyWithValue("owner", "drover"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	expectForeignUnchanged(g)

	// Deleting the Prod deletes what it owns, the adopted object too, and nothing else.
	deleteProd(t, p)
	for _, gone := range []string{"mine", "handed"} {
		g.Expect(apierrors.IsNotFound(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: gone}, &corev1.ConfigMap{}))).To(BeTrue(), "%s must be deleted with the Prod", gone)
	}
	expectForeignUnchanged(g)
	g.Expect(w.Get(ctx, client.ObjectKey{Name: ns}, &corev1.Namespace{})).To(Succeed(), "drover never deletes a namespace")
}

// An object of the inventory deleted by hand is created again (drift); one deleted and
// re-created by someone else before drover applies it again is not taken over: the apply
// names the UID the inventory recorded, and the re-created object is claimed as a new one.
func TestAnInventoriedObjectReCreatedBySomeoneElseIsNotTakenOver(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-recreated"
	w := workloadClient(otherCluster)
	p := newProd(t, otherCluster, ns, configMap("settings", map[string]string{"owner": "drover"}))
	t.Cleanup(func() { deleteProd(t, p) })
	key := client.ObjectKey{Namespace: ns, Name: "settings"}
	recordedUID := func(g Gomega) types.UID {
		got := getProd(g, p)
		g.Expect(got.Status.Inventory).To(HaveLen(1))
		return got.Status.Inventory[0].UID
	}
	var first types.UID
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
		cm := &corev1.ConfigMap{}
		g.Expect(w.Get(ctx, key, cm)).To(Succeed())
		g.Expect(recordedUID(g)).To(Equal(cm.UID))
		first = cm.UID
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	// Deleted by hand: drover creates it again and records the new UID.
	g.Expect(w.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}})).To(Succeed())
	g.Eventually(func(g Gomega) {
		cm := &corev1.ConfigMap{}
		g.Expect(w.Get(ctx, key, cm)).To(Succeed())
		g.Expect(cm.UID).NotTo(Equal(first))
		g.Expect(cm.Labels).To(HaveKeyWithValue(droverv1.ProdUIDLabel, string(p.UID)))
		g.Expect(recordedUID(g)).To(Equal(cm.UID))
		expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// Deleted and re-created by another team between two of drover's applies (the
	// suite resyncs every 3s; a race lost to drover's re-creation is tried again).
	foreign := func() *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings", Labels: map[string]string{"team": "other"}},
			Data: map[string]string{"owner": "other"}}
	}
	g.Eventually(func(g Gomega) {
		cm := &corev1.ConfigMap{}
		if err := w.Get(ctx, key, cm); err == nil && cm.Labels["team"] == "other" {
			return
		}
		g.Expect(client.IgnoreNotFound(w.Delete(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "settings"}}))).To(Succeed())
		g.Expect(w.Create(ctx, foreign())).To(Succeed())
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	expectForeignUnchanged := func(g Gomega) {
		cm := &corev1.ConfigMap{}
		g.Expect(w.Get(ctx, key, cm)).To(Succeed())
		g.Expect(cm.Labels).To(Equal(map[string]string{"team": "other"}))
		g.Expect(cm.Annotations).To(BeEmpty())
		g.Expect(cm.Data).To(Equal(map[string]string{"owner": "other"}))
		g.Expect(managers(cm.ManagedFields)).NotTo(ContainElement(droverv1.FieldManager))
	}
	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdNotOwnedReason)
		g.Expect(conditions.GetMessage(got, droverv1.ProdAppliedCondition)).To(ContainSubstring("ConfigMap " + ns + "/settings"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(expectForeignUnchanged, 7*time.Second, 500*time.Millisecond).Should(Succeed(), "two resyncs leave the other team's object alone")

	// Deleting the Prod leaves it too.
	deleteProd(t, p)
	expectForeignUnchanged(g)
}

// The inventory is the Prod's status, which whoever may write prods/status can forge.
// Objects of someone else listed there (with their real UIDs) are not applied over,
// relabelled, pruned or deleted: an inventory entry says where to look, never whose the
// object is.
func TestAForgedInventoryTakesNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns, elsewhere := "shop-forged", "shop-forged-other"
	w := workloadClient(otherCluster)
	p := newProd(t, otherCluster, ns, configMap("settings", map[string]string{"owner": "drover"}))
	t.Cleanup(func() { deleteProd(t, p) })
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	// Another team's objects: two in the Prod's target namespace (someone with rights
	// there made them), one in a namespace of their own.
	g.Expect(w.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: elsewhere}})).To(Succeed())
	var foreign []*corev1.ConfigMap
	for _, key := range []client.ObjectKey{{Namespace: ns, Name: "theirs"}, {Namespace: ns, Name: "theirs-too"}, {Namespace: elsewhere, Name: "theirs"}} {
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name, Labels: map[string]string{"team": "other"}},
			Data: map[string]string{"owner": "other"}}
		g.Expect(w.Create(ctx, cm)).To(Succeed())
		foreign = append(foreign, cm)
	}
	expectForeignUnchanged := func(g Gomega) {
		for _, want := range foreign {
			cm := &corev1.ConfigMap{}
			g.Expect(w.Get(ctx, client.ObjectKeyFromObject(want), cm)).To(Succeed(), "ConfigMap %s/%s", want.Namespace, want.Name)
			g.Expect(cm.ResourceVersion).To(Equal(want.ResourceVersion), "ConfigMap %s/%s was changed: %v %v", cm.Namespace, cm.Name, cm.Labels, cm.Data)
			g.Expect(managers(cm.ManagedFields)).NotTo(ContainElement(droverv1.FieldManager))
		}
	}
	// forge lists the foreign objects in the Prod's inventory, as if drover had applied
	// them: with their real UIDs (the worst case) but for theirs-too, listed without one.
	forge := func() {
		g.Eventually(func() error {
			got := getProd(NewWithT(t), p)
			for _, cm := range foreign {
				ref := droverv1.ObjectReference{Version: "v1", Kind: "ConfigMap", Namespace: cm.Namespace, Name: cm.Name, UID: cm.UID}
				if cm.Name == "theirs-too" {
					ref.UID = ""
				}
				if _, listed := manifests.Recorded(got.Status.Inventory, ref); !listed {
					got.Status.Inventory = append(got.Status.Inventory, ref)
				}
			}
			manifests.SortRefs(got.Status.Inventory)
			return cp.Status().Update(ctx, got)
		}, 10*time.Second, 100*time.Millisecond).Should(Succeed())
	}

	// The Prod lists the two objects of its target namespace: NotOwned. Then its
	// inventory is forged to say drover applied them: still NotOwned, nothing touched.
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(configMap("settings", map[string]string{"owner": "drover"}),
			configMap("theirs", map[string]string{"owner": "drover"}), configMap("theirs-too", map[string]string{"owner": "drover"}))
	})).To(Succeed())
	expectNotOwned := func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdNotOwnedReason)
		g.Expect(conditions.GetMessage(got, droverv1.ProdAppliedCondition)).To(ContainSubstring("ConfigMap " + ns + "/theirs"))
	}
	g.Eventually(expectNotOwned, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	forge()
	// A new version makes the manager reconcile the Prod, forged inventory and all (a
	// status write alone does not wake it); the condition must be for that generation.
	g.Expect(updateProd(p, func(p *droverv1.Prod) { p.Spec.Version = "v2" })).To(Succeed())
	g.Eventually(expectNotOwned, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(getProd(g, p).Status.Inventory).To(HaveLen(4), "the forged entries are still listed")
	g.Consistently(func(g Gomega) {
		expectNotOwned(g)
		expectForeignUnchanged(g)
	}, 7*time.Second, 500*time.Millisecond).Should(Succeed(), "two resyncs with the forged inventory take nothing")

	// The Prod drops them from its manifests: the forged entries are stale, and the prune
	// leaves the objects alone (and forgets them).
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(configMap("settings", map[string]string{"owner": "drover"}))
	})).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
		g.Expect(got.Status.Inventory).To(HaveLen(1))
		g.Expect(got.Status.Inventory[0].Name).To(Equal("settings"))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	expectForeignUnchanged(g)

	// Forged again, and the Prod deleted: only its own object goes.
	forge()
	deleteProd(t, p)
	g.Expect(apierrors.IsNotFound(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "settings"}, &corev1.ConfigMap{}))).To(BeTrue(), "the Prod's own object must be deleted with it")
	expectForeignUnchanged(g)
}

func TestNamespacesDroverDidNotCreateAreNotUsed(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	w := workloadClient(otherCluster)

	// Another team's namespace (drover made it for another control-plane namespace), and
	// a namespace someone made by hand. (kube-system is refused before: tenancy_test.go.)
	made, theirs := "shop-made-by-hand", "shop-of-another-team"
	g.Expect(w.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: made, Labels: map[string]string{"team": "other"}}})).To(Succeed())
	g.Expect(w.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: theirs,
		Annotations: map[string]string{droverv1.OwnerNamespaceAnnotation: "team-cart"}}})).To(Succeed())
	var prods []*droverv1.Prod
	for _, target := range []string{theirs, made} {
		p := newProd(t, otherCluster, target, configMap("settings", map[string]string{"v": "1"}))
		t.Cleanup(func() { deleteProd(t, p) })
		prods = append(prods, p)
		g.Eventually(func(g Gomega) {
			got := getProd(g, p)
			expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdNotOwnedReason)
			msg := conditions.GetMessage(got, droverv1.ProdAppliedCondition)
			g.Expect(msg).To(ContainSubstring("namespace " + target + " exists and was not created by drover for namespace " + bed.Namespace))
			g.Expect(msg).To(ContainSubstring(droverv1.OwnerNamespaceAnnotation + "=" + bed.Namespace))
			g.Expect(got.Status.Inventory).To(BeEmpty())
		}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	}
	g.Consistently(func(g Gomega) {
		for _, target := range []string{theirs, made} {
			g.Expect(apierrors.IsNotFound(w.Get(ctx, client.ObjectKey{Namespace: target, Name: "settings"}, &corev1.ConfigMap{}))).
				To(BeTrue(), "nothing lands in %s", target)
			ns := &corev1.Namespace{}
			g.Expect(w.Get(ctx, client.ObjectKey{Name: target}, ns)).To(Succeed())
			g.Expect(ns.Labels).NotTo(HaveKey(droverv1.ManagedByLabel))
			if target == made {
				g.Expect(ns.Annotations).NotTo(HaveKey(droverv1.OwnerNamespaceAnnotation))
			} else {
				g.Expect(ns.Annotations).To(HaveKeyWithValue(droverv1.OwnerNamespaceAnnotation, "team-cart"))
			}
		}
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	// A platform team hands the namespace over: the Prod applies into it.
	ns := &corev1.Namespace{}
	g.Expect(w.Get(ctx, client.ObjectKey{Name: made}, ns)).To(Succeed())
	ns.Annotations = map[string]string{droverv1.OwnerNamespaceAnnotation: bed.Namespace}
	g.Expect(w.Update(ctx, ns)).To(Succeed())
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, prods[1]), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: made, Name: "settings"}, &corev1.ConfigMap{})).To(Succeed())
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())

	// The refused Prod goes without touching the other team's namespace; the handed-over
	// namespace stays.
	deleteProd(t, prods[0])
	deleteProd(t, prods[1])
	g.Expect(w.Get(ctx, client.ObjectKey{Name: made}, ns)).To(Succeed())
	g.Expect(ns.DeletionTimestamp.IsZero()).To(BeTrue(), "drover never deletes a namespace")
}

func TestProdsWhoseNamesShareTheFirst63CharactersAreTwoOwners(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	ns := "shop-long"
	w := workloadClient(otherCluster)
	prefix := "shop-" + strings.Repeat("long", 15) // 65 characters
	a := builder.Prod(bed.Namespace, otherCluster, ns, []builder.Object{configMap("a-settings", map[string]string{"owner": "a"})}, builder.Named(prefix+"-a"))
	b := builder.Prod(bed.Namespace, otherCluster, ns, []builder.Object{configMap("b-settings", map[string]string{"owner": "b"})}, builder.Named(prefix+"-b"))
	for _, p := range []*droverv1.Prod{a, b} {
		g.Expect(cp.Create(ctx, p)).To(Succeed())
		t.Cleanup(func() { deleteProd(t, p) })
	}
	for _, p := range []*droverv1.Prod{a, b} {
		g.Eventually(func(g Gomega) {
			expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
		}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	}
	cm := &corev1.ConfigMap{}
	g.Expect(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a-settings"}, cm)).To(Succeed())
	g.Expect(cm.Labels).To(HaveKeyWithValue(droverv1.ProdUIDLabel, string(getProd(g, a).UID)))
	g.Expect(cm.Labels[droverv1.ProdNameLabel]).To(HaveLen(63))
	g.Expect(cm.Annotations).To(HaveKeyWithValue(droverv1.ProdRefAnnotation, bed.Namespace+"/"+a.Name))

	// b listing a's object is refused; a's object stays a's.
	g.Expect(updateProd(b, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(configMap("b-settings", map[string]string{"owner": "b"}), configMap("a-settings", map[string]string{"owner": "b"}))
	})).To(Succeed())
	g.Eventually(func(g Gomega) {
		got := getProd(g, b)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdOwnershipConflictReason)
		g.Expect(conditions.GetMessage(got, droverv1.ProdAppliedCondition)).To(ContainSubstring("belongs to Prod " + bed.Namespace + "/" + a.Name))
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a-settings"}, cm)).To(Succeed())
		g.Expect(cm.Data).To(HaveKeyWithValue("owner", "a"))
		g.Expect(cm.Labels).To(HaveKeyWithValue(droverv1.ProdUIDLabel, string(getProd(g, a).UID)))
		g.Expect(getProd(g, b).Status.Inventory).To(HaveLen(1))
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())

	// b lets go (or it would create a-settings anew once a's is gone); deleting a deletes
	// a's object only.
	g.Expect(updateProd(b, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(configMap("b-settings", map[string]string{"owner": "b"}))
	})).To(Succeed())
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, b), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
	}, 30*time.Second, 250*time.Millisecond).Should(Succeed())
	deleteProd(t, a)
	left := &corev1.ConfigMap{}
	err := w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "a-settings"}, left)
	g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "a's object must be deleted with a: %v %+v", err, left.ObjectMeta)
	g.Consistently(func(g Gomega) {
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: ns, Name: "b-settings"}, cm)).To(Succeed())
		g.Expect(cm.DeletionTimestamp.IsZero()).To(BeTrue())
		g.Expect(cm.Data).To(HaveKeyWithValue("owner", "b"))
	}, 3*time.Second, 500*time.Millisecond).Should(Succeed())
}

// watchConditionsAhead watches p from now on and returns what every version of it a
// watcher saw got wrong: a condition of a generation that status.observedGeneration (and
// so status.appliedVersion and the inventory) had not reached yet. The conditions are
// written after the rest of the status, so no reader sees Applied=True for the new
// generation beside the applied version of the old.
func watchConditionsAhead(t *testing.T, p *droverv1.Prod) func() []string {
	t.Helper()
	return harness.WatchVersions(t, bed.ControlPlane.Config, cp.Scheme(), &droverv1.ProdList{}, client.ObjectKeyFromObject(p),
		func(got *droverv1.Prod) []string {
			var wrong []string
			for _, c := range got.Status.Conditions {
				if c.ObservedGeneration > got.Status.ObservedGeneration {
					wrong = append(wrong, fmt.Sprintf("resourceVersion %s: %s=%s of generation %d beside status.observedGeneration %d (applied version %q)",
						got.ResourceVersion, c.Type, c.Status, c.ObservedGeneration, got.Status.ObservedGeneration, got.Status.AppliedVersion))
				}
			}
			return wrong
		})
}
