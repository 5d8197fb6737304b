// Package admission_test installs the ValidatingAdmissionPolicies of config/admission
// into a real kube-apiserver, beside the CRDs of config/crd/bases, and checks what they
// refuse, with which message, and that they never stand in the way of what already
// runs (finalizers, labels, status, deletion) after a Tenant tightens.
package admission_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/testbed"
)

const (
	ownNamespacePolicy = "drover-own-namespace-clusters"
	prodsPolicy        = "drover-tenant-prods"
	prodSetsPolicy     = "drover-tenant-prodsets"
	needsTenantPolicy  = "drover-tenant-label-needs-a-tenant"

	// How long a policy, a binding or a Tenant may take to reach the admission
	// plugin's informers.
	settle = 30 * time.Second
)

func TestAdmissionPolicies(t *testing.T) {
	c := startAPIServer(t)
	ctx := t.Context()

	for name, labels := range map[string]map[string]string{
		"plain":       nil,
		"empty-label": {droverv1.TenantLabel: ""},
		"fleet":       nil,
		"team-a":      {droverv1.TenantLabel: "shop"},
		"team-ghost":  {droverv1.TenantLabel: "ghost"},
	} {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
		if err := c.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
	}
	installPolicies(t, c)

	// Policies take effect asynchronously: each first check polls until it does.
	t.Run("no tenant: a Cluster of another namespace is refused", func(t *testing.T) {
		refusedEventually(t, c, prod("plain", "cross", "fleet", "web-1", "shop"), ownNamespacePolicy,
			"no Tenant governs namespace plain: a Prod may name Clusters of its own namespace only, not of fleet")
		// An empty label names no Tenant: refused whatever the Cluster, as the manager
		// refuses it.
		for _, clusterNS := range []string{"fleet", "", "empty-label"} {
			wantRefusal(t, dryRunCreate(c, prod("empty-label", "p", clusterNS, "web-1", "shop")), ownNamespacePolicy,
				"namespace empty-label is labelled drover.dev/tenant with an empty value")
		}
	})
	t.Run("no tenant: Clusters of the own namespace are admitted", func(t *testing.T) {
		for _, clusterNS := range []string{"", "plain"} {
			if err := dryRunCreate(c, prod("plain", "own", clusterNS, "web-1", "anything")); err != nil {
				t.Errorf("clusterRef.namespace %q: %v", clusterNS, err)
			}
		}
	})
	t.Run("a labelled namespace while no Tenant exists is refused", func(t *testing.T) {
		refusedEventually(t, c, prod("team-a", "own", "", "web-1", "shop"), needsTenantPolicy, "no params found")
		err := dryRunCreate(c, prodSet("team-a", "set", "shop"))
		wantRefusal(t, err, needsTenantPolicy, "no params found")
	})

	shop := &droverv1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: "shop"},
		Spec: droverv1.TenantSpec{
			Clusters: []droverv1.TenantClusterRule{
				{Namespace: "fleet", Names: []droverv1.NamePattern{"web-*", "db-1"}},
				{Namespace: "shared"},
			},
			TargetNamespaces: []droverv1.NamePattern{"shop", "shop-*"},
			HostedZones: []droverv1.TenantHostedZone{
				{ID: "ZSHOP", RecordNames: []string{"shop.example.com", "*.shop.example.com"}},
			},
		},
	}
	// A second Tenant that would allow everything: its rules must not leak into shop's.
	other := &droverv1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: "other"},
		Spec:       droverv1.TenantSpec{Clusters: []droverv1.TenantClusterRule{{Namespace: "fleet"}}},
	}
	for _, tn := range []*droverv1.Tenant{shop, other} {
		if err := c.Create(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("tenant: a Cluster name outside the patterns is refused", func(t *testing.T) {
		refusedEventually(t, c, prod("team-a", "api", "fleet", "api-1", "shop"), prodsPolicy,
			"spec.clusterRef: Tenant shop (namespace team-a) does not allow Cluster fleet/api-1")
		err := dryRunCreate(c, prod("team-a", "elsewhere", "plain", "web-1", "shop"))
		wantRefusal(t, err, prodsPolicy, "does not allow Cluster plain/web-1")
	})
	t.Run("tenant: allowed Clusters and target namespaces are admitted", func(t *testing.T) {
		for _, p := range []*droverv1.Prod{
			prod("team-a", "web", "fleet", "web-1", "shop"),
			prod("team-a", "web-staging", "fleet", "web-2", "shop-staging"),
			prod("team-a", "db", "fleet", "db-1", "shop"),
			prod("team-a", "shared", "shared", "anything", "shop"),
			prod("team-a", "own", "", "local", "shop"),
			prod("team-a", "own-explicit", "team-a", "local", "shop-x"),
		} {
			if err := dryRunCreate(c, p); err != nil {
				t.Errorf("Prod %s on %s/%s into %s: %v", p.Name, p.Spec.ClusterRef.Namespace, p.Spec.ClusterRef.Name, p.Spec.TargetNamespace, err)
			}
		}
		if err := dryRunCreate(c, prodSet("team-a", "set", "shop-eu")); err != nil {
			t.Errorf("ProdSet into shop-eu: %v", err)
		}
	})
	t.Run("tenant: a target namespace outside targetNamespaces is refused", func(t *testing.T) {
		err := dryRunCreate(c, prod("team-a", "pay", "fleet", "web-1", "payments"))
		wantRefusal(t, err, prodsPolicy,
			"spec.targetNamespace: Tenant shop (namespace team-a) does not allow target namespace payments")
		// "shop-*" needs the dash: "shopping" is not "shop-" anything.
		wantRefusal(t, dryRunCreate(c, prod("team-a", "pay", "", "local", "shopping")), prodsPolicy,
			"does not allow target namespace shopping")
		err = dryRunCreate(c, prodSet("team-a", "pay", "payments"))
		wantRefusal(t, err, prodSetsPolicy,
			"spec.template.spec.targetNamespace: Tenant shop (namespace team-a) does not allow target namespace payments")
	})
	t.Run("tenant: a record name outside the Tenant's hosted zones is refused", func(t *testing.T) {
		withTraffic := func(name, zone, record string) *droverv1.ProdSet {
			set := prodSet("team-a", name, "shop")
			set.Spec.Traffic = &droverv1.ProdSetTraffic{HostedZoneID: zone, RecordName: record}
			return set
		}
		for _, set := range []*droverv1.ProdSet{
			withTraffic("apex", "ZSHOP", "shop.example.com"),
			withTraffic("apex-dot", "ZSHOP", "Shop.Example.com."),
			withTraffic("below", "ZSHOP", "eu.shop.example.com"),
		} {
			if err := dryRunCreate(c, set); err != nil {
				t.Errorf("ProdSet publishing %s in %s: %v", set.Spec.Traffic.RecordName, set.Spec.Traffic.HostedZoneID, err)
			}
		}
		for _, tc := range []struct{ zone, record string }{
			{"ZSHOP", "bank.example.com"},
			{"ZSHOP", "evilshop.example.com"},
			{"ZOTHER", "shop.example.com"},
		} {
			wantRefusal(t, dryRunCreate(c, withTraffic("bad", tc.zone, tc.record)), prodSetsPolicy,
				"spec.traffic: Tenant shop (namespace team-a) does not allow record "+tc.record+" in hosted zone "+tc.zone)
		}
	})
	t.Run("a label naming a missing Tenant passes admission while others exist", func(t *testing.T) {
		// Admission cannot tell: every Tenant it is handed is another one. The manager
		// refuses such a Prod.
		if err := dryRunCreate(c, prod("team-ghost", "cross", "fleet", "anything", "anywhere")); err != nil {
			t.Errorf("refused: %v", err)
		}
	})

	t.Run("what runs is never blocked after the Tenant tightens", func(t *testing.T) {
		running := prod("team-a", "running", "fleet", "web-1", "shop")
		running.Finalizers = []string{"drover.dev/test"}
		if err := c.Create(ctx, running); err != nil {
			t.Fatalf("creating the Prod: %v", err)
		}
		set := prodSet("team-a", "running-set", "shop")
		set.Finalizers = []string{"drover.dev/test"}
		if err := c.Create(ctx, set); err != nil {
			t.Fatalf("creating the ProdSet: %v", err)
		}

		// The Tenant loses both the fleet and the target namespace shop.
		var tn droverv1.Tenant
		if err := c.Get(ctx, client.ObjectKeyFromObject(shop), &tn); err != nil {
			t.Fatal(err)
		}
		tn.Spec.Clusters = nil
		tn.Spec.TargetNamespaces = []droverv1.NamePattern{"elsewhere"}
		if err := c.Update(ctx, &tn); err != nil {
			t.Fatal(err)
		}
		again := prod("team-a", "running-2", "fleet", "web-1", "shop")
		refusedEventually(t, c, again, prodsPolicy, "does not allow Cluster fleet/web-1")

		// Writing the spec is checked: the Prod is out of bounds now.
		if err := c.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
			t.Fatal(err)
		}
		bumped := running.DeepCopy()
		bumped.Spec.Version = "v2"
		wantRefusal(t, c.Update(ctx, bumped, client.DryRunAll), prodsPolicy, "does not allow Cluster fleet/web-1")

		// Labels, status, finalizers and deletion are not.
		running.Labels = map[string]string{"moved": "no"}
		if err := c.Update(ctx, running); err != nil {
			t.Errorf("changing the labels of the Prod: %v", err)
		}
		running.Status.ObservedGeneration = running.Generation
		if err := c.Status().Update(ctx, running); err != nil {
			t.Errorf("writing the Prod's status: %v", err)
		}
		if err := c.Delete(ctx, running); err != nil {
			t.Errorf("deleting the Prod: %v", err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
			t.Fatal(err)
		}
		running.Finalizers = nil
		if err := c.Update(ctx, running); err != nil {
			t.Errorf("removing the finalizer of the Prod: %v", err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(running), running); !apierrors.IsNotFound(err) {
			t.Errorf("the Prod is still there after its finalizer went (%v)", err)
		}

		if err := c.Get(ctx, client.ObjectKeyFromObject(set), set); err != nil {
			t.Fatal(err)
		}
		set.Labels = map[string]string{"moved": "no"}
		if err := c.Update(ctx, set); err != nil {
			t.Errorf("changing the labels of the ProdSet: %v", err)
		}
		if err := c.Delete(ctx, set); err != nil {
			t.Errorf("deleting the ProdSet: %v", err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(set), set); err != nil {
			t.Fatal(err)
		}
		set.Finalizers = nil
		if err := c.Update(ctx, set); err != nil {
			t.Errorf("removing the finalizer of the ProdSet: %v", err)
		}
	})

	t.Run("what runs is never blocked after its namespace loses the label", func(t *testing.T) {
		// team-b's Prod runs on fleet while shop allows it; then the platform team takes
		// team-b out of the tenant.
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-b", Labels: map[string]string{droverv1.TenantLabel: "other"}}}
		if err := c.Create(ctx, ns); err != nil {
			t.Fatal(err)
		}
		running := prod("team-b", "running", "fleet", "web-1", "shop")
		running.Finalizers = []string{"drover.dev/test"}
		if err := c.Create(ctx, running); err != nil {
			t.Fatalf("creating the Prod: %v", err)
		}
		ns.Labels = nil
		if err := c.Update(ctx, ns); err != nil {
			t.Fatal(err)
		}
		refusedEventually(t, c, prod("team-b", "running-2", "fleet", "web-1", "shop"), ownNamespacePolicy,
			"no Tenant governs namespace team-b")

		if err := c.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
			t.Fatal(err)
		}
		running.Labels = map[string]string{"moved": "no"}
		if err := c.Update(ctx, running); err != nil {
			t.Errorf("changing the labels of the Prod: %v", err)
		}
		if err := c.Delete(ctx, running); err != nil {
			t.Errorf("deleting the Prod: %v", err)
		}
		if err := c.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
			t.Fatal(err)
		}
		running.Finalizers = nil
		if err := c.Update(ctx, running); err != nil {
			t.Errorf("removing the finalizer of the Prod: %v", err)
		}
	})
}

func prod(namespace, name, clusterNamespace, cluster, target string) *droverv1.Prod {
	return &droverv1.Prod{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec: droverv1.ProdSpec{
			ClusterRef:       droverv1.ClusterReference{Namespace: clusterNamespace, Name: cluster},
			ProdTemplateSpec: templateSpec(target),
		},
	}
}

func prodSet(namespace, name, target string) *droverv1.ProdSet {
	return &droverv1.ProdSet{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		Spec:       droverv1.ProdSetSpec{Template: droverv1.ProdTemplate{Spec: templateSpec(target)}},
	}
}

func templateSpec(target string) droverv1.ProdTemplateSpec {
	cm, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings"},
	})
	return droverv1.ProdTemplateSpec{
		Version: "v1", TargetNamespace: target,
		Manifests: []runtime.RawExtension{{Raw: cm}},
	}
}

