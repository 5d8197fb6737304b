package prod_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/builder"
)

// The tenancy stories: what a Prod may reach with no Tenant (the defaults) and with one,
// tried as a team that may only write Prods in its own namespace would try it.

func clusterRole(name string) map[string]any {
	return map[string]any{"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": name},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "default", "namespace": "kube-system"}}}
}

// teamNamespace creates a control-plane namespace for a team, labelled with tenant
// unless it is empty.
func teamNamespace(t *testing.T, tenant string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-" + rand.String(6)}}
	if tenant != "" {
		ns.Labels = map[string]string{droverv1.TenantLabel: tenant}
	}
	NewWithT(t).Expect(cp.Create(context.Background(), ns)).To(Succeed())
	return ns.Name
}

// prodIn creates a Prod in namespace on the Cluster clusterNS/cluster.
func prodIn(t *testing.T, namespace, clusterNS, cluster, targetNS string, objs ...map[string]any) *droverv1.Prod {
	t.Helper()
	p := builder.Prod(namespace, cluster, targetNS, objs)
	p.Spec.ClusterRef.Namespace = clusterNS
	NewWithT(t).Expect(cp.Create(context.Background(), p)).To(Succeed())
	t.Cleanup(func() { deleteProd(t, p) })
	return p
}

// expectRefused waits until the Prod's Applied condition is NotPermitted with a message
// holding every one of parts, and returns that message.
func expectRefused(t *testing.T, p *droverv1.Prod, parts ...string) string {
	t.Helper()
	var msg string
	NewWithT(t).Eventually(func(g Gomega) {
		got := getProd(g, p)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdNotPermittedReason)
		msg = conditions.Get(got, droverv1.ProdAppliedCondition).Message
		for _, part := range parts {
			g.Expect(msg).To(ContainSubstring(part))
		}
		g.Expect(got.Status.Inventory).To(BeEmpty(), "a refused Prod records nothing as applied")
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	return msg
}

// expectNoNamespace checks that nothing of the Prod reached the workload cluster: its
// target namespace was not even created.
func expectNoNamespace(t *testing.T, cluster, name string) {
	t.Helper()
	NewWithT(t).Consistently(func() bool {
		return apierrors.IsNotFound(workloadClient(cluster).Get(context.Background(), client.ObjectKey{Name: name}, &corev1.Namespace{}))
	}, 3*time.Second, 500*time.Millisecond).Should(BeTrue(), "namespace %s was created on %s", name, cluster)
}

func TestDefaultsKeepAProdToTheClustersOfItsNamespace(t *testing.T) {
	team := teamNamespace(t, "")
	// The platform's Clusters live in bed.Namespace; a team without a Tenant names one.
	p := prodIn(t, team, bed.Namespace, rolloutCluster, "stolen", configMap("x", nil))
	msg := expectRefused(t, p, "spec.clusters", bed.Namespace+"/"+rolloutCluster, team)
	expectNoNamespace(t, rolloutCluster, "stolen")
	got := getProd(NewWithT(t), p)
	NewWithT(t).Expect(conditions.Get(got, droverv1.ProdClusterReachableCondition).Reason).To(Equal(droverv1.ProdNotPermittedReason))

	// A Cluster that does not exist there is refused the same way: the refusal says
	// nothing of what exists in a namespace the team may not see.
	ghost := prodIn(t, team, bed.Namespace, "no-such-cluster", "stolen", configMap("x", nil))
	ghostMsg := expectRefused(t, ghost, "spec.clusters")
	NewWithT(t).Expect(ghostMsg).To(Equal(strings.ReplaceAll(msg, rolloutCluster, "no-such-cluster")))
}

func TestDefaultsRefuseClusterScopedKindsAndSystemNamespaces(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	binding := "drover-test-escalation-" + rand.String(5)
	p := newProd(t, rolloutCluster, "escalate", configMap("first", nil), clusterRole(binding))
	t.Cleanup(func() { deleteProd(t, p) })
	expectRefused(t, p, "spec.manifests[1]", "ClusterRoleBinding", "spec.kinds.clusterScopedAllowed")
	expectNoNamespace(t, rolloutCluster, "escalate")
	g.Expect(apierrors.IsNotFound(workloadClient(rolloutCluster).Get(ctx, client.ObjectKey{Name: binding}, &rbacv1.ClusterRoleBinding{}))).To(BeTrue())

	// kube-system exists and is not the team's: nothing is applied into it.
	sys := newProd(t, rolloutCluster, "kube-system", configMap("planted-"+rand.String(5), nil))
	t.Cleanup(func() { deleteProd(t, sys) })
	expectRefused(t, sys, "kube-system")
	cms := &corev1.ConfigMapList{}
	g.Expect(workloadClient(rolloutCluster).List(ctx, cms, client.InNamespace("kube-system"), client.HasLabels{droverv1.ProdNameLabel})).To(Succeed())
	g.Expect(cms.Items).To(BeEmpty())
}

// tenantIdentity makes, on a workload cluster, the ServiceAccount a Tenant names and
// lets it manage ConfigMaps only (in every namespace): the workload cluster's own RBAC.
func tenantIdentity(t *testing.T, cluster, saNamespace, sa string) {
	t.Helper()
	g := NewWithT(t)
	ctx := context.Background()
	w := workloadClient(cluster)
	for _, o := range builder.TenantIdentity(saNamespace, sa) {
		if err := w.Create(ctx, o); !apierrors.IsAlreadyExists(err) {
			g.Expect(err).NotTo(HaveOccurred())
		}
	}
}

func TestTenantGrantsClustersTargetNamespacesAndAnIdentity(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	name := "t-" + rand.String(5)
	team := teamNamespace(t, name)
	tenant := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: droverv1.TenantSpec{
		Clusters:         []droverv1.TenantClusterRule{{Namespace: bed.Namespace, Names: []droverv1.NamePattern{rolloutCluster}}},
		TargetNamespaces: []droverv1.NamePattern{droverv1.NamePattern(name + "-*")},
		ServiceAccount:   &droverv1.TenantServiceAccount{Namespace: "drover-tenants", Name: name},
	}}
	g.Expect(cp.Create(ctx, tenant)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), tenant) })
	tenantIdentity(t, rolloutCluster, "drover-tenants", name)

	// Allowed: the fleet's workload-1, a target namespace of the pattern, ConfigMaps.
	ok := prodIn(t, team, bed.Namespace, rolloutCluster, name+"-app", configMap("settings", map[string]string{"a": "1"}))
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, ok), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	cm := &corev1.ConfigMap{}
	g.Expect(workloadClient(rolloutCluster).Get(ctx, client.ObjectKey{Namespace: name + "-app", Name: "settings"}, cm)).To(Succeed())

	// Refused by the Tenant: a Cluster its names do not list, a target namespace outside
	// its pattern.
	other := prodIn(t, team, bed.Namespace, otherCluster, name+"-app", configMap("x", nil))
	expectRefused(t, other, fmt.Sprintf("Tenant %q", name), "spec.clusters")
	outside := prodIn(t, team, bed.Namespace, rolloutCluster, "elsewhere-"+name, configMap("x", nil))
	expectRefused(t, outside, "spec.targetNamespaces", "elsewhere-"+name)
	expectNoNamespace(t, rolloutCluster, "elsewhere-"+name)

	// Allowed by drover's checks but not by the workload cluster's RBAC: the objects are
	// applied as the tenant's ServiceAccount, which may not write Deployments.
	bounded := prodIn(t, team, bed.Namespace, rolloutCluster, name+"-api", deployment("api", 1))
	expectRefused(t, bounded, "system:serviceaccount:drover-tenants:"+name, "deployments")
}

