package mirror_test

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cli"
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
		g.Expect(synced.Status.Endpoint).NotTo(BeNil(), "the Prod's endpoint")
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
	t.Logf("before the release: endpoint %+v, mirror %+v", p.Status.Endpoint, p.Status.Mirror)
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
	g.Expect(released).NotTo(BeEmpty())
	g.Expect(released[0]).To(HavePrefix("Warning: "))
	g.Expect(released[0]).To(ContainSubstring(nlbARN))

	// kubectl drover leftovers lists it.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(bed.WriteControlPlaneKubeconfig(kubeconfig)).To(Succeed())
	var out bytes.Buffer
	cmd := cli.NewCommand(cli.Streams{In: strings.NewReader(""), Out: &out, ErrOut: &out}, cli.Options{})
	cmd.SetArgs([]string{"--kubeconfig", kubeconfig, "leftovers", "--manager-namespace", managerNamespace})
	g.Expect(cmd.ExecuteContext(ctx)).To(Succeed(), out.String())
	g.Expect(out.String()).To(MatchRegexp(`\n%s\s+Prod/%s\s+%s\s+\S+ ago\s+NLB %s `, key.Namespace, key.Name, droverv1.MirrorFinalizer, regexp.QuoteMeta(nlbARN)))
	t.Cleanup(func() {
		_ = cp.DeleteAllOf(context.Background(), &corev1.ConfigMap{}, client.InNamespace(managerNamespace),
			client.MatchingLabels{droverv1.LeftoversLabel: "true"})
	})
}

// With Route53 and ELBv2 refusing every call, a deleted ProdSet waits: its Prods are not
// drained, its records not removed. drover.dev/release-finalizers on the set releases its
// Prods too (their NLBs left and recorded) and lets the set go once its records could
// not be removed, naming each record set left.
func TestReleaseAProdSetWhoseRoute53IsGone(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	e := start(t)
	clients := e.moto.Clients(t)
	zone := newZone(t, clients.Route53)
	set := mirroredSet("shop", zone)
	g.Expect(cp.Create(ctx, set)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), set) })
	(&ccm{}).serve(t, e, 2)
	g.Eventually(func(g Gomega) {
		ours, _ := records(g, clients.Route53, zone)
		g.Expect(ours).To(HaveLen(6), "2 service records and 4 paths")
	}, 2*time.Minute, 500*time.Millisecond).Should(Succeed())
	prods := &droverv1.ProdList{}
	g.Expect(cp.List(ctx, prods, client.InNamespace(bed.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name})).To(Succeed())
	g.Expect(prods.Items).To(HaveLen(2))

	e.aws.Inject(awstest.Fault{Kind: awstest.InternalFailure})
	g.Expect(cp.Delete(ctx, set)).To(Succeed())
	key := client.ObjectKeyFromObject(set)
	g.Consistently(func(g Gomega) {
		got := &droverv1.ProdSet{}
		g.Expect(cp.Get(ctx, key, got)).To(Succeed())
		g.Expect(got.Finalizers).To(ContainElement(droverv1.ProdSetFinalizer))
	}, 5*time.Second, 250*time.Millisecond).Should(Succeed(), "a deleted set waits for Route53")

	got := &droverv1.ProdSet{}
	g.Expect(cp.Get(ctx, key, got)).To(Succeed())
	got.Annotations = map[string]string{droverv1.ReleaseFinalizersAnnotation: "true"}
	g.Expect(cp.Update(ctx, got)).To(Succeed())
	g.Eventually(func() error {
		left := &droverv1.ProdSet{}
		if err := cp.Get(ctx, key, left); apierrors.IsNotFound(err) {
			return nil
		}
		ps := &droverv1.ProdList{}
		_ = cp.List(ctx, ps, client.InNamespace(bed.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name})
		var names []string
		for _, p := range ps.Items {
			names = append(names, fmt.Sprintf("%s %v %v", p.Name, p.Finalizers, p.Annotations))
		}
		return fmt.Errorf("the released set is still there: traffic %+v, prods %+v, Prods %v", left.Status.Traffic, left.Status.Prods, names)
	}, 2*settle, time.Second).Should(Succeed())
	for _, p := range prods.Items {
		g.Expect(apierrors.IsNotFound(cp.Get(ctx, client.ObjectKeyFromObject(&p), &droverv1.Prod{}))).To(BeTrue(), "Prod %s", p.Name)
	}

	list, err := leftovers.List(ctx, cp, managerNamespace)
	g.Expect(err).NotTo(HaveOccurred())
	byUID := map[string]leftovers.Record{}
	for _, r := range list {
		byUID[r.UID] = r
	}
	rec, ok := byUID[string(got.UID)]
	g.Expect(ok).To(BeTrue(), "a record of the set: %+v", list)
	g.Expect(rec.Kind).To(Equal("ProdSet"))
	g.Expect(rec.Finalizer).To(Equal(droverv1.ProdSetFinalizer))
	left := strings.Join(rec.Left, "\n")
	for _, p := range prods.Items {
		g.Expect(left).To(ContainSubstring("set identifier " + bed.Namespace + "/" + p.Name))
		pr, ok := byUID[string(p.UID)]
		g.Expect(ok).To(BeTrue(), "a record of Prod %s's NLB", p.Name)
		g.Expect(pr.Finalizer).To(Equal(droverv1.MirrorFinalizer))
	}
	g.Expect(left).To(ContainSubstring(zone))
	e.aws.Clear()
	ours, _ := records(g, clients.Route53, zone)
	g.Expect(ours).NotTo(BeEmpty(), "the records are left in Route53")
	t.Cleanup(func() {
		_ = cp.DeleteAllOf(context.Background(), &corev1.ConfigMap{}, client.InNamespace(managerNamespace),
			client.MatchingLabels{droverv1.LeftoversLabel: "true"})
	})
}
