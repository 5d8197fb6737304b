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
	p := newPlanner(in)
	// Freeze first: with most clusters unreachable, no conclusion about any of them is safe.
	if frozen, msg := p.frozen(); frozen {
		p.res.Frozen, p.res.Message = true, msg
		return p.res
	}
	placed, retire := p.sort()
	if in.Deleting {
		slices.Sort(p.res.Delete)
		return p.res
	}
	d := p.place(placed)
	for _, k := range d.Keep {
		p.weight(p.byName[k.Prod], in.Weight)
	}
	ds := p.displaced(d.Displaced)
	retire = append(retire, ds.retire...)
	retire = append(retire, prodsOf(p.byName, d.Remove)...)
	p.create(d, ds)
	p.retire(retire)
	for _, pr := range in.Prods {
		if pr.Available && p.res.Weights[pr.Name] > 0 {
			p.res.Serving++
		}
	}
	slices.Sort(p.res.Delete)
	return p.res
}

// planner is what ProdSet works with while it decides.
type planner struct {
	in       Input
	res      Result
	sel      labels.Selector
	clusters map[string]Cluster
	byName   map[string]Prod
}

func newPlanner(in Input) *planner {
	p := &planner{in: in, res: Result{Weights: map[string]int32{}, Evicted: map[string]string{}},
		sel: in.Selector, clusters: map[string]Cluster{}, byName: map[string]Prod{}}
	for _, c := range in.Clusters {
		p.clusters[c.Name] = c
	}
	if p.sel == nil {
		p.sel = labels.Everything()
	}
	return p
}

// weight sets a Prod's weight; evict takes it out of traffic.
func (p *planner) weight(pr Prod, w int32) { p.res.Weights[pr.Name] = w }

func (p *planner) evict(pr Prod, why string) {
	p.res.Weights[pr.Name], p.res.Evicted[pr.Name] = 0, why
}

// unreachablePastGrace: the cluster has been unreachable for longer than the grace; its
// Prods leave traffic.
func (p *planner) unreachablePastGrace(c Cluster) bool {
	return !c.Reachable && p.in.Now.Sub(c.UnreachableSince) >= p.in.Grace
}

// unreachablePastToleration: the cluster has been unreachable for longer than the
// toleration; its Prods are replaced.
func (p *planner) unreachablePastToleration(c Cluster) bool {
	return !c.Reachable && p.in.Now.Sub(c.UnreachableSince) >= p.in.Toleration
}

// selected: the cluster is ready and matches the set's selector.
func (p *planner) selected(c Cluster) bool { return c.Ready && p.sel.Matches(labels.Set(c.Labels)) }

// frozen reports whether more than MaxUnreachablePercent of the selected, ready clusters
// are unreachable right now, and says so.
func (p *planner) frozen() (bool, string) {
	var selected, unreachable []string
	for _, c := range p.in.Clusters {
		if p.selected(c) {
			selected = append(selected, c.Name)
			if !c.Reachable {
				unreachable = append(unreachable, c.Name)
			}
		}
	}
	if len(unreachable) == 0 || len(unreachable)*100 <= p.in.MaxUnreachablePercent*len(selected) {
		return false, ""
	}
	slices.Sort(unreachable)
	return true, fmt.Sprintf("%d of %d selected clusters are unreachable (%s), more than maxUnreachablePercent %d%%: "+
		"drover changes nothing until enough of them are back, as its own network is the likelier fault",
		len(unreachable), len(selected), strings.Join(unreachable, ", "), p.in.MaxUnreachablePercent)
}

// sort decides the Prods placement has no say over (deleting, superseded, surge
// replacements no longer needed, replacements in a Replace rollout) and returns the
// others, for placement, and those to retire.
func (p *planner) sort() (placed []placement.Placed, retire []Prod) {
	live := map[string]bool{}
	for _, pr := range p.in.Prods {
		live[pr.Name] = !pr.Deleting
	}
	for _, pr := range sortedProds(p.in.Prods) {
		p.byName[pr.Name] = pr
		c, known := p.clusters[pr.Cluster]
		switch {
		case p.in.Deleting || pr.Deleting:
			p.evict(pr, droverv1.EvictedDeleting)
			if pr.Drained && !pr.Deleting {
				p.res.Delete = append(p.res.Delete, pr.Name)
			}
		case pr.Superseded:
			p.evict(pr, droverv1.EvictedSuperseded)
			// Retired only where its cluster can take the deletion (or is gone).
			if pr.Drained && (!known || c.Reachable) {
				p.res.Delete = append(p.res.Delete, pr.Name)
			}
		case pr.SurgeFor != "" && !surgeActive(p.clusters[pr.SurgeFor]):
			retire = append(retire, pr)
		case pr.Replaces != "" && live[pr.Replaces]:
			switch {
			case !known:
				p.evict(pr, droverv1.EvictedClusterUnreachable)
			case p.unreachablePastGrace(c):
				p.evict(pr, droverv1.EvictedClusterUnreachable)
			case c.Maintenance == Draining:
				p.evict(pr, droverv1.EvictedClusterMaintenance)
			default:
				p.weight(pr, p.in.Weight)
			}
		default:
			placed = append(placed, placement.Placed{Prod: pr.Name, Cluster: pr.Cluster})
		}
	}
	return placed, retire
}

