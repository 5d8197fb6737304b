package prod

import (
	"testing"
	"time"
)

func TestSince(t *testing.T) {
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	if got := since(now, now.Add(-12500*time.Millisecond)); got != "12s ago" {
		t.Errorf("since 12.5s = %q, want %q", got, "12s ago")
	}
	if got := since(now, time.Time{}); got != "never" {
		t.Errorf("since the zero time = %q, want never", got)
	}
}
