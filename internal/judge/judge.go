// Package judge compares a canary's samples of a metric with a baseline's: the pure part
// of the baseline gate. It decides nothing about where samples come from.
//
// A metric's verdict is Fail when the canary is worse than the baseline, significantly by
// a one-sided Mann-Whitney U test at the given confidence, and by more than the metric
// tolerates (a ratio or a difference of the means); Inconclusive when either side has
// fewer usable samples than required (no data, NaN and infinities are not samples, so a
// silent canary can never pass); Pass otherwise.
package judge

import (
	"fmt"
	"math"
	"slices"
)

// Verdict of a comparison.
type Verdict string

const (
	Pass         Verdict = "Pass"
	Fail         Verdict = "Fail"
	Inconclusive Verdict = "Inconclusive"
)

// Direction says which way a metric gets worse.
type Direction string

const (
	// WorseWhenHigher: errors, latency.
	WorseWhenHigher Direction = "Higher"
	// WorseWhenLower: success ratio, throughput.
	WorseWhenLower Direction = "Lower"
)

// Metric is how one metric is judged.
type Metric struct {
	Worse Direction
	// MaxRatio, when > 0, tolerates a canary mean up to MaxRatio times the baseline's
	// (WorseWhenHigher) or down to the baseline's divided by MaxRatio (WorseWhenLower).
	MaxRatio float64
	// MaxDifference, when > 0, tolerates a canary mean up to MaxDifference worse than
	// the baseline's. A difference within either tolerance is tolerated; with neither
	// set, any significant difference fails.
	MaxDifference float64
	// MinSamples each side needs; fewer is Inconclusive. At least 1.
	MinSamples int
	// Confidence of the test, in (0, 1): the canary is judged worse when the one-sided
	// p-value is below 1 - Confidence.
	Confidence float64
}

// Result is a metric's verdict and the numbers behind it.
type Result struct {
	Verdict Verdict
	// CanaryMean and BaselineMean of the usable samples (NaN when there are none).
	CanaryMean, BaselineMean float64
	// CanarySamples and BaselineSamples usable; Unusable counts NaN and infinite values.
	CanarySamples, BaselineSamples, Unusable int
	// P is the one-sided p-value that the canary is no worse than the baseline (NaN
	// when not tested).
	P float64
	// Reason says why, in a sentence.
	Reason string
}

// Judge compares canary with baseline for m.
func Judge(m Metric, canary, baseline []float64) Result {
	c, cBad := usable(canary)
	b, bBad := usable(baseline)
	res := Result{CanaryMean: mean(c), BaselineMean: mean(b), CanarySamples: len(c), BaselineSamples: len(b),
		Unusable: cBad + bBad, P: math.NaN()}
	need := max(m.MinSamples, 1)
	if len(c) < need || len(b) < need {
		res.Verdict = Inconclusive
		res.Reason = fmt.Sprintf("too few samples to judge: canary %d, baseline %d, need %d each", len(c), len(b), need)
		if res.Unusable > 0 {
			res.Reason += fmt.Sprintf(" (%d NaN or infinite values left out)", res.Unusable)
		}
		return res
	}
	greater := m.Worse != WorseWhenLower
	res.P = MannWhitneyP(c, b, greater)
	alpha := 1 - m.Confidence
	worse := res.CanaryMean > res.BaselineMean
	if !greater {
		worse = res.CanaryMean < res.BaselineMean
	}
	if !(res.P < alpha) || !worse {
		res.Verdict = Pass
		res.Reason = fmt.Sprintf("canary mean %s, baseline mean %s: not significantly worse (p=%.3g, needs < %.3g)",
			num(res.CanaryMean), num(res.BaselineMean), res.P, alpha)
		return res
	}
	if tolerated, why := m.tolerates(res.CanaryMean, res.BaselineMean); tolerated {
		res.Verdict = Pass
		res.Reason = fmt.Sprintf("canary mean %s, baseline mean %s: significantly worse (p=%.3g) but %s",
			num(res.CanaryMean), num(res.BaselineMean), res.P, why)
		return res
	}
	res.Verdict = Fail
	res.Reason = fmt.Sprintf("canary mean %s, baseline mean %s: significantly worse (p=%.3g < %.3g)%s",
		num(res.CanaryMean), num(res.BaselineMean), res.P, alpha, m.beyond())
	return res
}

