// Package plan holds the pure decisions of the ProdSet and ClusterMaintenance
// controllers: given what the controller observed and the clock, what should exist, at
// which weight, and what may be deleted. Nothing here talks to an API server; the
// controllers read, call a function of this package, and write what it returned.
package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/placement"
)

// Maintenance is where a cluster is in a ClusterMaintenance.
type Maintenance int

const (
	// NoMaintenance: the cluster serves as usual.
	NoMaintenance Maintenance = iota
	// SurgeRequested: a maintenance with surge waits for replacements; the cluster's
	// Prods still serve, and replacements are placed elsewhere.
	SurgeRequested
	// Draining: a maintenance was admitted; the cluster's Prods leave traffic. Surge says
	// whether their replacements stay placed.
	Draining
)

// Cluster is a workload cluster as the ProdSet controller observed it.
type Cluster struct {
	Name   string
	Labels map[string]string
	// Ready: provisioned and not being deleted.
	Ready bool
	// Reachable: drover's connection to it is healthy right now.
	Reachable bool
	// UnreachableSince is when drover first saw it unreachable; zero when reachable.
	UnreachableSince time.Time
	// Maintenance and Surge describe its ClusterMaintenance, if any.
	Maintenance Maintenance
	Surge       bool
}

// Prod is an existing Prod of the set.
type Prod struct {
	Name    string
	Cluster string
	// SurgeFor is the cluster whose maintenance the Prod stands in for ("" for a regular Prod).
	SurgeFor string
	// Replaces is the Prod this one replaces in a Replace rollout ("" for others). While
	// that Prod exists, this one stands beside it: not placed, not counted, and never
	// retired by the plan; the rollout decides which of the two goes.
	Replaces string
	// Superseded: replaced elsewhere after its cluster stayed unreachable too long.
	Superseded bool
	// Deleting: the Prod has a deletion timestamp.
	Deleting bool
	// Available mirrors the Prod's Available condition.
	Available bool
	// Weight is the weight the Prod had after the previous plan (its spec weight).
	Weight int32
	// Drained: no traffic reaches the Prod (weight 0 in sync for a TTL, or nothing is
	// published for it).
	Drained bool
}

// Input is everything ProdSet looks at.
type Input struct {
	Now      time.Time
	Replicas int
	// Selector, TopologyKey and MaxPerCluster are the set's placement.
	Selector      labels.Selector
	TopologyKey   string
	MaxPerCluster int
	// Grace is how long a cluster must stay unreachable before its Prods leave traffic;
	// it keeps a blip (or a manager that has just started connecting) from moving weights.
	Grace time.Duration
	// Toleration is how long a cluster may stay unreachable before its Prods are replaced.
	Toleration time.Duration
	// MaxUnreachablePercent: more of the selected clusters unreachable than this freezes
	// the set.
	MaxUnreachablePercent int
	// MinServing is the serving minimum (see MinServing).
	MinServing int
	// Weight is the weight a Prod in traffic gets (the template's).
	Weight int32
	// Deleting: the ProdSet is being deleted; every Prod drains and goes.
	Deleting bool

	Clusters []Cluster
	Prods    []Prod
}

// NewProd is a Prod to create.
type NewProd struct {
	Cluster  string
	SurgeFor string
}

// Result is what ProdSet decided.
type Result struct {
	// Frozen: too many clusters are unreachable; act on nothing below. Message says why.
	Frozen  bool
	Message string

	// Create these Prods.
	Create []NewProd
	// Supersede marks these Prods superseded (their replacements are in Create).
	Supersede []string
	// Delete these Prods: they are drained and no longer wanted.
	Delete []string
	// Weights is the weight every existing Prod should have, by name.
	Weights map[string]int32
	// Evicted says why a Prod is out of traffic, by name (EvictedClusterUnreachable, ...).
	Evicted map[string]string

	// Serving counts available Prods in traffic after this plan.
	Serving int
	// Held lists retirements held back by the serving minimum.
	Held []string
	// Unplaced replicas and why (for the Placed condition).
	Unplaced       int
	UnplacedReason string
}

// MinServing resolves a ProdSet's minAvailable or maxUnavailable, like a
// PodDisruptionBudget's: percentages of replicas round up. With neither, maxUnavailable
// is 1. The result is between 0 and replicas.
func MinServing(replicas int, minAvailable, maxUnavailable *intstr.IntOrString) (int, error) {
	switch {
	case minAvailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(minAvailable, replicas, true)
		if err != nil {
			return 0, fmt.Errorf("minAvailable: %w", err)
		}
		return min(max(n, 0), replicas), nil
	case maxUnavailable != nil:
		n, err := intstr.GetScaledValueFromIntOrPercent(maxUnavailable, replicas, true)
		if err != nil {
			return 0, fmt.Errorf("maxUnavailable: %w", err)
		}
		return min(max(replicas-n, 0), replicas), nil
	default:
		return max(replicas-1, 0), nil
	}
}

