package prodset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/plan"
	"github.com/drover-dev/drover/internal/traffic"
)

// DefaultTTL applies when spec.traffic.ttl is unset.
const DefaultTTL = traffic.DefaultTTL

// refusedRetry is how long a set whose records DNS refused waits before it publishes
// them again, unless its spec changes: the same records are refused again until what
// is wrong is fixed, and each try costs the zone's other sets a refused change.
const refusedRetry = time.Minute

// service is the set's record set, when weights are published for it.
func (r *Reconciler) service(set *droverv1.ProdSet) (traffic.Service, bool) {
	return serviceOf(r.Publisher != nil, set)
}

func serviceOf(publishing bool, set *droverv1.ProdSet) (traffic.Service, bool) {
	if !publishing {
		return traffic.Service{}, false
	}
	return traffic.ServiceOf(set)
}

// RecordID identifies a Prod's record under the service name.
func RecordID(namespace, prod string) string { return traffic.RecordID(namespace, prod) }

// reconcileTrackChange follows the DNS change in flight and, once it is in sync, records the
// weights it carried as published.
func (r *Reconciler) reconcileTrackChange(ctx context.Context, s *scope) (ctrl.Result, error) {
	r.takeHandoff(s)
	st := s.set.Status.Traffic
	if st == nil || st.ChangeID == "" {
		return ctrl.Result{}, nil
	}
	if r.Publisher == nil {
		return ctrl.Result{}, nil // no provider any more: nothing can confirm it
	}
	ok, err := r.Publisher.InSync(ctx, st.ChangeID)
	if errors.Is(err, traffic.ErrChangeLost) {
		// Never to be in sync (a restarted provider, a failed batch): forget it, so that
		// reconcilePublish sends what still differs from the published weights again.
		log := ctrl.LoggerFrom(ctx)
		log.Info("DNS change lost; publishing again", "change", st.ChangeID, "reason", err.Error())
		s.forgetChange()
		return ctrl.Result{}, nil
	}
	var refused *traffic.RefusedError
	if errors.As(err, &refused) {
		// DNS would not take the set's records as they are; the zone's other sets went on
		// without them. The set says why and publishes again after refusedRetry, or at
		// once when its spec changes.
		log := ctrl.LoggerFrom(ctx)
		log.Info("DNS refused the set's records", "change", st.ChangeID, "reason", refused.Reason)
		s.forgetChange()
		st.RefusedTime = &metav1.Time{Time: s.now}
		s.refusal = "DNS refused the set's records: " + refused.Reason
		s.after(refusedRetry)
		return ctrl.Result{}, nil
	}
	if err != nil {
		s.publishErr = fmt.Errorf("checking DNS change %s: %w", st.ChangeID, err)
		s.after(5 * time.Second)
		return ctrl.Result{}, nil
	}
	if !ok {
		s.after(time.Second)
		return ctrl.Result{}, nil
	}
	now := metav1.NewTime(s.now)
	for _, sum := range s.summaries {
		if sum.PendingWeight != nil {
			sum.PublishedWeight, sum.PublishedTime, sum.PendingWeight = sum.PendingWeight, &now, nil
			sum.PublishedPaths, sum.PendingPaths = sum.PendingPaths, ""
		}
	}
	for _, name := range st.Removing {
		delete(s.summaries, name)
	}
	st.ChangeID, st.SubmittedTime, st.Removing, st.LastSyncedTime, st.RefusedTime = "", nil, nil, &now, nil
	for i := range st.Handoffs {
		st.Handoffs[i].Confirmed = true // the change carried them: DNS and status agree
	}
	return ctrl.Result{}, nil
}

// forgetChange forgets the change in flight and the weights it carried, which DNS will
// never have: what still differs from the published weights is published again.
func (s *scope) forgetChange() {
	for _, sum := range s.summaries {
		sum.PendingWeight, sum.PendingPaths = nil, ""
	}
	st := s.set.Status.Traffic
	st.ChangeID, st.SubmittedTime, st.Removing = "", nil, nil
	// The hand-offs the change was to confirm are not: the set checks DNS again.
	st.Handoffs = slices.DeleteFunc(st.Handoffs, func(h droverv1.TrafficHandoff) bool { return !h.Confirmed })
}

