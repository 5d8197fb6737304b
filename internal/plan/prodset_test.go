package plan

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

var t0 = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

const region = "topology.drover.dev/region"

// fleet is four healthy clusters in two regions: a1, a2 in "a" and b1, b2 in "b".
func fleet(mut ...func(map[string]*Cluster)) []Cluster {
	cs := map[string]*Cluster{}
	for _, n := range []string{"a1", "a2", "b1", "b2"} {
		cs[n] = &Cluster{Name: n, Labels: map[string]string{region: n[:1]}, Ready: true, Reachable: true}
	}
	for _, m := range mut {
		m(cs)
	}
	out := make([]Cluster, 0, len(cs))
	for _, n := range slices.Sorted(maps.Keys(cs)) {
		out = append(out, *cs[n])
	}
	return out
}

func unreachable(name string, since time.Duration) func(map[string]*Cluster) {
	return func(cs map[string]*Cluster) {
		cs[name].Reachable = false
		cs[name].UnreachableSince = t0.Add(-since)
	}
}

func maintenance(name string, m Maintenance, surge bool) func(map[string]*Cluster) {
	return func(cs map[string]*Cluster) { cs[name].Maintenance, cs[name].Surge = m, surge }
}

// serving is a Prod available at weight 100.
func serving(name, cluster string) Prod {
	return Prod{Name: name, Cluster: cluster, Available: true, Weight: 100}
}

func with(p Prod, f func(*Prod)) Prod { f(&p); return p }

func input(replicas int, clusters []Cluster, prods ...Prod) Input {
	return Input{
		Now: t0, Replicas: replicas, TopologyKey: region, MaxPerCluster: 1,
		Grace: 5 * time.Second, Toleration: 5 * time.Minute, MaxUnreachablePercent: 50,
		MinServing: max(replicas-1, 0), Weight: 100, Clusters: clusters, Prods: prods,
	}
}

func four() []Prod {
	return []Prod{serving("s-a1", "a1"), serving("s-a2", "a2"), serving("s-b1", "b1"), serving("s-b2", "b2")}
}

