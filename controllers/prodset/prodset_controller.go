// Package prodset reconciles ProdSets: it keeps spec.replicas Prods from the template on
// the clusters placement chooses, takes Prods out of traffic when their cluster is
// unreachable or under maintenance, replaces them after the toleration, freezes when too
// many clusters are unreachable at once, and publishes the set's service-level weights.
//
// Every decision is made by pure functions: plan.ProdSet (placement, evictions,
// deletions), rollout.Next (revisions, the rollout's weights) and plan.Merge (the last
// word on every Prod's weight, in its spec and in DNS). This package reads what they
// need, calls them, and writes the result: Prod specs (server-side apply), DNS weights
// (traffic.Publisher, one change per reconcile) and status.
package prodset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/util/conditions"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/source"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/finalizer"
	"github.com/drover-dev/drover/internal/fresh"
	"github.com/drover-dev/drover/internal/gates"
	"github.com/drover-dev/drover/internal/mapping"
	"github.com/drover-dev/drover/internal/phases"
	"github.com/drover-dev/drover/internal/plan"
	"github.com/drover-dev/drover/internal/tenancy"
	"github.com/drover-dev/drover/internal/traffic"
)

const (
	// ControllerName names the controller, its event recorder and its cluster source.
	ControllerName = "prodset"
	// FieldManager is the field manager of the Prods the controller applies.
	FieldManager = "drover-prodset"
	// DefaultUnreachableToleration applies when spec.placement.unreachableToleration is unset.
	DefaultUnreachableToleration = 5 * time.Minute
	// setIndex indexes Prods by the name of their set (the drover.dev/prodset label).
	setIndex = "metadata.labels.prodset"
)

// Reconciler reconciles ProdSets.
type Reconciler struct {
	Client       client.Client
	ClusterCache clustercache.ClusterCache
	// Publisher publishes the sets' DNS weights; nil means no traffic provider.
	Publisher traffic.Publisher
	Recorder  events.EventRecorder
	// Gates evaluates the httpCheck and prometheus gates of rollouts; nil fails them.
	Gates *gates.Runner
	// SingleTeam is the manager's --single-team: tenancy is off, the gates may reach
	// any address and the sets publish under any name in any zone (still one set per
	// name).
	SingleTeam bool
	// GateNetworks are the networks the gates of a namespace without a Tenant may
	// connect to (--gate-networks); none: public addresses only.
	GateNetworks []netip.Prefix
	// APIReader reads what the manager does not cache (the ControllerRevisions keeping
	// the set's templates).
	APIReader client.Reader

	// Grace is how long a cluster must stay unreachable before its Prods leave traffic.
	// Defaults to 5s.
	Grace time.Duration
	// ProbeFailureGrace is how soon after a failed health probe the set is woken.
	// Defaults to 5s.
	ProbeFailureGrace time.Duration
	// ResyncInterval is how often a settled set is looked at again. Defaults to 1m.
	ResyncInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Handoffs are the weights ClusterMaintenances handed to the Publisher for the sets
	// at their admission (the maintenance controller shares them); nil: none are.
	Handoffs *traffic.Handoffs
	// LeftoversNamespace is the manager's namespace, where the record of what a released
	// set left in DNS is kept (release.go).
	LeftoversNamespace string

	claims      claims
	unreachable unreachableSince
	prober      prober
	history     history
	releases    releases
	steps       stepClock
	revisions   revisions
	statusHolds statusHolds
	reads       *fresh.Reads
}

// +kubebuilder:rbac:groups=drover.dev,resources=prodsets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prodsets/status;prodsets/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prods,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=drover.dev,resources=clustermaintenances,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=rolloutpolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=analysistemplates;clusteranalysistemplates,verbs=get;list;watch
// +kubebuilder:rbac:groups=apps,resources=controllerrevisions,verbs=get;list;watch;create;delete
// +kubebuilder:rbac:groups=cluster.x-k8s.io,resources=clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=tenants,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// SetupWithManager registers the controller and its watches.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, options controller.Options) error {
	if r.Grace == 0 {
		r.Grace = 5 * time.Second
	}
	r.prober = prober{cc: r.ClusterCache, ttl: 3 * time.Second, timeout: 2 * time.Second}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	r.history = history{reader: r.APIReader, metadata: r.Client, writer: r.Client}
	r.reads = &fresh.Reads{Cache: r.Client, Live: r.APIReader, KeepWrites: true}
	if r.ProbeFailureGrace == 0 {
		r.ProbeFailureGrace = 5 * time.Second
	}
	if r.ResyncInterval == 0 {
		r.ResyncInterval = time.Minute
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	// A set's reconcile lists its own Prods: by an index, not by matching the label
	// of every Prod in the namespace (at 2,000 Prods in one namespace, a resync of its
	// 400 sets matched 800,000 labels).
	if err := mgr.GetFieldIndexer().IndexField(ctx, &droverv1.Prod{}, setIndex, func(o client.Object) []string {
		if name := o.GetLabels()[droverv1.ProdSetNameLabel]; name != "" {
			return []string{name}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing Prods by ProdSet: %w", err)
	}
	setMetrics.Use(mgr.GetCache(), mgr.Elected())
	// Placement reads every Cluster and ClusterMaintenance of the set's namespace.
	toSets := mapping.AllInNamespace(r.Client, func() client.ObjectList { return &droverv1.ProdSetList{} })
	// A gate's verdict wakes its set, as does a record name let go for the sets that
	// asked for it; neither callback ever waits for the controller.
	wake := newWakeups()
	if err := mgr.Add(manager.RunnableFunc(wake.run)); err != nil {
		return err
	}
	if r.Gates != nil {
		r.Gates.Done = wake.add
		if err := mgr.Add(r.Gates); err != nil {
			return err
		}
	}
	r.claims.wake = wake.add
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&droverv1.ProdSet{}).
		Owns(&droverv1.Prod{}, builder.WithPredicates(prodChanged())).
		WithOptions(options).
		Watches(&clusterv1.Cluster{}, handler.EnqueueRequestsFromMapFunc(toSets)).
		Watches(&droverv1.ClusterMaintenance{}, handler.EnqueueRequestsFromMapFunc(toSets), builder.WithPredicates(maintenanceChanged())).
		Watches(&droverv1.RolloutPolicy{}, handler.EnqueueRequestsFromMapFunc(toSets)).
		// A freeze made, changed or deleted is judged again by the sets it may hold (its
		// times are, by the requeue each set asks for at the next one).
		Watches(&droverv1.Freeze{}, handler.EnqueueRequestsFromMapFunc(toSets)).
		Watches(&droverv1.ClusterFreeze{}, handler.EnqueueRequestsFromMapFunc(r.allSets)).
		// A Tenant says which zones and names sets may publish, in its namespaces and (by
		// the zones it lists) in those without one: a change wakes every set that publishes.
		Watches(&droverv1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.publishingSets)).
		WatchesRawSource(source.Channel(wake.out, &handler.TypedEnqueueRequestForObject[*droverv1.ProdSet]{})).
		WatchesRawSource(r.ClusterCache.GetClusterSource(ControllerName, toSets,
			clustercache.WatchForProbeFailure(r.ProbeFailureGrace))).
		Complete(r)
}

