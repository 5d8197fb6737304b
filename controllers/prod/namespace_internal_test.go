package prod

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