func TestProdSet(t *testing.T) {
	all100 := map[string]int32{"s-a1": 100, "s-a2": 100, "s-b1": 100, "s-b2": 100}
	cases := []struct {
		name string
		in   Input
		want Result // Weights nil: not checked; Evicted nil: none
	}{
		{
			name: "a new set is spread over regions, then clusters",
			in:   input(3, fleet()),
			want: Result{Create: []NewProd{{Cluster: "a1"}, {Cluster: "b1"}, {Cluster: "a2"}}, Weights: map[string]int32{}},
		},
		{
			name: "steady state changes nothing",
			in:   input(4, fleet(), four()...),
			want: Result{Weights: all100, Serving: 4},
		},
		{
			name: "an unreachable cluster within the grace keeps its weight",
			in:   input(4, fleet(unreachable("b2", 2*time.Second)), four()...),
			want: Result{Weights: all100, Serving: 4},
		},
		{
			name: "an unreachable cluster past the grace loses its traffic, nothing is replaced yet",
			in:   input(4, fleet(unreachable("b2", time.Minute)), four()...),
			want: Result{Weights: map[string]int32{"s-a1": 100, "s-a2": 100, "s-b1": 100, "s-b2": 0},
				Evicted: map[string]string{"s-b2": droverv1.EvictedClusterUnreachable}, Serving: 3},
		},
		{
			name: "past the toleration the Prod is superseded and replaced elsewhere",
			in: func() Input {
				in := input(4, fleet(unreachable("b2", 6*time.Minute)), four()...)
				in.MaxPerCluster = 2
				return in
			}(),
			want: Result{Create: []NewProd{{Cluster: "b1"}}, Supersede: []string{"s-b2"},
				Weights: map[string]int32{"s-a1": 100, "s-a2": 100, "s-b1": 100, "s-b2": 0},
				Evicted: map[string]string{"s-b2": droverv1.EvictedClusterUnreachable}, Serving: 3},
		},
		{
			name: "past the toleration with no room: not superseded, still counted",
			in:   input(4, fleet(unreachable("b2", 6*time.Minute)), four()...),
			want: Result{Weights: map[string]int32{"s-a1": 100, "s-a2": 100, "s-b1": 100, "s-b2": 0},
				Evicted: map[string]string{"s-b2": droverv1.EvictedClusterUnreachable}, Serving: 3,
				Unplaced: 1, UnplacedReason: "placed 3 of 4: 3 eligible clusters, all at maxPerCluster 1; excluded: b2 (unreachable)"},
		},
		{
			name: "three of four clusters unreachable: frozen",
			in:   input(4, fleet(unreachable("a1", time.Hour), unreachable("a2", time.Second), unreachable("b1", time.Hour)), four()...),
			want: Result{Frozen: true, Message: "3 of 4 selected clusters are unreachable (a1, a2, b1), more than maxUnreachablePercent 50%: " +
				"drover changes nothing until enough of them are back, as its own network is the likelier fault"},
		},
		{
			name: "half unreachable is not more than 50%: acts",
			in:   input(4, fleet(unreachable("a1", time.Minute), unreachable("b1", time.Minute)), four()...),
			want: Result{Weights: map[string]int32{"s-a1": 0, "s-a2": 100, "s-b1": 0, "s-b2": 100},
				Evicted: map[string]string{"s-a1": droverv1.EvictedClusterUnreachable, "s-b1": droverv1.EvictedClusterUnreachable}, Serving: 2},
		},
		{
			name: "a superseded Prod whose cluster is back is deleted once drained",
			in: func() Input {
				in := input(4, fleet(), serving("s-a1", "a1"), serving("s-a2", "a2"), serving("s-b1", "b1"), serving("s-b1-1", "b1"),
					with(serving("s-b2", "b2"), func(p *Prod) { p.Superseded, p.Weight, p.Drained = true, 0, true }))
				in.MaxPerCluster = 2
				return in
			}(),
			want: Result{Delete: []string{"s-b2"},
				Weights: map[string]int32{"s-a1": 100, "s-a2": 100, "s-b1": 100, "s-b1-1": 100, "s-b2": 0},
				Evicted: map[string]string{"s-b2": droverv1.EvictedSuperseded}, Serving: 4},
		},
		{
			name: "a superseded Prod is not deleted while its cluster is unreachable",
			in: input(1, fleet(unreachable("b2", time.Hour)), serving("s-a1", "a1"),
				with(serving("s-b2", "b2"), func(p *Prod) { p.Superseded, p.Weight, p.Drained = true, 0, true })),
			want: Result{Weights: map[string]int32{"s-a1": 100, "s-b2": 0},
				Evicted: map[string]string{"s-b2": droverv1.EvictedSuperseded}, Serving: 1},
		},
		{
			name: "admitted maintenance without surge: out of traffic, not replaced",
			in:   input(4, fleet(maintenance("a2", Draining, false)), four()...),
			want: Result{Weights: map[string]int32{"s-a1": 100, "s-a2": 0, "s-b1": 100, "s-b2": 100},
				Evicted: map[string]string{"s-a2": droverv1.EvictedClusterMaintenance}, Serving: 3},
		},
		{
			name: "maintenance with surge requested: a replacement first, the Prod still serves",
			in: func() Input {
				in := input(4, fleet(maintenance("a2", SurgeRequested, true)), four()...)
				in.MaxPerCluster = 2
				return in
			}(),
			want: Result{Create: []NewProd{{Cluster: "a1", SurgeFor: "a2"}}, Weights: all100, Serving: 4},
		},
		{
			name: "admitted maintenance with surge: the stand-in serves, the Prod is out",
			in: func() Input {
				in := input(4, fleet(maintenance("a2", Draining, true)), append(four(),
					with(serving("s-a1-1", "a1"), func(p *Prod) { p.SurgeFor = "a2" }))...)
				in.MaxPerCluster = 2
				return in
			}(),
			want: Result{Weights: map[string]int32{"s-a1": 100, "s-a1-1": 100, "s-a2": 0, "s-b1": 100, "s-b2": 100},
				Evicted: map[string]string{"s-a2": droverv1.EvictedClusterMaintenance}, Serving: 4},
		},
		{
			name: "maintenance over: the Prod is back and the stand-in retires in the same plan",
			in: func() Input {
				in := input(4, fleet(), append(four(),
					with(serving("s-a1-1", "a1"), func(p *Prod) { p.SurgeFor = "a2" }))...)
				in.Prods[1].Weight = 0 // s-a2 was out
				in.MaxPerCluster = 2
				return in
			}(),
			want: Result{Weights: map[string]int32{"s-a1": 100, "s-a1-1": 0, "s-a2": 100, "s-b1": 100, "s-b2": 100},
				Evicted: map[string]string{"s-a1-1": droverv1.EvictedRetiring}, Serving: 4},
		},
		{
			name: "a drained stand-in is deleted",
			in: func() Input {
				in := input(4, fleet(), append(four(),
					with(serving("s-a1-1", "a1"), func(p *Prod) { p.SurgeFor, p.Weight, p.Drained = "a2", 0, true }))...)
				in.MaxPerCluster = 2
				return in
			}(),
			want: Result{Delete: []string{"s-a1-1"}, Weights: map[string]int32{"s-a1": 100, "s-a1-1": 0, "s-a2": 100, "s-b1": 100, "s-b2": 100},
				Evicted: map[string]string{"s-a1-1": droverv1.EvictedRetiring}, Serving: 4},
		},
		{
			name: "scale down holds what the serving minimum needs",
			in: func() Input {
				in := input(2, fleet(), four()...)
				in.MinServing = 3
				return in
			}(),
			want: Result{Weights: map[string]int32{"s-a1": 100, "s-a2": 100, "s-b1": 100, "s-b2": 0},
				Evicted: map[string]string{"s-b2": droverv1.EvictedRetiring}, Held: []string{"s-a2"}, Serving: 3},
		},
		{
			name: "a deleting set drains everything and deletes what is drained",
			in: func() Input {
				in := input(2, fleet(), serving("s-a1", "a1"), with(serving("s-b1", "b1"), func(p *Prod) { p.Weight, p.Drained = 0, true }))
				in.Deleting = true
				return in
			}(),
			want: Result{Delete: []string{"s-b1"}, Weights: map[string]int32{"s-a1": 0, "s-b1": 0},
				Evicted: map[string]string{"s-a1": droverv1.EvictedDeleting, "s-b1": droverv1.EvictedDeleting}},
		},
		{
			name: "a Prod deleted by someone is drained and replaced",
			in:   input(2, fleet(), serving("s-a1", "a1"), with(serving("s-b1", "b1"), func(p *Prod) { p.Deleting = true })),
			want: Result{Create: []NewProd{{Cluster: "b1"}}, Weights: map[string]int32{"s-a1": 100, "s-b1": 0},
				Evicted: map[string]string{"s-b1": droverv1.EvictedDeleting}, Serving: 1},
		},
		{
			name: "a cluster no longer selected: replaced, and retired once the minimum allows",
			in: func() Input {
				in := input(2, fleet(func(cs map[string]*Cluster) { cs["b1"].Labels["pool"] = "old" }),
					serving("s-a1", "a1"), serving("s-b1", "b1"))
				in.Selector = mustSelector(t, "pool!=old")
				in.MinServing = 2
				return in
			}(),
			want: Result{Create: []NewProd{{Cluster: "b2"}}, Weights: map[string]int32{"s-a1": 100, "s-b1": 100},
				Held: []string{"s-b1"}, Serving: 2},
		},
		{
			name: "no eligible cluster",
			in:   input(2, fleet(maintenance("a1", Draining, false), maintenance("a2", Draining, false), maintenance("b1", Draining, false), maintenance("b2", Draining, false))),
			want: Result{Weights: map[string]int32{}, Unplaced: 2, UnplacedReason: "placed 0 of 2: no eligible cluster; excluded: a1 (in maintenance), a2 (in maintenance), b1 (in maintenance), b2 (in maintenance)"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := ProdSet(tc.in)
			if got.Frozen != tc.want.Frozen || got.Message != tc.want.Message {
				t.Errorf("frozen = %t %q, want %t %q", got.Frozen, got.Message, tc.want.Frozen, tc.want.Message)
			}
			if !slices.Equal(got.Create, tc.want.Create) {
				t.Errorf("create = %v, want %v", got.Create, tc.want.Create)
			}
			if !slices.Equal(got.Supersede, tc.want.Supersede) {
				t.Errorf("supersede = %v, want %v", got.Supersede, tc.want.Supersede)
			}
			if !slices.Equal(got.Delete, tc.want.Delete) {
				t.Errorf("delete = %v, want %v", got.Delete, tc.want.Delete)
			}
			if !slices.Equal(got.Held, tc.want.Held) {
				t.Errorf("held = %v, want %v", got.Held, tc.want.Held)
			}
			if tc.want.Weights != nil && !maps.Equal(got.Weights, tc.want.Weights) {
				t.Errorf("weights = %v, want %v", got.Weights, tc.want.Weights)
			}
			if tc.want.Evicted == nil {
				tc.want.Evicted = map[string]string{}
			}
			if !tc.want.Frozen && !maps.Equal(got.Evicted, tc.want.Evicted) {
				t.Errorf("evicted = %v, want %v", got.Evicted, tc.want.Evicted)
			}
			if got.Serving != tc.want.Serving {
				t.Errorf("serving = %d, want %d", got.Serving, tc.want.Serving)
			}
			if got.Unplaced != tc.want.Unplaced || got.UnplacedReason != tc.want.UnplacedReason {
				t.Errorf("unplaced = %d %q, want %d %q", got.Unplaced, got.UnplacedReason, tc.want.Unplaced, tc.want.UnplacedReason)
			}
			// Never delete a Prod that still receives traffic.
			for _, name := range got.Delete {
				for _, p := range tc.in.Prods {
					if p.Name == name && !p.Drained {
						t.Errorf("deletes %s, which is not drained", name)
					}
				}
			}
		})
	}
}

