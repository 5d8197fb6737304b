// Package prod reconciles Prods: it applies a Prod's manifests to its workload cluster,
// prunes what left them, reports reachability and availability, and cleans up, after the
// Prod's traffic is drained, when the Prod is deleted.
package prod

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/tools/events"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	"sigs.k8s.io/cluster-api/util/patch"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/finalizer"
	"github.com/drover-dev/drover/internal/fresh"
	"github.com/drover-dev/drover/internal/manifests"
	"github.com/drover-dev/drover/internal/phases"
	"github.com/drover-dev/drover/internal/ready"
	"github.com/drover-dev/drover/internal/statuspatch"
	"github.com/drover-dev/drover/internal/tenancy"
	tenancyread "github.com/drover-dev/drover/internal/tenancy/read"
	"github.com/drover-dev/drover/internal/traffic"
	"github.com/drover-dev/drover/internal/workload"
)

const (
	// ControllerName names the controller, its event recorder and its cluster source.
	ControllerName = "prod"

	// clusterIndex indexes Prods by "<namespace>/<name>" of their Cluster.
	clusterIndex = "spec.clusterRef"

	// SkipCleanupAnnotation on a deleted Prod lets it go without deleting its workload
	// objects: the way out when its cluster is gone for good but its Cluster object stays.
	SkipCleanupAnnotation = "drover.dev/skip-workload-cleanup"
)

// Reconciler reconciles Prods.
type Reconciler struct {
	Client       client.Client
	ClusterCache clustercache.ClusterCache
	Traffic      traffic.Drainer
	Recorder     events.EventRecorder

	// ProbeFailureGrace is how long after a failed health probe of a workload cluster
	// its Prods are reported unreachable, without waiting for the cluster cache to give
	// up on the connection. Defaults to 5s.
	ProbeFailureGrace time.Duration
	// ProgressInterval is how often a Prod whose objects are still rolling out is checked.
	// Defaults to 10s.
	ProgressInterval time.Duration
	// UnreachableInterval is how often a Prod on an unreachable cluster is checked.
	// Defaults to 10s.
	UnreachableInterval time.Duration
	// ResyncInterval is how often a settled Prod is compared again with the workload
	// cache, applying what drifted: the safety net of the workload watches, which wake
	// the Prod on drift at once. Costs no workload request when nothing changed.
	// Defaults to 10m.
	ResyncInterval time.Duration
	// APIReader reads the Prod at the start of a reconcile when the cache may be older
	// than this manager's last write of it (fresh.Reads). Defaults to the manager's.
	APIReader client.Reader
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SingleTeam turns tenancy off: every Prod may reach every Cluster, namespace and
	// kind, as the manager's own identity.
	SingleTeam bool
	// LeftoversNamespace is the manager's namespace, where the record of what a released
	// Prod left on its workload cluster is kept (internal/leftovers).
	LeftoversNamespace string

	controller    controller.Controller
	impersonators workload.Impersonators
	// unsynced are the workload caches that did not answer (workload_cache.go).
	unsynced unsynced

	reads *fresh.Reads
	// workloadWrites are the versions drover's last writes of workload objects left, and
	// their responses as the workload cache keeps them, until the cache catches up
	// (readCached; workloadHandler).
	workloadWrites fresh.Writes
	// namespaces are the workload namespaces drover created, until the workload caches
	// of namespaces hold them (getNamespace).
	namespaces createdNamespaces
}

// +kubebuilder:rbac:groups=drover.dev,resources=prods,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prods/status;prods/finalizers,verbs=get;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prodsets,verbs=get;list;watch
// +kubebuilder:rbac:groups=cluster.x-k8s.io,resources=clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=tenants,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="";events.k8s.io,resources=events,verbs=create;patch

// SetupWithManager registers the controller, its index and its watches.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager, options controller.Options) error {
	if r.Traffic == nil {
		r.Traffic = traffic.None{}
	}
	if r.ProbeFailureGrace == 0 {
		r.ProbeFailureGrace = 5 * time.Second
	}
	if r.ProgressInterval == 0 {
		r.ProgressInterval = 10 * time.Second
	}
	if r.UnreachableInterval == 0 {
		r.UnreachableInterval = 10 * time.Second
	}
	if r.ResyncInterval == 0 {
		r.ResyncInterval = 10 * time.Minute
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	r.reads = &fresh.Reads{Cache: r.Client, Live: r.APIReader}
	if r.Now == nil {
		r.Now = time.Now
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &droverv1.Prod{}, clusterIndex, func(o client.Object) []string {
		p := o.(*droverv1.Prod)
		return []string{p.ClusterNamespace() + "/" + p.Spec.ClusterRef.Name}
	}); err != nil {
		return fmt.Errorf("indexing Prods by cluster: %w", err)
	}
	c, err := ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&droverv1.Prod{}, builder.WithPredicates(predicate.Or(
			predicate.GenerationChangedPredicate{},
			predicate.AnnotationChangedPredicate{},
			predicate.LabelChangedPredicate{},
		))).
		WithOptions(options).
		Watches(&clusterv1.Cluster{}, handler.EnqueueRequestsFromMapFunc(r.clusterToProds)).
		Watches(&droverv1.ProdSet{}, prodSetTrafficChanges()).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.namespaceToProds),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Watches(&droverv1.Tenant{}, handler.EnqueueRequestsFromMapFunc(r.tenantToProds)).
		WatchesRawSource(r.ClusterCache.GetClusterSource(ControllerName, r.clusterToProds,
			clustercache.WatchForProbeFailure(r.ProbeFailureGrace))).
		Build(r)
	if err != nil {
		return err
	}
	r.controller = c
	prodMetrics.Use(mgr.GetCache(), mgr.Elected())
	return nil
}

