package plan

import (
	"maps"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestMerge(t *testing.T) {
	avail := func(name string, spec int32) ProdTraffic {
		return ProdTraffic{Name: name, Weight: spec, Available: metav1.ConditionTrue}
	}
	planned := func(weights map[string]int32, evicted map[string]string, del ...string) Result {
		if evicted == nil {
			evicted = map[string]string{}
		}
		return Result{Weights: weights, Evicted: evicted, Delete: del}
	}
	cases := []struct {
		name       string
		in         MergeInput
		want       map[string]Weight
		wantDelete []string
	}{
		{
			name: "the plan's weight, published once available",
			in:   MergeInput{Plan: planned(map[string]int32{"a": 100}, nil), Prods: []ProdTraffic{avail("a", 100)}},
			want: map[string]Weight{"a": {Spec: 100, Publish: 100, Why: WhyPlanned}},
		},
		{
			name: "a Prod the plan evicts is out of traffic, for the plan's reason",
			in: MergeInput{Plan: planned(map[string]int32{"a": 0}, map[string]string{"a": droverv1.EvictedClusterUnreachable}),
				Prods: []ProdTraffic{avail("a", 100)}},
			want: map[string]Weight{"a": {Evicted: droverv1.EvictedClusterUnreachable, Why: droverv1.EvictedClusterUnreachable}},
		},
		{
			name: "a template weight of 0 is no eviction",
			in:   MergeInput{Plan: planned(map[string]int32{"a": 0}, nil), Prods: []ProdTraffic{avail("a", 0)}},
			want: map[string]Weight{"a": {Why: WhyPlanned}},
		},
		{
			name: "a Prod the plan decided nothing for (frozen) keeps its spec weight",
			in:   MergeInput{Plan: Result{Frozen: true}, Prods: []ProdTraffic{avail("a", 40), {Name: "b", Weight: 100, Available: metav1.ConditionFalse}}},
			want: map[string]Weight{"a": {Spec: 40, Publish: 40, Why: WhyUnplanned}, "b": {Spec: 100, Why: WhyUnavailable}},
		},
		{
			name: "a rollout target overrides the plan's weight",
			in: MergeInput{Plan: planned(map[string]int32{"a": 100, "b": 100}, nil),
				Rollout: &RolloutWeights{Targets: map[string]int32{"a": 10}}, Prods: []ProdTraffic{avail("a", 100), avail("b", 100)}},
			want: map[string]Weight{"a": {Spec: 10, Publish: 10, Why: WhyRolloutStep}, "b": {Spec: 100, Publish: 100, Why: WhyPlanned}},
		},
		{
			name: "a rollout target of 0 evicts for the rollout",
			in: MergeInput{Plan: planned(map[string]int32{"a": 100}, nil),
				Rollout: &RolloutWeights{Targets: map[string]int32{"a": 0}}, Prods: []ProdTraffic{avail("a", 100)}},
			want: map[string]Weight{"a": {Evicted: droverv1.EvictedRollout, Why: droverv1.EvictedRollout}},
		},
		{
			name: "a Prod the plan took out stays out whatever the rollout says",
			in: MergeInput{Plan: planned(map[string]int32{"a": 0}, map[string]string{"a": droverv1.EvictedClusterMaintenance}),
				Rollout: &RolloutWeights{Targets: map[string]int32{"a": 100}}, Prods: []ProdTraffic{avail("a", 0)}},
			want: map[string]Weight{"a": {Evicted: droverv1.EvictedClusterMaintenance, Why: droverv1.EvictedClusterMaintenance}},
		},
		{
			name: "a retired Prod leaves traffic and joins the plan's deletions once",
			in: MergeInput{Plan: planned(map[string]int32{"a": 100, "b": 0, "c": 100}, map[string]string{"b": droverv1.EvictedRetiring}, "b"),
				Rollout: &RolloutWeights{Targets: map[string]int32{"a": 100}, Retire: []string{"a", "b"}},
				Prods:   []ProdTraffic{avail("a", 100), avail("b", 0), avail("c", 100)}},
			want: map[string]Weight{
				"a": {Evicted: droverv1.EvictedRetiring, Why: droverv1.EvictedRetiring},
				"b": {Evicted: droverv1.EvictedRetiring, Why: droverv1.EvictedRetiring},
				"c": {Spec: 100, Publish: 100, Why: WhyPlanned},
			},
			wantDelete: []string{"b", "a"},
		},
		{
			name: "a retired Prod the plan does not know is deleted, its weight left alone",
			in: MergeInput{Plan: planned(map[string]int32{}, nil),
				Rollout: &RolloutWeights{Retire: []string{"a"}}, Prods: []ProdTraffic{avail("a", 100)}},
			want:       map[string]Weight{"a": {Spec: 100, Publish: 100, Why: WhyUnplanned}},
			wantDelete: []string{"a"},
		},
		{
			name: "held at 0 until available",
			in: MergeInput{Plan: planned(map[string]int32{"a": 100}, nil),
				Prods: []ProdTraffic{{Name: "a", Weight: 100, Available: metav1.ConditionFalse, Published: ptr.To[int32](100)}}},
			want: map[string]Weight{"a": {Spec: 100, Why: WhyUnavailable}},
		},
		{
			name: "availability unknown: DNS keeps what it has, at most the wanted weight",
			in: MergeInput{Plan: planned(map[string]int32{"a": 100, "b": 10, "c": 100}, nil),
				Rollout: &RolloutWeights{Targets: map[string]int32{"b": 10}},
				Prods: []ProdTraffic{
					{Name: "a", Weight: 100, Available: metav1.ConditionUnknown, Published: ptr.To[int32](50)},
					{Name: "b", Weight: 100, Published: ptr.To[int32](100)},
					{Name: "c", Weight: 100},
				}},
			want: map[string]Weight{
				"a": {Spec: 100, Publish: 50, Why: WhyAvailabilityUnknown},
				"b": {Spec: 10, Publish: 10, Why: WhyAvailabilityUnknown},
				"c": {Spec: 100, Why: WhyAvailabilityUnknown},
			},
		},
		{
			name: "held at 0 without a routable endpoint, whatever the availability",
			in: MergeInput{Plan: planned(map[string]int32{"a": 100, "b": 100, "c": 0}, map[string]string{"c": droverv1.EvictedClusterMaintenance}),
				Prods: []ProdTraffic{
					{Name: "a", Weight: 100, Available: metav1.ConditionTrue, NoEndpoint: true},
					{Name: "b", Weight: 100, Published: ptr.To[int32](100), NoEndpoint: true},
					{Name: "c", Weight: 100, Available: metav1.ConditionTrue, NoEndpoint: true},
				}},
			want: map[string]Weight{
				"a": {Spec: 100, Why: WhyNoEndpoint},
				"b": {Spec: 100, Why: WhyNoEndpoint},
				"c": {Evicted: droverv1.EvictedClusterMaintenance, Why: droverv1.EvictedClusterMaintenance},
			},
		},
		{
			name: "an eviction goes through whatever the availability",
			in: MergeInput{Plan: planned(map[string]int32{"a": 0}, map[string]string{"a": droverv1.EvictedClusterUnreachable}),
				Prods: []ProdTraffic{{Name: "a", Weight: 100, Published: ptr.To[int32](100)}}},
			want: map[string]Weight{"a": {Evicted: droverv1.EvictedClusterUnreachable, Why: droverv1.EvictedClusterUnreachable}},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := Merge(tc.in)
			if !maps.Equal(got.Prods, tc.want) {
				t.Errorf("weights:\n got  %+v\n want %+v", got.Prods, tc.want)
			}
			wantDelete := tc.wantDelete
			if wantDelete == nil {
				wantDelete = tc.in.Plan.Delete
			}
			if !slices.Equal(got.Delete, wantDelete) {
				t.Errorf("delete: got %v, want %v", got.Delete, wantDelete)
			}
		})
	}
}

// Merge leaves the plan it was given as it was: the rollout reads the plan's weights.
func TestMergeLeavesThePlanAlone(t *testing.T) {
	res := Result{Weights: map[string]int32{"a": 100}, Evicted: map[string]string{}, Delete: []string{"b"}}
	Merge(MergeInput{Plan: res, Rollout: &RolloutWeights{Targets: map[string]int32{"a": 0}, Retire: []string{"a"}},
		Prods: []ProdTraffic{{Name: "a", Weight: 100}}})
	if res.Weights["a"] != 100 || len(res.Evicted) != 0 || !slices.Equal(res.Delete, []string{"b"}) {
		t.Errorf("the plan changed: %+v", res)
	}
}
