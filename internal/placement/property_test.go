package placement_test

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/drover-dev/drover/internal/placement"
)

// randomInput draws a small input: up to 8 clusters over 3 regions (or none) and 2
// providers, some not ready, unreachable, in maintenance or listed twice; a selector;
// up to 11 existing Prods, some on clusters that are gone.
func randomInput(t testing.TB, r *rand.Rand) placement.Input {
	selectors := []string{"", "tier=prod", "tier!=dev", region + " in (eu,us)", provider}
	in := placement.Input{
		Replicas:      r.IntN(14) - 1,
		MaxPerCluster: r.IntN(4),
		TopologyKey:   []string{"", region, provider}[r.IntN(3)],
	}
	if s := r.IntN(len(selectors) + 1); s < len(selectors) {
		in.Selector = sel(t, selectors[s])
	}
	var names []string
	for _, i := range r.Perm(10)[:r.IntN(9)] {
		names = append(names, fmt.Sprintf("c%d", i))
	}
	for _, name := range names {
		c := placement.Cluster{
			Name:        name,
			Labels:      map[string]string{},
			Ready:       r.IntN(8) != 0,
			Reachable:   r.IntN(6) != 0,
			Maintenance: r.IntN(8) == 0,
		}
		if v := []string{"eu", "us", "ap", ""}[r.IntN(5)%4]; v != "" {
			c.Labels[region] = v
		}
		c.Labels[provider] = []string{"openstack", "aws"}[r.IntN(2)]
		c.Labels["tier"] = []string{"prod", "dev"}[r.IntN(2)]
		in.Clusters = append(in.Clusters, c)
		if r.IntN(25) == 0 {
			in.Clusters = append(in.Clusters, c)
		}
	}
	for _, i := range r.Perm(20)[:r.IntN(12)] {
		cluster := "gone"
		if len(names) > 0 && r.IntN(8) != 0 {
			cluster = names[r.IntN(len(names))]
		}
		in.Existing = append(in.Existing, pl(fmt.Sprintf("p%02d", i), cluster))
	}
	return in
}

// facts are what the invariants are checked against, computed independently of Decide.
type facts struct {
	replicas, maxPer int
	eligible         map[string]string // eligible cluster → its topology value
}

func factsOf(in placement.Input) facts {
	f := facts{replicas: max(in.Replicas, 0), maxPer: max(in.MaxPerCluster, 1), eligible: map[string]string{}}
	s := in.Selector
	if s == nil {
		s = labels.Everything()
	}
	listed := map[string]int{}
	for _, c := range in.Clusters {
		listed[c.Name]++
	}
	for _, c := range in.Clusters {
		if listed[c.Name] == 1 && s.Matches(labels.Set(c.Labels)) && c.Ready && c.Reachable && !c.Maintenance {
			f.eligible[c.Name] = ""
			if in.TopologyKey != "" {
				f.eligible[c.Name] = c.Labels[in.TopologyKey]
			}
		}
	}
	return f
}

func sortedPlaced(ps ...[]placement.Placed) []placement.Placed {
	out := slices.Concat(ps...)
	slices.SortFunc(out, func(a, b placement.Placed) int {
		return cmp.Or(strings.Compare(a.Prod, b.Prod), strings.Compare(a.Cluster, b.Cluster))
	})
	return out
}

