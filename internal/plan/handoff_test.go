package plan

import (
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func TestHandoff(t *testing.T) {
	prods := []HandoffProd{
		{Name: "s-a1", Cluster: "a1", Published: ptr.To[int32](100)},
		{Name: "s-a1-2", Cluster: "a1", Published: ptr.To[int32](0)}, // out already
		{Name: "s-a1-3", Cluster: "a1"},                              // nothing published
		{Name: "s-b1", Cluster: "b1", Published: ptr.To[int32](100)}, // another cluster
		{Name: "s-a1-0", Cluster: "a1", Published: ptr.To[int32](7)},
	}
	if got, want := Handoff("a1", prods), []string{"s-a1", "s-a1-0"}; !slices.Equal(got, want) {
		t.Errorf("Handoff = %v, want %v", got, want)
	}
	if got := Handoff("b2", prods); len(got) != 0 {
		t.Errorf("Handoff of a cluster hosting nothing = %v", got)
	}
}

// TestHandoffAgreesWithTheSetsPlan: every Prod a drain's hand-off takes out of DNS is
// one the set's own plan (ProdSet, then Merge, with or without a rollout moving it)
// publishes at 0 once it sees the maintenance admitted, whatever else holds: surge
// stand-ins, a rollout target, a neighbour unreachable, the set short of its minimum. A
// hand-off that took out a Prod the set keeps in traffic would flap it.
func TestHandoffAgreesWithTheSetsPlan(t *testing.T) {
	standIn := with(serving("s-b1-2", "b1"), func(p *Prod) { p.SurgeFor = "a1" })
	replacement := with(serving("s-a1-2", "a1"), func(p *Prod) { p.Replaces = "s-b1" })
	cases := []struct {
		name     string
		in       Input
		rollout  *RolloutWeights
		prods    []Prod
		cluster  string
		minEvict int
	}{
		{name: "four Prods, one drained", in: input(4, fleet(maintenance("a1", Draining, false)), four()...), cluster: "a1", minEvict: 1},
		{name: "with a surge stand-in ready", in: input(4, fleet(maintenance("a1", Draining, true)), append(four(), standIn)...), cluster: "a1", minEvict: 1},
		{name: "a rollout moving the drained Prod", in: input(4, fleet(maintenance("a1", Draining, false)), four()...), cluster: "a1",
			rollout: &RolloutWeights{Targets: map[string]int32{"s-a1": 50, "s-b1": 50}}, minEvict: 1},
		{name: "a neighbour unreachable", in: input(4, fleet(maintenance("a1", Draining, false), unreachable("b2", 0)), four()...), cluster: "a1", minEvict: 1},
		{name: "a replacement on the drained cluster", in: input(4, fleet(maintenance("a1", Draining, false)), append(four(), replacement)...), cluster: "a1", minEvict: 1},
		{name: "two per cluster", in: func() Input {
			in := input(8, fleet(maintenance("b2", Draining, false)), append(four(), serving("t-a1", "a1"), serving("t-a2", "a2"), serving("t-b1", "b1"), serving("t-b2", "b2"))...)
			in.MaxPerCluster = 2
			return in
		}(), cluster: "b2", minEvict: 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := ProdSet(tc.in)
			var hp []HandoffProd
			var traffic []ProdTraffic
			for _, p := range tc.in.Prods {
				hp = append(hp, HandoffProd{Name: p.Name, Cluster: p.Cluster, Published: ptr.To(p.Weight)})
				traffic = append(traffic, ProdTraffic{Name: p.Name, Weight: p.Weight, Available: metav1.ConditionTrue, Published: ptr.To(p.Weight)})
			}
			merged := Merge(MergeInput{Plan: res, Rollout: tc.rollout, Prods: traffic})
			handed := Handoff(tc.cluster, hp)
			if len(handed) < tc.minEvict {
				t.Fatalf("Handoff = %v, want at least %d Prods", handed, tc.minEvict)
			}
			for _, name := range handed {
				if w := merged.Prods[name]; w.Publish != 0 || w.Evicted == "" {
					t.Errorf("the hand-off takes %s out of DNS, but the set's plan publishes %d for it (%s)", name, w.Publish, w.Why)
				}
			}
		})
	}
}
