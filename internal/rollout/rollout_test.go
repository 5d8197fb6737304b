package rollout

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// world is a ProdSet as the controllers would make it behave: a Prod at weight 0 is
// drained one round later, a Prod on a new revision is available one round later.
type world struct {
	// sick Prods are never available.
	sick    map[string]bool
	prods   map[string]*Prod
	weights map[string]int32
	state   State
	now     time.Time
	in      Input
	rounds  []Output
}

func newWorld(policy droverv1.RolloutPolicySpec, names ...string) *world {
	w := &world{prods: map[string]*Prod{}, weights: map[string]int32{}, now: t0}
	for _, n := range names {
		w.prods[n] = &Prod{Name: n, Labels: map[string]string{"name": n}, Revision: "r1", Available: true, Serving: true, Traffic: 100}
		w.weights[n] = 100
	}
	w.in = Input{Policy: policy, Revision: "r2", Previous: "r1", Weight: 100}
	return w
}

// round calls Next with the world as it is and then lets the world follow the targets.
func (w *world) round(cmd Command, gates ...GateResult) Output {
	in := w.in
	in.Now, in.State, in.Command, in.Gates = w.now, w.state, cmd, gates
	for _, n := range slices.Sorted(maps.Keys(w.prods)) {
		in.Prods = append(in.Prods, *w.prods[n])
	}
	out := Next(in)
	w.state = out.State
	w.rounds = append(w.rounds, out)
	for n, t := range out.Targets {
		p := w.prods[n]
		if p == nil {
			panic("a target for " + n + ", which does not exist")
		}
		if w.weights[n] == 0 && t.Weight == 0 {
			p.Drained = true
		}
		if t.Weight > 0 {
			p.Drained = false
		}
		w.weights[n] = t.Weight
		if p.Revision != t.Revision {
			p.Revision, p.Available = t.Revision, false
		} else {
			p.Available = !w.sick[n]
		}
		p.Serving = p.Available && t.Weight > 0
		p.Traffic = t.Weight
	}
	// Retired Prods go; replacements are made, not available at first.
	for _, n := range out.Retire {
		if w.weights[n] != 0 {
			panic("retiring " + n + ", which is in traffic")
		}
		delete(w.prods, n)
		delete(w.weights, n)
	}
	for _, n := range out.Create {
		r := n + "-r"
		w.prods[r] = &Prod{Name: r, Labels: w.prods[n].Labels, Revision: w.state.Revision, Replaces: n, Drained: true}
		w.weights[r] = 0
	}
	w.now = w.now.Add(time.Second)
	return out
}

func (w *world) revisions() map[string]string {
	out := map[string]string{}
	for n, p := range w.prods {
		out[n] = p.Revision
	}
	return out
}

func (w *world) serving() int {
	n := 0
	for _, p := range w.prods {
		if p.Serving {
			n++
		}
	}
	return n
}

