package traffic_test

import (
	"testing"
	"time"
)

// smokeEnv holds both scenarios at small sizes: two clusters for the drain, one for the
// rollback's set.
var smokeEnv = envSpec{name: "smoke", pools: map[string][]string{evictionPool: {"s-1", "s-2"}, rollbackPool: {"s-3"}}}

// TestTrafficSmoke runs the benchmarks' code at small sizes and asserts what they
// measure: a drain of a cluster hosting 6 Prods (of 6 ProdSets, in two hosted zones)
// takes them out of traffic with one ChangeResourceRecordSets per zone, touching no
// other Prod; a failed release of a set of 6 Prods takes every v3 Prod out of traffic in
// one ChangeResourceRecordSets and ends with every Prod serving v2 again. Each check
// fails the test (see drain and rollback), so a change that breaks the benchmarks'
// measurement, or drover's batching, shows here.
func TestTrafficSmoke(t *testing.T) {
	start := time.Now()
	e := useEnv(t, smokeEnv)

	t.Run("eviction", func(t *testing.T) {
		f := newEvictionFixture(t, e, 6, 2*time.Minute)
		e.quiet(t, time.Minute)
		cm, res := f.drain(t, e, time.Minute)
		t.Logf("\n%s", res.table())
		if len(res.changesPerZone) != len(f.zones) {
			t.Errorf("the drain changed %d hosted zones (%s), want %d", len(res.changesPerZone), perZone(res.changesPerZone), len(f.zones))
		}
		for z, n := range res.changesPerZone {
			if n != 1 {
				t.Errorf("the drain sent %d ChangeResourceRecordSets to zone %s, want 1", n, z)
			}
		}
		f.restore(t, e, cm, time.Minute)
	})

	t.Run("rollback", func(t *testing.T) {
		f := newRollbackFixture(t, e, 6, gateSpec{tries: 2, interval: time.Second}, 2*time.Minute)
		e.quiet(t, time.Minute)
		res := f.rollback(t, e, 2*time.Minute)
		t.Logf("\n%s", res.table())
		if res.moved < 2 {
			t.Errorf("the failed step moved %d Prods to v3, want at least 2 (a batch of one proves nothing)", res.moved)
		}
	})
	t.Logf("smoke test: %s, load %s", time.Since(start).Round(time.Millisecond), loadAverage())
}