// clusterToProds maps a Cluster to the Prods that run on it.
func (r *Reconciler) clusterToProds(ctx context.Context, o client.Object) []ctrl.Request {
	list := &droverv1.ProdList{}
	// Map functions read only the names: the cache's Prods are not copied.
	if err := r.Client.List(ctx, list, client.MatchingFields{clusterIndex: o.GetNamespace() + "/" + o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing Prods of a Cluster", "cluster", client.ObjectKeyFromObject(o))
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// namespaceToProds maps a control-plane Namespace (its tenant label changed) to its Prods.
func (r *Reconciler) namespaceToProds(ctx context.Context, o client.Object) []ctrl.Request {
	list := &droverv1.ProdList{}
	if err := r.Client.List(ctx, list, client.InNamespace(o.GetName()), client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing Prods of a namespace", "namespace", o.GetName())
		return nil
	}
	reqs := make([]ctrl.Request, 0, len(list.Items))
	for i := range list.Items {
		reqs = append(reqs, ctrl.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return reqs
}

// tenantToProds maps a Tenant to the Prods of the namespaces labelled with its name.
func (r *Reconciler) tenantToProds(ctx context.Context, o client.Object) []ctrl.Request {
	nss := &corev1.NamespaceList{}
	if err := r.Client.List(ctx, nss, client.MatchingLabels{droverv1.TenantLabel: o.GetName()}, client.UnsafeDisableDeepCopy); err != nil {
		ctrl.LoggerFrom(ctx).Error(err, "listing the namespaces of a Tenant", "tenant", o.GetName())
		return nil
	}
	var reqs []ctrl.Request
	for i := range nss.Items {
		reqs = append(reqs, r.namespaceToProds(ctx, &nss.Items[i])...)
	}
	return reqs
}

// workloadToProd maps a workload object of cluster to the Prod it belongs to, from its
// prod-ref annotation (the labels of an older drover hold a name cut at 63 characters).
// Anyone who may write objects on a workload cluster can write that annotation and the
// labels, so the Prod is woken only when it runs on cluster and the object is one of its
// inventory, by kind, namespace and name, and its own (wakes): an object naming another
// team's Prod does not make drover reconcile that Prod, and the Prod is read from the
// manager's cache, so a flood of such objects costs no request.
func (r *Reconciler) workloadToProd(cluster client.ObjectKey) handler.MapFunc {
	return func(ctx context.Context, o client.Object) []ctrl.Request {
		ns, name, ok := manifests.ProdOf(o)
		if !ok {
			return nil
		}
		prod := &droverv1.Prod{}
		// Read only: the cache's Prod is not copied.
		if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, prod, client.UnsafeDisableDeepCopy); err != nil || !wakes(prod, cluster, o) {
			return nil
		}
		return []ctrl.Request{{NamespacedName: client.ObjectKey{Namespace: ns, Name: name}}}
	}
}

// wakes says whether a change of o, a workload object of cluster (of a kind of
// cachedWorkloadKinds), concerns prod: prod runs on cluster, o is of prod's inventory (its
// group, kind, namespace and name) and o is prod's (its UID label; or an older drover's
// name labels). An object deleted or re-created by someone else still wakes the Prod:
// it is its inventory's, and the reconcile judges it.
func wakes(prod *droverv1.Prod, cluster client.ObjectKey, o client.Object) bool {
	if prod.ClusterNamespace() != cluster.Namespace || prod.Spec.ClusterRef.Name != cluster.Name {
		return false
	}
	gvk := o.GetObjectKind().GroupVersionKind()
	inInventory := slices.ContainsFunc(prod.Status.Inventory, func(r droverv1.ObjectReference) bool {
		return r.Group == gvk.Group && r.Kind == gvk.Kind && r.Namespace == o.GetNamespace() && r.Name == o.GetName()
	})
	return inInventory && manifests.Owns(prod, o, true)
}

// scope is what one reconcile learned.
type scope struct {
	// helper patches the Prod at the end of the reconcile (and in between, see persist),
	// through writes, which records the version its last write left.
	helper *statuspatch.Helper
	writes *fresh.Recorder

	prod       *droverv1.Prod
	clusterKey client.ObjectKey
	cluster    *clusterv1.Cluster

	// policy is what the Prod's tenancy lets it reach; resolved says it was read.
	policy   tenancy.Policy
	resolved bool
	// refused is the tenancy's refusal of the Prod's cluster: nothing is applied there.
	refused *tenancy.Refusal

	// reachable is the ClusterReachable verdict; workload is set only when reachable.
	reachable reachability
	workload  client.Client
	// admin is the workload cluster's client as drover itself, for drover's own
	// bookkeeping (the target namespace); workload acts as the tenant's identity.
	admin client.Client
	// cached reads the cluster's workload caches (drover's identity): the cached kinds'
	// objects of drover, and namespaces (WorkloadCacheOptions).
	cached client.Reader
	// notTriedYet: the cluster cache has not tried to connect to the cluster since the
	// manager started, so nothing is known of it and the status is left as it is.
	notTriedYet bool

	// applied is set once the manifests of this generation are applied and pruned.
	applied     bool
	applyReason string
	applyErr    error
	objects     []*unstructured.Unstructured
	// claimed holds an entry for each object of the manifests found the Prod's to apply
	// in this reconcile (claimObjects), with the UID of the live object it was found as,
	// none when the object did not exist. live holds the cached copy of each object (nil
	// when the cache has none), in the manifests' order.
	claimed []droverv1.ObjectReference
	live    []*unstructured.Unstructured
	// createdNamespace: this reconcile created the target namespace, so no object was in
	// it when claimObjects ran (claimObjects reads none of them).
	createdNamespace bool

	// availability is nil when it could not be judged.
	availability *manifests.Availability

	deleting         bool
	drained          bool
	finalizerRemoved bool
	cleanupPending   []droverv1.ObjectReference
}

type reachability struct {
	ok      bool
	reason  string
	message string
}

type phase = phases.Phase[*scope]

// Reconcile brings one Prod towards its spec.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, retErr error) {
	// The Prod is read as of this manager's last write of it (fresh.Reads: the cache,
	// unless it has not caught up with that write). Status is patched only where it
	// differs from what was read, so a reconcile that started from a cached Prod older
	// than the previous reconcile's status write would find nothing to change and leave
	// that write standing: after a restart, a Prod reconciled once before its cluster was
	// connected (ClusterReachable False) and again at once when it connected would keep
	// the False status until the next resync.
	prod := &droverv1.Prod{}
	if err := r.reads.Get(ctx, req.NamespacedName, prod); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if prod.DeletionTimestamp.IsZero() {
		// The finalizer is written before anything lands on the workload cluster. Adding
		// it does not bump the generation, so the reconcile carries on instead of waiting
		// for an event the predicates filter out.
		added, err := finalizer.Ensure(ctx, r.Client, r.APIReader, prod, droverv1.ProdFinalizer)
		if err != nil {
			return ctrl.Result{}, err
		}
		if added {
			r.reads.Wrote(prod)
		}
	}

	// The patch helper writes copies of the Prod, so the Prod never shows the version
	// its writes left: the Recorder does, for fresh.Reads. The conditions are written
	// after the rest of the status (statuspatch), so no version of the Prod says Applied
	// or Available beside the observedGeneration and applied version of the one before.
	writes := fresh.NewRecorder(r.Client)
	helper, err := statuspatch.NewHelper(prod, writes, r.APIReader)
	if err != nil {
		return ctrl.Result{}, err
	}
	s := &scope{
		helper:     helper,
		writes:     writes,
		prod:       prod,
		clusterKey: client.ObjectKey{Namespace: prod.ClusterNamespace(), Name: prod.Spec.ClusterRef.Name},
		deleting:   !prod.DeletionTimestamp.IsZero(),
	}
	defer func() {
		if s.notTriedYet {
			return // nothing learned: the status keeps what the last reconcile found
		}
		r.updateStatus(ctx, s)
		opts := []patch.Option{patch.WithOwnedConditions{Conditions: append([]string{
			droverv1.ProdClusterReachableCondition, droverv1.ProdAppliedCondition,
			droverv1.ProdAvailableCondition, droverv1.ProdTrafficReadyCondition,
		}, ready.Conditions...)}}
		if !s.deleting {
			opts = append(opts, patch.WithStatusObservedGeneration{})
		}
		err := s.helper.Patch(ctx, prod, opts...)
		switch {
		case err == nil:
			if v := s.writes.Version(); v != "" {
				prod.SetResourceVersion(v) // as the reconcile's last write left it
			}
			r.reads.Wrote(prod)
		case apierrors.IsNotFound(err):
			r.reads.Forget(prod.UID)
		default:
			r.reads.Unsure(prod)
		}
		if err != nil && !(s.deleting && apierrors.IsNotFound(err)) {
			retErr = kerrors.NewAggregate([]error{retErr, err})
		}
	}()

	// Every phase runs, each skipping itself when what it needs was not learned by the
	// ones before.
	if s.deleting {
		return phases.Run(ctx, s, []phase{r.reconcileDrain, r.reconcileTenancy, r.reconcileCluster, r.reconcileConnection, r.reconcileCleanup}, nil)
	}
	res, err := phases.Run(ctx, s, []phase{r.reconcileTenancy, r.reconcileCluster, r.reconcileConnection, r.reconcileApply, r.reconcileAvailability}, nil)
	if err == nil && res.IsZero() && s.applied {
		// Settled: come back later to correct drift on the workload cluster.
		res.RequeueAfter = r.ResyncInterval
	}
	return res, err
}

// reconcileTenancy resolves what the Prod may reach: the Tenant its namespace is
// labelled with, or the defaults.
func (r *Reconciler) reconcileTenancy(ctx context.Context, s *scope) (ctrl.Result, error) {
	policy, err := tenancyread.Policy(ctx, r.Client, s.prod.Namespace, r.SingleTeam)
	if err != nil {
		s.reachable = reachability{reason: droverv1.ProdClusterReachableUnknownReason, message: err.Error()}
		return ctrl.Result{}, err
	}
	s.policy = policy
	s.resolved = true
	return ctrl.Result{}, nil
}

// reconcileCluster reads the Cluster and stops when it is missing, deleting, not up, or
// not one the Prod's tenancy allows. A Cluster of a namespace the tenancy gives no access
// to is not even read, so a refusal tells nothing of what exists there.
func (r *Reconciler) reconcileCluster(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.resolved {
		return ctrl.Result{}, nil
	}
	if !s.deleting {
		if ref := s.policy.ClusterCandidate(s.clusterKey.Namespace, s.clusterKey.Name); ref != nil {
			r.refuseCluster(s, ref)
			return ctrl.Result{}, nil
		}
	}
	cluster := &clusterv1.Cluster{}
	if err := r.Client.Get(ctx, s.clusterKey, cluster); err != nil {
		if apierrors.IsNotFound(err) {
			s.reachable = reachability{reason: droverv1.ProdClusterNotFoundReason,
				message: fmt.Sprintf("Cluster %s does not exist", s.clusterKey)}
			if s.deleting {
				// Nothing is left to clean up where no cluster is.
				return ctrl.Result{}, r.removeFinalizer(ctx, s)
			}
			return ctrl.Result{}, nil // the Cluster watch brings us back when it appears
		}
		s.reachable = reachability{reason: droverv1.ProdClusterReachableUnknownReason,
			message: fmt.Sprintf("reading Cluster %s: %v", s.clusterKey, err)}
		return ctrl.Result{}, fmt.Errorf("reading Cluster %s: %w", s.clusterKey, err)
	}
	switch {
	case !cluster.DeletionTimestamp.IsZero():
		s.reachable = reachability{reason: droverv1.ProdClusterDeletingReason,
			message: fmt.Sprintf("Cluster %s is being deleted", s.clusterKey)}
		if s.deleting {
			return ctrl.Result{}, r.removeFinalizer(ctx, s)
		}
		return ctrl.Result{}, nil
	case !ptrTrue(cluster.Status.Initialization.InfrastructureProvisioned) || !ptrTrue(cluster.Status.Initialization.ControlPlaneInitialized):
		s.reachable = reachability{reason: droverv1.ProdClusterNotReadyReason,
			message: fmt.Sprintf("Cluster %s is not provisioned yet (infrastructure provisioned: %t, control plane initialized: %t)",
				s.clusterKey, ptrTrue(cluster.Status.Initialization.InfrastructureProvisioned),
				ptrTrue(cluster.Status.Initialization.ControlPlaneInitialized))}
		return ctrl.Result{}, nil
	}
	if ref := s.policy.Cluster(cluster.Namespace, cluster.Name, cluster.Labels); ref != nil && !s.deleting {
		r.refuseCluster(s, ref)
		return ctrl.Result{}, nil
	}
	s.cluster = cluster
	return ctrl.Result{}, nil
}

// refuseCluster records that the tenancy does not allow the Prod's cluster: nothing is
// applied, and what an earlier policy let the Prod apply there is left as it is.
func (r *Reconciler) refuseCluster(s *scope, ref *tenancy.Refusal) {
	s.refused = ref
	s.reachable = reachability{reason: droverv1.ProdNotPermittedReason, message: ref.Error()}
	s.applyReason, s.applyErr = droverv1.ProdNotPermittedReason, ref
}

// reconcileConnection gets a client for the workload cluster from the cluster cache,
// unless the cluster's health probe is failing. It is the live (uncached) client: a read
// through the cached one would start an informer for the whole cluster of every kind a
// Prod lists, and would not see objects outside the label-restricted caches at all.
func (r *Reconciler) reconcileConnection(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.cluster == nil || s.finalizerRemoved {
		return ctrl.Result{}, nil
	}
	c, err := r.ClusterCache.GetUncachedClient(ctx, s.clusterKey)
	if err != nil {
		if errors.Is(err, clustercache.ErrClusterNotConnected) {
			r.impersonators.Forget(s.clusterKey)
			if !s.deleting && r.ClusterCache.GetHealthCheckingState(ctx, s.clusterKey).LastProbeTime.IsZero() {
				// Not tried yet (a failed connection counts as a probe): a manager that has
				// just started must not report every Prod unreachable until it connects, as
				// the ProdSet controller counts such a cluster reachable. Connecting wakes the
				// Prod; the requeue covers a connection that fails.
				s.notTriedYet = true
				return ctrl.Result{RequeueAfter: time.Second}, nil
			}
			s.reachable = reachability{reason: droverv1.ProdClusterNotConnectedReason,
				message: fmt.Sprintf("no connection to the API server of Cluster %s", s.clusterKey)}
			return ctrl.Result{RequeueAfter: r.UnreachableInterval}, nil
		}
		return ctrl.Result{}, err
	}
	if h := r.ClusterCache.GetHealthCheckingState(ctx, s.clusterKey); h.ConsecutiveFailures > 0 {
		s.reachable = reachability{reason: droverv1.ProdClusterProbeFailingReason,
			message: fmt.Sprintf("the API server of Cluster %s failed %d health probes in a row; last success %s",
				s.clusterKey, h.ConsecutiveFailures, since(r.Now(), h.LastProbeSuccessTime))}
		return ctrl.Result{RequeueAfter: r.UnreachableInterval}, nil
	}
	s.admin = c
	s.workload = c
	if s.cached, err = r.ClusterCache.GetReader(ctx, s.clusterKey); err != nil {
		s.cached = nil // every object is applied, the namespace read live
	}
	as, ref, err := r.impersonators.As(ctx, r.ClusterCache, s.clusterKey, c, s.policy)
	switch {
	case err != nil:
		return ctrl.Result{}, err
	case ref != nil:
		// No identity to act as: nothing is applied or deleted for the Prod.
		s.workload = nil
		s.applyReason, s.applyErr = droverv1.ProdNotPermittedReason, ref
	default:
		s.workload = as
	}
	s.reachable = reachability{ok: true, reason: droverv1.ProdClusterReachableReason}
	return ctrl.Result{}, nil
}

// reconcileApply applies the manifests with server-side apply and prunes what left them.
func (r *Reconciler) reconcileApply(ctx context.Context, s *scope) (ctrl.Result, error) {
	if s.workload == nil {
		return ctrl.Result{}, nil
	}
	prod := s.prod
	objs, err := manifests.Render(prod, workload.ScopeOf(s.workload))
	if err != nil {
		var invalid *manifests.InvalidError
		if errors.As(err, &invalid) {
			s.applyReason, s.applyErr = droverv1.ProdInvalidManifestReason, err
			return ctrl.Result{}, nil // nothing on the cluster is touched until the spec is fixed
		}
		return r.failedRequest(s, droverv1.ProdApplyFailedReason, err)
	}
	if ref := s.policy.Manifests(prod.Spec.TargetNamespace, objs); ref != nil {
		s.applyReason, s.applyErr = droverv1.ProdNotPermittedReason, ref
		return ctrl.Result{}, nil // nothing on the cluster is touched until the spec or the policy changes
	}

	desired := manifests.Inventory(objs)
	createNamespace, res, refused, err := r.claimNamespace(ctx, s)
	if refused || err != nil {
		return res, err
	}
	// The namespace first: created now, it holds no object, and claimObjects reads none
	// of its objects. drover never deletes a namespace, so creating it before anything
	// is recorded in the inventory leaves nothing to forget.
	if createNamespace {
		if res, refused, err := r.createNamespace(ctx, s); refused || err != nil {
			return res, err
		}
	}
	if res, refused, err := r.claimObjects(ctx, s, objs); refused || err != nil {
		return res, err
	}

	// Record every object we are about to own before creating it, so a crash between
	// apply and prune never forgets one.
	before := prod.Status.Inventory
	if union := manifests.Union(prod.Status.Inventory, desired); !slices.Equal(union, prod.Status.Inventory) {
		prod.Status.Inventory = union
		if err := r.persist(ctx, s); err != nil {
			return ctrl.Result{}, fmt.Errorf("recording inventory: %w", err)
		}
	}
	// Each object is compared with its live counterpart in the workload cache and applied
	// only when it is not in sync (manifests.InSync): drift in a field drover applies, a
	// changed configuration, a deleted or re-created object. The live objects stand in for
	// the apply responses for the availability check.
	refs := make([]droverv1.ObjectReference, 0, len(objs))
	s.objects = make([]*unstructured.Unstructured, 0, len(objs))
	for i, o := range objs {
		config, err := manifests.ConfigHash(o)
		if err != nil {
			return r.failedRequest(s, droverv1.ProdApplyFailedReason, fmt.Errorf("hashing %s %s: %w", o.GetKind(), o.GetName(), err))
		}
		rec, _ := manifests.Recorded(prod.Status.Inventory, manifests.RefOf(o))
		if live := s.live[i]; manifests.InSync(prod, rec, config, live) {
			rec.Version = o.GroupVersionKind().Version
			refs = append(refs, rec)
			s.objects = append(s.objects, live)
			objectsCompared.WithLabelValues(ObjectUnchanged).Inc()
			continue
		}
		applied, res, stop, err := r.applyObject(ctx, s, o, rec, config)
		if stop || err != nil {
			if refusedOnly(s.applyReason) {
				// Refused (RBAC of the workload cluster, or the object is not the Prod's):
				// the objects not created yet, this one included, leave the inventory the
				// pre-write put them in; a Prod deleted later would read them to delete
				// them, as an identity that may not.
				prod.Status.Inventory = manifests.Union(refs, before)
			}
			return res, err
		}
		objectsCompared.WithLabelValues(ObjectApplied).Inc()
		ref := manifests.RefOf(applied) // with its UID
		ref.Applied = manifests.AppliedRecord(config, applied.GetManagedFields(), applied.GetGeneration())
		refs = append(refs, ref)
		s.objects = append(s.objects, applied)
	}

	stale := manifests.Stale(prod.Status.Inventory, desired)
	remaining, err := r.deleteObjects(ctx, s.workload, prod, stale)
	if err != nil {
		return r.failedRequest(s, droverv1.ProdPruneFailedReason, err)
	}
	if len(stale) > 0 {
		r.event(prod, corev1.EventTypeNormal, ReasonPruned, "Prune", "deleted %d objects that left spec.manifests", len(stale)-len(remaining))
	}
	// The objects as the API server returned them: the inventory records their UIDs.
	prod.Status.Inventory = manifests.Union(refs, remaining)
	if prod.Status.AppliedVersion != prod.Spec.Version || prod.Status.ObservedGeneration != prod.Generation {
		r.routineEvent(prod, ReasonApplied, "Apply", "Prods of the set applied their manifests; each Prod's Applied condition says which version",
			"applied %d objects of version %s to Cluster %s", len(objs), prod.Spec.Version, s.clusterKey)
	}
	s.applied = true
	prod.Status.AppliedVersion = prod.Spec.Version
	if len(remaining) > 0 {
		return ctrl.Result{RequeueAfter: r.ProgressInterval}, nil
	}
	return ctrl.Result{}, nil
}

// claimObjects refuses the apply (refused true, Applied False) when an object of the
// manifests is not the Prod's to take: it belongs to another Prod (two Prods never manage
// the same object; taking it over from one that may be serving would break it), or it
// exists and drover did not create it (an object of another team or tool: applying would
// relabel it and the Prod would prune or delete it later) and it is not handed over with
// the adopt annotation. Nothing is applied for the Prod then.
//
// An object the inventory lists is judged too: the inventory is the Prod's status, and
// whoever may write prods/status could list another team's object there to have drover
// apply over it, relabel it as the Prod's and later delete it. So an entry only says
// where to look. The object is the Prod's when its copy in the workload cache carries
// the Prod's labels (manifests.Owns; no request), and is otherwise read and judged as a
// new one. That read is made as the Prod's identity on the workload cluster, before
// anything is recorded in the inventory: an object the tenant may not even read is
// refused with nothing recorded, and the Prod is deleted without ever reading it. Every
// object allowed is recorded in s.claimed with the UID it was found as, which
// applyObject names.
func (r *Reconciler) claimObjects(ctx context.Context, s *scope, objs []*unstructured.Unstructured) (ctrl.Result, bool, error) {
	s.claimed = make([]droverv1.ObjectReference, 0, len(objs))
	s.live = make([]*unstructured.Unstructured, len(objs))
	for i, o := range objs {
		ref := manifests.RefOf(o)
		if s.createdNamespace && o.GetNamespace() != "" && o.GetNamespace() == s.prod.Spec.TargetNamespace {
			// In the namespace this reconcile created: absent. One created there by
			// someone else since makes drover's create fail, and is claimed then. Its
			// kind is watched all the same (no request), so that drift of what drover
			// creates now wakes the Prod.
			if s.cached != nil {
				r.watchKind(ctx, s, o.GroupVersionKind())
			}
			s.claimed = append(s.claimed, ref)
			continue
		}
		_, inInventory := manifests.Recorded(s.prod.Status.Inventory, ref)
		s.live[i] = r.readCached(ctx, s, o)
		if live := s.live[i]; inInventory && live != nil && live.GetDeletionTimestamp() == nil && manifests.Owns(s.prod, live, true) {
			ref.UID = live.GetUID()
			s.claimed = append(s.claimed, ref)
			continue
		}
		uid, res, refused, err := r.claimObject(ctx, s, o, inInventory)
		if refused || err != nil {
			return res, refused, err
		}
		ref.UID = uid
		s.claimed = append(s.claimed, ref)
	}
	return ctrl.Result{}, false, nil
}

// claimObject reads o on the workload cluster and decides with manifests.ClaimObject
// whether the Prod may apply it: refused (Applied False, OwnershipConflict or NotOwned)
// when the object exists and is another Prod's, or no Prod's and not handed over.
// inInventory says whether the Prod's inventory lists it (an object of a drover older
// than the UID label is the Prod's by its name labels only then). uid is the UID of the
// object read, empty when it does not exist.
func (r *Reconciler) claimObject(ctx context.Context, s *scope, o *unstructured.Unstructured, inInventory bool) (uid types.UID, _ ctrl.Result, refused bool, _ error) {
	prod := s.prod
	ref := manifests.RefOf(o)
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(o.GroupVersionKind())
	var existing metav1.Object
	switch err := s.workload.Get(ctx, client.ObjectKeyFromObject(o), cur); {
	case err == nil:
		existing = cur
	case !apierrors.IsNotFound(err):
		res, err := r.failedRequest(s, droverv1.ProdApplyFailedReason, fmt.Errorf("reading %s: %w", manifests.Describe(ref), err))
		return "", res, true, err
	}
	claim := manifests.ClaimObject(prod, existing, inInventory)
	switch claim.Verdict {
	case manifests.OwnershipConflict:
		s.applyReason = droverv1.ProdOwnershipConflictReason
		s.applyErr = fmt.Errorf("%s belongs to Prod %s; two Prods may not manage the same object: give one of them another spec.targetNamespace or object name",
			manifests.Describe(ref), claim.Owner)
		return "", ctrl.Result{RequeueAfter: r.ProgressInterval}, true, nil
	case manifests.NotOwned:
		s.applyReason = droverv1.ProdNotOwnedReason
		s.applyErr = fmt.Errorf("%s exists on the workload cluster and was not created by drover; drover does not take it over. "+
			"Its owner hands it over with the annotation %s=%s on it; or rename it in spec.manifests",
			manifests.Describe(ref), droverv1.AdoptAnnotation, manifests.ProdRef(prod))
		return "", ctrl.Result{RequeueAfter: r.ProgressInterval}, true, nil
	case manifests.Adopt:
		r.event(prod, corev1.EventTypeNormal, ReasonAdopted, "Apply", "taking over %s, handed over with %s", manifests.Describe(ref), droverv1.AdoptAnnotation)
	}
	if existing != nil {
		uid = existing.GetUID()
	}
	return uid, ctrl.Result{}, false, nil
}

// applyObject creates o, or server-side applies it, as the Prod's, and returns it as the
// API server did. An object claimObjects found existing is applied with the UID it was
// found as, which the API server checks: when the object was deleted, or deleted and
// re-created by someone else, since, the apply fails and the object is read and claimed
// again (claimObject), so a re-created object that is not the Prod's is not taken over.
// The UID the inventory records is never named: whoever may write the Prod's status could
// have written another object's there.
//
// An object that did not exist when it was claimed is created, and only created
// (applyAs): an apply creates or updates, and would take over an object someone else
// created after drover looked, where a create fails and the object is claimed again. The
// create leaves an update's managedFields entry of drover's owning every field it set,
// which the inventory's record of it marks (manifests.Created). Server-side apply prunes
// a field its applier's entry owned and no longer sets only when no other entry owns it:
// so before the first apply of a changed configuration of such an object (recorded, its
// entry in the inventory, of the UID claimed) that entry is made an apply's (makeCreateEntryApply), and the
// apply prunes what the new configuration dropped. An apply of the same configuration (a
// drift corrected) leaves the entry: it owns no field the apply does not.
func (r *Reconciler) applyObject(ctx context.Context, s *scope, o *unstructured.Unstructured, recorded droverv1.ObjectReference, config string) (*unstructured.Unstructured, ctrl.Result, bool, error) {
	ref := manifests.RefOf(o)
	claimed, ok := manifests.Recorded(s.claimed, ref)
	if !ok {
		// claimObjects claims every object of the manifests before any is applied.
		res, err := r.failedRequest(s, droverv1.ProdApplyFailedReason, fmt.Errorf("applying %s: it was not claimed", manifests.Describe(ref)))
		return nil, res, true, err
	}
	_, inInventory := manifests.Recorded(s.prod.Status.Inventory, ref)
	var err error
	if claimed.UID != "" && claimed.UID == recorded.UID && manifests.Created(recorded.Applied) && manifests.AppliedConfig(recorded.Applied) != config {
		err = r.makeCreateEntryApply(ctx, s, o, claimed.UID)
	}
	var applied *unstructured.Unstructured
	if err == nil {
		applied, err = r.applyAs(ctx, s, o, claimed.UID)
	}
	// Not the object claimed: found absent, it exists now; found, it no longer exists (a
	// conflict) or has another UID (invalid). Or an invalid object, which the second
	// attempt says again.
	if apierrors.IsAlreadyExists(err) || apierrors.IsConflict(err) || apierrors.IsInvalid(err) {
		again, res, refused, claimErr := r.claimObject(ctx, s, o, inInventory)
		if refused || claimErr != nil {
			return nil, res, refused, claimErr
		}
		applied, err = r.applyAs(ctx, s, o, again)
	}
	if err != nil {
		if apierrors.IsNotFound(err) && o.GetNamespace() != "" {
			r.namespaces.forget(s.clusterKey, o.GetNamespace()) // its namespace is gone: read it again
		}
		res, err := r.failedRequest(s, droverv1.ProdApplyFailedReason, fmt.Errorf("applying %s %s: %w", o.GetKind(), o.GetName(), err))
		return nil, res, true, err
	}
	r.wrote(applied)
	return applied, ctrl.Result{}, false, nil
}

// applyAs applies o as the object of UID uid, or only creates it when uid is empty (it
// was found absent): a create fails (AlreadyExists) on an object someone else created
// since drover looked, where an apply would take it over. It returns the object as the
// API server returned it.
func (r *Reconciler) applyAs(ctx context.Context, s *scope, o *unstructured.Unstructured, uid types.UID) (*unstructured.Unstructured, error) {
	out := o.DeepCopy()
	if uid == "" {
		out.SetUID("")
		if err := s.workload.Create(ctx, out, client.FieldOwner(droverv1.FieldManager)); err != nil {
			return nil, err
		}
		return out, nil
	}
	out.SetUID(uid)
	if err := s.workload.Apply(ctx, client.ApplyConfigurationFromUnstructured(out),
		client.FieldOwner(droverv1.FieldManager), client.ForceOwnership); err != nil {
		return nil, err
	}
	return out, nil
}

// makeCreateEntryApply makes drover's create entry of the object of UID uid an apply's
// entry (manifests.CreateEntryToApply; the patch guesses where it is and fails rather than
// touch another entry), or, when the guess is wrong, reads the object and patches what
// it finds (manifests.CreateEntryPatch). An object of another UID is left alone: the
// apply that follows fails on it and claims it again.
func (r *Reconciler) makeCreateEntryApply(ctx context.Context, s *scope, o *unstructured.Unstructured, uid types.UID) error {
	patched := &unstructured.Unstructured{}
	patched.SetGroupVersionKind(o.GroupVersionKind())
	patched.SetNamespace(o.GetNamespace())
	patched.SetName(o.GetName())
	err := s.workload.Patch(ctx, patched, client.RawPatch(types.JSONPatchType, manifests.CreateEntryToApply(string(uid))))
	if err == nil {
		r.workloadWrites.Wrote(patched, nil) // its version only, for the watch's echo
		return nil
	}
	if !apierrors.IsInvalid(err) && !apierrors.IsBadRequest(err) {
		return client.IgnoreNotFound(err) // gone: the apply fails and claims it again
	}
	cur := &unstructured.Unstructured{}
	cur.SetGroupVersionKind(o.GroupVersionKind())
	if err := s.workload.Get(ctx, client.ObjectKeyFromObject(o), cur); err != nil {
		return client.IgnoreNotFound(err) // gone: the apply fails and claims it again
	}
	patch, ok := manifests.CreateEntryPatch(string(uid), cur.GetManagedFields())
	if cur.GetUID() != uid || !ok {
		return nil
	}
	if err := s.workload.Patch(ctx, cur, client.RawPatch(types.JSONPatchType, patch)); err != nil {
		return err
	}
	r.workloadWrites.Wrote(cur, nil)
	return nil
}

// wrote records o, as drover's last write of it to its workload cluster returned it, in
// workloadWrites: until the workload cache holds this version, a read of it is answered
// by o as the cache would keep it (readCached), and the watch's events of it wake no
// Prod. Only the last write of an object in a reconcile is stripped and kept; the writes
// before it (a create, the apply before a patch) record their versions alone.
func (r *Reconciler) wrote(o *unstructured.Unstructured) {
	kept, _ := stripWorkload(o.DeepCopy())
	r.workloadWrites.Wrote(o, kept.(*unstructured.Unstructured))
}

// reconcileAvailability judges the applied objects as the API server returned them.
func (r *Reconciler) reconcileAvailability(_ context.Context, s *scope) (ctrl.Result, error) {
	if !s.applied {
		return ctrl.Result{}, nil
	}
	a := manifests.Assess(s.objects)
	s.availability = &a
	if a.Pending {
		return ctrl.Result{RequeueAfter: r.ProgressInterval}, nil
	}
	return ctrl.Result{}, nil
}

// reconcileDrain takes the Prod out of traffic before anything is deleted.
func (r *Reconciler) reconcileDrain(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(s.prod, droverv1.ProdFinalizer) {
		return ctrl.Result{}, nil
	}
	drained, retry, err := r.Traffic.Drain(ctx, s.prod)
	if releasing(s.prod) && (err != nil || !drained) {
		// Released: the objects go now, drained or not (DNS may be what cannot be reached).
		ctrl.LoggerFrom(ctx).Info("deleting the workload objects without waiting for the drain", "annotation", droverv1.ReleaseFinalizersAnnotation, "drainError", err)
		s.drained = true
		return ctrl.Result{}, nil
	}
	if err != nil {
		return ctrl.Result{}, fmt.Errorf("draining traffic: %w", err)
	}
	if !drained {
		return ctrl.Result{RequeueAfter: retry}, nil
	}
	s.drained = true
	return ctrl.Result{}, nil
}

// reconcileCleanup deletes every inventoried workload object and then lets the Prod go.
func (r *Reconciler) reconcileCleanup(ctx context.Context, s *scope) (ctrl.Result, error) {
	if !s.drained || s.finalizerRemoved {
		return ctrl.Result{}, nil
	}
	if s.prod.Annotations[SkipCleanupAnnotation] == "true" {
		r.event(s.prod, corev1.EventTypeWarning, ReasonCleanupSkipped, "Delete", "workload objects left on Cluster %s as annotated", s.clusterKey)
		return ctrl.Result{}, r.removeFinalizer(ctx, s)
	}
	if len(s.prod.Status.Inventory) == 0 {
		// Nothing was ever applied (or all of it is gone): nothing to wait for.
		return ctrl.Result{}, r.removeFinalizer(ctx, s)
	}
	if s.workload == nil && releasing(s.prod) {
		why := "Cluster " + s.clusterKey.String() + " cannot be reached"
		if s.reachable.message != "" {
			why += ": " + s.reachable.message
		}
		return ctrl.Result{}, r.release(ctx, s, why)
	}
	if s.workload == nil {
		return ctrl.Result{RequeueAfter: r.UnreachableInterval}, nil // waits for the cluster to come back
	}
	remaining, err := r.deleteObjects(ctx, s.workload, s.prod, s.prod.Status.Inventory)
	if err != nil && releasing(s.prod) {
		s.prod.Status.Inventory = remaining
		return ctrl.Result{}, r.release(ctx, s, "deleting the workload objects: "+err.Error())
	}
	if err != nil {
		return r.failedRequest(s, droverv1.ProdPruneFailedReason, err)
	}
	s.prod.Status.Inventory = remaining
	s.cleanupPending = remaining
	if len(remaining) > 0 {
		return ctrl.Result{RequeueAfter: r.ProgressInterval}, nil
	}
	r.event(s.prod, corev1.EventTypeNormal, ReasonCleanedUp, "Delete", "workload objects deleted from Cluster %s", s.clusterKey)
	return ctrl.Result{}, r.removeFinalizer(ctx, s)
}

// persist writes what the reconcile has changed so far, before it acts on what it wrote,
// and starts a new patch helper from there for the final patch.
//
// The Prod goes on from the write's response (its version and status; the spec is the
// same while the generation is): the final patch names that version as its precondition
// (statuspatch), which would otherwise conflict with this very write and take the patch
// helper's two writes.
func (r *Reconciler) persist(ctx context.Context, s *scope) error {
	if err := s.helper.Patch(ctx, s.prod); err != nil {
		return err
	}
	if last, ok := s.writes.Last().(*droverv1.Prod); ok && last.UID == s.prod.UID && last.Generation == s.prod.Generation {
		s.prod.ResourceVersion = last.ResourceVersion
		last.Status.DeepCopyInto(&s.prod.Status)
	}
	h, err := statuspatch.NewHelper(s.prod, s.writes, r.APIReader)
	if err != nil {
		return err
	}
	s.helper = h
	return nil
}

// removeFinalizer lets the Prod go once its traffic is drained. It takes drover's
// finalizer off with the version read as a precondition (finalizer.Remove), so that a
// finalizer another controller added or removed meanwhile is neither dropped nor put back,
// as the patch helper's merge patch of the whole list would; the final patch starts from
// the version it left and writes the status the reconcile computed.
func (r *Reconciler) removeFinalizer(ctx context.Context, s *scope) error {
	if !s.drained {
		return nil
	}
	want := s.prod.Status.DeepCopy()
	removed, err := finalizer.Remove(ctx, s.writes, r.APIReader, s.prod, droverv1.ProdFinalizer)
	if err != nil {
		return fmt.Errorf("removing the finalizer: %w", err)
	}
	s.finalizerRemoved = true
	if removed {
		h, err := statuspatch.NewHelper(s.prod, s.writes, r.APIReader)
		if err != nil {
			return err
		}
		s.helper = h
		s.prod.Status = *want
	}
	return nil
}

// deleteObjects deletes the listed objects (of the Prod's inventory) that the Prod still
// owns (manifests.Owns) and returns those not gone yet. An object someone else took over
// (labels changed) is left alone, and so is a Namespace: drover never deletes one.
func (r *Reconciler) deleteObjects(ctx context.Context, c client.Client, prod *droverv1.Prod, refs []droverv1.ObjectReference) ([]droverv1.ObjectReference, error) {
	var remaining []droverv1.ObjectReference
	var errs []error
	for _, ref := range refs {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(schema.GroupVersionKind{Group: ref.Group, Version: ref.Version, Kind: ref.Kind})
		err := c.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, u)
		switch {
		case apierrors.IsNotFound(err) || workload.IsNoMatch(err):
			continue
		case err != nil:
			errs = append(errs, fmt.Errorf("reading %s: %w", manifests.Describe(ref), err))
			remaining = append(remaining, ref)
			continue
		case !manifests.Owns(prod, u, true):
			continue
		case ref.Group == "" && ref.Kind == "Namespace":
			r.event(prod, corev1.EventTypeNormal, ReasonNamespaceKept, "Delete", "left Namespace %s: drover never deletes a namespace", ref.Name)
			continue
		}
		if u.GetDeletionTimestamp() == nil {
			// Only the object just read and found the Prod's: one deleted and re-created
			// in between fails the precondition (a conflict) and is read again next time.
			uid := u.GetUID()
			err := c.Delete(ctx, u, client.PropagationPolicy("Background"), client.Preconditions{UID: &uid})
			r.workloadWrites.Forget(uid)
			if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
				errs = append(errs, fmt.Errorf("deleting %s: %w", manifests.Describe(ref), err))
			}
		}
		remaining = append(remaining, ref)
	}
	return remaining, kerrors.NewAggregate(errs)
}

// claimNamespace reads the target namespace. One that does not exist is to be created
// (create true); one that exists is applied into only when drover created it for the
// Prod's namespace, or a platform team handed it over so (namespaceUsable). Otherwise the
// apply is refused (refused true, Applied False with reason NotOwned): a Prod must not
// put its objects into kube-system or another team's namespace.
func (r *Reconciler) claimNamespace(ctx context.Context, s *scope) (create bool, res ctrl.Result, refused bool, err error) {
	ns := &corev1.Namespace{}
	err = r.getNamespace(ctx, s, s.prod.Spec.TargetNamespace, ns)
	switch {
	case apierrors.IsNotFound(err):
		return true, ctrl.Result{}, false, nil
	case err != nil:
		res, err = r.failedRequest(s, droverv1.ProdApplyFailedReason, fmt.Errorf("reading namespace %s: %w", s.prod.Spec.TargetNamespace, err))
		return false, res, true, err
	}
	if res, refused := r.refuseNamespace(ctx, s, ns); refused {
		return false, res, true, nil
	}
	return false, ctrl.Result{}, false, nil
}

// getNamespace reads a workload namespace from the cluster's cache of namespaces, or
// live when there is no cache or it does not answer in time. A namespace the cache does
// not hold yet is created and found to exist (createNamespace); one deleted that it still
// holds fails the apply, which is tried again.
//
// A namespace drover created less than createdFor ago that the cache does not hold yet
// is the one drover created (createdNamespaces), not read again: the cache holding one
// of that name, drover's or one made again by someone else, is what counts.
func (r *Reconciler) getNamespace(ctx context.Context, s *scope, name string, ns *corev1.Namespace) error {
	if s.cached != nil {
		cctx, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
		err := s.cached.Get(cctx, client.ObjectKey{Name: name}, ns)
		cancel()
		if err == nil {
			r.namespaces.forget(s.clusterKey, name)
			return nil
		}
		if r.namespaces.get(s.clusterKey, name, ns, r.Now()) {
			return nil
		}
		if apierrors.IsNotFound(err) {
			return err
		}
	} else if r.namespaces.get(s.clusterKey, name, ns, r.Now()) {
		return nil
	}
	return s.admin.Get(ctx, client.ObjectKey{Name: name}, ns)
}

// createNamespace creates the target namespace, marked as drover's and as usable by the
// Prods of the Prod's namespace. One created by someone else in the meantime is judged
// as claimNamespace judges an existing one. drover never deletes a namespace.
func (r *Reconciler) createNamespace(ctx context.Context, s *scope) (ctrl.Result, bool, error) {
	name := s.prod.Spec.TargetNamespace
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        name,
		Labels:      map[string]string{droverv1.ManagedByLabel: droverv1.FieldManager},
		Annotations: map[string]string{droverv1.OwnerNamespaceAnnotation: s.prod.Namespace},
	}}
	err := s.admin.Create(ctx, ns)
	if err == nil {
		s.createdNamespace = true
		r.namespaces.remember(s.clusterKey, ns, r.Now())
		return ctrl.Result{}, false, nil
	}
	if !apierrors.IsAlreadyExists(err) {
		res, err := r.failedRequest(s, droverv1.ProdApplyFailedReason, fmt.Errorf("creating namespace %s: %w", name, err))
		return res, true, err
	}
	if err := s.admin.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		res, err := r.failedRequest(s, droverv1.ProdApplyFailedReason, fmt.Errorf("reading namespace %s: %w", name, err))
		return res, true, err
	}
	res, refused := r.refuseNamespace(ctx, s, ns)
	return res, refused, nil
}