func (w *world) inflight() []string {
	var out []string
	for n := range w.prods {
		if ps, ok := w.state.Prods[n]; ok && ps.Phase != Done {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

func threeSteps() droverv1.RolloutPolicySpec {
	return droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		Steps: []droverv1.RolloutStep{
			{Name: "test", Selector: &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{"name": "p3"}}, Weight: ptr.To[int32](10),
				Gates: []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/healthz"}}}},
			{Name: "least-traffic", Order: droverv1.LeastTrafficFirstOrder, MaxParallel: ptr.To(intstr.FromInt32(1)),
				Selector: &droverv1.LabelSelector{MatchExpressions: []droverv1.LabelSelectorRequirement{{Key: "name", Operator: "In", Values: []droverv1.LabelValue{"p1", "p4"}}}},
				Gates:    []droverv1.Gate{{Pause: &droverv1.PauseGate{Duration: &metav1.Duration{Duration: 5 * time.Second}}}}},
			{Name: "rest", MaxParallel: ptr.To(intstr.FromString("50%"))},
		},
	}
}

func TestRolloutGoesStepByStepAndSucceeds(t *testing.T) {
	w := newWorld(threeSteps(), "p1", "p2", "p3", "p4", "p5")
	w.in.MinServing = 3
	var picked []string // in the order Prods left traffic
	seen := map[string]bool{}
	pass := GateResult{Status: GatePassed, Message: "5/5 ok"}
	for i := 0; i < 100 && w.state.Phase != Succeeded; i++ {
		out := w.round(NoCommand, pass)
		for n := range w.state.Prods {
			if !seen[n] {
				seen[n] = true
				picked = append(picked, n)
			}
		}
		if got := w.serving(); got < 3 {
			t.Fatalf("round %d: %d serving, below the minimum of 3", i, got)
		}
		// maxParallel: one at a time in the first two steps; 50% of 2 = 1 in the last.
		if f := w.inflight(); len(f) > 1 {
			t.Fatalf("round %d: %v in flight at once", i, f)
		}
		if out.State.Step == 0 && len(w.state.Prods) > 1 {
			t.Fatalf("step test picked more than the test Prod: %v", w.state.Prods)
		}
	}
	if w.state.Phase != Succeeded {
		t.Fatalf("not done after 100 rounds: %+v", w.state)
	}
	// The test Prod first, then p1 and p4 (least traffic; equal, so by name), then the rest.
	if want := []string{"p3", "p1", "p4", "p2", "p5"}; !slices.Equal(picked, want) {
		t.Errorf("order = %v, want %v", picked, want)
	}
	for n, r := range w.revisions() {
		if r != "r2" || w.weights[n] != 100 {
			t.Errorf("%s ends on %s at weight %d", n, r, w.weights[n])
		}
	}
	if len(w.state.Gates) != 2 || !w.state.Gates[0].Passed || !w.state.Gates[1].Passed {
		t.Errorf("gate records = %+v", w.state.Gates)
	}
}

func TestCanaryWeightAndTimedPause(t *testing.T) {
	w := newWorld(threeSteps(), "p1", "p2", "p3", "p4", "p5")
	// Until the HTTP check passes, the test Prod serves at the step's weight 10.
	for i := 0; i < 6; i++ {
		out := w.round(NoCommand)
		if i >= 4 && !out.RunGates {
			t.Fatalf("round %d: gates not asked for: %+v", i, out)
		}
	}
	if w.weights["p3"] != 10 || w.prods["p3"].Revision != "r2" || w.state.Step != 0 {
		t.Fatalf("canary: p3 at %d on %s, step %d", w.weights["p3"], w.prods["p3"].Revision, w.state.Step)
	}
	// Passing moves on; the canary gets the full weight.
	w.round(NoCommand, GateResult{Status: GatePassed})
	if w.state.Step != 1 || w.weights["p3"] != 100 {
		t.Fatalf("after the gate: step %d, p3 at %d", w.state.Step, w.weights["p3"])
	}
	// Step 2 waits 5s after its Prods are back.
	for w.state.Step == 1 && len(w.rounds) < 40 {
		out := w.round(NoCommand)
		if w.state.Step == 1 && !w.state.GatesStarted.IsZero() && out.RequeueAfter == 0 {
			t.Fatal("a timed pause asks to be woken")
		}
	}
	var started time.Time
	for _, r := range w.rounds {
		if r.State.Step == 1 && !r.State.GatesStarted.IsZero() {
			started = r.State.GatesStarted
			break
		}
	}
	if last := w.state.Gates[len(w.state.Gates)-1]; last.Step != 1 || last.Time.Sub(started) < 5*time.Second {
		t.Errorf("pause gate passed at %v, started %v", last.Time, started)
	}
}

func TestFailingGateRollsBackByTrafficInOneUpdate(t *testing.T) {
	w := newWorld(threeSteps(), "p1", "p2", "p3", "p4", "p5")
	pass := GateResult{Status: GatePassed}
	for w.state.Step < 1 {
		w.round(NoCommand, pass)
	}
	// Step 2: p1 goes, then its pause... make the policy's step 2 gate an HTTP check that fails.
	w.in.Policy.Steps[1].Gates = []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/"}}}
	fail := GateResult{Status: GateFailed, Message: "2/5 tries returned 503"}
	var failedRound Output
	for i := 0; i < 40 && w.state.Phase == Progressing; i++ {
		failedRound = w.round(NoCommand, fail)
	}
	if w.state.Phase != RollingBack {
		t.Fatalf("phase %s, want RollingBack", w.state.Phase)
	}
	if !strings.Contains(w.state.Reason, "2/5 tries returned 503") || w.state.FailedAt.IsZero() {
		t.Errorf("reason %q, failed at %v", w.state.Reason, w.state.FailedAt)
	}
	// The round that saw the failure takes every new-revision Prod out of traffic at once.
	for n, ps := range failedRound.State.Prods {
		if tg := failedRound.Targets[n]; tg.Weight != 0 {
			t.Errorf("%s (%s) keeps weight %d in the rollback round", n, ps.Phase, tg.Weight)
		}
	}
	for _, n := range []string{"p2", "p5"} {
		if tg := failedRound.Targets[n]; tg.Weight != 100 || tg.Revision != "r1" {
			t.Errorf("%s, never picked, should stay r1 at 100: %+v", n, tg)
		}
	}
	for i := 0; i < 20 && w.state.Phase == RollingBack; i++ {
		w.round(NoCommand, fail)
	}
	if w.state.Phase != RolledBack {
		t.Fatalf("phase %s, want RolledBack", w.state.Phase)
	}
	for n, r := range w.revisions() {
		if r != "r1" || w.weights[n] != 100 {
			t.Errorf("%s ends on %s at %d", n, r, w.weights[n])
		}
	}
}

func TestPauseFailurePolicyHolds(t *testing.T) {
	p := threeSteps()
	p.FailurePolicy = droverv1.PauseFailurePolicy
	w := newWorld(p, "p1", "p2", "p3")
	for i := 0; i < 10; i++ {
		w.round(NoCommand, GateResult{Status: GateFailed, Message: "bad"})
	}
	if w.state.Phase != Paused || !strings.Contains(w.state.Reason, "bad") {
		t.Fatalf("phase %s %q", w.state.Phase, w.state.Reason)
	}
	if w.state.FailedAt.IsZero() {
		t.Fatal("a rollout paused by its failure says when it failed (status.rollout.failedTime)")
	}
	before := maps.Clone(w.weights)
	w.round(NoCommand, GateResult{Status: GatePassed})
	if w.state.Phase != Paused || !maps.Equal(before, w.weights) {
		t.Fatal("a paused rollout changes nothing until resumed")
	}
	w.round(Resume, GateResult{Status: GatePassed})
	if w.state.Phase != Progressing || w.state.Step != 1 || !w.state.FailedAt.IsZero() {
		t.Fatalf("after resume: %s step %d, failed at %s", w.state.Phase, w.state.Step, w.state.FailedAt)
	}
	w.round(Pause, GateResult{Status: GatePassed})
	if w.state.Phase != Paused || !w.state.FailedAt.IsZero() {
		t.Fatalf("paused by a person: %s, failed at %s", w.state.Phase, w.state.FailedAt)
	}
}

// An inconclusive baseline gate whose onInconclusive is Pause pauses the rollout even
// under failurePolicy Rollback, and its judgement reaches the recorded outcome.
func TestInconclusiveBaselinePausesWhateverTheFailurePolicy(t *testing.T) {
	p := threeSteps()
	p.FailurePolicy = droverv1.RollbackFailurePolicy
	w := newWorld(p, "p1", "p2", "p3")
	judgement := &droverv1.BaselineJudgement{Canary: []string{"p1"}, Baseline: []string{"p2"},
		Metrics: []droverv1.MetricJudgement{{Name: "errors", Verdict: "Inconclusive"}}}
	for i := 0; i < 10 && (w.state.Phase == "" || w.state.Phase == Progressing); i++ {
		w.round(NoCommand, GateResult{Status: GateFailed, Inconclusive: true, Pause: true, Message: "too few samples", Baseline: judgement})
	}
	if w.state.Phase != Paused || !strings.Contains(w.state.Reason, "too few samples") {
		t.Fatalf("phase %s %q, want Paused", w.state.Phase, w.state.Reason)
	}
	last := w.state.Gates[len(w.state.Gates)-1]
	if last.Passed || !last.Inconclusive || last.Baseline != judgement {
		t.Fatalf("recorded %+v, want the inconclusive judgement", last)
	}

	// Without Pause, an inconclusive failure follows failurePolicy: here a rollback.
	w = newWorld(p, "p1", "p2", "p3")
	for i := 0; i < 10 && (w.state.Phase == "" || w.state.Phase == Progressing); i++ {
		w.round(NoCommand, GateResult{Status: GateFailed, Inconclusive: true, Message: "too few samples"})
	}
	if w.state.Phase != RollingBack {
		t.Fatalf("phase %s, want RollingBack", w.state.Phase)
	}
}

// minHealthyTime holds the next step until the step's Prods have been available that long
// without a break; a Prod seen unavailable starts the count again; a promotion skips it.
func TestMinHealthyTimeBakesTheStep(t *testing.T) {
	p := droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
		{Name: "canary", Selector: &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{"name": "p1"}},
			MinHealthyTime: &metav1.Duration{Duration: 10 * time.Second}},
		{Name: "rest"},
	}}
	w := newWorld(p, "p1", "p2", "p3")
	w.sick = map[string]bool{}
	for i := 0; i < 20 && w.state.HealthySince.IsZero(); i++ {
		w.round(NoCommand)
	}
	healthy := w.state.HealthySince
	if healthy.IsZero() || w.state.Step != 0 {
		t.Fatalf("the canary never became healthy: %+v", w.state)
	}
	// 5 s in, p1 is unavailable for a round: the count starts again once it is back.
	for w.now.Sub(healthy) < 5*time.Second {
		if out := w.round(NoCommand); !strings.Contains(out.Waiting, "minHealthyTime 10s: healthy for") || out.RequeueAfter <= 0 {
			t.Fatalf("waiting %q, requeue %v", out.Waiting, out.RequeueAfter)
		}
	}
	w.sick["p1"] = true
	w.round(NoCommand)
	out := w.round(NoCommand)
	if !w.state.HealthySince.IsZero() || !strings.Contains(out.Waiting, "not every Prod of the step is available") {
		t.Fatalf("with p1 unavailable: healthy since %v, waiting %q", w.state.HealthySince, out.Waiting)
	}
	delete(w.sick, "p1")
	w.round(NoCommand)
	w.round(NoCommand)
	again := w.state.HealthySince
	if !again.After(healthy) {
		t.Fatalf("the count did not start again: %v then %v", healthy, again)
	}
	for i := 0; i < 30 && w.state.Step == 0; i++ {
		w.round(NoCommand)
	}
	if w.state.Step != 1 {
		t.Fatalf("the step never passed: %+v", w.state)
	}
	passed := w.now.Add(-time.Second) // the round that passed it
	if passed.Sub(again) < 10*time.Second {
		t.Fatalf("the step passed %s after the Prods were healthy again, before its minHealthyTime", passed.Sub(again))
	}

	// Promoted, the step does not wait.
	w = newWorld(p, "p1", "p2", "p3")
	for i := 0; i < 20 && w.state.GatesStarted.IsZero(); i++ {
		w.round(NoCommand)
	}
	w.round(Promote)
	if w.state.Step != 1 {
		t.Fatalf("a promoted step waited for its minHealthyTime: step %d", w.state.Step)
	}
}

