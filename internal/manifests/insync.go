package manifests

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Whether an object must be applied again, without asking the workload cluster.
//
// Server-side apply records, in the object's managedFields, the exact set of fields each
// field manager owns. When anyone else changes a field drover's manager owns (an update,
// kubectl edit, a forced apply of another manager), the API server moves that field to
// the writer or, when it is removed, drops it: drover's entry changes. A change to a
// field drover does not own leaves drover's entry as it was. So an object is in sync
// when the configuration drover would apply is the one it applied last and drover's
// entry still lists the fields it listed right after that apply; both are recorded in the
// Prod's inventory (ObjectReference.Applied) and compared with the live object as the
// workload cluster's watch cache holds it (whose transform keeps only a hash of drover's
// entry, FieldsKey).

// FieldsKey holds, on an object of drover's workload caches only, FieldsHash of the
// object's managedFields, which the cache's transform drops. On an unstructured copy it
// is a top-level key of the object, not an annotation: the cached kinds are built-in, and
// the API server returns only their schema's fields, so no writer on the workload cluster
// can put a value there. On a typed copy (the caches decode the cached kinds from
// protobuf) it is the only managedFields entry, named FieldsKey and with no operation:
// the API server refuses an entry whose operation is neither Apply nor Update, so no such
// entry comes from a workload cluster either (CachedFieldsEntry).
const FieldsKey = "drover.dev/applied-fields"

// CachedFields is the FieldsKey of a cached object, "" when it has none.
func CachedFields(obj metav1.Object) string {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		s, _ := u.Object[FieldsKey].(string)
		return s
	}
	if e := obj.GetManagedFields(); len(e) == 1 && e[0].Manager == FieldsKey && e[0].Operation == "" && e[0].FieldsV1 != nil {
		return e[0].FieldsV1.GetRawString()
	}
	return ""
}

// CachedFieldsEntry is the managedFields of a typed cached object whose FieldsKey is
// fields: one entry no API server returns, or none for "".
func CachedFieldsEntry(fields string) []metav1.ManagedFieldsEntry {
	if fields == "" {
		return nil
	}
	return []metav1.ManagedFieldsEntry{{Manager: FieldsKey, FieldsV1: metav1.NewFieldsV1(fields)}}
}

// SetCachedFields sets (or, for "", removes) the FieldsKey of a cached object.
func SetCachedFields(u *unstructured.Unstructured, fields string) {
	if fields == "" {
		delete(u.Object, FieldsKey)
		return
	}
	u.Object[FieldsKey] = fields
}

// ConfigHash is a hash of the configuration drover applies for obj, a rendered object.
func ConfigHash(obj *unstructured.Unstructured) (string, error) {
	data, err := obj.MarshalJSON() // maps marshal with sorted keys: the same object, the same bytes
	if err != nil {
		return "", err
	}
	return shortHash(data), nil
}

// FieldsHash is a hash of the fields drover's field manager owns on the object itself
// (not a subresource), per managedFields; "" when it owns none. An object drover created
// and has not applied since carries its create's update entry: then the hash covers it
// too and starts with CreatedMark, which tells the next apply of a changed configuration
// to make that entry an apply's first (CreateEntryToApply).
func FieldsHash(entries []metav1.ManagedFieldsEntry) string {
	var apply, update []byte
	for _, e := range entries {
		if e.Manager != droverv1.FieldManager || e.Subresource != "" || e.FieldsV1 == nil {
			continue
		}
		switch e.Operation {
		case metav1.ManagedFieldsOperationApply:
			apply = e.FieldsV1.GetRawBytes()
		case metav1.ManagedFieldsOperationUpdate:
			update = e.FieldsV1.GetRawBytes()
		}
	}
	switch {
	case update != nil:
		data := make([]byte, 0, len(apply)+len(update)+16)
		data = append(append(append(data, "apply:"...), apply...), "\nupdate:"...)
		return CreatedMark + shortHash(append(data, update...))
	case apply != nil:
		return shortHash(apply)
	}
	return ""
}

