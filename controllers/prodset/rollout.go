package prodset

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/gates"
	"github.com/drover-dev/drover/internal/plan"
	"github.com/drover-dev/drover/internal/rollout"
	rolloutread "github.com/drover-dev/drover/internal/rollout/read"
	"github.com/drover-dev/drover/internal/tenancy"
	tenancyread "github.com/drover-dev/drover/internal/tenancy/read"
)

// rolloutScope is what the rollout part of one reconcile decided.
type rolloutScope struct {
	// revisions is the revision every Prod should be on, by name.
	revisions map[string]string
	// createRevision is the revision new Prods are made from: the stable one while a
	// reconcileRollout is under way, so they join it like the others.
	createRevision string
	// decided says how the rollout decided, for the RolledOut condition.
	decided rolloutDecision
	// behind counts the Prods not yet available on the template (rolloutAtOnce).
	behind int
	// heldReason and heldMessage say why the rollout is held (rolloutHeld).
	heldReason, heldMessage string
	// rollingBack: the rollout is rolling back and its traffic change is not submitted yet.
	rollingBack bool
	// create names the Prods that get a replacement now (Replace).
	create []string
	// weights is what the rollout decided about weights, for plan.Merge; nil when it
	// decided nothing about them.
	weights *plan.RolloutWeights
	// command is the rollout command acted on, for the set's Release; steps is how many
	// steps the policy has.
	command rollout.Command
	steps   int
}

// rolloutDecision is how the rollout part of a reconcile decided.
type rolloutDecision int

const (
	// rolloutNotRun: the reconcile ended before the rollout decided anything.
	rolloutNotRun rolloutDecision = iota
	// rolloutAtOnce: no RolloutPolicy (or the set is being deleted): every Prod moves to
	// the template at once.
	rolloutAtOnce
	// rolloutHeld: the policy is missing, unreadable or invalid; no Prod moves.
	rolloutHeld
	// rolloutByPolicy: rollout.Next decided; status.rollout has its state.
	rolloutByPolicy
)