// refuseNamespace refuses the apply (true, Applied False with reason NotOwned) when the
// existing target namespace is not the Prod's to use: the tenancy decides whose
// namespaces it shares (its own namespace's, those of the other namespaces of its Tenant).
func (r *Reconciler) refuseNamespace(ctx context.Context, s *scope, ns *corev1.Namespace) (ctrl.Result, bool) {
	if namespaceUsable(ns, func(owner string) bool { return s.policy.SharesTargetNamespaces(owner, r.tenantOf(ctx)) }) {
		return ctrl.Result{}, false
	}
	s.applyReason = droverv1.ProdNotOwnedReason
	s.applyErr = fmt.Errorf("namespace %s exists and was not created by drover for namespace %s; "+
		"a platform team hands it over with the annotation %s=%s on it, or choose another spec.targetNamespace",
		ns.Name, s.prod.Namespace, droverv1.OwnerNamespaceAnnotation, s.prod.Namespace)
	return ctrl.Result{RequeueAfter: r.ProgressInterval}, true
}

// namespaceUsable reports whether Prods may apply into an existing workload namespace:
// when mayUse accepts the control-plane namespace its owner-namespace annotation names
// (set by drover on the namespaces it creates, or by a platform team to hand one over;
// "" when there is none).
func namespaceUsable(ns *corev1.Namespace, mayUse func(ownerNamespace string) bool) bool {
	return mayUse(ns.Annotations[droverv1.OwnerNamespaceAnnotation])
}