// CreatedMark starts the FieldsHash of an object on which drover's field manager owns
// fields through an update: its create (a hash is hex, so never starts so).
const CreatedMark = "u"

// Created reports whether an ObjectReference.Applied record is of an object drover's
// field manager owned fields of through an update (its create) when it was recorded.
func Created(applied string) bool {
	parts := strings.Split(applied, ".")
	return len(parts) == 3 && strings.HasPrefix(parts[1], CreatedMark)
}

// AppliedConfig is the ConfigHash an ObjectReference.Applied record was made for.
func AppliedConfig(applied string) string {
	config, _, _ := strings.Cut(applied, ".")
	return config
}

// AppliedRecord is the ObjectReference.Applied of an apply of a configuration whose
// ConfigHash is config and whose response had managedFields entries and generation:
// "<config>.<fields>.<generation>".
func AppliedRecord(config string, entries []metav1.ManagedFieldsEntry, generation int64) string {
	fields := FieldsHash(entries)
	if config == "" || fields == "" {
		return ""
	}
	return config + "." + fields + "." + strconv.FormatInt(generation, 10)
}

// InSync reports whether the object recorded by ref, whose configuration to apply now has
// ConfigHash config, needs no apply: live (the object as drover's workload cache holds
// it, nil when the cache has none) is the object drover applied last (AsApplied) and the
// configuration is the one applied then. Anything else, including a record of an older
// drover with no hashes, is out of sync.
func InSync(prod *droverv1.Prod, ref droverv1.ObjectReference, config string, live *unstructured.Unstructured) bool {
	return live != nil && config != "" && strings.HasPrefix(ref.Applied, config+".") && AsApplied(prod, ref, live)
}

// AsApplied reports whether live (a cached copy, typed or unstructured; nil only as an
// untyped nil) is the object drover applied last as ref records it: same UID, not being
// deleted, still prod's by its labels, and nothing changed what drover applied since
// (drover's field manager owns the same fields, and the copy is not older than the
// generation the apply left).
func AsApplied(prod *droverv1.Prod, ref droverv1.ObjectReference, live metav1.Object) bool {
	if live == nil || ref.UID == "" || ref.Applied == "" {
		return false
	}
	if live.GetUID() != ref.UID || live.GetDeletionTimestamp() != nil || !Owns(prod, live, true) {
		return false
	}
	parts := strings.Split(ref.Applied, ".")
	if len(parts) != 3 {
		return false
	}
	gen, err := strconv.ParseInt(parts[2], 10, 64)
	// The cached copy must be at least the version the apply made: the managed fields
	// list paths, not values, so a copy from before the apply (a cache behind, a watch
	// that reconnects) lists the same fields and would be judged, and its status
	// assessed, as if it were the applied object.
	return err == nil && parts[0] != "" && parts[1] != "" && parts[1] == CachedFields(live) && live.GetGeneration() >= gen
}

// Recorded returns the inventory entry of the object ref names (under any API version).
func Recorded(inventory []droverv1.ObjectReference, ref droverv1.ObjectReference) (droverv1.ObjectReference, bool) {
	key := sameObject(ref)
	for _, r := range inventory {
		if sameObject(r) == key {
			return r, true
		}
	}
	return droverv1.ObjectReference{}, false
}

func shortHash(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:16])
}