// place asks placement where the Prods go. It sees every cluster whose Prods should be
// replaced as not eligible.
func (p *planner) place(placed []placement.Placed) placement.Decision {
	pcs := make([]placement.Cluster, 0, len(p.in.Clusters))
	for _, c := range p.in.Clusters {
		pcs = append(pcs, placement.Cluster{
			Name: c.Name, Labels: c.Labels, Ready: c.Ready, Reachable: c.Reachable,
			Maintenance: c.Maintenance == Draining || (c.Maintenance == SurgeRequested && c.Surge),
		})
	}
	return placement.Decide(placement.Input{
		Replicas: p.in.Replicas, Selector: p.sel, TopologyKey: p.in.TopologyKey, MaxPerCluster: p.in.MaxPerCluster,
		Clusters: pcs, Existing: placed,
	})
}

// displacement is what became of the Prods placement displaced.
type displacement struct {
	// counted: still counted as replicas (they come back).
	counted int
	// surgeFor counts, by cluster, its Prods being stood in for.
	surgeFor map[string]int
	// pastToleration: Prods to supersede once they have a replacement.
	pastToleration []Prod
	// retire: Prods on clusters no longer selected, not ready, or gone.
	retire []Prod
}

// displaced decides the weights of the displaced Prods: still counted (they come back)
// unless they are being replaced.
func (p *planner) displaced(ps []placement.Placed) displacement {
	ds := displacement{surgeFor: map[string]int{}}
	for _, dp := range ps {
		pr := p.byName[dp.Prod]
		c, known := p.clusters[pr.Cluster]
		switch {
		case known && !c.Reachable && p.selected(c):
			if p.unreachablePastGrace(c) {
				p.evict(pr, droverv1.EvictedClusterUnreachable)
			} else {
				p.weight(pr, pr.Weight) // a blip: leave it be
			}
			if p.unreachablePastToleration(c) && c.Maintenance == NoMaintenance {
				ds.pastToleration = append(ds.pastToleration, pr)
			} else {
				ds.counted++
			}
		case known && c.Maintenance != NoMaintenance && p.selected(c):
			if c.Maintenance == Draining {
				p.evict(pr, droverv1.EvictedClusterMaintenance)
			} else {
				p.weight(pr, p.in.Weight)
			}
			if c.Surge {
				ds.surgeFor[c.Name]++
			} else {
				ds.counted++
			}
		default:
			// Not selected any more, not ready, or gone: replaced, then retired.
			ds.retire = append(ds.retire, pr)
		}
	}
	return ds
}

// create places what is missing. Add is ordered so that any prefix is well spread.
func (p *planner) create(d placement.Decision, ds displacement) {
	want := max(p.in.Replicas-len(d.Keep)-ds.counted, 0)
	n := min(want, len(d.Add))
	surgeClusters := slices.Sorted(maps.Keys(ds.surgeFor))
	for _, cl := range d.Add[:n] {
		np := NewProd{Cluster: cl}
		// The first creations stand in for Prods of surging clusters, in name order.
		for _, sc := range surgeClusters {
			if ds.surgeFor[sc] > 0 {
				np.SurgeFor = sc
				ds.surgeFor[sc]--
				break
			}
		}
		p.res.Create = append(p.res.Create, np)
	}
	// Supersede the Prods past the toleration that got a replacement; the rest stay counted.
	shortfall := want - n
	for i, pr := range ds.pastToleration {
		if i < len(ds.pastToleration)-shortfall {
			p.res.Supersede = append(p.res.Supersede, pr.Name)
		}
	}
	if want > len(d.Add) {
		p.res.Unplaced = want - len(d.Add)
		p.res.UnplacedReason = d.Reason
	}
}

// retire takes the Prods to retire out of traffic and deletes them once drained, within
// the serving minimum: of the candidates still serving, the last ones (in retirement
// order) stay in traffic while the others alone are too few.
func (p *planner) retire(retire []Prod) {
	retiring := map[string]bool{}
	for _, pr := range retire {
		retiring[pr.Name] = true
	}
	base := 0
	for _, pr := range p.in.Prods {
		if !retiring[pr.Name] && pr.Available && p.res.Weights[pr.Name] > 0 {
			base++
		}
	}
	var servingCandidates []string
	for _, pr := range retire {
		if pr.Available && pr.Weight > 0 {
			servingCandidates = append(servingCandidates, pr.Name)
		}
	}
	need := max(p.in.MinServing-base, 0)
	hold := map[string]bool{}
	for _, name := range servingCandidates[max(len(servingCandidates)-need, 0):] {
		hold[name] = true
	}
	for _, pr := range retire {
		if hold[pr.Name] {
			p.weight(pr, pr.Weight)
			p.res.Held = append(p.res.Held, pr.Name)
			continue
		}
		p.evict(pr, droverv1.EvictedRetiring)
		if c, known := p.clusters[pr.Cluster]; pr.Drained && (!known || c.Reachable) {
			p.res.Delete = append(p.res.Delete, pr.Name)
		}
	}
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
