package releasediff_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/test/builder"
)

// The stories: a ProdSet with a Prod on each of two workload clusters, and ReleaseDiffs
// of candidate templates, read as the app team reads them, with the workload clusters
// checked for any write.

func configMap(name string, data map[string]any) builder.Object {
	return builder.Object{"apiVersion": "v1", "kind": "ConfigMap", "metadata": builder.Object{"name": name}, "data": data}
}

func secret(name, password string) builder.Object {
	return builder.Object{"apiVersion": "v1", "kind": "Secret", "metadata": builder.Object{"name": name},
		"stringData": builder.Object{"password": password}}
}

// runningSet creates a ProdSet of one Prod on each workload cluster applying objs into
// the target namespace named after it, and waits until both Prods applied them.
func runningSet(t *testing.T, objs ...builder.Object) *droverv1.ProdSet {
	t.Helper()
	g := NewWithT(t)
	set := builder.ProdSet(bed.Namespace, "rd-"+rand.String(5), builder.Replicas(2), builder.OnClusters(pool, "shop"),
		builder.WithManifests(objs...), builder.Mutate(func(s *droverv1.ProdSet) { s.Spec.Placement.MaxPerCluster = 1 }))
	g.Expect(cp.Create(context.Background(), set)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), set) })
	g.Eventually(func(g Gomega) {
		prods := prodsOf(g, set)
		g.Expect(prods).To(HaveLen(2))
		for _, p := range prods {
			c := meta.FindStatusCondition(p.Status.Conditions, droverv1.ProdAppliedCondition)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue), c.Message)
			g.Expect(c.ObservedGeneration).To(Equal(p.Generation))
		}
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	return set
}

func prodsOf(g Gomega, set *droverv1.ProdSet) []droverv1.Prod {
	list := &droverv1.ProdList{}
	g.Expect(cp.List(context.Background(), list, client.InNamespace(set.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name})).To(Succeed())
	return list.Items
}

