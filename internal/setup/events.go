package setup

import (
	"fmt"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
)

// maxEventNote is the longest note the API server accepts in an Event; it refuses a longer
// one whole, so the event would be lost (a rollback's "gate failed" names every Prod it
// checked, and a set of hundreds outgrows it).
const maxEventNote = 1024

// recorder cuts each event's note to what the API server accepts.
type recorder struct{ events.EventRecorder }

// eventRecorder is the manager's recorder named name, with notes cut to fit.
func eventRecorder(mgr interface {
	GetEventRecorder(string) events.EventRecorder
}, name string) events.EventRecorder {
	return recorder{mgr.GetEventRecorder(name)}
}

func (r recorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	r.EventRecorder.Eventf(regarding, related, eventtype, reason, action, "%s", cutNote(fmt.Sprintf(note, args...)))
}

// cutNote cuts s to maxEventNote bytes, on a rune boundary, ending in "…" when cut.
func cutNote(s string) string {
	if len(s) <= maxEventNote {
		return s
	}
	const ellipsis = "…"
	n := maxEventNote - len(ellipsis)
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + ellipsis
}
