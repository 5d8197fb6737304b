package mirror

import (
	"cmp"
	"flag"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/bench/machine"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

var (
	rounds       = flag.Int("mirror.rounds", 5, "syncs per iteration of each BenchmarkMirrorSync phase but the first (create, churn, steady)")
	sizes        = flag.String("mirror.members", "1000,5000", "the pool sizes BenchmarkMirrorSync measures, comma-separated")
	octaviaWrite = flag.String("mirror.octavia-writes", string(viaDatabase), "how BenchmarkMirrorSync changes Octavia's members: "+
		"db (straight into the test Octavia's database, as its API and worker leave it) or api (batch updates, minutes each at 500 members)")
)

// pollGap is the pause before each steady-state sync, standing in for the poll interval
// (30 s by default): back to back, syncs' Octavia reads would exceed the client's burst
// of 20 and time the rate limiter instead of Octavia.
const pollGap = time.Second

// BenchmarkMirrorSync measures syncs of one Prod's mirror of an Octavia load balancer
// with -mirror.members members (1,000 and 5,000; one TCP listener, one pool with a TCP
// monitor) against the real Octavia and moto, through drover's own clients at their
// production rate limits and timeouts, in these phases:
//
//   - first: the first sync of a new client, which reads every member (in pages of 50:
//     on Octavia 11 a page costs its size times the pool's, and no request may take
//     longer than the client's 30 s) and creates the NLB;
//   - create: the NLB deleted, the sync creates it again (Octavia unchanged);
//   - churn 1% and churn 10%: that share of the members replaced in Octavia (half gone,
//     half new, in one change), then one sync; the NLB's targets must equal the members
//     exactly, through the fewest RegisterTargets and DeregisterTargets;
//   - churn 10% in one batch update: the same change as the pool's whole member list
//     in one PUT, which moves every listed member's updated_at, so that the sync reads
//     every member (once per iteration);
//   - steady: Octavia unchanged, a sync must write nothing.
//
// Each phase but the first has -mirror.rounds syncs per iteration. Before a create,
// churn or steady sync, the last change of Octavia is made octavia.ClockMargin old, as a
// poll interval of 30 s makes it; before a churn and at the start of the steady phase
// comes one sync more (not timed), the poll that makes sure nothing changed within that
// margin of the last read.
//
// Octavia's members change in its database (-mirror.octavia-writes=db, the default) or
// through batch updates (=api); see viaDatabase. Either way drover reads them through the
// real API.
//
// ns/op and s/sync are the mean time of one sync (Octavia's changes and the checks are
// not timed); the other metrics are per sync too, with the theoretical minimum of calls
// (minimum_test.go) beside them. Each phase logs a markdown table of its figures and the
// machine's load.
func BenchmarkMirrorSync(b *testing.B) {
	mode := writeMode(*octaviaWrite)
	for _, f := range strings.Split(*sizes, ",") {
		members, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || members < 20 {
			b.Fatalf("-mirror.members: %q is not a pool size of at least 20", f)
		}
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) { benchmarkMirrorSync(b, members, mode) })
	}
}

