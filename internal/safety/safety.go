// Package safety judges weight moves against a ProdSet's safety rules (spec.safety): at
// most a share of the service's weight on any one Prod, at most K replicas out of
// traffic at once, at least N Prods serving per value of a Cluster label. It is pure:
// the ProdSet controller asks it which of the weights it is about to publish go and
// which stay as DNS has them, and the ClusterMaintenance controller asks it whether a
// drain may start.
package safety

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Rule names, as the SafetyRulesKept condition and status.safety.held show them.
const (
	RuleMaxShare = "maxSharePercent"
	RuleMaxOut   = "maxOut"
	// RulePerTopology is followed by "/<topologyKey>".
	RulePerTopology = "minServingPerTopology"
)

// Rules are a set's safety rules. The zero value has none.
type Rules struct {
	// MaxSharePercent: 0 for no such rule.
	MaxSharePercent int32
	// MaxOut: nil for no such rule. Out is Replicas minus the Prods with a weight.
	MaxOut   *int32
	Replicas int
	// PerTopology: the serving minimum per value of each Cluster label.
	PerTopology []TopologyMinimum
}

// TopologyMinimum is a serving minimum per value of one Cluster label.
type TopologyMinimum struct {
	Key string
	Min int
}

// None reports whether there is no rule at all.
func (r Rules) None() bool {
	return r.MaxSharePercent == 0 && r.MaxOut == nil && len(r.PerTopology) == 0
}

// Prod is one Prod of the set as a move sees it.
type Prod struct {
	Name string
	// Topology holds the Prod's cluster's value of each rule's label ("" for none).
	Topology map[string]string
	// Before is the weight DNS has for it (0 for no record); After the one wanted.
	Before, After int32
	// Exempt: the move was judged elsewhere (a drain's eviction, at its admission) or may
	// not be held (the set's own deletion). It is made first, whatever it does.
	Exempt bool
}

// Move is one Prod's move a rule holds (or would hold, under an override).
type Move struct {
	Prod string
	// Rule is the name of the rule (RuleMaxShare, RuleMaxOut or
	// RulePerTopology+"/"+key).
	Rule string
	// From and To are the weights DNS has and the one wanted.
	From, To int32
	// Why says how the move would break the rule.
	Why string
}

// Result is what Check decided.
type Result struct {
	// Weights is what to publish for each Prod: its wanted weight, or, for a held move,
	// the one DNS has.
	Weights map[string]int32
	// Held lists the moves held, by Prod name.
	Held []Move
	// Overridden lists the moves an override let through that a rule would have held.
	Overridden []Move
	// Broken says how the weights published break rules, if they do (Prods not yet in
	// traffic, or out of it for reasons no move of drover's can undo, an override).
	Broken []string
}

// Check decides which moves go. Starting from what DNS has, it makes the exempt moves,
// then each other move in turn (Prods coming into traffic first, then weight changes,
// then Prods leaving traffic, by name within each kind), keeping a move when the state
// after it breaks no rule, or breaks none further than the state before it: so a move
// never makes a broken rule worse, and the moves that mend a rule always go. Moves held
// in one pass are tried again once the others are made, and those still held are tried
// all at once (weights that grow together keep a share that one at a time would not).
// With override, every move goes, and those a rule would have held are listed as
// Overridden.
func Check(rules Rules, prods []Prod, override bool) Result {
	res := Result{Weights: make(map[string]int32, len(prods))}
	if rules.None() {
		for _, p := range prods {
			res.Weights[p.Name] = p.After
		}
		return res
	}
	st := newState(rules, prods)
	var pending []int
	for i, p := range prods {
		switch {
		case p.Exempt:
			st.set(i, p.After)
		case p.After != p.Before:
			pending = append(pending, i)
		}
	}
	slices.SortFunc(pending, func(a, b int) int {
		if ka, kb := kind(prods[a]), kind(prods[b]); ka != kb {
			return ka - kb
		}
		return strings.Compare(prods[a].Name, prods[b].Name)
	})
	held := map[int]Move{}
	for progress := true; progress && len(pending) > 0; {
		progress = false
		var still []int
		for _, i := range pending {
			if m, ok := st.try(i); !ok {
				held[i] = m
				still = append(still, i)
				continue
			}
			delete(held, i)
			progress = true
		}
		pending = still
	}
	if len(pending) > 1 && st.tryAll(pending) {
		pending = nil
	}
	for _, i := range pending {
		m := held[i]
		if override {
			st.set(i, prods[i].After)
			res.Overridden = append(res.Overridden, m)
		} else {
			res.Held = append(res.Held, m)
		}
	}
	for i, p := range prods {
		res.Weights[p.Name] = st.w[i]
	}
	res.Broken = st.broken()
	return res
}

