package prod

import "time"

func ptrTrue(b *bool) bool { return b != nil && *b }

// since says how long before now t was ("12s ago"), or "never" for the zero time.
func since(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Truncate(time.Second).String() + " ago"
}
