// Package releasediff computes ReleaseDiffs: what a candidate template of a ProdSet would
// change on each of its Prods' workload clusters. For each Prod the candidate is rendered
// as the Prod controller renders it, checked by the same tenancy, and each object the Prod
// may apply is applied with the API server's server-side dry-run, as the identity the
// Prod applies as, and compared with the live object. Nothing is written to a workload
// cluster. A ReleaseDiff is computed once (its spec is immutable) and deleted a while
// after it completed.
package releasediff

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/controllers/prodset"
	"github.com/drover-dev/drover/internal/ready"
	tenancyread "github.com/drover-dev/drover/internal/tenancy/read"
	"github.com/drover-dev/drover/internal/workload"
)

// ControllerName names the controller.
const ControllerName = "releasediff"

// Bounds of the work and of the status.
const (
	// DefaultTTL is how long a completed ReleaseDiff is kept.
	DefaultTTL = 10 * time.Minute
	// DefaultTimeout bounds the computation of one ReleaseDiff.
	DefaultTimeout = 2 * time.Minute
	// DefaultPerNamespace is how many ReleaseDiffs of one namespace are computed at once;
	// the others wait (Reconciling, Queued).
	DefaultPerNamespace = 2
	// maxStatusDiffBytes bounds the diffs and messages of one ReleaseDiff together; past
	// it, objects are listed without their diff and with short messages
	// (status.truncated).
	maxStatusDiffBytes = 256 << 10
	// maxObjects bounds the objects one ReleaseDiff lists; past it, the remaining Prods
	// are not diffed (status.truncated, and a message on each).
	maxObjects = 1000
	// maxMessage bounds a message copied from an API server's answer (the CRD's limit).
	maxMessage = 1024
	// shortMessage is what is kept of an object's message once the diffs' budget is spent.
	shortMessage = 128
)

// Reconciler computes ReleaseDiffs.
type Reconciler struct {
	Client       client.Client
	ClusterCache clustercache.ClusterCache
	// SingleTeam turns tenancy off, as for the Prod controller.
	SingleTeam bool
	// TTL is how long a completed ReleaseDiff is kept; defaults to DefaultTTL.
	TTL time.Duration
	// PerNamespace bounds the ReleaseDiffs of a namespace computed at once; defaults to
	// DefaultPerNamespace.
	PerNamespace int
	// Timeout bounds the computation of one ReleaseDiff, so that slow workload clusters
	// cannot hold a worker; what is not read by then is reported as not reachable.
	// Defaults to DefaultTimeout.
	Timeout time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	impersonators workload.Impersonators
	mu            sync.Mutex
	inFlight      map[string]int
}