// scope is what one reconcile read and decided.
type scope struct {
	set *droverv1.ProdSet
	// read is the set as this pass of the reconcile started from it, before any change.
	read *droverv1.ProdSet
	// stored is the set as the API server stores it as far as this reconcile knows (as
	// read, unless an earlier pass changed it in memory): what writes made on the way
	// (a claim, gate verdicts) are patched against.
	stored   *droverv1.ProdSet
	revision string
	prods    []*droverv1.Prod
	clusters []plan.Cluster
	plan     plan.Result
	now      time.Time
	// requeue is the soonest time something should be looked at again; phases (and what
	// they call) lower it with after, and the phase that ends the reconcile returns it.
	requeue time.Duration
	// planned is set once plan is computed.
	planned bool
	// done: a phase ended the reconcile; the phases after it do not run.
	done bool
	// summaries are the per-Prod summaries of the last status, by name, updated as DNS
	// changes are submitted and confirmed.
	summaries map[string]*droverv1.ProdSummary
	// publishErr is why the last publication failed, for TrafficReady.
	publishErr error
	// refusal is why DNS refused the set's records, for TrafficReady (reason Refused), or
	// why the set may not publish them (refusalReason); "" when neither.
	refusal, refusalReason string
	// withdrawing: the set may not publish under its name (reconcileClaim); it removes
	// the records it has instead.
	withdrawing bool
	// submitted: this reconcile submitted a DNS change; settled: DNS already had every
	// weight wanted and no change was in flight.
	submitted, settled bool
	// ro is what the rollout decided.
	ro rolloutScope
	// merged is the last word on the weights; see weights.
	merged *plan.Merged
	// safety is what the set's safety rules decided about the weights.
	safety safetyScope
	// needsPaths: the publisher writes each Prod's paths, so a Prod's record needs a
	// routable endpoint to point at (traffic.PublishesPaths).
	needsPaths bool
	// claimFailed: the record name's claim could not be decided (a read or write
	// failed); nothing is published in this reconcile, the rest goes on.
	claimFailed bool
	// wroteMidway: the set was written before the reconcile's end (its claim, its gate
	// verdicts), so the version its last write leaves is the one to read next.
	wroteMidway bool
	// adopted are the weights of the hand-off the set took over in this reconcile.
	adopted map[string]int32
	// handoffs are the maintenances that handed weights of the set to DNS (handoffsOf).
	handoffs []types.UID
	// admitted is when the maintenance of each cluster under one was admitted.
	admitted map[string]time.Time
	// tenancy is the tenancy of the set's namespace, once a phase needed it (the record
	// name's claim, the gates).
	tenancy *tenancy.Policy
	// gateFailures is how many of the set's gates had failed when the reconcile read
	// them (gates.Runner.Failures); see interrupted.
	gateFailures uint64
	// interrupted: a gate failed after that; the reconcile writes no more Prods.
	interrupted bool
}

// ended reports whether a phase ended the reconcile.
func (s *scope) ended() bool { return s.done }

func (s *scope) after(d time.Duration) {
	if d > 0 && (s.requeue == 0 || d < s.requeue) {
		s.requeue = d
	}
}

// phase is one step of a reconcile. It returns what it wants of the next reconcile and
// its errors; one that leaves nothing for the phases after it to act on sets s.done.
type phase = phases.Phase[*scope]

