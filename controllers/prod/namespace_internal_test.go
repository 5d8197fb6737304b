package prod

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestNamespaceUsable(t *testing.T) {
	ns := func(annotations map[string]string) *corev1.Namespace {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop", Annotations: annotations}}
	}
	tenant := func(owner string) bool { return owner == "team-shop" || owner == "team-shop-staging" }
	tests := []struct {
		name   string
		ns     *corev1.Namespace
		mayUse func(string) bool
		want   bool
	}{
		{"created by drover for the Prod's namespace", ns(map[string]string{droverv1.OwnerNamespaceAnnotation: "team-shop"}), sameNamespace("team-shop"), true},
		{"created by drover for another namespace", ns(map[string]string{droverv1.OwnerNamespaceAnnotation: "team-cart"}), sameNamespace("team-shop"), false},
		{"not created by drover", ns(nil), sameNamespace("team-shop"), false},
		{"labelled drover's but not annotated", &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop",
			Labels: map[string]string{droverv1.ManagedByLabel: droverv1.FieldManager}}}, sameNamespace("team-shop"), false},
		{"an empty annotation", ns(map[string]string{droverv1.OwnerNamespaceAnnotation: ""}), func(string) bool { return true }, false},
		{"another namespace of the tenant", ns(map[string]string{droverv1.OwnerNamespaceAnnotation: "team-shop-staging"}), tenant, true},
		{"a namespace of another tenant", ns(map[string]string{droverv1.OwnerNamespaceAnnotation: "team-cart"}), tenant, false},
	}
	for _, tt := range tests {
		if got := namespaceUsable(tt.ns, tt.mayUse); got != tt.want {
			t.Errorf("%s: namespaceUsable() = %t, want %t", tt.name, got, tt.want)
		}
	}
}
