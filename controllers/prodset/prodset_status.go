package prodset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/plan"
	readiness "github.com/drover-dev/drover/internal/ready"
)

// updateStatus writes what the reconcile read and decided into the set's status, and
// computes every condition the controller owns: Placed, Available, Frozen, TrafficReady
// and RolledOut, and records the generation observed. A condition nothing in this
// reconcile decided keeps its last verdict.
func (r *Reconciler) updateStatus(s *scope) {
	set := s.set
	st := &set.Status
	if st.CurrentRevision != s.revision {
		if st.CurrentRevision != "" {
			st.PreviousRevision = st.CurrentRevision
		}
		st.CurrentRevision = s.revision
	}
	if st.Rollout != nil && st.Rollout.Revision == s.revision && st.Rollout.PreviousRevision != "" {
		st.PreviousRevision = st.Rollout.PreviousRevision
	}

	prev := map[string]droverv1.ProdSummary{}
	for _, p := range st.Prods {
		prev[p.Name] = p
	}
	svc, publishing := r.service(set)
	var prods []droverv1.ProdSummary
	var ready, available, serving int32
	exists := map[string]bool{}
	for _, p := range s.prods {
		exists[p.Name] = true
		sum := droverv1.ProdSummary{}
		if old := s.summaries[p.Name]; old != nil {
			sum = *old
		}
		sum.Name, sum.Cluster, sum.Version = p.Name, p.Spec.ClusterRef.Name, p.Spec.Version
		sum.Revision, sum.SurgeFor = p.Labels[droverv1.RevisionLabel], p.Labels[droverv1.SurgeForLabel]
		w := p.DesiredWeight()
		// held: a safety rule keeps the Prod in DNS at a weight, whatever the set wants.
		held := false
		if pw := s.weights().Prods[p.Name]; s.planned && pw.Why != plan.WhyUnplanned {
			w = pw.Spec
			sum.Evicted = pw.Evicted
			held = pw.Why == plan.WhySafetyRule && pw.Publish > 0
		} else if !s.planned {
			sum.Evicted = prev[p.Name].Evicted
		}
		sum.Weight = ptr.To(w)
		sum.Available = conditionStatus(p, droverv1.ProdAvailableCondition)
		sum.Reachable = conditionStatus(p, droverv1.ProdClusterReachableCondition)
		if publishing {
			sum.Drained = summaryDrained(&sum, w, svc.TTL, s.now)
		} else {
			sum.Drained = w == 0
			sum.PublishedWeight, sum.PublishedTime, sum.PendingWeight = nil, nil, nil
		}
		if conditions.IsTrue(p, droverv1.ProdAppliedCondition) && conditions.IsTrue(p, droverv1.ProdClusterReachableCondition) {
			ready++
		}
		if sum.Available == metav1.ConditionTrue {
			available++
			if w > 0 && sum.Evicted == "" || held {
				serving++
			}
		}
		prods = append(prods, sum)
	}
	// Records of Prods that are gone stay listed until DNS no longer has them.
	for name, sum := range s.summaries {
		if !exists[name] && (sum.PublishedWeight != nil || sum.PendingWeight != nil) {
			sum.Evicted, sum.Weight, sum.Drained = droverv1.EvictedDeleting, ptr.To[int32](0), true
			prods = append(prods, *sum)
		}
	}
	slices.SortFunc(prods, func(a, b droverv1.ProdSummary) int { return strings.Compare(a.Name, b.Name) })
	st.Prods = prods
	st.Replicas = int32(len(s.prods))
	st.ReadyReplicas, st.AvailableReplicas, st.ServingReplicas = ready, available, serving
	if st.Traffic != nil && st.Traffic.ChangeID == "" && st.Traffic.LastSyncedTime == nil && st.Traffic.RefusedTime == nil && st.Traffic.ClaimedName == "" {
		st.Traffic = nil
	}

	replicas := ptr.Deref(set.Spec.Replicas, 1)
	placed := conditions.GetReason(set, droverv1.ProdSetPlacedCondition)
	avail := conditions.GetReason(set, droverv1.ProdSetAvailableCondition)
	trafficReady := conditions.GetReason(set, droverv1.ProdSetTrafficReadyCondition)
	setPlaced(s, replicas)
	setAvailable(s, replicas)
	setFrozen(s)
	r.setTrafficReady(s, publishing)
	setRolledOut(s)
	r.setSafetyStatus(s)
	readiness.Apply(&set.Status.Conditions, set.Generation, readiness.ProdSet(set), "every replica serves the template's revision, in sync in DNS")
	r.transitionEvents(set, placed, avail, trafficReady)
	st.ObservedGeneration = set.Generation
}

