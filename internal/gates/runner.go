package gates

import (
	"context"
	"fmt"
	"sync"
	"time"

	prom "github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/judge"
	"github.com/drover-dev/drover/internal/rollout"
	"github.com/drover-dev/drover/internal/tenancy"
)

// Job is one evaluation of one gate of a rollout step: an httpCheck or a prometheus gate
// against the step's Prods.
type Job struct {
	// Owner is the ProdSet the rollout belongs to; Runner.Done is called with it.
	Owner types.NamespacedName
	// Key identifies the evaluation: the same key is one run, whatever the number of
	// Get calls; a new attempt (after a resume, a new step or revision) needs a new key.
	Key     string
	Gate    droverv1.Gate
	Targets []Target
	// Baseline are the Prods a baseline gate compares Targets with: the set's Prods
	// still on the previous revision.
	Baseline []Target
	// Policy is the tenancy of the owner's namespace: what its gates may reach.
	Policy tenancy.Policy
}

// Verdict is what a Job found so far.
type Verdict struct {
	// Done: Passed says the verdict; otherwise the run is still going.
	Done, Passed bool
	// Inconclusive (not Passed): the gate could not judge. Pause: the gate's
	// onInconclusive asks the rollout to pause on it.
	Inconclusive, Pause bool
	// Message explains the verdict, or the progress of a run still going.
	Message string
	// Time of the verdict.
	Time time.Time
	// Baseline is a baseline gate's judgement.
	Baseline *droverv1.BaselineJudgement
}

// Runner evaluates gates in the background so a reconcile never waits on one: Get starts
// a run the first time it sees a key and returns its verdict once it has one. Verdicts
// live in memory; after a restart a step's pending gates run again from the start, which
// is safe as evaluating a gate changes nothing.
type Runner struct {
	HTTP       HTTPChecker
	Prometheus PrometheusQuerier
	// Done is called with a Job's owner when its run ends, so the owner is reconciled.
	Done func(owner types.NamespacedName)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxErrors is how many consecutive failed Prometheus queries fail the gate.
	// Defaults to 3.
	MaxErrors int

	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	runs   map[string]*run
	// failures counts, per owner, the runs that ended failed (see Failures).
	failures map[types.NamespacedName]uint64
}

type run struct {
	owner   types.NamespacedName
	cancel  context.CancelFunc
	verdict Verdict
}

// Start makes the Runner a manager Runnable: runs in flight stop when ctx ends.
func (r *Runner) Start(ctx context.Context) error {
	r.init()
	<-ctx.Done()
	r.cancel()
	return nil
}

func (r *Runner) init() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.ctx == nil {
		r.ctx, r.cancel = context.WithCancel(context.Background())
		r.runs = map[string]*run{}
		r.failures = map[types.NamespacedName]uint64{}
	}
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Get returns the verdict of job, starting its run if this is the first time its key is
// asked for.
func (r *Runner) Get(job Job) Verdict {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	key := job.Owner.String() + "/" + job.Key
	if ru, ok := r.runs[key]; ok {
		return ru.verdict
	}
	ctx, cancel := context.WithCancel(r.ctx)
	ru := &run{owner: job.Owner, cancel: cancel, verdict: Verdict{Message: "started", Time: r.now()}}
	r.runs[key] = ru
	go r.run(ctx, key, job)
	return ru.verdict
}

// Failures is how many of owner's runs have ended failed since the Runner started. An
// owner that reads it before acting and again while it acts knows a failure came in
// meanwhile, and can stop what it was doing to act on the failure first.
func (r *Runner) Failures(owner types.NamespacedName) uint64 {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failures[owner]
}

// Forget drops the runs of owner whose keys keep does not keep, stopping those in flight.
func (r *Runner) Forget(owner types.NamespacedName, keep func(key string) bool) {
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	prefix := owner.String() + "/"
	if keep == nil {
		delete(r.failures, owner) // the owner is gone
	}
	for key, ru := range r.runs {
		if ru.owner != owner {
			continue
		}
		if keep == nil || !keep(key[len(prefix):]) {
			ru.cancel()
			delete(r.runs, key)
		}
	}
}

func (r *Runner) progress(key, msg string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ru, ok := r.runs[key]; ok && !ru.verdict.Done {
		ru.verdict.Message = msg
	}
}