// A step that does not pass within its progressDeadline fails as a gate does: rolled
// back, or paused under failurePolicy Pause; a resume gives the step its deadline again.
func TestProgressDeadlineFailsAStuckStep(t *testing.T) {
	step := func(fp droverv1.FailurePolicy) droverv1.RolloutPolicySpec {
		return droverv1.RolloutPolicySpec{FailurePolicy: fp, Steps: []droverv1.RolloutStep{
			{Name: "canary", Selector: &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{"name": "p1"}},
				ProgressDeadline: &metav1.Duration{Duration: 20 * time.Second}},
			{Name: "rest"},
		}}
	}
	w := newWorld(step(droverv1.RollbackFailurePolicy), "p1", "p2", "p3")
	w.sick = map[string]bool{"p1": true} // never available on the new revision
	start := w.now
	for i := 0; i < 60 && (w.state.Phase == "" || w.state.Phase == Progressing); i++ {
		if out := w.round(NoCommand); w.state.Phase == Progressing && (out.RequeueAfter <= 0 || out.RequeueAfter > 20*time.Second) {
			t.Fatalf("a step with a deadline asks to be called by then: requeue %v", out.RequeueAfter)
		}
	}
	if w.state.Phase != RollingBack || !strings.Contains(w.state.Reason, "step canary did not pass within its progressDeadline 20s: waiting for p1 to be available") {
		t.Fatalf("phase %s %q, want RollingBack for the deadline", w.state.Phase, w.state.Reason)
	}
	if failed := w.state.FailedAt.Sub(start); failed < 20*time.Second || failed > 22*time.Second {
		t.Fatalf("failed %s after the start, want its deadline, 20s", failed)
	}

	w = newWorld(step(droverv1.PauseFailurePolicy), "p1", "p2", "p3")
	w.sick = map[string]bool{"p1": true}
	for i := 0; i < 60 && (w.state.Phase == "" || w.state.Phase == Progressing); i++ {
		w.round(NoCommand)
	}
	if w.state.Phase != Paused || !strings.Contains(w.state.Reason, "progressDeadline") {
		t.Fatalf("phase %s %q, want Paused for the deadline", w.state.Phase, w.state.Reason)
	}
	w.now = w.now.Add(time.Hour) // a person looks, for a while, then resumes
	w.round(Resume)
	for range 10 {
		w.round(NoCommand)
	}
	if w.state.Phase != Progressing {
		t.Fatalf("resumed, the step failed again at once: %s %q", w.state.Phase, w.state.Reason)
	}
	delete(w.sick, "p1")
	for i := 0; i < 60 && w.state.Phase == Progressing; i++ {
		w.round(NoCommand)
	}
	if w.state.Phase != Succeeded {
		t.Fatalf("phase %s %q, want Succeeded once p1 is available", w.state.Phase, w.state.Reason)
	}
}

