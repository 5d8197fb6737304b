package releasediff_test

import (
	"context"
	"testing"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/rand"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/builder"
)

// A diff is made as the identity the Prods apply as: with a Tenant naming a
// ServiceAccount that may manage ConfigMaps only, a ConfigMap's change is dry-run and
// shown, and a Deployment the apply would be refused is reported Forbidden, not Create
// (as it would be were the diff made as the manager).
func TestADiffIsMadeAsTheTenantsIdentity(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	name := "rdt-" + rand.String(5)
	for _, cluster := range []string{w1, w2} {
		tenantIdentity(t, cluster, "drover-tenants", name)
	}
	tenant := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: droverv1.TenantSpec{
		TargetNamespaces: []droverv1.NamePattern{"rd-*"},
		ServiceAccount:   &droverv1.TenantServiceAccount{Namespace: "drover-tenants", Name: name},
	}}
	g.Expect(cp.Create(ctx, tenant)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), tenant) })
	labelNamespace(t, bed.Namespace, name)

	set := runningSet(t, configMap("settings", map[string]any{"version": "${DROVER_VERSION}"}))
	candidate := set.Spec.Template.DeepCopy()
	candidate.Spec.Version = "v2"
	candidate.Spec.Manifests = builder.Manifests(configMap("settings", map[string]any{"version": "${DROVER_VERSION}"}), builder.Deployment("api"))
	d := diffOf(t, set, candidate)
	for _, cluster := range []string{w1, w2} {
		g.Expect(actions(d)[cluster]).To(Equal(map[string]droverv1.ReleaseDiffAction{
			"ConfigMap/settings": droverv1.ReleaseDiffUpdate,
			"Deployment/api":     droverv1.ReleaseDiffRefused,
		}), "on %s", cluster)
		api := object(d, cluster, "Deployment", "api")
		g.Expect(api.Reason).To(Equal(droverv1.ReleaseDiffForbiddenReason))
		g.Expect(api.Message).To(ContainSubstring("system:serviceaccount:drover-tenants:" + name))
		g.Expect(object(d, cluster, "ConfigMap", "settings").Diff).To(ContainSubstring("+  version: v2"))
	}
}

// labelNamespace makes the control-plane namespace the tenant's until the test ends.
func labelNamespace(t *testing.T, namespace, tenant string) {
	t.Helper()
	g := NewWithT(t)
	set := func(value *string) {
		ns := &corev1.Namespace{}
		g.Expect(cp.Get(context.Background(), client.ObjectKey{Name: namespace}, ns)).To(Succeed())
		before := ns.DeepCopy()
		if value == nil {
			delete(ns.Labels, droverv1.TenantLabel)
		} else {
			if ns.Labels == nil {
				ns.Labels = map[string]string{}
			}
			ns.Labels[droverv1.TenantLabel] = *value
		}
		g.Expect(cp.Patch(context.Background(), ns, client.MergeFrom(before))).To(Succeed())
	}
	set(&tenant)
	t.Cleanup(func() { set(nil) })
}

// tenantIdentity makes, on a workload cluster, the ServiceAccount a Tenant names and
// lets it manage ConfigMaps only (in every namespace): the workload cluster's own RBAC.
func tenantIdentity(t *testing.T, cluster, saNamespace, sa string) {
	t.Helper()
	g := NewWithT(t)
	w := bed.Workload(cluster).Client
	for _, o := range builder.TenantIdentity(saNamespace, sa) {
		if err := w.Create(context.Background(), o); !apierrors.IsAlreadyExists(err) {
			g.Expect(err).NotTo(HaveOccurred())
		}
	}
}
