package manifests

import (
	"encoding/json"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestInSync(t *testing.T) {
	p := prodNamed("team-shop", "shop-eu-1", "uid-p")
	other := prodNamed("team-shop", "shop-us-1", "uid-other")
	entries := func(raw string) []metav1.ManagedFieldsEntry {
		return []metav1.ManagedFieldsEntry{
			{Manager: "kube-controller-manager", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: metav1.NewFieldsV1(`{"f:status":{}}`)},
			{Manager: droverv1.FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsV1: metav1.NewFieldsV1(raw)},
		}
	}
	applied := entries(`{"f:data":{"f:color":{}},"f:metadata":{"f:labels":{}}}`)
	record := AppliedRecord("cfg", applied, 2)
	// live is the object as the cache holds it: drover's managed fields as a hash.
	live := func(uid string, prod *droverv1.Prod, fields []metav1.ManagedFieldsEntry, mutate ...func(*unstructured.Unstructured)) *unstructured.Unstructured {
		u := &unstructured.Unstructured{}
		u.SetAPIVersion("v1")
		u.SetKind("ConfigMap")
		u.SetNamespace("shop")
		u.SetName("settings")
		u.SetUID("uid-cm")
		if uid != "" {
			u.SetUID(typesUID(uid))
		}
		u.SetLabels(OwnerLabels(prod))
		u.SetGeneration(2)
		SetCachedFields(u, FieldsHash(fields))
		for _, m := range mutate {
			m(u)
		}
		return u
	}
	ref := droverv1.ObjectReference{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings", UID: "uid-cm", Applied: record}
	now := metav1.Now()

	for _, tc := range []struct {
		name   string
		ref    droverv1.ObjectReference
		config string
		live   *unstructured.Unstructured
		want   bool
	}{
		{"unchanged since the last apply", ref, "cfg", live("", p, applied), true},
		{"another manager's fields changed (ours did not)", ref, "cfg", live("", p, []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-edit", Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: metav1.NewFieldsV1(`{"f:data":{"f:other":{}}}`)},
			applied[1],
		}), true},
		{"another writer changed a field drover owns: drover's entry lost it", ref, "cfg",
			live("", p, entries(`{"f:metadata":{"f:labels":{}}}`)), false},
		{"drover no longer owns anything", ref, "cfg", live("", p, applied[:1]), false},
		{"the configuration to apply changed", ref, "cfg2", live("", p, applied), false},
		{"the cache is behind the apply (same fields, an older generation)", ref, "cfg", live("", p, applied, func(u *unstructured.Unstructured) { u.SetGeneration(1) }), false},
		{"a newer generation (another writer's change of a field drover does not own)", ref, "cfg", live("", p, applied, func(u *unstructured.Unstructured) { u.SetGeneration(3) }), true},
		{"a record of two parts (no generation)", droverv1.ObjectReference{Version: "v1", Kind: "ConfigMap", Namespace: "shop", Name: "settings", UID: "uid-cm", Applied: "cfg." + FieldsHash(applied)}, "cfg", live("", p, applied), false},
		{"not in the cache (deleted, or its labels removed)", ref, "cfg", nil, false},
		{"deleted and re-created", ref, "cfg", live("uid-new", p, applied), false},
		{"being deleted", ref, "cfg", live("", p, applied, func(u *unstructured.Unstructured) { u.SetDeletionTimestamp(&now) }), false},
		{"labelled as another Prod's", ref, "cfg", live("", other, applied), false},
		{"a record without hashes (an older drover)", droverv1.ObjectReference{UID: "uid-cm"}, "cfg", live("", p, applied), false},
		{"a record without a UID", droverv1.ObjectReference{Applied: record}, "cfg", live("", p, applied), false},
		{"a cached object without the hash", ref, "cfg", live("", p, applied, func(u *unstructured.Unstructured) { SetCachedFields(u, "") }), false},
		{"the hash in an annotation (written on the cluster) does not count", ref, "cfg", live("", p, applied, func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{FieldsKey: CachedFields(u)})
			SetCachedFields(u, "")
		}), false},
		{"no configuration hash", ref, "", live("", p, applied), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := InSync(p, tc.ref, tc.config, tc.live); got != tc.want {
				t.Errorf("InSync = %t, want %t", got, tc.want)
			}
		})
	}
}

