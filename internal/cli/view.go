package cli

import (
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/rollout"
)

// StatusView is what `status` shows, and what `status -o json|yaml` prints: the ProdSets
// with their rollout and Prods, and (when a whole namespace is shown) the Prods that
// belong to no ProdSet. It is a summary joined from the ProdSets, their Prods and
// RolloutPolicies; `kubectl get -o yaml` has the objects themselves.
type StatusView struct {
	ProdSets []SetView `json:"prodSets"`
	// Prods of no ProdSet.
	Prods []ProdView `json:"prods,omitempty"`
}

// SetView is one ProdSet.
type SetView struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	// Version is the template's spec.version.
	Version           string `json:"version"`
	Replicas          int32  `json:"replicas"`
	AvailableReplicas int32  `json:"availableReplicas"`
	ServingReplicas   int32  `json:"servingReplicas"`
	MinServing        int32  `json:"minServing"`
	Revision          string `json:"revision,omitempty"`
	PreviousRevision  string `json:"previousRevision,omitempty"`
	Policy            string `json:"policy,omitempty"`
	// Rollout is status.rollout in short; nil before the first rollout or without a policy.
	Rollout *RolloutView `json:"rollout,omitempty"`
	// PendingCommand is a drover.dev/rollout-command value drover has not read yet.
	PendingCommand string `json:"pendingCommand,omitempty"`
	// Conditions of the set that are not as they should be (Frozen True, the others not True).
	Conditions []ConditionView `json:"conditions,omitempty"`
	Prods      []ProdView      `json:"prods"`
}

// RolloutView is the current (or last) rollout.
type RolloutView struct {
	Revision         string `json:"revision"`
	PreviousRevision string `json:"previousRevision,omitempty"`
	Phase            string `json:"phase"`
	// Step is the current step's index (from 0), as in status.rollout.step.
	Step     int32  `json:"step"`
	StepName string `json:"stepName,omitempty"`
	// Steps is the number of steps of the policy; 0 when the policy could not be read.
	Steps    int  `json:"steps,omitempty"`
	Promoted bool `json:"promoted,omitempty"`
	// Message is what it waits for, or why it paused or rolled back.
	Message string `json:"message,omitempty"`
	// Gates are the current step's gates: from the policy, with their verdicts.
	Gates []GateView `json:"gates,omitempty"`
}

// GateView is one gate of the current step.
type GateView struct {
	Index int32  `json:"index"`
	Type  string `json:"type"`
	// Verdict is "passed", "failed", "inconclusive" (a baseline gate that could not
	// judge, failed or paused by its onInconclusive) or "" (none yet).
	Verdict string `json:"verdict,omitempty"`
	Message string `json:"message,omitempty"`
	// Baseline is a baseline gate's judgement: the Prods compared, each metric's numbers.
	Baseline *droverv1.BaselineJudgement `json:"baseline,omitempty"`
}

// ProdView is one Prod.
type ProdView struct {
	Name     string `json:"name"`
	Cluster  string `json:"cluster"`
	Version  string `json:"version,omitempty"`
	Revision string `json:"revision,omitempty"`
	// Weight is the desired weight (the set's plan, else the Prod's spec).
	Weight *int32 `json:"weight,omitempty"`
	// PublishedWeight is the weight in DNS as last confirmed.
	PublishedWeight *int32 `json:"publishedWeight,omitempty"`
	// PendingWeight is a weight submitted to DNS and not in sync yet.
	PendingWeight *int32 `json:"pendingWeight,omitempty"`
	Evicted       string `json:"evicted,omitempty"`
	// Held names the safety rule that keeps the Prod's weight in DNS where it is.
	Held     string `json:"held,omitempty"`
	SurgeFor string `json:"surgeFor,omitempty"`
	// RolloutPhase is the Prod's phase in the current rollout, if it was picked.
	RolloutPhase string                 `json:"rolloutPhase,omitempty"`
	Replacement  string                 `json:"replacement,omitempty"`
	Conditions   []ConditionView        `json:"conditions,omitempty"`
	Endpoint     *droverv1.ProdEndpoint `json:"endpoint,omitempty"`
	Mirror       *MirrorView            `json:"mirror,omitempty"`
	// Missing is true for a Prod the set's status lists that could not be read.
	Missing bool `json:"missing,omitempty"`
}

// ConditionView is a condition in short.
type ConditionView struct {
	Type    string `json:"type"`
	Status  string `json:"status"`
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
}

