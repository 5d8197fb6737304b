package traffic_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/test/builder"
)

// evictionPool is the pool of clusters the eviction's ProdSets are placed on.
const evictionPool = "evict"

// evictionFixture is N ProdSets of two Prods each, one Prod on each of two clusters,
// their services alternating between two hosted zones: the drained cluster hosts N
// Prods, one of every set (as a cluster hosts one Prod of each application).
type evictionFixture struct {
	namespace string
	cluster   string // the cluster drained
	zones     []zone
	// services by set name: zone and record name.
	services map[string]evictionService
	// evicted and kept are the SetIdentifiers of the Prods on the drained cluster and on
	// the other one.
	evicted, kept map[string]bool
}

type evictionService struct {
	zone zone
	name string
}

// newEvictionFixture creates the sets and waits until every Prod serves at weight 100 in
// Route53.
func newEvictionFixture(tb testing.TB, e *env, sets int, timeout time.Duration) *evictionFixture {
	tb.Helper()
	// One fixture per env, grown to the size asked for: the sets of a smaller size stay
	// (the drained cluster hosts one Prod of every set of the namespace), so the sizes
	// are measured in increasing order.
	const key = "eviction"
	f, ok := e.fixtures[key].(*evictionFixture)
	if ok && len(f.services) == sets {
		return f
	}
	if ok && len(f.services) > sets {
		tb.Fatalf("the eviction fixture has %d sets, more than the %d asked for: measure the sizes in increasing order", len(f.services), sets)
	}
	clusters := e.spec.pools[evictionPool]
	if len(clusters) != 2 {
		tb.Fatalf("the eviction needs two clusters in pool %s, env %s has %v", evictionPool, e.spec.name, clusters)
	}
	start := time.Now()
	if !ok {
		f = &evictionFixture{namespace: e.bed.Namespace, cluster: clusters[0], services: map[string]evictionService{},
			evicted: map[string]bool{}, kept: map[string]bool{}}
		f.zones = []zone{e.createZone(tb, "a.evict.example.com"), e.createZone(tb, "b.evict.example.com")}
	}
	ctx := context.Background()
	for i := len(f.services); i < sets; i++ {
		name := fmt.Sprintf("e%04d", i)
		z := f.zones[i%len(f.zones)]
		svc := evictionService{zone: z, name: name + "." + z.name}
		f.services[name] = svc
		set := builder.ProdSet(f.namespace, name, builder.Replicas(2), builder.WithManifests(builder.ConfigMap("app")),
			builder.LoadBalancer("lb-"+name), builder.OnClusters(poolLabel, evictionPool), builder.Spread("", 1),
			builder.Records(z.id, svc.name, 1), builder.HealthCheck(80, "/healthz"))
		if err := e.cp.Create(ctx, set); err != nil {
			tb.Fatalf("creating ProdSet %s: %v", name, err)
		}
		for _, c := range clusters {
			id := setID(f.namespace, name+"-"+c)
			if c == f.cluster {
				f.evicted[id] = true
			} else {
				f.kept[id] = true
			}
		}
	}
	waitFor(tb, timeout, fmt.Sprintf("%d ProdSets to serve", sets), func() (bool, string) {
		list := &droverv1.ProdSetList{}
		if err := e.cp.List(ctx, list, client.InNamespace(f.namespace)); err != nil {
			return false, err.Error()
		}
		serving := 0
		var waiting []string
		for _, s := range list.Items {
			if _, ours := f.services[s.Name]; !ours {
				continue
			}
			if s.Status.ServingReplicas == 2 {
				serving++
			} else if len(waiting) < 5 {
				waiting = append(waiting, fmt.Sprintf("%s (%d serving)", s.Name, s.Status.ServingReplicas))
			}
		}
		return serving == sets, fmt.Sprintf("%d of %d sets serve; waiting for %s", serving, sets, strings.Join(waiting, ", "))
	})
	waitFor(tb, timeout, "every Prod at weight 100 in Route53", func() (bool, string) {
		return f.checkRoute53(e, func(string) int64 { return 100 })
	})
	e.fixtures[key] = f
	tb.Logf("eviction fixture: %d ProdSets, %d Prods, serving in %s", sets, 2*sets, time.Since(start).Round(time.Millisecond))
	return f
}

