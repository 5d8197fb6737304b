package textcut

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCut(t *testing.T) {
	for _, tc := range []struct {
		in          string
		n           int
		bytes, mark string
	}{
		{"short", 10, "short", "short"},
		{"exactly10!", 10, "exactly10!", "exactly10!"},
		{"abcdefghijkl", 10, "abcdefghij", "abcdefg…"},
		{"ééééééé", 5, "éé", "é…"}, // é is 2 bytes: never half of one
		{"日本語テキスト", 8, "日本", "日…"}, // 3-byte runes
		{"abc", 0, "", ""},
	} {
		if got := Bytes(tc.in, tc.n); got != tc.bytes || !utf8.ValidString(got) {
			t.Errorf("Bytes(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.bytes)
		}
		if tc.n == 0 {
			continue
		}
		if got := Mark(tc.in, tc.n); got != tc.mark || len(got) > tc.n || !utf8.ValidString(got) {
			t.Errorf("Mark(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.mark)
		}
	}
	if got := Mark(strings.Repeat("x", 2000), 1024); len(got) != 1024 || !strings.HasSuffix(got, Ellipsis) {
		t.Errorf("Mark to 1024 bytes gave %d bytes", len(got))
	}
}