// +kubebuilder:rbac:groups=drover.dev,resources=releasediffs,verbs=get;list;watch;delete
// +kubebuilder:rbac:groups=drover.dev,resources=releasediffs/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=drover.dev,resources=prodsets;prods,verbs=get;list;watch
// +kubebuilder:rbac:groups=cluster.x-k8s.io,resources=clusters,verbs=get;list;watch
// +kubebuilder:rbac:groups=drover.dev,resources=tenants,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// SetupWithManager registers the controller.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager, options controller.Options) error {
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
	if r.PerNamespace == 0 {
		r.PerNamespace = DefaultPerNamespace
	}
	if r.Timeout == 0 {
		r.Timeout = DefaultTimeout
	}
	if r.Now == nil {
		r.Now = time.Now
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		For(&droverv1.ReleaseDiff{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(options).
		Complete(r)
}

// Reconcile computes a ReleaseDiff once, and deletes it TTL after it completed.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	d := &droverv1.ReleaseDiff{}
	if err := r.Client.Get(ctx, req.NamespacedName, d); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if d.Status.CompletedTime != nil {
		return r.expire(ctx, d)
	}
	if !r.acquire(d.Namespace) {
		return r.queued(ctx, d)
	}
	defer r.release(d.Namespace)

	before := d.DeepCopy()
	cctx, cancel := context.WithTimeout(ctx, r.Timeout)
	d.Status = r.compute(cctx, d)
	cancel()
	d.Status.ObservedGeneration = d.Generation
	now := metav1.NewTime(r.Now())
	d.Status.CompletedTime = &now
	if err := r.Client.Status().Patch(ctx, d, client.MergeFrom(before)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{RequeueAfter: r.TTL}, nil
}

// expire deletes a completed ReleaseDiff once its TTL is over.
func (r *Reconciler) expire(ctx context.Context, d *droverv1.ReleaseDiff) (ctrl.Result, error) {
	if left := d.Status.CompletedTime.Add(r.TTL).Sub(r.Now()); left > 0 {
		return ctrl.Result{RequeueAfter: left}, nil
	}
	uid := d.UID
	err := r.Client.Delete(ctx, d, client.Preconditions{UID: &uid})
	return ctrl.Result{}, client.IgnoreNotFound(err)
}

// queued says the ReleaseDiff waits for the diffs of its namespace ahead of it.
func (r *Reconciler) queued(ctx context.Context, d *droverv1.ReleaseDiff) (ctrl.Result, error) {
	before := d.DeepCopy()
	d.Status.ObservedGeneration = d.Generation
	ready.Apply(&d.Status.Conditions, d.Generation, ready.Verdict{Reconciling: true, Reason: droverv1.ReleaseDiffQueuedReason,
		Message: fmt.Sprintf("waiting: %d ReleaseDiffs of namespace %s are being computed", r.PerNamespace, d.Namespace)}, "")
	if err := r.Client.Status().Patch(ctx, d, client.MergeFrom(before)); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
}

// acquire takes one of the namespace's places, false when they are all taken.
func (r *Reconciler) acquire(namespace string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inFlight == nil {
		r.inFlight = map[string]int{}
	}
	if r.inFlight[namespace] >= r.PerNamespace {
		return false
	}
	r.inFlight[namespace]++
	return true
}

func (r *Reconciler) release(namespace string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.inFlight[namespace]--; r.inFlight[namespace] <= 0 {
		delete(r.inFlight, namespace)
	}
}

// compute is the ReleaseDiff's status: the diff of each Prod of its set, with Ready (and
// Stalled when the diff cannot be made at all).
func (r *Reconciler) compute(ctx context.Context, d *droverv1.ReleaseDiff) droverv1.ReleaseDiffStatus {
	st := droverv1.ReleaseDiffStatus{Conditions: d.Status.Conditions}
	stall := func(reason, msg string) droverv1.ReleaseDiffStatus {
		ready.Apply(&st.Conditions, d.Generation, ready.Verdict{Stalled: true, Reason: reason, Message: msg}, "")
		return st
	}
	set := &droverv1.ProdSet{}
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: d.Namespace, Name: d.Spec.ProdSet}, set); err != nil {
		if apierrors.IsNotFound(err) {
			return stall(droverv1.ReleaseDiffProdSetNotFoundReason, fmt.Sprintf("ProdSet %s does not exist in namespace %s", d.Spec.ProdSet, d.Namespace))
		}
		return stall(droverv1.ReleaseDiffComputingReason, fmt.Sprintf("reading ProdSet %s: %v", d.Spec.ProdSet, err))
	}
	template := &set.Spec.Template
	if d.Spec.Template != nil {
		template = d.Spec.Template
	}
	st.Revision = prodset.Revision(template)

	policy, err := tenancyread.Policy(ctx, r.Client, d.Namespace, r.SingleTeam)
	if err != nil {
		return stall(droverv1.ReleaseDiffComputingReason, err.Error())
	}
	prods := &droverv1.ProdList{}
	if err := r.Client.List(ctx, prods, client.InNamespace(d.Namespace), client.MatchingLabels{droverv1.ProdSetNameLabel: set.Name}); err != nil {
		return stall(droverv1.ReleaseDiffComputingReason, fmt.Sprintf("listing the Prods of ProdSet %s: %v", set.Name, err))
	}
	items := prods.Items
	sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })

	b := &budget{diffBytes: maxStatusDiffBytes, objects: maxObjects}
	p := previewer{client: r.Client, clusterCache: r.ClusterCache, impersonators: &r.impersonators, policy: policy}
	for i := range items {
		prod := &items[i]
		if !metav1.IsControlledBy(prod, set) {
			continue // a Prod labelled with the set's name that the set did not make
		}
		pd := droverv1.ReleaseDiffProd{Name: prod.Name, Cluster: prod.Spec.ClusterRef.Name, Revision: prod.Labels[droverv1.RevisionLabel]}
		if b.objects <= 0 {
			pd.Message = "not diffed: the ReleaseDiff lists as many objects as it may"
			st.Truncated = true
			st.Prods = append(st.Prods, pd)
			continue
		}
		msg, objs := p.preview(ctx, prod, template)
		pd.Message, pd.Objects = clip(msg), objs
		if b.fit(&pd) {
			st.Truncated = true
		}
		st.Prods = append(st.Prods, pd)
	}
	st.Changes = changes(st.Prods)
	msg := summary(st.Prods)
	ready.Apply(&st.Conditions, d.Generation, ready.Verdict{}, msg)
	return st
}

