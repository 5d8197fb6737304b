package octavia_test

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"

	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

// recorder is a transport that keeps every request, "GET /path?query", path from
// /lbaas/ on.
type recorder struct {
	mu   sync.Mutex
	seen []string
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	p := req.URL.Path
	if i := strings.Index(p, "/lbaas/"); i >= 0 {
		p = p[i+len("/lbaas"):]
	}
	if q, _ := url.QueryUnescape(req.URL.RawQuery); q != "" {
		p += "?" + q
	}
	r.mu.Lock()
	r.seen = append(r.seen, req.Method+" "+p)
	r.mu.Unlock()
	return http.DefaultTransport.RoundTrip(req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.seen
	r.seen = nil
	return out
}

// clock is a settable clock for the client.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// A Snapshot reads only what changed since the last one, on what Octavia's API really
// changes; every change through the API (a member's weight, admin state or backup flag
// updated, one added, one removed, several at once) is in the next snapshot, which reads
// the members that changed and not the others; a change that moved none of what the
// cheap reads look at (updated_at put back in the database: no API call can do that) is
// missed until the next full read, which comes FullRefresh after the last whatever
// Octavia says.
func TestSnapshotReadsOnlyWhatChanged(t *testing.T) {
	t.Parallel()
	srv := octaviatest.Shared(t)
	var members []octaviatest.MemberSpec
	for i := range 12 {
		members = append(members, octaviatest.MemberSpec{Name: fmt.Sprintf("m%d", i), Address: fmt.Sprintf("10.3.0.%d", i+1), Port: 80})
	}
	lb := srv.CreateLoadBalancer(t, octaviatest.LoadBalancerSpec{Name: "delta", Listeners: []octaviatest.ListenerSpec{
		{Protocol: "TCP", Port: 80, Pool: &octaviatest.PoolSpec{Members: members, Monitor: &octaviatest.MonitorSpec{Type: "TCP"}}},
	}})
	poolID, ids := lb.Listeners[0].PoolID, lb.Listeners[0].MemberIDs
	rec := &recorder{}
	clk := &clock{now: time.Date(2026, 5, 4, 3, 2, 1, 0, time.UTC)}
	const refresh = time.Hour
	c, err := octavia.New(t.Context(), octavia.Options{
		Endpoint: srv.Endpoint(), ProjectID: srv.ProjectID(), RateLimit: -1, Timeout: 10 * time.Second,
		Transport: rec, Now: clk.Now, FullRefresh: refresh,
	})
	if err != nil {
		t.Fatal(err)
	}
	sc := srv.ServiceClient(t)

	// snap reads the load balancer, checks how much was read, and returns its members
	// as "address w<weight>[ backup][ down]".
	snap := func(step, want string) ([]string, []string) {
		t.Helper()
		s, err := c.Snapshot(t.Context(), lb.ID)
		if err != nil {
			t.Fatalf("%s: Snapshot: %v", step, err)
		}
		reqs := rec.take()
		if got := c.LastRead(lb.ID); got != want {
			t.Errorf("%s: the snapshot read %q, want %q; requests:\n%s", step, got, want, strings.Join(reqs, "\n"))
		}
		var out []string
		for _, m := range s.Pools[0].Members {
			d := fmt.Sprintf("%s w%d", m.Address, m.Weight)
			if m.Backup {
				d += " backup"
			}
			if !m.AdminStateUp {
				d += " down"
			}
			out = append(out, d)
		}
		return out, reqs
	}
	// settle waits until Octavia's last change is a clock margin older than the next
	// read, as it is in a steady state.
	settle := func() { time.Sleep(octavia.ClockMargin + 1500*time.Millisecond) }
	// memberReads counts the member rows the requests asked for: a page's limit, or one
	// for a single member's GET; a listing without a limit counts as the whole pool.
	memberReads := func(reqs []string) (n int, full bool) {
		for _, r := range reqs {
			switch {
			case strings.Contains(r, "/members/"):
				n++
			case strings.Contains(r, "/members?") && strings.Contains(r, "sort_key=updated_at"):
				var limit int
				for _, kv := range strings.Split(r[strings.Index(r, "?")+1:], "&") {
					if v, ok := strings.CutPrefix(kv, "limit="); ok {
						_, _ = fmt.Sscan(v, &limit)
					}
				}
				n += limit
			case strings.Contains(r, "/members"):
				full = true
			}
		}
		return n, full
	}
	want := func(step string, got []string, change func(m []string)) {
		t.Helper()
		var w []string
		for _, m := range members {
			w = append(w, m.Address+" w1")
		}
		change(w)
		w = slices.DeleteFunc(w, func(s string) bool { return s == "" })
		slices.SortFunc(w, func(a, b string) int { return strings.Compare(padIP(a), padIP(b)) })
		if !slices.Equal(got, w) {
			t.Errorf("%s: members %v, want %v", step, got, w)
		}
	}

	got, _ := snap("the first read", "full")
	want("the first read", got, func([]string) {})
	settle()
	snap("the read after the first, which was close to the load balancer's creation", "delta")
	got, reqs := snap("a steady read", "reuse")
	want("a steady read", got, func([]string) {})
	if len(reqs) != 2 {
		t.Errorf("a steady read made %d requests, want 2 (the load balancer, its pools):\n%s", len(reqs), strings.Join(reqs, "\n"))
	}

	// Through the API, one change at a time: each in the next read, which reads a few
	// members, not the pool.
	zero, yes, no := 0, true, false
	for _, step := range []struct {
		name   string
		opts   pools.UpdateMemberOpts
		member int
		change func(m []string)
	}{
		{"weight 0", pools.UpdateMemberOpts{Weight: &zero}, 3, func(m []string) { m[3] = "10.3.0.4 w0" }},
		{"backup", pools.UpdateMemberOpts{Backup: &yes}, 5, func(m []string) { m[3] = "10.3.0.4 w0"; m[5] = "10.3.0.6 w1 backup" }},
		{"admin down", pools.UpdateMemberOpts{AdminStateUp: &no}, 7, func(m []string) {
			m[3] = "10.3.0.4 w0"
			m[5] = "10.3.0.6 w1 backup"
			m[7] = "10.3.0.8 w1 down"
		}},
	} {
		if _, err := pools.UpdateMember(t.Context(), sc, poolID, ids[step.member], step.opts).Extract(); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		srv.WaitActive(t, lb.ID)
		got, reqs := snap(step.name, "delta")
		want(step.name, got, step.change)
		if n, full := memberReads(reqs); full || n > 4 {
			t.Errorf("%s: the read asked for %d members (a full listing: %v), want at most 4:\n%s", step.name, n, full, strings.Join(reqs, "\n"))
		}
		settle()
		snap(step.name+", settled", "delta")
		snap(step.name+", steady", "reuse")
	}
	changed := func(m []string) { m[3] = "10.3.0.4 w0"; m[5] = "10.3.0.6 w1 backup"; m[7] = "10.3.0.8 w1 down" }

	// One added, one removed.
	srv.AddMember(t, poolID, octaviatest.MemberSpec{Address: "10.3.0.100", Port: 80})
	srv.RemoveMember(t, poolID, ids[0])
	got, reqs = snap("one added, one removed", "delta")
	want("one added, one removed", got, func(m []string) { changed(m); m[0] = "10.3.0.100 w1" })
	if n, full := memberReads(reqs); full || n > 4 {
		t.Errorf("one added, one removed: the read asked for %d members (a full listing: %v), want at most 4:\n%s", n, full, strings.Join(reqs, "\n"))
	}
	settle()
	snap("one added, one removed, settled", "delta")
	snap("one added, one removed, steady", "reuse")

	// A change no cheap read can see: a weight changed through the API, then the load
	// balancer's, the pool's and the member's updated_at put back. The next read misses
	// it (the fingerprint is what it was); the next full read, FullRefresh after the
	// last, finds it whatever Octavia's answers say.
	before := map[octaviatest.Object]time.Time{
		octaviatest.LoadBalancerObject: srv.UpdatedAt(t, octaviatest.LoadBalancerObject, lb.ID, ""),
		octaviatest.PoolObject:         srv.UpdatedAt(t, octaviatest.PoolObject, poolID, ""),
		octaviatest.MemberObject:       srv.UpdatedAt(t, octaviatest.MemberObject, ids[9], poolID),
	}
	two := 2
	if _, err := pools.UpdateMember(t.Context(), sc, poolID, ids[9], pools.UpdateMemberOpts{Weight: &two, AdminStateUp: &no}).Extract(); err != nil {
		t.Fatal(err)
	}
	srv.WaitActive(t, lb.ID)
	srv.SetUpdatedAt(t, octaviatest.LoadBalancerObject, lb.ID, before[octaviatest.LoadBalancerObject])
	srv.SetUpdatedAt(t, octaviatest.PoolObject, poolID, before[octaviatest.PoolObject])
	srv.SetUpdatedAt(t, octaviatest.MemberObject, ids[9], before[octaviatest.MemberObject])
	got, _ = snap("a hidden change", "reuse")
	want("a hidden change (missed)", got, func(m []string) { changed(m); m[0] = "10.3.0.100 w1" })
	clk.Add(refresh - time.Minute)
	snap("a hidden change, before the full refresh is due", "reuse")
	clk.Add(time.Minute)
	got, reqs = snap("a hidden change, the full refresh due", "full")
	want("a hidden change, found by the full refresh", got, func(m []string) { changed(m); m[0] = "10.3.0.100 w1"; m[9] = "10.3.0.10 w2 down" })
	if _, full := memberReads(reqs); !full {
		t.Errorf("the full refresh did not list the members:\n%s", strings.Join(reqs, "\n"))
	}

	// A member removed behind the API's back with every updated_at put back: its id is
	// gone from the pool's list, which the next read sees.
	srv.RemoveMember(t, poolID, ids[11])
	srv.SetUpdatedAt(t, octaviatest.LoadBalancerObject, lb.ID, before[octaviatest.LoadBalancerObject])
	srv.SetUpdatedAt(t, octaviatest.PoolObject, poolID, before[octaviatest.PoolObject])
	got, _ = snap("a member removed, updated_at put back", "delta")
	want("a member removed, updated_at put back", got, func(m []string) {
		changed(m)
		m[0] = "10.3.0.100 w1"
		m[9] = "10.3.0.10 w2 down"
		m[11] = ""
	})
}

// padIP makes "10.3.0.4 w1" sort after "10.3.0.100 w1" numerically, as the snapshot's
// members are sorted.
func padIP(s string) string {
	addr, rest, _ := strings.Cut(s, " ")
	var a, b, c, d int
	_, _ = fmt.Sscanf(addr, "%d.%d.%d.%d", &a, &b, &c, &d)
	return fmt.Sprintf("%03d.%03d.%03d.%03d %s", a, b, c, d, rest)
}
