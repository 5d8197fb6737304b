package fresh

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// store is a reader of one ConfigMap at a version, counting its reads.
type store struct {
	rv    string
	reads int
}

func (s *store) Get(_ context.Context, _ client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	s.reads++
	obj.(*corev1.ConfigMap).ObjectMeta = metav1.ObjectMeta{UID: "u1", Name: "c", ResourceVersion: s.rv}
	return nil
}

func (s *store) List(context.Context, client.ObjectList, ...client.ListOption) error { return nil }

func TestReads(t *testing.T) {
	cache, live := &store{rv: "5"}, &store{rv: "5"}
	r := &Reads{Cache: cache, Live: live}
	get := func() string {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := r.Get(context.Background(), client.ObjectKey{Name: "c"}, cm); err != nil {
			t.Fatal(err)
		}
		return cm.ResourceVersion
	}
	// Never written here (a manager just started): the cache.
	if rv := get(); rv != "5" || live.reads != 0 {
		t.Fatalf("read %s with %d live reads, want the cache's 5 and none", rv, live.reads)
	}
	// Written to 7; the cache still at 5: the API server.
	r.Wrote(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "u1", ResourceVersion: "7"}})
	live.rv = "7"
	if rv := get(); rv != "7" || live.reads != 1 {
		t.Errorf("read %s with %d live reads, want 7 from the API server", rv, live.reads)
	}
	// The cache caught up: the cache.
	cache.rv = "7"
	if rv := get(); rv != "7" || live.reads != 1 {
		t.Errorf("read %s with %d live reads, want the cache's 7", rv, live.reads)
	}
	// Someone else wrote 9, the cache has it: the cache, later than the write.
	cache.rv, live.rv = "9", "9"
	get()
	if live.reads != 1 {
		t.Errorf("%d live reads, want none for a cache past the write", live.reads)
	}
	// Versions that are not comparable: only the version written is recognised.
	r.Wrote(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "u1", ResourceVersion: "x7"}})
	cache.rv, live.rv = "x9", "x9"
	get()
	get()
	if live.reads != 2 {
		t.Errorf("%d live reads, want one to find the cache current", live.reads)
	}
	// A write that failed part-way: the API server until the next write.
	r.Unsure(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "u1"}})
	get()
	if live.reads != 3 {
		t.Errorf("%d live reads after an unsure write, want 3", live.reads)
	}
	r.Forget("u1")
	get()
	if live.reads != 3 {
		t.Error("a forgotten object is still read from the API server")
	}
}

// With KeepWrites, a read while the cache is behind the write is the write's response,
// not a request; once the cache caught up, the cache.
func TestReadsKeepWrites(t *testing.T) {
	cache, live := &store{rv: "5"}, &store{rv: "7"}
	r := &Reads{Cache: cache, Live: live, KeepWrites: true}
	get := func() *corev1.ConfigMap {
		t.Helper()
		cm := &corev1.ConfigMap{}
		if err := r.Get(context.Background(), client.ObjectKey{Name: "c"}, cm); err != nil {
			t.Fatal(err)
		}
		return cm
	}
	written := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: "u1", Name: "c", ResourceVersion: "7",
		ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "drover"}}}, Data: map[string]string{"k": "written"}}
	r.Wrote(written)
	written.Data["k"] = "changed after the write" // the kept response is a copy

	cm := get()
	if cm.ResourceVersion != "7" || cm.Data["k"] != "written" || live.reads != 0 {
		t.Errorf("read version %s data %v with %d live reads, want the write's response and none", cm.ResourceVersion, cm.Data, live.reads)
	}
	if cm.ManagedFields != nil {
		t.Error("the kept response has managedFields, which the cache never has")
	}
	cm.Data["k"] = "changed by the reader"
	if again := get(); again.Data["k"] != "written" {
		t.Error("a reader changed the kept response")
	}
	// Caught up: the cache, and the response is no longer kept.
	cache.rv = "7"
	if cm := get(); cm.Data != nil || live.reads != 0 {
		t.Errorf("read data %v with %d live reads, want the cache's", cm.Data, live.reads)
	}
	r.writes.mu.Lock()
	kept := r.writes.written["u1"].obj
	r.writes.mu.Unlock()
	if kept != nil {
		t.Error("the response is still kept after the cache caught up")
	}
	// An unsure write keeps nothing: the API server.
	r.Unsure(written)
	get()
	if live.reads != 1 {
		t.Errorf("%d live reads after an unsure write, want 1", live.reads)
	}
}

// Writes judges cached copies against the last write and tells a watch's echo of a write
// from a change made after it.
func TestWrites(t *testing.T) {
	cm := func(uid, rv string) *corev1.ConfigMap {
		return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{UID: types.UID(uid), ResourceVersion: rv}}
	}
	w := &Writes{}
	if cur, kept := w.Judge(cm("u1", "3")); !cur || kept != nil {
		t.Errorf("an object never written: current %v kept %v, want current", cur, kept)
	}
	if w.Echo(cm("u1", "3")) {
		t.Error("an object never written is an echo")
	}
	resp := cm("u1", "7")
	resp.Data = map[string]string{"k": "applied"}
	w.Wrote(cm("u1", "7"), resp)
	for _, tc := range []struct {
		rv       string
		echo     bool
		kindOfRV string
	}{
		{"5", true, "older"},
		{"7", true, "the write's"},
		{"9", false, "later"},
	} {
		if got := w.Echo(cm("u1", tc.rv)); got != tc.echo {
			t.Errorf("Echo of %s version %s: %v, want %v", tc.kindOfRV, tc.rv, got, tc.echo)
		}
		if got := w.Echo(cm("u2", tc.rv)); got {
			t.Errorf("Echo of another object's version %s: true", tc.rv)
		}
	}
	// Behind: the kept response, a copy.
	cur, kept := w.Judge(cm("u1", "5"))
	if cur || kept == nil || kept.(*corev1.ConfigMap).Data["k"] != "applied" {
		t.Fatalf("a copy older than the write: current %v kept %v, want the write's response", cur, kept)
	}
	kept.(*corev1.ConfigMap).Data["k"] = "changed by the reader"
	if _, again := w.Judge(cm("u1", "5")); again.(*corev1.ConfigMap).Data["k"] != "applied" {
		t.Error("a reader changed the kept response")
	}
	// Caught up: current, and the record is dropped.
	if cur, kept := w.Judge(cm("u1", "8")); !cur || kept != nil {
		t.Errorf("a copy later than the write: current %v kept %v, want current", cur, kept)
	}
	if w.Echo(cm("u1", "5")) {
		t.Error("the record of a write a cache caught up with is kept")
	}
	// Not comparable: only the version written is recognised; nothing kept is returned.
	w.Wrote(cm("u1", "x7"), cm("u1", "x7"))
	if cur, kept := w.Judge(cm("u1", "x5")); cur || kept != nil {
		t.Errorf("an incomparable older copy: current %v kept %v, want neither", cur, kept)
	}
	if !w.Echo(cm("u1", "x7")) || w.Echo(cm("u1", "x5")) {
		t.Error("with incomparable versions, only the version written is an echo")
	}
	// Unsure: nothing is current, nothing an echo.
	w.Unsure(cm("u1", ""))
	if cur, _ := w.Judge(cm("u1", "100")); cur || w.Echo(cm("u1", "1")) {
		t.Error("after an unsure write a copy is current or a version an echo")
	}
	w.Forget("u1")
	if cur, _ := w.Judge(cm("u1", "1")); !cur {
		t.Error("a forgotten object is not current")
	}
}
