package prod

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

func TestNamespaceUsable(t *testing.T) {
	ns := func(annotations map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Annotations: annotations}}
	}
	owned := func(owner string) *corev1.Namespace {
		return ns(map[string]string{droverv1.OwnerNamespaceAnnotation: owner})
	}
	shop := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}
	lookup := func(name string) (*droverv1.Tenant, bool) { return shop, name == "shop" }
	tenantOf := func(namespace string) string {
		return map[string]string{"team-shop": "shop", "team-shop-staging": "shop", "team-cart": "cart"}[namespace]
	}
	mayUse := func(p tenancy.Policy) func(string) bool {
		return func(owner string) bool { return p.SharesTargetNamespaces(owner, tenantOf) }
	}
	defaults := mayUse(tenancy.Resolve("team-shop", nil, lookup, false))
	tenant := mayUse(tenancy.Resolve("team-shop", map[string]string{droverv1.TenantLabel: "shop"}, lookup, false))
	missing := mayUse(tenancy.Resolve("team-shop", map[string]string{droverv1.TenantLabel: "gone"}, lookup, false))
	single := mayUse(tenancy.Resolve("team-shop", nil, lookup, true))
	tests := []struct {
		name   string
		ns     *corev1.Namespace
		mayUse func(string) bool
		want   bool
	}{
		{"created by drover for the Prod's namespace", owned("team-shop"), defaults, true},
		{"created by drover for another namespace", owned("team-cart"), defaults, false},
		{"not created by drover", ns(nil), defaults, false},
		{"labelled drover's but not annotated", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop",
			Labels: map[string]string{droverv1.ManagedByLabel: droverv1.FieldManager}}}, defaults, false},
		{"an empty annotation", owned(""), tenant, false},
		{"another namespace of the tenant, without a Tenant", owned("team-shop-staging"), defaults, false},
		{"another namespace of the tenant", owned("team-shop-staging"), tenant, true},
		{"a namespace of another tenant", owned("team-cart"), tenant, false},
		{"a missing Tenant shares nothing, not even its own", owned("team-shop"), missing, false},
		{"single-team mode uses any namespace", ns(nil), single, true},
	}
	for _, tt := range tests {
		if got := namespaceUsable(tt.ns, tt.mayUse); got != tt.want {
			t.Errorf("%s: namespaceUsable() = %t, want %t", tt.name, got, tt.want)
		}
	}
}

// A workload object wakes the Prod it names only when it is that Prod's, one of its
// inventory and on its cluster: a tenant writing drover.dev/prod-ref (or drover's labels,
// even another Prod's UID label) on its own objects cannot make drover reconcile another
// team's Prod.
func TestWakes(t *testing.T) {
	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-shop", Name: "web-1", UID: "uid-web-1"},
		Spec: droverv1.ProdSpec{ClusterRef: droverv1.ClusterReference{Name: "eu-1"}}}
	prod.Status.Inventory = []droverv1.ObjectReference{
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "api"},
		{Group: "apps", Version: "v1", Kind: "Deployment", Namespace: "shop", Name: "legacy"},
		{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings"},
	}
	eu1 := client.ObjectKey{Namespace: "team-shop", Name: "eu-1"}
	ref := map[string]string{droverv1.ProdRefAnnotation: "team-shop/web-1"}
	deployment := schema.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}
	configMap := schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}
	objOf := func(gvk schema.GroupVersionKind, ns, name string, labels map[string]string) client.Object {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(gvk)
		u.SetNamespace(ns)
		u.SetName(name)
		u.SetLabels(labels)
		u.SetAnnotations(ref)
		return u
	}
	obj := func(ns, name string, labels map[string]string) client.Object {
		return objOf(deployment, ns, name, labels)
	}
	own := map[string]string{droverv1.ProdUIDLabel: "uid-web-1"}
	legacy := map[string]string{droverv1.ProdNameLabel: "web-1", droverv1.ProdNamespaceLabel: "team-shop", droverv1.ManagedByLabel: droverv1.FieldManager}
	for _, tt := range []struct {
		name    string
		cluster client.ObjectKey
		o       client.Object
		want    bool
	}{
		{"its own object", eu1, obj("shop", "api", own), true},
		{"its own ConfigMap", eu1, objOf(configMap, "shop", "settings", own), true},
		{"another Prod's UID", eu1, obj("shop", "api", map[string]string{droverv1.ProdUIDLabel: "uid-other"}), false},
		{"only the annotation", eu1, obj("pay", "api", nil), false},
		{"its UID label forged on an object not of its inventory", eu1, obj("shop", "flood-1", own), false},
		{"its UID label on another kind of the same name", eu1, objOf(configMap, "shop", "api", own), false},
		{"its UID, on another cluster", client.ObjectKey{Namespace: "team-shop", Name: "us-1"}, obj("shop", "api", own), false},
		{"its UID, a cluster of the same name in another namespace", client.ObjectKey{Namespace: "team-pay", Name: "eu-1"}, obj("shop", "api", own), false},
		{"an older drover's labels, in the inventory", eu1, obj("shop", "legacy", legacy), true},
		{"an older drover's labels, forged elsewhere", eu1, obj("pay", "legacy", legacy), false},
	} {
		if got := wakes(prod, tt.cluster, tt.o); got != tt.want {
			t.Errorf("%s: wakes = %v, want %v", tt.name, got, tt.want)
		}
	}
}
