package traffic_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aws/aws-sdk-go-v2/aws"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/test/builder"
	"github.com/drover-dev/drover/internal/test/checkserver"
)

// rollbackPool is the pool of clusters the rollback's ProdSet is placed on.
const rollbackPool = "rollout"

// gateSpec is the rollout's HTTP gate: tries rounds, interval apart.
type gateSpec struct {
	tries    int32
	interval time.Duration
}

// wait is the gate's configured wait between its first and last round.
func (g gateSpec) wait() time.Duration { return time.Duration(g.tries-1) * g.interval }

// rollbackFixture is one ProdSet of N Prods on v2 following an InPlace RolloutPolicy:
// a first step moves 20% of the Prods (all at once; the set may have 20% out of
// traffic) and checks them with an HTTP gate, a second step the rest.
type rollbackFixture struct {
	namespace, set string
	zone           zone
	service        string
	prods          int
	gate           gateSpec
	checks         *checkserver.Server // fails every version starting with v3
	// stable is the revision of v2.
	stable string
}

// waveShare is the share of the set's Prods the failing step moves (and may have out of
// traffic at once), in percent.
const waveShare = 20

func newRollbackFixture(tb testing.TB, e *env, prods int, gate gateSpec, timeout time.Duration) *rollbackFixture {
	tb.Helper()
	key := fmt.Sprintf("rollback/%d", prods)
	if f, ok := e.fixtures[key].(*rollbackFixture); ok {
		return f
	}
	clusters := e.spec.pools[rollbackPool]
	if len(clusters) == 0 {
		tb.Fatalf("the rollback needs clusters in pool %s, env %s has none", rollbackPool, e.spec.name)
	}
	start := time.Now()
	ctx := context.Background()
	name := fmt.Sprintf("shop%d", prods)
	checks, err := checkserver.Start()
	if err != nil {
		tb.Fatal(err)
	}
	e.closers = append(e.closers, checks.Stop)
	checks.FailPrefix("v3")
	f := &rollbackFixture{namespace: e.bed.Namespace, set: name, prods: prods, gate: gate, checks: checks}
	f.zone = e.createZone(tb, name+".rollback.example.com")
	f.service = "www." + f.zone.name
	policy := builder.RolloutPolicy(f.namespace, name, droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "wave", Count: ptr.To(intstr.FromString(fmt.Sprintf("%d%%", waveShare))), MaxParallel: ptr.To(intstr.FromString("100%")),
				Gates: []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{
					URL:   f.checks.Template(),
					Tries: gate.tries, Interval: &metav1.Duration{Duration: gate.interval}, Timeout: &metav1.Duration{Duration: 2 * time.Second},
				}}}},
			{Name: "rest"},
		},
	})
	if err := e.cp.Create(ctx, policy); err != nil {
		tb.Fatalf("creating RolloutPolicy: %v", err)
	}
	set := builder.ProdSet(f.namespace, name, builder.Replicas(int32(prods)), builder.Version("v2"),
		builder.WithManifests(builder.ConfigMap("app")), builder.LoadBalancer("lb-"+name),
		builder.OnClusters(poolLabel, rollbackPool), builder.Spread("", int32((prods+len(clusters)-1)/len(clusters))),
		builder.MaxUnavailable(fmt.Sprintf("%d%%", waveShare)), builder.Policy(name),
		builder.Records(f.zone.id, f.service, 1), builder.HealthCheck(80, "/healthz"))
	if err := e.cp.Create(ctx, set); err != nil {
		tb.Fatalf("creating ProdSet: %v", err)
	}
	f.stable = prodset.Revision(&set.Spec.Template)
	f.waitServing(tb, e, timeout)
	e.fixtures[key] = f
	tb.Logf("rollback fixture: a ProdSet of %d Prods on v2, serving in %s", prods, time.Since(start).Round(time.Millisecond))
	return f
}