func TestANamespaceLabelledWithAMissingTenantIsRefusedEverything(t *testing.T) {
	team := teamNamespace(t, "ghost-"+rand.String(5))
	p := prodIn(t, team, "", rolloutCluster, "ghostly", configMap("x", nil))
	expectRefused(t, p, "does not exist")
	expectNoNamespace(t, rolloutCluster, "ghostly")
}

func TestATenantSharesItsTargetNamespacesAndNobodyElseEntersThem(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	s, x := "s-"+rand.String(5), "x-"+rand.String(5)
	fleet := []droverv1.TenantClusterRule{{Namespace: bed.Namespace, Names: []droverv1.NamePattern{otherCluster}}}
	for _, name := range []string{s, x} {
		tenant := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: droverv1.TenantSpec{Clusters: fleet}}
		g.Expect(cp.Create(ctx, tenant)).To(Succeed())
		t.Cleanup(func() { _ = cp.Delete(context.Background(), tenant) })
	}
	s1, s2, x1 := teamNamespace(t, s), teamNamespace(t, s), teamNamespace(t, x)
	shared := s + "-shared"
	w := workloadClient(otherCluster)

	// Two namespaces of one Tenant use one target namespace.
	first := prodIn(t, s1, bed.Namespace, otherCluster, shared, configMap("first", map[string]string{"v": "1"}))
	second := prodIn(t, s2, bed.Namespace, otherCluster, shared, configMap("second", map[string]string{"v": "2"}))
	for _, p := range []*droverv1.Prod{first, second} {
		g.Eventually(func(g Gomega) {
			expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
		}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	}
	before := map[string]string{}
	for _, name := range []string{"first", "second"} {
		cm := &corev1.ConfigMap{}
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: shared, Name: name}, cm)).To(Succeed())
		before[name] = cm.ResourceVersion
	}

	// Another tenant allowed on the same cluster cannot enter it: not to add an object,
	// not to overwrite one of the first tenant's; not after an update of its Prod, and
	// its deletion takes nothing with it.
	intruder := prodIn(t, x1, bed.Namespace, otherCluster, shared,
		configMap("first", map[string]string{"v": "mine"}), configMap("planted", nil))
	var msg string
	g.Eventually(func(g Gomega) {
		got := getProd(g, intruder)
		expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdNotOwnedReason)
		msg = conditions.Get(got, droverv1.ProdAppliedCondition).Message
		g.Expect(got.Status.Inventory).To(BeEmpty())
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Expect(msg).To(ContainSubstring("namespace " + shared))
	g.Eventually(func() error {
		p := getProd(NewWithT(t), intruder)
		p.Spec.Version = "v2"
		return cp.Update(ctx, p)
	}, 10*time.Second, 250*time.Millisecond).Should(Succeed())
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, intruder), droverv1.ProdAppliedCondition, metav1.ConditionFalse, droverv1.ProdNotOwnedReason)
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	deleteProd(t, intruder)

	for name, rv := range before {
		cm := &corev1.ConfigMap{}
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: shared, Name: name}, cm)).To(Succeed())
		g.Expect(cm.ResourceVersion).To(Equal(rv), "ConfigMap %s/%s was changed", shared, name)
	}
	g.Expect(apierrors.IsNotFound(w.Get(ctx, client.ObjectKey{Namespace: shared, Name: "planted"}, &corev1.ConfigMap{}))).To(BeTrue())
	for _, p := range []*droverv1.Prod{first, second} {
		expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
	}
}