// tolerates says whether a difference from base to canary (already known to be worse)
// is within one of the metric's tolerances, and which.
func (m Metric) tolerates(canary, base float64) (bool, string) {
	if m.MaxDifference > 0 && math.Abs(canary-base) <= m.MaxDifference {
		return true, fmt.Sprintf("within the tolerated difference %s", num(m.MaxDifference))
	}
	if m.MaxRatio > 0 {
		within := canary <= base*m.MaxRatio
		if m.Worse == WorseWhenLower {
			within = canary*m.MaxRatio >= base
		}
		// A baseline of 0 tolerates no ratio of a worse canary; a negative mean has no
		// meaningful ratio and is judged by the difference only.
		if base > 0 && canary >= 0 && within {
			return true, fmt.Sprintf("within the tolerated ratio %s", num(m.MaxRatio))
		}
	}
	return false, ""
}

func (m Metric) beyond() string {
	switch {
	case m.MaxRatio > 0 && m.MaxDifference > 0:
		return fmt.Sprintf(", beyond the tolerated ratio %s and difference %s", num(m.MaxRatio), num(m.MaxDifference))
	case m.MaxRatio > 0:
		return fmt.Sprintf(", beyond the tolerated ratio %s", num(m.MaxRatio))
	case m.MaxDifference > 0:
		return fmt.Sprintf(", beyond the tolerated difference %s", num(m.MaxDifference))
	}
	return ""
}

// Combine is the verdict of a gate of several metrics: Fail if any failed, else
// Inconclusive if any was, else Pass (no metric at all is Inconclusive).
func Combine(results []Result) Verdict {
	if len(results) == 0 {
		return Inconclusive
	}
	v := Pass
	for _, r := range results {
		switch r.Verdict {
		case Fail:
			return Fail
		case Inconclusive:
			v = Inconclusive
		case Pass:
		default:
			v = Inconclusive
		}
	}
	return v
}

// MannWhitneyP is the one-sided p-value of the Mann-Whitney U test that x is not
// stochastically greater than y (greater) or not smaller (!greater), by the normal
// approximation with a correction for ties and for continuity. Samples that are all
// equal give 1. Both must be non-empty and finite.
func MannWhitneyP(x, y []float64, greater bool) float64 {
	n1, n2 := float64(len(x)), float64(len(y))
	if n1 == 0 || n2 == 0 {
		return math.NaN()
	}
	type obs struct {
		v float64
		x bool
	}
	all := make([]obs, 0, len(x)+len(y))
	for _, v := range x {
		all = append(all, obs{v, true})
	}
	for _, v := range y {
		all = append(all, obs{v, false})
	}
	slices.SortFunc(all, func(a, b obs) int {
		switch {
		case a.v < b.v:
			return -1
		case a.v > b.v:
			return 1
		}
		return 0
	})
	// Ranks from 1, ties given their average rank; tieSum is Σ(t³ - t) over tie groups.
	var r1, tieSum float64
	for i := 0; i < len(all); {
		j := i
		for j < len(all) && all[j].v == all[i].v {
			j++
		}
		t := float64(j - i)
		rank := float64(i+j+1) / 2 // the average of ranks i+1 … j
		for k := i; k < j; k++ {
			if all[k].x {
				r1 += rank
			}
		}
		tieSum += t*t*t - t
		i = j
	}
	u := r1 - n1*(n1+1)/2
	n := n1 + n2
	mu := n1 * n2 / 2
	variance := n1 * n2 / 12 * ((n + 1) - tieSum/(n*(n-1)))
	if variance <= 0 {
		return 1 // every value equal: no difference
	}
	d := u - mu // > 0 when x tends to be greater
	if !greater {
		d = -d
	}
	z := (d - 0.5) / math.Sqrt(variance)
	return 0.5 * math.Erfc(z/math.Sqrt2)
}

func usable(v []float64) ([]float64, int) {
	out := make([]float64, 0, len(v))
	for _, f := range v {
		if !math.IsNaN(f) && !math.IsInf(f, 0) {
			out = append(out, f)
		}
	}
	return out, len(v) - len(out)
}

func mean(v []float64) float64 {
	if len(v) == 0 {
		return math.NaN()
	}
	// A running mean: a sum of large values would overflow.
	var m float64
	for i, f := range v {
		m += (f - m) / float64(i+1)
	}
	return m
}

func num(f float64) string { return fmt.Sprintf("%.4g", f) }
