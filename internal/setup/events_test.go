package setup

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCutNote(t *testing.T) {
	cases := []struct {
		name string
		in   string
		cut  bool
	}{
		{name: "short", in: "gate failed"},
		{name: "exactly the limit", in: strings.Repeat("a", maxEventNote)},
		{name: "one over", in: strings.Repeat("a", maxEventNote+1), cut: true},
		{name: "a multi-byte rune across the limit", in: strings.Repeat("a", maxEventNote-4) + strings.Repeat("é", 10), cut: true},
		{name: "hundreds of Prods", in: "gate failed on " + strings.Repeat("shop500-r-1-23: 500 Internal Server Error; ", 100), cut: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := cutNote(c.in)
			if len(got) > maxEventNote || !utf8.ValidString(got) {
				t.Fatalf("%d bytes, valid UTF-8 %v", len(got), utf8.ValidString(got))
			}
			if c.cut != (got != c.in) || (c.cut && !strings.HasSuffix(got, "…")) {
				t.Fatalf("cut %v: %q", c.cut, got)
			}
			if c.cut && !strings.HasPrefix(c.in, strings.TrimSuffix(got, "…")) {
				t.Fatal("the note's start is not kept")
			}
		})
	}
}