// reconcileRollout decides which revision each Prod runs and at which weight, through the set's
// RolloutPolicy when it has one. Without one, every Prod moves to the template at once.
// It runs after plan.ProdSet, from the plan's weights; plan.Merge then puts the two
// together (see scope.weights).
func (r *Reconciler) reconcileRollout(ctx context.Context, s *scope) (ctrl.Result, error) {
	set := s.set
	var errs []error
	s.ro = rolloutScope{revisions: map[string]string{}, createRevision: s.revision}
	if set.DeletionTimestamp.IsZero() {
		var inUse []string
		for _, p := range s.prods {
			inUse = append(inUse, p.Labels[droverv1.RevisionLabel])
		}
		if st := set.Status.Rollout; st != nil {
			inUse = append(inUse, st.Revision, st.PreviousRevision)
		}
		if err := r.history.ensure(ctx, set, s.revision, inUse); err != nil {
			errs = append(errs, err)
		}
	}
	ref := set.Spec.RolloutPolicyRef
	if !set.DeletionTimestamp.IsZero() {
		r.noPolicy(s)
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	}
	if ref == nil {
		r.atOnceUnlessFrozen(ctx, s, &errs)
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	}
	policy := &droverv1.RolloutPolicy{}
	err := r.Client.Get(ctx, client.ObjectKey{Namespace: set.Namespace, Name: ref.Name}, policy)
	switch {
	case apierrors.IsNotFound(err):
		r.hold(ctx, s, droverv1.ProdSetPolicyNotFoundReason, fmt.Sprintf("RolloutPolicy %s not found: no Prod moves to revision %s until it exists", ref.Name, s.revision))
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	case err != nil:
		errs = append(errs, fmt.Errorf("reading RolloutPolicy %s: %w", ref.Name, err))
		r.hold(ctx, s, droverv1.ProdSetRolloutProgressing, "cannot read the RolloutPolicy: "+err.Error())
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	}
	defaultProm := ""
	if r.Gates != nil {
		defaultProm = r.Gates.Prometheus.Address
	}
	// The policy's analysis templates are put in place of the steps that use them: the
	// engine and the gate runner see only concrete gates.
	resolved, err := rollout.Prepare(policy.Spec, rolloutread.Lookup(ctx, r.Client, set.Namespace), defaultProm)
	if errors.Is(err, rollout.ErrLookup) {
		errs = append(errs, err)
		r.hold(ctx, s, droverv1.ProdSetRolloutProgressing, "cannot read an analysis template: "+err.Error())
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	}
	if err != nil {
		r.hold(ctx, s, droverv1.ProdSetPolicyInvalidReason, fmt.Sprintf("RolloutPolicy %s is invalid, no Prod moves to revision %s: %v", ref.Name, s.revision, err))
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	}
	policy = policy.DeepCopy()
	policy.Spec = resolved
	state := stateFromStatus(set.Status.Rollout)
	frozen, err := r.readFreezes(ctx, s)
	if err != nil {
		errs = append(errs, err)
		return ctrl.Result{}, kerrors.NewAggregate(errs)
	}
	in := rollout.Input{
		Now: s.now, Policy: policy.Spec, Revision: s.revision, Previous: r.stableRevision(s),
		State: state, Weight: ptr.Deref(set.Spec.Template.Spec.Traffic.Weight, droverv1.DefaultWeight),
		MinServing: int(set.Status.MinServing), Frozen: frozen.set,
	}
	for _, p := range s.prods {
		if !rolloutMember(s, p) {
			continue
		}
		w := s.plan.Weights[p.Name]
		in.Prods = append(in.Prods, rollout.Prod{
			Name: p.Name, Labels: selectorLabels(s, p), Revision: p.Labels[droverv1.RevisionLabel],
			Available: currentAndAvailable(p),
			Serving:   currentAndAvailable(p) && w > 0 && s.plan.Evicted[p.Name] == "",
			Drained:   r.drained(s, p),
			Traffic:   s.publishedWeight(p.Name),
			Replaces:  p.Labels[droverv1.ReplacesLabel],
			Frozen:    frozen.byCluster[clusterKey(p)],
		})
	}
	cmd := r.command(s, state)
	in.Command = cmd
	s.ro.command, s.ro.steps = cmd, len(policy.Spec.Steps)
	if state.Revision == s.revision && state.Phase == rollout.Progressing && !state.GatesStarted.IsZero() {
		s.gateFailures = r.gateFailures(s) // what the verdicts below include
		gates, err := r.gateResults(ctx, s, policy.Spec, state)
		if err != nil {
			errs = append(errs, err) // the gates stay pending until it can be read
		}
		in.Gates = gates
	}

	out := rollout.Next(in)
	for _, m := range out.Messages {
		reason, eventType := rolloutEvent(m.Kind)
		r.event(set, eventType, reason, "Rollout", "%s", m.Text)
	}
	if cmd == rollout.Rollback && out.State.Phase != rollout.RollingBack {
		r.event(set, corev1.EventTypeWarning, ReasonCommandIgnored, "Rollout",
			"rollback: the rollout of %s finished and no previous-revision Prod is kept warm (InPlace, or past the Replace rollbackWindow); apply the previous template to go back", s.revision)
	}
	s.ro.create = out.Create
	s.ro.weights = &plan.RolloutWeights{Targets: map[string]int32{}, Retire: out.Retire}
	if out.RunGates && (state.GatesStarted.IsZero() || state.Step != out.State.Step) {
		// Start them now; their end wakes the set.
		if _, err := r.gateResults(ctx, s, policy.Spec, out.State); err != nil {
			errs = append(errs, err)
		}
	}
	r.forgetGates(s, policy.Spec, out.State)
	s.after(out.RequeueAfter)

	for _, p := range s.prods {
		t, ok := out.Targets[p.Name]
		if !ok {
			s.ro.revisions[p.Name] = p.Labels[droverv1.RevisionLabel]
			continue
		}
		s.ro.revisions[p.Name] = t.Revision
		s.ro.weights.Targets[p.Name] = t.Weight
	}
	if out.State.Phase != rollout.Succeeded && out.State.Phase != rollout.RolledBack {
		if r.hasTemplate(ctx, s, out.State.Previous) {
			s.ro.createRevision = out.State.Previous
		}
	}
	r.recordRollout(s, policy, cmd, out)
	return ctrl.Result{}, kerrors.NewAggregate(errs)
}

// selectorLabels are the labels a step's selector matches for a Prod: its Cluster's
// labels, the Prod's own (which win), and drover.dev/cluster.
func selectorLabels(s *scope, p *droverv1.Prod) map[string]string {
	out := map[string]string{}
	for _, c := range s.clusters {
		if c.Name == p.Spec.ClusterRef.Name {
			maps.Copy(out, c.Labels)
		}
	}
	maps.Copy(out, p.Labels)
	out[droverv1.ClusterNameLabel] = p.Spec.ClusterRef.Name
	return out
}