// Reconcile brings one ProdSet towards its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (res ctrl.Result, retErr error) {
	// The set is read as of this manager's last write of it (fresh.Reads: the cache, or,
	// while the cache has not caught up with that write, the write's response, kept for
	// this; reading it again would cost as much as the write): its status is the
	// rollout's memory and the record of the commands acted on, and a reconcile that
	// started from the status before the last one's write would redo what that one did.
	set := &droverv1.ProdSet{}
	if err := r.reads.Get(ctx, req.NamespacedName, set); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if set.DeletionTimestamp.IsZero() {
		added, err := finalizer.Ensure(ctx, r.Client, r.APIReader, set, droverv1.ProdSetFinalizer)
		if err != nil {
			r.reads.Unsure(set)
			return ctrl.Result{}, err
		}
		if added {
			r.reads.Wrote(set)
		}
	}
	before := set.DeepCopy()
	s := r.newScope(set, before)
	defer func() {
		r.updateStatus(s)
		now := r.Now()
		if wait := r.statusHolds.hold(set, &before.Status, now); wait > 0 {
			// Only transient counts moved, and the status was written a moment ago: the
			// change waits (see statusHolds); the reconcile after the wait writes it.
			set.Status = *before.Status.DeepCopy()
			if retErr == nil && (res.RequeueAfter <= 0 || wait < res.RequeueAfter) {
				res.RequeueAfter = wait
			}
		}
		statusChanged := !equality.Semantic.DeepEqual(before.Status, set.Status)
		last, err := r.write(ctx, before, set)
		if err == nil && statusChanged {
			r.statusHolds.wrote(set.UID, now)
		}
		switch {
		case err != nil:
			r.reads.Unsure(set)
		case last != nil:
			r.reads.Wrote(last) // the reconcile's last write
		case s.wroteMidway:
			r.reads.Unsure(set) // written on the way (a claim, gate verdicts) and not since
		}
		if err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()
	res, err := r.runPhases(ctx, s)
	first := s
	if again := r.decideAgain(ctx, s); again != nil {
		s = again
		res2, err2 := r.runPhases(ctx, s)
		// The second pass decides everything the first would have asked a reconcile for.
		return res2, kerrors.NewAggregate([]error{err, err2, r.recordRelease(ctx, first, s)})
	}
	return res, kerrors.NewAggregate([]error{err, r.recordRelease(ctx, first, s)})
}

// decideAgain is the second pass of a reconcile whose Prod writes a gate failure
// interrupted (s, the first pass), nil for any other. The reconcile the failure woke
// would start from the status s leaves, once written: the second pass starts from that
// status in memory instead, as that reconcile would, and the rollback's DNS change then
// waits for one status write of the set (the verdict's, persistRollout, before anything
// acts on it), not two; at hundreds of Prods each costs a tenth of a second or more. The
// verdict's write is patched against the set as stored, so it carries what the first
// pass decided of the rollout along with it: a successor still finds every Prod the
// first pass moved in its step. One more pass at most: a second interruption is left to
// the reconcile it wakes.
func (r *Reconciler) decideAgain(ctx context.Context, s *scope) *scope {
	if !s.interrupted || !s.set.DeletionTimestamp.IsZero() {
		return nil
	}
	ctrl.LoggerFrom(ctx).V(1).Info("deciding again after a gate failure interrupted the Prods' writes")
	gateInterruptions.Inc()
	r.updateStatus(s)
	again := r.newScope(s.set, s.stored)
	again.wroteMidway = s.wroteMidway
	return again
}

// newScope starts a reconcile's pass over set (its status as the pass starts from it);
// stored is the set as the API server stores it as far as the reconcile knows, against
// which writes made on the way are patched.
func (r *Reconciler) newScope(set, stored *droverv1.ProdSet) *scope {
	s := &scope{set: set, read: set.DeepCopy(), stored: stored, now: r.Now(), revision: r.revisions.of(set),
		summaries: map[string]*droverv1.ProdSummary{}, needsPaths: traffic.PublishesPaths(r.Publisher)}
	for i := range set.Status.Prods {
		sum := set.Status.Prods[i]
		s.summaries[sum.Name] = &sum
	}
	s.gateFailures = r.gateFailures(s)
	return s
}

// runPhases runs one pass of the reconcile's phases over s.
func (r *Reconciler) runPhases(ctx context.Context, s *scope) (ctrl.Result, error) {
	// Every reconcile reads, follows the DNS change in flight, plans and rolls out; a
	// frozen set stops there.
	alwaysReconcile := []phase{
		phases.WrapErr("reading the set's world", r.reconcileObserve),
		r.reconcileTrackChange,
		phases.WrapErr("planning", r.reconcilePlan),
		r.reconcileFreeze,
		phases.WrapErr("rolling out", r.reconcileRollout),
	}
	if !s.set.DeletionTimestamp.IsZero() {
		return phases.Run(ctx, s, append(alwaysReconcile,
			phases.WrapErr("writing Prods", r.reconcileApplyProds),
			phases.WrapErr("publishing weights", r.reconcilePublish),
			phases.WrapErr("deleting drained Prods", r.reconcileDeleteProds),
			phases.WrapErr("releasing", r.reconcileRelease),
			r.reconcileFinalizer,
			r.reconcileTimers,
		), s.ended)
	}
	// The weights go to DNS before the Prods are written: the Prods' specs follow the
	// same merged weights, and a rollback or an eviction of hundreds of Prods does not
	// wait for hundreds of writes before its one DNS change.
	return phases.Run(ctx, s, append(alwaysReconcile,
		phases.WrapErr("recording the rollout", r.reconcileRecordRollout),
		phases.WrapErr("superseding Prods", r.reconcileSupersede),
		phases.WrapErr("claiming the record name", r.reconcileClaim),
		phases.WrapErr("publishing weights", r.reconcilePublish),
		r.reconcileRollbackSubmitted,
		phases.WrapErr("writing Prods", r.reconcileApplyProds),
		phases.WrapErr("creating Prods", r.reconcileCreateProds),
		phases.WrapErr("creating replacements", r.reconcileReplacements),
		phases.WrapErr("deleting drained Prods", r.reconcileDeleteProds),
		r.reconcileTimers,
	), s.ended)
}

