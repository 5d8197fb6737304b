package cli

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/leftovers"
)

// TestLeftoversCommand lists the records of the manager's namespace, and only those: a
// ConfigMap with the label in a tenant's namespace is not listed.
func TestLeftoversCommand(t *testing.T) {
	startBed(t)
	g := NewWithT(t)
	ctx := t.Context()
	for _, ns := range []string{"drover-leftovers", "drover-elsewhere"} {
		err := cp.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if !apierrors.IsAlreadyExists(err) {
			g.Expect(err).NotTo(HaveOccurred())
		}
		t.Cleanup(func() {
			_ = cp.DeleteAllOf(context.Background(), &corev1.ConfigMap{}, client.InNamespace(ns),
				client.MatchingLabels{droverv1.LeftoversLabel: "true"})
		})
	}
	out, err := kubectlDrover(t, "leftovers", "--manager-namespace", "drover-leftovers")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(Equal("Nothing was left behind.\n"))

	released := time.Now().Add(-3 * time.Minute).Truncate(time.Second)
	rec := leftovers.Record{Kind: "Prod", Namespace: "shop", Name: "web-a", UID: "0b3c5a0e-7f4e-4b7a-9d59-1f0b2d6a1c11",
		Finalizer: droverv1.MirrorFinalizer, Released: released, Reason: "deleting the NLB: AccessDenied",
		Left: []string{"NLB arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/net/x/1 (x.elb)", "target group arn:aws:tg/1"}}
	g.Expect(leftovers.Write(ctx, cp, "drover-leftovers", rec)).To(Succeed())
	g.Expect(leftovers.Write(ctx, cp, "drover-leftovers", rec)).To(Succeed(), "writing the same record again")
	other := rec
	other.Name, other.UID = "not-the-managers", "1b3c5a0e-7f4e-4b7a-9d59-1f0b2d6a1c11"
	g.Expect(leftovers.Write(ctx, cp, "drover-elsewhere", other)).To(Succeed())

	out, err = kubectlDrover(t, "leftovers", "--manager-namespace", "drover-leftovers")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(out).To(MatchRegexp(`^NAMESPACE\s+OBJECT\s+FINALIZER\s+RELEASED\s+LEFT\n`))
	g.Expect(out).To(MatchRegexp(`\nshop\s+Prod/web-a\s+drover.dev/nlb-mirror\s+3m ago\s+NLB arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/net/x/1 \(x.elb\)\n\s+target group arn:aws:tg/1\n$`))
	g.Expect(out).NotTo(ContainSubstring("not-the-managers"))

	out, err = kubectlDrover(t, "leftovers", "--manager-namespace", "drover-leftovers", "-o", "json")
	g.Expect(err).NotTo(HaveOccurred())
	var list LeftoverList
	g.Expect(json.Unmarshal([]byte(out), &list)).To(Succeed())
	g.Expect(list.Leftovers).To(HaveLen(1))
	g.Expect(list.Leftovers[0].Released.Equal(released)).To(BeTrue())
	list.Leftovers[0].Released = time.Time{}
	g.Expect(list.Leftovers[0]).To(Equal(LeftoverRow{Namespace: "shop", Object: "Prod/web-a", UID: rec.UID,
		Finalizer: droverv1.MirrorFinalizer, Reason: rec.Reason, Left: rec.Left}))
}