// rolloutMember reports whether a Prod takes part in rollouts: not being deleted, not
// superseded, not retiring.
func rolloutMember(s *scope, p *droverv1.Prod) bool {
	return p.DeletionTimestamp.IsZero() && p.Annotations[droverv1.SupersededAnnotation] == "" && !slices.Contains(s.plan.Delete, p.Name)
}

// currentAndAvailable: the Prod's Available condition is True for its current spec.
func currentAndAvailable(p *droverv1.Prod) bool {
	c := conditions.Get(p, droverv1.ProdAvailableCondition)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == p.Generation
}

// publishedWeight is the weight DNS has for a Prod, 0 when none.
func (s *scope) publishedWeight(name string) int32 {
	if sum := s.summaries[name]; sum != nil && sum.PublishedWeight != nil {
		return *sum.PublishedWeight
	}
	return 0
}

// stableRevision is the revision the set's Prods were on before the current template:
// the last rollout's revision when it finished, else the revision most Prods carry.
func (r *Reconciler) stableRevision(s *scope) string {
	if st := s.set.Status.Rollout; st != nil {
		switch st.Phase {
		case droverv1.RolloutSucceeded:
			return st.Revision
		case droverv1.RolloutRolledBack:
			return st.PreviousRevision
		}
	}
	count := map[string]int{}
	for _, p := range s.prods {
		if rev := p.Labels[droverv1.RevisionLabel]; rev != s.revision && rev != "" {
			count[rev]++
		}
	}
	best := ""
	for rev, n := range count {
		if best == "" || n > count[best] || n == count[best] && rev < best {
			best = rev
		}
	}
	if best == "" {
		return s.set.Status.CurrentRevision
	}
	return best
}

// noPolicy moves every Prod to the template at once.
func (r *Reconciler) noPolicy(s *scope) {
	s.ro.decided = rolloutAtOnce
	for _, p := range s.prods {
		s.ro.revisions[p.Name] = s.revision
		if p.Labels[droverv1.RevisionLabel] != s.revision || !currentAndAvailable(p) {
			s.ro.behind++
		}
	}
}

// atOnceUnlessFrozen moves every Prod of a set without a RolloutPolicy to the template
// at once (noPolicy), unless a freeze holds: a freeze of the set holds every Prod where it
// is, one of a cluster holds the Prods on it.
func (r *Reconciler) atOnceUnlessFrozen(ctx context.Context, s *scope, errs *[]error) {
	fz, err := r.readFreezes(ctx, s)
	if err != nil {
		*errs = append(*errs, err)
		return
	}
	behind := slices.ContainsFunc(s.prods, func(p *droverv1.Prod) bool { return p.Labels[droverv1.RevisionLabel] != s.revision })
	if fz.set != "" && behind {
		r.hold(ctx, s, droverv1.ProdSetRolloutFrozenReason, fmt.Sprintf("%s: no Prod moves to revision %s", fz.set, s.revision))
		return
	}
	r.noPolicy(s)
	for _, p := range s.prods {
		if fz.byCluster[clusterKey(p)] != "" && p.Labels[droverv1.RevisionLabel] != s.revision {
			s.ro.revisions[p.Name] = p.Labels[droverv1.RevisionLabel]
		}
	}
}

// hold keeps every Prod on the revision it runs, and new Prods on the stable revision,
// and says why.
func (r *Reconciler) hold(ctx context.Context, s *scope, reason, msg string) {
	for _, p := range s.prods {
		s.ro.revisions[p.Name] = p.Labels[droverv1.RevisionLabel]
	}
	if stable := r.stableRevision(s); stable != "" && r.hasTemplate(ctx, s, stable) {
		s.ro.createRevision = stable
	}
	if prev := conditions.Get(s.set, droverv1.ProdSetRolledOutCondition); prev == nil || prev.Reason != reason {
		r.event(s.set, corev1.EventTypeWarning, reason, "Rollout", "%s", msg)
	}
	s.ro.decided, s.ro.heldReason, s.ro.heldMessage = rolloutHeld, reason, msg
	s.after(30 * time.Second)
}

func (r *Reconciler) hasTemplate(ctx context.Context, s *scope, rev string) bool {
	if rev == "" {
		return false
	}
	t, err := r.template(ctx, s, rev)
	return err == nil && t != nil
}

// template is the template of revision rev of the set.
func (r *Reconciler) template(ctx context.Context, s *scope, rev string) (*droverv1.ProdTemplate, error) {
	if rev == s.revision {
		return &s.set.Spec.Template, nil
	}
	return r.history.template(ctx, s.set, rev)
}

