// Package rollout is the step machine of a RolloutPolicy: given a ProdSet's Prods, the
// policy, what the last call decided (State, kept in the ProdSet's status), the results
// of the current step's gates, a command from a person and the clock, Next says what
// every Prod should be now (revision and weight) and what the rollout's state becomes.
//
// Next is pure: no client, no clock of its own. Everything it needs to resume after a
// restart is in State, and calling it again with the same input gives the same output,
// so a manager killed at any point and restarted neither repeats nor skips a step.
//
// InPlace strategy: a Prod leaves traffic (weight 0), is drained, moves to the new
// revision, becomes available, and comes back at the step's weight.
//
// Replace strategy: a picked Prod gets a replacement beside it on its cluster, made from
// the new revision (Output.Create); once that is available, the traffic moves to it in
// one update and the original stays warm at weight 0 (under a step of weight 0 the move
// waits until the step passes: the replacement gets no traffic before, so the original
// keeps its own). After the rollout succeeded the
// originals are retired once the policy's rollbackWindow has passed (Output.Retire);
// until then a rollback is a weight change and nothing else. A pair left over from a
// rollout that was superseded keeps whichever of the two serves and retires the other.
// A step's
// gates are evaluated once all its Prods are back; the rollout moves on when all pass.
// A failing gate rolls back (every new-revision Prod to weight 0 in one traffic update,
// then back to the previous revision) or pauses, as failurePolicy says. A rollback never
// takes the set below its serving minimum: when too few previous-revision Prods serve,
// the last new-revision ones keep their traffic until enough are back.
//
// A step that selects no Prod passes at once, gates included: there is nothing new to
// verify. That is also how a set that never ran another revision "rolls out" its first.
package rollout

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Phase of a rollout.
type Phase string

const (
	Progressing Phase = "Progressing"
	Paused      Phase = "Paused"
	Succeeded   Phase = "Succeeded"
	RollingBack Phase = "RollingBack"
	RolledBack  Phase = "RolledBack"
)

// ProdPhase is where one Prod is in the rollout.
type ProdPhase string

const (
	// Draining: out of traffic, still on the previous revision, waiting to be drained.
	Draining ProdPhase = "Draining"
	// Creating (Replace): its replacement is being made and becoming available; the
	// Prod keeps its traffic meanwhile.
	Creating ProdPhase = "Creating"
	// Updating: on the new revision, waiting to be available.
	Updating ProdPhase = "Updating"
	// Done: on the new revision and back in traffic.
	Done ProdPhase = "Done"
	// Reverting: rolled back: out of traffic, going back to the previous revision.
	Reverting ProdPhase = "Reverting"
	// Reverted: back on the previous revision and in traffic.
	Reverted ProdPhase = "Reverted"
)

// Command is what a person asked for (the CLI sets it; the controller clears it once
// Next has seen it).
type Command string

const (
	NoCommand Command = ""
	Pause     Command = "Pause"
	Resume    Command = "Resume"
	// Promote passes every gate of the current step.
	Promote Command = "Promote"
	// Abort and Rollback return the traffic to the previous revision's Prods and revert
	// the new ones.
	Abort    Command = "Abort"
	Rollback Command = "Rollback"
)

// ProdState is one Prod's place in the rollout.
type ProdState struct {
	// Step the Prod was picked in.
	Step  int
	Phase ProdPhase
	// Failed: it did not reach Done by its step's progressDeadline, and the step's
	// maxFailures tolerated it: the step goes on without it. It stays in its phase (out
	// of traffic under InPlace) and is Done, the flag cleared, once it gets there.
	Failed bool
}

// GateRecord is the outcome of one gate.
type GateRecord struct {
	Step, Gate int
	Passed     bool
	// Inconclusive: the gate could not judge, and its policy made that a failure.
	Inconclusive bool
	Message      string
	Time         time.Time
	// Baseline is a baseline gate's judgement, carried through to the status.
	Baseline *droverv1.BaselineJudgement
}

// State is the rollout's memory, kept in the ProdSet's status.
type State struct {
	// Revision rolled out, and Previous, the one it replaces (where a rollback goes).
	Revision, Previous string
	Phase              Phase
	// Step is the index of the current step; len(steps) once every step passed.
	Step int
	// GatesStarted is when the current step's Prods were all back and its gates began.
	GatesStarted time.Time
	// StepStarted is when the current step began, or was last resumed: its
	// progressDeadline counts from then.
	StepStarted time.Time
	// HealthySince is since when the current step's Prods have all been available, once
	// its gates began (zero while one is not): its minHealthyTime counts from then.
	HealthySince time.Time
	// Prods that were picked, by name.
	Prods map[string]ProdState
	// Gates that passed or failed, in order.
	Gates []GateRecord
	// Promoted: the current step was promoted; its gates pass when reached.
	Promoted bool
	// Reason for Paused or RollingBack.
	Reason string
	// FailedAt is when a gate failed (its result's time), pausing or rolling back the
	// rollout, or an abort or rollback came; zero again once a paused rollout resumes.
	FailedAt time.Time
	// FinishedAt is when the rollout succeeded (Replace keeps its originals warm for the
	// rollback window from then).
	FinishedAt time.Time
}

