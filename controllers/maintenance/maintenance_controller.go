// Package maintenance reconciles ClusterMaintenances: it admits a cluster's drain only
// when every ProdSet keeps its serving minimum without the cluster (after surge
// replacements, when asked for), reports when no traffic reaches the cluster's Prods any
// more, and, when the ClusterMaintenance is deleted, lets it go once the Prods are back
// in traffic. The ProdSet controller moves the Prods and their weights; this controller
// decides when it may and reports what happened.
package maintenance

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/patch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/audit"
	"github.com/drover-dev/drover/internal/finalizer"
	"github.com/drover-dev/drover/internal/mapping"
	"github.com/drover-dev/drover/internal/phases"
	"github.com/drover-dev/drover/internal/plan"
	"github.com/drover-dev/drover/internal/ready"
	"github.com/drover-dev/drover/internal/safety"
	"github.com/drover-dev/drover/internal/textcut"
	"github.com/drover-dev/drover/internal/traffic"
)

// ControllerName names the controller and its event recorder.
const ControllerName = "clustermaintenance"

// Reconciler reconciles ClusterMaintenances.
type Reconciler struct {
	Client client.Client
	// APIReader reads what the cache strips: the managed fields that say who set an
	// override (safety.SetBy).
	APIReader client.Reader
	Recorder  events.EventRecorder
	// RecheckInterval is how often a maintenance that waits (refused, surging, draining)
	// is looked at again besides the watches. Defaults to 10s.
	RecheckInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Publisher publishes the ProdSets' DNS weights; nil means no traffic provider.
	// With Handoffs, an admitted drain hands every set's weights 0 to it at once.
	Publisher traffic.Publisher
	// Handoffs are shared with the ProdSet controller, which takes each set's hand-off
	// over.
	Handoffs *traffic.Handoffs

	// admitted remembers the admissions of this process until the cache has them, so two
	// maintenances admitted back to back each see the other (the controller runs one
	// reconcile at a time).
	mu       sync.Mutex
	admitted map[client.ObjectKey]string
}

// +kubebuilder:rbac:groups=drover.dev,resources=clustermaintenances,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=clustermaintenances/status;clustermaintenances/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prodsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=prods,verbs=get;list;watch
// +kubebuilder:rbac:groups=cluster.x-k8s.io,resources=clusters,verbs=get;list;watch

// SetupWithManager registers the controller. Admission decisions must see each other, so
// it runs one reconcile at a time whatever options says.
func (r *Reconciler) SetupWithManager(_ context.Context, mgr ctrl.Manager, options controller.Options) error {
	if r.RecheckInterval == 0 {
		r.RecheckInterval = 10 * time.Second
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	options.MaxConcurrentReconciles = 1
	toMaintenances := mapping.AllInNamespace(r.Client, func() client.ObjectList { return &droverv1.ClusterMaintenanceList{} })
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&droverv1.ClusterMaintenance{}).
		WithOptions(options).
		Watches(&droverv1.ProdSet{}, handler.EnqueueRequestsFromMapFunc(toMaintenances)).
		Watches(&clusterv1.Cluster{}, handler.EnqueueRequestsFromMapFunc(toMaintenances)).
		Complete(r)
}

// scope is what one reconcile learned.
type scope struct {
	m        *droverv1.ClusterMaintenance
	deleting bool
	// restoring: a restore command ended the maintenance; it releases the cluster as a
	// deletion would, and stays.
	restoring bool

	// unknown is why an input could not be read; nothing is decided without it.
	unknown error
	// sets are the ProdSets of the namespace.
	sets []droverv1.ProdSet
	// clusterMissing: the Cluster does not exist and the drain was not admitted.
	clusterMissing bool
	// admission is plan.Admit's verdict on a maintenance not admitted before.
	admission *plan.Admission
	// waiting are the Prods on the cluster not drained yet, with why.
	waiting []string
	// notBack are the cluster's Prods not back in traffic yet (deleted maintenance).
	notBack []string
	// keptOutBy is another maintenance of the cluster that keeps it out of traffic.
	keptOutBy string
	// released: the finalizer is removed.
	released bool
	// handoff is what the admission hands to DNS once it is recorded.
	handoff []setHandoff
}

