// Package textcut cuts strings to a number of bytes without splitting a UTF-8 rune: what
// drover writes into a status field, an event or a webhook body has a byte limit, and
// a string cut inside a rune is no longer valid UTF-8.
package textcut

import "unicode/utf8"

// Ellipsis ends a string Mark cut.
const Ellipsis = "…"

// Bytes cuts s to at most n bytes, on a rune boundary.
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// Mark cuts s to at most n bytes, on a rune boundary, ending in Ellipsis when cut.
func Mark(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return Bytes(s, max(n-len(Ellipsis), 0)) + Ellipsis
}
