package prodset

import (
	"context"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/event"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// wakeups wakes sets from callbacks that must never block (a gate's verdict, a record
// name let go): add records the set and returns at once; run hands each recorded set to
// the controller's channel source, one event per set however often it was added in the
// meantime. A full channel holds run back, never the caller, and loses no set.
type wakeups struct {
	mu      sync.Mutex
	pending map[types.NamespacedName]bool
	signal  chan struct{}
	out     chan event.TypedGenericEvent[*droverv1.ProdSet]
}

func newWakeups() *wakeups {
	return &wakeups{pending: map[types.NamespacedName]bool{}, signal: make(chan struct{}, 1),
		out: make(chan event.TypedGenericEvent[*droverv1.ProdSet], 64)}
}

// add wakes the set.
func (w *wakeups) add(set types.NamespacedName) {
	w.mu.Lock()
	w.pending[set] = true
	w.mu.Unlock()
	select {
	case w.signal <- struct{}{}:
	default: // run is signalled already
	}
}

// run forwards the sets added until ctx ends.
func (w *wakeups) run(ctx context.Context) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-w.signal:
		}
		w.mu.Lock()
		sets := w.pending
		w.pending = map[types.NamespacedName]bool{}
		w.mu.Unlock()
		for set := range sets {
			ev := event.TypedGenericEvent[*droverv1.ProdSet]{Object: &droverv1.ProdSet{ObjectMeta: metav1.ObjectMeta{Namespace: set.Namespace, Name: set.Name}}}
			select {
			case w.out <- ev:
			case <-ctx.Done():
				return nil
			}
		}
	}
}
