package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The sandbox as make dev starts it: the test bed, moto, Octavia, the manager binary
// and the stand-in CCM come up, and drover publishes every sample Prod to the hosted
// zone the sandbox made, its service-level weight and both paths (Octavia VIP 90, NLB
// 10, health-checked), with an NLB per Prod whose targets are the Prod's Pods. A Prod's
// Octavia load balancer failed through the sandbox's annotation moves its traffic to
// its NLB, and back once repaired. The samples' namespace belongs to the sample Tenant
// and the API server enforces config/admission's policies. The walk through the users'
// stories sees a second team's Prod on the shop's Cluster refused at admission, the
// shop's Prods untouched; ships v2 to every Prod, rolls a failing v3 back and drains and
// restores a cluster. Closing the sandbox stops the manager and the clouds.
func TestSandboxPublishesWeightsToRoute53(t *testing.T) {
	g := NewWithT(t)
	root, err := testbed.RepoRoot()
	g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	cfg := config{
		root: root, sandboxDir: dir, logDir: filepath.Join(dir, "logs"), kubeconfigOut: filepath.Join(dir, "kubeconfig"),
		managerPath: filepath.Join(dir, "manager"), samplesDir: filepath.Join(root, "config", "samples"), wait: time.Minute,
	}
	// Most of this bound can go to waiting for the machine's Octavia stack, which one
	// test package holds at a time (octaviatest): in make test, the e2e suite and the
	// mirror suite may hold it first. The sandbox itself is up in about a minute.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Minute)
	defer cancel()
	g.Expect(harness.BuildManager(ctx, root, cfg.managerPath)).To(Succeed())

	sb, err := startSandbox(ctx, cfg)
	g.Expect(err).NotTo(HaveOccurred())
	closed := false
	defer func() {
		if !closed {
			sb.close()
		}
	}()
	defer func() {
		if t.Failed() {
			t.Logf("the end of the manager's log:\n%s", sb.mgr.LogTail(30))
			if sb.clouds != nil && sb.clouds.Octavia != nil {
				t.Logf("the ends of Octavia's logs:\n%s", sb.clouds.Octavia.LogTails())
			}
		}
	}()
	cp := sb.bed.ControlPlane.Client
	zones := zoneNames(sb.applied)
	g.Expect(zones).To(HaveLen(1), "the samples' hosted zones")
	zoneID := sb.clouds.Zones[zones[0]]
	want := countProds(sb.applied)

	// rows reads drover's records and the Prods, and checks the records against the
	// Prods' endpoints: every Prod at weight 100, its paths at octavia/nlb.
	prods := func(g Gomega) map[string]*droverv1.Prod {
		var list droverv1.ProdList
		g.Expect(cp.List(ctx, &list)).To(Succeed())
		g.Expect(list.Items).To(HaveLen(want), "Prods")
		out := map[string]*droverv1.Prod{}
		for i := range list.Items {
			out[prodKey(&list.Items[i])] = &list.Items[i]
		}
		return out
	}
	expectRecords := func(g Gomega, weights func(p *droverv1.Prod) (octavia, nlb int64)) {
		byKey := prods(g)
		recs, err := cloudbed.ReadRecords(ctx, sb.clouds.AWS.Route53, zoneID)
		g.Expect(err).NotTo(HaveOccurred())
		rows := cloudbed.ProdRows(owner, recs)
		g.Expect(rows).To(HaveLen(want), "Prods in Route53")
		for _, r := range rows {
			p := byKey[r.Prod]
			g.Expect(p).NotTo(BeNil(), "a Prod of the records %+v", r)
			g.Expect(p.Status.Endpoint).NotTo(BeNil(), "status.endpoint of %s", r.Prod)
			g.Expect(r.Service).To(Equal("shop.example.com"))
			g.Expect(r.Weight).To(HaveValue(BeEquivalentTo(100)), "service-level weight of %s", r.Prod)
			oct, nlb := weights(p)
			g.Expect(r.Octavia).To(Equal(&cloudbed.PathRecord{Weight: oct, Target: p.Status.Endpoint.VIP, HealthCheck: true}), "Octavia path of %s", r.Prod)
			g.Expect(r.NLB).To(Equal(&cloudbed.PathRecord{Weight: nlb, Target: strings.ToLower(p.Status.Endpoint.NLBDNSName), HealthCheck: true}), "NLB path of %s", r.Prod)
		}
	}
	steady := func(*droverv1.Prod) (int64, int64) { return 90, 10 }

	start := time.Now()
	g.Eventually(func(g Gomega) {
		expectRecords(g, steady)
		nlbs, err := cloudbed.ReadNLBs(ctx, sb.clouds.AWS.ELBv2, owner)
		g.Expect(err).NotTo(HaveOccurred())
		g.Expect(nlbs).To(HaveLen(want), "NLBs")
		byKey := prods(g)
		for _, n := range nlbs {
			g.Expect(byKey).To(HaveKey(n.Prod))
			g.Expect(n.ARN).To(Equal(byKey[n.Prod].Status.Endpoint.NLBARN), "the NLB of %s", n.Prod)
			// The sample's Deployment has 2 replicas: 2 ready endpoints, 2 members, 2 targets.
			g.Expect(n.Targets).To(Equal(2), "targets of the NLB of %s", n.Prod)
		}
	}, 3*time.Minute, time.Second).Should(Succeed())
	t.Logf("every Prod published with both paths %s after the sandbox was up", time.Since(start).Round(time.Second))

	// Fail one Prod's Octavia load balancer: Route53 sends its traffic to the NLB.
	var failed client.ObjectKey
	for _, p := range prods(g) {
		failed = client.ObjectKeyFromObject(p)
		break
	}
	annotate := func(value *string) {
		t.Helper()
		p := &droverv1.Prod{}
		g.Expect(cp.Get(ctx, failed, p)).To(Succeed())
		patch := client.MergeFrom(p.DeepCopy())
		if value == nil {
			delete(p.Annotations, cloudbed.OperatingStatusAnnotation)
		} else {
			if p.Annotations == nil {
				p.Annotations = map[string]string{}
			}
			p.Annotations[cloudbed.OperatingStatusAnnotation] = *value
		}
		g.Expect(cp.Patch(ctx, p, patch)).To(Succeed())
	}
	errorStatus := "ERROR"
	annotate(&errorStatus)
	g.Eventually(func(g Gomega) {
		expectRecords(g, func(p *droverv1.Prod) (int64, int64) {
			if client.ObjectKeyFromObject(p) == failed {
				return 0, 100
			}
			return 90, 10
		})
	}, time.Minute, time.Second).Should(Succeed(), "the traffic of %s on its NLB", failed)
	annotate(nil)
	g.Eventually(func(g Gomega) { expectRecords(g, steady) }, time.Minute, time.Second).Should(Succeed(), "%s back on Octavia", failed)

	// The walk through the stories: v2 ships through every step (the walk promotes the
	// approval that stands in for the Prometheus gate), v3 fails its HTTP check and rolls
	// back by traffic, and a drained cluster's Prods go to weight 0 and come back.
	walkStart := time.Now()
	rep, err := runStories(ctx, sb, os.Stdout)
	g.Expect(err).NotTo(HaveOccurred(), "the walk through the stories")
	t.Logf("the walk through the stories took %s", time.Since(walkStart).Round(time.Second))
	ns := &corev1.Namespace{}
	g.Expect(cp.Get(ctx, client.ObjectKey{Name: "default"}, ns)).To(Succeed())
	g.Expect(ns.Labels).To(HaveKeyWithValue(droverv1.TenantLabel, "shop"), "the samples' namespace joined the sample Tenant")
	g.Expect(rep.Tenancy).NotTo(BeNil(), "the tenancy story")
	g.Expect(rep.Tenancy.AtAdmission).To(BeTrue(), "the second team's Prod refused at admission: %s", rep.Tenancy.Message)
	g.Expect(rep.Tenancy.Message).To(And(
		ContainSubstring("drover-own-namespace-clusters"),
		ContainSubstring("no Tenant governs namespace "+secondTeam),
		ContainSubstring("not of default")), "why the second team's Prod was refused")
	g.Expect(rep.Tenancy.Left).To(BeEmpty(), "the second team's Prods after the story")
	g.Expect(rep.Tenancy.Shop).To(HaveLen(want), "the shop's Prods the story watched")
	g.Expect(rep.Tenancy.Unchanged).To(BeTrue(), "the shop's Prods and weights unchanged by the second team")
	names := []string{}
	for _, p := range prods(g) {
		names = append(names, p.Name)
	}
	rolloutProds := func(ro *droverv1.RolloutStatus) []string {
		var out []string
		for _, p := range ro.Prods {
			out = append(out, p.Name)
		}
		return out
	}
	g.Expect(rep.Good.Phase).To(Equal(droverv1.RolloutSucceeded), "the rollout of v2")
	g.Expect(rolloutProds(rep.Good)).To(ConsistOf(names), "the Prods the rollout of v2 moved")
	g.Expect(rep.Promoted).To(ContainElement("canary"), "the steps the walk promoted")
	g.Expect(rep.Good.Gates).To(ContainElement(And(
		HaveField("Type", "httpCheck"), HaveField("Passed", true), HaveField("StepName", "canary"))), "the gates of the rollout of v2")
	g.Expect(rep.Bad.Phase).To(Equal(droverv1.RolloutRolledBack), "the rollout of v3")
	g.Expect(rep.Bad.Message).To(ContainSubstring("httpCheck"), "why v3 rolled back")
	g.Expect(rep.Bad.RollbackLatency).NotTo(BeNil(), "the rollback latency of v3")
	// v4's baseline gate judged it worse than the Prods on v2, with the numbers.
	g.Expect(rep.Judged).NotTo(BeNil(), "the rollout of v4")
	g.Expect(rep.Judged.Phase).To(Equal(droverv1.RolloutRolledBack), "the rollout of v4")
	g.Expect(rep.Judged.Message).To(And(ContainSubstring("baseline"), ContainSubstring("significantly worse")), "why v4 rolled back")
	g.Expect(rep.Judged.Gates).To(ContainElement(And(HaveField("Type", "baseline"), HaveField("Passed", false),
		HaveField("Baseline", And(Not(BeNil()), HaveField("Metrics", ContainElement(HaveField("Verdict", "Fail"))))))))
	g.Expect(rep.Good.Gates).To(ContainElement(And(HaveField("Type", "baseline"), HaveField("Passed", true))), "v2's baseline gate passed")
	g.Expect(sb.check.Hits("v2", http.StatusOK)).To(BeNumerically(">", 0), "checks of v2 answered 200")
	g.Expect(sb.check.Hits(badVersion, http.StatusInternalServerError)).To(BeNumerically(">", 0), "checks of v3 answered 500")
	for _, p := range prods(g) {
		g.Expect(p.Spec.Version).To(Equal("v2"), "version of %s after the rollback", p.Name)
		g.Expect(p.Status.AppliedVersion).To(Equal("v2"), "applied version of %s after the rollback", p.Name)
	}
	var onDrained []string
	for key, p := range prods(g) {
		if p.Spec.ClusterRef.Name == workloads[1].Name {
			onDrained = append(onDrained, key)
		}
	}
	g.Expect(onDrained).NotTo(BeEmpty(), "Prods on %s", workloads[1].Name)
	g.Expect(rep.Drained).To(HaveLen(len(onDrained)), "the drained cluster's Prods in Route53")
	for _, key := range onDrained {
		g.Expect(rep.Drained).To(HaveKeyWithValue(key, BeEquivalentTo(0)), "weight of %s while its cluster was drained", key)
	}
	var maintenances droverv1.ClusterMaintenanceList
	g.Expect(cp.List(ctx, &maintenances)).To(Succeed())
	g.Expect(maintenances.Items).To(BeEmpty(), "ClusterMaintenances after the restore")
	expectRecords(g, steady) // every Prod back at weight 100, both paths

	sb.close()
	closed = true
	g.Expect(sb.mgr.Exited()).To(BeTrue(), "the manager runs after close")
	for name, url := range map[string]string{"moto": sb.clouds.Moto.Endpoint() + "/moto-api/", "Octavia": sb.clouds.Octavia.Endpoint()} {
		if resp, err := http.Get(url); err == nil {
			_ = resp.Body.Close()
			t.Errorf("%s still answers at %s after close", name, url)
		}
	}
	fmt.Println("sandbox test done")
}
