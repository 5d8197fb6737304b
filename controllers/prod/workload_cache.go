package prod

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	kscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/cluster-api/controllers/clustercache"
	ctrl "sigs.k8s.io/controller-runtime"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/manifests"
)

// The workload caches. For each workload cluster the cluster cache keeps, of the kinds
// below, only the objects labelled drover.dev/prod (drover's; anyone who may write them
// can add the label, see workloadToProd and InSync for why that is harmless), each
// stripped by stripWorkload to what drover reads: identity, drover's labels and
// annotations, the spec fields kstatus reads, status, and a hash of drover's managed
// fields instead of managedFields. A kind is listed and watched on a cluster only once a
// Prod there applies it. The caches hold these kinds as their Go types, not as
// unstructured objects, so that their lists and watches come as protobuf: decoding the
// watches' JSON was the largest part of a resync's CPU. A read converts the stripped copy
// to the unstructured form the reconcile judges (asUnstructured). A Prod's object of another kind (or of another version of one of
// these kinds) is applied on every reconcile, as before the caches: it would take an
// unrestricted watch of the kind to compare it.
//
// Secrets are not cached: that would take a right to list and watch every Secret of the
// cluster (RBAC cannot restrict a list by label), which drover does not otherwise need.
//
// Namespaces are cached whole (a cluster has few), stripped to their name, UID and the
// label and annotation drover reads, so the target namespace is not read per reconcile.
var cachedWorkloadKinds = []schema.GroupVersionKind{
	{Version: "v1", Kind: "ConfigMap"},
	{Version: "v1", Kind: "Service"},
	{Version: "v1", Kind: "ServiceAccount"},
	{Group: "apps", Version: "v1", Kind: "Deployment"},
	{Group: "apps", Version: "v1", Kind: "StatefulSet"},
	{Group: "apps", Version: "v1", Kind: "DaemonSet"},
	{Group: "batch", Version: "v1", Kind: "CronJob"},
	{Group: "policy", Version: "v1", Kind: "PodDisruptionBudget"},
	{Group: "networking.k8s.io", Version: "v1", Kind: "Ingress"},
	{Group: "autoscaling", Version: "v2", Kind: "HorizontalPodAutoscaler"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "Role"},
	{Group: "rbac.authorization.k8s.io", Version: "v1", Kind: "RoleBinding"},
}

// cacheSyncTimeout bounds the wait for a workload cache to list a kind the first time
// (RBAC may forbid it): the object is then applied as if it were not cached, and the
// kind is not read from that cluster's cache again for uncachedFor.
const (
	cacheSyncTimeout = 15 * time.Second
	uncachedFor      = 10 * time.Minute
)

// unsynced remembers the kinds whose cache did not answer on a cluster, and when.
type unsynced struct {
	mu    sync.Mutex
	since map[unsyncedKey]time.Time
}

type unsyncedKey struct {
	cluster client.ObjectKey
	gvk     schema.GroupVersionKind
}

func (u *unsynced) recent(k unsyncedKey, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	t, ok := u.since[k]
	return ok && now.Sub(t) < uncachedFor
}

func (u *unsynced) mark(k unsyncedKey, now time.Time) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.since == nil {
		u.since = map[unsyncedKey]time.Time{}
	}
	u.since[k] = now
}

// cached says whether objects of gvk are read from the workload caches. Only these may
// be: a read of any other kind through the cached reader would start an unrestricted
// watch of it.
func cached(gvk schema.GroupVersionKind) bool {
	return slices.Contains(cachedWorkloadKinds, gvk)
}

// cachedTypes maps the Go type of each cached kind to its kind: the transform sets it on
// the copy it keeps, which the watches' handlers read (a typed object decoded from the
// API server has none).
var cachedTypes = func() map[reflect.Type]schema.GroupVersionKind {
	m := make(map[reflect.Type]schema.GroupVersionKind, len(cachedWorkloadKinds))
	for _, gvk := range cachedWorkloadKinds {
		m[reflect.TypeOf(newCached(gvk))] = gvk
	}
	return m
}()

// newCached is an empty object of the Go type of gvk, one of cachedWorkloadKinds.
func newCached(gvk schema.GroupVersionKind) client.Object {
	obj, err := kscheme.Scheme.New(gvk)
	if err != nil {
		panic(fmt.Sprintf("cached workload kind %s has no Go type: %v", gvk, err))
	}
	return obj.(client.Object)
}