// checkRoute53 reports whether Route53 holds, for every Prod of the fixture, the weight
// want says, and says what differs.
func (f *evictionFixture) checkRoute53(e *env, want func(id string) int64) (bool, string) {
	var wrong []string
	for _, set := range slices.Sorted(maps.Keys(f.services)) {
		svc := f.services[set]
		got, err := e.serviceWeightsIn(context.Background(), svc.zone.id, svc.name)
		if err != nil {
			return false, err.Error()
		}
		for _, id := range []string{setID(f.namespace, set+"-"+f.other(e)), setID(f.namespace, set+"-"+f.cluster)} {
			w, ok := got[id]
			switch {
			case !ok:
				wrong = append(wrong, id+" missing")
			case w != want(id):
				wrong = append(wrong, fmt.Sprintf("%s at %d, want %d", id, w, want(id)))
			}
		}
	}
	if len(wrong) > 0 {
		return false, fmt.Sprintf("%d records differ: %s", len(wrong), strings.Join(wrong[:min(len(wrong), 5)], "; "))
	}
	return true, ""
}

func (f *evictionFixture) zoneName(id string) string {
	for _, z := range f.zones {
		if z.id == id {
			return z.name
		}
	}
	return id
}

// zoneOf is the hosted zone id of the service a Prod's record (its SetIdentifier) is in.
func (f *evictionFixture) zoneOf(id string) string {
	for set, svc := range f.services {
		if strings.HasPrefix(id, setID(f.namespace, set+"-")) {
			return svc.zone.id
		}
	}
	return ""
}

func (f *evictionFixture) other(e *env) string {
	for _, c := range e.spec.pools[evictionPool] {
		if c != f.cluster {
			return c
		}
	}
	return ""
}

// evictionResult is one drain, measured.
type evictionResult struct {
	prods, zones int
	linger       time.Duration
	// toSubmit: from the ClusterMaintenance's creation to the ChangeResourceRecordSets
	// carrying the last of the drained cluster's weights 0.
	toSubmit breakdown
	// admitted: when the manager's admission was seen (a watch), after creation.
	admitted time.Duration
	// firstHandoff and lastHandoff: when the first and the last ProdSet handed the
	// publisher a drained Prod's weight 0 (Publish), after creation; handoffs: how many
	// Publish calls carried them.
	firstHandoff, lastHandoff time.Duration
	handoffs                  int
	// publishes: every Publish call that carried a drained Prod's weight 0, the first
	// or again (a set publishing what was handed over for it).
	publishes int
	// again describes the first Publish calls that carried a drained weight 0 again.
	again []string
	// reconciles and reconcileTime: the ProdSet controller's reconciles from creation to
	// Drained, and their time in all.
	reconciles    int
	reconcileTime time.Duration
	// requests: the control plane's API requests from creation to Drained (the
	// benchmark's own polling of the ClusterMaintenance included).
	requests string
	// firstCall: the first Route53 call after creation.
	firstCall time.Duration
	// toDrained: until the ClusterMaintenance said Drained (in sync plus one TTL).
	toDrained time.Duration
	// changesPerZone: ChangeResourceRecordSets calls until submitted, by zone.
	changesPerZone map[string]int
	// wirePerZone: the changes moto accepted through the proxy from creation to
	// Drained, by zone: what went over the wire, whatever drover counted.
	wirePerZone map[string]int
	// callsToSubmit and callsToDrained: Route53 calls by operation.
	callsToSubmit, callsToDrained map[string]int
	// zoneCallsToSubmit: by zone, the calls naming it until its last weight 0 was
	// submitted (the read of its records and the change, at the least).
	zoneCallsToSubmit map[string]int
	// records: changes (records) in those ChangeResourceRecordSets calls.
	records int
	// batches describes each of those calls: zone, when, how many records.
	batches []string
}

