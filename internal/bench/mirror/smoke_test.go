package mirror

import (
	"testing"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/nlb"
)

// TestMirrorChurnSmoke runs BenchmarkMirrorSync's checks on a small load balancer (20
// members, 10% churn: 1 gone and 1 new per round, once through Octavia's API and once
// through its database), so that go test keeps the benchmark's code honest: the first
// sync creates the NLB with every member; each churn sync leaves the NLB's targets
// exactly Octavia's members through one RegisterTargets and one DeregisterTargets;
// steady-state syncs write nothing and read no more than the minimum. It also proves the
// verification can fail: a target registered by hand is seen, and the next sync removes
// it.
func TestMirrorChurnSmoke(t *testing.T) {
	const members = 20
	h := newHarness(t, "smoke-mirror-20", members, viaAPI)
	k := members / 10 / 2

	st := h.sync(t)
	h.checkCreate(t, st)
	logSync(t, "create", st)
	h.checkSteady(t, h.sync(t))

	// The first round changes Octavia through its API, the second through its database,
	// as the benchmark does: both must look the same to drover.
	for i, mode := range []writeMode{viaAPI, viaDatabase} {
		h.churn(t, k, mode)
		st := h.sync(t)
		h.checkChurn(t, st, k)
		logSync(t, "churn ("+string(mode)+")", st)
		st = h.sync(t)
		h.checkSteady(t, st)
		// No more reads than the minimum, with one DescribeTags for the load balancer and
		// its target group together, and each Octavia object read once.
		if r, o := st.calls.count(cloudmetrics.ELBv2, false), st.calls.count(cloudmetrics.Octavia, false); r > minAWSReads(1) || o > minOctaviaReads(1, 1) {
			t.Fatalf("a steady-state sync made %d ELBv2 reads (%s) and %d Octavia reads (%s); the minimum is %d and %d",
				r, st.calls.ops(cloudmetrics.ELBv2, false), o, st.calls.ops(cloudmetrics.Octavia, false), minAWSReads(1), minOctaviaReads(1, 1))
		}
		if i == 0 {
			logSync(t, "steady", st)
		}
	}

	// Members written into the database read like the ones the API made.
	snap, err := h.oc.Snapshot(t.Context(), h.lbID)
	if err != nil {
		t.Fatal(err)
	}
	first := snap.Pools[0].Members[0]
	for _, m := range snap.Pools[0].Members {
		if m.Weight != 1 || !m.AdminStateUp || m.Backup || m.Port != memberPort || m.OperatingStatus != first.OperatingStatus || m.ID == "" {
			t.Fatalf("member %+v does not read like the others (%+v)", m, first)
		}
	}

	// The check sees a target that is not a member, and the sync puts it right.
	h.registerByHand(t, "10.99.0.1", memberPort)
	if err := h.verify(t); err == nil {
		t.Fatal("verify found the NLB's targets equal to Octavia's members with a target registered by hand")
	} else {
		t.Logf("verify, as it should: %v", err)
	}
	st = h.sync(t)
	if st.plan != (nlb.Counts{DeregisterTargets: 1}) || st.calls.count(cloudmetrics.ELBv2, true) != 1 || st.calls.op(cloudmetrics.ELBv2, "DeregisterTargets") != 1 {
		t.Fatalf("the sync after a target was registered by hand planned %s with writes %s; want 1 target deregistered in 1 DeregisterTargets",
			st.plan, st.calls.ops(cloudmetrics.ELBv2, true))
	}
	h.checkSteady(t, h.sync(t))
}

func logSync(t *testing.T, what string, st syncStats) {
	t.Helper()
	t.Logf("%s sync: %s (Octavia %s, AWS %s, drover %s); ELBv2 writes: %s; ELBv2 reads: %s; Octavia: %s", what,
		round(st.total), round(st.octavia), round(st.aws()), round(st.drover),
		st.calls.ops(cloudmetrics.ELBv2, true), st.calls.ops(cloudmetrics.ELBv2, false), st.calls.ops(cloudmetrics.Octavia, false))
}