// newTenant creates a Tenant with spec and a control-plane namespace labelled with it,
// and returns both names.
func newTenant(t *testing.T, spec droverv1.TenantSpec) (tenant, team string) {
	t.Helper()
	name := "t-" + rand.String(5)
	tn := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	NewWithT(t).Expect(cp.Create(context.Background(), tn)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), tn) })
	return name, teamNamespace(t, name)
}

// expectApplied waits until the Prod's objects of its current generation are applied.
func expectApplied(t *testing.T, p *droverv1.Prod) {
	t.Helper()
	NewWithT(t).Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAppliedCondition, metav1.ConditionTrue, droverv1.ProdAppliedReason)
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
}

// The admission policies refuse a Namespace among the manifests when they are
// installed; the suite's control plane has none of them, so this is the manager's own
// refusal, the second wall.
func TestANamespaceInTheManifestsIsRefused(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	planted := "planted-" + rand.String(5)
	namespace := map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": planted}}

	// The defaults, and a Tenant that allows every other kind.
	p := newProd(t, rolloutCluster, "ns-"+planted, configMap("first", nil), namespace)
	t.Cleanup(func() { deleteProd(t, p) })
	msg := expectRefused(t, p, "spec.manifests[1]", "Namespace of the core group", "spec.kinds.clusterScopedAllowed",
		"a Namespace is never allowed in the manifests")
	g.Expect(msg).To(ContainSubstring(fmt.Sprintf("the defaults for namespace %q", bed.Namespace)))
	expectNoNamespace(t, rolloutCluster, "ns-"+planted)

	tenant, team := newTenant(t, droverv1.TenantSpec{
		Clusters: []droverv1.TenantClusterRule{{Namespace: bed.Namespace, Names: []droverv1.NamePattern{rolloutCluster}}},
		Kinds: droverv1.TenantKinds{ClusterScopedAllowed: []droverv1.GroupKind{
			{Group: "rbac.authorization.k8s.io", Kind: "*"}, {Kind: "PersistentVolume"},
		}},
	})
	tp := prodIn(t, team, bed.Namespace, rolloutCluster, "ns-t-"+planted, namespace, configMap("first", nil))
	expectRefused(t, tp, fmt.Sprintf("Tenant %q", tenant), "spec.manifests[0]", "Namespace of the core group")
	expectNoNamespace(t, rolloutCluster, "ns-t-"+planted)
	g.Expect(apierrors.IsNotFound(workloadClient(rolloutCluster).Get(ctx, client.ObjectKey{Name: planted}, &corev1.Namespace{}))).To(BeTrue())
}

