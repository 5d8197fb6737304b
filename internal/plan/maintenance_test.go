package plan

import (
	"strings"
	"testing"
)

func TestAdmit(t *testing.T) {
	shop := func(minServing int, prods ...ProdView) SetView {
		return SetView{Name: "default/shop", MinServing: minServing, Prods: prods}
	}
	on := func(name, cluster string) ProdView {
		return ProdView{Name: name, Cluster: cluster, Serving: true, Available: true}
	}
	standIn := func(name, cluster, forCluster string, available bool) ProdView {
		return ProdView{Name: name, Cluster: cluster, SurgeFor: forCluster, Serving: available, Available: available}
	}
	three := []ProdView{on("s-a1", "a1"), on("s-a2", "a2"), on("s-b1", "b1")}
	cases := []struct {
		name string
		in   AdmitInput
		want Admission
		msg  []string // substrings of the message
	}{
		{
			name: "the minimum holds without the cluster",
			in:   AdmitInput{Cluster: "a2", Sets: []SetView{shop(2, three...)}},
			want: Admission{Admit: true},
		},
		{
			name: "the minimum would break: refused, with the set and the numbers",
			in:   AdmitInput{Cluster: "a2", Sets: []SetView{shop(3, three...)}},
			want: Admission{},
			msg:  []string{"draining cluster a2 is refused", "ProdSet default/shop would have 2 serving Prods, below its minimum of 3", "spec.surge: true"},
		},
		{
			name: "a cluster already draining counts as gone",
			in:   AdmitInput{Cluster: "a2", Draining: []string{"b1"}, Sets: []SetView{shop(2, three...)}},
			want: Admission{},
			msg:  []string{"would have 1 serving Prod,"},
		},
		{
			name: "a Prod already out of traffic does not count",
			in: AdmitInput{Cluster: "a2", Sets: []SetView{shop(2, on("s-a1", "a1"), on("s-a2", "a2"),
				ProdView{Name: "s-b1", Cluster: "b1", Available: true})}},
			want: Admission{},
		},
		{
			name: "a set without Prods on the cluster does not matter",
			in:   AdmitInput{Cluster: "b2", Sets: []SetView{shop(3, three...)}},
			want: Admission{Admit: true},
		},
		{
			name: "surge waits for the replacements",
			in:   AdmitInput{Cluster: "a2", Surge: true, Sets: []SetView{shop(3, append(three, standIn("s-a1-1", "a1", "a2", false))...)}},
			want: Admission{Surging: true},
			msg:  []string{"ProdSet default/shop: 0 of 1 replacements available"},
		},
		{
			name: "surge admits once the replacements serve",
			in:   AdmitInput{Cluster: "a2", Surge: true, Sets: []SetView{shop(3, append(three, standIn("s-a1-1", "a1", "a2", true))...)}},
			want: Admission{Admit: true},
		},
		{
			name: "surge without room: admitted when the minimum holds anyway",
			in:   AdmitInput{Cluster: "a2", Surge: true, Sets: []SetView{{Name: "default/shop", MinServing: 2, Unplaced: 1, Prods: three}}},
			want: Admission{Admit: true},
		},
		{
			name: "surge without room and the minimum would break: keeps waiting",
			in:   AdmitInput{Cluster: "a2", Surge: true, Sets: []SetView{{Name: "default/shop", MinServing: 3, Unplaced: 1, Prods: three}}},
			want: Admission{Surging: true},
			msg:  []string{"no room for more"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Admit(tc.in)
			if got.Admit != tc.want.Admit || got.Surging != tc.want.Surging {
				t.Errorf("Admit = %+v, want admit %t surging %t", got, tc.want.Admit, tc.want.Surging)
			}
			for _, m := range tc.msg {
				if !strings.Contains(got.Message, m) {
					t.Errorf("message %q does not say %q", got.Message, m)
				}
			}
		})
	}
}
