// Package placement decides which workload clusters the Prods of a ProdSet run on.
//
// Decide is a pure, deterministic function of its Input: no client, no clock, no map
// iteration order leaks into the result, and the order of Input.Clusters and
// Input.Existing does not matter. It only says what should be; the ProdSet controller
// acts on it and owns every safety decision that needs time or the wider view:
//
//   - Prods on clusters that are not eligible (unreachable, in maintenance, not ready,
//     no longer selected, gone) are reported as Displaced, never as Remove. Whether and
//     when they are drained and deleted (the unreachable toleration, the serving minimum)
//     is the controller's call; Decide is never the reason something is deleted on an
//     unreachable cluster.
//   - Replacements for Displaced Prods are part of Add. Add is ordered and every prefix of
//     it is itself a well-spread placement (Decide with Replicas = len(Keep)+k keeps and
//     removes the same and adds exactly Add[:k]), so the controller may act on only part
//     of it, for instance hold back the replacements while the toleration runs.
//   - Freezing when most clusters look unreachable (maxUnreachablePercent) happens before
//     the controller acts on a Decision; Decide does not know the threshold.
//
// The rules:
//
//  1. A cluster is eligible when it matches the selector, is Ready and Reachable and is not
//     in Maintenance. A name listed more than once is not eligible (Cluster API Cluster
//     names are unique in a namespace, so this is a caller's bug, not a choice to guess).
//  2. Existing Prods on eligible clusters are kept where they are. When a cluster holds
//     more than MaxPerCluster of them, the ones with the highest names go. When more than
//     Replicas are left, Prods go one at a time from the topology value with the most
//     Prods (ties: highest value), within it from the cluster with the most Prods (ties:
//     highest name), the Prod with the highest name first. This is the reverse of how Add
//     chooses, so scaling up and back down returns to where it started.
//  3. New Prods, up to Replicas counting only the kept ones, go one at a time to the
//     topology value with the fewest Prods (kept and already added; ties: lowest value)
//     that still has a cluster below MaxPerCluster, and within it to the cluster with the
//     fewest Prods (ties: lowest name) below MaxPerCluster. The spread is best effort:
//     when a value's clusters are full, the rest go to other values rather than stay
//     unplaced. So len(Keep)+len(Add) = min(Replicas, eligible clusters × MaxPerCluster).
//  4. Kept Prods never move: adding a cluster, or a topology value, only changes where new
//     Prods go.
//
// Topology: clusters whose TopologyKey label is missing (or empty) form one group of their
// own, keyed "", spread against like any other value; it sorts before every other value,
// so it wins ties. With TopologyKey "" every cluster is in that group and Prods are
// spread across clusters only.
package placement

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/labels"
)

// Cluster is a workload cluster as the ProdSet controller sees it.
type Cluster struct {
	// Name of the Cluster API Cluster.
	Name string
	// Labels of the Cluster; matched by Input.Selector and read for Input.TopologyKey.
	Labels map[string]string
	// Ready: the cluster is provisioned and not being deleted.
	Ready bool
	// Reachable: drover's connection to the cluster's API server is healthy.
	Reachable bool
	// Maintenance: the platform team has taken the cluster out for maintenance.
	Maintenance bool
}

// Placed is an existing Prod of the set and the cluster it runs on.
type Placed struct {
	Prod    string
	Cluster string
}

// Input is everything Decide looks at.
type Input struct {
	// Replicas wanted; below 0 counts as 0.
	Replicas int
	// Selector picks the clusters that may host Prods; nil selects every cluster, as an
	// empty clusterSelector does. From the API:
	// metav1.LabelSelectorAsSelector(spec.placement.clusterSelector.AsMetav1()).
	Selector labels.Selector
	// TopologyKey is the cluster label whose values Prods are spread across; "" spreads
	// across clusters only.
	TopologyKey string
	// MaxPerCluster is the most Prods of the set on one cluster; below 1 counts as 1 (the
	// API's default).
	MaxPerCluster int
	// Clusters known, in any order.
	Clusters []Cluster
	// Existing Prods of the set, in any order.
	Existing []Placed
}