// WorkloadCacheOptions restricts what the cluster cache keeps of each workload cluster to
// what the Prod controller reads: drover's objects of the cached kinds, and namespaces,
// each stripped (see cachedWorkloadKinds). Any other type read through a workload cache
// (the Prod controller reads none) is kept without its managedFields.
func WorkloadCacheOptions() clustercache.CacheOptions {
	owned, _ := labels.Parse(droverv1.ProdNameLabel)
	by := map[client.Object]ctrlcache.ByObject{
		&corev1.Namespace{}: {Transform: stripNamespace},
	}
	for _, gvk := range cachedWorkloadKinds {
		by[newCached(gvk)] = ctrlcache.ByObject{Label: owned, Transform: stripWorkload}
	}
	return clustercache.CacheOptions{ByObject: by, DefaultTransform: ctrlcache.TransformStripManagedFields()}
}

// keptSpec are the spec fields kstatus reads to judge a workload object (manifests.Assess).
var keptSpec = []string{"replicas", "updateStrategy", "progressDeadlineSeconds", "parallelism", "completions", "type", "clusterIP"}

// keptLabels are the labels drover reads (manifests.Owns, ProdOf).
var keptLabels = []string{droverv1.ProdUIDLabel, droverv1.ProdNameLabel, droverv1.ProdNamespaceLabel, droverv1.ManagedByLabel}

// stripWorkload is the transform of the cached workload kinds: it keeps what drover reads
// of an object and replaces its managedFields with manifests.FieldsKey, the hash of
// drover's entry, which no API server returns (see FieldsKey). An object already
// stripped (client-go may transform an object twice: a watch's initial list is
// transformed into a temporary store, then again into the cache) keeps its hash. The
// cache's objects are typed (stripTyped); an unstructured one is a write's response kept
// as the cache would hold it (wrote), in the form a read returns (asUnstructured). An
// object of another type passes with its managedFields removed.
func stripWorkload(in any) (any, error) {
	u, ok := in.(*unstructured.Unstructured)
	if !ok {
		if obj, isCached := in.(client.Object); isCached {
			if gvk, isCached := cachedTypes[reflect.TypeOf(obj)]; isCached {
				return stripTyped(obj, gvk), nil
			}
		}
		if obj, err := meta.Accessor(in); err == nil && obj.GetManagedFields() != nil {
			obj.SetManagedFields(nil)
		}
		return in, nil
	}
	// Converting managedFields to their type is most of this transform's cost: once.
	entries := u.GetManagedFields()
	fields := manifests.FieldsHash(entries)
	if entries == nil {
		fields = manifests.CachedFields(u) // stripped before; "" on an object from the API server
	}
	out := &unstructured.Unstructured{Object: map[string]any{"apiVersion": u.GetAPIVersion(), "kind": u.GetKind()}}
	keepMeta(out, u)
	manifests.SetCachedFields(out, fields)
	if spec, ok := u.Object["spec"].(map[string]any); ok {
		kept := map[string]any{}
		for _, k := range keptSpec {
			if v, ok := spec[k]; ok {
				kept[k] = v
			}
		}
		out.Object["spec"] = kept
	}
	if status, ok := u.Object["status"]; ok {
		out.Object["status"] = status
	}
	return out, nil
}

// stripTyped is stripWorkload of a typed object of kind gvk: a new object of its type
// with its identity, drover's labels and annotations, the fields of its spec named in
// keptSpec, its status, and the hash of drover's managed fields (CachedFieldsEntry).
// Every other field (a ConfigMap's data, a Deployment's pod template, a Role's rules) is
// left out. The status and kept fields are shared with in, which the cache gives up.
func stripTyped(in client.Object, gvk schema.GroupVersionKind) client.Object {
	fields := manifests.CachedFields(in) // stripped before
	if fields == "" {
		fields = manifests.FieldsHash(in.GetManagedFields())
	}
	src := reflect.ValueOf(in).Elem()
	dst := reflect.New(src.Type())
	if spec := src.FieldByName("Spec"); spec.IsValid() && spec.Kind() == reflect.Struct {
		kept := dst.Elem().FieldByName("Spec")
		for i := range spec.NumField() {
			name, _, _ := strings.Cut(spec.Type().Field(i).Tag.Get("json"), ",")
			if slices.Contains(keptSpec, name) {
				kept.Field(i).Set(spec.Field(i))
			}
		}
	}
	if status := src.FieldByName("Status"); status.IsValid() {
		dst.Elem().FieldByName("Status").Set(status)
	}
	out := dst.Interface().(client.Object)
	out.GetObjectKind().SetGroupVersionKind(gvk)
	keepMeta(out, in)
	out.SetManagedFields(manifests.CachedFieldsEntry(fields))
	return out
}

