// Package statuspatch writes an object's status, conditions included, in one request
// when that is all that changed, and otherwise through Cluster API's patch helper with
// its conditions last.
//
// The patch helper writes an object's conditions apart from the rest of it, each in a
// request of its own. Between the two the API server holds a version whose conditions
// speak of status that is not there yet: a Prod with MirrorSynced=True and no
// status.endpoint. A client that waits for the condition and then reads the field
// (kubectl wait, then a jsonpath) can read that version, and so can every controller
// watching the object. Helper never stores such a version:
//
//   - When only the status changed (the common case: a reconcile's verdicts), it is
//     written in one merge patch of the status subresource, conditions and all, with the
//     version read as precondition: the conditions land with the status they describe,
//     and the list of conditions replaces one nobody changed since it was read. Nothing
//     changed, nothing is written.
//   - When another writer got there first (a conflict), or the metadata or spec changed
//     too, it falls back to the patch helper, which merges with the other writer's
//     changes, writing the rest first and the conditions last, so every stored version's
//     conditions describe status stored with or before them. The conditions' write
//     starts from the response of the write before it, not from a read.
package statuspatch

import (
	"context"
	"encoding/json"
	"reflect"

	jsonpatch "github.com/evanphx/json-patch/v5"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/cluster-api/util/conditions"
	"sigs.k8s.io/cluster-api/util/patch"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/fresh"
)

// Object is an object with metav1 conditions.
type Object interface {
	client.Object
	conditions.Setter
}

// Helper is Cluster API's patch helper writing the conditions last.
type Helper struct {
	live   client.Reader
	rec    *fresh.Recorder
	h      *patch.Helper
	before []metav1.Condition
	// base is the object as read, for the one-request write.
	base client.Object
}

// NewHelper is patch.NewHelper for obj, as read, writing through rec (which it makes keep
// its last write's response: the conditions' write starts from it). live, if not nil, is
// where the conditions' write reads the object again when another writer got there first
// (the API server, not a cache that may not have caught up). Helpers of one object may
// share a Recorder.
func NewHelper(obj Object, rec *fresh.Recorder, live client.Reader) (*Helper, error) {
	rec.KeepLast = true
	h, err := patch.NewHelper(obj, rec)
	if err != nil {
		return nil, err
	}
	return &Helper{live: live, rec: rec, h: h, before: clone(obj.GetConditions()), base: obj.DeepCopyObject().(client.Object)}, nil
}

// Patch writes what changed in obj since it was read: metadata, spec and status other
// than the conditions first, then the conditions, with the patch helper's options.
func (h *Helper) Patch(ctx context.Context, obj Object, opts ...patch.Option) error {
	if done, err := h.patchStatus(ctx, obj, opts); done {
		return err
	}
	after := clone(obj.GetConditions())
	if reflect.DeepEqual(after, h.before) {
		return h.h.Patch(ctx, obj, opts...)
	}
	obj.SetConditions(clone(h.before))
	err := h.h.Patch(ctx, obj, opts...)
	if err != nil {
		obj.SetConditions(after)
		return err
	}
	// The conditions' write applies their changes to the latest version, which the write
	// just made returned; a later one (another writer's) is read from live.
	c := &readsLast{Client: h.rec, key: client.ObjectKeyFromObject(obj), last: h.rec.Last(), live: h.live}
	second, err := patch.NewHelper(obj, c)
	obj.SetConditions(after)
	if err != nil {
		return err
	}
	return second.Patch(ctx, obj, opts...)
}

// patchStatus writes obj's status, conditions included, in one merge patch of the status
// subresource that names the version read (a conflict when another writer got there
// first), when nothing but the status changed; nothing when nothing changed. done false
// leaves the write to the patch helper: the metadata or spec changed, or another writer
// wrote since the object was read. obj is not changed: the Recorder keeps the response.
func (h *Helper) patchStatus(ctx context.Context, obj Object, opts []patch.Option) (done bool, _ error) {
	options := &patch.HelperOptions{}
	for _, o := range opts {
		o.ApplyToHelper(options)
	}
	before, err := json.Marshal(h.base)
	if err != nil {
		return false, nil
	}
	after, err := json.Marshal(obj)
	if err != nil {
		return false, nil
	}
	data, err := jsonpatch.CreateMergePatch(before, after)
	if err != nil {
		return false, nil
	}
	var changes map[string]any
	if err := json.Unmarshal(data, &changes); err != nil {
		return false, nil
	}
	if len(changes) == 0 {
		return true, nil
	}
	status, ok := changes["status"].(map[string]any)
	if !ok || len(changes) != 1 {
		return false, nil
	}
	if options.IncludeStatusObservedGeneration {
		status["observedGeneration"] = obj.GetGeneration()
	}
	changes["metadata"] = map[string]any{"resourceVersion": h.base.GetResourceVersion()}
	if data, err = json.Marshal(changes); err != nil {
		return false, nil
	}
	out := obj.DeepCopyObject().(client.Object)
	err = h.rec.Status().Patch(ctx, out, client.RawPatch(types.MergePatchType, data))
	if apierrors.IsConflict(err) {
		return false, nil
	}
	return true, err
}

// readsLast answers the first Get of the object with the response of the write before
// (nil when nothing was written: then the client reads it), and later ones from live.
type readsLast struct {
	client.Client
	key  client.ObjectKey
	last client.Object
	live client.Reader
	read bool
}

func (r *readsLast) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	first := !r.read
	r.read = true
	switch {
	case first && r.last != nil && key == r.key && reflect.TypeOf(obj) == reflect.TypeOf(r.last):
		reflect.ValueOf(obj).Elem().Set(reflect.ValueOf(r.last.DeepCopyObject()).Elem())
		return nil
	case first && r.last == nil, r.live == nil:
		return r.Client.Get(ctx, key, obj, opts...)
	}
	return r.live.Get(ctx, key, obj, opts...)
}

func clone(cs []metav1.Condition) []metav1.Condition {
	if cs == nil {
		return nil
	}
	out := make([]metav1.Condition, len(cs))
	copy(out, cs)
	return out
}