func checkInvariants(t *testing.T, in placement.Input, d placement.Decision) {
	t.Helper()
	f := factsOf(in)

	// Keep, Remove and Displaced partition Existing; Displaced is exactly what runs on
	// clusters that are not eligible; Keep is sorted.
	if got, want := sortedPlaced(d.Keep, d.Remove, d.Displaced), sortedPlaced(in.Existing); !slices.Equal(got, want) {
		t.Errorf("Keep+Remove+Displaced = %v, want Existing %v", got, want)
	}
	var displaced []placement.Placed
	candidates := map[string][]placement.Placed{} // existing Prods per eligible cluster
	for _, p := range in.Existing {
		if _, ok := f.eligible[p.Cluster]; ok {
			candidates[p.Cluster] = append(candidates[p.Cluster], p)
		} else {
			displaced = append(displaced, p)
		}
	}
	if got, want := d.Displaced, sortedPlaced(displaced); !slices.Equal(got, want) {
		t.Errorf("Displaced = %v, want %v", got, want)
	}
	if !slices.Equal(d.Keep, sortedPlaced(d.Keep)) {
		t.Errorf("Keep %v is not sorted", d.Keep)
	}

	// Never more than maxPer on a cluster, never onto a cluster that is not eligible, and
	// exactly min(replicas, capacity) placed.
	count := map[string]int{}
	for _, p := range d.Keep {
		count[p.Cluster]++
	}
	for _, c := range d.Add {
		if _, ok := f.eligible[c]; !ok {
			t.Errorf("Add %q: not an eligible cluster (eligible: %v)", c, f.eligible)
		}
		count[c]++
	}
	for c, n := range count {
		if n > f.maxPer {
			t.Errorf("cluster %s holds %d Prods, more than maxPerCluster %d", c, n, f.maxPer)
		}
	}
	placed := len(d.Keep) + len(d.Add)
	if want := min(f.replicas, len(f.eligible)*f.maxPer); placed != want {
		t.Errorf("placed %d (keep %d + add %d), want min(replicas %d, capacity %d)",
			placed, len(d.Keep), len(d.Add), f.replicas, len(f.eligible)*f.maxPer)
	}
	if d.Unplaced != f.replicas-placed {
		t.Errorf("Unplaced = %d, want %d", d.Unplaced, f.replicas-placed)
	}
	if (d.Reason == "") != (d.Unplaced == 0) {
		t.Errorf("Reason = %q with Unplaced = %d", d.Reason, d.Unplaced)
	}

	// Remove only on eligible clusters and only what must go: the kept Prods are as many
	// as the caps and replicas allow, and on each cluster the highest names go.
	capped := 0
	for _, ps := range candidates {
		capped += min(len(ps), f.maxPer)
	}
	if len(d.Keep) != min(capped, f.replicas) {
		t.Errorf("kept %d, want min(%d existing within maxPerCluster, replicas %d)", len(d.Keep), capped, f.replicas)
	}
	for _, p := range d.Remove {
		if _, ok := f.eligible[p.Cluster]; !ok {
			t.Errorf("Remove %v: on a cluster that is not eligible", p)
		}
		for _, k := range d.Keep {
			if k.Cluster == p.Cluster && k.Prod > p.Prod {
				t.Errorf("Remove %v but Keep %v on the same cluster: the highest name goes first", p, k)
			}
		}
	}

	// Spread. value: Prods per topology value; full: every cluster of the value is at maxPer.
	value, full := map[string]int{}, map[string]bool{}
	for c, v := range f.eligible {
		value[v] += count[c]
		full[v] = true
	}
	for c, v := range f.eligible {
		if count[c] < f.maxPer {
			full[v] = false
		}
	}
	// A value (cluster) that got a new Prod has at most one more than any value (cluster
	// of the same value) that still had room: the greedy never skipped a less crowded one.
	addedTo := map[string]bool{}
	for _, c := range d.Add {
		addedTo[c] = true
	}
	for c := range addedTo {
		u := f.eligible[c]
		for v := range value {
			if !full[v] && value[u] > value[v]+1 {
				t.Errorf("added to %s (value %q, %d Prods) while value %q had room with %d", c, u, value[u], v, value[v])
			}
		}
		for o, v := range f.eligible {
			if v == u && count[o] < f.maxPer && count[c] > count[o]+1 {
				t.Errorf("added to %s (%d Prods) while %s in the same value had room with %d", c, count[c], o, count[o])
			}
		}
	}
	// From nothing, with no cap binding, the values differ by at most one.
	if len(d.Keep) == 0 && len(value) > 0 && !slices.ContainsFunc(mapsValues(count), func(n int) bool { return n >= f.maxPer }) {
		lo, hi := f.replicas, 0
		for _, n := range value {
			lo, hi = min(lo, n), max(hi, n)
		}
		if hi-lo > 1 {
			t.Errorf("no cap binding, yet Prods per value range from %d to %d: %v", lo, hi, value)
		}
	}
	// Scaling down takes from the most crowded value: a value that lost Prods beyond its
	// clusters' excess over maxPer has at most one fewer than any other.
	excess, removed := map[string]int{}, map[string]int{}
	for c, ps := range candidates {
		excess[f.eligible[c]] += max(len(ps)-f.maxPer, 0)
	}
	for _, p := range d.Remove {
		removed[f.eligible[p.Cluster]]++
	}
	for u := range value {
		if removed[u] > excess[u] {
			for v := range value {
				if value[v] > value[u]+1 {
					t.Errorf("scaled down value %q to %d while value %q keeps %d", u, value[u], v, value[v])
				}
			}
		}
	}
	if len(d.Add) > 0 && len(d.Keep) != capped {
		t.Errorf("adds %v while removing %d Prods beyond the caps", d.Add, capped-len(d.Keep))
	}
}

func mapsValues(m map[string]int) []int {
	out := make([]int, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// TestDecideProperties checks invariants over random inputs drawn from a fixed seed, so
// a failure reproduces; the case number and input are in the message.
func TestDecideProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(2024, 6))
	for i := range 500 {
		in := randomInput(t, r)
		t.Run(fmt.Sprintf("case%03d", i), func(t *testing.T) {
			d := placement.Decide(in)
			checkInvariants(t, in, d)

			// Input order does not matter.
			shuffled := shuffleInput(r, in)
			if got := placement.Decide(shuffled); !reflect.DeepEqual(got, d) {
				t.Errorf("shuffled input: %+v, want %+v", got, d)
			}

			// A new ready cluster moves no running Prod.
			grown := in
			grown.Clusters = append(slices.Clone(in.Clusters), placement.Cluster{
				Name: "a-new", Ready: true, Reachable: true,
				Labels: map[string]string{region: "us", provider: "aws", "tier": "prod"},
			})
			g := placement.Decide(grown)
			if !slices.Equal(g.Keep, d.Keep) || !slices.Equal(g.Remove, d.Remove) || !slices.Equal(g.Displaced, d.Displaced) {
				t.Errorf("with a new cluster: keep %v remove %v displaced %v, want keep %v remove %v displaced %v",
					g.Keep, g.Remove, g.Displaced, d.Keep, d.Remove, d.Displaced)
			}

			// Every prefix of Add is what fewer replicas would add.
			for k := range len(d.Add) {
				fewer := in
				fewer.Replicas = len(d.Keep) + k
				p := placement.Decide(fewer)
				if !slices.Equal(p.Add, d.Add[:k]) || !slices.Equal(p.Keep, d.Keep) || !slices.Equal(p.Remove, d.Remove) {
					t.Errorf("replicas %d: add %v keep %v remove %v, want add %v keep %v remove %v",
						fewer.Replicas, p.Add, p.Keep, p.Remove, d.Add[:k], d.Keep, d.Remove)
				}
			}
			if t.Failed() {
				t.Logf("input: %+v", in)
			}
		})
	}
}