// maxFailures lets a step go on without Prods that missed its progressDeadline: they
// stay out of traffic, marked failed, and come back once available; one more than it
// tolerates fails the step.
func TestMaxFailuresToleratesProdsThatMissTheDeadline(t *testing.T) {
	policy := func(maxFailures int32) droverv1.RolloutPolicySpec {
		return droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
			{Name: "wide", Selector: &droverv1.LabelSelector{MatchExpressions: []droverv1.LabelSelectorRequirement{
				{Key: "name", Operator: "In", Values: []droverv1.LabelValue{"p1", "p2", "p3"}}}},
				MaxParallel: ptr.To(intstr.FromInt32(3)), ProgressDeadline: &metav1.Duration{Duration: 20 * time.Second}, MaxFailures: ptr.To(maxFailures)},
			{Name: "rest"},
		}}
	}
	w := newWorld(policy(1), "p1", "p2", "p3", "p4")
	w.sick = map[string]bool{"p2": true}
	var tolerated Output
	for i := 0; i < 80 && w.state.Phase != Succeeded; i++ {
		out := w.round(NoCommand)
		if w.state.Prods["p2"].Failed && tolerated.State.Prods == nil {
			tolerated = out
		}
		if w.state.Phase != "" && w.state.Phase != Progressing && w.state.Phase != Succeeded {
			t.Fatalf("phase %s %q", w.state.Phase, w.state.Reason)
		}
	}
	if w.state.Phase != Succeeded || !w.state.Prods["p2"].Failed {
		t.Fatalf("phase %s, p2 %+v: want Succeeded with p2 failed", w.state.Phase, w.state.Prods["p2"])
	}
	if !slices.ContainsFunc(tolerated.Messages, func(m Message) bool {
		return m.Kind == MessageProdsFailed && strings.Contains(m.Text, "p2 did not become available within its progressDeadline 20s; going on without them (1 of maxFailures 1)")
	}) {
		t.Errorf("messages when p2 was tolerated: %+v", tolerated.Messages)
	}
	if w.weights["p2"] != 0 || w.weights["p1"] != 100 || w.weights["p4"] != 100 {
		t.Fatalf("weights %v: the failed Prod stays out of traffic, the others serve", w.weights)
	}
	delete(w.sick, "p2")
	w.round(NoCommand)
	w.round(NoCommand)
	if ps := w.state.Prods["p2"]; ps.Failed || ps.Phase != Done || w.weights["p2"] != 100 {
		t.Fatalf("p2 available again: %+v at weight %d, want Done at 100", ps, w.weights["p2"])
	}

	// Two miss it, one is tolerated: the step fails.
	w = newWorld(policy(1), "p1", "p2", "p3", "p4")
	w.sick = map[string]bool{"p2": true, "p3": true}
	for i := 0; i < 80 && (w.state.Phase == "" || w.state.Phase == Progressing); i++ {
		w.round(NoCommand)
	}
	if w.state.Phase != RollingBack || !strings.Contains(w.state.Reason, "(2 Prods failed with these, more than maxFailures 1)") {
		t.Fatalf("phase %s %q, want RollingBack past maxFailures", w.state.Phase, w.state.Reason)
	}
}