func TestATenantsNamespacedKinds(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	// ConfigMaps and every kind of apps but DaemonSets.
	tenant, team := newTenant(t, droverv1.TenantSpec{
		Clusters: []droverv1.TenantClusterRule{{Namespace: bed.Namespace, Names: []droverv1.NamePattern{otherCluster}}},
		Kinds: droverv1.TenantKinds{
			NamespacedAllowed: []droverv1.GroupKind{{Kind: "ConfigMap"}, {Group: "apps", Kind: "*"}},
			NamespacedDenied:  []droverv1.GroupKind{{Group: "apps", Kind: "DaemonSet"}},
		},
	})
	daemonSet := map[string]any{"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": map[string]any{"name": "agent"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "agent"}},
			"template": map[string]any{"metadata": map[string]any{"labels": map[string]any{"app": "agent"}},
				"spec": map[string]any{"containers": []any{map[string]any{"name": "agent", "image": "registry.example/agent:1"}}}},
		}}
	secret := map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": map[string]any{"name": "token"}, "stringData": map[string]any{"t": "x"}}

	ok := prodIn(t, team, bed.Namespace, otherCluster, tenant+"-ok", configMap("settings", nil), deployment("api", 1))
	expectApplied(t, ok)
	g.Expect(workloadClient(otherCluster).Get(ctx, client.ObjectKey{Namespace: tenant + "-ok", Name: "api"}, &appsv1.Deployment{})).To(Succeed())

	notAllowed := prodIn(t, team, bed.Namespace, otherCluster, tenant+"-secret", configMap("settings", nil), secret)
	expectRefused(t, notAllowed, fmt.Sprintf("Tenant %q", tenant), "spec.manifests[1]", "Secret of the core group",
		"spec.kinds.namespacedAllowed", "not among the namespaced kinds allowed")
	expectNoNamespace(t, otherCluster, tenant+"-secret")

	denied := prodIn(t, team, bed.Namespace, otherCluster, tenant+"-agent", configMap("settings", nil), daemonSet)
	expectRefused(t, denied, fmt.Sprintf("Tenant %q", tenant), "spec.manifests[1]", "DaemonSet apps",
		"spec.kinds.namespacedDenied", "among the namespaced kinds denied")
	expectNoNamespace(t, otherCluster, tenant+"-agent")
}

func TestATenantsClusterSelector(t *testing.T) {
	// workload-1 and workload-2 are both labelled region eu. The Tenant allows
	// workload-2 only with region us, and any Cluster with region eu by the second rule
	// but for its names: workload-1 only.
	tenant, team := newTenant(t, droverv1.TenantSpec{Clusters: []droverv1.TenantClusterRule{
		{Namespace: bed.Namespace, Names: []droverv1.NamePattern{otherCluster},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"topology.drover.dev/region": "us"}}},
		{Namespace: bed.Namespace, Names: []droverv1.NamePattern{rolloutCluster},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"topology.drover.dev/region": "eu"}}},
	}})
	refused := prodIn(t, team, bed.Namespace, otherCluster, tenant+"-eu", configMap("settings", nil))
	expectRefused(t, refused, fmt.Sprintf("Tenant %q", tenant), "spec.clusters", bed.Namespace+"/"+otherCluster)
	expectNoNamespace(t, otherCluster, tenant+"-eu")
	NewWithT(t).Expect(conditions.Get(getProd(NewWithT(t), refused), droverv1.ProdClusterReachableCondition).Reason).
		To(Equal(droverv1.ProdNotPermittedReason))

	allowed := prodIn(t, team, bed.Namespace, rolloutCluster, tenant+"-eu", configMap("settings", nil))
	expectApplied(t, allowed)
}