var drainSeq atomic.Int64

// drain creates a ClusterMaintenance for the fixture's cluster, waits until it is
// Drained, measures the Route53 side and checks it: every Prod of the drained cluster at
// 0 in Route53, every other at 100, no other Prod taken out on the way. It leaves the
// maintenance in place; restore deletes it.
func (f *evictionFixture) drain(tb testing.TB, e *env, timeout time.Duration) (*droverv1.ClusterMaintenance, evictionResult) {
	tb.Helper()
	ctx := context.Background()
	cm := builder.Maintenance(f.namespace, fmt.Sprintf("drain-%d", drainSeq.Add(1)), f.cluster, false)
	cm.Spec.Reason = "benchmark"
	admitted := watchAdmission(tb, e, cm.Name)
	reconciles0, reconcileTime0 := reconciles(prodset.ControllerName)
	requests0, err := e.apiRequests(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	t0 := time.Now()
	if err := e.cp.Create(ctx, cm); err != nil {
		tb.Fatalf("creating ClusterMaintenance: %v", err)
	}
	var drainedAt time.Time
	waitFor(tb, timeout, "the cluster to be drained", func() (bool, string) {
		got := &droverv1.ClusterMaintenance{}
		if err := e.cp.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
			return false, err.Error()
		}
		if got.Status.Phase == droverv1.MaintenanceRefused {
			tb.Fatalf("the drain was refused: %s", conditionMessage(got.Status.Conditions, droverv1.MaintenanceAdmittedCondition))
		}
		if got.Status.Phase != droverv1.MaintenanceDrained {
			return false, fmt.Sprintf("phase %s: %s", got.Status.Phase, conditionMessage(got.Status.Conditions, droverv1.MaintenanceDrainedCondition))
		}
		drainedAt = time.Now()
		return true, ""
	})
	reconciles1, reconcileTime1 := reconciles(prodset.ControllerName)
	requests1, err := e.apiRequests(ctx)
	if err != nil {
		tb.Fatal(err)
	}

	calls := e.rec.since(t0)
	res := evictionResult{prods: len(f.evicted), zones: len(f.zones), linger: e.linger, toDrained: drainedAt.Sub(t0),
		changesPerZone: map[string]int{}, wirePerZone: map[string]int{}, admitted: admitted().Sub(t0),
		reconciles: reconciles1 - reconciles0, reconcileTime: reconcileTime1 - reconcileTime0,
		requests: topRequests(requests0, requests1, 8)}
	handed := map[string]bool{}
	for _, h := range e.pub.since(t0) {
		carries, drained := false, false
		for id, w := range h.weights {
			if f.evicted[id] && w == 0 {
				drained = true
				if !handed[id] {
					handed[id], carries = true, true
				}
			}
		}
		if drained {
			res.publishes++
			if !carries && len(res.again) < 3 {
				res.again = append(res.again, fmt.Sprintf("%s by %s at +%s: %d weights, %d with paths, ticket %s", h.service, h.by, secs(h.at.Sub(t0)), len(h.weights), h.paths, h.ticket))
			}
		}
		if carries {
			if res.handoffs == 0 {
				res.firstHandoff = h.at.Sub(t0)
			}
			res.handoffs++
			res.lastHandoff = h.at.Sub(t0)
		}
	}
	if len(calls) > 0 {
		res.firstCall = calls[0].start.Sub(t0)
	}
	for _, c := range e.wire.Route53Changes() {
		if !c.Submitted.Before(t0) && !c.Submitted.After(drainedAt) {
			res.wirePerZone[f.zoneName(c.Zone)]++
		}
	}
	// When was each weight 0 submitted, and did anything else leave traffic?
	submitted := map[string]time.Time{}
	for _, c := range calls {
		if c.op != opChange || c.err != nil {
			continue
		}
		for id, w := range serviceWeights(c.changes) {
			switch {
			case w != 0:
			case f.evicted[id]:
				if _, seen := submitted[id]; !seen {
					submitted[id] = c.start
				}
			case f.kept[id]:
				tb.Fatalf("the drain of %s took %s out of traffic (weight 0 at %s)", f.cluster, id, c.start.Sub(t0))
			}
		}
	}
	if len(submitted) != len(f.evicted) {
		var missing []string
		for id := range f.evicted {
			if _, ok := submitted[id]; !ok {
				missing = append(missing, id)
			}
		}
		slices.Sort(missing)
		tb.Fatalf("%d of %d Prods of %s never had weight 0 submitted to Route53: %s", len(missing), len(f.evicted), f.cluster, strings.Join(missing[:min(5, len(missing))], ", "))
	}
	var tSubmit time.Time
	zoneSubmit := map[string]time.Time{}
	for id, t := range submitted {
		if t.After(tSubmit) {
			tSubmit = t
		}
		z := f.zoneOf(id)
		if t.After(zoneSubmit[z]) {
			zoneSubmit[z] = t
		}
	}
	res.zoneCallsToSubmit = map[string]int{}
	for _, c := range calls {
		if t, ok := zoneSubmit[c.zone]; ok && !c.start.After(t) {
			res.zoneCallsToSubmit[f.zoneName(c.zone)]++
		}
	}
	var toSubmit []call
	for _, c := range calls {
		if !c.start.After(tSubmit) {
			toSubmit = append(toSubmit, c)
		}
		if c.op == opChange && !c.start.After(tSubmit) {
			z := f.zoneName(c.zone)
			res.changesPerZone[z]++
			res.records += len(c.changes)
			res.batches = append(res.batches, fmt.Sprintf("%s at +%s: %d records", z, secs(c.start.Sub(t0)), len(c.changes)))
		}
	}
	res.callsToSubmit = countOps(toSubmit)
	var toDrained []call
	for _, c := range calls {
		if c.start.Before(drainedAt) {
			toDrained = append(toDrained, c)
		}
	}
	res.callsToDrained = countOps(toDrained)
	all := e.rec.since(time.Time{})
	res.toSubmit = criticalPath(t0, t0.Add(res.lastHandoff), tSubmit, nil, callSpans(all), e.rec.lingerSpans())

	if ok, why := f.checkRoute53(e, func(id string) int64 {
		if f.evicted[id] {
			return 0
		}
		return 100
	}); !ok {
		tb.Fatalf("after the drain, Route53 does not hold the drained cluster's Prods at 0 and the others at 100: %s", why)
	}
	return cm, res
}