// tenantOf gives a control-plane namespace's tenant label ("" when it has none or cannot
// be read: then it shares nothing).
func (r *Reconciler) tenantOf(ctx context.Context) func(string) string {
	return func(namespace string) string {
		ns := &corev1.Namespace{}
		if err := r.Client.Get(ctx, client.ObjectKey{Name: namespace}, ns); err != nil {
			return ""
		}
		return ns.Labels[droverv1.TenantLabel]
	}
}

// refusedOnly says whether an apply stopped for reason wrote nothing for the object it
// stopped at: the workload cluster's RBAC refused the request, or the object is not the
// Prod's to take.
func refusedOnly(reason string) bool {
	return reason == droverv1.ProdNotPermittedReason || reason == droverv1.ProdNotOwnedReason ||
		reason == droverv1.ProdOwnershipConflictReason
}

// failedRequest records a failed workload request. A failure to reach the API server
// turns the cluster unreachable; anything else is the Applied condition's business.
func (r *Reconciler) failedRequest(s *scope, reason string, err error) (ctrl.Result, error) {
	if workload.IsUnreachable(err) {
		s.reachable = reachability{reason: droverv1.ProdClusterRequestFailedReason,
			message: fmt.Sprintf("request to Cluster %s failed: %v", s.clusterKey, err)}
		s.workload = nil
		return ctrl.Result{RequeueAfter: r.UnreachableInterval}, nil
	}
	if apierrors.IsForbidden(err) {
		// The workload cluster's RBAC refused the identity the Prod acts as: the
		// platform team's last line, reported like drover's own refusals.
		s.applyReason, s.applyErr = droverv1.ProdNotPermittedReason, err
		return ctrl.Result{RequeueAfter: r.ProgressInterval}, nil
	}
	s.applyReason, s.applyErr = reason, err
	return ctrl.Result{}, err
}

func (r *Reconciler) event(prod *droverv1.Prod, eventType, reason, action, format string, args ...any) {
	if r.Recorder != nil {
		r.Recorder.Eventf(prod, nil, eventType, reason, action, format, args...)
	}
}