// Decision is what Decide concluded. Keep, Remove and Displaced partition Input.Existing.
type Decision struct {
	// Keep: existing Prods that stay where they are, by Prod name.
	Keep []Placed
	// Add: the cluster of each new Prod, one entry per Prod, in the order chosen.
	Add []string
	// Remove: existing Prods on eligible clusters that are too many (over MaxPerCluster on
	// their cluster, or over Replicas), in the order they should go.
	Remove []Placed
	// Displaced: existing Prods on clusters that are not eligible (or not known), by Prod
	// name. Decide neither keeps nor removes them; Add places replacements for them.
	Displaced []Placed
	// Unplaced is how many of Replicas found no room.
	Unplaced int
	// Reason says why some Prods are unplaced, for a condition message; "" when all are
	// placed.
	Reason string
}

// maxExcludedListed bounds how many excluded clusters Reason names.
const maxExcludedListed = 5

type group struct {
	value    string
	clusters []*node // by name
	count    int     // Prods on the group's clusters: kept and added
}

type node struct {
	name  string
	kept  []Placed // by Prod name
	count int      // len(kept) + Prods added here
}

func (n *node) full(maxPer int) bool { return n.count >= maxPer }

func (g *group) full(maxPer int) bool {
	for _, n := range g.clusters {
		if !n.full(maxPer) {
			return false
		}
	}
	return true
}

// Decide places in.Replicas Prods on in.Clusters; see the package documentation for the
// rules.
func Decide(in Input) Decision {
	replicas := max(in.Replicas, 0)
	maxPer := max(in.MaxPerCluster, 1)
	sel := in.Selector
	if sel == nil {
		sel = labels.Everything()
	}
	t := eligible(in.Clusters, sel, in.TopologyKey)

	var d Decision
	d.Displaced = t.seat(in.Existing)
	kept := t.trim(maxPer, &d)
	kept = t.shrink(kept, replicas, &d)
	t.grow(kept, replicas, maxPer, &d)

	for _, g := range t.order {
		for _, n := range g.clusters {
			d.Keep = append(d.Keep, n.kept...)
		}
	}
	slices.SortFunc(d.Keep, comparePlaced)

	if d.Unplaced > 0 {
		d.Reason = reason(replicas, d.Unplaced, t.distinct, len(t.nodes), t.notSelected, maxPer, t.excluded)
	}
	return d
}

// topology is the eligible clusters, grouped by topology value, and why the others are
// not eligible.
type topology struct {
	// order is the groups by value; nodes the eligible clusters by name.
	order []*group
	nodes map[string]*node
	// excluded: "name (why)", by name.
	excluded []string
	// distinct counts the clusters by name; notSelected those the selector does not match.
	distinct, notSelected int
}

// eligible groups the eligible clusters, in name order, by topology value.
func eligible(in []Cluster, sel labels.Selector, topologyKey string) *topology {
	clusters := slices.Clone(in)
	slices.SortStableFunc(clusters, func(a, b Cluster) int { return strings.Compare(a.Name, b.Name) })
	t := &topology{nodes: map[string]*node{}}
	groups := map[string]*group{}
	for i := 0; i < len(clusters); {
		j := i + 1
		for j < len(clusters) && clusters[j].Name == clusters[i].Name {
			j++
		}
		c, listed := clusters[i], j-i
		i = j
		t.distinct++
		if c.Name != "" && listed == 1 && !sel.Matches(labels.Set(c.Labels)) {
			t.notSelected++
			continue
		}
		if why := ineligible(c, listed); len(why) > 0 {
			t.excluded = append(t.excluded, fmt.Sprintf("%s (%s)", c.Name, strings.Join(why, ", ")))
			continue
		}
		value := ""
		if topologyKey != "" {
			value = c.Labels[topologyKey]
		}
		g := groups[value]
		if g == nil {
			g = &group{value: value}
			groups[value] = g
		}
		n := &node{name: c.Name}
		g.clusters = append(g.clusters, n)
		t.nodes[c.Name] = n
	}
	t.order = make([]*group, 0, len(groups))
	for _, g := range groups {
		t.order = append(t.order, g)
	}
	slices.SortFunc(t.order, func(a, b *group) int { return strings.Compare(a.value, b.value) })
	return t
}