// A freeze of the set stops the line: Prods on their way finish, nothing new is picked
// and no step passes, not even a promoted one; a failing gate still rolls back; when the
// freeze ends the rollout goes on. A step's deadline does not run during it.
func TestAFreezeHoldsTheRolloutButNotItsRollback(t *testing.T) {
	p := threeSteps()
	p.Steps[1].ProgressDeadline = &metav1.Duration{Duration: 30 * time.Second}
	w := newWorld(p, "p1", "p2", "p3", "p4", "p5")
	pass := GateResult{Status: GatePassed}
	for i := 0; i < 40 && w.state.Step < 1; i++ {
		w.round(NoCommand, pass)
	}
	w.round(NoCommand, pass) // step 2 picks its first Prod
	picked := len(w.state.Prods)
	const why = "frozen by Freeze default/friday (no releases on Friday evening) until 2026-11-27T07:00:00Z"
	w.in.Frozen = why
	var out Output
	for range 60 {
		out = w.round(Promote, pass)
	}
	if w.state.Phase != Progressing || w.state.Step != 1 || len(w.state.Prods) != picked {
		t.Fatalf("frozen: phase %s step %d, %d Prods picked (was %d)", w.state.Phase, w.state.Step, len(w.state.Prods), picked)
	}
	if len(w.inflight()) != 0 {
		t.Fatalf("the Prods on their way did not finish: %v", w.inflight())
	}
	if !strings.Contains(out.Waiting, why) {
		t.Fatalf("waiting %q does not name the freeze", out.Waiting)
	}
	// Unfrozen, 60 s later: the step goes on, its deadline not run out.
	w.in.Frozen = ""
	for i := 0; i < 100 && w.state.Phase == Progressing; i++ {
		w.round(NoCommand, pass)
	}
	if w.state.Phase != Succeeded {
		t.Fatalf("after the freeze: %s %q", w.state.Phase, w.state.Reason)
	}

	// A gate failing during a freeze rolls back at once.
	w = newWorld(threeSteps(), "p1", "p2", "p3", "p4", "p5")
	for i := 0; i < 40 && w.state.GatesStarted.IsZero(); i++ {
		w.round(NoCommand)
	}
	w.in.Frozen = why
	for i := 0; i < 5 && w.state.Phase == Progressing; i++ {
		w.round(NoCommand, GateResult{Status: GateFailed, Message: "503"})
	}
	if w.state.Phase != RollingBack {
		t.Fatalf("a failed gate under a freeze: %s, want RollingBack", w.state.Phase)
	}
	for i := 0; i < 40 && w.state.Phase == RollingBack; i++ {
		w.round(NoCommand)
	}
	if w.state.Phase != RolledBack {
		t.Fatalf("the rollback under a freeze: %s, want RolledBack", w.state.Phase)
	}
}

// A freeze of a cluster holds its Prods: no step picks them, and a step that selects one
// waits for it, naming the freeze; the others go on.
func TestAClusterFreezeHoldsItsProds(t *testing.T) {
	p := droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{{Name: "all", MaxParallel: ptr.To(intstr.FromInt32(2))}}}
	w := newWorld(p, "p1", "p2", "p3")
	const why = "frozen by ClusterFreeze upgrade (eu-2 upgrade) until it is deleted"
	w.prods["p2"].Frozen = why
	var out Output
	for range 40 {
		out = w.round(NoCommand)
	}
	if _, picked := w.state.Prods["p2"]; picked || w.prods["p2"].Revision != "r1" {
		t.Fatalf("the frozen Prod moved: %+v", w.prods["p2"])
	}
	if w.prods["p1"].Revision != "r2" || w.prods["p3"].Revision != "r2" || w.state.Phase != Progressing {
		t.Fatalf("the others: p1 %s, p3 %s, phase %s", w.prods["p1"].Revision, w.prods["p3"].Revision, w.state.Phase)
	}
	if !strings.Contains(out.Waiting, "p2 held: "+why) {
		t.Fatalf("waiting %q", out.Waiting)
	}
	w.prods["p2"].Frozen = ""
	for i := 0; i < 40 && w.state.Phase == Progressing; i++ {
		w.round(NoCommand)
	}
	if w.state.Phase != Succeeded || w.prods["p2"].Revision != "r2" {
		t.Fatalf("after the cluster's freeze: %s, p2 on %s", w.state.Phase, w.prods["p2"].Revision)
	}
}

func TestApprovalWaitsForPromote(t *testing.T) {
	p := droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
		{Name: "ab", Selector: &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{"name": "p1"}}, Weight: ptr.To[int32](50),
			Gates: []droverv1.Gate{{Pause: &droverv1.PauseGate{UntilApproved: ptr.To(true)}}}},
		{Name: "rest"},
	}}
	w := newWorld(p, "p1", "p2")
	for i := 0; i < 20; i++ {
		w.round(NoCommand)
	}
	if w.state.Step != 0 || w.weights["p1"] != 50 || w.prods["p1"].Revision != "r2" || w.prods["p2"].Revision != "r1" {
		t.Fatalf("an A/B step holds: step %d, %v %v", w.state.Step, w.weights, w.revisions())
	}
	w.round(Promote)
	if w.state.Step != 1 {
		t.Fatalf("promote passes the gate: step %d", w.state.Step)
	}
}

