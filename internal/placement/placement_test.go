package placement_test

import (
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/drover-dev/drover/internal/placement"
)

// cl is a ready, reachable cluster with labels given as "key=value".
func cl(name string, kv ...string) placement.Cluster {
	c := placement.Cluster{Name: name, Ready: true, Reachable: true, Labels: map[string]string{}}
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		c.Labels[k] = v
	}
	return c
}

func notReady(c placement.Cluster) placement.Cluster    { c.Ready = false; return c }
func unreachable(c placement.Cluster) placement.Cluster { c.Reachable = false; return c }
func maintenance(c placement.Cluster) placement.Cluster { c.Maintenance = true; return c }

func pl(prod, cluster string) placement.Placed { return placement.Placed{Prod: prod, Cluster: cluster} }

func sel(t testing.TB, s string) labels.Selector {
	t.Helper()
	l, err := labels.Parse(s)
	if err != nil {
		t.Fatalf("selector %q: %v", s, err)
	}
	return l
}

// compare reports every field of got that differs from want. Reason is compared by the
// substrings it must contain, and must be empty exactly when everything is placed.
func compare(t *testing.T, got, want placement.Decision, reason []string) {
	t.Helper()
	if !slices.Equal(got.Keep, want.Keep) {
		t.Errorf("Keep = %v, want %v", got.Keep, want.Keep)
	}
	if !slices.Equal(got.Add, want.Add) {
		t.Errorf("Add = %v, want %v", got.Add, want.Add)
	}
	if !slices.Equal(got.Remove, want.Remove) {
		t.Errorf("Remove = %v, want %v", got.Remove, want.Remove)
	}
	if !slices.Equal(got.Displaced, want.Displaced) {
		t.Errorf("Displaced = %v, want %v", got.Displaced, want.Displaced)
	}
	if got.Unplaced != want.Unplaced {
		t.Errorf("Unplaced = %d, want %d", got.Unplaced, want.Unplaced)
	}
	if (got.Reason == "") != (got.Unplaced == 0) {
		t.Errorf("Reason = %q with Unplaced = %d; want a reason exactly when something is unplaced", got.Reason, got.Unplaced)
	}
	for _, s := range reason {
		if !strings.Contains(got.Reason, s) {
			t.Errorf("Reason = %q, want it to contain %q", got.Reason, s)
		}
	}
}

const region = "topology.drover.dev/region"
const provider = "topology.drover.dev/provider"

