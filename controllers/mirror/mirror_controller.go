// Package mirror is the NLB mirror sub-controller. For every Prod with an Octavia load
// balancer (spec.traffic.loadBalancerID, or the workload Service that
// spec.traffic.serviceRef names) it reads the load balancer from Octavia and reports it in
// status.endpoint (id, VIP, operating status), which the ProdSet publishes as the Prod's
// Octavia path. For a Prod with spec.traffic.mirror it keeps an AWS NLB in sync with that
// load balancer: plan (nlb.Desired, a pure function of what Octavia returned), diff
// (nlb.Diff, against what AWS has under drover's ownership tags), apply (nlb.Apply, the
// only step that writes to AWS), on every change of the Prod and every poll interval.
//
// Safety (docs/traffic.md, "Safety rules of the mirror"): a failed or partial Octavia
// read, or a load balancer not ACTIVE, changes nothing in AWS; a sync that would remove
// more than maxTargetRemovalPercent of a target group's targets is held and reported until the
// operator annotates the Prod with drover.dev/allow-target-removal; only resources tagged
// as this Prod's are read or written. Deleting the Prod (or disabling its mirror) tears
// the NLB down through the drover.dev/nlb-mirror finalizer once no traffic reaches it.
package mirror

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/finalizers"
	"sigs.k8s.io/cluster-api/util/patch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/cloud/elbv2"
	"github.com/drover-dev/drover/internal/cloud/octavia"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/traffic"
)

const (
	// ControllerName names the controller and its event recorder.
	ControllerName = "nlb-mirror"

	// LoadBalancerIDAnnotation is where the OpenStack cloud provider writes the Octavia
	// load balancer id on a Service of type LoadBalancer.
	LoadBalancerIDAnnotation = "loadbalancer.openstack.org/load-balancer-id"

	// DefaultPollInterval applies when spec.traffic.mirror.pollInterval is unset.
	DefaultPollInterval = 30 * time.Second

	// syncTimeRefresh is how often status.mirror.lastSyncTime is brought up to date while
	// syncs find nothing new.
	syncTimeRefresh = 5 * time.Minute
)

// Paths tells when a path of a Prod no longer receives traffic; prodset.Drainer is the
// one the manager uses.
type Paths interface {
	traffic.Drainer
	// PathsSettled reports whether DNS publishes only the paths the Prod has now (a
	// disabled mirror's NLB is gone from it), in sync for a TTL.
	PathsSettled(ctx context.Context, prod *droverv1.Prod) (bool, time.Duration, error)
}

// Reconciler reconciles the Octavia endpoint and the NLB mirror of Prods.
type Reconciler struct {
	Client       client.Client
	ClusterCache clustercache.ClusterCache
	Octavia      octavia.Client
	// ELBv2 is nil when the manager has no AWS: mirrors are then reported NotConfigured.
	ELBv2    elbv2.API
	Traffic  Paths
	Recorder events.EventRecorder
	// Manager identifies this drover installation in the NLBs' ownership tags.
	Manager string
	// Network is where NLBs are made.
	Network nlb.Network
	// PollInterval is how often Octavia is read when the Prod does not say. Defaults to
	// DefaultPollInterval.
	PollInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// +kubebuilder:rbac:groups=drover.dev,resources=prods,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prods/status;prods/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prodsets,verbs=get;list;watch
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, options controller.Options) error {
	if r.PollInterval <= 0 {
		r.PollInterval = DefaultPollInterval
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&droverv1.Prod{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
		))).
		WithOptions(options).
		Complete(r)
}

// scope is what one reconcile learned.
type scope struct {
	prod     *droverv1.Prod
	deleting bool
	// enabled: the Prod asks for a mirror.
	enabled bool
	// lbID is the Octavia load balancer; snap what Octavia returned for it.
	lbID string
	snap *octavia.Snapshot
	// cond is the MirrorSynced condition to set; nil leaves the Prod without it.
	cond *metav1.Condition
	// started is when the reconcile began, for drover_nlb_mirror_sync_duration_seconds.
	started time.Time
}