// setHandoff is one ProdSet's part of a drain's hand-off.
type setHandoff struct {
	set     client.ObjectKey
	svc     traffic.Service
	weights map[string]int32
}

// Reconcile admits, follows and releases one ClusterMaintenance.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	m := &droverv1.ClusterMaintenance{}
	if err := r.Client.Get(ctx, req.NamespacedName, m); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if m.DeletionTimestamp.IsZero() {
		if _, err := finalizer.Ensure(ctx, r.Client, nil, m, droverv1.ClusterMaintenanceFinalizer); err != nil {
			return ctrl.Result{}, err
		}
	}
	if !m.Admitted() && m.DeletionTimestamp.IsZero() && r.admittedHere(req.NamespacedName) {
		// This manager admitted it and the cache has not caught up with the write: a
		// decision on the stale copy would admit it again and hand its weights over twice.
		return ctrl.Result{RequeueAfter: 100 * time.Millisecond}, nil
	}
	helper, err := patch.NewHelper(m, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	s := &scope{m: m, deleting: !m.DeletionTimestamp.IsZero()}
	if !s.deleting {
		r.command(ctx, m)
	}
	s.restoring = !s.deleting && m.Status.RestoreTime != nil
	defer func() {
		updateStatus(s)
		err := helper.Patch(ctx, m, patch.WithOwnedConditions{Conditions: append([]string{
			droverv1.MaintenanceAdmittedCondition, droverv1.MaintenanceDrainedCondition,
		}, ready.Conditions...)}, patch.WithStatusObservedGeneration{})
		if err != nil && !apierrors.IsNotFound(err) {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
		if err == nil {
			// The admission and its hand-off are recorded: hand the weights over.
			r.hand(ctx, m, s.handoff)
		} else {
			for _, h := range s.handoff {
				r.Handoffs.Abandon(h.set, m.UID)
			}
			if s.admission != nil && s.admission.Admit {
				r.forget(req.NamespacedName) // not admitted after all: decided again next time
			}
		}
	}()

	if s.deleting || s.restoring {
		return phases.Run(ctx, s, []phases.Phase[*scope]{r.reconcileProdSets, r.reconcileRelease}, nil)
	}
	return phases.Run(ctx, s, []phases.Phase[*scope]{r.reconcileProdSets, r.reconcileCluster, r.reconcileAdmission, r.reconcileDrain}, nil)
}

// reconcileProdSets reads the ProdSets of the namespace.
func (r *Reconciler) reconcileProdSets(ctx context.Context, s *scope) (ctrl.Result, error) {
	sets := &droverv1.ProdSetList{}
	if err := r.Client.List(ctx, sets, client.InNamespace(s.m.Namespace)); err != nil {
		s.unknown = fmt.Errorf("listing ProdSets: %w", err)
		return ctrl.Result{}, s.unknown
	}
	s.sets = sets.Items
	return ctrl.Result{}, nil
}

// reconcileCluster stops a maintenance not admitted yet while its Cluster does not exist.
func (r *Reconciler) reconcileCluster(ctx context.Context, s *scope) (ctrl.Result, error) {
	m := s.m
	if s.unknown != nil {
		return ctrl.Result{}, nil
	}
	key := client.ObjectKey{Namespace: m.Namespace, Name: m.Spec.ClusterName}
	if err := r.Client.Get(ctx, key, &clusterv1.Cluster{}); err != nil {
		if !apierrors.IsNotFound(err) {
			s.unknown = fmt.Errorf("reading Cluster %s: %w", key, err)
			return ctrl.Result{}, s.unknown
		}
		if !m.Admitted() {
			s.clusterMissing = true
			m.Status.Phase = droverv1.MaintenancePending
			if conditions.GetReason(m, droverv1.MaintenanceAdmittedCondition) != droverv1.MaintenanceClusterNotFoundReason {
				r.event(m, corev1.EventTypeWarning, ReasonClusterNotFound, "Drain", "%s", clusterNotFound(m))
			}
			return ctrl.Result{}, nil // the Cluster watch brings us back
		}
	}
	return ctrl.Result{}, nil
}

func clusterNotFound(m *droverv1.ClusterMaintenance) string {
	return fmt.Sprintf("Cluster %s/%s does not exist", m.Namespace, m.Spec.ClusterName)
}

// reconcileAdmission decides whether the drain may start.
func (r *Reconciler) reconcileAdmission(ctx context.Context, s *scope) (ctrl.Result, error) {
	m := s.m
	if s.unknown != nil || s.clusterMissing || m.Admitted() {
		return ctrl.Result{}, nil
	}
	others := &droverv1.ClusterMaintenanceList{}
	if err := r.Client.List(ctx, others, client.InNamespace(m.Namespace)); err != nil {
		s.unknown = fmt.Errorf("listing ClusterMaintenances: %w", err)
		return ctrl.Result{}, s.unknown
	}
	draining := map[string]bool{}
	for i := range others.Items {
		o := &others.Items[i]
		if o.UID != m.UID && o.Admitted() && !o.Ended() && o.Spec.ClusterName != m.Spec.ClusterName {
			draining[o.Spec.ClusterName] = true
		}
	}
	r.mu.Lock()
	for key, c := range r.admitted {
		if key.Namespace == m.Namespace && key.Name != m.Name && c != m.Spec.ClusterName {
			draining[c] = true
		}
	}
	r.mu.Unlock()

	in := plan.AdmitInput{Cluster: m.Spec.ClusterName, Surge: m.Spec.Surge, Draining: slices.Sorted(maps.Keys(draining))}
	labels, err := r.clusterLabels(ctx, m.Namespace, s.sets)
	if err != nil {
		s.unknown = err
		return ctrl.Result{}, err
	}
	for i := range s.sets {
		in.Sets = append(in.Sets, setView(&s.sets[i], labels))
	}
	reason, _, overrideErr := safety.Override(m.Annotations)
	in.Override = reason
	a := plan.Admit(in)
	if overrideErr != nil && !a.Admit {
		a.Message += fmt.Sprintf("; the %s annotation is no override: %v", droverv1.SafetyOverrideAnnotation, overrideErr)
	}
	s.admission = &a
	switch {
	case a.Admit:
		now := metav1.NewTime(r.Now())
		m.Status.AdmittedTime = &now
		m.Status.Phase = droverv1.MaintenanceDraining
		m.Status.Overridden = a.Overridden
		r.planHandoff(s, now)
		r.remember(client.ObjectKeyFromObject(m), m.Spec.ClusterName)
		if a.Overridden != "" {
			by := safety.SetBy(ctx, r.APIReader, m)
			r.event(m, corev1.EventTypeWarning, ReasonSafetyOverride, "Drain", "draining cluster %s under the %s annotation (set by %s): %s",
				m.Spec.ClusterName, droverv1.SafetyOverrideAnnotation, by, a.Overridden)
		}
		r.event(m, corev1.EventTypeNormal, ReasonAdmitted, "Drain", "draining cluster %s (asked by %s): %s", m.Spec.ClusterName,
			audit.Who(ctx, r.APIReader, m, "spec", "clusterName"), a.Message)
		return ctrl.Result{}, nil
	case a.Surging:
		if m.Status.Phase != droverv1.MaintenanceSurging {
			if a.Reason == droverv1.MaintenanceSafetyRuleReason {
				r.event(m, corev1.EventTypeNormal, ReasonSurging, "Drain", "%s", a.Message)
			} else {
				r.event(m, corev1.EventTypeNormal, ReasonSurging, "Drain", "waiting for stand-ins before draining cluster %s: %s", m.Spec.ClusterName, a.Message)
			}
		}
		m.Status.Phase = droverv1.MaintenanceSurging
	default:
		if m.Status.Phase != droverv1.MaintenanceRefused {
			r.event(m, corev1.EventTypeWarning, ReasonRefused, "Drain", "%s", a.Message)
		}
		m.Status.Phase = droverv1.MaintenanceRefused
	}
	return ctrl.Result{RequeueAfter: r.RecheckInterval}, nil
}

// reconcileDrain follows the admitted drain in the ProdSets' status.
func (r *Reconciler) reconcileDrain(_ context.Context, s *scope) (ctrl.Result, error) {
	m := s.m
	if s.unknown != nil || !m.Admitted() {
		return ctrl.Result{}, nil
	}
	var prods []droverv1.MaintenanceProd
	for i := range s.sets {
		set := &s.sets[i]
		for _, p := range set.Status.Prods {
			if p.Cluster != m.Spec.ClusterName || p.SurgeFor != "" {
				continue
			}
			mp := droverv1.MaintenanceProd{Name: p.Name, ProdSet: set.Name, PublishedWeight: p.PublishedWeight,
				Drained: p.Drained && p.Weight != nil && *p.Weight == 0}
			prods = append(prods, mp)
			if !mp.Drained {
				s.waiting = append(s.waiting, fmt.Sprintf("%s (%s)", p.Name, drainState(p)))
			}
		}
	}
	slices.SortFunc(prods, func(a, b droverv1.MaintenanceProd) int { return strings.Compare(a.Name, b.Name) })
	m.Status.Prods = prods
	if len(s.waiting) > 0 {
		m.Status.Phase = droverv1.MaintenanceDraining
		m.Status.DrainedTime = nil
		return ctrl.Result{RequeueAfter: r.RecheckInterval}, nil
	}
	if m.Status.Phase != droverv1.MaintenanceDrained {
		now := metav1.NewTime(r.Now())
		m.Status.DrainedTime = &now
		r.event(m, corev1.EventTypeNormal, ReasonDrained, "Drain", "no traffic reaches the %d Prods on cluster %s", len(prods), m.Spec.ClusterName)
	}
	m.Status.Phase = droverv1.MaintenanceDrained
	return ctrl.Result{}, nil
}

// reconcileRelease lets a deleted maintenance go once the cluster's Prods are back in
// traffic, unless another maintenance of the same cluster keeps them out.
func (r *Reconciler) reconcileRelease(ctx context.Context, s *scope) (ctrl.Result, error) {
	m := s.m
	if s.unknown != nil {
		return ctrl.Result{}, nil
	}
	others := &droverv1.ClusterMaintenanceList{}
	if err := r.Client.List(ctx, others, client.InNamespace(m.Namespace)); err != nil {
		s.unknown = fmt.Errorf("listing ClusterMaintenances: %w", err)
		return ctrl.Result{}, s.unknown
	}
	for i := range others.Items {
		o := &others.Items[i]
		if o.UID != m.UID && o.Spec.ClusterName == m.Spec.ClusterName && !o.Ended() {
			s.keptOutBy = o.Name
			r.done(s) // the other one keeps the cluster out
			return ctrl.Result{}, nil
		}
	}
	for i := range s.sets {
		for _, p := range s.sets[i].Status.Prods {
			if p.Cluster == m.Spec.ClusterName && p.SurgeFor == "" && !backInTraffic(p) {
				s.notBack = append(s.notBack, p.Name)
			}
		}
		if !handoffConfirmed(m, &s.sets[i]) {
			s.notBack = append(s.notBack, "ProdSet "+s.sets[i].Name+" (its records not yet checked since the drain)")
		}
	}
	if len(s.notBack) > 0 {
		if s.restoring {
			m.Status.Phase = droverv1.MaintenanceRestoring
		}
		return ctrl.Result{RequeueAfter: time.Second}, nil
	}
	r.done(s)
	return ctrl.Result{}, nil
}

// done removes the finalizer of a deleted maintenance, or ends a restored one.
func (r *Reconciler) done(s *scope) {
	m := s.m
	if s.restoring {
		if m.Status.Phase != droverv1.MaintenanceRestored {
			r.event(m, corev1.EventTypeNormal, ReasonReleased, "Restore", "restored: cluster %s is back in traffic", m.Spec.ClusterName)
		}
		m.Status.Phase = droverv1.MaintenanceRestored
		m.Status.AdmittedTime, m.Status.DrainedTime, m.Status.Handoff, m.Status.Overridden = nil, nil, nil, ""
	} else if controllerutil.RemoveFinalizer(m, droverv1.ClusterMaintenanceFinalizer) {
		r.event(m, corev1.EventTypeNormal, ReasonReleased, "Restore", "cluster %s is back in traffic", m.Spec.ClusterName)
	}
	r.forget(client.ObjectKeyFromObject(m))
	if r.Handoffs != nil {
		r.Handoffs.ForgetMaintenance(m.UID)
	}
	s.released = true
}

// command acts on a new drover.dev/maintenance-command value: restore ends the
// maintenance (the cluster's Prods come back as if it were deleted, and it stays),
// drain starts it over (admitted again, as a new one would be). Each value is acted on
// once; the event names who set it.
func (r *Reconciler) command(ctx context.Context, m *droverv1.ClusterMaintenance) {
	// status.observedCommand holds 256 bytes: a longer value is compared as it is kept,
	// or it would be read as a new command at every reconcile.
	v := textcut.Bytes(m.Annotations[droverv1.MaintenanceCommandAnnotation], 256)
	if v == "" || v == m.Status.ObservedCommand {
		return
	}
	m.Status.ObservedCommand = v
	word, _, _ := strings.Cut(v, "@")
	by := func() string {
		return audit.Who(ctx, r.APIReader, m, "metadata", "annotations", droverv1.MaintenanceCommandAnnotation)
	}
	switch strings.ToLower(strings.TrimSpace(word)) {
	case "restore":
		if m.Status.RestoreTime != nil {
			r.event(m, corev1.EventTypeWarning, ReasonCommandIgnored, "Restore", "%q: already restored", v)
			return
		}
		now := metav1.NewTime(r.Now())
		m.Status.RestoreTime = &now
		r.event(m, corev1.EventTypeNormal, ReasonRestoreRequested, "Restore", "restoring cluster %s (set by %s, %s=%q)",
			m.Spec.ClusterName, by(), droverv1.MaintenanceCommandAnnotation, v)
	case "drain":
		if m.Status.RestoreTime == nil {
			r.event(m, corev1.EventTypeWarning, ReasonCommandIgnored, "Drain", "%q: the maintenance is in effect; drain applies to a restored one", v)
			return
		}
		m.Status.RestoreTime, m.Status.AdmittedTime, m.Status.DrainedTime = nil, nil, nil
		m.Status.Prods, m.Status.Handoff, m.Status.Overridden = nil, nil, ""
		m.Status.Phase = droverv1.MaintenancePending
		r.forget(client.ObjectKeyFromObject(m)) // admitted again from scratch
		if r.Handoffs != nil {
			r.Handoffs.ForgetMaintenance(m.UID)
		}
		r.event(m, corev1.EventTypeNormal, ReasonDrainRequested, "Drain", "draining cluster %s again (set by %s, %s=%q)",
			m.Spec.ClusterName, by(), droverv1.MaintenanceCommandAnnotation, v)
	default:
		r.event(m, corev1.EventTypeWarning, ReasonUnknownCommand, "Drain", "%s=%q: the command must be restore or drain, optionally followed by @ and an id",
			droverv1.MaintenanceCommandAnnotation, v)
	}
}

// backInTraffic reports whether a Prod left traffic for maintenance has its weight back,
// in DNS too when its set publishes one (and the Prod is available to take it).
func backInTraffic(p droverv1.ProdSummary) bool {
	switch {
	case p.Evicted == droverv1.EvictedClusterMaintenance:
		return false
	case p.Evicted != "" || p.Available != metav1.ConditionTrue || p.PublishedWeight == nil:
		return true // out for another reason, or nothing to wait for in DNS
	}
	return p.PendingWeight == nil && *p.PublishedWeight == ptr.Deref(p.Weight, 0)
}

func drainState(p droverv1.ProdSummary) string {
	switch {
	case p.Weight == nil || *p.Weight != 0:
		return "weight not 0 yet"
	case p.PendingWeight != nil:
		return "weight 0 submitted, DNS not in sync"
	case p.PublishedWeight != nil && *p.PublishedWeight != 0:
		return "weight 0 not published yet"
	default:
		return "waiting one TTL"
	}
}

// clusterLabels are the labels of the namespace's Clusters, by name, when a set has
// safety rules that group Prods by them; nil otherwise.
func (r *Reconciler) clusterLabels(ctx context.Context, namespace string, sets []droverv1.ProdSet) (map[string]map[string]string, error) {
	if !slices.ContainsFunc(sets, func(s droverv1.ProdSet) bool {
		return s.Spec.Safety != nil && len(s.Spec.Safety.MinServingPerTopology) > 0
	}) {
		return nil, nil
	}
	clusters := &clusterv1.ClusterList{}
	if err := r.Client.List(ctx, clusters, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("listing Clusters: %w", err)
	}
	out := make(map[string]map[string]string, len(clusters.Items))
	for i := range clusters.Items {
		out[clusters.Items[i].Name] = clusters.Items[i].Labels
	}
	return out, nil
}

// setView is what Admit needs of a ProdSet, from its spec and status; labels are the
// Clusters' labels, by name.
func setView(set *droverv1.ProdSet, labels map[string]map[string]string) plan.SetView {
	v := plan.SetView{Name: set.Namespace + "/" + set.Name, MinServing: int(set.Status.MinServing),
		Rules: safety.RulesOf(set.Spec.Safety, int(ptr.Deref(set.Spec.Replicas, 1)))}
	if reason, _, _ := safety.Override(set.Annotations); reason != "" {
		v.Override = true
	}
	if conditions.IsFalse(set, droverv1.ProdSetPlacedCondition) &&
		conditions.GetReason(set, droverv1.ProdSetPlacedCondition) == droverv1.ProdSetUnplacedReason {
		v.Unplaced = 1
	}
	for _, p := range set.Status.Prods {
		avail := p.Available == metav1.ConditionTrue
		v.Prods = append(v.Prods, plan.ProdView{
			Name: p.Name, Cluster: p.Cluster, SurgeFor: p.SurgeFor, Available: avail,
			Serving: avail && p.Evicted == "" && ptr.Deref(p.Weight, 0) > 0,
			Weight:  p.DNSWeight(), Topology: v.Rules.TopologyOf(labels[p.Cluster]),
		})
	}
	return v
}

func (r *Reconciler) remember(key client.ObjectKey, cluster string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.admitted == nil {
		r.admitted = map[client.ObjectKey]string{}
	}
	r.admitted[key] = cluster
}

// admittedHere reports whether this manager admitted the maintenance.
func (r *Reconciler) admittedHere(key client.ObjectKey) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.admitted[key]
	return ok
}

