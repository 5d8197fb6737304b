package plan

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/safety"
)

// ruled is the set default/shop with a serving minimum of 0 and rules.
func ruled(rules safety.Rules, prods ...ProdView) SetView {
	return SetView{Name: "default/shop", Rules: rules, Prods: prods}
}

func inRegion(p ProdView, region string) ProdView {
	p.Topology = map[string]string{"region": region}
	return p
}

func TestAdmit(t *testing.T) {
	shop := func(minServing int, prods ...ProdView) SetView {
		return SetView{Name: "default/shop", MinServing: minServing, Prods: prods}
	}
	on := func(name, cluster string) ProdView {
		return ProdView{Name: name, Cluster: cluster, Serving: true, Available: true, Weight: 100}
	}
	standIn := func(name, cluster, forCluster string, available bool) ProdView {
		p := ProdView{Name: name, Cluster: cluster, SurgeFor: forCluster, Serving: available, Available: available}
		if available {
			p.Weight = 100
		}
		return p
	}
	three := []ProdView{on("s-a1", "a1"), on("s-a2", "a2"), on("s-b1", "b1")}
	cases := []struct {
		name string
		in   AdmitInput
		want Admission
		msg  []string // substrings of the message
		// notMsg must not be in the message.
		notMsg []string
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
		{
			name: "a safety rule the drain would break refuses it, naming the rule",
			in:   AdmitInput{Cluster: "a2", Sets: []SetView{ruled(safety.Rules{MaxOut: ptr.To[int32](0), Replicas: 3}, three...)}},
			want: Admission{Reason: droverv1.MaintenanceSafetyRuleReason},
			msg:  []string{"refused by safety rules", "ProdSet default/shop: maxOut 0: 1 of 3 replicas would be out of traffic (0 now) (s-a2 100 -> 0)", droverv1.SafetyOverrideAnnotation},
		},
		{
			name: "a region's last Prod: refused by minServingPerTopology",
			in: AdmitInput{Cluster: "b1", Sets: []SetView{ruled(safety.Rules{PerTopology: []safety.TopologyMinimum{{Key: "region", Min: 1}}, Replicas: 3},
				inRegion(on("s-a1", "a1"), "a"), inRegion(on("s-a2", "a2"), "a"), inRegion(on("s-b1", "b1"), "b"))}},
			want: Admission{Reason: droverv1.MaintenanceSafetyRuleReason},
			msg:  []string{"minServingPerTopology region: 0 Prods would serve in region=b"},
		},
		{
			name: "the same drain in a region with two Prods is admitted",
			in: AdmitInput{Cluster: "a2", Sets: []SetView{ruled(safety.Rules{PerTopology: []safety.TopologyMinimum{{Key: "region", Min: 1}}, Replicas: 3},
				inRegion(on("s-a1", "a1"), "a"), inRegion(on("s-a2", "a2"), "a"), inRegion(on("s-b1", "b1"), "b"))}},
			want: Admission{Admit: true},
		},
		{
			name: "with surge, a rule in the way is waited out",
			in: AdmitInput{Cluster: "b1", Surge: true, Sets: []SetView{ruled(safety.Rules{PerTopology: []safety.TopologyMinimum{{Key: "region", Min: 1}}, Replicas: 3},
				inRegion(on("s-a1", "a1"), "a"), inRegion(on("s-a2", "a2"), "a"), inRegion(on("s-b1", "b1"), "b"), inRegion(standIn("s-a1-1", "a1", "b1", true), "a"))}},
			want: Admission{Surging: true, Reason: droverv1.MaintenanceSafetyRuleReason},
			msg:  []string{"waiting before draining cluster b1 for the safety rules of ProdSet default/shop: minServingPerTopology region"},
		},
		{
			name: "a surge stand-in in traffic keeps maxOut 0",
			in: AdmitInput{Cluster: "a2", Surge: true, Sets: []SetView{ruled(safety.Rules{MaxOut: ptr.To[int32](0), Replicas: 3},
				append(three, standIn("s-a1-1", "a1", "a2", true))...)}},
			want: Admission{Admit: true},
		},
		{
			name: "the set's own override lets its rules through",
			in: AdmitInput{Cluster: "a2", Sets: []SetView{func() SetView {
				s := ruled(safety.Rules{MaxOut: ptr.To[int32](0), Replicas: 3}, three...)
				s.Override = true
				return s
			}()}},
			want: Admission{Admit: true},
		},
		{
			name: "one set's override does not lift another set's rules",
			in: AdmitInput{Cluster: "a2", Sets: []SetView{
				func() SetView {
					s := ruled(safety.Rules{MaxOut: ptr.To[int32](0), Replicas: 3}, three...)
					s.Name, s.Override = "tenant-a/shop", true
					return s
				}(),
				func() SetView {
					s := ruled(safety.Rules{MaxOut: ptr.To[int32](0), Replicas: 3}, on("c-a1", "a1"), on("c-a2", "a2"), on("c-b1", "b1"))
					s.Name = "tenant-b/cart"
					return s
				}()}},
			want:   Admission{Reason: droverv1.MaintenanceSafetyRuleReason},
			msg:    []string{"ProdSet tenant-b/cart: maxOut 0"},
			notMsg: []string{"tenant-a/shop"},
		},
		{
			name: "the maintenance's override admits past rules and minimums, and says what it let through",
			in: AdmitInput{Cluster: "a2", Override: "INC-1: hypervisor failing", Sets: []SetView{
				ruled(safety.Rules{MaxOut: ptr.To[int32](0), Replicas: 3}, three...),
				{Name: "other/cart", MinServing: 3, Prods: []ProdView{on("c-a1", "a1"), on("c-a2", "a2"), on("c-b1", "b1")}}}},
			want: Admission{Admit: true},
			msg:  []string{`"INC-1: hypervisor failing"`, "ProdSet other/cart would have 2 serving Prods", "ProdSet default/shop: maxOut 0"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Admit(tc.in)
			if got.Reason != tc.want.Reason && !got.Admit && tc.want.Reason != "" {
				t.Errorf("reason = %q, want %q", got.Reason, tc.want.Reason)
			}
			if (got.Overridden != "") != (tc.in.Override != "" && got.Admit) {
				t.Errorf("overridden = %q with override %q", got.Overridden, tc.in.Override)
			}
			if got.Admit != tc.want.Admit || got.Surging != tc.want.Surging {
				t.Errorf("Admit = %+v, want admit %t surging %t", got, tc.want.Admit, tc.want.Surging)
			}
			for _, m := range tc.msg {
				if !strings.Contains(got.Message, m) {
					t.Errorf("message %q does not say %q", got.Message, m)
				}
			}
			for _, m := range tc.notMsg {
				if strings.Contains(got.Message, m) {
					t.Errorf("message %q says %q", got.Message, m)
				}
			}
		})
	}
}

// What an override lets through is bounded, however many sets are in the way: it is
// written to the ClusterMaintenance's status.overridden (at most 4096 characters).
func TestAdmitOverriddenIsBounded(t *testing.T) {
	var sets []SetView
	for i := range 300 {
		sets = append(sets, SetView{Name: fmt.Sprintf("team-%03d/a-rather-long-service-name", i), MinServing: 2,
			Prods: []ProdView{{Name: "p1", Cluster: "a1", Serving: true, Available: true}, {Name: "p2", Cluster: "b1", Serving: true, Available: true}}})
	}
	got := Admit(AdmitInput{Cluster: "a1", Override: strings.Repeat("r", 256), Sets: sets})
	if !got.Admit || len(got.Overridden) > 4096 || !strings.Contains(got.Overridden, "more characters)") {
		t.Errorf("Admit = admit %t, overridden of %d characters: %q...", got.Admit, len(got.Overridden), got.Overridden[:min(len(got.Overridden), 80)])
	}
}
