package traffic_test

import (
	"testing"
	"time"
)

// smokeEnv holds both scenarios at small sizes: two clusters for the drain, one for the
// rollback's set. Its publisher lingers as in production (200 ms): the drain hands every
// set's weights over at once, so a regression that lets the sets publish one by one
// again fails the one-change-per-zone assertion.
var smokeEnv = envSpec{name: "smoke", pools: map[string][]string{evictionPool: {"s-1", "s-2"}, rollbackPool: {"s-3"}}}

// TestTrafficSmoke runs the benchmarks' code at small sizes and asserts what they
// measure: a drain of a cluster hosting 6 Prods (of 6 ProdSets, in two hosted zones)
// takes them out of traffic with one ChangeResourceRecordSets per zone, after at most
// one read of each zone, touching no other Prod; a failed release of a set of 6 Prods takes every v3 Prod out of traffic in
// one ChangeResourceRecordSets and ends with every Prod serving v2 again. Each check
// fails the test (see drain and rollback), so a change that breaks the benchmarks'
// measurement, or drover's batching, shows here.
func TestTrafficSmoke(t *testing.T) {
	// settle bounds each wait: generous, since a loaded 2-core machine can take minutes
	// where a quiet one takes seconds; a wait returns as soon as its condition holds.
	const settle = 3 * time.Minute
	start := time.Now()
	e := useEnv(t, smokeEnv)

	t.Run("eviction", func(t *testing.T) {
		f := newEvictionFixture(t, e, 6, settle)
		e.quiet(t, settle)
		cm, res := f.drain(t, e, settle)
		t.Logf("\n%s", res.table())
		// Counted on the wire, by the proxy in front of moto.
		if len(res.wirePerZone) != len(f.zones) {
			t.Errorf("the drain changed %d hosted zones (%s), want %d", len(res.wirePerZone), perZone(res.wirePerZone), len(f.zones))
		}
		for z, n := range res.wirePerZone {
			if n != 1 {
				t.Errorf("the drain sent %d ChangeResourceRecordSets to zone %s on the wire, want 1", n, z)
			}
		}
		// One Publish per set, the drain's hand-off: no set publishes it again.
		if res.publishes != len(f.evicted) {
			t.Errorf("%d Publish calls carried the drained weights 0 of %d sets, want one per set (the drain's hand-off, taken over by each set)", res.publishes, len(f.evicted))
		}
		for z, n := range res.zoneCallsToSubmit {
			if n > 2 {
				t.Errorf("the drain made %d Route53 calls naming zone %s until its change was submitted, want at most 2 (a read and the change)", n, z)
			}
		}
		f.restore(t, e, cm, settle)
	})

	t.Run("rollback", func(t *testing.T) {
		f := newRollbackFixture(t, e, 6, gateSpec{tries: 2, interval: 2 * time.Second}, settle)
		e.quiet(t, settle)
		res := f.rollback(t, e, settle)
		t.Logf("\n%s", res.table())
		if res.moved < 2 {
			t.Errorf("the failed step moved %d Prods to v3, want at least 2 (a batch of one proves nothing)", res.moved)
		}
	})
	t.Logf("smoke test: %s, load %s", time.Since(start).Round(time.Millisecond), loadAverage())
}