func (r *Reconciler) forget(key client.ObjectKey) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.admitted, key)
}

func (r *Reconciler) event(m *droverv1.ClusterMaintenance, eventType, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(m, nil, eventType, reason, action, format, args...)
	}
}

// planHandoff decides, at the admission, the weights 0 the drain hands to DNS for every
// ProdSet at once (plan.Handoff), and records in the status which sets they are for:
// the status is written before anything is published. Only a set settled in DNS is
// handed over (its records in sync for its generation, under the name it holds, no
// change in flight); any other catches up in its own reconcile, as does everything
// else a set decides.
func (r *Reconciler) planHandoff(s *scope, now metav1.Time) {
	if r.Publisher == nil || r.Handoffs == nil {
		return
	}
	m := s.m
	var names []string
	for i := range s.sets {
		set := &s.sets[i]
		svc, ok := traffic.ServiceOf(set)
		if !ok || !settledInDNS(set, svc) {
			continue
		}
		var prods []plan.HandoffProd
		for _, p := range set.Status.Prods {
			prods = append(prods, plan.HandoffProd{Name: p.Name, Cluster: p.Cluster, Published: p.PublishedWeight})
		}
		handed := plan.Handoff(m.Spec.ClusterName, prods)
		if len(handed) == 0 {
			continue
		}
		h := setHandoff{set: client.ObjectKeyFromObject(set), svc: svc, weights: map[string]int32{}}
		for _, name := range handed {
			h.weights[name] = 0
		}
		s.handoff = append(s.handoff, h)
		names = append(names, set.Name)
		r.Handoffs.Plan(h.set, m.UID)
	}
	if len(names) > 0 {
		m.Status.Handoff = &droverv1.MaintenanceHandoff{Time: now, ProdSets: names}
	}
}