// transitionEvents records an event when a condition turns to a state the user should
// hear about; prev* are the conditions' reasons before this reconcile.
func (r *Reconciler) transitionEvents(set *droverv1.ProdSet, prevPlaced, prevAvailable, prevTraffic string) {
	if c := conditions.Get(set, droverv1.ProdSetPlacedCondition); c != nil && c.Reason != prevPlaced {
		switch c.Reason {
		case droverv1.ProdSetUnplacedReason:
			r.event(set, corev1.EventTypeWarning, ReasonUnplaced, "Place", "%s", c.Message)
		case droverv1.ProdSetDeletingReason:
			r.event(set, corev1.EventTypeNormal, ReasonDeleting, "Delete", "%s", c.Message)
		}
	}
	if c := conditions.Get(set, droverv1.ProdSetAvailableCondition); c != nil && set.DeletionTimestamp.IsZero() && c.Reason == droverv1.ProdSetBelowMinimumReason &&
		(prevAvailable == droverv1.ProdSetAvailableReason || prevAvailable == droverv1.ProdSetDegradedReason) {
		r.event(set, corev1.EventTypeWarning, ReasonBelowMin, "Serve", "%s", c.Message)
	}
	if c := conditions.Get(set, droverv1.ProdSetTrafficReadyCondition); c != nil && prevTraffic != c.Reason {
		switch c.Reason {
		case droverv1.ProdSetTrafficFailedReason:
			r.event(set, corev1.EventTypeWarning, ReasonPublishErr, "Publish", "%s", c.Message)
		case droverv1.ProdSetTrafficRefusedReason, droverv1.ProdSetNameClaimedReason, droverv1.ProdSetTrafficNotPermittedReason:
			r.event(set, corev1.EventTypeWarning, c.Reason, "Publish", "%s", c.Message)
		}
	}
}

func conditionStatus(p *droverv1.Prod, t string) metav1.ConditionStatus {
	if c := conditions.Get(p, t); c != nil {
		return c.Status
	}
	return metav1.ConditionUnknown
}

func setPlaced(s *scope, replicas int32) {
	if !s.planned || s.plan.Frozen {
		return // keeps its last verdict
	}
	c := metav1.Condition{Type: droverv1.ProdSetPlacedCondition, Status: metav1.ConditionTrue, Reason: droverv1.ProdSetPlacedReason,
		Message: fmt.Sprintf("%d of %d replicas placed", replicas, replicas)}
	if !s.set.DeletionTimestamp.IsZero() {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, droverv1.ProdSetDeletingReason, "the ProdSet is being deleted: draining and deleting its Prods"
	} else if s.plan.Unplaced > 0 {
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, droverv1.ProdSetUnplacedReason, s.plan.UnplacedReason
	}
	conditions.Set(s.set, c)
}

func setAvailable(s *scope, replicas int32) {
	st := s.set.Status
	c := metav1.Condition{Type: droverv1.ProdSetAvailableCondition}
	msg := fmt.Sprintf("%d of %d Prods serving (available and in traffic); minimum %d", st.ServingReplicas, replicas, st.MinServing)
	var out []string
	for _, p := range st.Prods {
		if p.Evicted != "" {
			out = append(out, fmt.Sprintf("%s: %s", p.Name, p.Evicted))
		}
	}
	if len(out) > 0 {
		msg += "; out of traffic: " + strings.Join(out[:min(len(out), 5)], ", ")
		if len(out) > 5 {
			msg += fmt.Sprintf(" and %d more", len(out)-5)
		}
	}
	switch {
	case st.ServingReplicas >= replicas:
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.ProdSetAvailableReason
	case st.ServingReplicas >= st.MinServing:
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.ProdSetDegradedReason
	default:
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdSetBelowMinimumReason
	}
	c.Message = msg
	conditions.Set(s.set, c)
}

func setFrozen(s *scope) {
	if !s.planned {
		return
	}
	c := metav1.Condition{Type: droverv1.ProdSetFrozenCondition, Status: metav1.ConditionFalse, Reason: droverv1.ProdSetNotFrozenReason}
	if s.plan.Frozen {
		c.Status, c.Reason, c.Message = metav1.ConditionTrue, droverv1.ProdSetFrozenReason, s.plan.Message
	}
	conditions.Set(s.set, c)
}

