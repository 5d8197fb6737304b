package prod

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

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

// A namespace drover created is known without a read until the cache holds it, for
// createdFor at most; the cache's copy (drover's, or one made again by someone else)
// wins as soon as it has one; and it is judged as one read (refuseNamespace) either way.
func TestACreatedNamespaceIsNotReadAgain(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cluster := client.ObjectKey{Namespace: "fleet", Name: "eu-1"}
	var liveReads int
	admin := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).Build(), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			liveReads++
			return c.Get(ctx, key, obj, opts...)
		},
	})
	cache := fake.NewClientBuilder().WithScheme(scheme).Build() // behind: holds nothing yet
	r := &Reconciler{Now: func() time.Time { return now }}
	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-shop", Name: "web"}, Spec: droverv1.ProdSpec{ProdTemplateSpec: droverv1.ProdTemplateSpec{TargetNamespace: "shop"}}}
	s := &scope{prod: prod, clusterKey: cluster, admin: admin, cached: cache, policy: tenancy.Resolve("team-shop", nil, nil, false)}

	if _, refused, err := r.createNamespace(ctx, s); refused || err != nil || !s.createdNamespace {
		t.Fatalf("createNamespace: refused %t, err %v, created %t", refused, err, s.createdNamespace)
	}
	liveReads = 0
	again := &scope{prod: prod, clusterKey: cluster, admin: admin, cached: cache, policy: s.policy}
	create, _, refused, err := r.claimNamespace(ctx, again)
	if create || refused || err != nil {
		t.Fatalf("the next reconcile: create %t, refused %t, err %v; want the namespace known and usable", create, refused, err)
	}
	if liveReads != 0 {
		t.Errorf("%d live reads of a namespace drover just created, want none", liveReads)
	}

	// Another Prod's namespace: judged as read, refused.
	pay := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-pay", Name: "web"}, Spec: droverv1.ProdSpec{ProdTemplateSpec: droverv1.ProdTemplateSpec{TargetNamespace: "shop"}}}
	other := &scope{prod: pay, clusterKey: cluster, admin: admin, cached: cache, policy: tenancy.Resolve("team-pay", nil, nil, false)}
	if _, _, refused, _ := r.claimNamespace(ctx, other); !refused || other.applyReason != droverv1.ProdNotOwnedReason {
		t.Errorf("another team's Prod: refused %t (%s), want NotOwned", refused, other.applyReason)
	}

	// On another cluster nothing is known.
	elsewhere := &scope{prod: prod, clusterKey: client.ObjectKey{Namespace: "fleet", Name: "us-1"}, admin: admin, cached: cache, policy: s.policy}
	if create, _, _, _ := r.claimNamespace(ctx, elsewhere); !create {
		t.Error("a namespace created on another cluster must not be known here")
	}

	// The cache holds one of that name, made again by someone else: it counts, and the
	// memory is dropped.
	theirs := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", UID: "theirs"}}
	if err := cache.Create(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if _, _, refused, _ := r.claimNamespace(ctx, again); !refused {
		t.Error("the cache's namespace, not drover's memory, must be judged")
	}
	if err := cache.Delete(ctx, theirs); err != nil {
		t.Fatal(err)
	}
	if create, _, _, _ := r.claimNamespace(ctx, again); !create {
		t.Error("the memory must be gone once the cache held the namespace")
	}

	// Not caught up with in createdFor: read again.
	r.namespaces.remember(cluster, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "late",
		Annotations: map[string]string{droverv1.OwnerNamespaceAnnotation: "team-shop"}}}, now)
	now = now.Add(createdFor)
	if r.namespaces.get(cluster, "late", &corev1.Namespace{}, now) {
		t.Error("a namespace remembered for createdFor must be read again")
	}
}

// In the namespace this reconcile created, no object is read to be claimed: each is
// claimed as absent (to be created, which fails on one someone made meanwhile). Objects
// elsewhere (cluster-scoped) are read as before.
func TestNothingIsReadInANamespaceJustCreated(t *testing.T) {
	ctx := context.Background()
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	var reads []string
	workload := interceptor.NewClient(fake.NewClientBuilder().WithScheme(scheme).Build(), interceptor.Funcs{
		Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			reads = append(reads, key.String())
			return c.Get(ctx, key, obj, opts...)
		},
	})
	prod := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: "team-shop", Name: "web", UID: "uid-p"}, Spec: droverv1.ProdSpec{ProdTemplateSpec: droverv1.ProdTemplateSpec{TargetNamespace: "shop"}}}
	obj := func(kind, ns, name string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind(kind)
		u.SetNamespace(ns)
		u.SetName(name)
		return u
	}
	objs := []*unstructured.Unstructured{obj("ConfigMap", "shop", "a"), obj("Secret", "shop", "b"), obj("PersistentVolume", "", "shop")}
	r := &Reconciler{}
	for _, created := range []bool{true, false} {
		reads = nil
		s := &scope{prod: prod, workload: workload, createdNamespace: created}
		if _, refused, err := r.claimObjects(ctx, s, objs); refused || err != nil {
			t.Fatalf("claimObjects: refused %t, err %v", refused, err)
		}
		want := 3
		if created {
			want = 1
		}
		if len(reads) != want || len(s.claimed) != 3 {
			t.Errorf("namespace created %t: reads %v, claimed %d; want %d reads, 3 claimed", created, reads, len(s.claimed), want)
		}
		for _, c := range s.claimed {
			if c.UID != "" {
				t.Errorf("%s claimed as existing", c.Name)
			}
		}
	}
}