func TestFieldsHashIsDroversEntriesOfTheObject(t *testing.T) {
	raw := metav1.NewFieldsV1(`{"f:data":{}}`)
	for _, tc := range []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    bool
	}{
		{"drover's apply", []metav1.ManagedFieldsEntry{{Manager: droverv1.FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsV1: raw}}, true},
		{"drover's update (its create)", []metav1.ManagedFieldsEntry{{Manager: droverv1.FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, FieldsV1: raw}}, true},
		{"drover's update of a subresource", []metav1.ManagedFieldsEntry{{Manager: droverv1.FieldManager, Operation: metav1.ManagedFieldsOperationUpdate, Subresource: "status", FieldsV1: raw}}, false},
		{"drover's apply of a subresource", []metav1.ManagedFieldsEntry{{Manager: droverv1.FieldManager, Operation: metav1.ManagedFieldsOperationApply, Subresource: "status", FieldsV1: raw}}, false},
		{"another manager's apply", []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationApply, FieldsV1: raw}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := FieldsHash(tc.entries) != ""; got != tc.want {
				t.Errorf("FieldsHash found drover's entry: %t, want %t", got, tc.want)
			}
		})
	}
	if AppliedRecord("cfg", nil, 1) != "" || AppliedRecord("", []metav1.ManagedFieldsEntry{{Manager: droverv1.FieldManager, Operation: metav1.ManagedFieldsOperationApply, FieldsV1: raw}}, 1) != "" {
		t.Error("a record without either hash must be empty (never in sync)")
	}
}

// A created object's hash is marked, covers both of drover's entries, and so changes when
// either does; the record of it says so (Created).
func TestFieldsHashOfACreatedObject(t *testing.T) {
	entry := func(op metav1.ManagedFieldsOperationType, raw string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: droverv1.FieldManager, Operation: op, FieldsV1: metav1.NewFieldsV1(raw)}
	}
	apply, update := metav1.ManagedFieldsOperationApply, metav1.ManagedFieldsOperationUpdate
	created := FieldsHash([]metav1.ManagedFieldsEntry{entry(update, `{"f:data":{}}`)})
	appliedOnly := FieldsHash([]metav1.ManagedFieldsEntry{entry(apply, `{"f:data":{}}`)})
	both := FieldsHash([]metav1.ManagedFieldsEntry{entry(apply, `{"f:data":{}}`), entry(update, `{"f:data":{}}`)})
	lost := FieldsHash([]metav1.ManagedFieldsEntry{entry(apply, `{"f:data":{}}`), entry(update, `{"f:metadata":{}}`)})
	if created[:1] != CreatedMark || both[:1] != CreatedMark || appliedOnly[:1] == CreatedMark {
		t.Errorf("marks: created %q, both %q, applied only %q", created, both, appliedOnly)
	}
	if len(map[string]bool{created: true, appliedOnly: true, both: true, lost: true}) != 4 {
		t.Errorf("hashes must differ: %q %q %q %q", created, appliedOnly, both, lost)
	}
	if !Created(AppliedRecord("cfg", []metav1.ManagedFieldsEntry{entry(update, `{"f:data":{}}`)}, 1)) ||
		Created(AppliedRecord("cfg", []metav1.ManagedFieldsEntry{entry(apply, `{"f:data":{}}`)}, 1)) || Created("") {
		t.Error("Created must tell a record of a created object")
	}
	if AppliedConfig("cfg.abc.1") != "cfg" || AppliedConfig("") != "" {
		t.Error("AppliedConfig")
	}
}

