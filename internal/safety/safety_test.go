package safety

import (
	"maps"
	"strings"
	"testing"

	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// pr is a Prod moving from before to after, in region (a value of "region"; "" for none).
func pr(name, region string, before, after int32) Prod {
	return Prod{Name: name, Topology: map[string]string{"region": region}, Before: before, After: after}
}

func exempt(p Prod) Prod { p.Exempt = true; return p }

func TestCheck(t *testing.T) {
	perRegion := []TopologyMinimum{{Key: "region", Min: 1}}
	tests := []struct {
		name     string
		rules    Rules
		prods    []Prod
		override bool
		// want is the weight published per Prod; held the Prods held, with their rule.
		want       map[string]int32
		held       map[string]string
		overridden map[string]string
		why        string
	}{{
		name:  "no rules: every move goes",
		prods: []Prod{pr("a", "", 100, 0), pr("b", "", 100, 0), pr("c", "", 0, 255)},
		want:  map[string]int32{"a": 0, "b": 0, "c": 255},
	}, {
		name:  "maxOut 1: the first eviction by name goes, the second is held",
		rules: Rules{MaxOut: ptr.To[int32](1), Replicas: 4},
		prods: []Prod{pr("a", "", 100, 100), pr("b", "", 100, 0), pr("c", "", 100, 0), pr("d", "", 100, 100)},
		want:  map[string]int32{"a": 100, "b": 0, "c": 100, "d": 100},
		held:  map[string]string{"c": RuleMaxOut},
		why:   "maxOut 1: 2 of 4 replicas would be out of traffic (1 now)",
	}, {
		name:  "maxOut 1: a Prod coming back makes room for one leaving in the same change",
		rules: Rules{MaxOut: ptr.To[int32](1), Replicas: 3},
		prods: []Prod{pr("a", "", 0, 100), pr("b", "", 100, 0), pr("c", "", 100, 0)},
		want:  map[string]int32{"a": 100, "b": 0, "c": 100},
		held:  map[string]string{"c": RuleMaxOut},
	}, {
		name:  "maxOut already broken: no eviction goes, a Prod coming back does",
		rules: Rules{MaxOut: ptr.To[int32](1), Replicas: 4},
		prods: []Prod{pr("a", "", 0, 0), pr("b", "", 0, 0), pr("c", "", 0, 100), pr("d", "", 100, 0)},
		want:  map[string]int32{"a": 0, "b": 0, "c": 100, "d": 100},
		held:  map[string]string{"d": RuleMaxOut},
	}, {
		name:  "maxOut 0 with a Replace rollout: the new Prods come in, then the old ones go",
		rules: Rules{MaxOut: ptr.To[int32](0), Replicas: 2},
		prods: []Prod{pr("a", "", 100, 0), pr("b", "", 100, 0), pr("c", "", 0, 100), pr("d", "", 0, 100)},
		want:  map[string]int32{"a": 0, "b": 0, "c": 100, "d": 100},
	}, {
		name:  "maxOut 0: a new Prod that is not in yet holds the old one it replaces",
		rules: Rules{MaxOut: ptr.To[int32](0), Replicas: 2},
		prods: []Prod{pr("a", "", 100, 0), pr("b", "", 100, 100), pr("c", "", 0, 0)},
		want:  map[string]int32{"a": 100, "b": 100, "c": 0},
		held:  map[string]string{"a": RuleMaxOut},
	}, {
		name:  "a weight that only changes is no Prod out",
		rules: Rules{MaxOut: ptr.To[int32](0), Replicas: 2},
		prods: []Prod{pr("a", "", 100, 10), pr("b", "", 100, 255)},
		want:  map[string]int32{"a": 10, "b": 255},
	}, {
		name:  "one Prod per region: the last of eu-west stays",
		rules: Rules{PerTopology: perRegion, Replicas: 4},
		prods: []Prod{pr("eu1", "eu-west", 100, 0), pr("eu2", "eu-west", 100, 0), pr("us1", "us-east", 100, 0), pr("us2", "us-east", 100, 100)},
		want:  map[string]int32{"eu1": 0, "eu2": 100, "us1": 0, "us2": 100},
		held:  map[string]string{"eu2": RulePerTopology + "/region"},
		why:   "minServingPerTopology region: 0 Prods would serve in region=eu-west, below 1 (1 now)",
	}, {
		name:  "clusters without the label are a group of their own",
		rules: Rules{PerTopology: perRegion, Replicas: 2},
		prods: []Prod{pr("a", "", 100, 0), pr("b", "eu-west", 100, 100)},
		want:  map[string]int32{"a": 100, "b": 100},
		held:  map[string]string{"a": RulePerTopology + "/region"},
		why:   "in clusters without region",
	}, {
		name:  "a region below its minimum may come back, and may not lose more",
		rules: Rules{PerTopology: []TopologyMinimum{{Key: "region", Min: 2}}, Replicas: 3},
		prods: []Prod{pr("a", "eu-west", 0, 100), pr("b", "us-east", 100, 0), pr("c", "us-east", 100, 100)},
		want:  map[string]int32{"a": 100, "b": 100, "c": 100},
		held:  map[string]string{"b": RulePerTopology + "/region"},
	}, {
		name:  "maxShare 50: one of three may leave (50% each), not two",
		rules: Rules{MaxSharePercent: 50, Replicas: 3},
		prods: []Prod{pr("a", "", 100, 0), pr("b", "", 100, 0), pr("c", "", 100, 100)},
		want:  map[string]int32{"a": 0, "b": 100, "c": 100},
		held:  map[string]string{"b": RuleMaxShare},
		why:   "maxSharePercent 50: one Prod would carry 100% of the service's weight (50% now)",
	}, {
		name:  "maxShare: a service that serves nothing may start serving",
		rules: Rules{MaxSharePercent: 30, Replicas: 2},
		prods: []Prod{pr("a", "", 0, 100), pr("b", "", 0, 100)},
		want:  map[string]int32{"a": 100, "b": 100},
	}, {
		name:  "maxShare: a heavy canary weight is held",
		rules: Rules{MaxSharePercent: 50, Replicas: 3},
		prods: []Prod{pr("a", "", 100, 255), pr("b", "", 100, 100), pr("c", "", 100, 100)},
		want:  map[string]int32{"a": 100, "b": 100, "c": 100},
		held:  map[string]string{"a": RuleMaxShare},
	}, {
		name:  "maxShare: weights that grow together go together",
		rules: Rules{MaxSharePercent: 50, Replicas: 2},
		prods: []Prod{pr("a", "", 100, 200), pr("b", "", 100, 200)},
		want:  map[string]int32{"a": 200, "b": 200},
	}, {
		name:  "an exempt move goes first and counts",
		rules: Rules{MaxOut: ptr.To[int32](1), Replicas: 3},
		prods: []Prod{exempt(pr("a", "", 100, 0)), pr("b", "", 100, 0), pr("c", "", 100, 100)},
		want:  map[string]int32{"a": 0, "b": 100, "c": 100},
		held:  map[string]string{"b": RuleMaxOut},
	}, {
		name:     "an override lets every move through and says which it let",
		rules:    Rules{MaxOut: ptr.To[int32](0), Replicas: 2},
		prods:    []Prod{pr("a", "", 100, 0), pr("b", "", 100, 0)},
		override: true,
		want:     map[string]int32{"a": 0, "b": 0},
		overridden: map[string]string{
			"a": RuleMaxOut, "b": RuleMaxOut,
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := Check(tt.rules, tt.prods, tt.override)
			if !maps.Equal(res.Weights, tt.want) {
				t.Errorf("weights = %v, want %v", res.Weights, tt.want)
			}
			if got := rulesOf(res.Held); !maps.Equal(got, orEmpty(tt.held)) {
				t.Errorf("held = %v, want %v", got, tt.held)
			}
			if got := rulesOf(res.Overridden); !maps.Equal(got, orEmpty(tt.overridden)) {
				t.Errorf("overridden = %v, want %v", got, tt.overridden)
			}
			if msg := Message(res.Held); !strings.Contains(msg, tt.why) {
				t.Errorf("message %q does not say %q", msg, tt.why)
			}
			for _, m := range append(res.Held, res.Overridden...) {
				if m.From == m.To {
					t.Errorf("a move of %s that moves nothing was held: %+v", m.Prod, m)
				}
			}
		})
	}
}

func rulesOf(ms []Move) map[string]string {
	out := map[string]string{}
	for _, m := range ms {
		out[m.Prod] = m.Rule
	}
	return out
}

func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func TestMessageNamesEachRuleOnceWithItsProds(t *testing.T) {
	ms := []Move{
		{Prod: "a", Rule: RuleMaxOut, From: 100, To: 0, Why: "maxOut 1: 2 of 4 replicas would be out of traffic (1 now)"},
		{Prod: "b", Rule: RuleMaxOut, From: 100, To: 0, Why: "maxOut 1: 2 of 4 replicas would be out of traffic (1 now)"},
		{Prod: "c", Rule: RuleMaxShare, From: 100, To: 255, Why: "maxSharePercent 50: ..."},
	}
	want := "maxOut 1: 2 of 4 replicas would be out of traffic (1 now) (a 100 -> 0, b 100 -> 0); maxSharePercent 50: ... (c 100 -> 255)"
	if got := Message(ms); got != want {
		t.Errorf("Message = %q, want %q", got, want)
	}
	var many []Move
	for _, n := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		many = append(many, Move{Prod: n, Rule: RuleMaxOut, Why: "w"})
	}
	if got := Message(many); !strings.HasSuffix(got, "and 2 more)") {
		t.Errorf("Message of 7 moves = %q, want the last two counted", got)
	}
}

