package setup

import (
	"strings"
	"testing"
)

func TestCheckOwnerID(t *testing.T) {
	for _, tc := range []struct {
		id     string
		needed bool
		want   string // "" for no error, else a part of it
	}{
		{"", false, ""},
		{"", true, "--owner-id is required with AWS"},
		{"drover", true, ""},
		{"drover-prod-eu.1_a", true, ""},
		{"drover/eu", true, "no '/'"},
		{"-drover", true, "starting with a letter or digit"},
		{strings.Repeat("a", 32), true, ""},
		{strings.Repeat("a", 33), true, "1-32 letters"},
		{"drover eu", false, "1-32 letters"},
	} {
		err := CheckOwnerID(tc.id, tc.needed)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("CheckOwnerID(%q, %v): %v", tc.id, tc.needed, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("CheckOwnerID(%q, %v) = %v, want an error saying %q", tc.id, tc.needed, err, tc.want)
		}
	}
}