// Reconcile brings one Prod's endpoint and mirror towards its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	prod := &droverv1.Prod{}
	if err := r.Client.Get(ctx, req.NamespacedName, prod); err != nil {
		if apierrors.IsNotFound(err) {
			syncTracker.forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &scope{prod: prod, deleting: !prod.DeletionTimestamp.IsZero(), enabled: mirrorEnabled(prod), started: time.Now()}
	if s.deleting || !s.enabled {
		syncTracker.forget(req.NamespacedName)
	}
	hasLB := prod.Spec.Traffic.ServiceRef != nil || prod.Spec.Traffic.LoadBalancerID != ""
	owns := controllerutil.ContainsFinalizer(prod, droverv1.MirrorFinalizer)
	if !hasLB && !owns && prod.Status.Endpoint == nil && prod.Status.Mirror == nil &&
		conditions.Get(prod, droverv1.ProdMirrorSyncedCondition) == nil {
		return ctrl.Result{}, nil // nothing of ours on this Prod
	}
	if s.enabled && !s.deleting && r.ELBv2 != nil {
		// Before anything is created in AWS, so that nothing created is ever forgotten.
		if _, err := finalizers.EnsureFinalizer(ctx, r.Client, prod, droverv1.MirrorFinalizer); err != nil {
			return ctrl.Result{}, err
		}
	}
	helper, err := patch.NewHelper(prod, r.Client)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		if s.cond != nil {
			s.cond.ObservedGeneration = prod.Generation
			conditions.Set(prod, *s.cond)
		}
		err := helper.Patch(ctx, prod, patch.WithOwnedConditions{Conditions: []string{droverv1.ProdMirrorSyncedCondition}})
		if err != nil && !(s.deleting && apierrors.IsNotFound(err)) {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()

	if s.deleting || (!s.enabled && owns) {
		return r.reconcileTeardown(ctx, s)
	}
	if !s.enabled {
		conditions.Delete(prod, droverv1.ProdMirrorSyncedCondition)
		prod.Status.Mirror = nil
	}
	if !hasLB {
		prod.Status.Endpoint = nil
		return ctrl.Result{}, nil
	}
	if res, done := r.reconcileOctavia(ctx, s); done {
		return res, nil
	}
	if !s.enabled {
		return ctrl.Result{RequeueAfter: r.pollInterval(prod)}, nil
	}
	return r.reconcileNLB(ctx, s)
}

func mirrorEnabled(p *droverv1.Prod) bool {
	m := p.Spec.Traffic.Mirror
	return m != nil && (m.Enabled == nil || *m.Enabled)
}

func (r *Reconciler) pollInterval(p *droverv1.Prod) time.Duration {
	if m := p.Spec.Traffic.Mirror; m != nil && m.PollInterval != nil && m.PollInterval.Duration > 0 {
		return m.PollInterval.Duration
	}
	return r.PollInterval
}

// setOutcome records the sync's outcome in status.mirror and the MirrorSynced condition.
func (r *Reconciler) setOutcome(s *scope, reason, message string) {
	if !s.enabled {
		return
	}
	ms := mirrorStatus(s.prod)
	prev := ms.Outcome
	now := metav1.NewTime(r.Now())
	// A steady state writes no status: the same outcome refreshes lastSyncTime only every
	// syncTimeRefresh, so polling does not turn into a status write per Prod per poll.
	if ms.Outcome != reason || ms.Message != message || ms.LastSyncTime == nil || now.Sub(ms.LastSyncTime.Time) >= syncTimeRefresh {
		ms.LastSyncTime = &now
	}
	ms.Outcome, ms.Message = reason, message
	status := metav1.ConditionFalse
	if reason == droverv1.ProdMirrorInSyncReason || reason == droverv1.ProdMirrorChangedReason {
		status = metav1.ConditionTrue
	}
	s.cond = &metav1.Condition{Type: droverv1.ProdMirrorSyncedCondition, Status: status, Reason: reason, Message: message}
	r.recordSync(s, prev, reason, message)
}

func mirrorStatus(p *droverv1.Prod) *droverv1.MirrorStatus {
	if p.Status.Mirror == nil {
		p.Status.Mirror = &droverv1.MirrorStatus{}
	}
	return p.Status.Mirror
}

func endpoint(p *droverv1.Prod) *droverv1.ProdEndpoint {
	if p.Status.Endpoint == nil {
		p.Status.Endpoint = &droverv1.ProdEndpoint{}
	}
	return p.Status.Endpoint
}

// reconcileOctavia finds the Prod's load balancer and reads it. done means the reconcile
// stops here (nothing could be read, so nothing is changed), with res.
func (r *Reconciler) reconcileOctavia(ctx context.Context, s *scope) (ctrl.Result, bool) {
	p := s.prod
	retry := min(r.pollInterval(p), 10*time.Second)
	id, why := r.loadBalancerID(ctx, p)
	if id == "" {
		r.setOutcome(s, droverv1.ProdMirrorLoadBalancerNotFoundReason, why)
		return ctrl.Result{RequeueAfter: retry}, true
	}
	s.lbID = id
	if r.Octavia == nil {
		r.setOutcome(s, droverv1.ProdMirrorNotConfiguredReason, "the manager has no Octavia endpoint (--octavia-endpoint or --os-cloud)")
		return ctrl.Result{}, true
	}
	snap, err := r.Octavia.Snapshot(ctx, id)
	switch {
	case errors.Is(err, cloudmetrics.ErrNotFound):
		r.setOutcome(s, droverv1.ProdMirrorLoadBalancerNotFoundReason, fmt.Sprintf("Octavia has no load balancer %s; nothing was changed in AWS", id))
		return ctrl.Result{RequeueAfter: retry}, true
	case err != nil:
		r.setOutcome(s, droverv1.ProdMirrorOctaviaUnavailableReason, fmt.Sprintf("reading Octavia load balancer %s failed, so nothing was changed in AWS: %v", id, err))
		return ctrl.Result{RequeueAfter: retry}, true
	}
	ep := endpoint(p)
	ep.LoadBalancerID, ep.VIP, ep.OctaviaStatus = id, snap.LoadBalancer.VIP, snap.LoadBalancer.OperatingStatus
	if st := snap.LoadBalancer.ProvisioningStatus; st != "ACTIVE" {
		// Mid-change (PENDING_*) or broken: its picture may be half of something.
		r.setOutcome(s, droverv1.ProdMirrorOctaviaUnavailableReason, fmt.Sprintf("Octavia load balancer %s is %s, not ACTIVE; nothing was changed in AWS", id, st))
		return ctrl.Result{RequeueAfter: min(retry, 5*time.Second)}, true
	}
	s.snap = snap
	return ctrl.Result{}, false
}

// loadBalancerID is the Prod's Octavia load balancer: spec.traffic.loadBalancerID, or the
// annotation of its Service on the workload cluster. While that cluster cannot be asked,
// the id last seen (status.endpoint) stands: the load balancer is in the cloud, not on the
// cluster. why says what is missing when there is no id.
func (r *Reconciler) loadBalancerID(ctx context.Context, p *droverv1.Prod) (id, why string) {
	t := p.Spec.Traffic
	if t.LoadBalancerID != "" {
		return t.LoadBalancerID, ""
	}
	last := ""
	if p.Status.Endpoint != nil {
		last = p.Status.Endpoint.LoadBalancerID
	}
	key := client.ObjectKey{Namespace: p.ClusterNamespace(), Name: p.Spec.ClusterRef.Name}
	c, err := r.ClusterCache.GetUncachedClient(ctx, key)
	if err != nil {
		if last != "" {
			return last, ""
		}
		return "", fmt.Sprintf("cannot read Service %s/%s on Cluster %s to find its load balancer: %v", p.Spec.TargetNamespace, t.ServiceRef.Name, key, err)
	}
	svc := &corev1.Service{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: p.Spec.TargetNamespace, Name: t.ServiceRef.Name}, svc); err != nil {
		if apierrors.IsNotFound(err) {
			return "", fmt.Sprintf("Service %s/%s does not exist on Cluster %s yet", p.Spec.TargetNamespace, t.ServiceRef.Name, key)
		}
		if last != "" {
			return last, ""
		}
		return "", fmt.Sprintf("reading Service %s/%s on Cluster %s: %v", p.Spec.TargetNamespace, t.ServiceRef.Name, key, err)
	}
	if id := svc.Annotations[LoadBalancerIDAnnotation]; id != "" {
		return id, ""
	}
	return "", fmt.Sprintf("Service %s/%s on Cluster %s has no %s annotation yet", p.Spec.TargetNamespace, t.ServiceRef.Name, key, LoadBalancerIDAnnotation)
}

func (r *Reconciler) owner(p *droverv1.Prod) nlb.Owner {
	return nlb.Owner{Manager: r.Manager, Namespace: p.Namespace, Name: p.Name, UID: string(p.UID)}
}

// reconcileNLB plans, diffs and applies the Prod's NLB.
func (r *Reconciler) reconcileNLB(ctx context.Context, s *scope) (ctrl.Result, error) {
	p := s.prod
	poll := ctrl.Result{RequeueAfter: r.pollInterval(p)}
	if r.ELBv2 == nil {
		r.setOutcome(s, droverv1.ProdMirrorNotConfiguredReason, "the manager has no AWS configuration for NLB mirrors")
		return ctrl.Result{}, nil
	}
	m := p.Spec.Traffic.Mirror
	model, warnings, err := nlb.Desired(s.snap, nlb.Options{
		Owner: r.owner(p), Network: r.Network, DeregistrationDelaySeconds: m.DeregistrationDelaySeconds,
	})
	if errors.Is(err, nlb.ErrOctaviaNotReady) {
		r.setOutcome(s, droverv1.ProdMirrorOctaviaUnavailableReason, fmt.Sprintf("Octavia load balancer %s is not ready, so nothing was changed in AWS: %v", s.lbID, err))
		return ctrl.Result{RequeueAfter: min(poll.RequeueAfter, 5*time.Second)}, nil
	}
	if err != nil {
		r.setOutcome(s, droverv1.ProdMirrorFailedReason, fmt.Sprintf("building the NLB from Octavia load balancer %s: %v", s.lbID, err))
		return poll, nil
	}
	observed, err := nlb.Observe(ctx, r.ELBv2, r.owner(p))
	if err != nil {
		r.setOutcome(s, droverv1.ProdMirrorFailedReason, fmt.Sprintf("reading the NLB from AWS failed, so nothing was changed: %v", err))
		return poll, nil
	}
	allow := p.Annotations[droverv1.AllowTargetRemovalAnnotation] == "true"
	guard := nlb.Guard{AllowMassRemoval: allow}
	if m.MaxTargetRemovalPercent != nil {
		guard.MaxTargetRemovalPercent = *m.MaxTargetRemovalPercent
	}
	plan := nlb.Diff(model, observed, guard)
	digest := model.Digest()
	ms := mirrorStatus(p)
	defer func() { ms.TargetGroups = targetGroups(model, observed) }()
	for _, w := range warnings {
		ctrl.LoggerFrom(ctx).V(1).Info("NLB mirror", "warning", w.String())
	}

	if plan.Blocked {
		msg := fmt.Sprintf("the sync is held, nothing was changed: %s; fix Octavia, or annotate the Prod %s=true to let it through", plan.Summary(), droverv1.AllowTargetRemovalAnnotation)
		if ms.Outcome != droverv1.ProdMirrorBlockedReason {
			r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonBlocked, "Sync", msg)
		}
		r.setOutcome(s, droverv1.ProdMirrorBlockedReason, msg)
		r.setLoadBalancer(p, plan.LoadBalancer)
		return poll, nil
	}
	if plan.Empty() {
		r.setLoadBalancer(p, plan.LoadBalancer)
		ms.ModelDigest = digest
		r.setOutcome(s, droverv1.ProdMirrorInSyncReason, fmt.Sprintf("the NLB matches Octavia load balancer %s", s.lbID))
		return poll, nil
	}
	drift := ms.ModelDigest == digest
	res, err := nlb.Apply(ctx, r.ELBv2, plan)
	r.setLoadBalancer(p, res.LoadBalancer)
	if err != nil {
		r.setOutcome(s, droverv1.ProdMirrorFailedReason, fmt.Sprintf("applying the NLB plan stopped after %s: %v", res, err))
		return ctrl.Result{RequeueAfter: min(poll.RequeueAfter, 10*time.Second)}, nil
	}
	now := metav1.NewTime(r.Now())
	ms.LastChangeTime, ms.LastChange, ms.ModelDigest = &now, res.String(), digest
	if drift {
		ms.DriftCorrections++
		driftCorrections.Inc()
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonDriftCorrected, "Sync", "the NLB had drifted from Octavia load balancer %s: %s", s.lbID, res)
	} else {
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonSynced, "Sync", "NLB synced with Octavia load balancer %s: %s", s.lbID, res)
	}
	r.setOutcome(s, droverv1.ProdMirrorChangedReason, fmt.Sprintf("synced with Octavia load balancer %s: %s", s.lbID, res))
	if allow && plan.GuardOverridden {
		// The say-so is for one sync.
		delete(p.Annotations, droverv1.AllowTargetRemovalAnnotation)
	}
	return poll, nil
}

