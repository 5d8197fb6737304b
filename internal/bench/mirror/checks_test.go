package mirror

import (
	"testing"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/nlb/deploy"
)

// The properties every sync of the benchmark and the smoke test must have; tb fails
// otherwise.

// checkCreate: the sync created the whole NLB (one load balancer, target group and
// listener, every member a target) and the NLB is Octavia's load balancer.
func (h *harness) checkCreate(tb testing.TB, st syncStats) {
	tb.Helper()
	want := nlb.Counts{CreateLoadBalancers: 1, CreateTargetGroups: 1, CreateListeners: 1, RegisterTargets: len(h.members)}
	if st.plan != want {
		tb.Fatalf("the first sync's plan is %s, want %s", st.plan, want)
	}
	if err := h.verify(tb); err != nil {
		tb.Fatalf("after the first sync: %v", err)
	}
}

// checkChurn: after k members were replaced, the sync registered the k new ones and
// deregistered the k gone ones, with the fewest write calls (one RegisterTargets and
// one DeregisterTargets while k ≤ elbv2.MaxTargetsPerCall) and no other write, and the
// NLB's targets are exactly Octavia's members.
func (h *harness) checkChurn(tb testing.TB, st syncStats, k int) {
	tb.Helper()
	if err := h.verify(tb); err != nil {
		tb.Fatalf("after replacing %d of %d members: %v", k, len(h.members), err)
	}
	want := nlb.Counts{RegisterTargets: k, DeregisterTargets: k}
	if st.plan != want {
		tb.Fatalf("after replacing %d of %d members the plan was %s, want %s", k, len(h.members), st.plan, want)
	}
	per := func(n int) int { return ceilDiv(n, elbv2.MaxTargetsPerCall) }
	reg, dereg := st.calls.op(cloudmetrics.ELBv2, "RegisterTargets"), st.calls.op(cloudmetrics.ELBv2, "DeregisterTargets")
	writes := st.calls.count(cloudmetrics.ELBv2, true)
	if reg != per(k) || dereg != per(k) || writes != minChurnWrites(k, k) {
		tb.Fatalf("replacing %d members took ELBv2 writes %s; want %d RegisterTargets and %d DeregisterTargets, nothing else",
			k, st.calls.ops(cloudmetrics.ELBv2, true), per(k), per(k))
	}
}

// checkSteady: with Octavia unchanged, the sync planned nothing and wrote nothing, and
// the NLB is still Octavia's load balancer.
func (h *harness) checkSteady(tb testing.TB, st syncStats) {
	tb.Helper()
	if w := st.calls.count(cloudmetrics.ELBv2, true); w != 0 || st.plan != (nlb.Counts{}) {
		tb.Fatalf("a steady-state sync made %d ELBv2 writes (%s), plan %s; want none", w, st.calls.ops(cloudmetrics.ELBv2, true), st.plan)
	}
	if w := st.calls.count(cloudmetrics.Octavia, true); w != 0 {
		tb.Fatalf("a sync wrote to Octavia: %s", st.calls.ops(cloudmetrics.Octavia, true))
	}
	if err := h.verify(tb); err != nil {
		tb.Fatalf("in the steady state: %v", err)
	}
}

// deleteNLB deletes the Prod's NLB (as the finalizer does) so that the next sync creates
// it again.
func (h *harness) deleteNLB(tb testing.TB) {
	tb.Helper()
	observed, err := deploy.Observe(tb.Context(), h.elb, h.owner)
	if err != nil {
		tb.Fatalf("Observe: %v", err)
	}
	if _, err := deploy.Apply(tb.Context(), h.elb, nlb.DeletePlan(observed)); err != nil {
		tb.Fatalf("deleting the NLB: %v", err)
	}
}