// weights is the last word on every Prod's weight (plan.Merge): the plan's, the
// rollout's on top, and what DNS should have given each Prod's availability and
// endpoint (a publisher that writes paths needs one to point the record at), where the
// set's safety rules let it move (holdUnsafeMoves). It is
// computed on first use, once the plan and the rollout have decided; a set that could
// not be planned, or is frozen, keeps every Prod's spec weight.
func (s *scope) weights() *plan.Merged {
	if s.merged != nil {
		return s.merged
	}
	in := plan.MergeInput{Plan: s.plan, Rollout: s.ro.weights}
	for _, p := range s.prods {
		pt := plan.ProdTraffic{Name: p.Name, Weight: p.DesiredWeight(), NoEndpoint: s.needsPaths && !pathsOf(s.set, p).Routable()}
		if c := conditions.Get(p, droverv1.ProdAvailableCondition); c != nil {
			pt.Available = c.Status
		}
		if sum := s.summaries[p.Name]; sum != nil {
			pt.Published = sum.PublishedWeight
		}
		in.Prods = append(in.Prods, pt)
	}
	m := plan.Merge(in)
	s.holdUnsafeMoves(&m)
	s.merged = &m
	return s.merged
}

// reconcilePublish submits every weight that differs from what DNS has, and removes the records
// of Prods that are gone, as one change. One change is in flight at a time.
func (r *Reconciler) reconcilePublish(ctx context.Context, s *scope) (ctrl.Result, error) {
	svc, ok := r.service(s.set)
	if !ok {
		r.confirmHandoffs(s) // the set publishes nothing: nothing to disagree with
		return ctrl.Result{}, nil
	}
	if len(s.adopted) > 0 {
		s.observeEvictions(s.adopted) // the hand-off's evictions, as the set's own would be
		s.adopted = nil
	}
	if s.set.Status.Traffic != nil && s.set.Status.Traffic.ChangeID != "" {
		return ctrl.Result{}, nil
	}
	if s.claimFailed {
		return ctrl.Result{}, nil // the claim's error is reported; publish next time
	}
	if r.Handoffs.Pending(client.ObjectKeyFromObject(s.set)) {
		// A maintenance is handing weights of the set over this very moment: the set
		// takes them over rather than publish its own.
		s.after(100 * time.Millisecond)
		return ctrl.Result{}, nil
	}
	if s.withdrawing {
		return r.publishWithdrawal(ctx, s, svc)
	}
	if s.refusal != "" {
		return ctrl.Result{}, nil // refused in this reconcile: not before refusedRetry
	}
	if c := conditions.Get(s.read, droverv1.ProdSetTrafficReadyCondition); c != nil && c.Reason == droverv1.ProdSetTrafficRefusedReason &&
		c.ObservedGeneration == s.set.Generation && s.set.Status.Traffic != nil && s.set.Status.Traffic.RefusedTime != nil {
		if wait := s.set.Status.Traffic.RefusedTime.Add(refusedRetry).Sub(s.now); wait > 0 {
			s.refusal = c.Message
			s.after(wait)
			return ctrl.Result{}, nil
		}
	}
	var batch []traffic.Weight
	pending := map[string]int32{}
	pendingPaths := map[string]string{}
	exists := map[string]bool{}
	// A hand-off this set never took over (the manager restarted before it did) may have
	// put weights in DNS that the status does not show: every weight goes again, and
	// the Publisher sends what differs from what DNS holds.
	unsure := len(r.unconfirmedHandoffs(s)) > 0
	for _, p := range s.prods {
		exists[p.Name] = true
		w := s.weights().Prods[p.Name].Publish
		paths := pathsOf(s.set, p)
		digest := paths.Digest()
		sum := s.summaries[p.Name]
		var publishedPaths string
		sameWeight := w == 0 // no record yet, and none needed
		if sum != nil {
			publishedPaths = sum.PublishedPaths
			if sum.PublishedWeight != nil {
				sameWeight = *sum.PublishedWeight == w
			}
		}
		if sameWeight && publishedPaths == digest && !(unsure && sum != nil && sum.PublishedWeight != nil) {
			continue
		}
		weight := traffic.Weight{ID: RecordID(s.set.Namespace, p.Name), Weight: w}
		if publishedPaths != digest {
			weight.Paths = paths
			if paths == nil {
				weight.Paths = &traffic.Paths{} // the Prod lost its endpoint: remove its path records
			}
		}
		batch = append(batch, weight)
		pending[p.Name] = w
		pendingPaths[p.Name] = digest
	}
	removals, removing := s.removals(exists)
	batch = append(batch, removals...)
	if len(batch) == 0 {
		r.confirmHandoffs(s) // nothing published: nothing to disagree with
		s.settled = true
		return ctrl.Result{}, nil
	}
	return r.submit(ctx, s, svc, batch, pending, pendingPaths, removing)
}