// DropUpdateEntries is a JSON patch removing drover's update entries from an object's
// managedFields (entries, as the API server returned them), and false when there are
// none. The create of an object leaves an update's entry of drover's owning every field
// it set, and while that entry lasts a field dropped from the manifests stays on the
// object: server-side apply removes a field its applier stops setting only when no other
// entry owns it. Each removal is guarded by tests of the entry's manager and operation,
// so the patch fails rather than remove another entry when the managedFields changed
// since entries was read.
func DropUpdateEntries(entries []metav1.ManagedFieldsEntry) ([]byte, bool) {
	type op struct {
		Op    string `json:"op"`
		Path  string `json:"path"`
		Value any    `json:"value,omitempty"`
	}
	var ops []op
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Manager != droverv1.FieldManager || e.Operation != metav1.ManagedFieldsOperationUpdate || e.Subresource != "" {
			continue
		}
		path := "/metadata/managedFields/" + strconv.Itoa(i)
		ops = append(ops,
			op{Op: "test", Path: path + "/manager", Value: e.Manager},
			op{Op: "test", Path: path + "/operation", Value: string(e.Operation)},
			op{Op: "remove", Path: path})
	}
	if len(ops) == 0 {
		return nil, false
	}
	patch, err := json.Marshal(ops)
	if err != nil { // strings only: cannot happen
		return nil, false
	}
	return patch, true
}

type jsonPatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// CreateEntryToApply is a JSON patch making drover's create entry (an update's, owning
// every field the create set) an apply's entry of the object of UID uid, guessing that it
// is the first entry of managedFields: the API server sorts apply entries before update
// entries, and older update entries before newer ones, so it is, until another manager
// applies. Guarded by tests of the UID, the entry's manager and its operation, the patch
// fails (Invalid) rather than change another entry; then the object is read and
// CreateEntryPatch makes the patch from its entries. Made before the first apply of a
// changed configuration, it lets that apply prune what the configuration dropped (server-
// side apply prunes the fields an applier's entry owned and no longer sets, when no other
// entry owns them), at the cost of one request, on changes only: a new object is created
// and not applied.
func CreateEntryToApply(uid string) []byte {
	patch, _ := json.Marshal([]jsonPatchOp{
		{Op: "test", Path: "/metadata/uid", Value: uid},
		{Op: "test", Path: "/metadata/managedFields/0/manager", Value: droverv1.FieldManager},
		{Op: "test", Path: "/metadata/managedFields/0/operation", Value: string(metav1.ManagedFieldsOperationUpdate)},
		{Op: "replace", Path: "/metadata/managedFields/0/operation", Value: string(metav1.ManagedFieldsOperationApply)},
	})
	return patch
}

// CreateEntryPatch is the JSON patch that leaves drover's field manager with its apply
// entry only, of the object of UID uid whose managedFields were read as entries: its
// create entry made an apply's when it has no apply entry yet, else removed
// (DropUpdateEntries: a later apply owns what the create set and the configuration still
// sets). Guarded by a test of the UID too. False when drover has no update entry.
func CreateEntryPatch(uid string, entries []metav1.ManagedFieldsEntry) ([]byte, bool) {
	hasApply := slices.ContainsFunc(entries, func(e metav1.ManagedFieldsEntry) bool {
		return e.Manager == droverv1.FieldManager && e.Operation == metav1.ManagedFieldsOperationApply && e.Subresource == ""
	})
	if hasApply {
		drop, ok := DropUpdateEntries(entries)
		if !ok {
			return nil, false
		}
		var ops []jsonPatchOp
		if err := json.Unmarshal(drop, &ops); err != nil { // our own: cannot happen
			return nil, false
		}
		patch, _ := json.Marshal(append([]jsonPatchOp{{Op: "test", Path: "/metadata/uid", Value: uid}}, ops...))
		return patch, true
	}
	for i, e := range entries {
		if e.Manager != droverv1.FieldManager || e.Operation != metav1.ManagedFieldsOperationUpdate || e.Subresource != "" {
			continue
		}
		path := "/metadata/managedFields/" + strconv.Itoa(i)
		patch, _ := json.Marshal([]jsonPatchOp{
			{Op: "test", Path: "/metadata/uid", Value: uid},
			{Op: "test", Path: path + "/manager", Value: e.Manager},
			{Op: "test", Path: path + "/operation", Value: string(e.Operation)},
			{Op: "replace", Path: path + "/operation", Value: string(metav1.ManagedFieldsOperationApply)},
		})
		return patch, true
	}
	return nil, false
}
