// Package fresh reads an object from the manager's cache unless the cache may be older
// than this manager's own last write of it.
//
// A reconcile that starts from a cached copy older than the previous reconcile's write
// would redo what that one did, or leave its write standing when it should change it
// (the ProdSet's status is its rollout's memory; a Prod's status is patched only where
// it differs from what was read; a workload object found older than drover's apply of
// it would be applied again). Reading every object from the API server on every
// reconcile avoids that at one GET per reconcile: at 2,000 Prods, most of a resync's
// requests. Writes records the resourceVersion each write of this manager left, and the
// write's response while the cache is behind it (Keep); Reads reads from the API server
// only when the cached copy is older than that version and the response is not kept.
// After a restart there is no such write and the cache, listed at start, is read.
package fresh

import (
	"context"
	"reflect"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reads reads objects of one kind fresh enough for a reconcile.
type Reads struct {
	// Cache is the manager's cached client; Live reads the API server.
	Cache, Live client.Reader
	// KeepWrites keeps each write's response until the cache has caught up with it, and
	// reads it instead of the API server meanwhile. For objects that are large and read
	// again right after their write (a ProdSet's status summarises every Prod of the
	// set): a read from the API server costs as much as a write there.
	KeepWrites bool

	writes Writes
}

// Get reads key into obj: from the cache when it holds the version this manager last
// wrote, or a later one, or this manager never wrote it; else the write's response when
// it is kept (KeepWrites); else from the API server. Versions are compared as the API
// server's comparable resourceVersions; when they are not comparable, only the version
// written is recognised.
func (r *Reads) Get(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	if err := r.Cache.Get(ctx, key, obj); err != nil {
		return err
	}
	switch cur, kept := r.writes.Judge(obj); {
	case cur:
		return nil
	case kept != nil && sameType(obj, kept):
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(kept).Elem())
		return nil
	}
	cached := obj.GetResourceVersion()
	if err := r.Live.Get(ctx, key, obj); err != nil {
		return err
	}
	if obj.GetResourceVersion() == cached {
		r.writes.Forget(obj.GetUID()) // the cache holds the latest: read it from now on
	}
	return nil
}

// Wrote records the version a write of this manager left (obj as the write returned it).
func (r *Reads) Wrote(obj client.Object) {
	if !r.KeepWrites {
		r.writes.Wrote(obj, nil)
		return
	}
	kept := obj.DeepCopyObject().(client.Object)
	kept.SetManagedFields(nil) // as the cache keeps it
	r.writes.Wrote(obj, kept)
}

// Forget drops what is recorded of an object that is gone.
func (r *Reads) Forget(uid types.UID) { r.writes.Forget(uid) }

// Unsure records that a write of this manager may have left a version it does not know
// (it failed part-way): the object is read from the API server until the next write.
func (r *Reads) Unsure(obj client.Object) { r.writes.Unsure(obj) }

// Writes remembers, per object (by UID), the resourceVersion this manager's last write
// of it left, and optionally the write's response, until a cache is seen holding that
// version or a later one. An object no write of this manager touched since then is not
// recorded: a cache's copy of it is as fresh as any read.
type Writes struct {
	mu      sync.Mutex
	written map[types.UID]write
}

// write is what Writes knows of this manager's last write of an object.
type write struct {
	// version is the resourceVersion it left, "" when unknown (Unsure).
	version string
	// obj is the write's response as a cache would hold it, when kept.
	obj client.Object
}

// Wrote records the version obj (as a write returned it) has; kept, when not nil, is the
// write's response as the cache would hold it, returned by Judge while the cache is
// behind. kept is not copied: the caller gives it up.
func (w *Writes) Wrote(obj client.Object, kept client.Object) {
	wr := write{version: obj.GetResourceVersion()}
	if wr.version != "" {
		wr.obj = kept
	}
	w.record(obj.GetUID(), wr)
}

// Unsure records that a write of this manager may have left a version it does not know
// (it failed part-way): Judge says no copy is current until the next write.
func (w *Writes) Unsure(obj client.Object) { w.record(obj.GetUID(), write{}) }

// Forget drops what is recorded of an object.
func (w *Writes) Forget(uid types.UID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.written, uid)
}