// diffOf creates a ReleaseDiff of set with template (nil: the set's own) and returns it
// once complete.
func diffOf(t *testing.T, set *droverv1.ProdSet, template *droverv1.ProdTemplate) *droverv1.ReleaseDiff {
	t.Helper()
	g := NewWithT(t)
	d := &droverv1.ReleaseDiff{ObjectMeta: metav1.ObjectMeta{Namespace: set.Namespace, GenerateName: set.Name + "-"},
		Spec: droverv1.ReleaseDiffSpec{ProdSet: set.Name, Template: template}}
	g.Expect(cp.Create(context.Background(), d)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), d) })
	g.Eventually(func(g Gomega) {
		g.Expect(cp.Get(context.Background(), client.ObjectKeyFromObject(d), d)).To(Succeed())
		g.Expect(d.Status.CompletedTime).NotTo(BeNil())
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	return d
}

// actions maps each Prod's cluster to "<Kind>/<name>" → action of its objects.
func actions(d *droverv1.ReleaseDiff) map[string]map[string]droverv1.ReleaseDiffAction {
	out := map[string]map[string]droverv1.ReleaseDiffAction{}
	for _, p := range d.Status.Prods {
		m := map[string]droverv1.ReleaseDiffAction{}
		for _, o := range p.Objects {
			m[o.Kind+"/"+o.Name] = o.Action
		}
		out[p.Cluster] = m
	}
	return out
}

func object(d *droverv1.ReleaseDiff, cluster, kind, name string) droverv1.ReleaseDiffObject {
	for _, p := range d.Status.Prods {
		if p.Cluster != cluster {
			continue
		}
		for _, o := range p.Objects {
			if o.Kind == kind && o.Name == name {
				return o
			}
		}
	}
	return droverv1.ReleaseDiffObject{}
}

// snapshot is every ConfigMap and Secret of namespace and every Namespace of a workload
// cluster by "<kind>/<namespace>/<name>", with its resourceVersion: any write changes
// it. (Other namespaces' objects may still be going: the Prods of earlier tests'
// sets are deleted after them.)
func snapshot(g Gomega, cluster, namespace string) map[string]string {
	c := bed.Workload(cluster).Client
	out := map[string]string{}
	cms := &corev1.ConfigMapList{}
	g.Expect(c.List(context.Background(), cms, client.InNamespace(namespace))).To(Succeed())
	for _, o := range cms.Items {
		out["ConfigMap/"+o.Namespace+"/"+o.Name] = o.ResourceVersion
	}
	secrets := &corev1.SecretList{}
	g.Expect(c.List(context.Background(), secrets, client.InNamespace(namespace))).To(Succeed())
	for _, o := range secrets.Items {
		out["Secret/"+o.Namespace+"/"+o.Name] = o.ResourceVersion
	}
	nss := &corev1.NamespaceList{}
	g.Expect(c.List(context.Background(), nss)).To(Succeed())
	for _, o := range nss.Items {
		out["Namespace//"+o.Name] = o.ResourceVersion
	}
	return out
}

func TestADiffReportsWhatACandidateWouldChangeOnEachClusterAndWritesNothing(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	set := runningSet(t,
		configMap("settings", map[string]any{"version": "${DROVER_VERSION}", "mode": "fast"}),
		configMap("keep", map[string]any{"a": "1"}),
		configMap("drop", map[string]any{"b": "2"}),
		secret("creds", "old-pa55word"),
	)
	// On w1 someone else already has a ConfigMap "planted" in the set's namespace.
	planted := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: set.Name, Name: "planted"}, Data: map[string]string{"token": "other-teams-t0ken"}}
	g.Expect(bed.Workload(w1).Client.Create(ctx, planted)).To(Succeed())
	before := map[string]map[string]string{w1: snapshot(g, w1, set.Name), w2: snapshot(g, w2, set.Name)}
	g.Expect(before[w1]).To(HaveKey("ConfigMap/"+set.Name+"/planted"), "the snapshot holds the set's objects")
	g.Expect(before[w2]).To(HaveKey("Secret/"+set.Name+"/creds"), "the snapshot holds the set's objects")

	candidate := set.Spec.Template.DeepCopy()
	candidate.Spec.Version = "v2"
	candidate.Spec.Manifests = builder.Manifests(
		configMap("settings", map[string]any{"version": "${DROVER_VERSION}", "mode": "fast"}),
		configMap("keep", map[string]any{"a": "1"}),
		configMap("added", map[string]any{"c": "3"}),
		configMap("planted", map[string]any{"token": "mine"}),
		secret("creds", "new-pa55word"),
	)
	d := diffOf(t, set, candidate)

	g.Expect(d.Status.Revision).To(Equal(prodset.Revision(d.Spec.Template)), "the revision the ProdSet controller would give the candidate")
	g.Expect(d.Status.ObservedGeneration).To(Equal(d.Generation))
	g.Expect(d.Status.Changes).To(BeTrue())
	g.Expect(d.Status.Truncated).To(BeFalse())
	readyCond := meta.FindStatusCondition(d.Status.Conditions, droverv1.ReadyCondition)
	g.Expect(readyCond).NotTo(BeNil())
	g.Expect(readyCond.Status).To(Equal(metav1.ConditionTrue))
	g.Expect(d.Status.Prods).To(HaveLen(2))
	for _, p := range d.Status.Prods {
		g.Expect(p.Message).To(BeEmpty())
		g.Expect(p.Revision).To(Equal(prodset.Revision(&set.Spec.Template)))
	}
	want := func(planted droverv1.ReleaseDiffAction) map[string]droverv1.ReleaseDiffAction {
		return map[string]droverv1.ReleaseDiffAction{
			"ConfigMap/settings": droverv1.ReleaseDiffUpdate,
			"ConfigMap/keep":     droverv1.ReleaseDiffUnchanged,
			"ConfigMap/added":    droverv1.ReleaseDiffCreate,
			"ConfigMap/planted":  planted,
			"Secret/creds":       droverv1.ReleaseDiffUpdate,
			"ConfigMap/drop":     droverv1.ReleaseDiffDelete,
		}
	}
	g.Expect(actions(d)).To(Equal(map[string]map[string]droverv1.ReleaseDiffAction{
		w1: want(droverv1.ReleaseDiffRefused), // someone else's: not taken over
		w2: want(droverv1.ReleaseDiffCreate),
	}))

	settings := object(d, w1, "ConfigMap", "settings")
	g.Expect(settings.Diff).To(ContainSubstring("-  version: v1\n+  version: v2\n"))
	g.Expect(settings.Diff).NotTo(ContainSubstring("resourceVersion"))
	g.Expect(settings.Diff).NotTo(ContainSubstring("managedFields"))
	g.Expect(object(d, w2, "ConfigMap", "added").Diff).To(ContainSubstring("+  c: \"3\""))
	g.Expect(object(d, w2, "ConfigMap", "drop").Diff).To(ContainSubstring("-  b: \"2\""))
	g.Expect(object(d, w1, "ConfigMap", "keep").Diff).To(BeEmpty())

	// The Secret's change is shown, its values are not.
	creds := object(d, w1, "Secret", "creds")
	g.Expect(creds.Diff).To(ContainSubstring("-  password: '<changed: old value>'\n+  password: '<changed: new value>'"))
	// Someone else's object is refused, and nothing of it is shown.
	refused := object(d, w1, "ConfigMap", "planted")
	g.Expect(refused.Reason).To(Equal(droverv1.ReleaseDiffNotOwnedReason))
	g.Expect(refused.Diff).To(BeEmpty())
	status, err := json.Marshal(d.Status)
	g.Expect(err).NotTo(HaveOccurred())
	for _, hidden := range []string{"pa55word", "cGE1NXdvcmQ", "other-teams-t0ken"} {
		g.Expect(string(status)).NotTo(ContainSubstring(hidden), "the status shows %q", hidden)
	}

	// Nothing was written on either workload cluster: every object's resourceVersion is
	// as it was, "added" was not created, "drop" is still there.
	for _, cluster := range []string{w1, w2} {
		g.Expect(snapshot(g, cluster, set.Name)).To(Equal(before[cluster]), "something was written on %s", cluster)
	}

	// The set's own template against what runs: nothing changes.
	same := diffOf(t, set, nil)
	g.Expect(same.Status.Changes).To(BeFalse(), "%+v", same.Status.Prods)
	g.Expect(same.Status.Revision).To(Equal(prodset.Revision(&set.Spec.Template)))
	for cluster, objs := range actions(same) {
		g.Expect(objs).To(HaveLen(4), cluster)
		for name, a := range objs {
			g.Expect(a).To(Equal(droverv1.ReleaseDiffUnchanged), "%s on %s", name, cluster)
		}
	}
}