// publishWithdrawal removes every record the set has: it may not publish under its name
// (s.withdraw). The removals touch the set's own records only, whoever holds the name.
func (r *Reconciler) publishWithdrawal(ctx context.Context, s *scope, svc traffic.Service) (ctrl.Result, error) {
	batch, removing := s.removals(nil)
	if len(batch) == 0 {
		r.confirmHandoffs(s)
		return ctrl.Result{}, nil
	}
	return r.submit(ctx, s, svc, batch, nil, nil, removing)
}

// removals are the removal of the published record of every Prod not in keep, and the
// Prods they are of.
func (s *scope) removals(keep map[string]bool) ([]traffic.Weight, []string) {
	var batch []traffic.Weight
	var removing []string
	for name, sum := range s.summaries {
		if !keep[name] && sum.PublishedWeight != nil {
			batch = append(batch, traffic.Weight{ID: RecordID(s.set.Namespace, name), Remove: true})
			removing = append(removing, name)
		}
	}
	return batch, removing
}

// submit publishes batch and records it as the change in flight: the weights pending for
// the Prods of pending, and the removal of the records of removing.
func (r *Reconciler) submit(ctx context.Context, s *scope, svc traffic.Service, batch []traffic.Weight, pending map[string]int32, pendingPaths map[string]string, removing []string) (ctrl.Result, error) {
	sortWeights(batch)
	id, err := r.Publisher.Publish(ctx, svc, batch)
	switch {
	case errors.Is(err, traffic.ErrChangeInProgress):
		s.after(2 * time.Second) // another set's change to the zone; wait it out
		return ctrl.Result{}, nil
	case err != nil:
		s.publishErr = err
		return ctrl.Result{}, fmt.Errorf("publishing %d weights of %s: %w", len(batch), svc.Name, err)
	}
	now := metav1.NewTime(s.now)
	if s.set.Status.Traffic == nil {
		s.set.Status.Traffic = &droverv1.ProdSetTrafficStatus{}
	}
	st := s.set.Status.Traffic
	st.ChangeID, st.SubmittedTime, st.Removing = id, &now, sortedStrings(removing)
	for _, uid := range r.unconfirmedHandoffs(s) {
		s.noteHandoff(uid, false) // every weight went: once in sync, DNS holds what the status says
	}
	s.submitted = true
	s.observeEvictions(pending)
	r.auditOverride(ctx, s, pending)
	for name, w := range pending {
		sum := s.summaries[name]
		if sum == nil {
			sum = &droverv1.ProdSummary{Name: name}
			s.summaries[name] = sum
		}
		sum.PendingWeight, sum.PendingPaths = ptr.To(w), pendingPaths[name]
	}
	s.after(time.Second)
	return ctrl.Result{}, nil
}

// drained reports whether no traffic reaches a Prod: its weight 0 in sync in DNS for a
// TTL, or, when nothing is published for the set, its weight 0.
func (r *Reconciler) drained(s *scope, p *droverv1.Prod) bool {
	svc, ok := r.service(s.set)
	if !ok {
		return p.DesiredWeight() == 0
	}
	return summaryDrained(s.summaries[p.Name], p.DesiredWeight(), svc.TTL, s.now)
}

