package octavia

import (
	"slices"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	lbUpdated := t0.Add(-time.Hour)
	pool := poolPrint{ID: "p1", Updated: lbUpdated, Status: "ACTIVE", MonitorID: "m1", MemberIDs: []string{"a", "b", "c"}}
	fp := fingerprint{LBUpdated: lbUpdated, LBStatus: "ACTIVE", Pools: []poolPrint{pool}}
	base := func(f func(b *baseline)) *baseline {
		b := &baseline{print: fp, asOf: t0, fullAt: t0}
		b.print.Pools = slices.Clone(fp.Pools)
		if f != nil {
			f(b)
		}
		return b
	}
	with := func(f func(p *fingerprint)) fingerprint {
		p := fp
		p.Pools = slices.Clone(fp.Pools)
		p.Pools[0].MemberIDs = slices.Clone(pool.MemberIDs)
		f(&p)
		return p
	}
	const refresh = time.Hour
	later := t0.Add(30 * time.Second)
	for _, tc := range []struct {
		name string
		prev *baseline
		cur  fingerprint
		now  time.Time
		want readKind
	}{
		{"first read", nil, fp, later, full},
		{"nothing moved", base(nil), fp, later, reuse},
		{"refresh due, nothing moved", base(nil), fp, t0.Add(refresh), full},
		{"refresh due soon, nothing moved", base(nil), fp, t0.Add(refresh - time.Second), reuse},
		{"drover's clock went back", base(nil), fp, t0.Add(-time.Minute), full},
		{"load balancer updated_at moved", base(nil), with(func(p *fingerprint) { p.LBUpdated = t0.Add(time.Second) }), later, delta},
		{"load balancer updated_at went back", base(nil), with(func(p *fingerprint) { p.LBUpdated = lbUpdated.Add(-time.Second) }), later, delta},
		{"load balancer pending", base(nil), with(func(p *fingerprint) { p.LBStatus = "PENDING_UPDATE" }), later, lbOnly},
		{"load balancer pending, first read", nil, with(func(p *fingerprint) { p.LBStatus = "PENDING_CREATE" }), later, lbOnly},
		{"load balancer in error, refresh due", base(nil), with(func(p *fingerprint) { p.LBStatus = "ERROR" }), t0.Add(refresh), lbOnly},
		{"member added, nothing else moved", base(nil), with(func(p *fingerprint) { p.Pools[0].MemberIDs = []string{"a", "b", "c", "d"} }), later, delta},
		{"member removed, nothing else moved", base(nil), with(func(p *fingerprint) { p.Pools[0].MemberIDs = []string{"a", "c"} }), later, delta},
		{"member replaced, nothing else moved", base(nil), with(func(p *fingerprint) { p.Pools[0].MemberIDs = []string{"a", "b", "d"} }), later, delta},
		{"pool updated_at moved", base(nil), with(func(p *fingerprint) { p.Pools[0].Updated = t0 }), later, delta},
		{"pool pending", base(nil), with(func(p *fingerprint) { p.Pools[0].Status = "PENDING_UPDATE" }), later, delta},
		{"monitor replaced", base(nil), with(func(p *fingerprint) { p.Pools[0].MonitorID = "m2" }), later, delta},
		{"pool added", base(nil), with(func(p *fingerprint) { p.Pools = append(p.Pools, poolPrint{ID: "p2"}) }), later, delta},
		{"pool removed", base(nil), with(func(p *fingerprint) { p.Pools = nil }), later, delta},
		{"last read too close to the last change", base(func(b *baseline) { b.asOf = lbUpdated.Add(ClockMargin) }), fp, later, delta},
		{"last read just far enough from the last change", base(func(b *baseline) { b.asOf = lbUpdated.Add(ClockMargin + time.Second) }), fp, later, reuse},
		{"last read close to a pool's last change", base(func(b *baseline) { b.print.Pools[0].Updated = t0.Add(-time.Second) }),
			with(func(p *fingerprint) { p.Pools[0].Updated = t0.Add(-time.Second) }), later, delta},
		{"Octavia sent no date", base(func(b *baseline) { b.asOf = time.Time{} }), fp, later, delta},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why := decide(tc.prev, tc.cur, tc.now, refresh)
			if got != tc.want {
				t.Errorf("decide = %s (%s), want %s", got, why, tc.want)
			}
		})
	}
}

func TestMemberDelta(t *testing.T) {
	for _, tc := range []struct {
		before, now, added, gone []string
	}{
		{nil, nil, nil, nil},
		{[]string{"a", "b"}, []string{"a", "b"}, nil, nil},
		{nil, []string{"a", "b"}, []string{"a", "b"}, nil},
		{[]string{"a", "b"}, nil, nil, []string{"a", "b"}},
		{[]string{"a", "c", "e"}, []string{"b", "c", "d", "f"}, []string{"b", "d", "f"}, []string{"a", "e"}},
	} {
		added, gone := memberDelta(tc.before, tc.now)
		if !slices.Equal(added, tc.added) || !slices.Equal(gone, tc.gone) {
			t.Errorf("memberDelta(%v, %v) = %v, %v; want %v, %v", tc.before, tc.now, added, gone, tc.added, tc.gone)
		}
	}
}

func TestDeltaWalk(t *testing.T) {
	// The pages: the added members not met yet and one more, then 2, 4, 8… more, up to
	// maxDeltaPage.
	for _, tc := range []struct{ page, unmet, want int }{
		{0, 0, 1}, {0, 5, 6}, {0, 500, maxDeltaPage}, {1, 0, 2}, {2, 0, 4}, {1, 3, 5}, {20, 0, maxDeltaPage},
	} {
		if got := deltaLimit(tc.page, tc.unmet); got != tc.want {
			t.Errorf("deltaLimit(%d, %d) = %d, want %d", tc.page, tc.unmet, got, tc.want)
		}
	}
	mark := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		oldest  time.Time
		hasNext bool
		want    bool
	}{
		{mark.Add(-time.Second), true, true},
		{mark, true, false}, // updated at the watermark: possibly after the read
		{mark.Add(time.Second), true, false},
		{mark.Add(time.Second), false, true},
		{time.Time{}, true, true}, // never updated
	} {
		if got := walkDone(tc.oldest, tc.hasNext, mark); got != tc.want {
			t.Errorf("walkDone(%s, %v) = %v, want %v", tc.oldest, tc.hasNext, got, tc.want)
		}
	}
}

func TestPageSize(t *testing.T) {
	for _, tc := range []struct{ members, want int }{
		{0, fullPage}, {20, fullPage}, {1000, 50}, {1001, 49}, {5000, 10}, {50_000, 1}, {1_000_000, 1},
	} {
		if got := pageSize(tc.members); got != tc.want {
			t.Errorf("pageSize(%d) = %d, want %d", tc.members, got, tc.want)
		}
		if got := pageSize(tc.members); got*max(tc.members, 1) > conversionsPerRequest && got > 1 {
			t.Errorf("pageSize(%d) = %d: %d conversions a request", tc.members, got, got*tc.members)
		}
	}
}
