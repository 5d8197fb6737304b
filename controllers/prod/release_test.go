package prod_test

import (
	"context"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prod"
	"github.com/drover-dev/drover/internal/leftovers"
)

// A deleted Prod whose workload cluster is gone waits, its objects unaccounted for
// otherwise; drover.dev/release-finalizers lets it go, and the Warning event and the
// record in the manager's namespace name each object left on the cluster.
func TestReleaseAProdWhoseClusterIsGone(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	p := newProd(t, outageCluster, "shop-released", configMap("settings", map[string]string{"v": "1"}))
	t.Cleanup(func() { deleteProd(t, p) })
	g.Eventually(func(g Gomega) {
		expectCondition(g, getProd(g, p), droverv1.ProdAvailableCondition, metav1.ConditionTrue, "")
	}, 60*time.Second, 250*time.Millisecond).Should(Succeed())
	uid := getProd(g, p).UID

	w := bed.Workload(outageCluster)
	g.Expect(w.StopAPIServer()).To(Succeed())
	t.Cleanup(func() { _ = w.StartAPIServer() })
	g.Expect(cp.Delete(ctx, p)).To(Succeed())
	g.Consistently(func(g Gomega) {
		got := getProd(g, p)
		g.Expect(got.Finalizers).To(ContainElement(droverv1.ProdFinalizer))
		g.Expect(got.Status.Inventory).NotTo(BeEmpty())
	}, 5*time.Second, 250*time.Millisecond).Should(Succeed(), "a deleted Prod waits for its unreachable cluster")

	g.Expect(updateProd(p, func(p *droverv1.Prod) {
		p.Annotations = map[string]string{droverv1.ReleaseFinalizersAnnotation: "true"}
	})).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(cp.Get(ctx, client.ObjectKeyFromObject(p), &droverv1.Prod{}))
	}, 60*time.Second, 250*time.Millisecond).Should(BeTrue(), "the released Prod is gone")

	recs, err := leftovers.List(ctx, cp, managerNamespace)
	g.Expect(err).NotTo(HaveOccurred())
	var mine []leftovers.Record
	for _, r := range recs {
		if r.UID == string(uid) {
			mine = append(mine, r)
		}
	}
	g.Expect(mine).To(HaveLen(1))
	g.Expect(mine[0].Finalizer).To(Equal(droverv1.ProdFinalizer))
	g.Expect(mine[0].Reason).To(Or(ContainSubstring("cannot be reached"), ContainSubstring("deleting the workload objects")))
	g.Expect(strings.Join(mine[0].Left, "\n")).To(And(ContainSubstring("ConfigMap"), ContainSubstring("shop-released/settings"), ContainSubstring(outageCluster)))

	events := &corev1.EventList{}
	g.Expect(cp.List(ctx, events, client.InNamespace(p.Namespace))).To(Succeed())
	var released []string
	for _, ev := range events.Items {
		if ev.InvolvedObject.UID == uid && ev.Reason == prod.ReasonReleased {
			released = append(released, ev.Type+": "+ev.Message)
		}
	}
	g.Expect(released).NotTo(BeEmpty())
	g.Expect(released[0]).To(And(HavePrefix("Warning: "), ContainSubstring("shop-released/settings")))
}