func (r *Runner) run(ctx context.Context, key string, job Job) {
	v := r.evaluate(ctx, key, job)
	if ctx.Err() != nil {
		return // forgotten or stopping: nobody wants the verdict
	}
	kind, result := rollout.GateType(job.Gate), "failed"
	switch {
	case v.Passed:
		result = "passed"
	case v.Inconclusive:
		result = "inconclusive"
	}
	gateResults.WithLabelValues(kind, result).Inc()
	r.mu.Lock()
	if ru, ok := r.runs[key]; ok {
		v.Done, v.Time = true, r.now()
		ru.verdict = v
		if !v.Passed {
			r.failures[job.Owner]++
		}
	}
	r.mu.Unlock()
	if r.Done != nil {
		r.Done(job.Owner)
	}
}

func (r *Runner) evaluate(ctx context.Context, key string, job Job) Verdict {
	switch g := job.Gate; {
	case g.HTTPCheck != nil:
		r.progress(key, fmt.Sprintf("requesting %s on %d Prods", g.HTTPCheck.URL, len(job.Targets)))
		h := r.HTTP
		h.Policy = job.Policy
		res, err := h.Check(ctx, *g.HTTPCheck, job.Targets)
		if err != nil {
			return Verdict{Message: err.Error()}
		}
		return Verdict{Passed: res.Passed, Message: res.Message}
	case g.Prometheus != nil:
		passed, msg := r.prometheus(ctx, key, *g.Prometheus, job.Targets, job.Policy)
		return Verdict{Passed: passed, Message: msg}
	case g.Baseline != nil:
		out := r.baseline(ctx, key, *g.Baseline, job.Targets, job.Baseline, job.Policy)
		v := Verdict{Passed: out.verdict == judge.Pass, Message: out.message, Baseline: out.detail}
		if out.verdict == judge.Inconclusive {
			v.Inconclusive = true
			v.Pause = g.Baseline.OnInconclusive == droverv1.InconclusivePause
		}
		return v
	}
	return Verdict{Message: "not a gate the runner evaluates"}
}

// prometheus evaluates the query for every target each interval until the window has
// passed: it passes when every evaluation held, fails at the first that did not, and
// fails after MaxErrors queries in a row could not be answered.
func (r *Runner) prometheus(ctx context.Context, key string, g droverv1.PrometheusGate, targets []Target, policy tenancy.Policy) (bool, string) {
	q := r.Prometheus
	q.Policy = policy
	window, interval := windowAndInterval(g.Window, g.Interval, time.Minute, 15*time.Second)
	maxErrors := r.maxErrors()
	if len(targets) == 0 {
		targets = []Target{{}}
	}
	start := r.now()
	errs, evals := 0, 0
	var last string
	for {
		var failed error
		for _, t := range targets {
			res, err := q.Evaluate(ctx, g, t, r.now())
			if err != nil {
				failed = err
				break
			}
			last = res.Message
			if !res.Holds {
				return false, res.Message
			}
		}
		switch {
		case failed != nil && ctx.Err() != nil:
			return false, ctx.Err().Error()
		case failed != nil:
			errs++
			if errs >= maxErrors {
				return false, fmt.Sprintf("%d queries in a row failed: %v", errs, failed)
			}
		default:
			errs = 0
			evals++
		}
		if r.now().Sub(start) >= window && evals > 0 {
			return true, fmt.Sprintf("held for %s (%d evaluations): %s", window, evals, last)
		}
		r.progress(key, fmt.Sprintf("%d evaluations held, window %s", evals, window))
		if err := sleepCtx(ctx, interval); err != nil {
			return false, err.Error()
		}
	}
}

// windowAndInterval are a gate's window and interval, or the defaults given.
func windowAndInterval(window, interval *metav1.Duration, defWindow, defInterval time.Duration) (time.Duration, time.Duration) {
	w, i := defWindow, defInterval
	if window != nil {
		w = window.Duration
	}
	if interval != nil && interval.Duration > 0 {
		i = interval.Duration
	}
	return w, i
}

// maxErrors is how many rounds of queries in a row may fail before a gate gives up.
func (r *Runner) maxErrors() int {
	if r.MaxErrors == 0 {
		return 3
	}
	return r.MaxErrors
}

var gateResults = prom.NewCounterVec(prom.CounterOpts{
	Name: "drover_rollout_gate_results_total",
	Help: "Verdicts of rollout gates evaluated by drover, by gate type and result.",
}, []string{"type", "result"})

func init() {
	metrics.Registry.MustRegister(gateResults)
}
