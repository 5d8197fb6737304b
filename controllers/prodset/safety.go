package prodset

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/plan"
	"github.com/drover-dev/drover/internal/safety"
)

// safetyScope is what the set's safety rules decided in this reconcile.
type safetyScope struct {
	// rules is false when the set has none.
	rules bool
	res   safety.Result
	// override is the reason of the set's drover.dev/safety-override annotation, when it
	// has a readable one; overrideErr says why it is no override.
	override    string
	overrideErr error
}

// holdUnsafeMoves keeps in DNS, for every Prod whose move the set's safety rules hold,
// the weight DNS has (safety.Check): the merged Publish weight becomes it, with Why
// WhySafetyRule; Spec stays the weight wanted. The moves judged elsewhere go first: a
// drain's evictions (judged when the ClusterMaintenance was admitted), those of a Prod
// that has nothing for its record to point at, and every move of a set being deleted.
func (s *scope) holdUnsafeMoves(m *plan.Merged) {
	spec := s.set.Spec.Safety
	if spec == nil {
		s.safety = safetyScope{}
		return
	}
	rules := safety.RulesOf(spec, int(ptr.Deref(s.set.Spec.Replicas, 1)))
	sc := safetyScope{rules: true}
	sc.override, _, sc.overrideErr = safety.Override(s.set.Annotations)
	labels := map[string]map[string]string{}
	for _, c := range s.clusters {
		labels[c.Name] = c.Labels
	}
	deleting := !s.set.DeletionTimestamp.IsZero()
	prods := make([]safety.Prod, 0, len(s.prods))
	for _, p := range s.prods {
		w := m.Prods[p.Name]
		sp := safety.Prod{Name: p.Name, Topology: rules.TopologyOf(labels[p.Spec.ClusterRef.Name]), Before: s.summaries[p.Name].DNSWeight(), After: w.Publish}
		sp.Exempt = deleting || w.Evicted == droverv1.EvictedClusterMaintenance || w.Why == plan.WhyNoEndpoint
		prods = append(prods, sp)
	}
	sc.res = safety.Check(rules, prods, sc.override != "")
	for _, h := range sc.res.Held {
		w := m.Prods[h.Prod]
		w.Publish, w.Why = h.From, plan.WhySafetyRule
		m.Prods[h.Prod] = w
	}
	s.safety = sc
}

// setSafetyStatus records what the rules hold (status.safety, status.prods[].held) and
// the SafetyRulesKept condition, and says so in an event when the condition turns to
// Held or InvalidOverride.
func (r *Reconciler) setSafetyStatus(s *scope) {
	set := s.set
	s.weights() // the rules are checked with the weights
	sc := s.safety
	if set.Spec.Safety == nil {
		set.Status.Safety = nil
		conditions.Delete(set, droverv1.ProdSetSafetyRulesKeptCondition)
		return
	}
	if !s.planned {
		return // nothing was decided: the last verdict stands
	}
	held := map[string]string{}
	st := &droverv1.SafetyStatus{}
	for _, m := range sc.res.Held {
		held[m.Prod] = m.Rule
		st.Held = append(st.Held, droverv1.HeldMove{Prod: m.Prod, Rule: m.Rule, Weight: m.To})
	}
	for _, m := range sc.res.Overridden {
		st.Overridden = append(st.Overridden, droverv1.HeldMove{Prod: m.Prod, Rule: m.Rule, Weight: m.To})
	}
	set.Status.Safety = st
	if len(st.Held) == 0 && len(st.Overridden) == 0 {
		set.Status.Safety = nil
	}
	for i := range set.Status.Prods {
		set.Status.Prods[i].Held = held[set.Status.Prods[i].Name]
	}

	prev := conditions.GetReason(set, droverv1.ProdSetSafetyRulesKeptCondition)
	c := metav1.Condition{Type: droverv1.ProdSetSafetyRulesKeptCondition, Status: metav1.ConditionFalse}
	const how = "; annotate the ProdSet with " + droverv1.SafetyOverrideAnnotation + "=<reason> to let them through"
	switch {
	case sc.overrideErr != nil:
		c.Reason = droverv1.ProdSetSafetyBadOverrideReason
		c.Message = fmt.Sprintf("the %s annotation is no override: %v", droverv1.SafetyOverrideAnnotation, sc.overrideErr)
		if len(sc.res.Held) > 0 {
			c.Message += "; held: " + safety.Message(sc.res.Held)
		}
	case len(sc.res.Held) > 0:
		c.Reason, c.Message = droverv1.ProdSetSafetyHeldReason, "held: "+safety.Message(sc.res.Held)+how
	case len(sc.res.Overridden) > 0:
		c.Reason = droverv1.ProdSetSafetyOverriddenReason
		c.Message = fmt.Sprintf("overridden (%s): %s", sc.override, safety.Message(sc.res.Overridden))
	case len(sc.res.Broken) > 0:
		c.Reason = droverv1.ProdSetSafetyBrokenReason
		c.Message = "the weights in DNS break " + strings.Join(sc.res.Broken, "; ") + "; no move drover makes breaks them further"
	default:
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, droverv1.ProdSetSafetyKeptReason, "every weight move keeps the set's safety rules"
	}
	if sc.override != "" && c.Reason != droverv1.ProdSetSafetyOverriddenReason {
		c.Message += fmt.Sprintf(" (the %s annotation is set: %s)", droverv1.SafetyOverrideAnnotation, sc.override)
	}
	conditions.Set(set, c)
	if c.Reason != prev && (c.Reason == droverv1.ProdSetSafetyHeldReason || c.Reason == droverv1.ProdSetSafetyBadOverrideReason) {
		r.event(set, corev1.EventTypeWarning, c.Reason, "SetWeight", "%s", c.Message)
	}
}

// auditOverride records, when a change lets through moves the rules would have held,
// who set the override (as far as the managed fields say), why, and what it let through.
func (r *Reconciler) auditOverride(ctx context.Context, s *scope, submitted map[string]int32) {
	var moves []safety.Move
	for _, m := range s.safety.res.Overridden {
		if w, ok := submitted[m.Prod]; ok && w == m.To {
			moves = append(moves, m)
		}
	}
	if len(moves) == 0 {
		return
	}
	by := safety.SetBy(ctx, r.APIReader, s.set)
	r.event(s.set, corev1.EventTypeWarning, ReasonSafetyOverride, "SetWeight", "safety rules overridden by %s annotation (set by %s): %q; let through: %s",
		droverv1.SafetyOverrideAnnotation, by, s.safety.override, safety.Message(moves))
}
