package setup

import (
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/drover-dev/drover/internal/notify"
	"github.com/drover-dev/drover/internal/textcut"
)

// maxEventNote is the longest note the API server accepts in an Event; it refuses a longer
// one whole, so the event would be lost (a rollback's "gate failed" names every Prod it
// checked, and a set of hundreds outgrows it).
const maxEventNote = 1024

// recorder cuts each event's note to what the API server accepts, and offers each
// event to the Notifiers (notify.Dispatcher.Offer, which never blocks).
type recorder struct {
	events.EventRecorder
	name   string
	scheme *runtime.Scheme
	tap    *notify.Dispatcher
}

// eventRecorder is the manager's recorder named name, with notes cut to fit and every
// event offered to tap (nil: to none).
func eventRecorder(mgr interface {
	GetEventRecorder(string) events.EventRecorder
	GetScheme() *runtime.Scheme
}, name string, tap *notify.Dispatcher) events.EventRecorder {
	return recorder{EventRecorder: mgr.GetEventRecorder(name), name: name, scheme: mgr.GetScheme(), tap: tap}
}

func (r recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	text := cutNote(fmt.Sprintf(note, args...))
	r.EventRecorder.Eventf(regarding, related, eventtype, reason, action, "%s", text)
	if r.tap == nil {
		return
	}
	e, ok := r.event(regarding)
	if !ok {
		return
	}
	e.Type, e.Reason, e.Action, e.Note = eventtype, reason, action, text
	r.tap.Offer(e)
}

// event is what a notify.Event says of regarding; false when it is not an object of
// the scheme (the recorder drops such an event too).
func (r recorder) event(regarding runtime.Object) (notify.Event, bool) {
	m, err := meta.Accessor(regarding)
	if err != nil || r.scheme == nil {
		return notify.Event{}, false
	}
	gvk, err := apiutil.GVKForObject(regarding, r.scheme)
	if err != nil {
		return notify.Event{}, false
	}
	return notify.Event{Kind: gvk.Kind, Namespace: m.GetNamespace(), Name: m.GetName(), Controller: r.name, Time: time.Now()}, true
}

// cutNote cuts s to maxEventNote bytes, on a rune boundary, ending in "…" when cut.
func cutNote(s string) string { return textcut.Mark(s, maxEventNote) }