// MirrorView is the NLB mirror's last sync.
type MirrorView struct {
	Outcome        string       `json:"outcome,omitempty"`
	Message        string       `json:"message,omitempty"`
	TargetGroups   int          `json:"targetGroups"`
	Targets        int32        `json:"targets"`
	HealthyTargets int32        `json:"healthyTargets"`
	LastSyncTime   *metav1.Time `json:"lastSyncTime,omitempty"`
	LastChange     string       `json:"lastChange,omitempty"`
}

// prodConditions are the Prod conditions shown, in order.
var prodConditions = []string{
	droverv1.ProdClusterReachableCondition, droverv1.ProdAppliedCondition, droverv1.ProdAvailableCondition,
	droverv1.ProdTrafficReadyCondition, droverv1.ProdMirrorSyncedCondition,
}

// setConditions are the ProdSet conditions shown when they are not as they should be.
var setConditions = []string{
	droverv1.ProdSetFrozenCondition, droverv1.ProdSetPlacedCondition, droverv1.ProdSetAvailableCondition,
	droverv1.ProdSetTrafficReadyCondition, droverv1.ProdSetRolledOutCondition, droverv1.ProdSetSafetyRulesKeptCondition,
}

// buildSetView joins a ProdSet with its Prods (any order) and its RolloutPolicy (nil
// when it has none or it could not be read).
func buildSetView(set *droverv1.ProdSet, prods []droverv1.Prod, policy *droverv1.RolloutPolicy) SetView {
	v := SetView{
		Namespace: set.Namespace, Name: set.Name, Version: set.Spec.Template.Spec.Version,
		Replicas: set.Status.Replicas, AvailableReplicas: set.Status.AvailableReplicas,
		ServingReplicas: set.Status.ServingReplicas, MinServing: set.Status.MinServing,
		Revision: set.Status.CurrentRevision, PreviousRevision: set.Status.PreviousRevision,
		Prods: []ProdView{},
	}
	if set.Spec.Replicas != nil {
		v.Replicas = *set.Spec.Replicas
	}
	if set.Spec.RolloutPolicyRef != nil {
		v.Policy = set.Spec.RolloutPolicyRef.Name
	}
	if cmd := set.Annotations[droverv1.RolloutCommandAnnotation]; cmd != "" && cmd != set.Status.ObservedRolloutCommand {
		v.PendingCommand = cmd
	}
	for _, t := range setConditions {
		c := meta.FindStatusCondition(set.Status.Conditions, t)
		if c == nil {
			continue
		}
		bad := c.Status != metav1.ConditionTrue
		if t == droverv1.ProdSetFrozenCondition {
			bad = c.Status == metav1.ConditionTrue
		}
		// A rollout under way says more in status.rollout; keep RolledOut for the rest.
		if t == droverv1.ProdSetRolledOutCondition && set.Status.Rollout != nil && rolloutReason(c.Reason) {
			bad = false
		}
		if bad {
			v.Conditions = append(v.Conditions, conditionView(c))
		}
	}

	ro := set.Status.Rollout
	var roProds map[string]droverv1.RolloutProdStatus
	if ro != nil {
		rv := &RolloutView{
			Revision: ro.Revision, PreviousRevision: ro.PreviousRevision, Phase: string(ro.Phase),
			Step: ro.Step, StepName: ro.StepName, Promoted: ro.Promoted, Message: ro.Message,
		}
		if policy != nil {
			rv.Steps = len(policy.Spec.Steps)
		}
		rv.Gates = gateViews(ro, policy)
		v.Rollout = rv
		roProds = map[string]droverv1.RolloutProdStatus{}
		for _, p := range ro.Prods {
			roProds[p.Name] = p
		}
	}

	byName := map[string]*droverv1.Prod{}
	for i := range prods {
		byName[prods[i].Name] = &prods[i]
	}
	seen := map[string]bool{}
	for i := range set.Status.Prods {
		sum := &set.Status.Prods[i]
		seen[sum.Name] = true
		pv := prodView(byName[sum.Name], sum)
		addRollout(&pv, roProds)
		v.Prods = append(v.Prods, pv)
	}
	// Prods of the set its status does not list yet.
	for i := range prods {
		if !seen[prods[i].Name] {
			pv := prodView(&prods[i], nil)
			addRollout(&pv, roProds)
			v.Prods = append(v.Prods, pv)
		}
	}
	slices.SortStableFunc(v.Prods, func(a, b ProdView) int { return strings.Compare(a.Name, b.Name) })
	return v
}

