package mirror_test

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
	"github.com/drover-dev/drover/internal/leftovers"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

// With AWS refusing every call (credentials revoked), a deleted Prod with a mirror waits:
// its NLB cannot be deleted and drover does not forget it. drover.dev/release-finalizers
// lets it go: one more try, then the finalizer goes, and a Warning event and a record in
// the manager's namespace say which NLB and target groups are left in AWS.
func TestReleaseAProdWhoseAWSIsGone(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	e := start(t)
	lb := e.octavia.CreateLoadBalancer(t, twoPools("release-a"))
	e.octavia.SetOperatingStatus(t, octaviatest.LoadBalancerObject, lb.ID, "ONLINE")
	prod := mirroredProd("release-a", lb.ID)
	key := client.ObjectKeyFromObject(prod)
	g.Expect(cp.Create(ctx, prod)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), prod) })

	var synced *droverv1.Prod
	g.Eventually(func(g Gomega) {
		synced = getProd(g, key)
		c := prodCondition(g, key, droverv1.ProdMirrorSyncedCondition)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "MirrorSynced: %+v", c)
		g.Expect(synced.Status.Endpoint.NLBARN).NotTo(BeEmpty())
		g.Expect(synced.Status.Mirror.TargetGroups).To(HaveLen(2))
		g.Expect(synced.Status.Mirror.TargetGroups[0].ARN).NotTo(BeEmpty())
	}, settle, 250*time.Millisecond).Should(Succeed())
	nlbARN := synced.Status.Endpoint.NLBARN

	// AWS refuses everything, ELBv2 and Route53: the deletion hangs on the finalizer.
	e.aws.Inject(awstest.Fault{Kind: awstest.InternalFailure})
	g.Expect(cp.Delete(ctx, prod)).To(Succeed())
	g.Consistently(func(g Gomega) {
		p := getProd(g, key)
		g.Expect(p.DeletionTimestamp).NotTo(BeNil())
		g.Expect(p.Finalizers).To(ContainElement(droverv1.MirrorFinalizer))
	}, 5*time.Second, 250*time.Millisecond).Should(Succeed())
	list, err := leftovers.List(ctx, cp, managerNamespace)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(list).To(BeEmpty(), "leftovers recorded before the release")

	// The platform team releases it.
	p := getProd(g, key)
	p.Annotations = map[string]string{droverv1.ReleaseFinalizersAnnotation: "true"}
	g.Expect(cp.Update(ctx, p)).To(Succeed())
	g.Eventually(func() bool {
		return apierrors.IsNotFound(cp.Get(ctx, key, &droverv1.Prod{}))
	}, settle, 250*time.Millisecond).Should(BeTrue(), "the released Prod is gone")

	// The NLB is still in AWS (drover could not delete it), and both records say so.
	e.aws.Clear()
	g.Expect(readAWS(g, e.moto.Clients(t).ELBv2).LoadBalancers).To(HaveLen(1), "the NLB left in AWS")
	list, err = leftovers.List(ctx, cp, managerNamespace)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(list).To(HaveLen(1))
	rec := list[0]
	g.Expect(rec.Kind).To(Equal("Prod"))
	g.Expect(rec.Namespace + "/" + rec.Name).To(Equal(key.String()))
	g.Expect(rec.UID).To(Equal(string(synced.UID)))
	g.Expect(rec.Finalizer).To(Equal(droverv1.MirrorFinalizer))
	g.Expect(rec.Reason).To(ContainSubstring("NLB"))
	g.Expect(time.Since(rec.Released)).To(BeNumerically("<", settle+time.Minute))
	left := strings.Join(rec.Left, "\n")
	g.Expect(left).To(ContainSubstring(nlbARN))
	for _, tg := range synced.Status.Mirror.TargetGroups {
		g.Expect(left).To(ContainSubstring(tg.ARN))
	}
	events := &corev1.EventList{}
	g.Expect(cp.List(ctx, events, client.InNamespace(key.Namespace))).To(Succeed())
	var released []string
	for _, ev := range events.Items {
		if ev.InvolvedObject.Name == key.Name && ev.InvolvedObject.UID == synced.UID && ev.Reason == "MirrorReleased" {
			released = append(released, ev.Type+": "+ev.Message)
		}
	}
	g.Expect(released).To(HaveLen(1))
	g.Expect(released[0]).To(HavePrefix("Warning: "))
	g.Expect(released[0]).To(ContainSubstring(nlbARN))
	t.Cleanup(func() {
		_ = cp.DeleteAllOf(context.Background(), &corev1.ConfigMap{}, client.InNamespace(managerNamespace),
			client.MatchingLabels{droverv1.LeftoversLabel: "true"})
	})
}