// broken says how the state breaks each rule it breaks.
func (st *state) broken() []string {
	var out []string
	r := st.rules
	if k := r.MaxOut; k != nil && st.out() > int(*k) {
		out = append(out, fmt.Sprintf("maxOut %d: %d of %d replicas are out of traffic", *k, st.out(), r.Replicas))
	}
	for t, tm := range r.PerTopology {
		for _, v := range slices.Sorted(maps.Keys(st.perTopology[t])) {
			if n := st.perTopology[t][v]; n < tm.Min {
				out = append(out, fmt.Sprintf("minServingPerTopology %s: %d %s serve in %s, below %d", tm.Key, n, plural(n, "Prod"), valueName(tm.Key, v), tm.Min))
			}
		}
	}
	if c := r.MaxSharePercent; c > 0 && st.total > 0 {
		if m := st.maxWeight(); int64(m)*100 > int64(c)*st.total {
			out = append(out, fmt.Sprintf("maxSharePercent %d: one Prod carries %s of the service's weight", c, percent(int64(m), st.total)))
		}
	}
	return out
}

// kind orders the moves: into traffic, between weights, out of traffic.
func kind(p Prod) int {
	switch {
	case p.Before == 0:
		return 0
	case p.After > 0:
		return 1
	default:
		return 2
	}
}

// state is the weights as the moves made so far leave them, with what the rules look at.
type state struct {
	rules Rules
	prods []Prod
	w     []int32
	// serving counts the Prods with a weight; total sums the weights.
	serving int
	total   int64
	// perTopology counts, for each rule, the Prods with a weight per label value.
	perTopology []map[string]int
}

func newState(rules Rules, prods []Prod) *state {
	st := &state{rules: rules, prods: prods, w: make([]int32, len(prods)), perTopology: make([]map[string]int, len(rules.PerTopology))}
	for t := range rules.PerTopology {
		st.perTopology[t] = map[string]int{}
		for _, p := range prods {
			st.perTopology[t][p.Topology[rules.PerTopology[t].Key]] = 0 // a group for every value, serving or not
		}
	}
	for i, p := range prods {
		st.set(i, p.Before)
	}
	return st
}

// set gives Prod i weight w.
func (st *state) set(i int, w int32) {
	old := st.w[i]
	if (old > 0) != (w > 0) {
		d := 1
		if w == 0 {
			d = -1
		}
		st.serving += d
		for t, tm := range st.rules.PerTopology {
			st.perTopology[t][st.prods[i].Topology[tm.Key]] += d
		}
	}
	st.total += int64(w) - int64(old)
	st.w[i] = w
}

// snapshot is what the rules look at in a state.
type snapshot struct {
	out    int
	maxW   int32
	total  int64
	groups []map[string]int
}

func (st *state) snapshot() snapshot {
	sn := snapshot{out: st.out(), maxW: st.maxWeight(), total: st.total, groups: make([]map[string]int, len(st.perTopology))}
	for t, g := range st.perTopology {
		sn.groups[t] = make(map[string]int, len(g))
		for v, n := range g {
			sn.groups[t][v] = n
		}
	}
	return sn
}

// breaks says which rule, if any, the state breaks further than it was broken in
// before, and how.
func (st *state) breaks(before snapshot) (rule, why string) {
	r := st.rules
	if k := r.MaxOut; k != nil {
		if out := st.out(); out > int(*k) && out > before.out {
			return RuleMaxOut, fmt.Sprintf("maxOut %d: %d of %d replicas would be out of traffic (%d now)", *k, out, r.Replicas, before.out)
		}
	}
	for t, tm := range r.PerTopology {
		values := slices.Sorted(maps.Keys(st.perTopology[t]))
		for _, v := range values {
			if n, was := st.perTopology[t][v], before.groups[t][v]; n < tm.Min && n < was {
				return RulePerTopology + "/" + tm.Key, fmt.Sprintf("minServingPerTopology %s: %d %s would serve in %s, below %d (%d now)",
					tm.Key, n, plural(n, "Prod"), valueName(tm.Key, v), tm.Min, was)
			}
		}
	}
	if c := r.MaxSharePercent; c > 0 && st.total > 0 {
		after := st.maxWeight()
		broken := int64(after)*100 > int64(c)*st.total
		// Further: the largest share grows (after/total > maxW/total before). A service that
		// served nothing may start serving.
		if broken && before.total > 0 && int64(after)*before.total > int64(before.maxW)*st.total {
			return RuleMaxShare, fmt.Sprintf("maxSharePercent %d: one Prod would carry %s of the service's weight (%s now)",
				c, percent(int64(after), st.total), percent(int64(before.maxW), before.total))
		}
	}
	return "", ""
}

