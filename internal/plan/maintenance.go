package plan

import (
	"fmt"
	"slices"
	"strings"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/safety"
)

// SetView is one ProdSet as a ClusterMaintenance sees it.
type SetView struct {
	// Name is "<namespace>/<name>".
	Name string
	// MinServing is the set's serving minimum.
	MinServing int
	// Unplaced replicas: the set has no room for more Prods.
	Unplaced int
	// Rules are the set's safety rules; Override says the set's own override annotation
	// lets its held moves through.
	Rules    safety.Rules
	Override bool
	Prods    []ProdView
}

// ProdView is one Prod of a set.
type ProdView struct {
	Name    string
	Cluster string
	// SurgeFor is the cluster the Prod stands in for; "" for a regular Prod.
	SurgeFor string
	// Serving: available and in traffic.
	Serving bool
	// Available mirrors the Available condition.
	Available bool
	// Weight is the weight DNS has for it (0 for no record), and Topology its cluster's
	// values of the labels the set's rules group by.
	Weight   int32
	Topology map[string]string
}

// AdmitInput is what Admit looks at.
type AdmitInput struct {
	// Cluster to drain.
	Cluster string
	// Surge: replacements are placed before the drain.
	Surge bool
	// Draining lists the other clusters whose maintenance is admitted already.
	Draining []string
	// Sets are every ProdSet in the cluster's namespace.
	Sets []SetView
	// Override is the reason of the maintenance's drover.dev/safety-override annotation:
	// the drain is admitted whatever the sets' serving minimums and safety rules say.
	Override string
}

// Admission is Admit's verdict.
type Admission struct {
	// Admit: the drain may start.
	Admit bool
	// Surging: not yet, the replacements are not ready (only with surge).
	Surging bool
	// Message explains a refusal or the wait, naming each ProdSet in the way.
	Message string
	// Reason is droverv1.MaintenanceRefusedReason, or MaintenanceSafetyRuleReason when
	// only safety rules are in the way; "" when admitted.
	Reason string
	// Overridden says what the override let through, when it let anything.
	Overridden string
}