func benchmarkMirrorSync(b *testing.B, members int, mode writeMode) {
	h := newHarness(b, fmt.Sprintf("bench-mirror-%d", members), members, mode)
	// Half the churn gone, half new: at most 5% of the targets removed, well under the
	// guard's default maxTargetRemovalPercent (50).
	k1, k10 := max(1, members/100/2), members/10/2
	churn := func(k int, batch bool) func(testing.TB) {
		return func(tb testing.TB) {
			// The poll before the change (not timed): with a poll interval of 30 s one
			// comes between changes, and reads what the last one left within
			// octavia.ClockMargin of its read.
			h.settle()
			h.checkSteady(tb, h.sync(tb))
			h.churn(tb, k, mode, batch)
		}
	}
	steady := func(tb testing.TB) {
		if h.written.After(h.settledAt) {
			// The first sync once the last change is octavia.ClockMargin old makes sure
			// no member changed within the margin of the last read (the members updated
			// since: none); a steady state is from the next one on. Not timed.
			h.settle()
			h.checkSteady(tb, h.sync(tb))
			h.settledAt = time.Now()
		}
		time.Sleep(pollGap)
	}

	first := &phase{name: fmt.Sprintf("first (every member read, %d targets created)", members), minOctavia: minFirstReads(members), minReads: minCreateReads, minWrites: minCreateWrites(members)}
	// The members were written a moment ago: a first read within octavia.ClockMargin of
	// that would make the next read look at every member again (it cannot tell them from
	// ones changed right after it). A mirror rarely starts within seconds of its pool.
	h.settle()
	loadBefore := loadAverage()
	st := h.sync(b)
	h.checkCreate(b, st)
	first.add(st)
	b.Logf("load average (1, 5, 15 min; %d CPUs): %s before, %s after", runtime.NumCPU(), loadBefore, loadAverage())
	b.Logf("NLB mirror of an Octavia load balancer with %d members, %s:\n%s", members, first.name, table(first))

	phases := []struct {
		sub     string
		phase   *phase
		prepare func(testing.TB)
		check   func(testing.TB, syncStats)
	}{{
		"create",
		&phase{
			name: fmt.Sprintf("create (%d targets)", members), minOctavia: minSteadyReads, minReads: minCreateReads, minWrites: minCreateWrites(members),
			readsNote: " (+2 DescribeTags drover makes on purpose: a create of a name that exists returns that resource, so each created one is checked for drover's tags)",
		},
		func(tb testing.TB) { h.deleteNLB(tb); h.settle() }, h.checkCreate,
	}, {
		"churn=1%",
		&phase{name: fmt.Sprintf("churn 1%% (%d gone, %d new)", k1, k1), minOctavia: minChurnReads(k1), minReads: minAWSReads(1), minWrites: minChurnWrites(k1, k1)},
		churn(k1, false),
		func(tb testing.TB, st syncStats) { h.checkChurn(tb, st, k1) },
	}, {
		"churn=10%",
		&phase{name: fmt.Sprintf("churn 10%% (%d gone, %d new)", k10, k10), minOctavia: minChurnReads(k10), minReads: minAWSReads(1), minWrites: minChurnWrites(k10, k10)},
		churn(k10, false),
		func(tb testing.TB, st syncStats) { h.checkChurn(tb, st, k10) },
	}, {
		"churn=10%-batch",
		&phase{name: fmt.Sprintf("churn 10%% in one batch update (%d gone, %d new, every other member's updated_at moved)", k10, k10),
			minOctavia: minChurnReads(k10), minReads: minAWSReads(1), minWrites: minChurnWrites(k10, k10), once: true},
		churn(k10, true),
		func(tb testing.TB, st syncStats) { h.checkChurn(tb, st, k10) },
	}, {
		"steady",
		&phase{name: "steady state", minOctavia: minSteadyReads, minReads: minAWSReads(1), minWrites: 0, steady: true},
		steady,
		h.checkSteady,
	}}
	for _, ph := range phases {
		if ph.phase.once && members > 1000 {
			// The sync reads every member: the first phase's figure, about 20 min at 5,000.
			continue
		}
		b.Run(ph.sub, func(b *testing.B) {
			p := ph.phase
			p.syncs = nil
			n := *rounds
			if p.once {
				n = 1
			}
			loadBefore := loadAverage()
			for range b.N {
				for range n {
					b.StopTimer()
					ph.prepare(b)
					b.StartTimer()
					st := h.sync(b)
					b.StopTimer()
					ph.check(b, st)
					p.add(st)
					b.StartTimer()
				}
			}
			p.report(b)
			b.Logf("load average (1, 5, 15 min; %d CPUs): %s before, %s after; Octavia members written %s", runtime.NumCPU(), loadBefore, loadAverage(), mode)
			b.Logf("NLB mirror of an Octavia load balancer with %d members, %s, means over %d syncs:\n%s", members, p.name, len(p.syncs), table(p))
		})
	}
}

// phase collects the syncs of one phase of the benchmark, with its minimums.
type phase struct {
	name                            string
	minOctavia, minReads, minWrites int
	// readsNote explains the minimum of ELBv2 reads.
	readsNote string
	// steady: the phase reports steady-writes, the writes of all its syncs.
	steady bool
	// once: one sync per iteration, not -mirror.rounds (a batch update of 5,000 members
	// makes the next sync read every member: about 20 min on Octavia 11).
	once  bool
	syncs []syncStats
}

func (p *phase) add(s syncStats) { p.syncs = append(p.syncs, s) }

func (p *phase) total(f func(syncStats) float64) float64 {
	sum := 0.0
	for _, s := range p.syncs {
		sum += f(s)
	}
	return sum
}

func (p *phase) mean(f func(syncStats) float64) float64 {
	if len(p.syncs) == 0 {
		return 0
	}
	return p.total(f) / float64(len(p.syncs))
}

func (p *phase) awsReads() float64 {
	return p.mean(func(s syncStats) float64 { return float64(s.calls.count(cloudmetrics.ELBv2, false)) })
}

func (p *phase) awsWrites() float64 {
	return p.mean(func(s syncStats) float64 { return float64(s.calls.count(cloudmetrics.ELBv2, true)) })
}

func (p *phase) octaviaCalls() float64 {
	return p.mean(func(s syncStats) float64 {
		return float64(s.calls.count(cloudmetrics.Octavia, false) + s.calls.count(cloudmetrics.Octavia, true))
	})
}

func seconds(f func(syncStats) time.Duration) func(syncStats) float64 {
	return func(s syncStats) float64 { return f(s).Seconds() }
}

