package judge

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// The normal approximation with tie and continuity corrections, as SciPy's
// mannwhitneyu(method="asymptotic") computes it: its documentation's example gives a
// two-sided p-value of 0.11134688653314041.
func TestMannWhitneyMatchesSciPy(t *testing.T) {
	males := []float64{19, 22, 16, 29, 24}
	females := []float64{20, 11, 17, 12}
	if p := 2 * MannWhitneyP(males, females, true); math.Abs(p-0.11134688653314041) > 1e-12 {
		t.Fatalf("two-sided p = %v, want 0.11134688653314041", p)
	}
	if p := MannWhitneyP(males, females, false); p < 0.9 {
		t.Fatalf("that males are smaller has p = %v, want close to 1", p)
	}
}

// The approximation stays within 0.02 of the exact permutation p-value at the sample
// sizes a gate uses, ties included.
func TestMannWhitneyCloseToExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for trial := range 16 {
		n1, n2 := 8+rng.IntN(2), 8+rng.IntN(2)
		x, y := make([]float64, n1), make([]float64, n2)
		shift := float64(trial%4) * 0.5
		for i := range x {
			x[i] = math.Round((rng.NormFloat64()+shift)*4) / 4 // rounded: ties
		}
		for i := range y {
			y[i] = math.Round(rng.NormFloat64()*4) / 4
		}
		exact := exactP(x, y)
		if got := MannWhitneyP(x, y, true); math.Abs(got-exact) > 0.02 {
			t.Errorf("x=%v y=%v: approximate p %.4f, exact %.4f", x, y, got, exact)
		}
	}
}

// exactP is the share of the relabellings of x∪y whose U for x is at least x's own.
func exactP(x, y []float64) float64 {
	all := append(append([]float64{}, x...), y...)
	u := func(idx []int) float64 {
		in := map[int]bool{}
		for _, i := range idx {
			in[i] = true
		}
		var s float64
		for i := range all {
			if !in[i] {
				continue
			}
			for j := range all {
				if in[j] {
					continue
				}
				switch {
				case all[i] > all[j]:
					s++
				case all[i] == all[j]:
					s += 0.5
				}
			}
		}
		return s
	}
	own := make([]int, len(x))
	for i := range own {
		own[i] = i
	}
	target := u(own)
	var at, total float64
	var choose func(start int, idx []int)
	choose = func(start int, idx []int) {
		if len(idx) == len(x) {
			total++
			if u(idx) >= target-1e-9 {
				at++
			}
			return
		}
		for i := start; i <= len(all)-(len(x)-len(idx)); i++ {
			choose(i+1, append(idx, i))
		}
	}
	choose(0, nil)
	return at / total
}