func TestANewRevisionSupersedesTheRollout(t *testing.T) {
	w := newWorld(threeSteps(), "p1", "p2", "p3")
	for w.state.Step < 1 {
		w.round(NoCommand, GateResult{Status: GatePassed})
	}
	w.in.Revision = "r3"
	out := w.round(NoCommand)
	if w.state.Revision != "r3" || w.state.Previous != "r1" || w.state.Step != 0 {
		t.Fatalf("state %+v", w.state)
	}
	if !slices.ContainsFunc(out.Messages, func(m Message) bool { return m.Kind == MessageSuperseded && strings.Contains(m.Text, "superseded") }) {
		t.Errorf("messages %v", out.Messages)
	}
}

func TestAbortReturnsTrafficAtOnce(t *testing.T) {
	w := newWorld(threeSteps(), "p1", "p2", "p3")
	for i := 0; i < 4; i++ {
		w.round(NoCommand)
	}
	out := w.round(Abort)
	if w.state.Phase != RollingBack || w.state.Reason != "abort requested" {
		t.Fatalf("phase %s %q", w.state.Phase, w.state.Reason)
	}
	if out.Targets["p3"].Weight != 0 {
		t.Errorf("p3 keeps weight %d", out.Targets["p3"].Weight)
	}
}

func TestRestartResumesWithoutRepeatingAStep(t *testing.T) {
	// Calling Next twice with the same input gives the same output: a manager that
	// died after deciding and before writing decides the same again.
	w := newWorld(threeSteps(), "p1", "p2", "p3", "p4")
	for i := 0; i < 12; i++ {
		in := w.in
		in.Now, in.State = w.now, w.state
		for _, n := range slices.Sorted(maps.Keys(w.prods)) {
			in.Prods = append(in.Prods, *w.prods[n])
		}
		in.Gates = []GateResult{{Status: GatePassed}}
		a, b := Next(in), Next(in)
		if fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("round %d: Next is not deterministic:\n%+v\n%+v", i, a, b)
		}
		w.round(NoCommand, GateResult{Status: GatePassed})
	}
	steps := map[int]int{}
	for _, g := range w.state.Gates {
		steps[g.Step]++
	}
	for s, n := range steps {
		if n > len(w.in.Policy.Steps[s].Gates) {
			t.Errorf("step %d's gates recorded %d times", s, n)
		}
	}
}

func TestAStepWithoutProdsPassesWithoutItsGates(t *testing.T) {
	p := threeSteps()
	p.Steps[0].Selector = &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{"name": "nobody"}}
	w := newWorld(p, "p1", "p2")
	out := w.round(NoCommand)
	if w.state.Step != 1 || out.RunGates {
		t.Fatalf("step %d, RunGates %v: an empty step passes at once", w.state.Step, out.RunGates)
	}
	if !slices.ContainsFunc(out.Messages, func(m Message) bool {
		return m.Kind == MessageStepSkipped && strings.Contains(m.Text, "selects no Prod")
	}) {
		t.Errorf("messages %v", out.Messages)
	}
}

func TestTheFirstRevisionSucceedsAtOnce(t *testing.T) {
	w := newWorld(threeSteps(), "p1", "p2")
	for _, p := range w.prods {
		p.Revision = "r2"
	}
	out := w.round(NoCommand)
	if w.state.Phase != Succeeded || out.RunGates {
		t.Fatalf("phase %s, RunGates %v", w.state.Phase, out.RunGates)
	}
	for n, tg := range out.Targets {
		if tg.Weight != 100 || tg.Revision != "r2" {
			t.Errorf("%s: %+v", n, tg)
		}
	}
}

func TestRollbackKeepsTheServingMinimum(t *testing.T) {
	// Every Prod but one is on the new revision when the last step's gate fails: taking
	// them all out would leave one serving where the minimum is three.
	p := droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
		{Name: "most", Selector: &droverv1.LabelSelector{MatchExpressions: []droverv1.LabelSelectorRequirement{{Key: "name", Operator: "NotIn", Values: []droverv1.LabelValue{"p5"}}}},
			MaxParallel: ptr.To(intstr.FromInt32(1)),
			Gates:       []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/"}}}},
	}}
	w := newWorld(p, "p1", "p2", "p3", "p4", "p5")
	w.in.MinServing = 3
	for i := 0; i < 60 && w.state.Phase != RollingBack; i++ {
		if len(w.inflight()) == 0 && len(w.state.Prods) == 4 {
			w.round(NoCommand, GateResult{Status: GateFailed, Message: "503"})
			continue
		}
		w.round(NoCommand)
	}
	if w.state.Phase != RollingBack {
		t.Fatalf("phase %s", w.state.Phase)
	}
	for i := 0; i < 60 && w.state.Phase == RollingBack; i++ {
		w.round(NoCommand)
		if got := w.serving(); got < 3 {
			t.Fatalf("round %d of the rollback: %d serving, below 3", i, got)
		}
	}
	if w.state.Phase != RolledBack {
		t.Fatalf("phase %s", w.state.Phase)
	}
	for n, r := range w.revisions() {
		if r != "r1" {
			t.Errorf("%s ends on %s", n, r)
		}
	}
}