func TestOverride(t *testing.T) {
	tests := []struct {
		value   *string
		reason  string
		present bool
		err     string
	}{
		{value: nil},
		{value: ptr.To("  region eu-west is down, INC-4711 "), reason: "region eu-west is down, INC-4711", present: true},
		{value: ptr.To(""), present: true, err: "no reason"},
		{value: ptr.To("   "), present: true, err: "no reason"},
		{value: ptr.To(strings.Repeat("x", MaxOverrideReason+1)), present: true, err: "longer than 256"},
		{value: ptr.To(strings.Repeat("é", MaxOverrideReason)), reason: strings.Repeat("é", MaxOverrideReason), present: true},
		{value: ptr.To("line one\nline two"), present: true, err: "not printable"},
		{value: ptr.To("bell\a"), present: true, err: "not printable"},
		{value: ptr.To("bad \xff utf-8"), present: true, err: "not UTF-8"},
	}
	for _, tt := range tests {
		ann := map[string]string{"other": "x"}
		if tt.value != nil {
			ann[droverv1.SafetyOverrideAnnotation] = *tt.value
		}
		reason, present, err := Override(ann)
		if reason != tt.reason || present != tt.present || (err == nil) != (tt.err == "") || (err != nil && !strings.Contains(err.Error(), tt.err)) {
			t.Errorf("Override(%v) = %q, %v, %v; want %q, %v, %q", tt.value, reason, present, err, tt.reason, tt.present, tt.err)
		}
	}
}

func TestBrokenSaysWhatTheWeightsBreak(t *testing.T) {
	rules := Rules{MaxOut: ptr.To[int32](0), Replicas: 3, MaxSharePercent: 40, PerTopology: []TopologyMinimum{{Key: "region", Min: 1}}}
	// A set coming up: one Prod in traffic, two not yet.
	res := Check(rules, []Prod{pr("a", "eu", 0, 100), pr("b", "us", 0, 0), pr("c", "us", 0, 0)}, false)
	want := []string{
		"maxOut 0: 2 of 3 replicas are out of traffic",
		"minServingPerTopology region: 0 Prods serve in region=us, below 1",
		"maxSharePercent 40: one Prod carries 100% of the service's weight",
	}
	if strings.Join(res.Broken, "\n") != strings.Join(want, "\n") || len(res.Held) != 0 {
		t.Errorf("broken = %q, held = %v; want %q and nothing held", res.Broken, res.Held, want)
	}
	res = Check(rules, []Prod{pr("a", "eu", 100, 100), pr("b", "us", 100, 100), pr("c", "us", 0, 100)}, false)
	if len(res.Broken) != 0 {
		t.Errorf("broken = %q once every Prod serves", res.Broken)
	}
}