func repeat(v float64, n int) []float64 {
	out := make([]float64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// noisy is n samples around m, spread ±10%.
func noisy(m float64, n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	out := make([]float64, n)
	for i := range out {
		out[i] = m * (0.9 + 0.2*rng.Float64())
	}
	return out
}

func TestJudge(t *testing.T) {
	errs := Metric{Worse: WorseWhenHigher, MinSamples: 10, Confidence: 0.95}
	success := Metric{Worse: WorseWhenLower, MinSamples: 10, Confidence: 0.95}
	tolerant := errs
	tolerant.MaxRatio = 1.5
	near := errs
	near.MaxDifference = 0.02
	nan := append(repeat(math.NaN(), 30), 0.01)

	for _, tc := range []struct {
		name             string
		m                Metric
		canary, baseline []float64
		want             Verdict
		reason           string
	}{
		{"a better canary passes", errs, noisy(0.01, 30, 1), noisy(0.05, 30, 2), Pass, "not significantly worse"},
		{"an equal canary passes", errs, noisy(0.05, 30, 1), noisy(0.05, 30, 2), Pass, "not significantly worse"},
		{"identical constant values pass", errs, repeat(0.05, 30), repeat(0.05, 30), Pass, "p=1"},
		{"a worse canary fails", errs, noisy(0.10, 30, 1), noisy(0.05, 30, 2), Fail, "significantly worse"},
		{"a constant worse canary fails", errs, repeat(0.10, 30), repeat(0.05, 30), Fail, "significantly worse"},
		{"a silent canary is inconclusive", errs, nil, noisy(0.05, 30, 2), Inconclusive, "canary 0, baseline 30"},
		{"a NaN canary is inconclusive", errs, nan, noisy(0.05, 30, 2), Inconclusive, "30 NaN or infinite"},
		{"an infinite canary is inconclusive", errs, repeat(math.Inf(1), 30), noisy(0.05, 30, 2), Inconclusive, "NaN or infinite"},
		{"a silent baseline is inconclusive", errs, noisy(0.05, 30, 1), nil, Inconclusive, "baseline 0"},
		{"too few samples is inconclusive, even far worse", errs, repeat(1, 9), repeat(0, 30), Inconclusive, "need 10 each"},
		{"worse within the ratio passes", tolerant, noisy(0.07, 30, 1), noisy(0.05, 30, 2), Pass, "within the tolerated ratio 1.5"},
		{"worse beyond the ratio fails", tolerant, noisy(0.10, 30, 1), noisy(0.05, 30, 2), Fail, "beyond the tolerated ratio 1.5"},
		{"a zero baseline tolerates no ratio", tolerant, noisy(0.01, 30, 1), repeat(0, 30), Fail, "beyond"},
		{"worse within the difference passes", near, noisy(0.06, 30, 1), noisy(0.05, 30, 2), Pass, "within the tolerated difference"},
		{"a lower success ratio fails", success, noisy(0.90, 30, 1), noisy(0.99, 30, 2), Fail, "significantly worse"},
		{"a higher success ratio passes", success, noisy(0.999, 30, 1), noisy(0.95, 30, 2), Pass, "not significantly worse"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := Judge(tc.m, tc.canary, tc.baseline)
			if r.Verdict != tc.want || !strings.Contains(r.Reason, tc.reason) {
				t.Fatalf("got %s (%s), want %s with %q", r.Verdict, r.Reason, tc.want, tc.reason)
			}
		})
	}
}

func TestCombine(t *testing.T) {
	for _, tc := range []struct {
		in   []Verdict
		want Verdict
	}{
		{nil, Inconclusive},
		{[]Verdict{Pass, Pass}, Pass},
		{[]Verdict{Pass, Inconclusive}, Inconclusive},
		{[]Verdict{Inconclusive, Fail, Pass}, Fail},
		{[]Verdict{Pass, ""}, Inconclusive},
	} {
		rs := make([]Result, len(tc.in))
		for i, v := range tc.in {
			rs[i].Verdict = v
		}
		if got := Combine(rs); got != tc.want {
			t.Errorf("Combine(%v) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

// Whatever the samples, a canary passes only with enough usable samples on both sides,
// p is a probability, and a canary identical to its baseline never fails.
func FuzzJudge(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}, []byte{8, 7, 6, 5, 4, 3, 2, 1}, uint8(3), uint8(95), false, 1.5, 0.0)
	f.Add([]byte{}, []byte{1}, uint8(1), uint8(50), true, 0.0, 0.1)
	f.Fuzz(func(t *testing.T, cb, bb []byte, minSamples, conf uint8, lower bool, ratio, diff float64) {
		canary, baseline := values(cb), values(bb)
		m := Metric{Worse: WorseWhenHigher, MinSamples: int(minSamples%20) + 1, Confidence: (float64(conf%99) + 1) / 100,
			MaxRatio: ratio, MaxDifference: diff}
		if lower {
			m.Worse = WorseWhenLower
		}
		r := Judge(m, canary, baseline)
		if r.Verdict != Inconclusive && (r.CanarySamples < m.MinSamples || r.BaselineSamples < m.MinSamples) {
			t.Fatalf("%s with %d/%d samples, need %d", r.Verdict, r.CanarySamples, r.BaselineSamples, m.MinSamples)
		}
		if r.Verdict != Inconclusive && !(r.P >= 0 && r.P <= 1) {
			t.Fatalf("p = %v", r.P)
		}
		if same := Judge(m, canary, canary); same.Verdict == Fail {
			t.Fatalf("a canary identical to its baseline failed: %s", same.Reason)
		}
	})
}

// values reads 8 bytes per float64, so the fuzzer reaches NaN and infinities.
func values(b []byte) []float64 {
	var out []float64
	for len(b) >= 8 {
		var u uint64
		for i := range 8 {
			u = u<<8 | uint64(b[i])
		}
		out = append(out, math.Float64frombits(u))
		b = b[8:]
	}
	// Short inputs still give a sample each byte, in a small range with ties.
	for _, c := range b {
		out = append(out, float64(c%16))
	}
	return out
}