func TestPromoteBeforeTheGatesPassesThemWhenReached(t *testing.T) {
	p := droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
		{Name: "ab", Selector: &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{"name": "p1"}},
			Gates: []droverv1.Gate{{Approval: &droverv1.ApprovalGate{Message: "check the dashboards"}}}},
		{Name: "rest"},
	}}
	w := newWorld(p, "p1", "p2")
	out := w.round(Promote) // p1 has only just left traffic
	if w.state.Step != 0 || !w.state.Promoted {
		t.Fatalf("step %d promoted %v", w.state.Step, w.state.Promoted)
	}
	if !strings.Contains(out.Waiting, "p1 to drain") {
		t.Errorf("waiting %q", out.Waiting)
	}
	for i := 0; i < 5 && w.state.Step == 0; i++ {
		w.round(NoCommand)
	}
	if w.state.Step != 1 || w.state.Promoted {
		t.Fatalf("step %d promoted %v: the promotion passes the step once and is spent", w.state.Step, w.state.Promoted)
	}
}

func TestAProdThatIsGoneLeavesTheRollout(t *testing.T) {
	w := newWorld(threeSteps(), "p1", "p2", "p3")
	w.round(NoCommand) // p3, the test Prod, leaves traffic
	if _, ok := w.state.Prods["p3"]; !ok {
		t.Fatal("p3 not picked")
	}
	delete(w.prods, "p3") // retired by its ProdSet
	w.round(NoCommand)
	if _, ok := w.state.Prods["p3"]; ok {
		t.Fatal("a Prod that is gone stays in the rollout")
	}
	if w.state.Step != 1 {
		t.Errorf("step %d: the test step has no Prod left and passes", w.state.Step)
	}
}

func TestCountPicksTheLeastUsedProdAsCanary(t *testing.T) {
	p := droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
		{Name: "canary", Order: droverv1.LeastTrafficFirstOrder, Count: ptr.To(intstr.FromInt32(1)), Weight: ptr.To[int32](5),
			Gates: []droverv1.Gate{{Approval: &droverv1.ApprovalGate{}}}},
		{Name: "half", Count: ptr.To(intstr.FromString("50%")), MaxParallel: ptr.To(intstr.FromString("100%"))},
		{Name: "rest"},
	}}
	w := newWorld(p, "p1", "p2", "p3", "p4")
	w.prods["p3"].Traffic = 20 // the least used
	for i := 0; i < 10; i++ {
		w.round(NoCommand)
	}
	if w.state.Step != 0 || len(w.state.Prods) != 1 || w.weights["p3"] != 5 {
		t.Fatalf("canary: step %d, picked %v, p3 at %d", w.state.Step, w.state.Prods, w.weights["p3"])
	}
	w.round(Promote)
	for i := 0; i < 3; i++ {
		w.round(NoCommand)
	}
	// 50% of 4 Prods: two more, at once.
	half := 0
	for _, ps := range w.state.Prods {
		if ps.Step == 1 {
			half++
		}
	}
	if half != 2 {
		t.Fatalf("step half picked %d Prods: %v", half, w.state.Prods)
	}
	for i := 0; i < 20 && w.state.Phase != Succeeded; i++ {
		w.round(NoCommand)
	}
	if w.state.Phase != Succeeded || w.state.Prods["p4"].Step != 2 {
		t.Fatalf("phase %s, prods %v", w.state.Phase, w.state.Prods)
	}
}

func replacePolicy() droverv1.RolloutPolicySpec {
	return droverv1.RolloutPolicySpec{
		Strategy: droverv1.ReplaceStrategy, FailurePolicy: droverv1.RollbackFailurePolicy,
		RollbackWindow: &metav1.Duration{Duration: 10 * time.Second},
		Steps: []droverv1.RolloutStep{
			{Name: "test", Selector: &droverv1.LabelSelector{MatchLabels: map[string]droverv1.LabelValue{"name": "p3"}}, Weight: ptr.To[int32](10),
				Gates: []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{URL: "http://{{ .Host }}/"}}}},
			{Name: "rest", MaxParallel: ptr.To(intstr.FromInt32(2))},
		},
	}
}