// A Prod that runs keeps what it runs when its Tenant stops allowing one of its kinds,
// and when it is updated to hold a kind that is refused: nothing is applied, pruned or
// changed, and Applied says why.
func TestARunningProdKeepsItsObjectsWhenItsKindsAreRefused(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	tenant, team := newTenant(t, droverv1.TenantSpec{
		Clusters: []droverv1.TenantClusterRule{{Namespace: bed.Namespace, Names: []droverv1.NamePattern{otherCluster}}},
	})
	target := tenant + "-app"
	w := workloadClient(otherCluster)
	p := prodIn(t, team, bed.Namespace, otherCluster, target,
		configMap("a", map[string]string{"v": "1"}), configMap("b", map[string]string{"v": "1"}), deployment("api", 1))
	expectApplied(t, p)
	inventory := getProd(g, p).Status.Inventory
	g.Expect(inventory).To(HaveLen(3))
	versions := func(g Gomega) map[string]string {
		out := map[string]string{}
		for _, name := range []string{"a", "b"} {
			cm := &corev1.ConfigMap{}
			g.Expect(w.Get(ctx, client.ObjectKey{Namespace: target, Name: name}, cm)).To(Succeed())
			out["ConfigMap "+name] = cm.ResourceVersion
		}
		dep := &appsv1.Deployment{}
		g.Expect(w.Get(ctx, client.ObjectKey{Namespace: target, Name: "api"}, dep)).To(Succeed())
		out["Deployment api"] = fmt.Sprint(dep.Generation)
		return out
	}
	// Deployments change their status as they roll out: their generation is compared.
	var before map[string]string
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAvailableCondition, metav1.ConditionTrue, "")
		before = versions(g)
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	keeps := func(reason string, parts ...string) {
		t.Helper()
		g.Eventually(func(g Gomega) {
			got := getProd(g, p)
			expectCondition(g, got, droverv1.ProdAppliedCondition, metav1.ConditionFalse, reason)
			for _, part := range parts {
				g.Expect(conditions.GetMessage(got, droverv1.ProdAppliedCondition)).To(ContainSubstring(part))
			}
		}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
		g.Consistently(func(g Gomega) {
			g.Expect(versions(g)).To(Equal(before), "the running objects must stay as they were")
			g.Expect(getProd(g, p).Status.Inventory).To(Equal(inventory), "nothing is pruned or forgotten")
		}, 7*time.Second, 500*time.Millisecond).Should(Succeed(), "two resyncs change nothing")
	}

	// The platform team denies ConfigMaps.
	tn := &droverv1.Tenant{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Name: tenant}, tn)).To(Succeed())
	tn.Spec.Kinds.NamespacedDenied = []droverv1.GroupKind{{Kind: "ConfigMap"}}
	g.Expect(cp.Update(ctx, tn)).To(Succeed())
	keeps(droverv1.ProdNotPermittedReason, fmt.Sprintf("Tenant %q", tenant), "spec.manifests[0]", "ConfigMap of the core group", "spec.kinds.namespacedDenied")

	// It allows them again, and the team drops b, changes a and adds a
	// ClusterRoleBinding: refused, so a keeps its data and b is not pruned.
	g.Expect(cp.Get(ctx, client.ObjectKey{Name: tenant}, tn)).To(Succeed())
	tn.Spec.Kinds.NamespacedDenied = nil
	g.Expect(cp.Update(ctx, tn)).To(Succeed())
	expectApplied(t, p)
	inventory = getProd(g, p).Status.Inventory
	before = versions(g)
	binding := "drover-test-" + rand.String(5)
	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Spec.Manifests = raw(configMap("a", map[string]string{"v": "2"}), deployment("api", 1), clusterRole(binding))
	})).To(Succeed())
	keeps(droverv1.ProdNotPermittedReason, "spec.manifests[2]", "ClusterRoleBinding rbac.authorization.k8s.io", "spec.kinds.clusterScopedAllowed")
	cm := &corev1.ConfigMap{}
	g.Expect(w.Get(ctx, client.ObjectKey{Namespace: target, Name: "a"}, cm)).To(Succeed())
	g.Expect(cm.Data).To(HaveKeyWithValue("v", "1"))
	g.Expect(apierrors.IsNotFound(w.Get(ctx, client.ObjectKey{Name: binding}, &rbacv1.ClusterRoleBinding{}))).To(BeTrue())
}
