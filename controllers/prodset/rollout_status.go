package prodset

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/rollout"
)

// maxRolloutHistory is how many finished rollouts status.rolloutHistory keeps.
const maxRolloutHistory = 10

// stateFromStatus is the rollout engine's memory as the set's status keeps it.
func stateFromStatus(st *droverv1.RolloutStatus) rollout.State {
	if st == nil {
		return rollout.State{}
	}
	out := rollout.State{
		Revision: st.Revision, Previous: st.PreviousRevision, Phase: rollout.Phase(st.Phase),
		Step: int(st.Step), GatesStarted: timeOf(st.GatesStartedTime), Promoted: st.Promoted,
		StepStarted: timeOf(st.StepStartedTime), HealthySince: timeOf(st.HealthySinceTime),
		FailedAt: microOf(st.FailedTime), FinishedAt: timeOf(st.FinishedTime), Prods: map[string]rollout.ProdState{},
	}
	if out.Phase == rollout.Paused || out.Phase == rollout.RollingBack {
		out.Reason = st.Message
	}
	for _, p := range st.Prods {
		out.Prods[p.Name] = rollout.ProdState{Step: int(p.Step), Phase: rollout.ProdPhase(p.Phase), Failed: p.Failed}
	}
	for _, g := range st.Gates {
		out.Gates = append(out.Gates, rollout.GateRecord{Step: int(g.Step), Gate: int(g.Gate), Passed: g.Passed, Inconclusive: g.Inconclusive,
			Message: g.Message, Time: g.Time.Time, Baseline: g.Baseline})
	}
	return out
}

// recordRollout writes the engine's new state into the set's status, keeps the history
// of finished rollouts, and says where the rollout is in the RolledOut condition.
func (r *Reconciler) recordRollout(s *scope, policy *droverv1.RolloutPolicy, cmd rollout.Command, out rollout.Output) {
	set, st := s.set, out.State
	old := set.Status.Rollout
	prev := old
	if old != nil && old.Revision != st.Revision {
		// Superseded (or a finished one already in the history).
		if old.Phase != droverv1.RolloutSucceeded && old.Phase != droverv1.RolloutRolledBack {
			pushHistory(set, old, true)
		}
		old = nil
		forgetAllGates(r.Gates, client.ObjectKeyFromObject(set))
	}
	next := &droverv1.RolloutStatus{
		Revision: st.Revision, PreviousRevision: st.Previous, Policy: policy.Name,
		Phase: droverv1.RolloutPhase(st.Phase), Step: int32(st.Step), Promoted: st.Promoted,
		Message:          out.Waiting,
		GatesStartedTime: timePtr(st.GatesStarted), FailedTime: microPtr(st.FailedAt), FinishedTime: timePtr(st.FinishedAt),
		StepStartedTime: timePtr(st.StepStarted), HealthySinceTime: timePtr(st.HealthySince),
	}
	if st.Step < len(policy.Spec.Steps) {
		next.StepName = policy.Spec.Steps[st.Step].Name
	}
	if st.Phase == rollout.Paused || st.Phase == rollout.RollingBack {
		next.Message = st.Reason
	}
	if old != nil {
		next.StartedTime = old.StartedTime
		next.RollbackSubmittedTime, next.RollbackLatency = old.RollbackSubmittedTime, old.RollbackLatency
		if old.Phase == droverv1.RolloutRollingBack && next.Message == "" {
			next.Message = old.Message
		}
	}
	if next.StartedTime == nil {
		next.StartedTime = timePtr(s.now)
	}
	for _, name := range slices.Sorted(maps.Keys(st.Prods)) {
		ps := st.Prods[name]
		rp := droverv1.RolloutProdStatus{Name: name, Step: int32(ps.Step), Phase: droverv1.RolloutProdPhase(ps.Phase), Failed: ps.Failed}
		if rep := s.replacementOf(name); rep != nil {
			rp.Replacement = rep.Name
		}
		next.Prods = append(next.Prods, rp)
	}
	for _, g := range st.Gates {
		o := droverv1.GateOutcome{Step: int32(g.Step), Gate: int32(g.Gate), Passed: g.Passed, Inconclusive: g.Inconclusive,
			Message: truncate(g.Message, 1024), Time: metav1.NewTime(g.Time.Truncate(time.Second)), Baseline: boundedJudgement(g.Baseline)}
		if g.Step < len(policy.Spec.Steps) {
			o.StepName = policy.Spec.Steps[g.Step].Name
			if g.Gate < len(policy.Spec.Steps[g.Step].Gates) {
				o.Type = rollout.GateType(policy.Spec.Steps[g.Step].Gates[g.Gate])
			}
		}
		next.Gates = append(next.Gates, o)
	}
	finished := next.Phase == droverv1.RolloutSucceeded || next.Phase == droverv1.RolloutRolledBack
	justFinished := finished && (old == nil || old.Phase != next.Phase)
	if justFinished {
		if next.Phase == droverv1.RolloutRolledBack {
			next.Message = "rolled back to " + next.PreviousRevision
			if old != nil && old.Message != "" {
				next.Message += ": " + old.Message
			}
		} else {
			next.Message = fmt.Sprintf("every Prod runs revision %s", next.Revision)
		}
		pushHistory(set, next, false)
	}
	if finished && !justFinished {
		next.Message = old.Message
	}
	if next.Phase == droverv1.RolloutRollingBack && next.RollbackSubmittedTime == nil {
		s.ro.rollingBack = true
	}
	set.Status.Rollout = next
	set.Status.PreviousRevision = next.PreviousRevision
	r.timeRollout(s, policy, prev, next)
	s.ro.decided = rolloutByPolicy
	if cmd == rollout.Rollback || cmd == rollout.Abort {
		r.event(set, corev1.EventTypeWarning, ReasonRollbackRequested, "Rollout", "%s requested: returning traffic to revision %s", strings.ToLower(string(cmd)), st.Previous)
	}
}