// Prod is one Prod of the set as observed.
type Prod struct {
	Name   string
	Labels map[string]string
	// Revision of the Prod's spec.
	Revision string
	// Available at that revision (Available True for the current generation).
	Available bool
	// Serving: available and in traffic.
	Serving bool
	// Drained: no traffic reaches it.
	Drained bool
	// Traffic is its published weight, for the traffic orders.
	Traffic int32
	// Replaces names the Prod this one replaces (Replace strategy); "" for others.
	Replaces string
	// Frozen, when not empty, says which freeze holds the Prod's cluster: no step picks
	// it, and a step that selects it waits.
	Frozen string
}

// GateStatus is the result of a gate the controller evaluates (httpCheck, prometheus).
type GateStatus int

const (
	GatePending GateStatus = iota
	GatePassed
	GateFailed
)

// GateResult is what the controller found for one gate of the current step.
type GateResult struct {
	Status  GateStatus
	Message string
	// Time of the verdict; zero means Input.Now.
	Time time.Time
	// Inconclusive (with GateFailed): the gate could not judge. Pause: the rollout
	// pauses on this failure whatever its failurePolicy (a baseline gate's
	// onInconclusive Pause).
	Inconclusive, Pause bool
	// Baseline is a baseline gate's judgement.
	Baseline *droverv1.BaselineJudgement
}

// Input is everything Next looks at.
type Input struct {
	Now    time.Time
	Policy droverv1.RolloutPolicySpec
	// Revision is the ProdSet's template revision; Previous the revision its Prods were
	// on before it (used when State has none).
	Revision, Previous string
	State              State
	Prods              []Prod
	// Gates of the current step, aligned with its policy gates; pause and approval gates
	// are Next's own and their entries are ignored. Missing entries are pending.
	Gates   []GateResult
	Command Command
	// Weight of a Prod in traffic outside a weighted step.
	Weight int32
	// MinServing: no more Prods leave traffic than keep this many serving.
	MinServing int
	// Frozen, when not empty, says which freeze holds the rollout: no Prod is picked and
	// no step passes (Prods already on their way go on, gates still run, and a failed
	// gate, an abort or a rollback still rolls back).
	Frozen string
}

// Target is what one Prod should be.
type Target struct {
	Revision string
	Weight   int32
}

// Output is Next's decision.
type Output struct {
	State State
	// Targets for every Prod, by name.
	Targets map[string]Target
	// RunGates: the controller should evaluate the current step's httpCheck and
	// prometheus gates for the step's Prods.
	RunGates bool
	// Messages say what changed, for events.
	Messages []Message
	// Waiting says what the rollout waits for now, for status.
	Waiting string
	// RequeueAfter: a timed gate ends then.
	RequeueAfter time.Duration
	// GateProds are the Prods the current step's gates check: the step's Prods, or their
	// replacements under Replace.
	GateProds []string
	// Create (Replace): make a replacement at State.Revision for each of these Prods, on
	// its cluster.
	Create []string
	// Retire: these Prods are out of traffic and drained, and are no longer wanted.
	Retire []string
}

// Message is one thing that changed in a round, for an event.
type Message struct {
	Kind MessageKind
	Text string
}

// MessageKind says what a Message is about; the controller turns it into an event reason.
type MessageKind string

// The kinds of Messages.
const (
	// MessageStarted: a new revision's rollout starts.
	MessageStarted MessageKind = "Started"
	// MessageSuperseded: a rollout under way gave way to a newer revision.
	MessageSuperseded MessageKind = "Superseded"
	// MessagePaused, MessageResumed, MessagePromoted: a command took effect.
	MessagePaused   MessageKind = "Paused"
	MessageResumed  MessageKind = "Resumed"
	MessagePromoted MessageKind = "Promoted"
	// MessageProdSelected: a step took a Prod: it leaves traffic to be updated (InPlace)
	// or gets a replacement (Replace).
	MessageProdSelected MessageKind = "ProdSelected"
	// MessageStepSkipped: a step selects no Prod and passes without its gates.
	MessageStepSkipped MessageKind = "StepSkipped"
	// MessageStepPassed: every gate of a step passed.
	MessageStepPassed MessageKind = "StepPassed"
	// MessageProdsFailed: Prods of a step missed its progressDeadline and its
	// maxFailures tolerates them: the step goes on without them.
	MessageProdsFailed MessageKind = "ProdsFailed"
	// MessageGateFailed: a gate failed; the rollout pauses or rolls back (failurePolicy).
	MessageGateFailed MessageKind = "GateFailed"
	// MessageRollingBack: an abort or rollback command started a rollback.
	MessageRollingBack MessageKind = "RollingBack"
	// MessageRolledBack: every new-revision Prod is back on the previous revision.
	MessageRolledBack MessageKind = "RolledBack"
	// MessageSucceeded: every Prod runs the new revision.
	MessageSucceeded MessageKind = "Succeeded"
)

// Next decides one round of the rollout.
func Next(in Input) Output {
	out := next(in)
	orphans(in, out.State, &out)
	slices.Sort(out.Retire)
	out.Retire = slices.Compact(out.Retire)
	return out
}

// round is one call of Next as it goes: what it was given, the state it moves along and
// what it decided so far.
type round struct {
	in Input
	st *State
	// prods are in.Prods by name.
	prods []Prod
	// serving counts the Prods serving now, less those the round took out of traffic.
	serving int
	out     *Output
}