// settledInDNS reports whether a set's records are in sync with its status: nothing in
// flight, TrafficReady for its generation, under the name it holds.
func settledInDNS(set *droverv1.ProdSet, svc traffic.Service) bool {
	st := set.Status.Traffic
	if !set.DeletionTimestamp.IsZero() || st == nil || st.ChangeID != "" || set.Status.ObservedGeneration != set.Generation {
		return false
	}
	if st.ClaimedName != traffic.ClaimKey(svc.Zone, svc.Name) {
		return false
	}
	c := conditions.Get(set, droverv1.ProdSetTrafficReadyCondition)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == set.Generation
}

// hand gives the planned hand-off to the Publisher, one Publish per set, all within the
// publisher's linger: one change per hosted zone. A set whose Publish fails is left to
// its own reconcile.
func (r *Reconciler) hand(ctx context.Context, m *droverv1.ClusterMaintenance, handoff []setHandoff) {
	log := ctrl.LoggerFrom(ctx)
	for _, h := range handoff {
		weights := make([]traffic.Weight, 0, len(h.weights))
		for _, name := range slices.Sorted(maps.Keys(h.weights)) {
			weights = append(weights, traffic.Weight{ID: traffic.RecordID(h.set.Namespace, name), Weight: h.weights[name]})
		}
		err := r.Handoffs.Hand(h.set, m.UID, func() (string, error) { return r.Publisher.Publish(ctx, h.svc, weights) }, h.weights)
		if err != nil {
			log.Error(err, "handing a ProdSet's drained weights to DNS; the set publishes them itself", "prodSet", h.set.Name)
		}
	}
}

// handoffConfirmed reports whether a set the maintenance handed weights for has had a
// change confirm them since (or needs none): until then its status may not say what DNS
// holds, and the maintenance is not let go.
func handoffConfirmed(m *droverv1.ClusterMaintenance, set *droverv1.ProdSet) bool {
	if m.Status.Handoff == nil || !slices.Contains(m.Status.Handoff.ProdSets, set.Name) {
		return true
	}
	st := set.Status.Traffic
	return st != nil && slices.ContainsFunc(st.Handoffs, func(h droverv1.TrafficHandoff) bool {
		return h.Maintenance == string(m.UID) && h.Confirmed
	})
}
