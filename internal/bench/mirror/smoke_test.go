package mirror

import (
	"fmt"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

// TestMirrorChurnSmoke runs BenchmarkMirrorSync's checks on a small load balancer (20
// members, 10% churn: 1 gone and 1 new per round, through Octavia's API and through its
// database, one member at a time and in one batch update), so that go test keeps the
// benchmark's code honest: the first sync creates the NLB with every member; each churn
// sync leaves the NLB's targets exactly Octavia's members through one RegisterTargets and
// one DeregisterTargets; the database path moves the same updated_at as the API (the
// load balancer's, the pool's, the new member's, and every kept member's in a batch
// update, no other); a steady-state sync writes nothing and, from the second after the
// change is octavia.ClockMargin old, reads the load balancer and its pool list, nothing
// more. It also proves the verification can fail: a
// target registered by hand is seen, and the next sync removes it.
func TestMirrorChurnSmoke(t *testing.T) {
	const members = 20
	h := newHarness(t, "smoke-mirror-20", members, viaAPI)
	k := members / 10 / 2

	st := h.sync(t)
	h.checkCreate(t, st)
	logSync(t, "create", st)
	h.checkSteady(t, h.sync(t))

	// Octavia changes through its API and through its database, one member at a time
	// and in one batch update: each way moves the same updated_at in both (checked), and
	// looks the same to drover. A settled steady-state sync reads the load balancer and
	// its pool list, nothing more.
	for i, way := range []struct {
		mode  writeMode
		batch bool
	}{{viaAPI, false}, {viaDatabase, false}, {viaAPI, true}, {viaDatabase, true}} {
		what := string(way.mode)
		if way.batch {
			what += ", batch"
		}
		before := h.updatedAts(t)
		h.churn(t, k, way.mode, way.batch)
		h.checkMoved(t, what, before, h.updatedAts(t), way.batch)
		st := h.sync(t)
		h.checkChurn(t, st, k)
		logSync(t, "churn ("+what+")", st)
		// The first sync once the change is octavia.ClockMargin old reads the members
		// updated since the last sync (none) to make sure; from the next one on, nothing
		// but the load balancer and its pools.
		h.settle()
		h.checkSteady(t, h.sync(t))
		time.Sleep(pollGap)
		st = h.sync(t)
		h.checkSteady(t, st)
		if r, o := st.calls.count(cloudmetrics.ELBv2, false), st.calls.count(cloudmetrics.Octavia, false); r > minAWSReads(1) || o != 2 {
			t.Fatalf("a steady-state sync made %d ELBv2 reads (%s) and %d Octavia reads (%s); want at most %d and 2 (the load balancer, its pools)",
				r, st.calls.ops(cloudmetrics.ELBv2, false), o, st.calls.ops(cloudmetrics.Octavia, false), minAWSReads(1))
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

// updated is the updated_at of the load balancer, the pool and each member (by
// address:port), read through the API.
type updated struct {
	lb, pool time.Time
	members  map[string]time.Time
}

func (h *harness) updatedAts(t *testing.T) updated {
	t.Helper()
	u := updated{
		lb:      h.octavia.UpdatedAt(t, octaviatest.LoadBalancerObject, h.lbID, ""),
		pool:    h.octavia.UpdatedAt(t, octaviatest.PoolObject, h.poolID, ""),
		members: map[string]time.Time{},
	}
	pages, err := pools.ListMembers(h.octavia.ServiceClient(t), h.poolID, pools.ListMembersOpts{}).AllPages(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ms, err := pools.ExtractMembers(pages)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		u.members[fmt.Sprintf("%s:%d", m.Address, m.ProtocolPort)] = m.UpdatedAt
	}
	return u
}

// checkMoved: a change of members moved the load balancer's and the pool's updated_at,
// gave each new member an updated_at after the load balancer's before, and moved a kept
// member's updated_at if and only if it was a batch update.
func (h *harness) checkMoved(t *testing.T, what string, before, after updated, batch bool) {
	t.Helper()
	if !after.lb.After(before.lb) || !after.pool.After(before.pool) {
		t.Fatalf("a change of members (%s) moved the load balancer's updated_at from %s to %s and the pool's from %s to %s; both must move",
			what, before.lb, after.lb, before.pool, after.pool)
	}
	for m, at := range after.members {
		old, kept := before.members[m]
		switch {
		case !kept && !at.After(before.lb):
			t.Fatalf("new member %s (%s) has updated_at %s, not after the load balancer's before the change (%s)", m, what, at, before.lb)
		case kept && batch && at.Equal(old):
			t.Fatalf("a batch update (%s) left member %s's updated_at at %s; Octavia's moves every listed member's", what, m, at)
		case kept && !batch && !at.Equal(old):
			t.Fatalf("a change of other members (%s) moved member %s's updated_at from %s to %s", what, m, old, at)
		}
	}
}

func logSync(t *testing.T, what string, st syncStats) {
	t.Helper()
	t.Logf("%s sync: %s (Octavia %s, AWS %s, drover %s); ELBv2 writes: %s; ELBv2 reads: %s; Octavia: %s", what,
		round(st.total), round(st.octavia), round(st.aws()), round(st.drover),
		st.calls.ops(cloudmetrics.ELBv2, true), st.calls.ops(cloudmetrics.ELBv2, false), st.calls.ops(cloudmetrics.Octavia, false))
}
