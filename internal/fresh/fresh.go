// Package fresh reads an object from the manager's cache unless the cache may be older
// than this manager's own last write of it.
//
// A reconcile that starts from a cached copy older than the previous reconcile's write
// would redo what that one did, or leave its write standing when it should change it
// (the ProdSet's status is its rollout's memory; a Prod's status is patched only where
// it differs from what was read). Reading every object from the API server on every
// reconcile avoids that at one GET per reconcile: at 2,000 Prods, most of a resync's
// requests. Reads records the resourceVersion each write of this manager left, and reads
// from the API server only when the cached copy is not that version; after a restart
// there is no such write and the cache, listed at start, is read.
package fresh

import (
	"context"
	"sync"

	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reads reads objects of one kind fresh enough for a reconcile.
type Reads struct {
	// Cache is the manager's cached client; Live reads the API server.
	Cache, Live client.Reader

	mu      sync.Mutex
	written map[types.UID]string
}

// Get reads key into obj: from the cache when it holds the version this manager last
// wrote (or this manager never wrote it), else from the API server.
func (r *Reads) Get(ctx context.Context, key client.ObjectKey, obj client.Object) error {
	if err := r.Cache.Get(ctx, key, obj); err != nil {
		return err
	}
	r.mu.Lock()
	want, wrote := r.written[obj.GetUID()]
	r.mu.Unlock()
	if !wrote || (want != "" && want == obj.GetResourceVersion()) {
		return nil
	}
	cached := obj.GetResourceVersion()
	if err := r.Live.Get(ctx, key, obj); err != nil {
		return err
	}
	if obj.GetResourceVersion() == cached {
		r.Wrote(obj) // the cache holds the latest: read it from now on
	}
	return nil
}

// Wrote records the version a write of this manager left (obj as the write returned it).
func (r *Reads) Wrote(obj client.Object) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[types.UID]string{}
	}
	r.written[obj.GetUID()] = obj.GetResourceVersion()
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
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.written == nil {
		r.written = map[types.UID]string{}
	}
	r.written[obj.GetUID()] = ""
}