// restore deletes the maintenance and waits until every Prod is back at 100 in Route53
// and the manager is quiet.
func (f *evictionFixture) restore(tb testing.TB, e *env, cm *droverv1.ClusterMaintenance, timeout time.Duration) {
	tb.Helper()
	ctx := context.Background()
	if err := e.cp.Delete(ctx, cm); err != nil {
		tb.Fatalf("deleting ClusterMaintenance: %v", err)
	}
	waitFor(tb, timeout, "the maintenance to be released", func() (bool, string) {
		err := e.cp.Get(ctx, client.ObjectKeyFromObject(cm), &droverv1.ClusterMaintenance{})
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		return false, fmt.Sprintf("still there (%v)", err)
	})
	waitFor(tb, timeout, "every Prod back at 100 in Route53", func() (bool, string) {
		return f.checkRoute53(e, func(string) int64 { return 100 })
	})
	e.quiet(tb, timeout)
}

// watchAdmission watches the ClusterMaintenance name and returns a function that tells
// when its admission was first seen (zero if not yet).
func watchAdmission(tb testing.TB, e *env, name string) func() time.Time {
	tb.Helper()
	wc, err := client.NewWithWatch(e.bed.ControlPlane.Config, client.Options{Scheme: e.bed.Scheme})
	if err != nil {
		tb.Fatal(err)
	}
	w, err := wc.Watch(context.Background(), &droverv1.ClusterMaintenanceList{}, client.InNamespace(e.bed.Namespace))
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	var at time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			if ev.Type != watch.Added && ev.Type != watch.Modified {
				continue
			}
			cm, ok := ev.Object.(*droverv1.ClusterMaintenance)
			if !ok || cm.Name != name || cm.Status.AdmittedTime == nil {
				continue
			}
			mu.Lock()
			if at.IsZero() {
				at = time.Now()
			}
			mu.Unlock()
		}
	}()
	tb.Cleanup(func() { w.Stop(); <-done })
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return at
	}
}

