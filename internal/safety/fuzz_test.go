package safety

import (
	"fmt"
	"testing"

	"k8s.io/utils/ptr"
)

// FuzzCheck holds Check to its promise for any rules and moves: a published weight is
// the one DNS has or the one wanted; a held move keeps what DNS has; with an override
// every wanted weight goes; and, without one, what is published breaks no rule further
// than what DNS had.
func FuzzCheck(f *testing.F) {
	f.Add(uint8(50), uint8(1), uint8(1), uint8(4), []byte{1, 100, 0, 2, 100, 0, 1, 0, 100, 3, 100, 100})
	f.Add(uint8(0), uint8(0), uint8(2), uint8(2), []byte{1, 100, 0, 1, 100, 0, 2, 0, 100, 2, 0, 100})
	f.Add(uint8(34), uint8(255), uint8(0), uint8(3), []byte{0, 100, 255, 0, 100, 100, 0, 100, 100})
	f.Fuzz(func(t *testing.T, share, maxOut, minPer, replicas uint8, moves []byte) {
		rules := Rules{MaxSharePercent: int32(share % 101), Replicas: int(replicas % 12)}
		if maxOut != 255 {
			rules.MaxOut = ptr.To(int32(maxOut % 6))
		}
		if minPer%4 != 0 {
			rules.PerTopology = []TopologyMinimum{{Key: "region", Min: int(minPer % 4)}}
		}
		var prods []Prod
		for i := 0; i+2 < len(moves) && len(prods) < 16; i += 3 {
			prods = append(prods, pr(fmt.Sprintf("p%02d", len(prods)), fmt.Sprint(moves[i]%3), int32(moves[i+1]), int32(moves[i+2])))
		}
		for _, override := range []bool{false, true} {
			res := Check(rules, prods, override)
			held := map[string]bool{}
			for _, m := range res.Held {
				held[m.Prod] = true
			}
			for _, p := range prods {
				w := res.Weights[p.Name]
				switch {
				case override && w != p.After:
					t.Fatalf("override: %s published %d, want %d", p.Name, w, p.After)
				case held[p.Name] && w != p.Before:
					t.Fatalf("%s held at %d, DNS has %d", p.Name, w, p.Before)
				case !held[p.Name] && w != p.After:
					t.Fatalf("%s not held but published %d, wanted %d", p.Name, w, p.After)
				}
			}
			if override {
				if len(res.Held) > 0 {
					t.Fatalf("override held %v", res.Held)
				}
				continue
			}
			before := newState(rules, prods)
			after := newState(rules, prods)
			for i, p := range prods {
				after.set(i, res.Weights[p.Name])
			}
			if rule, why := after.breaks(before.snapshot()); rule != "" {
				t.Fatalf("published weights %v break %s further than DNS had: %s", res.Weights, rule, why)
			}
		}
	})
}