func summaryDrained(sum *droverv1.ProdSummary, desired int32, ttl time.Duration, now time.Time) bool {
	switch {
	case sum == nil || (sum.PublishedWeight == nil && sum.PendingWeight == nil):
		return desired == 0 // no record was ever published
	case sum.PendingWeight != nil:
		return false
	}
	return *sum.PublishedWeight == 0 && sum.PublishedTime != nil && !now.Before(sum.PublishedTime.Add(ttl))
}

// recordsLeft reports whether any record of the set is still published or pending.
func (s *scope) recordsLeft() bool {
	if s.set.Status.Traffic != nil && s.set.Status.Traffic.ChangeID != "" {
		return true
	}
	for _, sum := range s.summaries {
		if sum.PublishedWeight != nil || sum.PendingWeight != nil {
			return true
		}
	}
	return false
}

// drainTimers wakes the set when a Prod's TTL after its weight went to 0 runs out.
func (r *Reconciler) drainTimers(s *scope) {
	svc, ok := r.service(s.set)
	if !ok {
		return
	}
	for _, sum := range s.summaries {
		if sum.PublishedWeight != nil && *sum.PublishedWeight == 0 && sum.PublishedTime != nil {
			if left := sum.PublishedTime.Add(svc.TTL).Sub(s.now); left > 0 {
				s.after(left + 100*time.Millisecond)
			}
		}
	}
}

func sortWeights(ws []traffic.Weight) {
	slices.SortFunc(ws, func(a, b traffic.Weight) int { return strings.Compare(a.ID, b.ID) })
}

func sortedStrings(ss []string) []string {
	slices.Sort(ss)
	return ss
}

// pathsOf returns the Prod's paths as its DNS should publish them (traffic.ProdPaths),
// checked by the set's health check; nil when the Prod has no endpoint yet.
func pathsOf(set *droverv1.ProdSet, p *droverv1.Prod) *traffic.Paths {
	var hc *traffic.HealthCheck
	if t := set.Spec.Traffic; t != nil && t.HealthCheck != nil {
		hc = &traffic.HealthCheck{Protocol: t.HealthCheck.Protocol, Port: t.HealthCheck.Port, Path: t.HealthCheck.Path}
	}
	return traffic.ProdPaths(p, hc)
}

// observeEvictions observes, for each Prod this change takes from a published non-zero
// weight to 0 because its cluster is unreachable or in maintenance, the time since the cluster
// was first seen unreachable or its maintenance admitted.
func (s *scope) observeEvictions(pending map[string]int32) {
	for name, w := range pending {
		sum, p := s.summaries[name], s.prod(name)
		if w != 0 || p == nil || sum == nil || sum.PublishedWeight == nil || *sum.PublishedWeight == 0 {
			continue
		}
		var since time.Time
		why := s.weights().Prods[name].Evicted
		switch why {
		case droverv1.EvictedClusterUnreachable:
			for _, c := range s.clusters {
				if c.Name == p.Spec.ClusterRef.Name {
					since = c.UnreachableSince
				}
			}
		case droverv1.EvictedClusterMaintenance:
			since = s.admitted[p.Spec.ClusterRef.Name]
		}
		if since.IsZero() || since.After(s.now) {
			continue
		}
		evictionLatency.WithLabelValues(why).Observe(s.now.Sub(since).Seconds())
	}
}

// handoffsOf returns the UIDs of the maintenances whose status.handoff names the set:
// those that handed weights of the set to DNS at their admission. Maintenances being
// deleted count too (their finalizer waits for the set to confirm).
func handoffsOf(set *droverv1.ProdSet, ms []droverv1.ClusterMaintenance) []types.UID {
	var out []types.UID
	for i := range ms {
		if h := ms[i].Status.Handoff; h != nil && slices.Contains(h.ProdSets, set.Name) {
			out = append(out, ms[i].UID)
		}
	}
	return out
}

