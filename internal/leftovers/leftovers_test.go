package leftovers

import (
	"strings"
	"testing"
)

func TestEventMessage(t *testing.T) {
	rec := Record{Kind: "Prod", Namespace: "shop", Name: "web", UID: "u1", Finalizer: "drover.dev/nlb-mirror",
		Left: []string{"NLB arn:1 (x)", "target group arn:2"}}
	for _, tc := range []struct {
		name   string
		reason string
		want   []string
	}{
		{name: "short", reason: "AccessDenied", want: []string{"left: NLB arn:1 (x); target group arn:2", "why: AccessDenied", "drover-system/leftover-prod-u1-nlb-mirror"}},
		{name: "a reason too long is cut, the rest stays", reason: strings.Repeat("retrying ", 300),
			want: []string{"left: NLB arn:1 (x); target group arn:2", "why: retrying", "...", "drover-system/leftover-prod-u1-nlb-mirror"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rec
			r.Reason = tc.reason
			msg := EventMessage(r, "deleting the NLB", "drover-system")
			if len(msg) > maxNote {
				t.Errorf("%d characters, more than %d", len(msg), maxNote)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%q does not say %q", msg, w)
				}
			}
		})
	}
	long := rec
	long.Left = []string{strings.Repeat("x", 2000)}
	if msg := EventMessage(long, "deleting the NLB", "drover-system"); len(msg) > maxNote {
		t.Errorf("%d characters with a long item, more than %d", len(msg), maxNote)
	}
}
