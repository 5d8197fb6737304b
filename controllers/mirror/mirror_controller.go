// Package mirror is the NLB mirror sub-controller. For every Prod with an Octavia load
// balancer (spec.traffic.loadBalancerID, or the workload Service that
// spec.traffic.serviceRef names) it reads the load balancer from Octavia and reports it in
// status.endpoint (id, VIP, operating status), which the ProdSet publishes as the Prod's
// Octavia path. For a Prod with spec.traffic.mirror it keeps an AWS NLB in sync with that
// load balancer: plan (nlb.Desired, a pure function of what Octavia returned), diff
// (nlb.Diff, against what deploy.Observe reads of AWS under drover's ownership tags),
// apply (deploy.Apply, the only step that writes to AWS), on every change of the Prod and
// every poll interval.
//
// Reconcile runs small phases over a scope, as controllers/prod does: reconcileOctavia,
// reconcilePlan and reconcileSync, or, when the Prod is deleted or its mirror disabled,
// reconcileTraffic, reconcileNLBDeletion and reconcileRelease. mirror_status.go computes
// the MirrorSynced condition from what they learned.
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
	"github.com/drover-dev/drover/internal/finalizer"
	"github.com/drover-dev/drover/internal/fresh"
	"github.com/drover-dev/drover/internal/leftovers"
	"github.com/drover-dev/drover/internal/nlb"
	"github.com/drover-dev/drover/internal/nlb/deploy"
	"github.com/drover-dev/drover/internal/phases"
	"github.com/drover-dev/drover/internal/statuspatch"
	"github.com/drover-dev/drover/internal/tenancy"
	tenancyread "github.com/drover-dev/drover/internal/tenancy/read"
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
	Client client.Client
	// APIReader reads the API server, not the cache: where the status write reads the
	// Prod again after another controller wrote it. Optional.
	APIReader    client.Reader
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
	// PollInterval is how often Octavia is read when the Prod does not say, and the most
	// often a Prod may ask for. Defaults to DefaultPollInterval.
	PollInterval time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// LeftoversNamespace is the manager's namespace, where the record of what a released
	// Prod left behind in AWS is kept (internal/leftovers).
	LeftoversNamespace string
	// SingleTeam is the manager's --single-team flag: a Prod may mirror the load balancer
	// of any OpenStack project. Otherwise only those of the projects its namespace's Tenant
	// lists in spec.octaviaProjects (tenancy.Policy.OctaviaProject).
	SingleTeam bool
	// DefaultOctaviaProjects are the projects a namespace without a Tenant may mirror
	// (--default-octavia-projects); none unless set.
	DefaultOctaviaProjects []string
}

// +kubebuilder:rbac:groups=drover.dev,resources=prods,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prods/status;prods/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prodsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=tenants,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
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
	// hasLB: the Prod names an Octavia load balancer (spec.traffic.serviceRef or
	// loadBalancerID).
	hasLB bool
	// owns: the Prod carried the mirror finalizer when read, so an NLB of it may exist.
	owns bool
	// started is when the reconcile began, for drover_nlb_mirror_sync_duration_seconds.
	started time.Time

	// lbID is the Octavia load balancer; snap what Octavia returned for it, nil unless it
	// is ACTIVE and may be mirrored.
	lbID string
	snap *octavia.Snapshot
	// model is the NLB Octavia asks for and plan what takes AWS there; plan is nil until
	// it is made.
	model nlb.Model
	plan  *nlb.Plan
	// outcome is how the sync ended; nil when no sync ran.
	outcome *outcome

	// trafficGone: no traffic reaches the NLB any more, so it may be deleted; trafficErr
	// is why that could not be told.
	trafficGone bool
	trafficErr  error
	// teardown says what deleting the NLB waits for, or why it stopped.
	teardown string
	// nlbDeleted: nothing of the Prod's is left in AWS.
	nlbDeleted bool
	// released: the finalizer is gone; the Prod has no mirror any more.
	released bool

	// release: the deleted Prod carries drover.dev/release-finalizers=true: the NLB is
	// deleted without waiting for the drain, and if AWS cannot be reached the finalizer
	// goes anyway. abandoned is then why the NLB could not be deleted, and left what may
	// still exist of it.
	release   bool
	abandoned string
	left      []string
}