func (r *Reconciler) setLoadBalancer(p *droverv1.Prod, lb nlb.LoadBalancerRef) {
	if lb.ARN == "" {
		return
	}
	ep := endpoint(p)
	ep.NLBARN, ep.NLBDNSName, ep.NLBZoneID = lb.ARN, lb.DNSName, lb.CanonicalHostedZoneID
}

// targetGroups summarises the model's target groups with what AWS reported of them.
func targetGroups(model nlb.Model, observed *nlb.Observed) []droverv1.MirrorTargetGroup {
	var out []droverv1.MirrorTargetGroup
	for _, tg := range model.TargetGroups {
		s := droverv1.MirrorTargetGroup{Pool: tg.PoolID, Targets: int32(len(tg.Targets))}
		for _, o := range observed.TargetGroups {
			if o.PoolID() != tg.PoolID {
				continue
			}
			s.ARN = o.ARN
			for _, t := range o.Targets {
				if t.State == "healthy" {
					s.HealthyTargets++
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// reconcileTeardown deletes the Prod's NLB once no traffic reaches it: the Prod drained
// (deleted Prod) or DNS no longer publishing its NLB path (mirror disabled). Then the
// finalizer goes.
func (r *Reconciler) reconcileTeardown(ctx context.Context, s *scope) (ctrl.Result, error) {
	p := s.prod
	if !controllerutil.ContainsFinalizer(p, droverv1.MirrorFinalizer) {
		return ctrl.Result{}, nil
	}
	var (
		gone  bool
		after time.Duration
		err   error
	)
	if s.deleting {
		gone, after, err = r.Traffic.Drain(ctx, p)
	} else {
		gone, after, err = r.Traffic.PathsSettled(ctx, p)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if !gone {
		r.setTeardownCondition(s, "waiting until no traffic reaches the NLB before deleting it")
		return ctrl.Result{RequeueAfter: after}, nil
	}
	if r.ELBv2 == nil {
		// The NLB exists in AWS but this manager cannot reach it: keep the finalizer, so
		// that nothing is forgotten (remove it by hand to abandon the NLB).
		r.setTeardownCondition(s, "the manager has no AWS configuration, so the NLB cannot be deleted; the finalizer "+droverv1.MirrorFinalizer+" stays until a manager with AWS deletes it")
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	observed, err := nlb.Observe(ctx, r.ELBv2, r.owner(p))
	if err != nil {
		r.setTeardownCondition(s, fmt.Sprintf("reading the NLB to delete it: %v", err))
		return ctrl.Result{}, err
	}
	if plan := nlb.DeletePlan(observed); !plan.Empty() {
		res, err := nlb.Apply(ctx, r.ELBv2, plan)
		if err != nil {
			r.setTeardownCondition(s, fmt.Sprintf("deleting the NLB stopped after %s: %v", res, err))
			return ctrl.Result{}, err
		}
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonDeleted, "Delete", "NLB deleted: %s", res)
	}
	if ep := p.Status.Endpoint; ep != nil {
		ep.NLBARN, ep.NLBDNSName, ep.NLBZoneID = "", "", ""
	}
	p.Status.Mirror = nil
	s.cond = nil
	conditions.Delete(p, droverv1.ProdMirrorSyncedCondition)
	controllerutil.RemoveFinalizer(p, droverv1.MirrorFinalizer)
	return ctrl.Result{}, nil
}

func (r *Reconciler) setTeardownCondition(s *scope, msg string) {
	s.cond = &metav1.Condition{Type: droverv1.ProdMirrorSyncedCondition, Status: metav1.ConditionFalse, Reason: droverv1.ProdMirrorDeletingReason, Message: msg}
}