// waitServing waits until every Prod of the set runs v2 and serves at 100 in Route53.
func (f *rollbackFixture) waitServing(tb testing.TB, e *env, timeout time.Duration) {
	tb.Helper()
	ctx := context.Background()
	waitFor(tb, timeout, fmt.Sprintf("the %d Prods of %s to serve v2", f.prods, f.set), func() (bool, string) {
		s := &droverv1.ProdSet{}
		if err := e.cp.Get(ctx, client.ObjectKey{Namespace: f.namespace, Name: f.set}, s); err != nil {
			return false, err.Error()
		}
		if s.Status.ServingReplicas != int32(f.prods) {
			return false, fmt.Sprintf("%d of %d Prods serve", s.Status.ServingReplicas, f.prods)
		}
		prods := &droverv1.ProdList{}
		if err := e.cp.List(ctx, prods, client.InNamespace(f.namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: f.set}); err != nil {
			return false, err.Error()
		}
		if len(prods.Items) != f.prods {
			return false, fmt.Sprintf("%d Prods, want %d", len(prods.Items), f.prods)
		}
		for _, p := range prods.Items {
			if rev := p.Labels[droverv1.RevisionLabel]; rev != f.stable || p.Spec.Version != "v2" {
				return false, fmt.Sprintf("Prod %s is on %s (%s)", p.Name, p.Spec.Version, rev)
			}
		}
		got, err := e.serviceWeightsIn(ctx, f.zone.id, f.service)
		if err != nil {
			return false, err.Error()
		}
		for _, p := range prods.Items {
			if w, ok := got[setID(f.namespace, p.Name)]; !ok || w != 100 {
				return false, fmt.Sprintf("Route53 has %s at %d (present: %t), want 100", p.Name, w, ok)
			}
		}
		if len(got) != f.prods {
			return false, fmt.Sprintf("Route53 has %d service records, want %d", len(got), f.prods)
		}
		return true, ""
	})
}

// rollbackResult is one failed release, measured.
type rollbackResult struct {
	prods, moved int
	linger       time.Duration
	gate         gateSpec
	// toSubmit: from the first failing answer of the gate to the rollback's
	// ChangeResourceRecordSets; fromVerdict: from the gate's last failing answer (its
	// verdict) to the same.
	toSubmit, fromVerdict breakdown
	// changes: ChangeResourceRecordSets calls from the first failing answer to the
	// rollback's, that one included; afterVerdict: those of them sent after the verdict
	// and before the rollback's (a change of the set in flight, which the rollback waits
	// for).
	changes, afterVerdict int
	// records: changes (records) in the rollback's call.
	records int
	// calls and callsAfterVerdict: Route53 calls from the first failing answer, and from
	// the verdict, until submitted, by operation.
	calls, callsAfterVerdict map[string]int
	// handoff: from the verdict to the rollback's weights handed to the publisher;
	// recorded: from the verdict to status.rollout.failedTime (the time of the gate's
	// result, as drover records it).
	handoff, recorded time.Duration
	// latency is drover's own figure: status.rollout.rollbackLatency, from failedTime to
	// rollbackSubmittedTime, which is the start of the reconcile that hands the change to
	// the publisher (not the hand-off itself).
	latency time.Duration
	// toRolledBack: from the ship to RolledBack, every Prod back on v2 at 100 in Route53.
	toRolledBack time.Duration
	// interrupted: reconciles of the set whose Prod writes the failure interrupted
	// (drover_prodset_gate_interruptions_total); each decided again at once.
	interrupted int
}

var shipSeq atomic.Int64