// reconcileObserve reads what the set's decisions depend on; nothing is decided without it.
func (r *Reconciler) reconcileObserve(ctx context.Context, s *scope) (ctrl.Result, error) {
	if err := r.observe(ctx, s); err != nil {
		s.done = true
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, nil
}

// reconcilePlan decides with plan.ProdSet.
func (r *Reconciler) reconcilePlan(_ context.Context, s *scope) (ctrl.Result, error) {
	in, err := r.planInput(s)
	if err != nil {
		s.done = true
		return ctrl.Result{}, err
	}
	s.plan = plan.ProdSet(in)
	s.planned = true
	return ctrl.Result{}, nil
}

// reconcileFreeze ends the reconcile of a frozen set: it writes nothing but status, and
// forgets since when its clusters have been unreachable.
func (r *Reconciler) reconcileFreeze(_ context.Context, s *scope) (ctrl.Result, error) {
	set := s.set
	prev := conditions.Get(set, droverv1.ProdSetFrozenCondition)
	if !s.plan.Frozen {
		if prev != nil && prev.Status == metav1.ConditionTrue {
			r.event(set, corev1.EventTypeNormal, ReasonUnfrozen, "Freeze", "enough clusters are reachable again; acting on the set again")
		}
		return ctrl.Result{}, nil
	}
	r.unreachable.forgetSet(client.ObjectKeyFromObject(set))
	if prev == nil || prev.Status != metav1.ConditionTrue {
		r.event(set, corev1.EventTypeWarning, ReasonFrozen, "Freeze", "%s", s.plan.Message)
	}
	s.after(5 * time.Second)
	s.done = true
	return ctrl.Result{RequeueAfter: s.requeue}, nil
}

// reconcileRecordRollout writes the rollout's gate verdicts before anything acts on
// them (see persistRollout); nothing acts on a decision that is not recorded, and the
// next reconcile decides again.
func (r *Reconciler) reconcileRecordRollout(ctx context.Context, s *scope) (ctrl.Result, error) {
	if err := r.persistRollout(ctx, s); err != nil {
		s.done = true
		if !apierrors.IsNotFound(err) {
			return ctrl.Result{}, err
		}
	}
	return ctrl.Result{}, nil
}

// reconcileFinalizer lets a deleted set go once its Prods and its records are gone.
func (r *Reconciler) reconcileFinalizer(_ context.Context, s *scope) (ctrl.Result, error) {
	if len(s.prods) > 0 || s.recordsLeft() {
		return ctrl.Result{}, nil
	}
	controllerutil.RemoveFinalizer(s.set, droverv1.ProdSetFinalizer)
	if st := s.set.Status.Traffic; st != nil && st.ClaimedName != "" {
		r.claims.release(st.ClaimedName, s.set.UID)
	}
	forgetAllGates(r.Gates, client.ObjectKeyFromObject(s.set))
	r.Handoffs.Forget(client.ObjectKeyFromObject(s.set))
	r.history.forgetSet(s.set.UID)
	r.releases.forget(s.set.UID)
	r.revisions.forget(s.set.UID)
	r.steps.forget(s.set.UID)
	r.statusHolds.forget(s.set.UID)
	s.done = true
	return ctrl.Result{}, nil
}

// reconcileTimers ends the reconcile with the soonest time the set should be looked at
// again.
func (r *Reconciler) reconcileTimers(_ context.Context, s *scope) (ctrl.Result, error) {
	r.timers(s)
	return ctrl.Result{RequeueAfter: s.requeue}, nil
}

// observe reads the set's Prods, the namespace's Clusters and ClusterMaintenances.
func (r *Reconciler) observe(ctx context.Context, s *scope) error {
	ns := s.set.Namespace
	prods := &droverv1.ProdList{}
	if err := r.Client.List(ctx, prods, client.InNamespace(ns), client.MatchingFields{setIndex: s.set.Name}); err != nil {
		return fmt.Errorf("listing Prods: %w", err)
	}
	for i := range prods.Items {
		p := &prods.Items[i]
		if metav1.IsControlledBy(p, s.set) {
			s.prods = append(s.prods, p)
		}
	}
	slices.SortFunc(s.prods, func(a, b *droverv1.Prod) int { return strings.Compare(a.Name, b.Name) })

	clusters := &clusterv1.ClusterList{}
	if err := r.Client.List(ctx, clusters, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing Clusters: %w", err)
	}
	maint := &droverv1.ClusterMaintenanceList{}
	if err := r.Client.List(ctx, maint, client.InNamespace(ns)); err != nil {
		return fmt.Errorf("listing ClusterMaintenances: %w", err)
	}
	s.handoffs = handoffsOf(s.set, maint.Items)
	type mstate struct {
		m     plan.Maintenance
		surge bool
	}
	ms := map[string]mstate{}
	for i := range maint.Items {
		m := &maint.Items[i]
		if m.Ended() {
			continue // being deleted or restored: the cluster comes back
		}
		st := ms[m.Spec.ClusterName]
		switch {
		case m.Admitted():
			st.m = plan.Draining
			if t, ok := s.admitted[m.Spec.ClusterName]; !ok || m.Status.AdmittedTime.Time.Before(t) {
				if s.admitted == nil {
					s.admitted = map[string]time.Time{}
				}
				s.admitted[m.Spec.ClusterName] = m.Status.AdmittedTime.Time
			}
		case m.Spec.Surge && st.m == plan.NoMaintenance:
			st.m = plan.SurgeRequested
		}
		st.surge = st.surge || m.Spec.Surge
		if st.m == plan.NoMaintenance {
			continue // requested without surge and not admitted: nothing happens yet
		}
		ms[m.Spec.ClusterName] = st
	}
	healths := make([]ClusterHealth, len(clusters.Items))
	var fine []client.ObjectKey
	anyUnreachable := false
	for i := range clusters.Items {
		c := &clusters.Items[i]
		healths[i] = observeCluster(ctx, r.ClusterCache, c)
		switch {
		case healths[i].Known && !healths[i].Reachable:
			anyUnreachable = true
		case healths[i].Known:
			fine = append(fine, client.ObjectKeyFromObject(c))
		}
	}
	if anyUnreachable && len(fine) > 0 {
		// One is unreachable: ask the others now rather than at their next probe.
		unreachable := r.prober.recheck(ctx, fine, s.now)
		for i := range clusters.Items {
			if unreachable[client.ObjectKeyFromObject(&clusters.Items[i])] {
				healths[i].Reachable = false
			}
		}
	}
	for i := range clusters.Items {
		c, h := &clusters.Items[i], healths[i]
		pc := plan.Cluster{Name: c.Name, Labels: c.Labels, Ready: h.Ready, Reachable: h.Reachable}
		pc.UnreachableSince = r.unreachable.observe(unreachableKey{set: client.ObjectKeyFromObject(s.set), cluster: c.Name}, h.Reachable, s.now)
		if st, ok := ms[c.Name]; ok {
			pc.Maintenance, pc.Surge = st.m, st.surge
		}
		s.clusters = append(s.clusters, pc)
	}
	return nil
}

// planInput turns what was read into plan.Input.
func (r *Reconciler) planInput(s *scope) (plan.Input, error) {
	spec := s.set.Spec
	replicas := int(ptr.Deref(spec.Replicas, 1))
	sel, err := metav1.LabelSelectorAsSelector(spec.Placement.ClusterSelector.AsMetav1())
	if err != nil {
		return plan.Input{}, fmt.Errorf("spec.placement.clusterSelector: %w", err)
	}
	minServing, err := plan.MinServing(replicas, spec.Placement.MinAvailable, spec.Placement.MaxUnavailable)
	if err != nil {
		return plan.Input{}, err
	}
	s.set.Status.MinServing = int32(minServing)
	toleration := DefaultUnreachableToleration
	if spec.Placement.UnreachableToleration != nil {
		toleration = spec.Placement.UnreachableToleration.Duration
	}
	maxUnreachable := int(spec.Placement.MaxUnreachablePercent)
	if maxUnreachable == 0 {
		maxUnreachable = 50
	}
	in := plan.Input{
		Now: s.now, Replicas: replicas, Selector: sel, TopologyKey: spec.Placement.TopologyKey,
		MaxPerCluster: int(spec.Placement.MaxPerCluster), Grace: r.Grace, Toleration: toleration,
		MaxUnreachablePercent: maxUnreachable, MinServing: minServing,
		Weight:   ptr.Deref(spec.Template.Spec.Traffic.Weight, droverv1.DefaultWeight),
		Deleting: !s.set.DeletionTimestamp.IsZero(),
		Clusters: s.clusters,
	}
	for _, p := range s.prods {
		in.Prods = append(in.Prods, plan.Prod{
			Name: p.Name, Cluster: p.Spec.ClusterRef.Name, SurgeFor: p.Labels[droverv1.SurgeForLabel], Replaces: p.Labels[droverv1.ReplacesLabel],
			Superseded: p.Annotations[droverv1.SupersededAnnotation] != "",
			Deleting:   !p.DeletionTimestamp.IsZero(),
			Available:  conditions.IsTrue(p, droverv1.ProdAvailableCondition),
			Weight:     p.DesiredWeight(),
			Drained:    r.drained(s, p),
		})
	}
	return in, nil
}

// reconcileSupersede marks the Prods the plan replaces; they are retired when their cluster is back.
func (r *Reconciler) reconcileSupersede(ctx context.Context, s *scope) (ctrl.Result, error) {
	var errs []error
	for _, name := range s.plan.Supersede {
		p := s.prod(name)
		if p == nil || p.Annotations[droverv1.SupersededAnnotation] != "" {
			continue
		}
		orig := p.DeepCopy()
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[droverv1.SupersededAnnotation] = fmt.Sprintf("%s: cluster %s unreachable for longer than the toleration",
			s.now.UTC().Format(time.RFC3339), p.Spec.ClusterRef.Name)
		if err := r.Client.Patch(ctx, p, client.MergeFrom(orig)); err != nil {
			errs = append(errs, fmt.Errorf("marking Prod %s superseded: %w", name, err))
			continue
		}
		r.event(s.set, corev1.EventTypeWarning, ReasonSuperseded, "Replace",
			"Prod %s: cluster %s unreachable for longer than the toleration; replacing it elsewhere, it is retired when the cluster returns", name, p.Spec.ClusterRef.Name)
	}
	return ctrl.Result{}, kerrors.NewAggregate(errs)
}

// reconcileApplyProds writes every existing Prod's spec: the template of the revision the
// rollout wants it on, and its weight. What it changed is recorded as one event per kind
// of change (batch), not one per Prod.
//
// The Prods are written one after the other, in order of name: a gate failure stops the
// writes between two Prods (interrupted), and a rollback must find as few Prods written
// past the failure as can be.
func (r *Reconciler) reconcileApplyProds(ctx context.Context, s *scope) (ctrl.Result, error) {
	var errs []error
	events := &batch{}
	for _, p := range s.prods {
		if r.interrupted(ctx, s) {
			break
		}
		if !p.DeletionTimestamp.IsZero() {
			continue
		}
		pw := s.weights().Prods[p.Name]
		if pw.Why == plan.WhyUnplanned {
			continue
		}
		w := pw.Spec
		have := p.Labels[droverv1.RevisionLabel]
		rev := s.ro.revisions[p.Name]
		if rev == "" {
			rev = have
		}
		orphaned := p.Labels[droverv1.ReplacesLabel] != "" && s.prod(p.Labels[droverv1.ReplacesLabel]) == nil
		if have == rev && p.DesiredWeight() == w && !orphaned {
			continue
		}
		tmpl, err := r.template(ctx, s, rev)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("updating Prod %s: %w", p.Name, err))
			continue
		case tmpl == nil && have == rev:
			// A revision whose template is not kept (a Prod older than the history):
			// only its weight changes.
			err = r.Client.Patch(ctx, p, client.RawPatch(types.MergePatchType, fmt.Appendf(nil, `{"spec":{"traffic":{"weight":%d}}}`, w)), client.FieldOwner(FieldManager))
		case tmpl == nil:
			err = fmt.Errorf("the template of revision %s is no longer kept (ControllerRevision %s)", rev, RevisionName(s.set.Name, rev))
		default:
			desired := r.desiredProd(s, p.Name, prodIndex(p), p.Spec.ClusterRef.Name, p.Labels[droverv1.SurgeForLabel], w, rev, tmpl)
			if orig := p.Labels[droverv1.ReplacesLabel]; orig != "" && s.prod(orig) != nil {
				desired.Labels[droverv1.ReplacesLabel] = orig // until the original is retired
			}
			err = r.apply(ctx, desired)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("updating Prod %s: %w", p.Name, err))
			continue
		}
		name, cluster := p.Name, p.Spec.ClusterRef.Name
		if have != rev {
			events.add(corev1.EventTypeNormal, ReasonUpdated, "Update",
				fmt.Sprintf("%%d Prods: revision %s -> %s (version %s)", have, rev, tmpl.Spec.Version),
				fmt.Sprintf("Prod %s on cluster %s: revision %s -> %s (version %s)", name, cluster, have, rev, tmpl.Spec.Version),
				fmt.Sprintf("%s on cluster %s", name, cluster))
		}
		if old := p.DesiredWeight(); old != w {
			switch why := pw.Evicted; {
			case w == 0 && pw.Why == plan.WhySafetyRule:
				events.add(corev1.EventTypeNormal, ReasonEvicted, "SetWeight",
					fmt.Sprintf("%%d Prods to leave traffic (weight -> 0): %s; a safety rule holds their weights in DNS", why),
					fmt.Sprintf("Prod %s on cluster %s to leave traffic (weight %d -> 0): %s; a safety rule holds its weight in DNS at %d", name, cluster, old, why, pw.Publish),
					fmt.Sprintf("%s on cluster %s (weight %d -> 0, held at %d)", name, cluster, old, pw.Publish))
			case w == 0:
				events.add(corev1.EventTypeNormal, ReasonEvicted, "SetWeight",
					fmt.Sprintf("%%d Prods out of traffic (weight -> 0): %s", why),
					fmt.Sprintf("Prod %s on cluster %s out of traffic (weight %d -> 0): %s", name, cluster, old, why),
					fmt.Sprintf("%s on cluster %s (weight %d -> 0)", name, cluster, old))
			default:
				events.add(corev1.EventTypeNormal, ReasonAdmitted, "SetWeight",
					fmt.Sprintf("%%d Prods back in traffic (weight -> %d)", w),
					fmt.Sprintf("Prod %s on cluster %s back in traffic (weight %d -> %d)", name, cluster, old, w),
					fmt.Sprintf("%s on cluster %s (weight %d -> %d)", name, cluster, old, w))
			}
		}
		p.Spec.Traffic.Weight = ptr.To(w)
	}
	r.record(s.set, events)
	return ctrl.Result{}, kerrors.NewAggregate(errs)
}