// command is the rollout command the set's annotation asks for, if not acted on yet.
func (r *Reconciler) command(s *scope, state rollout.State) rollout.Command {
	v := s.set.Annotations[droverv1.RolloutCommandAnnotation]
	if v == "" || v == s.set.Status.ObservedRolloutCommand {
		return rollout.NoCommand
	}
	s.set.Status.ObservedRolloutCommand = v
	word, _, _ := strings.Cut(v, "@")
	var cmd rollout.Command
	switch strings.ToLower(strings.TrimSpace(word)) {
	case "pause":
		cmd = rollout.Pause
	case "resume":
		cmd = rollout.Resume
	case "promote":
		cmd = rollout.Promote
	case "abort":
		cmd = rollout.Abort
	case "rollback":
		cmd = rollout.Rollback
	default:
		r.event(s.set, corev1.EventTypeWarning, ReasonUnknownCommand, "Rollout",
			"%s=%q: the command must be pause, resume, promote, abort or rollback, optionally followed by @ and an id", droverv1.RolloutCommandAnnotation, v)
		return rollout.NoCommand
	}
	active := state.Revision == s.revision && (state.Phase == rollout.Progressing || state.Phase == rollout.Paused)
	if cmd == rollout.Rollback && state.Revision == s.revision && state.Phase == rollout.Succeeded {
		active = true // a Replace rollout's originals may still be warm; Next decides
	}
	if !active {
		r.event(s.set, corev1.EventTypeWarning, ReasonCommandIgnored, "Rollout",
			"%s: no rollout is in progress (to return to an earlier version after a rollout finished, apply its template again)", v)
		return rollout.NoCommand
	}
	return cmd
}

// gateKey identifies one evaluation of a gate: a new revision, step, start of the
// step's gates or a verdict recorded since (a failure paused, then resumed) is a new
// evaluation.
func gateKey(st rollout.State, gate int) string {
	return fmt.Sprintf("%s/%d/%d/%d/%d", st.Revision, st.Step, gate, st.GatesStarted.Unix(), len(st.Gates))
}

// gateResults returns the verdicts of the current step's httpCheck, prometheus and
// baseline gates, starting the evaluations not started yet under the tenancy of the set's
// namespace (what the gates may reach). It fails, and starts nothing, when that tenancy
// cannot be read. A baseline gate compares the step's Prods with the set's Prods that the
// rollout has not picked, on the previous revision, current, available and serving
// (baselineTargets).
func (r *Reconciler) gateResults(ctx context.Context, s *scope, policy droverv1.RolloutPolicySpec, st rollout.State) ([]rollout.GateResult, error) {
	if r.Gates == nil || st.Step >= len(policy.Steps) {
		return nil, nil
	}
	step := policy.Steps[st.Step]
	if !slices.ContainsFunc(step.Gates, runnerGate) {
		return nil, nil
	}
	reach, err := r.namespacePolicy(ctx, s)
	if err != nil {
		return nil, err
	}
	var targets []gates.Target
	for _, p := range s.prods {
		ps, ok := st.Prods[p.Name]
		if !ok || ps.Step != st.Step || ps.Failed {
			continue
		}
		if policy.Strategy == droverv1.ReplaceStrategy {
			if p = s.replacementOf(p.Name); p == nil {
				continue
			}
		}
		targets = append(targets, gates.Target{Prod: p.Name, Host: endpointHost(p), Version: p.Spec.Version})
	}
	out := make([]rollout.GateResult, len(step.Gates))
	for i, g := range step.Gates {
		if !runnerGate(g) {
			continue
		}
		job := gates.Job{Owner: client.ObjectKeyFromObject(s.set), Key: gateKey(st, i), Gate: g, Targets: targets, Policy: reach}
		if g.Baseline != nil {
			job.Baseline = baselineTargets(s, st)
		}
		v := r.Gates.Get(job)
		res := rollout.GateResult{Status: rollout.GatePending, Message: v.Message, Time: v.Time,
			Inconclusive: v.Inconclusive, Pause: v.Pause, Baseline: v.Baseline}
		if v.Done {
			res.Status = rollout.GateFailed
			if v.Passed {
				res.Status = rollout.GatePassed
			}
		}
		out[i] = res
	}
	return out, nil
}