func (r *Reconciler) setTrafficReady(s *scope, publishing bool) {
	c := metav1.Condition{Type: droverv1.ProdSetTrafficReadyCondition}
	st := s.set.Status.Traffic
	switch {
	case s.set.Spec.Traffic == nil:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, droverv1.ProdSetTrafficNotConfigured, "spec.traffic is not set: no DNS weights are published for this set"
	case !publishing:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, droverv1.ProdSetTrafficNotConfigured, "the drover manager has no traffic provider: no DNS weights are published"
	case s.publishErr != nil:
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, droverv1.ProdSetTrafficFailedReason, s.publishErr.Error()
	case s.refusal != "":
		reason := s.refusalReason
		if reason == "" {
			reason = droverv1.ProdSetTrafficRefusedReason
		}
		c.Status, c.Reason, c.Message = metav1.ConditionFalse, reason, s.refusal
	case st != nil && st.ChangeID != "":
		c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdSetTrafficPendingReason
		c.Message = fmt.Sprintf("DNS change %s submitted %s, waiting for it to be in sync", st.ChangeID, st.SubmittedTime.UTC().Format("15:04:05"))
	case !s.planned && conditions.Has(s.set, droverv1.ProdSetTrafficReadyCondition):
		return // nothing was decided: the last verdict stands
	case !s.planned:
		c.Status, c.Reason, c.Message = metav1.ConditionUnknown, droverv1.ProdSetTrafficPendingReason, "the set could not be planned yet"
	default:
		var behind []string
		for _, p := range s.prods {
			want := s.weights().Prods[p.Name].Publish
			sum := s.summaries[p.Name]
			have := int32(0)
			if sum != nil && sum.PublishedWeight != nil {
				have = *sum.PublishedWeight
			}
			if have != want {
				behind = append(behind, fmt.Sprintf("%s (%d, want %d)", p.Name, have, want))
			}
		}
		switch {
		case len(behind) > 0 && s.plan.Frozen:
			// A frozen set publishes nothing: a Prod whose weight DNS does not have yet
			// waits for the set to thaw, and the set is not in sync until then.
			c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdSetTrafficPendingReason
			c.Message = "frozen, weights not published until it thaws: " + strings.Join(behind, ", ")
		case len(behind) > 0:
			c.Status, c.Reason, c.Message = metav1.ConditionFalse, droverv1.ProdSetTrafficPendingReason, "weights not published yet: "+strings.Join(behind, ", ")
		default:
			c.Status, c.Reason, c.Message = metav1.ConditionTrue, droverv1.ProdSetTrafficSyncedReason, "every Prod's weight is in sync in DNS"
		}
	}
	conditions.Set(s.set, c)
}

// setRolledOut says where the rollout is.
func setRolledOut(s *scope) {
	if c, ok := rolledOutCondition(s); ok {
		conditions.Set(s.set, c)
	}
}

// rolledOutCondition is the RolledOut condition for what the rollout decided; false when
// it decided nothing.
func rolledOutCondition(s *scope) (metav1.Condition, bool) {
	c := metav1.Condition{Type: droverv1.ProdSetRolledOutCondition, Status: metav1.ConditionFalse}
	switch s.ro.decided {
	case rolloutAtOnce:
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.ProdSetRolledOutReason
		c.Message = fmt.Sprintf("every Prod runs revision %s", s.revision)
		if s.ro.behind > 0 {
			c.Status, c.Reason = metav1.ConditionFalse, droverv1.ProdSetRolloutProgressing
			c.Message = fmt.Sprintf("%d Prods updating to revision %s (no RolloutPolicy: all at once)", s.ro.behind, s.revision)
		}
	case rolloutHeld:
		c.Reason, c.Message = s.ro.heldReason, s.ro.heldMessage
	case rolloutByPolicy:
		c = rolloutStatusCondition(s.set.Status.Rollout)
	case rolloutNotRun:
		return c, false
	}
	return c, true
}

// rolloutStatusCondition is the RolledOut condition for a rollout's status.
func rolloutStatusCondition(st *droverv1.RolloutStatus) metav1.Condition {
	c := metav1.Condition{Type: droverv1.ProdSetRolledOutCondition, Status: metav1.ConditionFalse, Message: st.Message}
	switch st.Phase {
	case droverv1.RolloutSucceeded:
		c.Status, c.Reason = metav1.ConditionTrue, droverv1.ProdSetRolledOutReason
	case droverv1.RolloutPaused:
		c.Reason = droverv1.ProdSetRolloutPausedReason
	case droverv1.RolloutRollingBack:
		c.Reason = droverv1.ProdSetRollingBackReason
	case droverv1.RolloutRolledBack:
		c.Reason = droverv1.ProdSetRolledBackReason
	default:
		c.Reason = droverv1.ProdSetRolloutProgressing
		if st.StepName != "" {
			c.Message = fmt.Sprintf("step %d (%s): %s", st.Step+1, st.StepName, st.Message)
		}
	}
	if c.Message == "" {
		c.Message = string(st.Phase)
	}
	c.Message = truncate(c.Message, 2048)
	return c
}