// keepMeta sets on out what the workload caches keep of in's metadata: its identity,
// version, generation, deletion time, drover's labels and drover's annotation.
func keepMeta(out, in metav1.Object) {
	out.SetNamespace(in.GetNamespace())
	out.SetName(in.GetName())
	out.SetUID(in.GetUID())
	out.SetResourceVersion(in.GetResourceVersion())
	out.SetGeneration(in.GetGeneration())
	out.SetDeletionTimestamp(in.GetDeletionTimestamp())
	out.SetLabels(keep(in.GetLabels(), func(k string) bool { return slices.Contains(keptLabels, k) }))
	out.SetAnnotations(keep(in.GetAnnotations(), func(k string) bool { return k == droverv1.ProdRefAnnotation }))
}

// asUnstructured is a typed cached object (stripTyped) in the form stripWorkload gives an
// unstructured one, which the reconcile judges (manifests.InSync, manifests.Assess): the
// object converted, its hash moved to the top-level key, then stripped as any
// unstructured copy is. It takes obj's managedFields (the hash) away: obj is a copy the
// caller gives up.
func asUnstructured(obj client.Object) (*unstructured.Unstructured, error) {
	fields := manifests.CachedFields(obj)
	obj.SetManagedFields(nil)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, err
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetGroupVersionKind(obj.GetObjectKind().GroupVersionKind())
	manifests.SetCachedFields(u, fields)
	out, err := stripWorkload(u)
	if err != nil {
		return nil, err
	}
	return out.(*unstructured.Unstructured), nil
}

// stripNamespace keeps a namespace's name, UID and what refuseNamespace reads.
func stripNamespace(in any) (any, error) {
	ns, ok := in.(*corev1.Namespace)
	if !ok {
		return in, nil
	}
	out := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name: ns.Name, UID: ns.UID, ResourceVersion: ns.ResourceVersion, DeletionTimestamp: ns.DeletionTimestamp,
		Labels:      keep(ns.Labels, func(k string) bool { return k == droverv1.ManagedByLabel }),
		Annotations: keep(ns.Annotations, func(k string) bool { return k == droverv1.OwnerNamespaceAnnotation }),
	}}
	return out, nil
}

