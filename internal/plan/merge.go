package plan

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Why a Prod's published weight is what it is, besides an eviction (then Why is the
// droverv1.Evicted* reason).
const (
	// WhyPlanned: the plan's weight (the template's, or the one the Prod has while its
	// cluster blips or the serving minimum holds its retirement back).
	WhyPlanned = "Planned"
	// WhyRolloutStep: the weight the rollout gives the Prod at its step.
	WhyRolloutStep = "RolloutStep"
	// WhyUnplanned: the plan decided nothing for the Prod (the set is frozen, or could
	// not be planned): its spec weight stands.
	WhyUnplanned = "Unplanned"
	// WhyUnavailable: held at 0 until the Prod is Available.
	WhyUnavailable = "Unavailable"
	// WhyAvailabilityUnknown: the Prod's availability cannot be read (its cluster is
	// unreachable, say): its record keeps what DNS has, at most the wanted weight.
	WhyAvailabilityUnknown = "AvailabilityUnknown"
	// WhyNoEndpoint: held at 0 while the Prod has no routable endpoint (no Octavia VIP
	// nor NLB yet) for its record to point at.
	WhyNoEndpoint = "NoEndpoint"
	// WhySafetyRule: a safety rule of the set holds the Prod's record at what DNS has
	// (package safety); Spec is still the weight wanted.
	WhySafetyRule = "SafetyRule"
)

// MergeInput is everything Merge looks at.
type MergeInput struct {
	// Plan is what ProdSet decided.
	Plan Result
	// Rollout is what the rollout decided about weights; nil when it decided nothing
	// about them (no RolloutPolicy, a policy held back, a frozen set).
	Rollout *RolloutWeights
	// Prods of the set, as observed.
	Prods []ProdTraffic
}

// RolloutWeights is the part of the rollout's decision that bears on weights.
type RolloutWeights struct {
	// Targets is the weight the rollout wants for each Prod it moves, by name.
	Targets map[string]int32
	// Retire names the Prods the rollout no longer wants.
	Retire []string
}

// ProdTraffic is one Prod as Merge sees it.
type ProdTraffic struct {
	Name string
	// Weight is the weight its spec has now.
	Weight int32
	// Available is the status of its Available condition; "" when it has none.
	Available metav1.ConditionStatus
	// Published is the weight DNS has for it; nil when it has none.
	Published *int32
	// NoEndpoint says the Prod has no routable endpoint for its record to point at, where
	// the publisher needs one (a provider that writes each Prod's paths); false when it
	// has one or the publisher needs none.
	NoEndpoint bool
}

// Weight is the last word on one Prod's weight.
type Weight struct {
	// Spec is the weight the Prod's spec should carry.
	Spec int32
	// Publish is the weight its DNS record should have.
	Publish int32
	// Evicted says why the Prod is out of traffic (droverv1.Evicted*); "" when it is not.
	Evicted string
	// Why says why Publish is what it is: Evicted when the Prod is evicted, else one of
	// the Why* constants.
	Why string
}

// Merged is what Merge decided.
type Merged struct {
	// Prods has the weight of every Prod of the input, by name.
	Prods map[string]Weight
	// Delete lists the Prods to delete once drained: the plan's, then those the rollout
	// retires.
	Delete []string
}

// Merge is the one place a Prod's weight is decided, from the plan, the rollout and
// the Prod's availability:
//
//   - The plan's weight, or, for a Prod the plan decided nothing for, its spec weight.
//   - A Prod the rollout retires is evicted (Retiring) and joins the plan's deletions.
//   - A rollout target replaces the plan's weight only where the plan has the Prod in
//     traffic: a Prod the plan took out stays out; a target of 0 evicts it (Rollout).
//   - DNS gets that weight once the Prod is Available, 0 while it is not; while its
//     availability cannot be read, the record keeps what it has, at most that weight (an
//     eviction still goes through).
//   - DNS gets 0 while the Prod has no routable endpoint, whatever its availability:
//     there is nothing to point its record at yet.
func Merge(in MergeInput) Merged {
	out := Merged{Prods: make(map[string]Weight, len(in.Prods)), Delete: slices.Clone(in.Plan.Delete)}
	retired := map[string]bool{}
	if ro := in.Rollout; ro != nil {
		for _, name := range ro.Retire {
			retired[name] = true
			if !slices.Contains(out.Delete, name) {
				out.Delete = append(out.Delete, name)
			}
		}
	}
	for _, p := range in.Prods {
		w := specWeight(in, p, retired)
		w.Publish = w.Spec
		switch {
		case w.Spec == 0:
		case p.NoEndpoint:
			w.Publish, w.Why = 0, WhyNoEndpoint
		case p.Available == metav1.ConditionTrue:
		case p.Available == metav1.ConditionFalse:
			w.Publish, w.Why = 0, WhyUnavailable
		case p.Published != nil:
			w.Publish, w.Why = min(*p.Published, w.Spec), WhyAvailabilityUnknown
		default:
			w.Publish, w.Why = 0, WhyAvailabilityUnknown
		}
		out.Prods[p.Name] = w
	}
	return out
}

// specWeight is the weight a Prod's spec should carry, and why.
func specWeight(in MergeInput, p ProdTraffic, retired map[string]bool) Weight {
	planned, ok := in.Plan.Weights[p.Name]
	if !ok {
		return Weight{Spec: p.Weight, Why: WhyUnplanned}
	}
	w := Weight{Spec: planned, Evicted: in.Plan.Evicted[p.Name], Why: WhyPlanned}
	target, moved := int32(0), false
	if in.Rollout != nil {
		target, moved = in.Rollout.Targets[p.Name]
	}
	switch {
	case retired[p.Name]:
		w.Spec, w.Evicted = 0, droverv1.EvictedRetiring
	case planned > 0 && moved:
		w.Spec, w.Why = target, WhyRolloutStep
		if target == 0 {
			w.Evicted = droverv1.EvictedRollout
		}
	}
	if w.Evicted != "" {
		w.Why = w.Evicted
	}
	return w
}