func TestDecide(t *testing.T) {
	eu := region + "=eu"
	us := region + "=us"
	tests := []struct {
		name   string
		in     placement.Input
		want   placement.Decision
		reason []string // substrings of want.Reason
	}{
		{
			name:   "no clusters at all",
			in:     placement.Input{Replicas: 3, MaxPerCluster: 1},
			want:   placement.Decision{Unplaced: 3},
			reason: []string{"placed 0 of 3", "no clusters"},
		},
		{
			name: "selector matches no cluster: nothing placed, the Prod there displaced",
			in: placement.Input{
				Replicas: 2, MaxPerCluster: 1, Selector: sel(t, "tier=prod"),
				Clusters: []placement.Cluster{cl("a", "tier=dev"), cl("b")},
				Existing: []placement.Placed{pl("p1", "a")},
			},
			want:   placement.Decision{Displaced: []placement.Placed{pl("p1", "a")}, Unplaced: 2},
			reason: []string{"placed 0 of 2", "no cluster matches the cluster selector (2 clusters)"},
		},
		{
			name: "no eligible cluster: each excluded one is named with why",
			in: placement.Input{
				Replicas: 2, MaxPerCluster: 1, Selector: sel(t, eu),
				Clusters: []placement.Cluster{
					unreachable(maintenance(cl("c", eu))), cl("d", us), unreachable(cl("b", eu)), notReady(cl("a", eu)),
				},
			},
			want: placement.Decision{Unplaced: 2},
			reason: []string{
				"no eligible cluster", "a (not ready), b (unreachable), c (unreachable, in maintenance)", "1 not selected",
			},
		},
		{
			name: "many excluded clusters are summarised",
			in: placement.Input{
				Replicas: 1, MaxPerCluster: 1,
				Clusters: []placement.Cluster{
					notReady(cl("a")), notReady(cl("b")), notReady(cl("c")), notReady(cl("d")),
					notReady(cl("e")), notReady(cl("f")), notReady(cl("g")),
				},
			},
			want:   placement.Decision{Unplaced: 1},
			reason: []string{"e (not ready) and 2 more"},
		},
		{
			name: "no topology key: spread across clusters in name order",
			in: placement.Input{
				Replicas: 5, MaxPerCluster: 2,
				Clusters: []placement.Cluster{cl("c", eu), cl("a", eu), cl("b", us)},
			},
			want: placement.Decision{Add: []string{"a", "b", "c", "a", "b"}},
		},
		{
			name: "uneven topology, room for two on the us cluster: 2/2 across regions",
			in: placement.Input{
				Replicas: 4, MaxPerCluster: 2, TopologyKey: region,
				Clusters: []placement.Cluster{cl("eu-1", eu), cl("eu-2", eu), cl("eu-3", eu), cl("us-1", us)},
			},
			want: placement.Decision{Add: []string{"eu-1", "us-1", "eu-2", "us-1"}},
		},
		{
			name: "uneven topology, one per cluster: the spread yields to capacity",
			in: placement.Input{
				Replicas: 4, MaxPerCluster: 1, TopologyKey: region,
				Clusters: []placement.Cluster{cl("eu-1", eu), cl("eu-2", eu), cl("eu-3", eu), cl("us-1", us)},
			},
			want: placement.Decision{Add: []string{"eu-1", "us-1", "eu-2", "eu-3"}},
		},
		{
			name: "uneven topology, more replicas than room: the rest unplaced",
			in: placement.Input{
				Replicas: 5, MaxPerCluster: 1, TopologyKey: region,
				Clusters: []placement.Cluster{cl("eu-1", eu), cl("eu-2", eu), cl("eu-3", eu), cl("us-1", us)},
			},
			want:   placement.Decision{Add: []string{"eu-1", "us-1", "eu-2", "eu-3"}, Unplaced: 1},
			reason: []string{"placed 4 of 5", "4 eligible clusters, all at maxPerCluster 1"},
		},
		{
			name: "seed case: a private OpenStack cloud and AWS share the Prods evenly",
			in: placement.Input{
				Replicas: 4, MaxPerCluster: 2, TopologyKey: provider,
				Clusters: []placement.Cluster{
					cl("os-fra-1", provider+"=openstack"), cl("os-fra-2", provider+"=openstack"), cl("aws-euc1", provider+"=aws"),
				},
			},
			want: placement.Decision{Add: []string{"aws-euc1", "os-fra-1", "aws-euc1", "os-fra-2"}},
		},
		{
			name: "clusters without the topology label (or with it empty) form the group \"\"",
			in: placement.Input{
				Replicas: 4, MaxPerCluster: 1, TopologyKey: region,
				Clusters: []placement.Cluster{cl("a", eu), cl("b"), cl("c", us), cl("d", region+"=")},
			},
			want: placement.Decision{Add: []string{"b", "a", "c", "d"}},
		},
		{
			name: "max per cluster lowered: the highest names on the crowded cluster go, replaced elsewhere",
			in: placement.Input{
				Replicas: 5, MaxPerCluster: 2,
				Clusters: []placement.Cluster{cl("a"), cl("b"), cl("c")},
				Existing: []placement.Placed{pl("p3", "a"), pl("p1", "a"), pl("p4", "a"), pl("p2", "a"), pl("p5", "b")},
			},
			want: placement.Decision{
				Keep:   []placement.Placed{pl("p1", "a"), pl("p2", "a"), pl("p5", "b")},
				Remove: []placement.Placed{pl("p4", "a"), pl("p3", "a")},
				Add:    []string{"c", "b"},
			},
		},
		{
			name: "stability: a new cluster in an empty region does not move running Prods",
			in: placement.Input{
				Replicas: 2, MaxPerCluster: 1, TopologyKey: region,
				Clusters: []placement.Cluster{cl("eu-1", eu), cl("eu-2", eu), cl("us-1", us)},
				Existing: []placement.Placed{pl("p1", "eu-1"), pl("p2", "eu-2")},
			},
			want: placement.Decision{Keep: []placement.Placed{pl("p1", "eu-1"), pl("p2", "eu-2")}},
		},
		{
			name: "stability: a new cluster only receives new Prods",
			in: placement.Input{
				Replicas: 4, MaxPerCluster: 2, TopologyKey: region,
				Clusters: []placement.Cluster{cl("eu-1", eu), cl("eu-2", eu), cl("us-1", us)},
				Existing: []placement.Placed{pl("p1", "eu-1"), pl("p2", "eu-1"), pl("p3", "eu-2")},
			},
			want: placement.Decision{
				Keep: []placement.Placed{pl("p1", "eu-1"), pl("p2", "eu-1"), pl("p3", "eu-2")},
				Add:  []string{"us-1"},
			},
		},
		{
			name: "scale down: most crowded region, then most crowded cluster, then highest name",
			in: placement.Input{
				Replicas: 2, MaxPerCluster: 2, TopologyKey: region,
				Clusters: []placement.Cluster{cl("a", eu), cl("b", eu), cl("c", us)},
				Existing: []placement.Placed{pl("p1", "a"), pl("p2", "a"), pl("p3", "b"), pl("p4", "c")},
			},
			want: placement.Decision{
				Keep:   []placement.Placed{pl("p1", "a"), pl("p4", "c")},
				Remove: []placement.Placed{pl("p2", "a"), pl("p3", "b")},
			},
		},
		{
			name: "scale down ties: the highest region and cluster go first (the reverse of adding)",
			in: placement.Input{
				Replicas: 2, MaxPerCluster: 2, TopologyKey: region,
				Clusters: []placement.Cluster{cl("a", eu), cl("b", eu), cl("c", us), cl("d", us)},
				Existing: []placement.Placed{pl("p1", "a"), pl("p2", "b"), pl("p3", "c"), pl("p4", "d")},
			},
			want: placement.Decision{
				Keep:   []placement.Placed{pl("p1", "a"), pl("p3", "c")},
				Remove: []placement.Placed{pl("p4", "d"), pl("p2", "b")},
			},
		},
		{
			name: "unreachable cluster: its Prod is displaced, not removed, and replaced in the same region",
			in: placement.Input{
				Replicas: 2, MaxPerCluster: 1, TopologyKey: region,
				Clusters: []placement.Cluster{cl("eu-1", eu), cl("eu-2", eu), unreachable(cl("us-1", us)), cl("us-2", us)},
				Existing: []placement.Placed{pl("p1", "eu-1"), pl("p2", "us-1")},
			},
			want: placement.Decision{
				Keep:      []placement.Placed{pl("p1", "eu-1")},
				Displaced: []placement.Placed{pl("p2", "us-1")},
				Add:       []string{"us-2"},
			},
		},
		{
			name: "maintenance, deselected and vanished clusters displace their Prods too",
			in: placement.Input{
				Replicas: 4, MaxPerCluster: 1, Selector: sel(t, "tier!=legacy"),
				Clusters: []placement.Cluster{maintenance(cl("a")), cl("b", "tier=legacy"), cl("c"), cl("d")},
				Existing: []placement.Placed{pl("p1", "a"), pl("p2", "b"), pl("p3", "gone"), pl("p4", "c")},
			},
			want: placement.Decision{
				Keep:      []placement.Placed{pl("p4", "c")},
				Displaced: []placement.Placed{pl("p1", "a"), pl("p2", "b"), pl("p3", "gone")},
				Add:       []string{"d"},
				Unplaced:  2,
			},
			reason: []string{"placed 2 of 4", "2 eligible clusters, all at maxPerCluster 1", "excluded: a (in maintenance)", "1 not selected"},
		},
		{
			name: "replicas 0: every kept Prod is removed, a displaced one is only reported",
			in: placement.Input{
				Replicas: 0, MaxPerCluster: 1,
				Clusters: []placement.Cluster{unreachable(cl("a")), cl("b"), cl("c")},
				Existing: []placement.Placed{pl("p1", "a"), pl("p2", "b"), pl("p3", "c")},
			},
			want: placement.Decision{
				Remove:    []placement.Placed{pl("p3", "c"), pl("p2", "b")},
				Displaced: []placement.Placed{pl("p1", "a")},
			},
		},
		{
			name: "replicas 0 and nothing running: nothing to do",
			in:   placement.Input{MaxPerCluster: 1, Clusters: []placement.Cluster{cl("a")}},
			want: placement.Decision{},
		},
		{
			name: "negative replicas count as 0",
			in: placement.Input{
				Replicas: -1, MaxPerCluster: 1,
				Clusters: []placement.Cluster{cl("a")},
				Existing: []placement.Placed{pl("p1", "a")},
			},
			want: placement.Decision{Remove: []placement.Placed{pl("p1", "a")}},
		},
		{
			name: "nil selector selects every cluster; maxPerCluster 0 means 1",
			in: placement.Input{
				Replicas: 3,
				Clusters: []placement.Cluster{cl("b", "x=y"), cl("a")},
			},
			want:   placement.Decision{Add: []string{"a", "b"}, Unplaced: 1},
			reason: []string{"2 eligible clusters, all at maxPerCluster 1"},
		},
		{
			name: "a cluster name listed twice is not eligible",
			in: placement.Input{
				Replicas: 2, MaxPerCluster: 1,
				Clusters: []placement.Cluster{cl("a"), cl("b"), cl("a")},
				Existing: []placement.Placed{pl("p1", "a")},
			},
			want: placement.Decision{
				Displaced: []placement.Placed{pl("p1", "a")},
				Add:       []string{"b"},
				Unplaced:  1,
			},
			reason: []string{"a (listed 2 times)"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			compare(t, placement.Decide(tc.in), tc.want, tc.reason)
		})
	}
}