// Judge says whether cached, a cache's copy of an object, is current: no write of this
// manager is recorded for it, or the copy holds the version the last one left or a later
// one (the record is then dropped). When it is not, kept is a copy of the write's
// response if it was kept and the copy is comparably older, else nil (read the API
// server). Versions are compared as the API server's comparable resourceVersions; when
// they are not comparable, only the version written is recognised.
func (w *Writes) Judge(cached client.Object) (current bool, kept client.Object) {
	uid := cached.GetUID()
	w.mu.Lock()
	defer w.mu.Unlock()
	wr, wrote := w.written[uid]
	if !wrote {
		return true, nil
	}
	if wr.version == "" {
		return false, nil
	}
	v := cached.GetResourceVersion()
	order, err := resourceversion.CompareResourceVersion(v, wr.version)
	switch {
	case err != nil && v == wr.version, err == nil && order >= 0:
		delete(w.written, uid)
		return true, nil
	case err == nil && wr.obj != nil:
		return false, wr.obj.DeepCopyObject().(client.Object)
	}
	return false, nil
}

// Echo says whether obj, as a watch delivered it, is a version this manager's last write
// of it left or an earlier one: the reconcile that wrote it has seen its response.
func (w *Writes) Echo(obj client.Object) bool {
	w.mu.Lock()
	wr, wrote := w.written[obj.GetUID()]
	w.mu.Unlock()
	if !wrote || wr.version == "" {
		return false
	}
	v := obj.GetResourceVersion()
	order, err := resourceversion.CompareResourceVersion(v, wr.version)
	return err == nil && order <= 0 || err != nil && v == wr.version
}

func (w *Writes) record(uid types.UID, wr write) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.written == nil {
		w.written = map[types.UID]write{}
	}
	w.written[uid] = wr
}

func sameType(a, b client.Object) bool {
	return reflect.TypeOf(a) == reflect.TypeOf(b)
}

// Recorder is a client that remembers the resourceVersion its last successful write left
// (Patch, Update, Create, and their status forms). A helper that writes copies of the
// object it is given, as Cluster API's patch helper does, leaves that object at the
// version it was read at; the version to record with Wrote is the Recorder's.
type Recorder struct {
	client.Client
	// KeepLast keeps a copy of the last successful write's response, for Last.
	KeepLast bool

	mu      sync.Mutex
	version string
	last    client.Object
}

// NewRecorder wraps c.
func NewRecorder(c client.Client) *Recorder { return &Recorder{Client: c} }

// Version is the resourceVersion the last successful write through the Recorder left,
// "" when none succeeded.
func (r *Recorder) Version() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.version
}

// Last is the response of the last successful write through the Recorder, nil when none
// succeeded or it was not kept (KeepLast).
func (r *Recorder) Last() client.Object {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last
}

func (r *Recorder) record(obj client.Object, err error) error {
	if err == nil {
		var last client.Object
		if r.KeepLast {
			last = obj.DeepCopyObject().(client.Object)
		}
		r.mu.Lock()
		r.version = obj.GetResourceVersion()
		r.last = last
		r.mu.Unlock()
	}
	return err
}

func (r *Recorder) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	return r.record(obj, r.Client.Create(ctx, obj, opts...))
}

func (r *Recorder) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	return r.record(obj, r.Client.Update(ctx, obj, opts...))
}

func (r *Recorder) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	return r.record(obj, r.Client.Patch(ctx, obj, patch, opts...))
}

// Status is SubResource("status"), as in controller-runtime's client.
func (r *Recorder) Status() client.SubResourceWriter { return r.SubResource("status") }

func (r *Recorder) SubResource(subResource string) client.SubResourceClient {
	return &recordedSubResource{SubResourceClient: r.Client.SubResource(subResource), r: r}
}

type recordedSubResource struct {
	client.SubResourceClient
	r *Recorder
}

func (s *recordedSubResource) Update(ctx context.Context, obj client.Object, opts ...client.SubResourceUpdateOption) error {
	return s.r.record(obj, s.SubResourceClient.Update(ctx, obj, opts...))
}

func (s *recordedSubResource) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.SubResourcePatchOption) error {
	return s.r.record(obj, s.SubResourceClient.Patch(ctx, obj, patch, opts...))
}
