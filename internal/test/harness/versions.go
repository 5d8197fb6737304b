package harness

import (
	"context"
	"slices"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// WatchVersions watches the object of key (list is a list of its kind) on the API server
// of cfg from now until the test ends, and calls check with every version of it a watcher
// sees, as each arrives. It returns what check reported so far: what a reader of the
// object could have read wrong between two writes, which polling would miss.
func WatchVersions[T client.Object](t testing.TB, cfg *rest.Config, scheme *runtime.Scheme, list client.ObjectList, key client.ObjectKey, check func(T) []string) func() []string {
	t.Helper()
	wc, err := client.NewWithWatch(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	w, err := wc.Watch(ctx, list, client.InNamespace(key.Namespace), client.MatchingFields{"metadata.name": key.Name})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		wrong []string
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			obj, ok := ev.Object.(T)
			if !ok {
				continue
			}
			if found := check(obj); len(found) > 0 {
				mu.Lock()
				wrong = append(wrong, found...)
				mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		w.Stop()
		cancel()
		<-done
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(wrong)
	}
}