// reconcileCreateProds creates the Prods the plan places. A name taken by a Prod that is not the
// set's (a Prod of its own, say) is skipped, never taken over.
//
// The names are chosen first, one after the other (ProdName takes from taken, and a name
// found taken is skipped); then the Prods are written createConcurrency at a time: at a
// hundred sets of ten, writing them one by one held the first apply for a minute. Each
// write starts only if no gate failed since the reconcile read the gates (interrupted),
// and it writes no more than the plan's Create would one after the other.
func (r *Reconciler) reconcileCreateProds(ctx context.Context, s *scope) (ctrl.Result, error) {
	if len(s.plan.Create) == 0 {
		return ctrl.Result{}, nil
	}
	var errs []error
	taken := map[string]bool{}
	for _, p := range s.prods {
		taken[p.Name] = true
	}
	rev := s.ro.createRevision
	tmpl, err := r.template(ctx, s, rev)
	switch {
	case err != nil:
		return ctrl.Result{}, fmt.Errorf("creating %d Prods: %w", len(s.plan.Create), err)
	case tmpl == nil:
		rev, tmpl = s.revision, &s.set.Spec.Template
	}
	weight := ptr.Deref(tmpl.Spec.Traffic.Weight, droverv1.DefaultWeight)
	var todo []*droverv1.Prod
	for _, np := range s.plan.Create {
		name, index, err := r.freeProdName(ctx, s, np.Cluster, taken)
		if err != nil {
			errs = append(errs, fmt.Errorf("creating a Prod on cluster %s: %w", np.Cluster, err))
			continue
		}
		todo = append(todo, r.desiredProd(s, name, index, np.Cluster, np.SurgeFor, weight, rev, tmpl))
	}

	var mu sync.Mutex // guards errs, created and s (interrupted writes it)
	var created []*droverv1.Prod
	g := new(errgroup.Group)
	g.SetLimit(createConcurrency)
	for _, p := range todo {
		g.Go(func() error {
			mu.Lock()
			stop := r.interrupted(ctx, s)
			mu.Unlock()
			if stop {
				return nil
			}
			// The name was free when chosen; a write waits for its turn, so it is
			// looked up again just before (the same read as when chosen): a Prod
			// another author made meanwhile is not applied over.
			err := r.Client.Get(ctx, client.ObjectKeyFromObject(p), &droverv1.Prod{})
			switch {
			case err == nil:
				err = fmt.Errorf("the name %s was taken meanwhile by a Prod that is not the set's: not taken over, another is chosen next time", p.Name)
			case apierrors.IsNotFound(err):
				err = r.apply(ctx, p)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("creating a Prod on cluster %s: %w", p.Spec.ClusterRef.Name, err))
				return nil
			}
			created = append(created, p)
			return nil
		})
	}
	_ = g.Wait() // every error is in errs
	r.createdEvents(s, created)
	return ctrl.Result{}, kerrors.NewAggregate(errs)
}