// The guessed patch makes drover's create entry an apply's where it is first, and fails
// rather than touch another entry or another object; CreateEntryPatch finds it anywhere.
func TestCreateEntryBecomesAnApplyEntry(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, sub string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub}
	}
	apply, update := metav1.ManagedFieldsOperationApply, metav1.ManagedFieldsOperationUpdate
	droverApply, droverUpdate := entry(droverv1.FieldManager, apply, ""), entry(droverv1.FieldManager, update, "")
	kcm := entry("kube-controller-manager", update, "status")
	helm := entry("helm", apply, "")
	patchDoc := func(patch []byte, uid string, entries []metav1.ManagedFieldsEntry) ([]metav1.ManagedFieldsEntry, error) {
		doc, _ := json.Marshal(map[string]any{"metadata": map[string]any{"uid": uid, "managedFields": entries}})
		p, err := jsonpatch.DecodePatch(patch)
		if err != nil {
			return nil, err
		}
		if doc, err = p.Apply(doc); err != nil {
			return nil, err
		}
		var out struct {
			Metadata struct {
				ManagedFields []metav1.ManagedFieldsEntry `json:"managedFields"`
			} `json:"metadata"`
		}
		err = json.Unmarshal(doc, &out)
		return out.Metadata.ManagedFields, err
	}
	got, err := patchDoc(CreateEntryToApply("uid-1"), "uid-1", []metav1.ManagedFieldsEntry{droverUpdate, kcm})
	if err != nil || !equality.Semantic.DeepEqual(got, []metav1.ManagedFieldsEntry{droverApply, kcm}) {
		t.Errorf("after the guessed patch: %+v, %v", got, err)
	}
	for name, tc := range map[string]struct {
		uid     string
		entries []metav1.ManagedFieldsEntry
	}{
		"another object":                  {"uid-2", []metav1.ManagedFieldsEntry{droverUpdate}},
		"another manager applied since":   {"uid-1", []metav1.ManagedFieldsEntry{helm, droverUpdate}},
		"drover applied since":            {"uid-1", []metav1.ManagedFieldsEntry{droverApply, droverUpdate}},
		"drover's create entry went away": {"uid-1", []metav1.ManagedFieldsEntry{kcm}},
	} {
		if _, err := patchDoc(CreateEntryToApply("uid-1"), tc.uid, tc.entries); err == nil {
			t.Errorf("%s: the guessed patch must fail", name)
		}
	}

	for _, tc := range []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    []metav1.ManagedFieldsEntry // nil: no patch
	}{
		{"the create entry after another's apply", []metav1.ManagedFieldsEntry{helm, droverUpdate, kcm}, []metav1.ManagedFieldsEntry{helm, droverApply, kcm}},
		{"applied since: the create entry goes", []metav1.ManagedFieldsEntry{droverApply, droverUpdate}, []metav1.ManagedFieldsEntry{droverApply}},
		{"no create entry", []metav1.ManagedFieldsEntry{droverApply, kcm}, nil},
		{"drover's subresource update stays", []metav1.ManagedFieldsEntry{entry(droverv1.FieldManager, update, "status")}, nil},
	} {
		patch, ok := CreateEntryPatch("uid-1", tc.entries)
		if ok != (tc.want != nil) {
			t.Errorf("%s: patches %t", tc.name, ok)
			continue
		}
		if !ok {
			continue
		}
		if got, err := patchDoc(patch, "uid-1", tc.entries); err != nil || !equality.Semantic.DeepEqual(got, tc.want) {
			t.Errorf("%s: %+v (%v), want %+v", tc.name, got, err, tc.want)
		}
		if _, err := patchDoc(patch, "uid-2", tc.entries); err == nil {
			t.Errorf("%s: the patch must fail on an object of another UID", tc.name)
		}
	}
}