// ineligible says why a selected cluster, listed that many times, is not eligible.
func ineligible(c Cluster, listed int) []string {
	switch {
	case c.Name == "":
		return []string{"no name"}
	case listed > 1:
		return []string{fmt.Sprintf("listed %d times", listed)}
	}
	var why []string
	if !c.Ready {
		why = append(why, "not ready")
	}
	if !c.Reachable {
		why = append(why, "unreachable")
	}
	if c.Maintenance {
		why = append(why, "in maintenance")
	}
	return why
}

// seat keeps the existing Prods on eligible clusters and returns the others, displaced.
func (t *topology) seat(existing []Placed) []Placed {
	var displaced []Placed
	existing = slices.Clone(existing)
	slices.SortFunc(existing, comparePlaced)
	for _, p := range existing {
		n := t.nodes[p.Cluster]
		if n == nil {
			displaced = append(displaced, p)
			continue
		}
		n.kept = append(n.kept, p)
	}
	return displaced
}

// trim keeps at most maxPer on a cluster, the highest names going, and returns how many
// are kept.
func (t *topology) trim(maxPer int, d *Decision) int {
	kept := 0
	for _, g := range t.order {
		for _, n := range g.clusters {
			if len(n.kept) > maxPer {
				extra := n.kept[maxPer:]
				for k := len(extra) - 1; k >= 0; k-- {
					d.Remove = append(d.Remove, extra[k])
				}
				n.kept = n.kept[:maxPer]
			}
			n.count = len(n.kept)
			g.count += n.count
			kept += n.count
		}
	}
	return kept
}

// shrink keeps at most replicas: from the most crowded value, cluster, then the highest
// name. It returns how many are kept.
func (t *topology) shrink(kept, replicas int, d *Decision) int {
	for ; kept > replicas; kept-- {
		var g *group
		for _, c := range t.order {
			if g == nil || c.count >= g.count {
				g = c
			}
		}
		var n *node
		for _, c := range g.clusters {
			if n == nil || c.count >= n.count {
				n = c
			}
		}
		last := len(n.kept) - 1
		d.Remove = append(d.Remove, n.kept[last])
		n.kept = n.kept[:last]
		n.count--
		g.count--
	}
	return kept
}

// grow places new Prods up to replicas: to the least crowded value, then cluster, with
// room.
func (t *topology) grow(kept, replicas, maxPer int, d *Decision) {
	for placed := kept; placed < replicas; placed++ {
		var g *group
		for _, c := range t.order {
			if !c.full(maxPer) && (g == nil || c.count < g.count) {
				g = c
			}
		}
		if g == nil {
			d.Unplaced = replicas - placed
			return
		}
		var n *node
		for _, c := range g.clusters {
			if !c.full(maxPer) && (n == nil || c.count < n.count) {
				n = c
			}
		}
		d.Add = append(d.Add, n.name)
		n.count++
		g.count++
	}
}

func comparePlaced(a, b Placed) int {
	return cmp.Or(strings.Compare(a.Prod, b.Prod), strings.Compare(a.Cluster, b.Cluster))
}

// reason explains why unplaced of replicas Prods found no room.
func reason(replicas, unplaced, known, eligible, notSelected, maxPer int, excluded []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "placed %d of %d: ", replicas-unplaced, replicas)
	switch {
	case known == 0:
		b.WriteString("no clusters")
		return b.String()
	case notSelected == known:
		fmt.Fprintf(&b, "no cluster matches the cluster selector (%d %s)", known, plural(known, "cluster"))
		return b.String()
	case eligible == 0:
		b.WriteString("no eligible cluster")
	default:
		fmt.Fprintf(&b, "%d eligible %s, all at maxPerCluster %d", eligible, plural(eligible, "cluster"), maxPer)
	}
	if len(excluded) > 0 {
		fmt.Fprintf(&b, "; excluded: %s", strings.Join(excluded[:min(len(excluded), maxExcludedListed)], ", "))
		if more := len(excluded) - maxExcludedListed; more > 0 {
			fmt.Fprintf(&b, " and %d more", more)
		}
	}
	if notSelected > 0 {
		fmt.Fprintf(&b, "; %d not selected", notSelected)
	}
	return b.String()
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}