// createConcurrency bounds how many Prods one reconcile of a set writes at once.
const createConcurrency = 8

// freeProdName chooses the name of a new Prod of the set on cluster (ProdName), marking
// it taken: a name a Prod that is not the set's already has is skipped, at most
// maxNameAttempts of them.
func (r *Reconciler) freeProdName(ctx context.Context, s *scope, cluster string, taken map[string]bool) (string, int, error) {
	for range maxNameAttempts {
		name, index := ProdName(s.set.Name, cluster, taken)
		taken[name] = true
		err := r.Client.Get(ctx, client.ObjectKey{Namespace: s.set.Namespace, Name: name}, &droverv1.Prod{})
		switch {
		case err == nil:
			continue // someone else's Prod
		case apierrors.IsNotFound(err):
			return name, index, nil
		default:
			return "", 0, err
		}
	}
	return "", 0, fmt.Errorf("no free name after %d tries", maxNameAttempts)
}

// gateFailures is how many of the set's gate runs have ended failed so far.
func (r *Reconciler) gateFailures(s *scope) uint64 {
	if r.Gates == nil {
		return 0
	}
	return r.Gates.Failures(client.ObjectKeyFromObject(s.set))
}

// interrupted says a gate of the set failed after this reconcile read the gates: the
// writes of Prods stop there, and the reconcile decides again at once (decideAgain),
// taking the new revision out of traffic without waiting for the rest of them (a hundred
// Prods take seconds to write; a rollback must not). What was not written is written by
// that second pass, or a later reconcile, from what it decides then.
func (r *Reconciler) interrupted(ctx context.Context, s *scope) bool {
	if s.interrupted {
		return true
	}
	if r.gateFailures(s) == s.gateFailures {
		return false
	}
	s.interrupted = true
	s.after(time.Millisecond)
	ctrl.LoggerFrom(ctx).V(1).Info("a gate failed: the Prods' writes stop so that the set acts on it first")
	return true
}

