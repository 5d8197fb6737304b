package nlbtest

import (
	"strings"
	"testing"
)

// ContainsAll fails the test for each of subs that s, the what of something, lacks.
func ContainsAll(t testing.TB, what, s string, subs ...string) {
	t.Helper()
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			t.Errorf("%s %q does not contain %q", what, s, sub)
		}
	}
}