// rollback ships a v3 whose gate fails, waits until the rollout is RolledBack and every
// Prod serves v2 again at 100 in Route53, and measures and checks the rollback's
// traffic change: one ChangeResourceRecordSets taking every v3 Prod (and no v2 Prod) to
// 0.
func (f *rollbackFixture) rollback(tb testing.TB, e *env, timeout time.Duration) rollbackResult {
	tb.Helper()
	ctx := context.Background()
	version := fmt.Sprintf("v3-%d", shipSeq.Add(1))
	key := client.ObjectKey{Namespace: f.namespace, Name: f.set}
	var rev string
	interruptions := counter("drover_prodset_gate_interruptions_total")
	tShip := time.Now()
	waitFor(tb, 30*time.Second, "shipping "+version, func() (bool, string) {
		s := &droverv1.ProdSet{}
		if err := e.cp.Get(ctx, key, s); err != nil {
			return false, err.Error()
		}
		s.Spec.Template.Spec.Version = version
		rev = prodset.Revision(&s.Spec.Template)
		if err := e.cp.Update(ctx, s); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
	var st *droverv1.RolloutStatus
	waitFor(tb, timeout, "the rollout of "+version+" to roll back", func() (bool, string) {
		s := &droverv1.ProdSet{}
		if err := e.cp.Get(ctx, key, s); err != nil {
			return false, err.Error()
		}
		r := s.Status.Rollout
		switch {
		case r == nil || r.Revision != rev:
			return false, "the rollout has not started"
		case r.Phase == droverv1.RolloutSucceeded:
			tb.Fatalf("the rollout of %s succeeded: its gate did not fail", version)
		case r.Phase != droverv1.RolloutRolledBack:
			return false, fmt.Sprintf("%s: %s", r.Phase, r.Message)
		}
		st = r
		return true, ""
	})
	f.waitServing(tb, e, timeout)
	res := rollbackResult{prods: f.prods, linger: e.linger, gate: f.gate, toRolledBack: time.Since(tShip), calls: map[string]int{},
		interrupted: int(counter("drover_prodset_gate_interruptions_total") - interruptions)}
	if st.RollbackLatency != nil {
		res.latency = st.RollbackLatency.Duration
	}
	if st.PreviousRevision != f.stable {
		tb.Fatalf("the rollout of %s went back to revision %s, want v2's %s", version, st.PreviousRevision, f.stable)
	}

	fails := f.checks.Failures(tShip)
	if len(fails) == 0 {
		tb.Fatalf("the check server answered no failure for %s", version)
	}
	tFirst, tLast := fails[0].At, fails[len(fails)-1].At
	if st.FailedTime != nil {
		res.recorded = st.FailedTime.Sub(tLast)
	}
	moved := map[string]bool{}
	for _, a := range fails {
		moved[setID(f.namespace, a.Prod)] = true
	}
	res.moved = len(moved)
	if want := (f.prods*waveShare + 99) / 100; res.moved != want {
		tb.Fatalf("the gate failed %d Prods, want the %d%% of %d the failing step moves (%d)", res.moved, waveShare, f.prods, want)
	}

	all := e.rec.since(time.Time{})
	var rb *call
	for i, c := range all {
		if c.op != opChange || c.err != nil || c.start.Before(tFirst) {
			continue
		}
		res.changes++
		weights := serviceWeights(c.changes)
		if !c.start.Before(tLast) {
			res.afterVerdict++
		}
		hit := false
		for id := range moved {
			if w, ok := weights[id]; ok && w == 0 {
				hit = true
			}
		}
		if hit {
			rb = &all[i]
			break
		}
	}
	if rb == nil {
		tb.Fatalf("no ChangeResourceRecordSets after the gate failed took a v3 Prod out of traffic")
	}
	if rb.start.Before(tLast) {
		tb.Fatalf("a change took v3 Prods out of traffic %s before the gate's verdict", tLast.Sub(rb.start))
	}
	res.afterVerdict-- // the rollback's own
	weights := serviceWeights(rb.changes)
	var notOut, wrongOut []string
	for id := range moved {
		if w, ok := weights[id]; !ok || w != 0 {
			notOut = append(notOut, id)
		}
	}
	for id, w := range weights {
		if w == 0 && !moved[id] {
			wrongOut = append(wrongOut, id)
		}
	}
	slices.Sort(notOut)
	slices.Sort(wrongOut)
	if len(notOut) > 0 {
		tb.Fatalf("the rollback's traffic change (%d records) leaves %d of the %d v3 Prods in traffic: not one batch: %s", len(rb.changes), len(notOut), len(moved), strings.Join(notOut, ", "))
	}
	if len(wrongOut) > 0 {
		tb.Fatalf("the rollback's traffic change takes v2 Prods out of traffic: %s", strings.Join(wrongOut, ", "))
	}
	// The same on the wire, as the proxy in front of moto saw it: the first change
	// after the first failing answer that takes a v3 Prod out takes them all out.
	onWire := false
	for _, c := range e.wire.Route53Changes() {
		if c.Submitted.Before(tFirst) {
			continue
		}
		out := 0
		for _, rc := range c.Changes {
			if moved[rc.SetIdentifier] && rc.Action != "DELETE" && aws.ToInt64(rc.Weight) == 0 && !strings.Contains(rc.Name, ".drover.") {
				out++
			}
		}
		if out > 0 {
			if out != len(moved) {
				tb.Fatalf("on the wire, the first change taking v3 Prods out of traffic takes %d of the %d: not one batch", out, len(moved))
			}
			onWire = true
			break
		}
	}
	if !onWire {
		tb.Fatalf("the proxy saw no change taking the v3 Prods out of traffic")
	}
	res.records = len(rb.changes)
	for _, h := range e.pub.since(tLast) {
		out := 0
		for id := range moved {
			if w, ok := h.weights[id]; ok && w == 0 {
				out++
			}
		}
		if out > 0 {
			res.handoff = h.at.Sub(tLast)
			break
		}
	}
	var window []call
	for _, c := range all {
		if !c.start.Before(tFirst) && !c.start.After(rb.start) {
			window = append(window, c)
		}
	}
	res.calls = countOps(window)
	var afterVerdict []call
	for _, c := range window {
		if !c.start.Before(tLast) {
			afterVerdict = append(afterVerdict, c)
		}
	}
	res.callsAfterVerdict = countOps(afterVerdict)
	spans, lingers := callSpans(all), e.rec.lingerSpans()
	handedAt := tLast.Add(res.handoff)
	res.toSubmit = criticalPath(tFirst, handedAt, rb.start, []span{{tFirst, tLast}}, spans, lingers)
	res.fromVerdict = criticalPath(tLast, handedAt, rb.start, nil, spans, lingers)
	return res
}

// rollbackClusters is how many workload clusters the rollback's test bed has: ten API
// servers is what this 2-core machine runs beside the manager (fifty, for 500 Prods at
// the API's maxPerCluster of 10, took its load past 150). The bed's ProdSet CRD allows
// up to rollbackMaxPerCluster Prods per cluster instead (envSpec.maxPerCluster), so that
// the largest set the API allows (1,000 Prods) fits: nothing on the rollback's path
// depends on how many Prods share a cluster.
const (
	rollbackClusters      = 10
	rollbackMaxPerCluster = 100
)

// rollbackEnv is the test bed of BenchmarkRollback.
func rollbackEnv() envSpec {
	clusters := make([]string, rollbackClusters)
	for i := range clusters {
		clusters[i] = fmt.Sprintf("r-%d", i+1)
	}
	return envSpec{name: "rollback", pools: map[string][]string{rollbackPool: clusters}, maxPerCluster: rollbackMaxPerCluster,
		pageSize: 2000}
}

// benchGate is the benchmark's HTTP gate: three rounds a second apart, so that the
// change re-admitting the step's Prods is in sync when the verdict comes.
var benchGate = gateSpec{tries: 3, interval: time.Second}

// BenchmarkRollback ships v3 to a ProdSet of N Prods on v2 through an InPlace policy
// whose first step (20% of them) has a failing HTTP gate, with the manager's Route53
// client unpaced and paced as in production, for each N of DROVER_BENCH_ROLLBACK_PRODS
// (default 50,100,500), on ten workload clusters. The timed
// region is from the ship to RolledBack with every Prod serving v2 again.
func BenchmarkRollback(b *testing.B) {
	sizes := benchSizes(b, "DROVER_BENCH_ROLLBACK_PRODS", []int{50, 100, 500})
	for _, n := range sizes {
		for _, p := range []pacing{unpaced, paced} {
			b.Run(fmt.Sprintf("prods=%d/%s", n, p.name), func(b *testing.B) {
				e := useEnv(b, rollbackEnv())
				f := newRollbackFixture(b, e, n, benchGate, 30*time.Minute)
				e.pace(b, p)
				var results []rollbackResult
				b.ResetTimer()
				for range b.N {
					b.StopTimer()
					e.quiet(b, 5*time.Minute)
					b.StartTimer()
					results = append(results, f.rollback(b, e, 10*time.Minute))
				}
				b.StopTimer()
				reportRollback(b, p, results)
			})
		}
	}
}

func reportRollback(b *testing.B, p pacing, results []rollbackResult) {
	var toSubmit, fromVerdict, own, aws, waits, changes, waited, calls, latency float64
	for i, r := range results {
		toSubmit += r.toSubmit.total.Seconds()
		fromVerdict += r.fromVerdict.total.Seconds()
		own += r.toSubmit.own.Seconds()
		aws += r.toSubmit.aws.Seconds()
		waits += r.toSubmit.waits.Seconds()
		changes += float64(r.changes)
		waited += float64(r.afterVerdict)
		latency += r.latency.Seconds()
		for _, n := range r.calls {
			calls += float64(n)
		}
		b.Logf("rollback %d/%d (%s), load %s\n%s", i+1, len(results), p.name, loadAverage(), r.table())
	}
	n := float64(len(results))
	b.ReportMetric(toSubmit/n, "s-to-submit")
	b.ReportMetric(fromVerdict/n, "s-verdict-to-submit")
	b.ReportMetric(own/n, "s-own")
	b.ReportMetric(aws/n, "s-aws")
	b.ReportMetric(waits/n, "s-waits")
	b.ReportMetric(changes/n, "changes")
	b.ReportMetric(waited/n, "changes-waited-for")
	b.ReportMetric(calls/n, "calls-to-submit")
	b.ReportMetric(latency/n, "s-drover-latency")
}

func (r rollbackResult) table() string {
	var sb strings.Builder
	calls, callsAfterVerdict := 0, 0
	for _, n := range r.calls {
		calls += n
	}
	for _, n := range r.callsAfterVerdict {
		callsAfterVerdict += n
	}
	floor := r.gate.wait() + r.linger
	fmt.Fprintf(&sb, "| rollback of %d v3 Prods of a set of %d | measured | minimum | ratio |\n", r.moved, r.prods)
	sb.WriteString("| --- | --- | --- | --- |\n")
	fmt.Fprintf(&sb, "| ChangeResourceRecordSets carrying the rollback | 1 | 1 | 1.0 |\n")
	fmt.Fprintf(&sb, "| other ChangeResourceRecordSets between the verdict and the rollback's | %d | 0 | |\n", r.afterVerdict)
	fmt.Fprintf(&sb, "| ChangeResourceRecordSets from the first failing answer to submitted | %d | 1 | %.1f |\n", r.changes, float64(r.changes))
	fmt.Fprintf(&sb, "| records in the rollback's change | %d | %d | %.2f |\n", r.records, r.moved, float64(r.records)/float64(r.moved))
	fmt.Fprintf(&sb, "| Route53 calls from the verdict to submitted | %d (%s) | 2 (1 read + 1 change) | %.1f |\n", callsAfterVerdict, formatOps(r.callsAfterVerdict), float64(callsAfterVerdict)/2)
	fmt.Fprintf(&sb, "| Route53 calls from the first failing answer to submitted | %d (%s) | | |\n", calls, formatOps(r.calls))
	fmt.Fprintf(&sb, "| first failing answer → rollback change submitted | %s | %s (gate %d×%s + linger) | %.2f |\n", secs(r.toSubmit.total), secs(floor), r.gate.tries-1, r.gate.interval, r.toSubmit.total.Seconds()/floor.Seconds())
	fmt.Fprintf(&sb, "| … in AWS calls | %s | | |\n", secs(r.toSubmit.aws))
	fmt.Fprintf(&sb, "| … in deliberate waits (gate tries, linger) | %s | %s | |\n", secs(r.toSubmit.waits), secs(floor))
	fmt.Fprintf(&sb, "| … drover's own time | %s | 0 (target < 0.5 s) | |\n", secs(r.toSubmit.own))
	fmt.Fprintf(&sb, "| reconciles whose Prod writes the failure interrupted (each decided again at once) | %d | | |\n", r.interrupted)
	fmt.Fprintf(&sb, "| gate verdict (last failing answer) → submitted | %s | %s (linger) | %.2f |\n", secs(r.fromVerdict.total), secs(r.linger), r.fromVerdict.total.Seconds()/r.linger.Seconds())
	fmt.Fprintf(&sb, "| … verdict → status.rollout.failedTime | %s | | |\n", secs(r.recorded))
	fmt.Fprintf(&sb, "| … verdict → the rollback's weights handed to the publisher (ProdSet controller) | %s | | |\n", secs(r.handoff))
	fmt.Fprintf(&sb, "| … hand-off → submitted (publisher) | %s | %s (linger) | |\n", secs(r.fromVerdict.total-r.handoff), secs(r.linger))
	fmt.Fprintf(&sb, "| … own time | %s | | |\n", secs(r.fromVerdict.own))
	fmt.Fprintf(&sb, "| drover's status.rollout.rollbackLatency | %s | | |\n", secs(r.latency))
	fmt.Fprintf(&sb, "| ship → RolledBack, every Prod on v2 at 100 in Route53 | %s | | |\n", secs(r.toRolledBack))
	return sb.String()
}