func conditionMessage(conds []metav1.Condition, typ string) string {
	for _, c := range conds {
		if c.Type == typ {
			return c.Reason + ": " + c.Message
		}
	}
	return "(no " + typ + " condition)"
}

// evictionEnv is the test bed of BenchmarkEviction: the two clusters of the drain.
var evictionEnv = envSpec{name: "eviction", pools: map[string][]string{evictionPool: {"w-1", "w-2"}}}

// BenchmarkEviction drains a cluster hosting N Prods (one of each of N ProdSets, their
// services in two hosted zones), with the manager's Route53 client unpaced and paced as
// in production, for each N of DROVER_BENCH_EVICTION_PRODS (default 100,500), in
// increasing order. Each iteration drains and (untimed) restores; the timed region is
// from the ClusterMaintenance's creation to Drained.
func BenchmarkEviction(b *testing.B) {
	for _, n := range benchSizes(b, "DROVER_BENCH_EVICTION_PRODS", []int{100, 500}) {
		for _, p := range []pacing{unpaced, paced} {
			benchmarkEviction(b, n, p)
		}
	}
}

func benchmarkEviction(b *testing.B, n int, p pacing) {
	{
		b.Run(fmt.Sprintf("prods=%d/%s", n, p.name), func(b *testing.B) {
			e := useEnv(b, evictionEnv)
			f := newEvictionFixture(b, e, n, 30*time.Minute)
			e.pace(b, p)
			var results []evictionResult
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				e.quiet(b, 5*time.Minute)
				b.StartTimer()
				cm, res := f.drain(b, e, 10*time.Minute)
				b.StopTimer()
				results = append(results, res)
				f.restore(b, e, cm, 10*time.Minute)
			}
			reportEviction(b, p, results)
		})
	}
}

// reportEviction reports the mean of the results as metrics and logs each as a table.
func reportEviction(b *testing.B, p pacing, results []evictionResult) {
	var toSubmit, own, aws, waits, changes, calls float64
	for i, r := range results {
		toSubmit += r.toSubmit.total.Seconds()
		own += r.toSubmit.own.Seconds()
		aws += r.toSubmit.aws.Seconds()
		waits += r.toSubmit.waits.Seconds()
		for _, n := range r.changesPerZone {
			changes += float64(n)
		}
		for _, n := range r.callsToSubmit {
			calls += float64(n)
		}
		b.Logf("eviction %d/%d (%s), load %s\n%s", i+1, len(results), p.name, loadAverage(), r.table())
	}
	n := float64(len(results))
	zones := float64(results[0].zones)
	b.ReportMetric(toSubmit/n, "s-to-submit")
	b.ReportMetric(own/n, "s-own")
	b.ReportMetric(aws/n, "s-aws")
	b.ReportMetric(waits/n, "s-waits")
	b.ReportMetric(changes/n/zones, "changes/zone")
	b.ReportMetric(calls/n, "calls-to-submit")
}