// persistRollout writes the rollout's new state to the set's status before anything
// acts on it, when this reconcile recorded gate verdicts (a step passed its gates, a
// gate failed, a promotion), with what the status says along with it (the revisions,
// the history, the command read, the RolledOut condition), against the set as stored
// (as this reconcile read it, s.stored).
//
// Next decides from the status, what it observes and the verdicts of the current
// step's gates, and the verdicts live in memory only. A manager that acted on a verdict
// — a step passed: its Prods back at the template's weight, the next step's taken out
// of traffic; a gate failed: the new version out of traffic — and died before writing
// its status would leave the Prods ahead of a status that its successor, without the
// verdict, reads as the step still being verified: it would put the Prods back until
// the gates ran again (and, had the verdict been a failure, might let a second run
// pass), and a Prod the dead manager had moved to the new revision would belong to no
// step, which would then pass without its gates. Written first, the verdicts make a
// successor decide what the dead manager did. Every other decision a successor makes
// again from the status and what it observes, so the usual order stands for those.
func (r *Reconciler) persistRollout(ctx context.Context, s *scope) error {
	read := s.stored
	next := s.set.Status.Rollout
	if next == nil || len(next.Gates) <= len(verdictsOf(read.Status.Rollout, next.Revision)) {
		return nil
	}
	obj := read.DeepCopy()
	obj.Status.Rollout = next.DeepCopy()
	obj.Status.RolloutHistory = s.set.Status.RolloutHistory
	obj.Status.CurrentRevision, obj.Status.PreviousRevision = s.revision, s.set.Status.PreviousRevision
	obj.Status.ObservedRolloutCommand = s.set.Status.ObservedRolloutCommand
	if c, ok := rolledOutCondition(s); ok {
		conditions.Set(obj, c)
	}
	s.wroteMidway = true
	if err := r.Client.Status().Patch(ctx, obj, client.MergeFrom(read)); err != nil {
		return fmt.Errorf("recording the rollout's gate verdicts before acting on them: %w", err)
	}
	return nil
}

// verdictsOf is the gate verdicts a rollout status holds for revision.
func verdictsOf(st *droverv1.RolloutStatus, revision string) []droverv1.GateOutcome {
	if st == nil || st.Revision != revision {
		return nil
	}
	return st.Gates
}

// reconcileRollbackSubmitted records, once the rollback's weights are submitted to DNS (or
// applied to the Prods when the set publishes none, or already in DNS as when only
// Prods out of traffic were on the new revision), how long that took from the failure.
func (r *Reconciler) reconcileRollbackSubmitted(_ context.Context, s *scope) (ctrl.Result, error) {
	st := s.set.Status.Rollout
	if !s.ro.rollingBack || st == nil || st.RollbackSubmittedTime != nil {
		return ctrl.Result{}, nil
	}
	if _, publishing := r.service(s.set); publishing && !s.submitted && !s.settled {
		s.after(250 * time.Millisecond) // a change is in flight; the rollback's goes as soon as it is in sync
		return ctrl.Result{}, nil
	}
	st.RollbackSubmittedTime = microPtr(s.now)
	if st.FailedTime != nil {
		d := s.now.Sub(st.FailedTime.Time)
		st.RollbackLatency = &metav1.Duration{Duration: d}
		rollbackLatency.Observe(d.Seconds())
		r.event(s.set, corev1.EventTypeNormal, ReasonRollbackSubmitted, "Rollout", "traffic change of the rollback submitted %s after the failure", d.Round(time.Millisecond))
	}
	s.ro.rollingBack = false
	return ctrl.Result{}, nil
}