// outcome is how a sync ended: MirrorSynced's reason and message, and status.mirror's.
type outcome struct {
	reason, message string
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
	s := &scope{
		prod:     prod,
		deleting: !prod.DeletionTimestamp.IsZero(),
		enabled:  mirrorEnabled(prod),
		hasLB:    prod.Spec.Traffic.ServiceRef != nil || prod.Spec.Traffic.LoadBalancerID != "",
		owns:     controllerutil.ContainsFinalizer(prod, droverv1.MirrorFinalizer),
		started:  r.Now(),
	}
	s.release = s.deleting && prod.Annotations[droverv1.ReleaseFinalizersAnnotation] == "true"
	if s.deleting || !s.enabled {
		syncTracker.forget(req.NamespacedName)
	}
	if !s.hasLB && !s.owns && prod.Status.Endpoint == nil && prod.Status.Mirror == nil &&
		conditions.Get(prod, droverv1.ProdMirrorSyncedCondition) == nil {
		return ctrl.Result{}, nil // nothing of ours on this Prod
	}
	if s.enabled && !s.deleting && r.ELBv2 != nil {
		// Before anything is created in AWS, so that nothing created is ever forgotten.
		if _, err := finalizer.Ensure(ctx, r.Client, r.APIReader, prod, droverv1.MirrorFinalizer); err != nil {
			return ctrl.Result{}, err
		}
	}
	// The status is written before the MirrorSynced condition, so that no version of the
	// Prod says the mirror is synced without the endpoint it synced.
	helper, err := statuspatch.NewHelper(prod, fresh.NewRecorder(r.Client), r.APIReader)
	if err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		updateStatus(s)
		err := helper.Patch(ctx, prod, patch.WithOwnedConditions{Conditions: []string{droverv1.ProdMirrorSyncedCondition}})
		if err != nil && !(s.deleting && apierrors.IsNotFound(err)) {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()

	if s.deleting || (!s.enabled && s.owns) {
		return phases.Run(ctx, s, []phases.Phase[*scope]{r.reconcileTraffic, r.reconcileNLBDeletion, r.reconcileRelease}, nil)
	}
	return phases.Run(ctx, s, []phases.Phase[*scope]{r.reconcileOctavia, r.reconcilePlan, r.reconcileSync}, nil)
}

func mirrorEnabled(p *droverv1.Prod) bool {
	m := p.Spec.Traffic.Mirror
	return m != nil && (m.Enabled == nil || *m.Enabled)
}

func (r *Reconciler) pollInterval(p *droverv1.Prod) time.Duration {
	// A Prod may ask to be read less often than the manager's interval, never more: the
	// rate limits of Octavia and ELBv2 are every tenant's.
	if m := p.Spec.Traffic.Mirror; m != nil && m.PollInterval != nil && m.PollInterval.Duration > r.PollInterval {
		return m.PollInterval.Duration
	}
	return r.PollInterval
}

// setOutcome records the sync's outcome in status.mirror and for the MirrorSynced
// condition.
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
	s.outcome = &outcome{reason: reason, message: message}
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

// reconcileOctavia finds the Prod's load balancer and reads it into status.endpoint. The
// sync goes on only with a load balancer that is ACTIVE: a failed or partial read changes
// nothing in AWS.
func (r *Reconciler) reconcileOctavia(ctx context.Context, s *scope) (ctrl.Result, error) {
	p := s.prod
	if !s.hasLB {
		p.Status.Endpoint = nil
		return ctrl.Result{}, nil
	}
	retry := min(r.pollInterval(p), 10*time.Second)
	id, why := r.loadBalancerID(ctx, p)
	if id == "" {
		r.setOutcome(s, droverv1.ProdMirrorLoadBalancerNotFoundReason, why)
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	s.lbID = id
	if r.Octavia == nil {
		r.setOutcome(s, droverv1.ProdMirrorNotConfiguredReason, "the manager has no Octavia endpoint (--octavia-endpoint or --os-cloud)")
		return ctrl.Result{}, nil
	}
	snap, err := r.Octavia.Snapshot(ctx, id)
	switch {
	case errors.Is(err, cloudmetrics.ErrNotFound):
		r.setOutcome(s, droverv1.ProdMirrorLoadBalancerNotFoundReason, fmt.Sprintf("Octavia has no load balancer %s; nothing was changed in AWS", id))
		return ctrl.Result{RequeueAfter: retry}, nil
	case err != nil:
		r.setOutcome(s, droverv1.ProdMirrorOctaviaUnavailableReason, fmt.Sprintf("reading Octavia load balancer %s failed, so nothing was changed in AWS: %v", id, err))
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	// The load balancer must be of a project the namespace may mirror: checked before its
	// VIP is written to status or anything is made in AWS.
	policy, err := tenancyread.Policy(ctx, r.Client, p.Namespace, r.SingleTeam)
	if err != nil {
		r.setOutcome(s, droverv1.ProdMirrorFailedReason, fmt.Sprintf("cannot tell whether Octavia load balancer %s may be mirrored, so nothing was changed in AWS: %v", id, err))
		return ctrl.Result{}, err
	}
	policy.DefaultOctaviaProjects = r.DefaultOctaviaProjects
	if ref := policy.OctaviaProject(snap.LoadBalancer.ProjectID); ref != nil {
		return r.refuse(s, id, ref), nil
	}
	ep := endpoint(p)
	ep.LoadBalancerID, ep.VIP, ep.OctaviaStatus = id, snap.LoadBalancer.VIP, snap.LoadBalancer.OperatingStatus
	if st := snap.LoadBalancer.ProvisioningStatus; st != "ACTIVE" {
		// Mid-change (PENDING_*) or broken: its picture may be half of something.
		r.setOutcome(s, droverv1.ProdMirrorOctaviaUnavailableReason, fmt.Sprintf("Octavia load balancer %s is %s, not ACTIVE; nothing was changed in AWS", id, st))
		return ctrl.Result{RequeueAfter: min(retry, 5*time.Second)}, nil
	}
	s.snap = snap
	if !s.enabled {
		// No mirror: the endpoint is read again every poll interval.
		return ctrl.Result{RequeueAfter: r.pollInterval(p)}, nil
	}
	return ctrl.Result{}, nil
}

// refuse stops at a load balancer the Prod may not mirror: nothing of it is kept in
// status.endpoint (an NLB made before the refusal stays as it is, reported, until the
// Prod or its mirror is deleted), the mirror reports NotPermitted with the rule, and a
// Prod without a mirror gets a Warning event. It is asked again every poll interval, so
// that a Tenant that lists the project later lets the mirror start.
func (r *Reconciler) refuse(s *scope, id string, ref *tenancy.Refusal) ctrl.Result {
	p := s.prod
	msg := fmt.Sprintf("Octavia load balancer %s may not be mirrored or read, so nothing was changed in AWS: %s", id, ref.Message)
	if ep := p.Status.Endpoint; ep != nil {
		ep.LoadBalancerID, ep.VIP, ep.OctaviaStatus = "", "", ""
		if *ep == (droverv1.ProdEndpoint{}) {
			p.Status.Endpoint = nil
		}
	}
	if s.enabled {
		r.setOutcome(s, droverv1.ProdMirrorNotPermittedReason, msg)
	} else {
		r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonNotPermitted, "Read", msg)
	}
	return ctrl.Result{RequeueAfter: r.pollInterval(p)}
}

// loadBalancerID is the Prod's Octavia load balancer: spec.traffic.loadBalancerID, or the
// annotation of its Service on the workload cluster. While that cluster cannot be asked,
// the id last seen (status.endpoint) stands: the load balancer is in the cloud, not on the
// cluster. why says what is missing when there is no id.
func (r *Reconciler) loadBalancerID(ctx context.Context, p *droverv1.Prod) (id, why string) {
	t := p.Spec.Traffic
	if t.LoadBalancerID != "" {
		// The API server checks the pattern; an object stored before it was checked is not.
		if err := octavia.ValidateID(t.LoadBalancerID); err != nil {
			return "", "spec.traffic.loadBalancerID: " + err.Error()
		}
		return t.LoadBalancerID, ""
	}
	last := ""
	if p.Status.Endpoint != nil && octavia.ValidateID(p.Status.Endpoint.LoadBalancerID) == nil {
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
		// Whoever may write the Service (the app team, not only the cloud controller) may
		// write this annotation: it is checked as an id before it goes into a URL.
		if err := octavia.ValidateID(id); err != nil {
			return "", fmt.Sprintf("the %s annotation of Service %s/%s on Cluster %s: %v", LoadBalancerIDAnnotation, p.Spec.TargetNamespace, t.ServiceRef.Name, key, err)
		}
		return id, ""
	}
	return "", fmt.Sprintf("Service %s/%s on Cluster %s has no %s annotation yet", p.Spec.TargetNamespace, t.ServiceRef.Name, key, LoadBalancerIDAnnotation)
}

func (r *Reconciler) owner(p *droverv1.Prod) nlb.Owner {
	return nlb.Owner{Manager: r.Manager, Namespace: p.Namespace, Name: p.Name, UID: string(p.UID)}
}

// reconcilePlan builds the NLB the Prod's Octavia load balancer asks for, reads what AWS
// has of the Prod's, and diffs the two.
func (r *Reconciler) reconcilePlan(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.snap == nil || !s.enabled {
		return ctrl.Result{}, nil
	}
	p := s.prod
	poll := ctrl.Result{RequeueAfter: r.pollInterval(p)}
	if r.ELBv2 == nil {
		r.setOutcome(s, droverv1.ProdMirrorNotConfiguredReason, "the manager has no AWS configuration for NLB mirrors")
		return ctrl.Result{}, nil
	}
	m := p.Spec.Traffic.Mirror
	observed, err := deploy.Observe(ctx, r.ELBv2, r.owner(p))
	if err != nil {
		r.setOutcome(s, droverv1.ProdMirrorFailedReason, fmt.Sprintf("reading the NLB from AWS failed, so nothing was changed: %v", err))
		return poll, nil
	}
	model, warnings, err := nlb.Desired(s.snap, nlb.Options{
		// With --nlb-scheme unset an NLB that exists keeps its scheme; a new one is internal.
		Owner: r.owner(p), Network: nlb.KeepScheme(r.Network, observed), DeregistrationDelaySeconds: m.DeregistrationDelaySeconds,
	})
	if errors.Is(err, nlb.ErrOctaviaNotReady) {
		r.setOutcome(s, droverv1.ProdMirrorOctaviaUnavailableReason, fmt.Sprintf("Octavia load balancer %s is not ready, so nothing was changed in AWS: %v", s.lbID, err))
		return ctrl.Result{RequeueAfter: min(poll.RequeueAfter, 5*time.Second)}, nil
	}
	if err != nil {
		r.setOutcome(s, droverv1.ProdMirrorFailedReason, fmt.Sprintf("building the NLB from Octavia load balancer %s: %v", s.lbID, err))
		return poll, nil
	}
	guard := nlb.Guard{AllowMassRemoval: allowsTargetRemoval(p)}
	if m.MaxTargetRemovalPercent != nil {
		guard.MaxTargetRemovalPercent = *m.MaxTargetRemovalPercent
	}
	plan := nlb.Diff(model, observed, guard)
	s.model, s.plan = model, &plan
	mirrorStatus(p).TargetGroups = targetGroups(model, observed)
	for _, w := range warnings {
		ctrl.LoggerFrom(ctx).V(1).Info("NLB mirror", "warning", w.String())
	}
	return ctrl.Result{}, nil
}

// reconcileSync carries out the plan, unless the target removal guard holds it or there is
// nothing to do.
func (r *Reconciler) reconcileSync(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.plan == nil {
		return ctrl.Result{}, nil
	}
	p, plan := s.prod, *s.plan
	poll := ctrl.Result{RequeueAfter: r.pollInterval(p)}
	digest := s.model.Digest()
	ms := mirrorStatus(p)
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
	res, err := deploy.Apply(ctx, r.ELBv2, plan)
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
	if allowsTargetRemoval(p) && plan.GuardOverridden {
		// The say-so is for one sync.
		delete(p.Annotations, droverv1.AllowTargetRemovalAnnotation)
	}
	return poll, nil
}

// allowsTargetRemoval: the operator lets the next sync remove more targets than the guard
// allows.
func allowsTargetRemoval(p *droverv1.Prod) bool {
	return p.Annotations[droverv1.AllowTargetRemovalAnnotation] == "true"
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

// reconcileTraffic tells whether traffic still reaches the NLB: the Prod drained
// (deleted Prod), or DNS no longer publishing its NLB path (mirror disabled).
func (r *Reconciler) reconcileTraffic(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.owns {
		return ctrl.Result{}, nil
	}
	var (
		gone  bool
		after time.Duration
		err   error
	)
	if s.deleting {
		gone, after, err = r.Traffic.Drain(ctx, s.prod)
	} else {
		gone, after, err = r.Traffic.PathsSettled(ctx, s.prod)
	}
	if s.release && (err != nil || !gone) {
		// Released: the NLB goes now, drained or not (Route53 may be what cannot be reached).
		ctrl.LoggerFrom(ctx).Info("deleting the NLB without waiting for the drain", "annotation", droverv1.ReleaseFinalizersAnnotation, "drainError", err)
		s.trafficGone = true
		return ctrl.Result{}, nil
	}
	if err != nil {
		s.trafficErr = err
		return ctrl.Result{}, fmt.Errorf("telling whether traffic still reaches the NLB: %w", err)
	}
	if !gone {
		s.teardown = "waiting until no traffic reaches the NLB before deleting it"
		return ctrl.Result{RequeueAfter: after}, nil
	}
	s.trafficGone = true
	return ctrl.Result{}, nil
}

// reconcileNLBDeletion deletes the Prod's NLB, with its listeners and target groups, once
// no traffic reaches it.
func (r *Reconciler) reconcileNLBDeletion(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.trafficGone {
		return ctrl.Result{}, nil
	}
	p := s.prod
	if r.ELBv2 == nil && s.release {
		s.abandon(nil, "the manager has no AWS configuration")
		return ctrl.Result{}, nil
	}
	if r.ELBv2 == nil {
		// The NLB exists in AWS but this manager cannot reach it: keep the finalizer, so
		// that nothing is forgotten (remove it by hand to abandon the NLB).
		s.teardown = "the manager has no AWS configuration, so the NLB cannot be deleted; the finalizer " + droverv1.MirrorFinalizer + " stays until a manager with AWS deletes it"
		return ctrl.Result{RequeueAfter: time.Minute}, nil
	}
	observed, err := deploy.Observe(ctx, r.ELBv2, r.owner(p))
	if err != nil && s.release {
		s.abandon(nil, fmt.Sprintf("reading the NLB to delete it: %v", err))
		return ctrl.Result{}, nil
	}
	if err != nil {
		s.teardown = fmt.Sprintf("reading the NLB to delete it: %v", err)
		return ctrl.Result{}, fmt.Errorf("reading the NLB to delete it: %w", err)
	}
	if plan := nlb.DeletePlan(observed); !plan.Empty() {
		res, err := deploy.Apply(ctx, r.ELBv2, plan)
		if err != nil && s.release {
			s.abandon(observed, fmt.Sprintf("deleting the NLB stopped after %s: %v", res, err))
			return ctrl.Result{}, nil
		}
		if err != nil {
			s.teardown = fmt.Sprintf("deleting the NLB stopped after %s: %v", res, err)
			return ctrl.Result{}, fmt.Errorf("deleting the NLB stopped after %s: %w", res, err)
		}
		r.Recorder.Eventf(p, nil, corev1.EventTypeNormal, ReasonDeleted, "Delete", "NLB deleted: %s", res)
	}
	s.nlbDeleted = true
	return ctrl.Result{}, nil
}

// reconcileRelease lets the Prod go once its NLB is deleted: the endpoint forgets the NLB
// and the finalizer is removed.
func (r *Reconciler) reconcileRelease(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.abandoned != "" {
		if err := r.recordLeftovers(ctx, s); err != nil {
			s.teardown = fmt.Sprintf("%s is set but what the NLB leaves behind could not be recorded, so the finalizer stays: %v", droverv1.ReleaseFinalizersAnnotation, err)
			return ctrl.Result{}, err
		}
		s.nlbDeleted = true
	}
	if !s.nlbDeleted {
		return ctrl.Result{}, nil
	}
	if ep := s.prod.Status.Endpoint; ep != nil && s.abandoned == "" {
		// An abandoned NLB still exists: the status keeps naming it, so that a retry
		// (the finalizer's removal can fail after the status is written) records it again.
		ep.NLBARN, ep.NLBDNSName, ep.NLBZoneID = "", "", ""
	}
	controllerutil.RemoveFinalizer(s.prod, droverv1.MirrorFinalizer)
	s.released = true
	return ctrl.Result{}, nil
}

// abandon gives up on deleting the NLB of a released Prod: what may be left of it is what
// AWS last answered (observed), or else what the Prod's status recorded.
func (s *scope) abandon(observed *nlb.Observed, why string) {
	s.abandoned = why
	s.left = leftBehind(s.prod, observed)
}

// leftBehind names the AWS resources of the Prod's mirror that may still exist.
func leftBehind(p *droverv1.Prod, observed *nlb.Observed) []string {
	var out []string
	if observed != nil {
		for _, lb := range observed.LoadBalancers {
			out = append(out, fmt.Sprintf("NLB %s (%s)", lb.ARN, lb.DNSName))
		}
		for _, tg := range observed.TargetGroups {
			out = append(out, "target group "+tg.ARN)
		}
		return out
	}
	if ep := p.Status.Endpoint; ep != nil && ep.NLBARN != "" {
		out = append(out, fmt.Sprintf("NLB %s (%s)", ep.NLBARN, ep.NLBDNSName))
	}
	if m := p.Status.Mirror; m != nil {
		for _, tg := range m.TargetGroups {
			if tg.ARN != "" {
				out = append(out, fmt.Sprintf("target group %s (pool %s)", tg.ARN, tg.Pool))
			}
		}
	}
	// Whatever the status did not get to record carries drover's ownership tags.
	return append(out, fmt.Sprintf("any other ELBv2 load balancer, listener or target group tagged as Prod %s/%s's (uid %s)", p.Namespace, p.Name, p.UID))
}

// recordLeftovers writes the released Prod's leftovers record and its Warning event.
func (r *Reconciler) recordLeftovers(ctx context.Context, s *scope) error {
	p := s.prod
	rec := leftovers.Record{
		Kind: "Prod", Namespace: p.Namespace, Name: p.Name, UID: string(p.UID), Finalizer: droverv1.MirrorFinalizer,
		Released: r.Now(), Reason: s.abandoned, Left: s.left,
	}
	if err := leftovers.Write(ctx, r.Client, r.LeftoversNamespace, rec); err != nil {
		return err
	}
	r.Recorder.Eventf(p, nil, corev1.EventTypeWarning, ReasonReleased, "Release", "%s",
		leftovers.EventMessage(rec, "deleting the NLB", r.LeftoversNamespace))
	return nil
}