func keep(m map[string]string, want func(string) bool) map[string]string {
	var out map[string]string
	for k, v := range m {
		if want(k) {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

var _ toolscache.TransformFunc = stripWorkload

// readCached reads o's live counterpart from the cluster's workload cache, starting (and
// waiting for) the cache's watch of the kind the first time, and makes changes of the
// kind's objects wake their Prods. A cached copy older than drover's last write of the
// object is replaced by that write's response (workloadWrites). It returns nil when the
// cache holds no such object or cannot tell (not a cached kind, no reader, the cache not
// synced in time, a copy of a version it cannot compare): the object is then read from
// the cluster to be claimed, and applied.
func (r *Reconciler) readCached(ctx context.Context, s *scope, o *unstructured.Unstructured) *unstructured.Unstructured {
	gvk := o.GroupVersionKind()
	key := unsyncedKey{cluster: s.clusterKey, gvk: gvk}
	if s.cached == nil || !cached(gvk) || r.unsynced.recent(key, r.Now()) {
		return nil
	}
	r.watchKind(ctx, s, gvk)
	live := newCached(gvk)
	cctx, cancel := context.WithTimeout(ctx, cacheSyncTimeout)
	defer cancel()
	if err := s.cached.Get(cctx, client.ObjectKeyFromObject(o), live); err != nil {
		if !apierrors.IsNotFound(err) {
			ctrl.LoggerFrom(ctx).Info("the workload cache of a kind did not answer; its objects are applied on every reconcile for a while",
				"kind", gvk.String(), "cluster", s.clusterKey.String(), "for", uncachedFor, "error", err.Error())
			if ctx.Err() == nil {
				r.unsynced.mark(key, r.Now())
			}
		}
		return nil
	}
	// A copy older than drover's own last write of the object (the watch has not
	// delivered it yet, as right after an apply) would be judged out of sync and applied
	// again: the write's response stands in for it.
	switch current, kept := r.workloadWrites.Judge(live); {
	case current:
		u, err := asUnstructured(live)
		if err != nil {
			ctrl.LoggerFrom(ctx).Error(err, "converting a cached workload object", "kind", gvk.String())
			return nil
		}
		return u
	case kept != nil:
		return kept.(*unstructured.Unstructured)
	}
	return nil
}

// watchKind makes changes of drover's objects of gvk on the Prod's cluster wake their
// Prods (workloadToProd): drift is corrected as soon as it is seen, and a rollout's
// progress is followed. The watch shares the cache's informer of the kind. One that
// cannot start is retried on the next reconcile; progress is polled anyway.
func (r *Reconciler) watchKind(ctx context.Context, s *scope, gvk schema.GroupVersionKind) {
	if r.controller == nil || !cached(gvk) {
		return
	}
	kind := newCached(gvk)
	err := r.ClusterCache.Watch(ctx, s.clusterKey, clustercache.NewWatcher(clustercache.WatcherOptions{
		Name:    fmt.Sprintf("%s-watch-%s", ControllerName, strings.ToLower(gvk.Kind+"."+gvk.Version+"."+gvk.Group)),
		Watcher: r.controller,
		Kind:    kind,
		EventHandler: workloadHandler{
			EventHandler: handler.EnqueueRequestsFromMapFunc(r.workloadToProd(s.clusterKey)),
			known:        r.knownToProd,
			echo:         r.workloadWrites.Echo,
			forget:       r.workloadWrites.Forget,
		},
	}))
	if err != nil {
		ctrl.LoggerFrom(ctx).V(4).Info("could not watch workload objects yet", "kind", gvk.String(), "error", err.Error())
	}
}

// workloadHandler wakes the Prod of a workload object that changed (workloadToProd), but
// not for an object that appears exactly as its Prod's inventory records it (known): a
// new watch first lists every object of its kind, and after a restart each Prod would be
// woken again by each of its objects, which its own reconcile has just verified. Nor for
// the echo of drover's own write (echo: a version drover's last write of the object left,
// or an earlier one), which the reconcile that wrote it has seen in the write's response:
// a created object's create, apply and patch would each wake its Prod again. An object
// re-created by someone else, or changed since drover wrote it, still wakes it, and so
// does every deletion.
type workloadHandler struct {
	handler.EventHandler
	known  func(context.Context, client.Object) bool
	echo   func(client.Object) bool
	forget func(types.UID)
}

func (h workloadHandler) Create(ctx context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
	if h.echo(e.Object) || h.known(ctx, e.Object) {
		return
	}
	h.EventHandler.Create(ctx, e, q)
}

func (h workloadHandler) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
	if h.echo(e.ObjectNew) {
		return
	}
	h.EventHandler.Update(ctx, e, q)
}

// Delete forgets drover's writes of the object (gone, or no longer drover's by its
// labels: the cache no longer holds it), so that what is recorded of objects that others
// delete does not grow without bound, and wakes its Prod.
func (h workloadHandler) Delete(ctx context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[ctrl.Request]) {
	if h.forget != nil {
		h.forget(e.Object.GetUID())
	}
	h.EventHandler.Delete(ctx, e, q)
}

// knownToProd says whether o is, as the watch holds it, the object its Prod's inventory
// records drover applied last (manifests.AsApplied).
func (r *Reconciler) knownToProd(ctx context.Context, o client.Object) bool {
	ns, name, isProds := manifests.ProdOf(o)
	if !isProds {
		return false
	}
	prod := &droverv1.Prod{}
	// Read only: the cache's Prod is not copied.
	if err := r.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, prod, client.UnsafeDisableDeepCopy); err != nil {
		return false
	}
	ref, recorded := manifests.Recorded(prod.Status.Inventory, manifests.RefOf(o))
	return recorded && manifests.AsApplied(prod, ref, o)
}