// runnerGate says whether the gate runner evaluates g (the others are the engine's own).
func runnerGate(g droverv1.Gate) bool {
	return g.HTTPCheck != nil || g.Prometheus != nil || g.Baseline != nil
}

// baselineTargets are the Prods a baseline gate compares the step's with: the set's
// Prods the rollout has not picked, on its previous revision, current, available and
// serving, by name.
func baselineTargets(s *scope, st rollout.State) []gates.Target {
	var out []gates.Target
	for _, p := range s.prods {
		if _, picked := st.Prods[p.Name]; picked || !rolloutMember(s, p) || p.Labels[droverv1.ReplacesLabel] != "" {
			continue
		}
		if p.Labels[droverv1.RevisionLabel] != st.Previous || !currentAndAvailable(p) ||
			s.plan.Weights[p.Name] <= 0 || s.plan.Evicted[p.Name] != "" {
			continue
		}
		out = append(out, gates.Target{Prod: p.Name, Host: endpointHost(p), Version: p.Spec.Version})
	}
	slices.SortFunc(out, func(a, b gates.Target) int { return strings.Compare(a.Prod, b.Prod) })
	return out
}

// namespacePolicy is the tenancy of the set's namespace, which its record name and its
// gates are judged by: read once per reconcile, with the manager's --gate-networks for a
// namespace without a Tenant.
func (r *Reconciler) namespacePolicy(ctx context.Context, s *scope) (tenancy.Policy, error) {
	if s.tenancy == nil {
		p, err := tenancyread.Policy(ctx, r.Client, s.set.Namespace, r.SingleTeam)
		if err != nil {
			return tenancy.Policy{}, err
		}
		p.DefaultGateNetworks = r.GateNetworks
		s.tenancy = &p
	}
	return *s.tenancy, nil
}

// forgetGates stops and forgets the evaluations the rollout no longer needs.
func (r *Reconciler) forgetGates(s *scope, policy droverv1.RolloutPolicySpec, st rollout.State) {
	if r.Gates == nil {
		return
	}
	keep := map[string]bool{}
	if st.Phase == rollout.Progressing && st.Step < len(policy.Steps) && !st.GatesStarted.IsZero() {
		for i := range policy.Steps[st.Step].Gates {
			keep[gateKey(st, i)] = true
		}
	}
	r.Gates.Forget(client.ObjectKeyFromObject(s.set), func(k string) bool { return keep[k] })
}

func forgetAllGates(g *gates.Runner, set types.NamespacedName) {
	if g != nil {
		g.Forget(set, nil)
	}
}

// replacementOf is the Prod replacing the one named original, if any.
func (s *scope) replacementOf(original string) *droverv1.Prod {
	for _, p := range s.prods {
		if p.Labels[droverv1.ReplacesLabel] == original && p.DeletionTimestamp.IsZero() {
			return p
		}
	}
	return nil
}

// reconcileReplacements makes, for each Prod the Replace rollout asked for, a Prod beside
// it on its cluster from the template being rolled out, out of traffic; the rollout
// gives it traffic once it is available.
func (r *Reconciler) reconcileReplacements(ctx context.Context, s *scope) (ctrl.Result, error) {
	var errs []error
	taken := map[string]bool{}
	for _, p := range s.prods {
		taken[p.Name] = true
	}
	for _, orig := range s.ro.create {
		if r.interrupted(ctx, s) {
			break
		}
		p := s.prod(orig)
		if p == nil || s.replacementOf(orig) != nil {
			continue
		}
		created, index, err := r.freeProdName(ctx, s, p.Spec.ClusterRef.Name, taken)
		if err == nil {
			desired := r.desiredProd(s, created, index, p.Spec.ClusterRef.Name, p.Labels[droverv1.SurgeForLabel], 0, s.revision, &s.set.Spec.Template)
			desired.Labels[droverv1.ReplacesLabel] = orig
			err = r.apply(ctx, desired)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("creating the replacement of Prod %s: %w", orig, err))
			continue
		}
		r.event(s.set, corev1.EventTypeNormal, ReasonReplacing, "Create", "created Prod %s on cluster %s at revision %s to replace %s", created, p.Spec.ClusterRef.Name, s.revision, orig)
	}
	return ctrl.Result{}, kerrors.NewAggregate(errs)
}

// endpointHost is where a gate reaches a Prod: its Octavia VIP, else its NLB's name.
func endpointHost(p *droverv1.Prod) string {
	if e := p.Status.Endpoint; e != nil {
		if e.VIP != "" {
			return e.VIP
		}
		return e.NLBDNSName
	}
	return ""
}