// maxNameAttempts bounds how many taken names createProds skips for one new Prod.
const maxNameAttempts = 10

// reconcileDeleteProds deletes the drained Prods the plan retires.
func (r *Reconciler) reconcileDeleteProds(ctx context.Context, s *scope) (ctrl.Result, error) {
	var errs []error
	for _, name := range s.weights().Delete {
		if r.interrupted(ctx, s) {
			break
		}
		p := s.prod(name)
		if p == nil || !p.DeletionTimestamp.IsZero() {
			continue
		}
		if err := r.Client.Delete(ctx, p, client.Preconditions{UID: &p.UID}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting Prod %s: %w", name, err))
			continue
		}
		r.event(s.set, corev1.EventTypeNormal, ReasonDeleted, "Delete", "deleted drained Prod %s on cluster %s (%s)", name, p.Spec.ClusterRef.Name, s.weights().Prods[name].Evicted)
	}
	return ctrl.Result{}, kerrors.NewAggregate(errs)
}

// desiredProd is the Prod the set wants under name on cluster. The index-th Prod of the
// set on a cluster (index > 0) gets its own target namespace, "<targetNamespace>-<index>",
// so two Prods of one set on one cluster never share objects.
//
// It carries the Prod controller's finalizer (droverv1.ProdFinalizer), so that the
// create writes it and the Prod controller need not write the Prod once more before
// anything lands. The set's field manager then owns the finalizer along with whoever
// else added it: every apply of the Prod by the set includes it (an apply leaving it out
// would remove it), and the set never applies a Prod being deleted, whose finalizer the
// Prod controller removes with its own patch when the Prod is drained and cleaned up.
func (r *Reconciler) desiredProd(s *scope, name string, index int, cluster, surgeFor string, weight int32, rev string, t *droverv1.ProdTemplate) *droverv1.Prod {
	p := &droverv1.Prod{
		TypeMeta: metav1.TypeMeta{APIVersion: droverv1.GroupVersion.String(), Kind: "Prod"},
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: s.set.Namespace,
			Labels: map[string]string{}, Annotations: map[string]string{},
		},
		Spec: droverv1.ProdSpec{ClusterRef: droverv1.ClusterReference{Name: cluster}, ProdTemplateSpec: TemplateSpecFor(t, index)},
	}
	for k, v := range t.Metadata.Labels {
		p.Labels[k] = v
	}
	for k, v := range t.Metadata.Annotations {
		p.Annotations[k] = v
	}
	p.Labels[droverv1.ProdSetNameLabel] = s.set.Name
	p.Annotations[IndexAnnotation] = strconv.Itoa(index)
	p.Labels[droverv1.RevisionLabel] = rev
	p.Labels[droverv1.ClusterNameLabel] = cluster
	if surgeFor != "" {
		p.Labels[droverv1.SurgeForLabel] = surgeFor
	}
	p.Spec.Traffic.Weight = ptr.To(weight)
	p.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(s.set, droverv1.GroupVersion.WithKind("ProdSet"))}
	p.Finalizers = []string{droverv1.ProdFinalizer}
	return p
}