// try makes Prod i's move if it breaks no rule further, and says which rule it would.
func (st *state) try(i int) (Move, bool) {
	p := st.prods[i]
	m := Move{Prod: p.Name, From: st.w[i], To: p.After}
	before := st.snapshot()
	st.set(i, p.After)
	if m.Rule, m.Why = st.breaks(before); m.Rule != "" {
		st.set(i, m.From)
		return m, false
	}
	return m, true
}

// tryAll makes every move of pending at once if together they break no rule further:
// weights that grow together (every Prod's weight doubled) keep a share one at a time
// would not.
func (st *state) tryAll(pending []int) bool {
	before := st.snapshot()
	from := make([]int32, len(pending))
	for j, i := range pending {
		from[j] = st.w[i]
		st.set(i, st.prods[i].After)
	}
	if rule, _ := st.breaks(before); rule == "" {
		return true
	}
	for j, i := range pending {
		st.set(i, from[j])
	}
	return false
}

// out is how many replicas are out of traffic.
func (st *state) out() int { return max(st.rules.Replicas-st.serving, 0) }

func (st *state) maxWeight() int32 {
	var m int32
	for _, w := range st.w {
		m = max(m, w)
	}
	return m
}

func percent(part, whole int64) string {
	return fmt.Sprintf("%.0f%%", float64(part)*100/float64(whole))
}

func valueName(key, v string) string {
	if v == "" {
		return "clusters without " + key
	}
	return key + "=" + v
}

func plural(n int, word string) string {
	if n == 1 {
		return word
	}
	return word + "s"
}

// Message sums up held or overridden moves for a condition: each rule once, with the
// Prods it holds.
func Message(moves []Move) string {
	byRule := map[string][]string{}
	why := map[string]string{}
	var rules []string
	for _, m := range moves {
		if _, ok := byRule[m.Rule]; !ok {
			rules = append(rules, m.Rule)
			why[m.Rule] = m.Why
		}
		byRule[m.Rule] = append(byRule[m.Rule], fmt.Sprintf("%s %d -> %d", m.Prod, m.From, m.To))
	}
	parts := make([]string, 0, len(rules))
	for _, r := range rules {
		ps := byRule[r]
		const show = 5
		list := strings.Join(ps[:min(len(ps), show)], ", ")
		if len(ps) > show {
			list += fmt.Sprintf(" and %d more", len(ps)-show)
		}
		parts = append(parts, fmt.Sprintf("%s (%s)", why[r], list))
	}
	return strings.Join(parts, "; ")
}

// RulesOf reads a set's rules; replicas is its spec.replicas.
func RulesOf(spec *droverv1.SafetyRules, replicas int) Rules {
	if spec == nil {
		return Rules{}
	}
	r := Rules{MaxSharePercent: ptr.Deref(spec.MaxSharePercent, 0), MaxOut: spec.MaxOut, Replicas: replicas}
	for _, t := range spec.MinServingPerTopology {
		r.PerTopology = append(r.PerTopology, TopologyMinimum{Key: t.TopologyKey, Min: int(t.MinServing)})
	}
	return r
}

// Keys are the Cluster labels the rules group Prods by.
func (r Rules) Keys() []string {
	keys := make([]string, 0, len(r.PerTopology))
	for _, t := range r.PerTopology {
		keys = append(keys, t.Key)
	}
	return keys
}

// TopologyOf picks the rules' labels out of a cluster's labels.
func (r Rules) TopologyOf(labels map[string]string) map[string]string {
	if len(r.PerTopology) == 0 {
		return nil
	}
	out := make(map[string]string, len(r.PerTopology))
	for _, t := range r.PerTopology {
		out[t.Key] = labels[t.Key]
	}
	return out
}

// MaxOverrideReason is the longest reason an override may give, in characters.
const MaxOverrideReason = 256

// Override reads the drover.dev/safety-override annotation of an object: its reason,
// whether it is there, and why it is no override when it cannot be read (empty, too
// long, or with characters that are not printable).
func Override(annotations map[string]string) (reason string, present bool, err error) {
	v, ok := annotations[droverv1.SafetyOverrideAnnotation]
	if !ok {
		return "", false, nil
	}
	reason, err = Reason(v)
	return reason, true, err
}

// Reason is an override's reason as drover reads it (trimmed), or why it is none: empty,
// not UTF-8, too long, or with characters that are not printable.
func Reason(v string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return "", errors.New("the override gives no reason")
	case !utf8.ValidString(v):
		return "", errors.New("the override's reason is not UTF-8")
	case utf8.RuneCountInString(v) > MaxOverrideReason:
		return "", fmt.Errorf("the override's reason is longer than %d characters", MaxOverrideReason)
	case strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		return "", errors.New("the override's reason has characters that are not printable")
	}
	return v, nil
}