func (r evictionResult) table() string {
	var sb strings.Builder
	changes, calls := 0, 0
	for _, n := range r.changesPerZone {
		changes += n
	}
	for _, n := range r.callsToSubmit {
		calls += n
	}
	minCalls := 2 * r.zones // per zone: one read of what Route53 holds, one change
	fmt.Fprintf(&sb, "| drain of a cluster hosting %d Prods (%d zones) | measured | minimum | ratio |\n", r.prods, r.zones)
	sb.WriteString("| --- | --- | --- | --- |\n")
	fmt.Fprintf(&sb, "| ChangeResourceRecordSets until submitted | %d (%s) | %d (1 per zone) | %.1f |\n", changes, perZone(r.changesPerZone), r.zones, float64(changes)/float64(r.zones))
	fmt.Fprintf(&sb, "| records in them | %d | %d | %.2f |\n", r.records, r.prods, float64(r.records)/float64(r.prods))
	fmt.Fprintf(&sb, "| the calls | %s | | |\n", strings.Join(r.batches, "; "))
	fmt.Fprintf(&sb, "| Route53 calls until submitted | %d (%s) | %d (1 read + 1 change per zone) | %.1f |\n", calls, formatOps(r.callsToSubmit), minCalls, float64(calls)/float64(minCalls))
	fmt.Fprintf(&sb, "| … naming each zone, until its change | %s | 2 per zone | |\n", perZone(r.zoneCallsToSubmit))
	fmt.Fprintf(&sb, "| Route53 calls until Drained | %s | | |\n", formatOps(r.callsToDrained))
	fmt.Fprintf(&sb, "| request → change submitted | %s | %s (one linger) | %.1f |\n", secs(r.toSubmit.total), secs(r.linger), r.toSubmit.total.Seconds()/r.linger.Seconds())
	fmt.Fprintf(&sb, "| … in AWS calls | %s | | |\n", secs(r.toSubmit.aws))
	fmt.Fprintf(&sb, "| … in deliberate waits (linger) | %s | %s | |\n", secs(r.toSubmit.waits), secs(r.linger))
	target := "< 0.5 s up to 100 Prods, < 1.5 s at 500"
	fmt.Fprintf(&sb, "| … drover's own time | %s | 0 (target %s) | |\n", secs(r.toSubmit.own), target)
	fmt.Fprintf(&sb, "| request → admission seen (maintenance controller) | %s | | |\n", secs(r.admitted))
	fmt.Fprintf(&sb, "| request → first ProdSet hands its weight 0 to the publisher | %s | | |\n", secs(r.firstHandoff))
	fmt.Fprintf(&sb, "| request → last ProdSet hands its weight 0 to the publisher (%d hand-offs) | %s | | |\n", r.handoffs, secs(r.lastHandoff))
	fmt.Fprintf(&sb, "| Publish calls carrying a drained weight 0 | %d | %d (one per set) | |\n", r.publishes, r.prods)
	if len(r.again) > 0 {
		fmt.Fprintf(&sb, "| … again, the first | %s | | |\n", strings.Join(r.again, "; "))
	}
	fmt.Fprintf(&sb, "| last hand-off → change submitted (publisher) | %s | %s (linger) | |\n", secs(r.toSubmit.total-r.lastHandoff), secs(r.linger))
	fmt.Fprintf(&sb, "| request → first Route53 call | %s | | |\n", secs(r.firstCall))
	fmt.Fprintf(&sb, "| ProdSet reconciles, request → Drained | %d, %s in all | | |\n", r.reconciles, secs(r.reconcileTime))
	fmt.Fprintf(&sb, "| control-plane API requests, request → Drained | %s | | |\n", r.requests)
	fmt.Fprintf(&sb, "| request → Drained (in sync + TTL 1 s) | %s | | |\n", secs(r.toDrained))
	return sb.String()
}

func perZone(n map[string]int) string {
	var parts []string
	for _, z := range slices.Sorted(maps.Keys(n)) {
		parts = append(parts, fmt.Sprintf("%s: %d", z, n[z]))
	}
	return strings.Join(parts, ", ")
}

// benchSizes are the sizes in the environment variable name (comma-separated, in
// increasing order), or def.
func benchSizes(tb testing.TB, name string, def []int) []int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	var out []int
	for _, f := range strings.Split(v, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 || (len(out) > 0 && n <= out[len(out)-1]) {
			tb.Fatalf("%s=%q: want positive sizes in increasing order", name, v)
		}
		out = append(out, n)
	}
	return out
}
