package cli

import (
	"bytes"
	"testing"
	"time"

	"github.com/drover-dev/drover/internal/leftovers"
)

func TestRenderLeftovers(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		recs []leftovers.Record
		want string
	}{
		{name: "nothing", want: "Nothing was left behind.\n"},
		{
			name: "a Prod's NLB and a ProdSet's records",
			recs: []leftovers.Record{
				{Kind: "Prod", Namespace: "shop", Name: "web-a", UID: "u1", Finalizer: "drover.dev/nlb-mirror",
					Released: now.Add(-90 * time.Second), Left: []string{"NLB arn:nlb/1 (nlb-1.elb)", "target group arn:tg/1"}},
				{Kind: "ProdSet", Namespace: "cart", Name: "cart", UID: "u2", Finalizer: "drover.dev/prodset",
					Released: now.Add(-50 * time.Hour)},
				{Kind: "Prod", Namespace: "shop", Name: "old", Finalizer: "drover.dev/nlb-mirror", Left: []string{"NLB arn:nlb/2 (x)"}},
			},
			want: "NAMESPACE  OBJECT        FINALIZER              RELEASED  LEFT\n" +
				"shop       Prod/web-a    drover.dev/nlb-mirror  1m ago    NLB arn:nlb/1 (nlb-1.elb)\n" +
				"                                                          target group arn:tg/1\n" +
				"cart       ProdSet/cart  drover.dev/prodset     2d ago    -\n" +
				"shop       Prod/old      drover.dev/nlb-mirror  ?         NLB arn:nlb/2 (x)\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			renderLeftovers(&out, leftoverRows(tc.recs), now)
			if out.String() != tc.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tc.want)
			}
		})
	}
}