func TestReplaceShiftsTrafficAndKeepsTheOriginalsWarm(t *testing.T) {
	w := newWorld(replacePolicy(), "p1", "p2", "p3", "p4")
	w.in.MinServing = 4 // Replace never takes a Prod out before its replacement serves
	var gateProds []string
	for i := 0; i < 60 && w.state.Phase != Succeeded; i++ {
		var gates []GateResult
		if gateProds != nil {
			gates = []GateResult{{Status: GatePassed}}
		}
		out := w.round(NoCommand, gates...)
		if out.RunGates && out.State.Step == 0 {
			gateProds = out.GateProds
		}
		if got := w.serving(); got < 4 && i > 0 {
			t.Fatalf("round %d: %d serving", i, got)
		}
		if w.state.Step == 0 && len(w.state.Prods) > 1 {
			t.Fatalf("the test step picked %v", w.state.Prods)
		}
	}
	if w.state.Phase != Succeeded {
		t.Fatalf("phase %s", w.state.Phase)
	}
	if !slices.Equal(gateProds, []string{"p3-r"}) {
		t.Errorf("the test step's gate checks %v, want the replacement", gateProds)
	}
	for _, n := range []string{"p1", "p2", "p3", "p4"} {
		if w.prods[n] == nil || w.weights[n] != 0 || w.prods[n].Revision != "r1" {
			t.Errorf("original %s should be warm: r1 at weight 0", n)
		}
		if r := w.prods[n+"-r"]; r == nil || w.weights[n+"-r"] != 100 || r.Revision != "r2" {
			t.Errorf("replacement of %s should serve r2 at 100", n)
		}
	}
	// The originals go once the window has passed, not before.
	out := w.round(NoCommand)
	if len(out.Retire) != 0 || out.RequeueAfter == 0 || !strings.Contains(out.Waiting, "kept warm") {
		t.Fatalf("within the window: retire %v, requeue %v, waiting %q", out.Retire, out.RequeueAfter, out.Waiting)
	}
	w.now = w.now.Add(10 * time.Second)
	out = w.round(NoCommand)
	if !slices.Equal(out.Retire, []string{"p1", "p2", "p3", "p4"}) {
		t.Fatalf("after the window, retire %v", out.Retire)
	}
	out = w.round(NoCommand)
	if len(w.prods) != 4 || w.state.Phase != Succeeded || len(out.Targets) != 4 {
		t.Fatalf("left %v, phase %s", slices.Sorted(maps.Keys(w.prods)), w.state.Phase)
	}
}

func TestReplaceRollbackIsOneWeightChange(t *testing.T) {
	w := newWorld(replacePolicy(), "p1", "p2", "p3", "p4")
	var failed Output
	for i := 0; i < 20 && w.state.Phase != RollingBack; i++ {
		failed = w.round(NoCommand, GateResult{Status: GateFailed, Message: "503"})
	}
	if w.state.Phase != RollingBack {
		t.Fatalf("phase %s", w.state.Phase)
	}
	// In the round the gate failed, the original takes its traffic back and the
	// replacement leaves: one update.
	if failed.Targets["p3"].Weight != 100 || failed.Targets["p3-r"].Weight != 0 {
		t.Fatalf("rollback round targets %v", failed.Targets)
	}
	for i := 0; i < 10 && w.state.Phase != RolledBack; i++ {
		w.round(NoCommand)
	}
	if w.state.Phase != RolledBack || w.prods["p3-r"] != nil {
		t.Fatalf("phase %s, prods %v", w.state.Phase, slices.Sorted(maps.Keys(w.prods)))
	}
	for n, p := range w.prods {
		if p.Revision != "r1" || w.weights[n] != 100 {
			t.Errorf("%s on %s at %d", n, p.Revision, w.weights[n])
		}
	}
}

func TestReplaceRollbackWithinTheWindow(t *testing.T) {
	w := newWorld(replacePolicy(), "p1", "p2")
	w.in.Policy.Steps[0].Gates = nil
	for i := 0; i < 40 && w.state.Phase != Succeeded; i++ {
		w.round(NoCommand)
	}
	out := w.round(Rollback)
	if w.state.Phase != RollingBack {
		t.Fatalf("a rollback within the window: phase %s", w.state.Phase)
	}
	for _, n := range []string{"p1", "p2"} {
		if out.Targets[n].Weight != 100 || out.Targets[n+"-r"].Weight != 0 {
			t.Fatalf("targets %v", out.Targets)
		}
	}
	for i := 0; i < 10 && w.state.Phase != RolledBack; i++ {
		w.round(NoCommand)
	}
	if w.state.Phase != RolledBack || len(w.prods) != 2 {
		t.Fatalf("phase %s, prods %v", w.state.Phase, slices.Sorted(maps.Keys(w.prods)))
	}

	// After the window, the originals are gone and a rollback is refused.
	w2 := newWorld(replacePolicy(), "p1")
	w2.in.Policy.Steps[0].Gates = nil
	for i := 0; i < 40 && w2.state.Phase != Succeeded; i++ {
		w2.round(NoCommand)
	}
	w2.now = w2.now.Add(time.Minute)
	w2.round(NoCommand)
	w2.round(Rollback)
	if w2.state.Phase != Succeeded {
		t.Fatalf("a rollback after the window: phase %s", w2.state.Phase)
	}
}

func TestReplaceSupersededLeavesNoPair(t *testing.T) {
	w := newWorld(replacePolicy(), "p1", "p2", "p3")
	for i := 0; i < 30 && w.state.Step < 1; i++ {
		w.round(NoCommand, GateResult{Status: GatePassed})
	}
	// Step rest has made replacements; r3 arrives before they serve.
	w.round(NoCommand)
	w.in.Revision = "r3"
	for i := 0; i < 80 && w.state.Phase != Succeeded; i++ {
		w.round(NoCommand, GateResult{Status: GatePassed})
	}
	if w.state.Phase != Succeeded {
		t.Fatalf("phase %s", w.state.Phase)
	}
	w.now = w.now.Add(time.Minute)
	w.round(NoCommand)
	w.round(NoCommand)
	if len(w.prods) != 3 {
		t.Fatalf("prods %v", slices.Sorted(maps.Keys(w.prods)))
	}
	for n, p := range w.prods {
		if p.Revision != "r3" || w.weights[n] != 100 {
			t.Errorf("%s on %s at %d", n, p.Revision, w.weights[n])
		}
	}
}
