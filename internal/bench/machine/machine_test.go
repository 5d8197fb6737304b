package machine

import (
	"os"
	"regexp"
	"testing"
)

func TestLoadAverage(t *testing.T) {
	got := LoadAverage()
	if _, err := os.Stat("/proc/loadavg"); err != nil {
		if got != "" {
			t.Errorf("LoadAverage() = %q without /proc/loadavg, want \"\"", got)
		}
		return
	}
	if !regexp.MustCompile(`^[0-9.]+ [0-9.]+ [0-9.]+$`).MatchString(got) {
		t.Errorf("LoadAverage() = %q, want three load averages", got)
	}
}