func dryRunCreate(c client.Client, obj client.Object) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Create(ctx, obj.DeepCopyObject().(client.Object), client.DryRunAll)
}

// refusedEventually creates obj (dry run) until policy refuses it saying want, then
// checks that refusal: a policy, binding or Tenant reaches the admission plugin some
// time after it is written, and until the plugin has read the Tenants it refuses with
// another message.
func refusedEventually(t *testing.T, c client.Client, obj client.Object, policy, want string) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		err := dryRunCreate(c, obj)
		// A rule's refusal is Forbidden (its reason); a binding's (no Tenant) is Invalid.
		if err != nil && !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) {
			t.Fatalf("creating %s/%s: %v", obj.GetNamespace(), obj.GetName(), err)
		}
		if refusedBy(err, policy, want) || time.Now().After(deadline) {
			wantRefusal(t, err, policy, want)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func refusedBy(err error, policy, want string) bool {
	return err != nil && strings.Contains(err.Error(), fmt.Sprintf("ValidatingAdmissionPolicy '%s'", policy)) &&
		strings.Contains(err.Error(), want)
}

// wantRefusal checks that err is a refusal by policy whose message holds want.
func wantRefusal(t *testing.T, err error, policy, want string) {
	t.Helper()
	switch {
	case err == nil:
		t.Errorf("admitted; want a refusal by %s saying %q", policy, want)
	case !refusedBy(err, policy, want):
		t.Errorf("refused with\n  %v\nwant a refusal by %s saying %q", err, policy, want)
	default:
		t.Logf("refused: %v", err)
	}
}

// installPolicies applies the kustomization config/admission, as config/default does.
func installPolicies(t *testing.T, c client.Client) {
	t.Helper()
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(root, "config", "admission"))
	if err != nil {
		t.Fatalf("kustomize build config/admission: %v", err)
	}
	kinds := map[string]int{}
	for _, r := range rm.Resources() {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		if err := c.Create(t.Context(), u); err != nil {
			t.Fatalf("creating %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		kinds[u.GetKind()]++
	}
	if kinds["ValidatingAdmissionPolicy"] != 5 || kinds["ValidatingAdmissionPolicyBinding"] != 5 {
		t.Fatalf("config/admission holds %v; want 5 policies and their 5 bindings", kinds)
	}
}

func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	binDir, err := testbed.ResolveBinaryDir(t.Context(), "", os.Stderr)
	if err != nil {
		t.Fatalf("finding kube-apiserver: %v", err)
	}
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, droverv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: binDir,
		CRDDirectoryPaths:     []string{filepath.Join(root, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := env.Start()
	if err != nil {
		_ = env.Stop()
		t.Fatalf("starting kube-apiserver from %s with the CRDs of config/crd/bases: %v", binDir, err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping kube-apiserver: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	restConfig = cfg
	return c
}

// restConfig is the last started API server's, as its admin.
var restConfig *rest.Config

// TestReleaseFinalizersAnnotation: only who may update prods/release-finalizers (the
// ClusterRole drover-release-finalizers) may set drover.dev/release-finalizers on a Prod
// or ProdSet; an app team that may update its Prods may not, but may remove it.
func TestReleaseFinalizersAnnotation(t *testing.T) {
	c := startAPIServer(t)
	ctx := t.Context()
	installPolicies(t, c)
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	// The app team edits its Prods and ProdSets; the platform team also holds the role.
	edit := &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "edit-drover"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{"drover.dev"}, Resources: []string{"prods", "prodsets"}, Verbs: []string{"get", "list", "create", "update", "patch"},
	}}}
	objs := []client.Object{edit}
	for _, user := range []string{"app", "platform"} {
		objs = append(objs, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "edit-" + user},
			RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "edit-drover"},
			Subjects: []rbacv1.Subject{{Kind: "User", Name: user}}})
	}
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "config", "rbac", "release_finalizers_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(b, role); err != nil {
		t.Fatal(err)
	}
	objs = append(objs, role, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "platform-release"},
		RoleRef:  rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name},
		Subjects: []rbacv1.Subject{{Kind: "User", Name: "platform"}}})
	for _, o := range objs {
		if err := c.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	as := func(user string) client.Client {
		cfg := rest.CopyConfig(restConfig)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
		uc, err := client.New(cfg, client.Options{Scheme: c.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		return uc
	}
	app, platform := as("app"), as("platform")
	const policy = "drover-release-finalizers"
	release := func(o client.Object) client.Object {
		o = o.DeepCopyObject().(client.Object)
		o.SetResourceVersion("")
		o.SetAnnotations(map[string]string{droverv1.ReleaseFinalizersAnnotation: "true", "other": "x"})
		return o
	}

	for _, obj := range []client.Object{prod("team-a", "web", "", "web-1", "shop"), prodSet("team-a", "web", "shop")} {
		kind := fmt.Sprintf("%T", obj)
		// Created with the annotation: refused for the app team (eventually: policies take
		// effect asynchronously), admitted for the platform team.
		refusedEventually(t, app, release(obj), policy, "only the platform team may set it")
		if err := dryRunCreate(platform, release(obj)); err != nil {
			t.Errorf("%s: the platform team creating it with the annotation: %v", kind, err)
		}
		if err := app.Create(ctx, obj); err != nil {
			t.Fatalf("%s: the app team creating it without: %v", kind, err)
		}
		// annotate writes the object as it is now with annotations a, as c.
		annotate := func(c client.Client, a map[string]string) error {
			cur := obj.DeepCopyObject().(client.Object)
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), cur); err != nil {
				t.Fatal(err)
			}
			cur.SetAnnotations(a)
			return c.Update(ctx, cur)
		}
		set := map[string]string{droverv1.ReleaseFinalizersAnnotation: "true", "other": "x"}
		// Added by an update: the same.
		wantRefusal(t, annotate(app, set), policy, "only the platform team may set it")
		if err := annotate(app, map[string]string{"other": "x"}); err != nil {
			t.Errorf("%s: the app team changing another annotation: %v", kind, err)
		}
		if err := annotate(platform, set); err != nil {
			t.Fatalf("%s: the platform team setting the annotation: %v", kind, err)
		}
		// Changed by the app team: refused; left as it is, or removed: admitted.
		err := annotate(app, map[string]string{droverv1.ReleaseFinalizersAnnotation: "yes"})
		wantRefusal(t, err, policy, "only the platform team may set it")
		if err := annotate(app, map[string]string{droverv1.ReleaseFinalizersAnnotation: "true", "other": "y"}); err != nil {
			t.Errorf("%s: the app team changing another annotation of a released object: %v", kind, err)
		}
		if err := annotate(app, map[string]string{"other": "z"}); err != nil {
			t.Errorf("%s: the app team removing the annotation: %v", kind, err)
		}
	}
}