// ProdSet decides, for one reconcile, what the set's Prods should be. The rules:
//
//   - Freeze: when more than MaxUnreachablePercent of the selected, ready clusters are
//     unreachable right now, nothing is decided: the control plane's own network is the
//     likelier fault. The controller changes nothing and reports it.
//   - A Prod on a cluster unreachable for longer than Grace leaves traffic (weight 0) at
//     once; it comes back when the cluster does. Nothing is deleted on a cluster while it
//     is unreachable. After Toleration, it is superseded and replaced elsewhere (as far as
//     there is room); when its cluster returns, it is retired.
//   - A Prod on a cluster whose maintenance is admitted leaves traffic. With surge, a
//     replacement (SurgeFor) is placed elsewhere as soon as the maintenance is requested,
//     and retired when the maintenance ends.
//   - Placement (package placement) keeps the rest where they are and says where new
//     Prods go.
//   - Retiring (scale down, a cluster no longer selected, surge replacements no longer
//     needed, superseded Prods back from the dead) takes a Prod to weight 0 and deletes it
//     once drained, never taking the set's serving Prods below MinServing.
//   - A deleting ProdSet takes every Prod to weight 0 and deletes it once drained.
func ProdSet(in Input) Result {
	res := Result{Weights: map[string]int32{}, Evicted: map[string]string{}}
	clusters := map[string]Cluster{}
	for _, c := range in.Clusters {
		clusters[c.Name] = c
	}
	sel := in.Selector
	if sel == nil {
		sel = labels.Everything()
	}

	// Freeze first: with most clusters dark, no conclusion about any of them is safe.
	var selected, dark []string
	for _, c := range in.Clusters {
		if c.Ready && sel.Matches(labels.Set(c.Labels)) {
			selected = append(selected, c.Name)
			if !c.Reachable {
				dark = append(dark, c.Name)
			}
		}
	}
	if len(dark) > 0 && len(dark)*100 > in.MaxUnreachablePercent*len(selected) {
		slices.Sort(dark)
		res.Frozen = true
		res.Message = fmt.Sprintf("%d of %d selected clusters are unreachable (%s), more than maxUnreachablePercent %d%%: "+
			"drover changes nothing until enough of them are back, as its own network is the likelier fault",
			len(dark), len(selected), strings.Join(dark, ", "), in.MaxUnreachablePercent)
		return res
	}

	lost := func(c Cluster) bool { return !c.Reachable && in.Now.Sub(c.UnreachableSince) >= in.Grace }
	expired := func(c Cluster) bool { return !c.Reachable && in.Now.Sub(c.UnreachableSince) >= in.Toleration }

	// weight sets a Prod's weight; evict takes it out of traffic.
	weight := func(p Prod, w int32) { res.Weights[p.Name] = w }
	evict := func(p Prod, why string) { res.Weights[p.Name], res.Evicted[p.Name] = 0, why }

	var placed []placement.Placed
	var retire []Prod // in the order they should go
	byName := map[string]Prod{}
	live := map[string]bool{}
	for _, p := range in.Prods {
		live[p.Name] = !p.Deleting
	}
	for _, p := range sortedProds(in.Prods) {
		byName[p.Name] = p
		c, known := clusters[p.Cluster]
		switch {
		case in.Deleting || p.Deleting:
			evict(p, droverv1.EvictedDeleting)
			if p.Drained && !p.Deleting {
				res.Delete = append(res.Delete, p.Name)
			}
		case p.Superseded:
			evict(p, droverv1.EvictedSuperseded)
			// Retired only where its cluster can take the deletion (or is gone).
			if p.Drained && (!known || c.Reachable) {
				res.Delete = append(res.Delete, p.Name)
			}
		case p.SurgeFor != "" && !surgeActive(clusters[p.SurgeFor]):
			retire = append(retire, p)
		case p.Replaces != "" && live[p.Replaces]:
			switch {
			case !known:
				evict(p, droverv1.EvictedClusterUnreachable)
			case lost(c):
				evict(p, droverv1.EvictedClusterUnreachable)
			case c.Maintenance == Draining:
				evict(p, droverv1.EvictedClusterMaintenance)
			default:
				weight(p, in.Weight)
			}
		default:
			placed = append(placed, placement.Placed{Prod: p.Name, Cluster: p.Cluster})
		}
	}

	if in.Deleting {
		slices.Sort(res.Delete)
		return res
	}

	// Placement sees every cluster whose Prods should be replaced as not eligible.
	pcs := make([]placement.Cluster, 0, len(in.Clusters))
	for _, c := range in.Clusters {
		pcs = append(pcs, placement.Cluster{
			Name: c.Name, Labels: c.Labels, Ready: c.Ready, Reachable: c.Reachable,
			Maintenance: c.Maintenance == Draining || (c.Maintenance == SurgeRequested && c.Surge),
		})
	}
	d := placement.Decide(placement.Input{
		Replicas: in.Replicas, Selector: sel, TopologyKey: in.TopologyKey, MaxPerCluster: in.MaxPerCluster,
		Clusters: pcs, Existing: placed,
	})

	for _, k := range d.Keep {
		weight(byName[k.Prod], in.Weight)
	}
	// Displaced Prods: still counted (they come back) unless they are being replaced.
	counted := 0
	surgeFor := map[string]int{} // cluster -> Prods there being stood in for
	var expiredProds []Prod
	for _, dp := range d.Displaced {
		p := byName[dp.Prod]
		c, known := clusters[p.Cluster]
		switch {
		case known && !c.Reachable && c.Ready && sel.Matches(labels.Set(c.Labels)):
			if lost(c) {
				evict(p, droverv1.EvictedClusterUnreachable)
			} else {
				weight(p, p.Weight) // a blip: leave it be
			}
			if expired(c) && c.Maintenance == NoMaintenance {
				expiredProds = append(expiredProds, p)
			} else {
				counted++
			}
		case known && c.Maintenance != NoMaintenance && c.Ready && sel.Matches(labels.Set(c.Labels)):
			if c.Maintenance == Draining {
				evict(p, droverv1.EvictedClusterMaintenance)
			} else {
				weight(p, in.Weight)
			}
			if c.Surge {
				surgeFor[c.Name]++
			} else {
				counted++
			}
		default:
			// Not selected any more, not ready, or gone: replaced, then retired.
			retire = append(retire, p)
		}
	}
	retire = append(retire, prodsOf(byName, d.Remove)...)

	// Create what is missing. Add is ordered so that any prefix is well spread.
	want := max(in.Replicas-len(d.Keep)-counted, 0)
	n := min(want, len(d.Add))
	surgeClusters := slices.Sorted(maps.Keys(surgeFor))
	for _, cl := range d.Add[:n] {
		np := NewProd{Cluster: cl}
		// The first creations stand in for Prods of surging clusters, in name order.
		for _, sc := range surgeClusters {
			if surgeFor[sc] > 0 {
				np.SurgeFor = sc
				surgeFor[sc]--
				break
			}
		}
		res.Create = append(res.Create, np)
	}
	// Supersede the expired Prods that got a replacement; the rest stay counted.
	shortfall := want - n
	for i, p := range expiredProds {
		if i < len(expiredProds)-shortfall {
			res.Supersede = append(res.Supersede, p.Name)
		}
	}
	if want > len(d.Add) {
		res.Unplaced = want - len(d.Add)
		res.UnplacedReason = d.Reason
	}

	// Retire, within the serving minimum: of the candidates still serving, the last ones
	// (in retirement order) stay in traffic while the others alone are too few.
	retiring := map[string]bool{}
	for _, p := range retire {
		retiring[p.Name] = true
	}
	base := 0
	for _, p := range in.Prods {
		if !retiring[p.Name] && p.Available && res.Weights[p.Name] > 0 {
			base++
		}
	}
	var servingCandidates []string
	for _, p := range retire {
		if p.Available && p.Weight > 0 {
			servingCandidates = append(servingCandidates, p.Name)
		}
	}
	need := max(in.MinServing-base, 0)
	hold := map[string]bool{}
	for _, name := range servingCandidates[max(len(servingCandidates)-need, 0):] {
		hold[name] = true
	}
	for _, p := range retire {
		if hold[p.Name] {
			weight(p, p.Weight)
			res.Held = append(res.Held, p.Name)
			continue
		}
		evict(p, droverv1.EvictedRetiring)
		if c, known := clusters[p.Cluster]; p.Drained && (!known || c.Reachable) {
			res.Delete = append(res.Delete, p.Name)
		}
	}
	for _, p := range in.Prods {
		if p.Available && res.Weights[p.Name] > 0 {
			res.Serving++
		}
	}
	slices.Sort(res.Delete)
	return res
}

// surgeActive reports whether a cluster's maintenance still wants surge replacements.
func surgeActive(c Cluster) bool { return c.Surge && c.Maintenance != NoMaintenance }

func sortedProds(ps []Prod) []Prod {
	out := slices.Clone(ps)
	slices.SortFunc(out, func(a, b Prod) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func prodsOf(byName map[string]Prod, ps []placement.Placed) []Prod {
	out := make([]Prod, 0, len(ps))
	for _, p := range ps {
		out = append(out, byName[p.Prod])
	}
	return out
}