// report sets the benchmark's metrics: per sync, means over the phase's syncs.
func (p *phase) report(b *testing.B) {
	total := p.mean(seconds(func(s syncStats) time.Duration { return s.total }))
	b.ReportMetric(total*1e9, "ns/op")
	b.ReportMetric(total, "s/sync")
	b.ReportMetric(p.mean(seconds(func(s syncStats) time.Duration { return s.octavia })), "octavia-s/sync")
	b.ReportMetric(p.mean(seconds(syncStats.aws)), "aws-s/sync")
	b.ReportMetric(p.mean(seconds(func(s syncStats) time.Duration { return s.drover })), "drover-s/sync")
	b.ReportMetric(p.awsReads()+p.awsWrites(), "aws-calls/sync")
	b.ReportMetric(float64(p.minReads+p.minWrites), "aws-calls-min/sync")
	b.ReportMetric(p.awsWrites(), "aws-writes/sync")
	b.ReportMetric(float64(p.minWrites), "aws-writes-min/sync")
	b.ReportMetric(p.octaviaCalls(), "octavia-calls/sync")
	if p.steady {
		b.ReportMetric(p.total(func(s syncStats) float64 { return float64(s.calls.count(cloudmetrics.ELBv2, true)) }), "steady-writes")
	}
}

// table is the markdown table of the phases' figures, measured beside the minimum.
func table(phases ...*phase) string {
	var sb strings.Builder
	sb.WriteString("| sync | figure | measured (mean) | theoretical minimum | measured / minimum |\n| --- | --- | --- | --- | --- |\n")
	row := func(p *phase, figure, measured string, m float64, minimum int, note string) {
		ratio := "–"
		if minimum > 0 {
			ratio = fmt.Sprintf("%.2f", m/float64(minimum))
		} else if m == 0 {
			ratio = "at the minimum"
		}
		fmt.Fprintf(&sb, "| %s | %s | %s | %d%s | %s |\n", p.name, figure, measured, minimum, note, ratio)
	}
	for _, p := range phases {
		if len(p.syncs) == 0 {
			continue
		}
		last := p.syncs[len(p.syncs)-1]
		w, r, o := p.awsWrites(), p.awsReads(), p.octaviaCalls()
		row(p, "ELBv2 writes", fmt.Sprintf("%.1f (%s)", w, last.calls.ops(cloudmetrics.ELBv2, true)), w, p.minWrites, "")
		row(p, "ELBv2 reads", fmt.Sprintf("%.1f (%s)", r, last.calls.ops(cloudmetrics.ELBv2, false)), r, p.minReads, p.readsNote)
		row(p, "Octavia reads", fmt.Sprintf("%.1f (%s)", o, last.calls.ops(cloudmetrics.Octavia, false)), o, p.minOctavia, "")

		mean := func(f func(syncStats) time.Duration) time.Duration {
			return time.Duration(p.mean(func(s syncStats) float64 { return float64(f(s)) }))
		}
		total, oct, awsT, drv := mean(func(s syncStats) time.Duration { return s.total }), mean(func(s syncStats) time.Duration { return s.octavia }),
			mean(syncStats.aws), mean(func(s syncStats) time.Duration { return s.drover })
		// The floor: the same time per call, the fewest calls, no time of drover's own.
		floor := time.Duration(0)
		if o > 0 {
			floor += time.Duration(float64(oct) * float64(p.minOctavia) / o)
		}
		if r+w > 0 {
			floor += time.Duration(float64(awsT) * float64(p.minReads+p.minWrites) / (r + w))
		}
		fmt.Fprintf(&sb, "| %s | time per sync | %s (Octavia %s, AWS %s, drover %s = %.2f%%) | ≈%s (same time per call, fewest calls, no drover time) | %.2f |\n",
			p.name, round(total), round(oct), round(awsT), round(drv), 100*float64(drv)/float64(total), round(floor), float64(total)/float64(floor))

		byRequest := map[string]time.Duration{}
		for _, s := range p.syncs {
			for k, d := range s.octaviaRequests {
				byRequest[k] += d / time.Duration(len(p.syncs))
			}
		}
		requests := slices.SortedFunc(maps.Keys(byRequest), func(a, b string) int { return cmp.Compare(byRequest[b], byRequest[a]) })
		parts := make([]string, len(requests))
		for i, r := range requests {
			parts[i] = fmt.Sprintf("%s %s", r, round(byRequest[r]))
		}
		fmt.Fprintf(&sb, "| %s | Octavia time by request (to its response headers) | %s | | |\n", p.name, strings.Join(parts, ", "))
	}
	return sb.String()
}

func round(d time.Duration) string {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	}
	return d.Round(time.Microsecond).String()
}

// loadAverage is the machine's load (/proc/loadavg), for the figures' context.
func loadAverage() string {
	if l := machine.LoadAverage(); l != "" {
		return l
	}
	return "unknown"
}