// write sends what the reconcile changed since before: the metadata (the finalizer) in
// one request, then the whole status, conditions included, in another. The status is one
// write because its parts are read together: a reader that sees TrafficReady turn True
// sees the published weights that made it so, never a condition from this reconcile
// beside the change ID of the last (Cluster API's patch helper writes the conditions and
// the rest of the status in two requests). The controller is the only writer of the
// set's conditions, so the merge patch replacing the list loses nobody's.
func (r *Reconciler) write(ctx context.Context, before, set *droverv1.ProdSet) (last *droverv1.ProdSet, err error) {
	if !equality.Semantic.DeepEqual(before.ObjectMeta, set.ObjectMeta) {
		meta := before.DeepCopy()
		meta.ObjectMeta = *set.ObjectMeta.DeepCopy()
		if err := r.Client.Patch(ctx, meta, client.MergeFrom(before)); err != nil {
			return nil, fmt.Errorf("writing the set's metadata: %w", err)
		}
		last = meta
	}
	if equality.Semantic.DeepEqual(before.Status, set.Status) {
		return last, nil
	}
	status := before.DeepCopy()
	status.Status = *set.Status.DeepCopy()
	if err := r.Client.Status().Patch(ctx, status, client.MergeFrom(before)); err != nil {
		return nil, fmt.Errorf("writing the set's status: %w", err)
	}
	return status, nil
}

// statusHold is how long after a status write of a set a change that only moves
// transient counts waits (statusHolds).
const statusHold = 3 * time.Second

// statusHolds holds back the status writes of a set that only move transient counts:
// as a set's Prods land one after another, each wakes the set, and each landing
// (ReadyReplicas, AvailableReplicas, a Prod's summary turning Available or Reachable, the
// counts in the conditions' messages) was a status write of its own. A change that only
// does that, and comes within statusHold of the set's last status write, waits: the
// reconcile asks to be run again when the hold ends and writes the status then, whatever
// it is by then. Anything else is written at once: a condition's status or reason, the
// traffic, the rollout, a Prod's weight, a Prod added or gone, and any Prod's summary
// turning from Available or Reachable to anything else (what a maintenance's admission
// reads must never say more is available than is).
type statusHolds struct {
	mu   sync.Mutex
	last map[types.UID]time.Time
}

// hold is how long set's status change from before must wait; 0: write it now.
func (h *statusHolds) hold(set *droverv1.ProdSet, before *droverv1.ProdSetStatus, now time.Time) time.Duration {
	if !set.DeletionTimestamp.IsZero() || !transientOnly(before, &set.Status) {
		return 0
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	last, ok := h.last[set.UID]
	if !ok || now.Sub(last) >= statusHold || now.Before(last) {
		return 0
	}
	return statusHold - now.Sub(last)
}

// wrote records a status write of the set at now.
func (h *statusHolds) wrote(uid types.UID, now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.last == nil {
		h.last = map[types.UID]time.Time{}
	}
	h.last[uid] = now
}

func (h *statusHolds) forget(uid types.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.last, uid)
}

// transientOnly reports whether after differs from before only in transient counts (see
// statusHolds); false when they are equal.
func transientOnly(before, after *droverv1.ProdSetStatus) bool {
	if equality.Semantic.DeepEqual(before, after) || len(before.Prods) != len(after.Prods) {
		return false
	}
	for i := range before.Prods {
		b, a := &before.Prods[i], &after.Prods[i]
		if b.Available == metav1.ConditionTrue && a.Available != metav1.ConditionTrue ||
			b.Reachable == metav1.ConditionTrue && a.Reachable != metav1.ConditionTrue {
			return false // a loss is told at once
		}
	}
	return equality.Semantic.DeepEqual(lasting(before), lasting(after))
}

// lasting is st without its transient counts.
func lasting(st *droverv1.ProdSetStatus) *droverv1.ProdSetStatus {
	c := st.DeepCopy()
	c.ReadyReplicas, c.AvailableReplicas, c.ServingReplicas = 0, 0, 0
	for i := range c.Prods {
		c.Prods[i].Available, c.Prods[i].Reachable = "", ""
	}
	for i := range c.Conditions {
		c.Conditions[i].Message = ""
	}
	return c
}
