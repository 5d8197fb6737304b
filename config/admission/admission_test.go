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
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
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
	defaultsPolicy     = "drover-defaults"

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
		"team-k":      {droverv1.TenantLabel: "kinds"},
		"team-d":      {droverv1.TenantLabel: "denier"},
		"team-moving": {droverv1.TenantLabel: "kinds"},
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

	t.Run("no tenant: system namespaces, a Namespace and Kubernetes' cluster-scoped kinds are refused", func(t *testing.T) {
		for _, target := range []string{"kube-system", "default", "kube-public", "kube-anything"} {
			wantRefusal(t, dryRunCreate(c, prod("plain", "sys", "", "web-1", target)), defaultsPolicy,
				"spec.targetNamespace: the defaults for namespace plain (no Tenant) do not allow target namespace "+target+
					" (spec.targetNamespaces): it is a system namespace of the workload cluster")
		}
		wantRefusal(t, dryRunCreate(c, prodSet("plain", "sys", "default")), defaultsPolicy,
			"spec.template.spec.targetNamespace: the defaults for namespace plain (no Tenant) do not allow target namespace default")
		wantRefusal(t, dryRunCreate(c, withManifests(prod("plain", "ns", "", "web-1", "shop"), manifest("v1", "Namespace", "shop"))),
			defaultsPolicy, "spec.manifests[1]: the defaults for namespace plain (no Tenant) do not allow Namespace of the core group (spec.kinds.clusterScopedAllowed)")
		for _, tc := range []struct{ apiVersion, kind, says string }{
			{"rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "ClusterRoleBinding rbac.authorization.k8s.io"},
			{"rbac.authorization.k8s.io/v1", "ClusterRole", "ClusterRole rbac.authorization.k8s.io"},
			{"apiextensions.k8s.io/v1", "CustomResourceDefinition", "CustomResourceDefinition apiextensions.k8s.io"},
			{"admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration", "ValidatingWebhookConfiguration admissionregistration.k8s.io"},
			{"admissionregistration.k8s.io/v1", "MutatingWebhookConfiguration", "MutatingWebhookConfiguration admissionregistration.k8s.io"},
			{"admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding", "ValidatingAdmissionPolicyBinding admissionregistration.k8s.io"},
			{"scheduling.k8s.io/v1", "PriorityClass", "PriorityClass scheduling.k8s.io"},
			{"storage.k8s.io/v1", "StorageClass", "StorageClass storage.k8s.io"},
			{"v1", "PersistentVolume", "PersistentVolume of the core group"},
			// ${DROVER_VERSION} is replaced before the kind is judged, as the manager does.
			// (A kind cannot hold it: the API server refuses such a kind.)
			{"${DROVER_VERSION}/v1", "ClusterRoleBinding", "ClusterRoleBinding rbac.authorization.k8s.io"},
		} {
			p := withManifests(prod("plain", "cs", "", "web-1", "shop"), manifest(tc.apiVersion, tc.kind, "x"))
			if strings.HasPrefix(tc.apiVersion, "${") {
				p.Spec.Version = "rbac.authorization.k8s.io"
			}
			wantRefusal(t, dryRunCreate(c, p), defaultsPolicy,
				"spec.manifests[1]: the defaults for namespace plain (no Tenant) do not allow "+tc.says+
					" (spec.kinds.clusterScopedAllowed): it is cluster-scoped, and only the cluster-scoped kinds listed are allowed; to allow more, label the namespace")
		}
		set := prodSet("plain", "cs", "shop")
		set.Spec.Template.Spec.Manifests = append(set.Spec.Template.Spec.Manifests, manifest("rbac.authorization.k8s.io/v1", "ClusterRole", "x"))
		wantRefusal(t, dryRunCreate(c, set), defaultsPolicy, "spec.template.spec.manifests[1]: the defaults for namespace plain (no Tenant) do not allow ClusterRole rbac.authorization.k8s.io")
	})
	t.Run("no tenant: namespaced kinds, kinds of unknown scope and other namespaces are admitted", func(t *testing.T) {
		// The scope of a CRD's kind is the manager's to learn from the workload cluster.
		for _, target := range []string{"kube", "defaults", "my-default", "shop-kube-system"} {
			p := withManifests(prod("plain", "ok", "", "web-1", target),
				manifest("apps/v1", "Deployment", "api"), manifest("example.com/v1", "Widget", "w"), manifest("v1", "Secret", "s"),
				manifest("rbac.authorization.k8s.io/v1", "RoleBinding", "rb"))
			if err := dryRunCreate(c, p); err != nil {
				t.Errorf("Prod into %s: %v", target, err)
			}
			if err := dryRunCreate(c, prodSet("plain", "ok", target)); err != nil {
				t.Errorf("ProdSet into %s: %v", target, err)
			}
		}
	})

	// kinds: the namespaced kinds allowed are ConfigMaps, Deployments and every kind of
	// example.com but Secretive; the cluster-scoped ones ClusterRole and example.com's
	// Gadget; any target namespace, and of the system ones kube-system, named.
	kindsTenant := &droverv1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: "kinds"},
		Spec: droverv1.TenantSpec{
			TargetNamespaces: []droverv1.NamePattern{"*", "kube-system"},
			Kinds: droverv1.TenantKinds{
				NamespacedAllowed: []droverv1.GroupKind{{Kind: "ConfigMap"}, {Group: "apps", Kind: "Deployment"}, {Group: "example.com", Kind: "*"}},
				NamespacedDenied:  []droverv1.GroupKind{{Group: "example.com", Kind: "Secretive"}},
				ClusterScopedAllowed: []droverv1.GroupKind{
					{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"}, {Group: "example.com", Kind: "Gadget"},
				},
			},
		},
	}
	// denier: every namespaced kind but Secrets, no cluster-scoped kind.
	denier := &droverv1.Tenant{
		ObjectMeta: metav1.ObjectMeta{Name: "denier"},
		Spec:       droverv1.TenantSpec{Kinds: droverv1.TenantKinds{NamespacedDenied: []droverv1.GroupKind{{Kind: "Secret"}}}},
	}
	for _, tn := range []*droverv1.Tenant{kindsTenant, denier} {
		if err := c.Create(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	t.Run("tenant: system namespaces only when listed by name", func(t *testing.T) {
		refusedEventually(t, c, prod("team-k", "sys", "", "web-1", "kube-public"), prodsPolicy,
			"spec.targetNamespace: Tenant kinds (namespace team-k) does not allow target namespace kube-public (spec.targetNamespaces): "+
				"it is a system namespace of the workload cluster, allowed only when the Tenant lists it by its exact name")
		wantRefusal(t, dryRunCreate(c, prod("team-k", "sys", "", "web-1", "default")), prodsPolicy,
			"does not allow target namespace default (spec.targetNamespaces)")
		wantRefusal(t, dryRunCreate(c, prodSet("team-k", "sys", "kube-node-lease")), prodSetsPolicy,
			"spec.template.spec.targetNamespace: Tenant kinds (namespace team-k) does not allow target namespace kube-node-lease (spec.targetNamespaces)")
		// denier lists no target namespaces: any name but the system ones.
		wantRefusal(t, dryRunCreate(c, prod("team-d", "sys", "", "web-1", "kube-system")), prodsPolicy,
			"Tenant denier (namespace team-d) does not allow target namespace kube-system (spec.targetNamespaces)")
		if err := dryRunCreate(c, prod("team-k", "sys", "", "web-1", "kube-system")); err != nil {
			t.Errorf("Prod into kube-system, which the Tenant names: %v", err)
		}
		if err := dryRunCreate(c, prodSet("team-k", "sys", "kube-system")); err != nil {
			t.Errorf("ProdSet into kube-system, which the Tenant names: %v", err)
		}
	})
	t.Run("tenant: kinds it refuses whatever their scope are refused", func(t *testing.T) {
		for _, tc := range []struct {
			namespace string
			m         runtime.RawExtension
			says      string
		}{
			{"team-k", manifest("v1", "Namespace", "x"), "Namespace of the core group (spec.kinds.clusterScopedAllowed): drover creates and marks each target namespace itself"},
			{"team-d", manifest("v1", "Namespace", "x"), "Namespace of the core group (spec.kinds.clusterScopedAllowed)"},
			{"team-k", manifest("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "x"), "ClusterRoleBinding rbac.authorization.k8s.io (spec.kinds.clusterScopedAllowed): it is cluster-scoped"},
			{"team-d", manifest("rbac.authorization.k8s.io/v1", "ClusterRole", "x"), "ClusterRole rbac.authorization.k8s.io (spec.kinds.clusterScopedAllowed)"},
			{"team-k", manifest("v1", "Secret", "x"), "Secret of the core group (spec.kinds.namespacedAllowed): it is not among the namespaced kinds allowed"},
			{"team-k", manifest("batch/v1", "Job", "x"), "Job batch (spec.kinds.namespacedAllowed)"},
			{"team-k", manifest("example.com/v1", "Secretive", "x"), "Secretive example.com (spec.kinds.namespacedDenied): it is among the namespaced kinds denied"},
			{"team-d", manifest("v1", "Secret", "x"), "Secret of the core group (spec.kinds.namespacedDenied)"},
		} {
			want := fmt.Sprintf("spec.manifests[1]: Tenant %s (namespace %s) does not allow %s", map[string]string{"team-k": "kinds", "team-d": "denier"}[tc.namespace], tc.namespace, tc.says)
			p := withManifests(prod(tc.namespace, "kind", "", "web-1", "app"), tc.m)
			refusedEventually(t, c, p, prodsPolicy, want)
			set := prodSet(tc.namespace, "kind", "app")
			set.Spec.Template.Spec.Manifests = append(set.Spec.Template.Spec.Manifests, tc.m)
			wantRefusal(t, dryRunCreate(c, set), prodSetsPolicy, "spec.template."+want)
		}
	})
	t.Run("tenant: kinds it allows are admitted", func(t *testing.T) {
		for _, m := range []runtime.RawExtension{
			manifest("apps/v1", "Deployment", "x"),
			manifest("example.com/v1", "Widget", "x"),
			manifest("example.com/v1", "Gadget", "x"), // cluster-scoped, allowed
			manifest("rbac.authorization.k8s.io/v1", "ClusterRole", "x"),
		} {
			if err := dryRunCreate(c, withManifests(prod("team-k", "kind", "", "web-1", "app"), m)); err != nil {
				t.Errorf("Prod with %s: %v", m.Raw, err)
			}
		}
		for _, m := range []runtime.RawExtension{manifest("v1", "Service", "x"), manifest("example.com/v1", "Gadget", "x")} {
			if err := dryRunCreate(c, withManifests(prod("team-d", "kind", "", "web-1", "app"), m)); err != nil {
				t.Errorf("Prod of denier with %s: %v", m.Raw, err)
			}
		}
	})

	t.Run("what runs keeps working after its kinds are refused", func(t *testing.T) {
		// A Prod with a ClusterRole, which kinds allows, runs in team-moving.
		running := withManifests(prod("team-moving", "running", "", "web-1", "app"), manifest("rbac.authorization.k8s.io/v1", "ClusterRole", "reader"))
		running.Finalizers = []string{"drover.dev/test"}
		if err := c.Create(ctx, running); err != nil {
			t.Fatalf("creating the Prod: %v", err)
		}
		set := prodSet("team-moving", "running-set", "app")
		set.Spec.Template.Spec.Manifests = append(set.Spec.Template.Spec.Manifests, manifest("rbac.authorization.k8s.io/v1", "ClusterRole", "reader"))
		set.Finalizers = []string{"drover.dev/test"}
		if err := c.Create(ctx, set); err != nil {
			t.Fatalf("creating the ProdSet: %v", err)
		}
		// The platform team takes team-moving out of the Tenant: the defaults refuse
		// cluster-scoped kinds.
		ns := &corev1.Namespace{}
		if err := c.Get(ctx, client.ObjectKey{Name: "team-moving"}, ns); err != nil {
			t.Fatal(err)
		}
		ns.Labels = nil
		if err := c.Update(ctx, ns); err != nil {
			t.Fatal(err)
		}
		refusedEventually(t, c, withManifests(prod("team-moving", "again", "", "web-1", "app"), manifest("rbac.authorization.k8s.io/v1", "ClusterRole", "reader")),
			defaultsPolicy, "do not allow ClusterRole rbac.authorization.k8s.io")

		// Moving its traffic (the ProdSet controller writes the weight), its labels and
		// status pass; a new version is checked, and refused.
		if err := c.Get(ctx, client.ObjectKeyFromObject(running), running); err != nil {
			t.Fatal(err)
		}
		running.Spec.Traffic.Weight = ptr.To[int32](0)
		running.Labels = map[string]string{"moved": "yes"}
		if err := c.Update(ctx, running); err != nil {
			t.Errorf("evicting the Prod (weight 0): %v", err)
		}
		running.Status.ObservedGeneration = running.Generation
		if err := c.Status().Update(ctx, running); err != nil {
			t.Errorf("writing the Prod's status: %v", err)
		}
		bumped := running.DeepCopy()
		bumped.Spec.Version = "v2"
		wantRefusal(t, c.Update(ctx, bumped, client.DryRunAll), defaultsPolicy, "spec.manifests[1]: the defaults for namespace team-moving (no Tenant) do not allow ClusterRole")
		if err := c.Get(ctx, client.ObjectKeyFromObject(set), set); err != nil {
			t.Fatal(err)
		}
		set.Spec.Replicas = ptr.To[int32](2)
		if err := c.Update(ctx, set); err != nil {
			t.Errorf("scaling the ProdSet: %v", err)
		}
		bumpedSet := set.DeepCopy()
		bumpedSet.Spec.Template.Spec.Version = "v2"
		wantRefusal(t, c.Update(ctx, bumpedSet, client.DryRunAll), defaultsPolicy, "spec.template.spec.manifests[1]: the defaults for namespace team-moving (no Tenant) do not allow ClusterRole")

		// Deletion passes.
		for _, o := range []client.Object{running, set} {
			if err := c.Delete(ctx, o); err != nil {
				t.Errorf("deleting %T: %v", o, err)
			}
			if err := c.Get(ctx, client.ObjectKeyFromObject(o), o); err != nil {
				t.Fatal(err)
			}
			o.SetFinalizers(nil)
			if err := c.Update(ctx, o); err != nil {
				t.Errorf("removing the finalizer of %T: %v", o, err)
			}
		}
	})

	t.Run("the policies know every cluster-scoped kind the API server serves", func(t *testing.T) {
		checkClusterScopedKinds(t)
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

// manifest is a manifest of kind named name.
func manifest(apiVersion, kind, name string) runtime.RawExtension {
	b, _ := json.Marshal(map[string]any{"apiVersion": apiVersion, "kind": kind, "metadata": map[string]any{"name": name}})
	return runtime.RawExtension{Raw: b}
}

// withManifests adds ms to the Prod's manifests.
func withManifests(p *droverv1.Prod, ms ...runtime.RawExtension) *droverv1.Prod {
	p.Spec.Manifests = append(p.Spec.Manifests, ms...)
	return p
}

// checkClusterScopedKinds: the list of Kubernetes' own cluster-scoped kinds is the same
// in every policy that holds one, and holds every cluster-scoped kind the API server
// serves (but drover's own), and nothing it serves as namespaced.
func checkClusterScopedKinds(t *testing.T) {
	t.Helper()
	root, err := testbed.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	for _, f := range []string{"defaults.yaml", "tenant_prods.yaml", "tenant_prodsets.yaml"} {
		var policy struct {
			Spec struct {
				Variables []struct{ Name, Expression string } `json:"variables"`
			} `json:"spec"`
		}
		b, err := os.ReadFile(filepath.Join(root, "config", "admission", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := yaml.Unmarshal(b, &policy); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, v := range policy.Spec.Variables {
			if v.Name == "clusterScoped" {
				for _, m := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(v.Expression, -1) {
					kinds = append(kinds, m[1])
				}
			}
		}
		switch {
		case len(kinds) == 0:
			t.Fatalf("%s has no variable clusterScoped", f)
		case listed == nil:
			listed = kinds
		case !slices.Equal(kinds, listed):
			t.Errorf("%s lists the cluster-scoped kinds\n  %v\nwhile defaults.yaml lists\n  %v", f, kinds, listed)
		}
	}
	dc, err := discovery.NewDiscoveryClientForConfig(restConfig)
	if err != nil {
		t.Fatal(err)
	}
	lists, err := dc.ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			t.Fatal(err)
		}
		if gv.Group == droverv1.GroupVersion.Group {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			key := r.Kind
			if gv.Group != "" {
				key += "." + gv.Group
			}
			served[key] = true
			if r.Namespaced && slices.Contains(listed, key) {
				t.Errorf("%s is listed as cluster-scoped, but the API server serves it namespaced", key)
			}
			if !r.Namespaced && !slices.Contains(listed, key) {
				t.Errorf("the API server serves the cluster-scoped kind %s, which the policies do not list", key)
			}
		}
	}
	var notServed []string
	for _, k := range listed {
		if !served[k] {
			notServed = append(notServed, k)
		}
	}
	t.Logf("%d cluster-scoped kinds listed; not served by this API server (alpha or beta, or gone): %v", len(listed), notServed)
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
	if kinds["ValidatingAdmissionPolicy"] != 6 || kinds["ValidatingAdmissionPolicyBinding"] != 6 {
		t.Fatalf("config/admission holds %v; want 6 policies and their 6 bindings", kinds)
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