// say adds a message for an event.
func (rd *round) say(kind MessageKind, format string, args ...any) {
	rd.out.Messages = append(rd.out.Messages, Message{Kind: kind, Text: fmt.Sprintf(format, args...)})
}

func next(in Input) Output {
	st := clone(in.State)
	out := Output{Targets: map[string]Target{}}
	rd := &round{in: in, st: &st, out: &out}
	say := rd.say

	if st.Revision != in.Revision {
		// A new revision: a rollout in progress is superseded; rolling back goes to the
		// last revision that completed.
		prev := in.Previous
		switch {
		case st.Revision != "" && st.Phase == Succeeded:
			prev = st.Revision
		case st.Revision != "":
			prev = st.Previous
		}
		if st.Revision != "" && st.Phase != Succeeded && st.Phase != RolledBack {
			say(MessageSuperseded, "rollout of %s superseded by %s", st.Revision, in.Revision)
		}
		st = State{Revision: in.Revision, Previous: prev, Phase: Progressing, Prods: map[string]ProdState{}, StepStarted: in.Now}
		say(MessageStarted, "rolling out %s (from %s)", in.Revision, prev)
	}
	// Prods that are gone (deleted, retired) are no longer the rollout's.
	present := map[string]bool{}
	for _, p := range in.Prods {
		present[p.Name] = true
	}
	for name := range st.Prods {
		if !present[name] {
			delete(st.Prods, name)
		}
	}

	switch in.Command {
	case Pause:
		if st.Phase == Progressing {
			st.Phase, st.Reason = Paused, "paused by request"
			say(MessagePaused, "paused")
		}
	case Resume:
		if st.Phase == Paused {
			st.Phase, st.Reason, st.FailedAt = Progressing, "", time.Time{}
			st.StepStarted = in.Now // a paused step's deadline does not run
			say(MessageResumed, "resumed")
		}
	case Promote:
		if st.Phase == Progressing || st.Phase == Paused {
			st.Promoted = true
			say(MessagePromoted, "step %s promoted", stepName(in.Policy, st.Step))
		}
	case Abort, Rollback:
		if st.Phase == Progressing || st.Phase == Paused || in.Command == Rollback && warm(in, st, in.Prods) {
			startRollback(&st, in.Now, fmt.Sprintf("%s requested", strings.ToLower(string(in.Command))))
			say(MessageRollingBack, "rolling back: %s", st.Reason)
		}
	}

	prods := slices.Clone(in.Prods)
	slices.SortFunc(prods, func(a, b Prod) int { return strings.Compare(a.Name, b.Name) })

	if st.Phase == RollingBack || st.Phase == RolledBack {
		return rollBack(in, st, prods, out)
	}

	steps := in.Policy.Steps
	rd.prods = prods
	for _, p := range prods {
		if p.Serving {
			rd.serving++
		}
	}
	for guard := 0; guard <= len(steps)+1; guard++ {
		advanced := false
		if st.Phase == Progressing && st.Step < len(steps) {
			advanced = rd.runStep()
		}
		if !advanced {
			break
		}
	}
	if st.Phase == RollingBack {
		return rollBack(in, st, prods, out) // a gate failed just now
	}
	if st.Phase == Progressing && st.Step >= len(steps) {
		// Every step passed: the Prods no step picked go now, one at a time within the
		// serving minimum, without gates.
		rest := remaining(in, st, prods, nil)
		for _, p := range rest {
			if in.Frozen != "" || inflight(st, len(steps)) > 0 {
				break
			}
			if p.Frozen != "" {
				continue
			}
			if replacing(in) {
				st.Prods[p.Name] = ProdState{Step: len(steps), Phase: Creating}
				continue
			}
			if p.Serving && rd.serving-1 < in.MinServing {
				break
			}
			st.Prods[p.Name] = ProdState{Step: len(steps), Phase: Draining}
			if p.Serving {
				rd.serving--
			}
		}
		if len(rest) == 0 && inflight(st, len(steps)) == 0 && allDone(st, prods, in.Revision) {
			st.Phase, st.FinishedAt = Succeeded, in.Now
			say(MessageSucceeded, "rollout of %s succeeded", in.Revision)
		}
		if f := rd.frozen(rest); f != "" && len(rest) > 0 {
			out.Waiting = "the Prods no step picked: " + f
		}
	}
	if st.Phase == Succeeded && replacing(in) {
		retireOriginals(in, st, prods, &out)
	}
	advanceProds(in, &st, prods)
	for _, p := range prods {
		out.Targets[p.Name] = target(in, st, p, prods)
	}
	if st.Phase == Progressing || st.Phase == Paused {
		out.Create = creations(in, st, prods)
		out.GateProds = gateProds(in, st, prods)
		out.Retire = append(out.Retire, staleReplacements(st, prods)...)
	}
	switch {
	case st.Phase == Paused:
		out.Waiting = st.Reason
	case st.Phase == Progressing && out.Waiting == "":
		out.Waiting = waitingForProds(st, prods)
	}
	out.State = st
	return out
}