func TestConfigHashFollowsTheConfiguration(t *testing.T) {
	obj := func(color string) *unstructured.Unstructured {
		return &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": "settings", "labels": map[string]any{"a": "1", "b": "2"}},
			"data": map[string]any{"color": color},
		}}
	}
	a, err := ConfigHash(obj("blue"))
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ConfigHash(obj("blue"))
	red, _ := ConfigHash(obj("red"))
	if a == "" || a != again {
		t.Errorf("the same configuration hashed to %q and %q", a, again)
	}
	if a == red {
		t.Error("two configurations hashed the same")
	}
}

func typesUID(s string) types.UID { return types.UID(s) }

// The patch removes exactly drover's update entries, and fails instead when the entries
// moved since they were read.
func TestDropUpdateEntries(t *testing.T) {
	entry := func(manager string, op metav1.ManagedFieldsOperationType, sub string) metav1.ManagedFieldsEntry {
		return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub}
	}
	apply, update := metav1.ManagedFieldsOperationApply, metav1.ManagedFieldsOperationUpdate
	droverApply := entry(droverv1.FieldManager, apply, "")
	droverUpdate := entry(droverv1.FieldManager, update, "")
	kubectl := entry("kubectl-edit", update, "")
	status := entry(droverv1.FieldManager, update, "status")
	for _, tc := range []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    []metav1.ManagedFieldsEntry // nil: no patch
	}{
		{"nothing but drover's apply", []metav1.ManagedFieldsEntry{droverApply}, nil},
		{"another manager's update and drover's subresource update are kept", []metav1.ManagedFieldsEntry{droverApply, kubectl, status}, nil},
		{"drover's create entry after its apply", []metav1.ManagedFieldsEntry{droverApply, droverUpdate}, []metav1.ManagedFieldsEntry{droverApply}},
		{"among others, before and after", []metav1.ManagedFieldsEntry{droverUpdate, kubectl, droverApply, droverUpdate, status},
			[]metav1.ManagedFieldsEntry{kubectl, droverApply, status}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			patch, ok := DropUpdateEntries(tc.entries)
			if ok != (tc.want != nil) {
				t.Fatalf("DropUpdateEntries patches: %t, want %t", ok, tc.want != nil)
			}
			if !ok {
				return
			}
			got := applyToManagedFields(t, patch, tc.entries)
			if !equality.Semantic.DeepEqual(got, tc.want) {
				t.Errorf("managedFields after the patch: %+v, want %+v", got, tc.want)
			}
		})
	}

	// Read before another writer moved the entries: the patch fails, removing nothing.
	patch, _ := DropUpdateEntries([]metav1.ManagedFieldsEntry{droverApply, droverUpdate})
	if _, err := patchManagedFields(patch, []metav1.ManagedFieldsEntry{droverUpdate, kubectl}); err == nil {
		t.Error("a patch of entries that moved since must fail")
	}
}

func patchManagedFields(patch []byte, entries []metav1.ManagedFieldsEntry) ([]metav1.ManagedFieldsEntry, error) {
	doc, err := json.Marshal(map[string]any{"metadata": map[string]any{"managedFields": entries}})
	if err != nil {
		return nil, err
	}
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		return nil, err
	}
	if doc, err = p.Apply(doc); err != nil {
		return nil, err
	}
	var out struct {
		Metadata struct {
			ManagedFields []metav1.ManagedFieldsEntry `json:"managedFields"`
		} `json:"metadata"`
	}
	err = json.Unmarshal(doc, &out)
	return out.Metadata.ManagedFields, err
}

func applyToManagedFields(t *testing.T, patch []byte, entries []metav1.ManagedFieldsEntry) []metav1.ManagedFieldsEntry {
	t.Helper()
	got, err := patchManagedFields(patch, entries)
	if err != nil {
		t.Fatalf("applying %s: %v", patch, err)
	}
	return got
}
