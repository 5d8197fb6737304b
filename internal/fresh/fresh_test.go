package fresh

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	// Someone else wrote 9, the cache has it: one live read finds the cache current,
	// then the cache again.
	cache.rv, live.rv = "9", "9"
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