func TestADiffIntoANamespaceThatDoesNotExistCreatesNothing(t *testing.T) {
	g := NewWithT(t)
	set := runningSet(t, configMap("settings", map[string]any{"a": "1"}))
	candidate := set.Spec.Template.DeepCopy()
	candidate.Spec.TargetNamespace = set.Name + "-next"
	d := diffOf(t, set, candidate)
	g.Expect(actions(d)).To(HaveKeyWithValue(w1, map[string]droverv1.ReleaseDiffAction{
		"Namespace/" + set.Name + "-next": droverv1.ReleaseDiffCreate,
		"ConfigMap/settings":              droverv1.ReleaseDiffDelete, // from the old namespace
	}))
	// The new namespace's ConfigMap is listed as created too (same name, other namespace).
	var created int
	for _, o := range d.Status.Prods[0].Objects {
		if o.Kind == "ConfigMap" && o.Namespace == set.Name+"-next" && o.Action == droverv1.ReleaseDiffCreate {
			created++
		}
	}
	g.Expect(created).To(Equal(1))
	for _, cluster := range []string{w1, w2} {
		err := bed.Workload(cluster).Client.Get(context.Background(), client.ObjectKey{Name: set.Name + "-next"}, &corev1.Namespace{})
		g.Expect(apierrors.IsNotFound(err)).To(BeTrue(), "namespace created on %s: %v", cluster, err)
	}
}