// TestDecideScaleUpThenDown: adding Prods one step at a time and then scaling back
// removes the newest first and returns to where it started.
func TestDecideScaleUpThenDown(t *testing.T) {
	in := placement.Input{
		MaxPerCluster: 2, TopologyKey: region,
		Clusters: []placement.Cluster{
			cl("eu-1", region+"=eu"), cl("eu-2", region+"=eu"), cl("us-1", region+"=us"), cl("ap-1", region+"=ap"),
		},
	}
	var history [][]placement.Placed
	for r := 1; r <= 6; r++ {
		in.Replicas = r
		d := placement.Decide(in)
		if len(d.Add) != 1 || len(d.Remove) != 0 {
			t.Fatalf("replicas %d: %+v, want one Prod added", r, d)
		}
		history = append(history, slices.Clone(in.Existing))
		in.Existing = append(in.Existing, pl(string(rune('a'+r)), d.Add[0]))
	}
	for r := 5; r >= 0; r-- {
		in.Replicas = r
		d := placement.Decide(in)
		if !slices.Equal(d.Keep, history[r]) {
			t.Errorf("scaled down to %d: Keep = %v, want %v", r, d.Keep, history[r])
		}
		in.Existing = d.Keep
	}
}

// TestDecideInputOrder: shuffling the clusters and the existing Prods changes nothing.
func TestDecideInputOrder(t *testing.T) {
	eu, us := region+"=eu", region+"=us"
	in := placement.Input{
		Replicas: 6, MaxPerCluster: 2, TopologyKey: region, Selector: sel(t, "tier!=legacy"),
		Clusters: []placement.Cluster{
			cl("eu-1", eu), cl("eu-2", eu), unreachable(cl("eu-3", eu)), cl("us-1", us), cl("us-2", us),
			maintenance(cl("us-3", us)), cl("old", "tier=legacy"), cl("plain"),
		},
		Existing: []placement.Placed{
			pl("p1", "eu-1"), pl("p2", "eu-1"), pl("p3", "eu-3"), pl("p4", "us-3"), pl("p5", "old"), pl("p6", "us-1"),
		},
	}
	want := placement.Decide(in)
	r := rand.New(rand.NewPCG(7, 11))
	for i := range 50 {
		shuffled := shuffleInput(r, in)
		if got := placement.Decide(shuffled); !reflect.DeepEqual(got, want) {
			t.Fatalf("shuffle %d: got %+v, want %+v", i, got, want)
		}
	}
}

// shuffleInput returns in with its clusters and existing Prods in a random order.
func shuffleInput(r *rand.Rand, in placement.Input) placement.Input {
	out := in
	out.Clusters = slices.Clone(in.Clusters)
	out.Existing = slices.Clone(in.Existing)
	r.Shuffle(len(out.Clusters), func(a, b int) { out.Clusters[a], out.Clusters[b] = out.Clusters[b], out.Clusters[a] })
	r.Shuffle(len(out.Existing), func(a, b int) { out.Existing[a], out.Existing[b] = out.Existing[b], out.Existing[a] })
	return out
}
