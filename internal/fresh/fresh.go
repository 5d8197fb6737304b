// Package fresh reads an object from the manager's cache unless the cache may be older
// than this manager's own last write of it.
//
// A reconcile that starts from a cached copy older than the previous reconcile's write
// would redo what that one did, or leave its write standing when it should change it
// (the ProdSet's status is its rollout's memory; a Prod's status is patched only where
// it differs from what was read). Reading every object from the API server on every
// reconcile avoids that at one GET per reconcile: at 2,000 Prods, most of a resync's
// requests. Reads records the resourceVersion each write of this manager left, and reads
// from the API server only when the cached copy is older than that version (and the
// write's response is not kept, KeepWrites); after a restart there is no such write and
// the cache, listed at start, is read.
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

	mu      sync.Mutex
	written map[types.UID]write
}

// write is what Reads knows of this manager's last write of an object.
type write struct {
	// version is the resourceVersion it left, "" when unknown (Unsure).
	version string
	// obj is the write's response (KeepWrites), nil once the cache has caught up.
	obj client.Object
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
	uid := obj.GetUID()
	r.mu.Lock()
	w, wrote := r.written[uid]
	r.mu.Unlock()
	if !wrote {
		return nil
	}
	cached := obj.GetResourceVersion()
	if w.version != "" {
		order, err := resourceversion.CompareResourceVersion(cached, w.version)
		switch {
		case err != nil && cached == w.version, err == nil && order >= 0:
			if w.obj != nil {
				r.caughtUp(uid, w.version)
			}
			return nil
		case err == nil && w.obj != nil && sameType(obj, w.obj):
			// The cache is behind the write, which is the latest version known here.
			reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(w.obj.DeepCopyObject()).Elem())
			return nil
		}
	}
	if err := r.Live.Get(ctx, key, obj); err != nil {
		return err
	}
	if obj.GetResourceVersion() == cached {
		r.record(uid, write{version: cached}) // the cache holds the latest: read it from now on
	}
	return nil
}

// Wrote records the version a write of this manager left (obj as the write returned it).
func (r *Reads) Wrote(obj client.Object) {
	w := write{version: obj.GetResourceVersion()}
	if r.KeepWrites && w.version != "" {
		w.obj = obj.DeepCopyObject().(client.Object)
		w.obj.SetManagedFields(nil) // as the cache keeps it
	}
	r.record(obj.GetUID(), w)
}

// Forget drops what is recorded of an object that is gone.
func (r *Reads) Forget(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.written, uid)
}

// Unsure records that a write of this manager may have left a version it does not know
// (it failed part-way): the object is read from the API server until the next write.
func (r *Reads) Unsure(obj client.Object) {
	r.record(obj.GetUID(), write{})
}

func (r *Reads) record(uid types.UID, w write) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[types.UID]write{}
	}
	r.written[uid] = w
}

// caughtUp drops the kept response of the write of version once the cache holds it.
func (r *Reads) caughtUp(uid types.UID, version string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if w, ok := r.written[uid]; ok && w.version == version && w.obj != nil {
		r.written[uid] = write{version: version}
	}
}

func sameType(a, b client.Object) bool {
	return reflect.TypeOf(a) == reflect.TypeOf(b)
}