func TestMinServing(t *testing.T) {
	i, s := intstr.FromInt32, intstr.FromString
	ptr := func(v intstr.IntOrString) *intstr.IntOrString { return &v }
	cases := []struct {
		replicas      int
		minAv, maxUnv *intstr.IntOrString
		want          int
	}{
		{replicas: 4, want: 3},
		{replicas: 1, want: 0},
		{replicas: 0, want: 0},
		{replicas: 4, minAv: ptr(i(2)), want: 2},
		{replicas: 4, minAv: ptr(i(9)), want: 4},
		{replicas: 5, minAv: ptr(s("50%")), want: 3},
		{replicas: 4, maxUnv: ptr(i(1)), want: 3},
		{replicas: 5, maxUnv: ptr(s("25%")), want: 3},
		{replicas: 2, maxUnv: ptr(i(5)), want: 0},
	}
	for _, tc := range cases {
		got, err := MinServing(tc.replicas, tc.minAv, tc.maxUnv)
		if err != nil || got != tc.want {
			t.Errorf("MinServing(%d, %v, %v) = %d, %v; want %d", tc.replicas, tc.minAv, tc.maxUnv, got, err, tc.want)
		}
	}
	if _, err := MinServing(3, ptr(s("lots")), nil); err == nil || !strings.Contains(err.Error(), "minAvailable") {
		t.Errorf("an invalid minAvailable gives %v", err)
	}
}