// timeRollout observes the rollout's and its steps' durations as they end, and says
// when a step starts.
func (r *Reconciler) timeRollout(s *scope, policy *droverv1.RolloutPolicy, prev, next *droverv1.RolloutStatus) {
	strategy := string(policy.Spec.Strategy)
	if strategy == "" {
		strategy = string(droverv1.InPlaceStrategy)
	}
	finished := func(p droverv1.RolloutPhase) bool {
		return p == droverv1.RolloutSucceeded || p == droverv1.RolloutRolledBack
	}
	since := func(t *metav1.Time) (float64, bool) {
		if t == nil || t.After(s.now) {
			return 0, false
		}
		return s.now.Sub(t.Time).Seconds(), true
	}
	sameRollout := prev != nil && prev.Revision == next.Revision
	if prev != nil && !sameRollout && !finished(prev.Phase) {
		if d, ok := since(prev.StartedTime); ok {
			rolloutDuration.WithLabelValues(strategy, stepSuperseded).Observe(d)
		}
	}
	if finished(next.Phase) && (!sameRollout || prev.Phase != next.Phase) {
		if d, ok := since(next.StartedTime); ok {
			rolloutDuration.WithLabelValues(strategy, string(next.Phase)).Observe(d)
		}
	}

	uid, steps := s.set.UID, int32(len(policy.Spec.Steps))
	active := next.Phase == droverv1.RolloutProgressing || next.Phase == droverv1.RolloutPaused
	mark, ok := r.steps.get(uid)
	if !ok && sameRollout && prev.Step == 0 && next.Step == 0 && active && prev.StartedTime != nil {
		// A manager that restarted during the first step knows when it began.
		mark, ok = stepMark{revision: next.Revision, step: 0, start: prev.StartedTime.Time}, true
		r.steps.set(uid, mark)
	}
	if ok {
		outcome := ""
		switch {
		case mark.revision != next.Revision:
			outcome = stepSuperseded
		case next.Step != mark.step || next.Phase == droverv1.RolloutSucceeded:
			outcome = stepPassed
		case next.Phase == droverv1.RolloutRollingBack || next.Phase == droverv1.RolloutRolledBack:
			outcome = stepRolledBack
		}
		if outcome != "" {
			if !mark.start.IsZero() && mark.step < steps && !mark.start.After(s.now) {
				stepDuration.WithLabelValues(strategy, outcome).Observe(s.now.Sub(mark.start).Seconds())
			}
			r.steps.forget(uid)
			ok = false
		}
	}
	if ok || !active || next.Step >= steps {
		return
	}
	if sameRollout && prev.Step == next.Step {
		r.steps.set(uid, stepMark{revision: next.Revision, step: next.Step}) // started before this manager
		return
	}
	r.steps.set(uid, stepMark{revision: next.Revision, step: next.Step, start: s.now})
	r.event(s.set, corev1.EventTypeNormal, ReasonStepStarted, "Rollout", "step %d of %d (%s) of the rollout of %s started", next.Step+1, steps, next.StepName, next.Revision)
}

func pushHistory(set *droverv1.ProdSet, st *droverv1.RolloutStatus, superseded bool) {
	rec := droverv1.RolloutRecord{
		Revision: st.Revision, PreviousRevision: st.PreviousRevision, Phase: st.Phase, Superseded: superseded,
		Message: truncate(st.Message, 1024), StartedTime: st.StartedTime, FinishedTime: st.FinishedTime, RollbackLatency: st.RollbackLatency,
	}
	h := append([]droverv1.RolloutRecord{rec}, set.Status.RolloutHistory...)
	set.Status.RolloutHistory = h[:min(len(h), maxRolloutHistory)]
}

func timeOf(t *metav1.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func microOf(t *metav1.MicroTime) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.Time
}

func microPtr(t time.Time) *metav1.MicroTime {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewMicroTime(t)
	return &mt
}

func timePtr(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	mt := metav1.NewTime(t.Truncate(time.Second))
	return &mt
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// boundedJudgement is a baseline judgement as the status keeps it: each reason cut to
// 512 bytes, the Prods compared to the schema's 40 a side.
func boundedJudgement(j *droverv1.BaselineJudgement) *droverv1.BaselineJudgement {
	if j == nil {
		return nil
	}
	out := j.DeepCopy()
	out.Canary = out.Canary[:min(len(out.Canary), 40)]
	out.Baseline = out.Baseline[:min(len(out.Baseline), 40)]
	for i := range out.Metrics {
		out.Metrics[i].Reason = truncate(out.Metrics[i].Reason, 512)
	}
	return out
}
