package main

import (
	"io"
	"net/http"
	"net/netip"
	"testing"

	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/runtime"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// A step is promoted only when approvals are all it waits for: a running check is
// never passed by the walk's promote.
func TestOnlyApprovalsWait(t *testing.T) {
	g := NewWithT(t)
	for msg, want := range map[string]bool{
		"step canary: gate 2 (approval): waiting for approval (promote): the error rate, which needs Prometheus":                              true,
		"step canary: gate 1 (approval): waiting for approval (promote); gate 2 (approval): waiting for approval (promote)":                   true,
		"step canary: gate 1 (httpCheck): running; gate 2 (approval): waiting for approval (promote): the error rate, which needs Prometheus": false,
		"step canary: waiting for default/shop-workload-1 to drain":                                                                           false,
		"gate failed: step canary, gate 1 (httpCheck): default/shop-workload-1: 0/3 tries succeeded (last: status 500, want 200)":             false,
		"": false,
	} {
		g.Expect(onlyApprovalsWait(msg)).To(Equal(want), "%q", msg)
	}
}

// The sandbox's variant of the samples: the HTTP checks go to the sandbox's endpoint,
// the Prometheus gate becomes an approval, the baseline gate asks the sandbox's
// Prometheus for the error ratio it serves, the steps and their other settings stay,
// and the ProdSet's TTL is short.
func TestSandboxVariants(t *testing.T) {
	g := NewWithT(t)
	applied := appliedSamples(t)
	sample := &droverv1.RolloutPolicy{}
	for _, o := range applied {
		if o.GetKind() == "RolloutPolicy" {
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, sample)).To(Succeed())
		}
	}
	changes, err := sandboxVariants(applied, "http://127.0.0.1:1/healthz?version={{ .Version }}", "http://127.0.0.1:2")
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(changes).NotTo(BeEmpty())
	var policy *droverv1.RolloutPolicy
	for _, o := range applied {
		switch o.GetKind() {
		case "RolloutPolicy":
			policy = &droverv1.RolloutPolicy{}
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, policy)).To(Succeed())
		case "ProdSet":
			set := &droverv1.ProdSet{}
			g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, set)).To(Succeed())
			g.Expect(set.Spec.Traffic.TTL).To(BeEquivalentTo(sandboxTTL))
		}
	}
	g.Expect(policy).NotTo(BeNil())
	g.Expect(policy.Spec.Strategy).To(Equal(sample.Spec.Strategy))
	g.Expect(policy.Spec.FailurePolicy).To(Equal(sample.Spec.FailurePolicy))
	g.Expect(policy.Spec.Steps).To(HaveLen(len(sample.Spec.Steps)))
	approvals, checks, baselines := 0, 0, 0
	for si, step := range policy.Spec.Steps {
		g.Expect(step.Name).To(Equal(sample.Spec.Steps[si].Name))
		g.Expect(step.Gates).To(HaveLen(len(sample.Spec.Steps[si].Gates)))
		for gi, gate := range step.Gates {
			orig := sample.Spec.Steps[si].Gates[gi]
			g.Expect(gate.Prometheus).To(BeNil())
			switch {
			case orig.Prometheus != nil:
				g.Expect(gate.Approval).NotTo(BeNil())
				approvals++
			case orig.Baseline != nil:
				g.Expect(gate.Baseline.Address).To(Equal("http://127.0.0.1:2"))
				g.Expect(gate.Baseline.Window.Duration).To(Equal(sandboxBaselineWindow))
				g.Expect(gate.Baseline.OnInconclusive).To(Equal(orig.Baseline.OnInconclusive))
				for _, m := range gate.Baseline.Metrics {
					g.Expect(m.Query).To(Equal(errorRatioMetric + `{prod="{{ .Prod }}"}`))
				}
				baselines++
			case orig.HTTPCheck != nil:
				g.Expect(gate.HTTPCheck.URL).To(HavePrefix("http://127.0.0.1:1/healthz"))
				g.Expect(gate.HTTPCheck.Tries).To(BeEquivalentTo(sandboxCheckTries))
				g.Expect(gate.HTTPCheck.ExpectedStatus).To(Equal(orig.HTTPCheck.ExpectedStatus))
				checks++
			}
		}
	}
	g.Expect(approvals).To(Equal(1))
	g.Expect(checks).To(Equal(2))
	g.Expect(baselines).To(Equal(1))

	// The sample Tenant's gates reach the check endpoint on loopback, and only there.
	plan, err := planTenancy(applied)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(plan.Tenant).NotTo(BeNil())
	tenant := &droverv1.Tenant{}
	g.Expect(runtime.DefaultUnstructuredConverter.FromUnstructured(plan.Tenant.Object, tenant)).To(Succeed())
	p := tenancy.Resolve(plan.Namespaces[0], map[string]string{droverv1.TenantLabel: tenant.Name}, func(string) (*droverv1.Tenant, bool) { return tenant, true }, false)
	g.Expect(p.GateAddress(netip.MustParseAddr("127.0.0.1"))).To(BeNil())
	g.Expect(p.GateAddress(netip.MustParseAddr("169.254.169.254"))).NotTo(BeNil())
	g.Expect(p.GateAddress(netip.MustParseAddr("10.0.0.1"))).NotTo(BeNil())
}

// The sandbox's check endpoint fails badVersion only.
func TestCheckServer(t *testing.T) {
	g := NewWithT(t)
	s, err := startCheckServer()
	g.Expect(err).NotTo(HaveOccurred())
	defer s.Stop()
	for version, want := range map[string]int{"v2": http.StatusOK, badVersion: http.StatusInternalServerError} {
		resp, err := http.Get(s.URL() + "?prod=shop&version=" + version)
		g.Expect(err).NotTo(HaveOccurred())
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		g.Expect(resp.StatusCode).To(Equal(want), version)
		g.Expect(s.Hits(version, want)).To(Equal(1))
	}
}