func mustSelector(t *testing.T, s string) labels.Selector {
	t.Helper()
	sel, err := labels.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel
}

func TestAReplacementStandsBesideItsOriginal(t *testing.T) {
	replacement := Prod{Name: "s-a1-1", Cluster: "a1", Replaces: "s-a1", Available: true}
	in := input(2, fleet(), serving("s-a1", "a1"), serving("s-b1", "b1"), replacement)
	res := ProdSet(in)
	if len(res.Create) != 0 || len(res.Delete) != 0 || res.Evicted["s-a1-1"] != "" || res.Weights["s-a1-1"] != 100 {
		t.Fatalf("a replacement is neither placed, counted nor retired: %+v", res)
	}
	// Under maintenance it leaves traffic like its original.
	if res := ProdSet(input(2, fleet(maintenance("a1", Draining, false)), serving("s-a1", "a1"), serving("s-b1", "b1"), replacement)); res.Evicted["s-a1-1"] != droverv1.EvictedClusterMaintenance {
		t.Fatalf("evicted %v", res.Evicted)
	}
	// Once the original is gone, it is a Prod like the others.
	res = ProdSet(input(2, fleet(), serving("s-b1", "b1"), with(replacement, func(p *Prod) { p.Weight = 100 })))
	if len(res.Create) != 0 || res.Weights["s-a1-1"] != 100 || len(res.Delete) != 0 {
		t.Fatalf("after the original: %+v", res)
	}
}