func rolloutReason(reason string) bool {
	switch reason {
	case droverv1.ProdSetRolloutProgressing, droverv1.ProdSetRolloutPausedReason,
		droverv1.ProdSetRollingBackReason, droverv1.ProdSetRolledBackReason:
		return true
	}
	return false
}

func addRollout(pv *ProdView, roProds map[string]droverv1.RolloutProdStatus) {
	if rp, ok := roProds[pv.Name]; ok {
		pv.RolloutPhase, pv.Replacement = string(rp.Phase), rp.Replacement
		if rp.Failed {
			pv.RolloutPhase += " (failed: missed its step's progressDeadline)"
		}
	}
}

// gateViews are the current step's gates: every gate of the policy's step with its
// verdict, or, without the policy, the verdicts recorded for the step.
func gateViews(ro *droverv1.RolloutStatus, policy *droverv1.RolloutPolicy) []GateView {
	verdicts := map[int32]droverv1.GateOutcome{}
	for _, g := range ro.Gates {
		if g.Step == ro.Step {
			verdicts[g.Gate] = g // the last verdict of a gate wins
		}
	}
	var out []GateView
	if policy != nil && int(ro.Step) < len(policy.Spec.Steps) {
		for i, g := range policy.Spec.Steps[ro.Step].Gates {
			gv := GateView{Index: int32(i), Type: gateType(g)}
			if o, ok := verdicts[int32(i)]; ok {
				gv.Verdict, gv.Message, gv.Baseline = verdict(o), o.Message, o.Baseline
			}
			out = append(out, gv)
		}
		return out
	}
	for i := range int32(len(ro.Gates)) {
		if o, ok := verdicts[i]; ok {
			out = append(out, GateView{Index: i, Type: o.Type, Verdict: verdict(o), Message: o.Message, Baseline: o.Baseline})
		}
	}
	return out
}

func verdict(o droverv1.GateOutcome) string {
	switch {
	case o.Passed:
		return "passed"
	case o.Inconclusive:
		return "inconclusive"
	}
	return "failed"
}

func gateType(g droverv1.Gate) string {
	switch {
	case g.Pause != nil && g.Pause.Duration != nil:
		return "pause " + g.Pause.Duration.Duration.String()
	case g.Pause != nil:
		return "pause until approved"
	case g.Template != nil && g.Template.Cluster:
		return "template " + g.Template.Name + " (cluster)"
	case g.Template != nil:
		return "template " + g.Template.Name
	}
	return rollout.GateType(g)
}

// prodView joins a Prod (nil when it could not be read) with its set's summary of it
// (nil for a Prod of its own, or one the status does not list yet).
func prodView(p *droverv1.Prod, sum *droverv1.ProdSummary) ProdView {
	var v ProdView
	if sum != nil {
		v = ProdView{
			Name: sum.Name, Cluster: sum.Cluster, Version: sum.Version, Revision: sum.Revision,
			Weight: sum.Weight, PublishedWeight: sum.PublishedWeight, PendingWeight: sum.PendingWeight,
			Evicted: sum.Evicted, Held: sum.Held, SurgeFor: sum.SurgeFor,
		}
	}
	if p == nil {
		v.Missing = true
		return v
	}
	v.Name = p.Name
	if v.Cluster == "" {
		v.Cluster = p.Spec.ClusterRef.Name
	}
	v.Version = p.Spec.Version
	if v.Revision == "" {
		v.Revision = p.Labels[droverv1.RevisionLabel]
	}
	if v.Weight == nil {
		w := p.DesiredWeight()
		v.Weight = &w
	}
	if v.PublishedWeight == nil {
		v.PublishedWeight = p.Status.PublishedWeight
	}
	if v.SurgeFor == "" {
		v.SurgeFor = p.Labels[droverv1.SurgeForLabel]
	}
	for _, t := range prodConditions {
		if c := meta.FindStatusCondition(p.Status.Conditions, t); c != nil {
			v.Conditions = append(v.Conditions, conditionView(c))
		}
	}
	v.Endpoint = p.Status.Endpoint
	if m := p.Status.Mirror; m != nil {
		mv := &MirrorView{
			Outcome: m.Outcome, Message: m.Message, TargetGroups: len(m.TargetGroups),
			LastSyncTime: m.LastSyncTime, LastChange: m.LastChange,
		}
		for _, tg := range m.TargetGroups {
			mv.Targets += tg.Targets
			mv.HealthyTargets += tg.HealthyTargets
		}
		v.Mirror = mv
	}
	return v
}

func conditionView(c *metav1.Condition) ConditionView {
	return ConditionView{Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message}
}
