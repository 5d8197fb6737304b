// Package freeze says when a Freeze or ClusterFreeze holds: pure, from its spec, its
// creation time and the clock.
package freeze

import (
	"fmt"
	"time"
	_ "time/tzdata" // windows name IANA time zones; the manager's image has no zoneinfo of its own

	"github.com/robfig/cron/v3"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// State is whether a freeze holds now, until when, and when it next holds.
type State struct {
	// Active: the freeze holds now.
	Active bool
	// Until is when an active freeze stops holding; zero: until it is deleted.
	Until time.Time
	// Next is when an inactive freeze next holds; zero: never again.
	Next time.Time
	// Invalid says why a window could not be read: such a freeze holds (a freeze
	// that cannot be read is not a freeze that lets releases through).
	Invalid string
}

// maxMerge bounds how many overlapping windows are merged into one span.
const maxMerge = 1000

// At is the state at now of a freeze whose time is t and which was created at created.
func At(t droverv1.FreezeTime, created, now time.Time) State {
	from := created
	if t.Start != nil {
		from = t.Start.Time
	}
	var to time.Time
	if t.End != nil {
		to = t.End.Time
	}
	switch {
	case !to.IsZero() && !now.Before(to):
		return State{}
	case now.Before(from):
		if len(t.Windows) == 0 {
			return State{Next: from}
		}
		s := At(t, created, from) // what the windows say at the start
		if s.Active || s.Invalid != "" {
			return State{Next: from}
		}
		return s
	}
	if len(t.Windows) == 0 {
		return State{Active: true, Until: to}
	}
	var out State
	for i, w := range t.Windows {
		sched, err := schedule(w)
		if err != nil {
			return State{Active: true, Until: to, Invalid: fmt.Sprintf("windows[%d]: %v", i, err)}
		}
		d := w.Duration.Duration
		if d <= 0 {
			return State{Active: true, Until: to, Invalid: fmt.Sprintf("windows[%d]: duration %s", i, d)}
		}
		// A window [s, s+d) holds now when now-d < s <= now.
		if s := sched.Next(now.Add(-d)); !s.After(now) {
			until := s.Add(d)
			for range maxMerge { // windows that start before this one ends extend it
				n := sched.Next(s)
				if n.IsZero() || n.After(until) {
					break
				}
				s, until = n, n.Add(d)
			}
			if !out.Active || until.After(out.Until) {
				out.Active, out.Until = true, until
			}
			continue
		}
		if n := sched.Next(now); !n.IsZero() && (out.Next.IsZero() || n.Before(out.Next)) {
			out.Next = n
		}
	}
	if out.Active {
		out.Next = time.Time{}
		if !to.IsZero() && out.Until.After(to) {
			out.Until = to
		}
		return out
	}
	if !to.IsZero() && !out.Next.Before(to) {
		out.Next = time.Time{}
	}
	return out
}

// schedule parses a window's schedule in its time zone.
func schedule(w droverv1.FreezeWindow) (cron.Schedule, error) {
	loc := time.UTC
	if w.TimeZone != "" {
		l, err := time.LoadLocation(w.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("time zone %q: %v", w.TimeZone, err)
		}
		loc = l
	}
	s, err := cron.ParseStandard(w.Schedule)
	if err != nil {
		return nil, fmt.Errorf("schedule %q: %v", w.Schedule, err)
	}
	if spec, ok := s.(*cron.SpecSchedule); ok && w.TimeZone != "" {
		spec.Location = loc
	}
	return s, nil
}

// Describe is a freeze's state in words, for a rollout's message.
func Describe(kind, name, reason string, s State) string {
	msg := fmt.Sprintf("frozen by %s %s (%s)", kind, name, reason)
	switch {
	case s.Invalid != "":
		msg += ": " + s.Invalid + "; it holds until fixed or deleted"
	case s.Until.IsZero():
		msg += " until it is deleted"
	default:
		msg += " until " + s.Until.UTC().Format(time.RFC3339)
	}
	return msg
}