// apply server-side applies a Prod as the set's field manager.
func (r *Reconciler) apply(ctx context.Context, p *droverv1.Prod) error {
	obj, err := runtime.DefaultUnstructuredConverter.ToUnstructured(p)
	if err != nil {
		return err
	}
	u := &unstructured.Unstructured{Object: obj}
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	return r.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(u), client.FieldOwner(FieldManager), client.ForceOwnership)
}

// timers asks to be woken when a grace or the toleration runs out for an unreachable cluster.
func (r *Reconciler) timers(s *scope) {
	in := s.set.Spec.Placement
	toleration := DefaultUnreachableToleration
	if in.UnreachableToleration != nil {
		toleration = in.UnreachableToleration.Duration
	}
	for _, c := range s.clusters {
		if c.Reachable {
			continue
		}
		for _, d := range []time.Duration{r.Grace, toleration} {
			if left := c.UnreachableSince.Add(d).Sub(s.now); left > 0 {
				s.after(left + 100*time.Millisecond)
			}
		}
		s.after(10 * time.Second)
	}
	r.drainTimers(s)
	s.after(r.ResyncInterval)
}

func (s *scope) prod(name string) *droverv1.Prod {
	for _, p := range s.prods {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Revision is the hash of a ProdSet's template: Prods made from the same template carry
// the same revision.
func Revision(t *droverv1.ProdTemplate) string {
	data, _ := json.Marshal(t)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])[:10]
}

// revisions memoises each set's Revision for its generation: the template (up to
// thousands of manifests) is hashed when it changes, not on every reconcile.
type revisions struct {
	mu  sync.Mutex
	all map[types.UID]revision
}

type revision struct {
	generation int64
	hash       string
}

func (r *revisions) of(set *droverv1.ProdSet) string {
	r.mu.Lock()
	got, ok := r.all[set.UID]
	r.mu.Unlock()
	if ok && got.generation == set.Generation && set.Generation != 0 {
		return got.hash
	}
	hash := Revision(&set.Spec.Template)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.all == nil {
		r.all = map[types.UID]revision{}
	}
	r.all[set.UID] = revision{generation: set.Generation, hash: hash}
	return hash
}

func (r *revisions) forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.all, uid)
}

// ProdName names a set's Prod on a cluster: "<set>-<cluster>" (index 0), then
// "<set>-<cluster>-1", "-2"... (index 1, 2...) when taken. Names longer than 63
// characters (Prod names are label values on the workload objects) keep a prefix and a
// hash.
func ProdName(set, cluster string, taken map[string]bool) (string, int) {
	for i := 0; ; i++ {
		name := set + "-" + cluster
		if i > 0 {
			name = fmt.Sprintf("%s-%d", name, i)
		}
		if len(name) > 63 {
			sum := sha256.Sum256([]byte(name))
			name = strings.TrimRight(name[:52], "-.") + "-" + hex.EncodeToString(sum[:])[:10]
		}
		if !taken[name] {
			return name, i
		}
	}
}

// IndexAnnotation records which of the set's names on its cluster a Prod got (see
// ProdName); it decides the Prod's target namespace.
const IndexAnnotation = "drover.dev/index"

func prodIndex(p *droverv1.Prod) int {
	i, err := strconv.Atoi(p.Annotations[IndexAnnotation])
	if err != nil || i < 0 {
		return 0
	}
	return i
}

// TemplateSpecFor is the spec a set's template t gives its index-th Prod on a cluster
// (the Prod's IndexAnnotation): t's, with the target namespace "<targetNamespace>-<index>"
// for an index above 0, so two Prods of one set on one cluster never share objects. The
// ReleaseDiff controller renders a candidate template for an existing Prod with it.
func TemplateSpecFor(t *droverv1.ProdTemplate, index int) droverv1.ProdTemplateSpec {
	spec := *t.Spec.DeepCopy()
	if index > 0 {
		spec.TargetNamespace = indexedNamespace(t.Spec.TargetNamespace, index)
	}
	return spec
}

// ProdIndex is the index a Prod of a set got on its cluster (IndexAnnotation), 0 when
// it has none.
func ProdIndex(p *droverv1.Prod) int { return prodIndex(p) }

// indexedNamespace is "<ns>-<index>", shortened to a valid namespace name.
func indexedNamespace(ns string, index int) string {
	suffix := "-" + strconv.Itoa(index)
	if len(ns)+len(suffix) > 63 {
		ns = strings.TrimRight(ns[:63-len(suffix)], "-")
	}
	return ns + suffix
}

func (r *Reconciler) event(set *droverv1.ProdSet, eventType, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(set, nil, eventType, reason, action, format, args...)
	}
}