// takeHandoff takes over a hand-off of a maintenance, if one waits for the set, as if
// the set had submitted the change itself: the change is the set's change in flight,
// its weights the Prods' pending weights, and once it is in sync they are the published
// ones. It also forgets the hand-offs of maintenances that are gone, and confirms those
// this manager made that never reached DNS for the set (abandoned).
func (r *Reconciler) takeHandoff(s *scope) {
	st := s.set.Status.Traffic
	if st != nil && len(st.Handoffs) > 0 {
		st.Handoffs = slices.DeleteFunc(st.Handoffs, func(h droverv1.TrafficHandoff) bool {
			return !slices.Contains(s.handoffs, types.UID(h.Maintenance))
		})
	}
	if r.Handoffs == nil || r.Publisher == nil {
		return
	}
	key := client.ObjectKeyFromObject(s.set)
	inFlight := ""
	if st != nil {
		inFlight = st.ChangeID
	}
	h, ok := r.Handoffs.Take(key, inFlight)
	if !ok {
		if !r.Handoffs.Pending(key) {
			for _, uid := range s.handoffs {
				if r.Handoffs.Made(uid) && !hasHandoff(s.set, uid) {
					s.noteHandoff(uid, true) // made here, and nothing of it reached DNS for the set
				}
			}
		}
		return
	}
	if st == nil {
		st = &droverv1.ProdSetTrafficStatus{}
		s.set.Status.Traffic = st
	}
	if st.ChangeID == "" {
		now := metav1.NewTime(s.now)
		st.ChangeID, st.SubmittedTime = h.Ticket, &now
	}
	s.adopted = map[string]int32{}
	for name, w := range h.Weights {
		sum := s.summaries[name]
		if sum == nil {
			continue // gone since: the set removes its record itself
		}
		s.adopted[name] = w
		if sum.PendingWeight == nil {
			sum.PendingPaths = sum.PublishedPaths // the hand-off leaves the paths as they are
		}
		sum.PendingWeight = ptr.To(w)
	}
	if !hasHandoff(s.set, h.Maintenance) {
		s.noteHandoff(h.Maintenance, false)
	}
	s.after(time.Second)
}

func hasHandoff(set *droverv1.ProdSet, uid types.UID) bool {
	st := set.Status.Traffic
	return st != nil && slices.ContainsFunc(st.Handoffs, func(h droverv1.TrafficHandoff) bool { return h.Maintenance == string(uid) })
}

// noteHandoff records the maintenance's hand-off in the set's status, confirmed or to be
// confirmed by the change in flight.
func (s *scope) noteHandoff(uid types.UID, confirmed bool) {
	if s.set.Status.Traffic == nil {
		s.set.Status.Traffic = &droverv1.ProdSetTrafficStatus{}
	}
	st := s.set.Status.Traffic
	if i := slices.IndexFunc(st.Handoffs, func(h droverv1.TrafficHandoff) bool { return h.Maintenance == string(uid) }); i >= 0 {
		st.Handoffs[i].Confirmed = st.Handoffs[i].Confirmed || confirmed
		return
	}
	st.Handoffs = append(st.Handoffs, droverv1.TrafficHandoff{Maintenance: string(uid), Confirmed: confirmed})
}

// unconfirmedHandoffs are the maintenances that handed weights of the set to DNS under
// an earlier manager and that no change of the set has confirmed or is confirming: the
// set cannot know what they left in DNS (the manager restarted before the set took them
// over), so it publishes every weight again and the Publisher sends what differs.
func (r *Reconciler) unconfirmedHandoffs(s *scope) []types.UID {
	key := client.ObjectKeyFromObject(s.set)
	if len(s.handoffs) == 0 || r.Handoffs.Pending(key) {
		return nil
	}
	var out []types.UID
	for _, uid := range s.handoffs {
		if !hasHandoff(s.set, uid) && !r.Handoffs.Made(uid) {
			out = append(out, uid)
		}
	}
	return out
}

// confirmHandoffs records every hand-off of the set as confirmed: the set has nothing in
// DNS that a hand-off could have changed without its status saying so.
func (r *Reconciler) confirmHandoffs(s *scope) {
	if len(s.handoffs) == 0 || r.Handoffs.Pending(client.ObjectKeyFromObject(s.set)) {
		return
	}
	if st := s.set.Status.Traffic; st != nil && st.ChangeID != "" {
		return
	}
	for _, uid := range s.handoffs {
		s.noteHandoff(uid, true)
	}
}