// waitingForProds names the Prods in flight and what each waits for.
func waitingForProds(st State, prods []Prod) string {
	var parts []string
	for _, p := range prods {
		ps, ok := st.Prods[p.Name]
		if !ok || ps.Failed {
			continue
		}
		switch ps.Phase {
		case Draining:
			parts = append(parts, p.Name+" to drain")
		case Updating:
			parts = append(parts, p.Name+" to be available")
		case Creating:
			parts = append(parts, p.Name+"'s replacement to be available")
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "waiting for " + strings.Join(parts, ", ")
}

func stepName(p droverv1.RolloutPolicySpec, k int) string {
	if k < len(p.Steps) {
		return p.Steps[k].Name
	}
	return "(all steps passed)"
}

// runStep moves the current step along; it reports whether the step passed.
func (rd *round) runStep() bool {
	st := rd.st
	k := st.Step
	step := rd.in.Policy.Steps[k]
	sel := labels.Everything()
	if step.Selector != nil {
		if s, err := metav1.LabelSelectorAsSelector(step.Selector.AsMetav1()); err == nil {
			sel = s
		}
	}
	if st.StepStarted.IsZero() {
		st.StepStarted = rd.in.Now // a rollout recorded before steps had a start
	}
	members, quota := rd.pick(step, sel)
	advanceProds(rd.in, st, rd.prods)
	if inflight(*st, k) > 0 || members < quota && len(remaining(rd.in, *st, rd.prods, sel)) > 0 {
		waiting := fmt.Sprintf("step %s: waiting for Prods to leave traffic within the serving minimum", step.Name)
		w := waitingForProds(*st, rd.prods)
		if w != "" {
			waiting = fmt.Sprintf("step %s: %s", step.Name, w)
		}
		if f := rd.frozen(remaining(rd.in, *st, rd.prods, sel)); f != "" && members < quota {
			waiting = fmt.Sprintf("step %s: %s", step.Name, f)
			if w != "" {
				waiting += "; " + w
			}
			rd.holdDeadline()
		}
		if rd.pastDeadline(step, waiting) {
			return false
		}
		rd.out.Waiting = waiting
		return false
	}
	if !stepHasMembers(*st, k) {
		rd.say(MessageStepSkipped, "step %s selects no Prod; passing it", step.Name)
		rd.nextStep()
		return true
	}
	// The step's Prods are all back: its gates.
	if st.GatesStarted.IsZero() {
		st.GatesStarted = rd.in.Now
	}
	switch healthy := rd.stepHealthy(k); {
	case !healthy:
		st.HealthySince = time.Time{} // counted again from when all are back
	case st.HealthySince.IsZero():
		st.HealthySince = rd.in.Now
	}
	if st.Phase == Paused {
		return false
	}
	return rd.runGates(step)
}

// pastDeadline fails the step when its progressDeadline has passed (waiting says what it
// still waits for), as a failed gate would: the rollout pauses or rolls back. A promoted
// step has none. Otherwise it asks to be called again at the deadline.
func (rd *round) pastDeadline(step droverv1.RolloutStep, waiting string) bool {
	st := rd.st
	if step.ProgressDeadline == nil || st.Promoted || st.Phase != Progressing {
		return false
	}
	end := st.StepStarted.Add(step.ProgressDeadline.Duration)
	if rd.in.Now.Before(end) {
		rd.requeue(end.Sub(rd.in.Now))
		return false
	}
	// The step's Prods that are not back yet fail; within maxFailures the step goes on
	// without them, with a new deadline.
	var stuck []string
	failed := 0
	for _, p := range rd.prods {
		ps, ok := st.Prods[p.Name]
		switch {
		case !ok || ps.Step != st.Step:
		case ps.Failed:
			failed++
		case ps.Phase != Done:
			stuck = append(stuck, p.Name)
		}
	}
	if tolerated := int(ptr.Deref(step.MaxFailures, 0)); len(stuck) > 0 && failed+len(stuck) <= tolerated {
		for _, name := range stuck {
			ps := st.Prods[name]
			ps.Failed = true
			st.Prods[name] = ps
		}
		st.StepStarted = rd.in.Now
		rd.say(MessageProdsFailed, "step %s: %s did not become available within its progressDeadline %s; going on without them (%d of maxFailures %d)",
			step.Name, strings.Join(stuck, ", "), step.ProgressDeadline.Duration, failed+len(stuck), tolerated)
		return false
	}
	if step.MaxFailures != nil && len(stuck) > 0 {
		waiting = fmt.Sprintf("%s (%d Prods failed with these, more than maxFailures %d)", waiting, failed+len(stuck), *step.MaxFailures)
	}
	rd.fail(fmt.Sprintf("step failed: step %s did not pass within its progressDeadline %s: %s", step.Name, step.ProgressDeadline.Duration,
		strings.TrimPrefix(waiting, "step "+step.Name+": ")), end, false)
	return true
}

// frozen says what freeze holds the rollout, or the Prods among candidates: "" when none.
func (rd *round) frozen(candidates []Prod) string {
	if rd.in.Frozen != "" {
		return rd.in.Frozen
	}
	var names, why []string
	for _, p := range candidates {
		if p.Frozen != "" {
			names = append(names, p.Name)
			if !slices.Contains(why, p.Frozen) {
				why = append(why, p.Frozen)
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf("%s held: %s", strings.Join(names, ", "), strings.Join(why, "; "))
}

// holdDeadline stops the current step's progressDeadline while a freeze holds it, as a
// pause does: the deadline counts again from when the freeze lets it go.
func (rd *round) holdDeadline() {
	rd.st.StepStarted = rd.in.Now
}

// requeue asks for a call within d.
func (rd *round) requeue(d time.Duration) { rd.out.requeue(d) }

// requeue asks for a call within d, unless one is asked for sooner.
func (out *Output) requeue(d time.Duration) {
	if out.RequeueAfter == 0 || d < out.RequeueAfter {
		out.RequeueAfter = d
	}
}

// stepHealthy says whether every Prod of step k serves the new revision available: the
// Prod itself, or under Replace its replacement.
func (rd *round) stepHealthy(k int) bool {
	for _, p := range rd.prods {
		ps, ok := rd.st.Prods[p.Name]
		if !ok || ps.Step != k || ps.Failed {
			continue
		}
		if replacing(rd.in) {
			if r, has := replacementOf(p.Name, rd.prods); !has || !r.Available {
				return false
			}
			continue
		}
		if !p.Available {
			return false
		}
	}
	return true
}

// fail ends the current step as failed for reason, at time at: the rollout pauses
// (failurePolicy Pause, or pause) or rolls back.
func (rd *round) fail(reason string, at time.Time, pause bool) {
	st := rd.st
	if pause || rd.in.Policy.FailurePolicy == droverv1.PauseFailurePolicy {
		// FailedAt tells a rollout paused by its failure from one a person paused.
		st.Phase, st.Reason, st.FailedAt = Paused, reason, at
		rd.say(MessageGateFailed, "paused: %s", st.Reason)
		return
	}
	startRollback(st, at, reason)
	rd.say(MessageGateFailed, "rolling back: %s", st.Reason)
}

// pick takes the step's Prods, as many as its count and maxParallel allow, never taking
// a serving Prod out below the serving minimum. It returns how many Prods the step has
// and how many it wants.
func (rd *round) pick(step droverv1.RolloutStep, sel labels.Selector) (members, quota int) {
	st, k := rd.st, rd.st.Step
	candidates := remaining(rd.in, *st, rd.prods, sel)
	order(candidates, step)
	for _, ps := range st.Prods {
		if ps.Step == k {
			members++
		}
	}
	quota = members + len(candidates)
	if step.Count != nil {
		quota = min(quota, scaled(step.Count, len(rd.prods)))
	}
	limit := maxParallel(step.MaxParallel, quota)
	for _, p := range candidates {
		if rd.in.Frozen != "" || inflight(*st, k) >= limit || members >= quota {
			break
		}
		if p.Frozen != "" {
			continue
		}
		if replacing(rd.in) {
			// The original serves until its replacement does: the serving count never dips.
			st.Prods[p.Name] = ProdState{Step: k, Phase: Creating}
			members++
			rd.say(MessageProdSelected, "step %s: replacing %s with %s", step.Name, p.Name, rd.in.Revision)
			continue
		}
		if p.Serving && rd.serving-1 < rd.in.MinServing {
			break // it would leave too few serving; wait for one in flight to come back
		}
		st.Prods[p.Name] = ProdState{Step: k, Phase: Draining}
		members++
		if p.Serving {
			rd.serving--
		}
		rd.say(MessageProdSelected, "step %s: %s leaves traffic for %s", step.Name, p.Name, rd.in.Revision)
	}
	return members, quota
}

// runGates judges the step's gates: all passed, the step passes; one failed, the
// rollout pauses or rolls back as failurePolicy says. It reports whether the step passed.
func (rd *round) runGates(step droverv1.RolloutStep) bool {
	st, k := rd.st, rd.st.Step
	passed, failed, pause := true, "", false
	var failedAt time.Time
	var waiting []string
	records := make([]GateRecord, 0, len(step.Gates))
	for i, g := range step.Gates {
		ok, pending, msg, at := gate(rd.in, *st, i, g, st.Promoted, rd.out)
		var res GateResult
		if i < len(rd.in.Gates) && !st.Promoted {
			res = rd.in.Gates[i]
		}
		switch {
		case !ok && !pending:
			failed = fmt.Sprintf("step %s, gate %d (%s): %s", step.Name, i+1, GateType(g), msg)
			failedAt, pause = at, res.Pause
			st.Gates = append(st.Gates, GateRecord{Step: k, Gate: i, Inconclusive: res.Inconclusive, Message: msg, Time: at, Baseline: res.Baseline})
		case pending:
			passed = false
			waiting = append(waiting, fmt.Sprintf("gate %d (%s): %s", i+1, GateType(g), msg))
		default:
			records = append(records, GateRecord{Step: k, Gate: i, Passed: true, Message: msg, Time: at, Baseline: res.Baseline})
		}
		if failed != "" {
			break
		}
	}
	if failed != "" {
		rd.fail("gate failed: "+failed, failedAt, pause)
		return false
	}
	if passed && rd.in.Frozen != "" {
		passed = false
		waiting = append(waiting, rd.in.Frozen)
		rd.holdDeadline()
	}
	if passed && step.MinHealthyTime != nil && !st.Promoted {
		switch end := st.HealthySince.Add(step.MinHealthyTime.Duration); {
		case st.HealthySince.IsZero():
			passed = false
			waiting = append(waiting, fmt.Sprintf("minHealthyTime %s: not every Prod of the step is available", step.MinHealthyTime.Duration))
		case rd.in.Now.Before(end):
			passed = false
			waiting = append(waiting, fmt.Sprintf("minHealthyTime %s: healthy for %s", step.MinHealthyTime.Duration, rd.in.Now.Sub(st.HealthySince).Round(time.Second)))
			rd.requeue(end.Sub(rd.in.Now))
		}
	}
	if !passed {
		w := fmt.Sprintf("step %s: %s", step.Name, strings.Join(waiting, "; "))
		if rd.pastDeadline(step, w) {
			return false
		}
		rd.out.Waiting = w
		return false
	}
	st.Gates = append(st.Gates, records...)
	rd.say(MessageStepPassed, "step %s passed", step.Name)
	rd.nextStep()
	return true
}

// nextStep moves on to the next step, its gates not started nor promoted.
func (rd *round) nextStep() {
	rd.st.Step++
	rd.st.GatesStarted, rd.st.HealthySince, rd.st.Promoted = time.Time{}, time.Time{}, false
	rd.st.StepStarted = rd.in.Now
}

func stepHasMembers(st State, k int) bool {
	for _, ps := range st.Prods {
		if ps.Step == k {
			return true
		}
	}
	return false
}

// GateType names a gate's kind as the policy spells it.
func GateType(g droverv1.Gate) string {
	switch {
	case g.Pause != nil:
		return "pause"
	case g.Approval != nil:
		return "approval"
	case g.HTTPCheck != nil:
		return "httpCheck"
	case g.Prometheus != nil:
		return "prometheus"
	case g.Baseline != nil:
		return "baseline"
	case g.Template != nil:
		return "template"
	}
	return "unknown"
}

// gate evaluates gate i of the current step: ok, still pending, why, and when decided.
func gate(in Input, st State, i int, g droverv1.Gate, promoted bool, out *Output) (bool, bool, string, time.Time) {
	ok, pending, msg, at := evaluate(in, st, i, g, out)
	if !ok && promoted {
		return true, false, "promoted", in.Now
	}
	return ok, pending, msg, at
}

// evaluate is gate without a promotion.
func evaluate(in Input, st State, i int, g droverv1.Gate, out *Output) (bool, bool, string, time.Time) {
	switch {
	case g.Pause != nil && g.Pause.Duration != nil:
		end := st.GatesStarted.Add(g.Pause.Duration.Duration)
		if !in.Now.Before(end) {
			return true, false, "paused for " + g.Pause.Duration.Duration.String(), in.Now
		}
		out.requeue(end.Sub(in.Now))
		return false, true, "pausing until " + end.UTC().Format(time.RFC3339), in.Now
	case g.Pause != nil, g.Approval != nil:
		msg := "waiting for approval (promote)"
		if g.Approval != nil && g.Approval.Message != "" {
			msg += ": " + g.Approval.Message
		}
		return false, true, msg, in.Now
	}
	out.RunGates = true
	if i >= len(in.Gates) {
		return false, true, "not evaluated yet", in.Now
	}
	r := in.Gates[i]
	at := r.Time
	if at.IsZero() {
		at = in.Now
	}
	switch r.Status {
	case GatePassed:
		return true, false, r.Message, at
	case GateFailed:
		return false, false, r.Message, at
	}
	msg := r.Message
	if msg == "" {
		msg = "running"
	}
	return false, true, msg, at
}

// advanceProds moves each picked Prod through its phases as far as what was observed
// allows.
func advanceProds(in Input, st *State, prods []Prod) {
	for _, p := range prods {
		ps, ok := st.Prods[p.Name]
		if !ok {
			continue
		}
		r, hasReplacement := replacementOf(p.Name, prods)
		switch ps.Phase {
		case Draining:
			if p.Drained {
				ps.Phase = Updating
			}
		case Updating:
			if p.Revision == st.Revision && p.Available {
				ps.Phase, ps.Failed = Done, false
			}
		case Creating:
			if hasReplacement && r.Revision == st.Revision && r.Available {
				ps.Phase, ps.Failed = Done, false
			}
		case Reverting:
			switch {
			case replacing(in):
				// Back once its replacement is gone.
				if !hasReplacement && p.Available {
					ps.Phase = Reverted
				}
			case p.Drained && p.Revision == st.Previous && p.Available:
				ps.Phase = Reverted
			}
		}
		st.Prods[p.Name] = ps
	}
}

// target is what a Prod should be given the state.
func target(in Input, st State, p Prod, prods []Prod) Target {
	if p.Replaces != "" {
		return replacementTarget(in, st, p)
	}
	ps, picked := st.Prods[p.Name]
	if !picked {
		rev := p.Revision
		if rev == "" {
			rev = st.Previous
		}
		return Target{Revision: rev, Weight: in.Weight}
	}
	if replacing(in) {
		// The original keeps its revision; it serves until its replacement does, and again
		// in a rollback. A replacement held at weight 0 by its step does not serve yet, so
		// its original keeps serving until the step passes (else a step of weight 0 would
		// take every Prod it picks out of traffic, below the serving minimum).
		switch {
		case ps.Phase == Done && stepWeight(in, st, ps) > 0:
			return Target{Revision: p.Revision, Weight: 0}
		default:
			return Target{Revision: p.Revision, Weight: in.Weight}
		}
	}
	switch ps.Phase {
	case Draining:
		return Target{Revision: p.Revision, Weight: 0}
	case Updating:
		return Target{Revision: st.Revision, Weight: 0}
	case Done:
		return Target{Revision: st.Revision, Weight: stepWeight(in, st, ps)}
	case Reverting:
		rev := p.Revision
		if p.Drained {
			rev = st.Previous
		}
		return Target{Revision: rev, Weight: 0}
	}
	return Target{Revision: st.Previous, Weight: in.Weight} // Reverted
}

// stepWeight is the weight of a Prod on the new revision picked in step ps.Step: the
// step's weight while that step is the current one, the full weight after.
func stepWeight(in Input, st State, ps ProdState) int32 {
	if st.Phase != Succeeded && ps.Step == st.Step && ps.Step < len(in.Policy.Steps) && in.Policy.Steps[ps.Step].Weight != nil {
		return *in.Policy.Steps[ps.Step].Weight
	}
	return in.Weight
}

// replacementTarget is what a replacement should be: out of traffic until its original
// is Done, then at the step's weight; out again in a rollback. A replacement whose
// original the rollout did not pick is an orphan (see orphans).
func replacementTarget(in Input, st State, r Prod) Target {
	ps, picked := st.Prods[r.Replaces]
	switch {
	case !picked:
		return Target{Revision: r.Revision, Weight: in.Weight}
	case ps.Phase == Done:
		return Target{Revision: r.Revision, Weight: stepWeight(in, st, ps)}
	}
	return Target{Revision: r.Revision, Weight: 0}
}

// startRollback takes every picked Prod out of traffic at once (InPlace), or gives the
// originals their traffic back from their replacements at once (Replace).
func startRollback(st *State, now time.Time, reason string) {
	st.Phase, st.Reason, st.FailedAt, st.FinishedAt = RollingBack, reason, now, time.Time{}
	for name, ps := range st.Prods {
		ps.Phase, ps.Failed = Reverting, false
		st.Prods[name] = ps
	}
}

// rollBack reverts the picked Prods once they are drained. Every new-revision Prod
// leaves traffic in the same round, except, under InPlace, as many as the serving
// minimum needs while too few previous-revision Prods serve; those keep their weight
// (and revision) until reverted ones are back. Under Replace the originals take the
// traffic back in that same round and the drained replacements are retired.
func rollBack(in Input, st State, prods []Prod, out Output) Output {
	advanceProds(in, &st, prods)
	keep := map[string]bool{}
	if !replacing(in) {
		serving := 0
		for _, p := range prods {
			if ps, ok := st.Prods[p.Name]; (!ok || ps.Phase == Reverted) && p.Serving {
				serving++
			}
		}
		for _, p := range prods {
			if serving >= in.MinServing {
				break
			}
			if ps, ok := st.Prods[p.Name]; ok && ps.Phase == Reverting && p.Serving && p.Revision == st.Revision {
				keep[p.Name] = true
				serving++
			}
		}
	}
	done := true
	for _, p := range prods {
		if ps, ok := st.Prods[p.Name]; ok && ps.Phase != Reverted {
			done = false
		}
		if _, picked := st.Prods[p.Replaces]; p.Replaces != "" && picked {
			if p.Drained {
				out.Retire = append(out.Retire, p.Name)
			}
		}
		if keep[p.Name] {
			out.Targets[p.Name] = Target{Revision: p.Revision, Weight: in.Weight}
			continue
		}
		out.Targets[p.Name] = target(in, st, p, prods)
	}
	if done && st.Phase == RollingBack {
		st.Phase, st.FinishedAt = RolledBack, in.Now
		out.Messages = append(out.Messages, Message{Kind: MessageRolledBack, Text: fmt.Sprintf("rolled back to %s", st.Previous)})
	}
	if st.Phase == RollingBack {
		out.Waiting = "rolling back (" + st.Reason + "): waiting for new-revision Prods to drain and revert"
	}
	out.State = st
	return out
}

func replacing(in Input) bool { return in.Policy.Strategy == droverv1.ReplaceStrategy }

// replacementOf finds the replacement of the Prod named original.
func replacementOf(original string, prods []Prod) (Prod, bool) {
	for _, p := range prods {
		if p.Replaces == original {
			return p, true
		}
	}
	return Prod{}, false
}

// creations are the picked Prods still waiting for a replacement to be made.
func creations(in Input, st State, prods []Prod) []string {
	var out []string
	for _, p := range prods {
		if ps, ok := st.Prods[p.Name]; ok && ps.Phase == Creating {
			if _, has := replacementOf(p.Name, prods); !has {
				out = append(out, p.Name)
			}
		}
	}
	return out
}

// staleReplacements are drained replacements of picked Prods made from another revision
// (by a rollout this one superseded): they go, and a new replacement is made.
func staleReplacements(st State, prods []Prod) []string {
	var out []string
	for _, p := range prods {
		if ps, ok := st.Prods[p.Replaces]; ok && p.Replaces != "" && ps.Phase == Creating && p.Revision != st.Revision && p.Drained {
			out = append(out, p.Name)
		}
	}
	return out
}

// gateProds are the Prods the current step's gates check.
func gateProds(in Input, st State, prods []Prod) []string {
	var out []string
	for _, p := range prods {
		ps, ok := st.Prods[p.Name]
		if !ok || ps.Step != st.Step || ps.Failed {
			continue
		}
		if !replacing(in) {
			out = append(out, p.Name)
		} else if r, has := replacementOf(p.Name, prods); has {
			out = append(out, r.Name)
		}
	}
	return out
}

// warm reports whether a succeeded Replace rollout still keeps its originals: within
// the rollback window, a rollback is a weight change.
func warm(in Input, st State, prods []Prod) bool {
	if !replacing(in) || st.Phase != Succeeded || st.Revision != in.Revision {
		return false
	}
	window := time.Duration(0)
	if in.Policy.RollbackWindow != nil {
		window = in.Policy.RollbackWindow.Duration
	}
	if !in.Now.Before(st.FinishedAt.Add(window)) {
		return false
	}
	for name := range st.Prods {
		if _, has := replacementOf(name, prods); has {
			return true
		}
	}
	return false
}

// retireOriginals retires the warm originals of a succeeded Replace rollout once the
// rollback window has passed.
func retireOriginals(in Input, st State, prods []Prod, out *Output) {
	window := time.Duration(0)
	if in.Policy.RollbackWindow != nil {
		window = in.Policy.RollbackWindow.Duration
	}
	if end := st.FinishedAt.Add(window); in.Now.Before(end) {
		out.requeue(end.Sub(in.Now))
		out.Waiting = fmt.Sprintf("previous-revision Prods kept warm for a rollback until %s", end.UTC().Format(time.RFC3339))
		return
	}
	for _, p := range prods {
		if ps, ok := st.Prods[p.Name]; ok && ps.Phase == Done && p.Drained {
			if _, has := replacementOf(p.Name, prods); has {
				out.Retire = append(out.Retire, p.Name)
			}
		}
	}
}

// orphans settles the pairs of a Prod and its replacement that the rollout did not pick
// (left by a rollout that was superseded): the one serving stays, the other leaves
// traffic and is retired once drained. When neither or both serve, the replacement
// stays if it is available.
func orphans(in Input, st State, out *Output) {
	for _, r := range in.Prods {
		if r.Replaces == "" {
			continue
		}
		if _, picked := st.Prods[r.Replaces]; picked {
			continue
		}
		var orig *Prod
		for i := range in.Prods {
			if in.Prods[i].Name == r.Replaces {
				orig = &in.Prods[i]
			}
		}
		if orig == nil {
			continue // the original is gone: the replacement is a Prod like the others
		}
		loser := *orig
		if orig.Serving && !r.Serving || !r.Available && orig.Available && orig.Serving == r.Serving {
			loser = r
		}
		t := out.Targets[loser.Name]
		t.Weight = 0
		out.Targets[loser.Name] = t
		if loser.Drained {
			out.Retire = append(out.Retire, loser.Name)
		}
	}
}

// remaining are the Prods not picked yet and not on the new revision, that sel selects
// (nil: all).
func remaining(in Input, st State, prods []Prod, sel labels.Selector) []Prod {
	var out []Prod
	for _, p := range prods {
		if _, picked := st.Prods[p.Name]; picked || p.Revision == in.Revision || p.Replaces != "" {
			continue
		}
		if sel != nil && !sel.Matches(labels.Set(p.Labels)) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func inflight(st State, step int) int {
	n := 0
	for _, ps := range st.Prods {
		if ps.Step == step && ps.Phase != Done && !ps.Failed {
			n++
		}
	}
	return n
}

func allDone(st State, prods []Prod, rev string) bool {
	for _, p := range prods {
		ps, picked := st.Prods[p.Name]
		if picked && ps.Phase != Done && !ps.Failed || !picked && p.Revision != rev {
			return false
		}
	}
	return true
}

// order sorts a step's candidates as the step says; names break ties.
func order(ps []Prod, step droverv1.RolloutStep) {
	rank := func(p Prod) int {
		v := p.Labels[step.OrderLabel]
		if i := slices.Index(step.OrderValues, v); i >= 0 {
			return i
		}
		return len(step.OrderValues)
	}
	slices.SortStableFunc(ps, func(a, b Prod) int {
		switch step.Order {
		case droverv1.LeastTrafficFirstOrder:
			return cmp.Or(cmp.Compare(a.Traffic, b.Traffic), strings.Compare(a.Name, b.Name))
		case droverv1.MostTrafficFirstOrder:
			return cmp.Or(cmp.Compare(b.Traffic, a.Traffic), strings.Compare(a.Name, b.Name))
		case droverv1.LabelValueOrder:
			return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a.Labels[step.OrderLabel], b.Labels[step.OrderLabel]), strings.Compare(a.Name, b.Name))
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// scaled resolves a count against total: a percentage rounds up; at least 1.
func scaled(v *intstr.IntOrString, total int) int {
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, true)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

// maxParallel resolves a step's maxParallel against its number of Prods: a percentage
// rounds up, and it is at least 1.
func maxParallel(v *intstr.IntOrString, total int) int {
	if v == nil {
		return 1
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, total, true)
	if err != nil || n < 1 {
		return 1
	}
	return n
}

func clone(s State) State {
	out := s
	out.Prods = make(map[string]ProdState, len(s.Prods))
	for k, v := range s.Prods {
		out.Prods[k] = v
	}
	out.Gates = slices.Clone(s.Gates)
	return out
}