func TestAHostileCandidateIsRefusedAsAProdWouldBe(t *testing.T) {
	g := NewWithT(t)
	set := runningSet(t, configMap("settings", map[string]any{"a": "1"}))
	binding := "rd-escalate-" + rand.String(5)

	// A cluster-scoped kind, which the defaults refuse.
	escalate := set.Spec.Template.DeepCopy()
	escalate.Spec.Manifests = builder.Manifests(configMap("settings", map[string]any{"a": "1"}), builder.Object{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": builder.Object{"name": binding},
		"roleRef":  builder.Object{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []any{builder.Object{"kind": "ServiceAccount", "name": "default", "namespace": "default"}}})
	d := diffOf(t, set, escalate)
	crb := object(d, w1, "ClusterRoleBinding", binding)
	g.Expect(crb.Action).To(Equal(droverv1.ReleaseDiffRefused))
	g.Expect(crb.Reason).To(Equal(droverv1.ReleaseDiffNotPermittedReason))
	g.Expect(crb.Diff).To(BeEmpty())

	// Another team's (or the system's) namespace: nothing is diffed there, nothing read.
	system := set.Spec.Template.DeepCopy()
	system.Spec.TargetNamespace = "kube-system"
	d = diffOf(t, set, system)
	for _, p := range d.Status.Prods {
		g.Expect(p.Objects).To(BeEmpty(), "objects listed for a target namespace the Prod may not use on %s", p.Cluster)
		g.Expect(p.Message).To(ContainSubstring("kube-system"))
	}
	g.Expect(d.Status.Changes).To(BeTrue())

	// A ProdSet that does not exist: stalled, and completed (so it goes after the TTL).
	ghost := &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: set.Namespace, Name: "no-such-set"}}
	d = diffOf(t, ghost, nil)
	stalled := meta.FindStatusCondition(d.Status.Conditions, droverv1.StalledCondition)
	g.Expect(stalled).NotTo(BeNil())
	g.Expect(stalled.Reason).To(Equal(droverv1.ReleaseDiffProdSetNotFoundReason))

	// The spec cannot be changed once made.
	d.Spec.ProdSet = set.Name
	err := cp.Update(context.Background(), d)
	g.Expect(err).To(HaveOccurred())
	g.Expect(err.Error()).To(ContainSubstring("immutable"))
}

func TestAProdWhoseClusterCannotBeReachedSaysSo(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	set := builder.ProdSet(bed.Namespace, "rd-"+rand.String(5), builder.OnClusters(pool, "outage"),
		builder.WithManifests(configMap("settings", map[string]any{"a": "1"})))
	g.Expect(cp.Create(ctx, set)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), set) })
	g.Eventually(func(g Gomega) {
		prods := prodsOf(g, set)
		g.Expect(prods).To(HaveLen(1))
		c := meta.FindStatusCondition(prods[0].Status.Conditions, droverv1.ProdAppliedCondition)
		g.Expect(c).NotTo(BeNil())
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())

	w := bed.Workload(outage)
	g.Expect(w.StopAPIServer()).To(Succeed())
	t.Cleanup(func() { g.Expect(w.StartAPIServer()).To(Succeed()) })
	candidate := set.Spec.Template.DeepCopy()
	candidate.Spec.Version = "v2"
	d := diffOf(t, set, candidate)
	g.Expect(d.Status.Prods).To(HaveLen(1))
	g.Expect(d.Status.Prods[0].Cluster).To(Equal(outage))
	g.Expect(d.Status.Prods[0].Message).To(ContainSubstring("Cluster " + bed.Namespace + "/" + outage + " cannot be reached"))
	g.Expect(d.Status.Prods[0].Objects).To(BeEmpty())
	g.Expect(d.Status.Changes).To(BeTrue(), "a Prod that could not be diffed is not \"no differences\"")
	g.Expect(meta.FindStatusCondition(d.Status.Conditions, droverv1.ReadyCondition).Message).To(ContainSubstring("1 Prods could not be diffed"))
}