// budget is what is left of the status's bounds.
type budget struct {
	diffBytes int
	objects   int
}

// fit keeps a Prod's diff within the budget: objects past it are dropped, diffs past it
// emptied (each marked diffTruncated) and messages past it cut short. It says whether
// anything was left out.
func (b *budget) fit(pd *droverv1.ReleaseDiffProd) (truncated bool) {
	if len(pd.Objects) > b.objects {
		pd.Objects = pd.Objects[:b.objects]
		truncated = true
	}
	b.objects -= len(pd.Objects)
	for i := range pd.Objects {
		o := &pd.Objects[i]
		if len(o.Message) > b.diffBytes && len(o.Message) > shortMessage {
			o.Message, truncated = o.Message[:shortMessage-3]+"...", true
		}
		b.diffBytes -= len(o.Message)
		if len(o.Diff) > b.diffBytes {
			o.Diff, o.DiffTruncated, truncated = "", true, true
			continue
		}
		b.diffBytes -= len(o.Diff)
		truncated = truncated || o.DiffTruncated
	}
	return truncated
}

// changes says whether the candidate would change anything: an object created, updated,
// deleted or refused, or a Prod that could not be diffed.
func changes(prods []droverv1.ReleaseDiffProd) bool {
	for _, p := range prods {
		if p.Message != "" {
			return true
		}
		for _, o := range p.Objects {
			if o.Action != droverv1.ReleaseDiffUnchanged {
				return true
			}
		}
	}
	return false
}

// summary is the Ready message: what the candidate would do, counted.
func summary(prods []droverv1.ReleaseDiffProd) string {
	if len(prods) == 0 {
		return "the ProdSet has no Prods: there is nothing to diff"
	}
	counts := map[droverv1.ReleaseDiffAction]int{}
	notDiffed := 0
	for _, p := range prods {
		if p.Message != "" {
			notDiffed++
		}
		for _, o := range p.Objects {
			counts[o.Action]++
		}
	}
	msg := fmt.Sprintf("%d Prods diffed: %d to create, %d to update, %d to delete, %d unchanged, %d refused",
		len(prods)-notDiffed, counts[droverv1.ReleaseDiffCreate], counts[droverv1.ReleaseDiffUpdate],
		counts[droverv1.ReleaseDiffDelete], counts[droverv1.ReleaseDiffUnchanged], counts[droverv1.ReleaseDiffRefused])
	if notDiffed > 0 {
		msg += fmt.Sprintf("; %d Prods could not be diffed", notDiffed)
	}
	return msg
}