// Admit decides whether draining a cluster keeps every ProdSet at or above its serving
// minimum, counting only Prods that serve now, on no cluster that is being drained, and
// within its safety rules (package safety: the drain takes the Prods on the cluster, and
// those on clusters already draining, to weight 0 in DNS). With surge it also waits until
// each set's replacements for the cluster are available (or the set has no room for more
// and the minimum holds anyway), and waits rather than refuses while a rule is in the way.
// The maintenance's override admits the drain anyway, and says what it let through; a
// set's own override lets its rules through.
func Admit(in AdmitInput) Admission {
	gone := map[string]bool{in.Cluster: true}
	for _, c := range in.Draining {
		gone[c] = true
	}
	sets := slices.Clone(in.Sets)
	slices.SortFunc(sets, func(a, b SetView) int { return strings.Compare(a.Name, b.Name) })
	var refusals, waits, rules []string
	for _, s := range sets {
		onCluster, after, surgeReady, surgeTotal := 0, 0, 0, 0
		for _, p := range s.Prods {
			switch {
			case p.Cluster == in.Cluster && p.SurgeFor == "":
				onCluster++
			case p.Serving && !gone[p.Cluster]:
				after++
			}
			if p.SurgeFor == in.Cluster && p.Cluster != in.Cluster {
				surgeTotal++
				if p.Available {
					surgeReady++
				}
			}
		}
		if onCluster == 0 {
			continue
		}
		if in.Surge && surgeReady < onCluster && s.Unplaced == 0 {
			waits = append(waits, fmt.Sprintf("ProdSet %s: %d of %d replacements available", s.Name, surgeReady, onCluster))
			continue
		}
		if after < s.MinServing {
			msg := fmt.Sprintf("ProdSet %s would have %d serving %s, below its minimum of %d", s.Name, after, plural(after, "Prod"), s.MinServing)
			if in.Surge {
				waits = append(waits, msg+fmt.Sprintf(" (%d of %d replacements available, no room for more)", surgeReady, onCluster))
			} else {
				refusals = append(refusals, msg)
			}
			continue
		}
		if held := drainHeld(s, in.Cluster, gone); len(held) > 0 && !s.Override {
			rules = append(rules, fmt.Sprintf("ProdSet %s: %s", s.Name, safety.Message(held)))
		}
	}
	inTheWay := slices.Concat(refusals, waits, rules)
	switch {
	case len(inTheWay) > 0 && in.Override != "":
		what := strings.Join(inTheWay, "; ")
		if len(what) > maxOverridden {
			what = what[:maxOverridden] + fmt.Sprintf("… (%d more characters)", len(what)-maxOverridden)
		}
		return Admission{Admit: true, Overridden: fmt.Sprintf("%q: %s", in.Override, what),
			Message: fmt.Sprintf("draining cluster %s under the %s annotation (%q), past: %s", in.Cluster, droverv1.SafetyOverrideAnnotation, in.Override, what)}
	case len(refusals) > 0:
		return Admission{Reason: droverv1.MaintenanceRefusedReason, Message: fmt.Sprintf("draining cluster %s is refused: %s; set spec.surge: true to place replacements first, or add capacity",
			in.Cluster, strings.Join(refusals, "; "))}
	case len(waits) > 0:
		return Admission{Surging: true, Reason: droverv1.MaintenanceSurgingReason, Message: fmt.Sprintf("placing replacements before draining cluster %s: %s", in.Cluster, strings.Join(waits, "; "))}
	case len(rules) > 0 && in.Surge:
		return Admission{Surging: true, Reason: droverv1.MaintenanceSafetyRuleReason, Message: fmt.Sprintf("waiting before draining cluster %s for the safety rules of %s", in.Cluster, strings.Join(rules, "; "))}
	case len(rules) > 0:
		return Admission{Reason: droverv1.MaintenanceSafetyRuleReason, Message: fmt.Sprintf("draining cluster %s is refused by safety rules: %s; set spec.surge: true to place replacements first, or annotate the ClusterMaintenance with %s=<reason> to drain anyway",
			in.Cluster, strings.Join(rules, "; "), droverv1.SafetyOverrideAnnotation)}
	}
	return Admission{Admit: true, Message: fmt.Sprintf("every ProdSet keeps its serving minimum and safety rules without cluster %s", in.Cluster)}
}

// maxOverridden bounds what an overridden admission lists (it goes to the
// ClusterMaintenance's status.overridden, at most 4096 characters, with the reason).
const maxOverridden = 3500

// drainHeld is what the set's safety rules would hold of the drain: every Prod on a
// draining cluster goes to weight 0 in DNS, those on clusters admitted before as moves
// judged already.
func drainHeld(s SetView, cluster string, gone map[string]bool) []safety.Move {
	if s.Rules.None() {
		return nil
	}
	prods := make([]safety.Prod, 0, len(s.Prods))
	for _, p := range s.Prods {
		sp := safety.Prod{Name: p.Name, Topology: p.Topology, Before: p.Weight, After: p.Weight}
		if gone[p.Cluster] {
			sp.After, sp.Exempt = 0, p.Cluster != cluster
		}
		prods = append(prods, sp)
	}
	return safety.Check(s.Rules, prods, false).Held
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// HandoffProd is one Prod of a set as a drain's hand-off sees it: from the set's status.
type HandoffProd struct {
	Name    string
	Cluster string
	// Published is the weight DNS has for it; nil when it has none.
	Published *int32
}

// Handoff names the Prods of a set whose records the drain of cluster sets to 0 at its
// admission, for every set at once, before each set's own reconcile: those on the
// cluster that DNS gives traffic. It is what ProdSet and Merge decide for them once the
// set sees the maintenance admitted (every Prod on a draining cluster is evicted, and an
// eviction is never undone by a rollout); TestHandoffAgreesWithTheSetsPlan holds the two
// together. The set's own reconcile publishes whatever else it decides.
func Handoff(cluster string, prods []HandoffProd) []string {
	var out []string
	for _, p := range prods {
		if p.Cluster == cluster && p.Published != nil && *p.Published > 0 {
			out = append(out, p.Name)
		}
	}
	slices.Sort(out)
	return out
}
