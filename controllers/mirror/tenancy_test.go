package mirror_test

import (
	"context"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

// A tenant mirrors the load balancers of the OpenStack projects its Tenant lists, and no
// other: a Prod naming another project's load balancer (its UUID is all it takes) gets
// MirrorSynced=False NotPermitted naming the rule, nothing in AWS and no VIP in its
// status, until the Tenant lists that project.
func TestMirrorOnlyTheTenantsOctaviaProjects(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	e := startWith(t, func(o *setup.Options) { o.SingleTeam = false })
	const otherProject = "0f0e0d0c0b0a4f1e8d7c6b5a49382716"
	own := e.octavia.CreateLoadBalancer(t, twoPools("tenancy-own"))
	foreign := e.octavia.CreateLoadBalancer(t, octaviatest.LoadBalancerSpec{
		Name: "tenancy-foreign", ProjectID: otherProject, VIPAddress: "198.51.100.77", Listeners: twoPools("").Listeners,
	})

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "mirror-tenancy", Labels: map[string]string{droverv1.TenantLabel: "mirror-tenancy"}}}
	g.Expect(cp.Create(ctx, ns)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), ns) })
	tenant := &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: "mirror-tenancy"}, Spec: droverv1.TenantSpec{
		Clusters:        []droverv1.TenantClusterRule{{Namespace: bed.Namespace}},
		OctaviaProjects: []string{e.octavia.ProjectID()},
	}}
	g.Expect(cp.Create(ctx, tenant)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), tenant) })

	tenantProd := func(name, lbID string) *droverv1.Prod {
		p := mirroredProd(name, lbID)
		p.Namespace = ns.Name
		p.Spec.ClusterRef.Namespace = bed.Namespace
		return p
	}
	allowed, refused := tenantProd("own-project", own.ID), tenantProd("other-project", foreign.ID)
	created := writes()
	for _, p := range []*droverv1.Prod{allowed, refused} {
		g.Expect(cp.Create(ctx, p)).To(Succeed())
		t.Cleanup(func() { deleteAndWait(t, p, settle) })
	}

	// The load balancer of the Tenant's project is mirrored as ever.
	g.Eventually(func(g Gomega) {
		p := getProd(g, client.ObjectKeyFromObject(allowed))
		c := conditionOf(p, droverv1.ProdMirrorSyncedCondition)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "MirrorSynced of the allowed Prod: %+v", c)
		g.Expect(p.Status.Endpoint).NotTo(BeNil(), "status.endpoint beside MirrorSynced=True")
		g.Expect(p.Status.Endpoint.VIP).To(Equal(own.VIP))
	}, settle, 250*time.Millisecond).Should(Succeed())
	g.Expect(created()).To(HaveKeyWithValue("CreateLoadBalancer", 1), "one NLB, the allowed Prod's")

	// The other project's is refused: the rule named, no VIP, nothing made, for as long as
	// it lasts.
	key := client.ObjectKeyFromObject(refused)
	g.Eventually(func(g Gomega) {
		c := prodCondition(g, key, droverv1.ProdMirrorSyncedCondition)
		g.Expect(c.Status).To(Equal(metav1.ConditionFalse), "MirrorSynced: %+v", c)
		g.Expect(c.Reason).To(Equal(droverv1.ProdMirrorNotPermittedReason))
		g.Expect(c.Message).To(ContainSubstring("(spec.octaviaProjects)"))
		g.Expect(c.Message).To(ContainSubstring(otherProject))
	}, settle, 250*time.Millisecond).Should(Succeed())
	g.Consistently(func(g Gomega) {
		p := getProd(g, key)
		g.Expect(p.Status.Endpoint).To(BeNil(), "status.endpoint of a refused load balancer")
		g.Expect(p.Status.Mirror.Outcome).To(Equal(droverv1.ProdMirrorNotPermittedReason))
	}, 3*pollInterval, 250*time.Millisecond).Should(Succeed())
	made := created()
	g.Expect(made["CreateLoadBalancer"]).To(Equal(1), "NLBs made, only the allowed Prod's: %v", made)
	g.Expect(made["CreateTargetGroup"]).To(Equal(2), "target groups made, only the allowed Prod's two pools': %v", made)
	g.Eventually(func(g Gomega) {
		g.Expect(eventReasons(g, refused)).To(ContainElement("MirrorNotPermitted"))
	}, settle, 250*time.Millisecond).Should(Succeed())

	// Once the Tenant lists the project, the Prod mirrors it.
	g.Expect(cp.Get(ctx, client.ObjectKeyFromObject(tenant), tenant)).To(Succeed())
	tenant.Spec.OctaviaProjects = append(tenant.Spec.OctaviaProjects, otherProject)
	g.Expect(cp.Update(ctx, tenant)).To(Succeed())
	g.Eventually(func(g Gomega) {
		p := getProd(g, key)
		c := conditionOf(p, droverv1.ProdMirrorSyncedCondition)
		g.Expect(c.Status).To(Equal(metav1.ConditionTrue), "MirrorSynced once the project is listed: %+v", c)
		g.Expect(p.Status.Endpoint).NotTo(BeNil(), "status.endpoint beside MirrorSynced=True")
		g.Expect(p.Status.Endpoint.VIP).To(Equal(foreign.VIP))
	}, settle, 250*time.Millisecond).Should(Succeed())
}
