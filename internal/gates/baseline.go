package gates

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/judge"
	"github.com/drover-dev/drover/internal/tenancy"
)

// Defaults of a baseline gate (droverv1.BaselineGate).
const (
	defaultBaselineProds      = 10
	defaultBaselineWindow     = 5 * time.Minute
	defaultBaselineInterval   = 15 * time.Second
	defaultBaselineMinSamples = 10
	defaultBaselineConfidence = 0.95
	defaultBaselineRetries    = 2
)

// baselineOutcome is a baseline gate's verdict with what it compared.
type baselineOutcome struct {
	verdict judge.Verdict
	message string
	detail  *droverv1.BaselineJudgement
}

// baseline judges the canary targets against the baseline ones (each side cut to the
// gate's maxProds, the same number on both) for each metric: every interval over the
// window, each metric is queried for each Prod, one sample per Prod per round; then
// judge.Judge decides. Under onInconclusive Retry an inconclusive judgement is made again
// over a new window, up to the gate's retries. Queries that cannot be answered MaxErrors
// rounds in a row make the judgement inconclusive: the gate cannot be judged.
func (r *Runner) baseline(ctx context.Context, key string, g droverv1.BaselineGate, canary, base []Target, policy tenancy.Policy) baselineOutcome {
	q := r.Prometheus
	q.Policy = policy
	n := defaultBaselineProds
	if g.MaxProds != nil {
		n = int(*g.MaxProds)
	}
	canary = canary[:min(len(canary), n)]
	base = base[:min(len(base), len(canary))]
	detail := &droverv1.BaselineJudgement{Canary: names(canary), Baseline: names(base)}
	if len(canary) == 0 || len(base) == 0 {
		return baselineOutcome{verdict: judge.Inconclusive, detail: detail,
			message: fmt.Sprintf("nothing to compare: %d canary Prods, %d baseline Prods on the previous revision", len(canary), len(base))}
	}
	metrics, err := judgeMetrics(g)
	if err != nil {
		return baselineOutcome{verdict: judge.Inconclusive, detail: detail, message: err.Error()}
	}
	attempts := 1
	if g.OnInconclusive == droverv1.InconclusiveRetry {
		attempts += defaultBaselineRetries
		if g.Retries != nil {
			attempts = 1 + int(*g.Retries)
		}
	}
	var out baselineOutcome
	for attempt := 1; attempt <= attempts; attempt++ {
		out = r.baselineOnce(ctx, key, g, metrics, canary, base, q, attempt)
		out.detail.Canary, out.detail.Baseline, out.detail.Attempts = detail.Canary, detail.Baseline, int32(attempt)
		if out.verdict != judge.Inconclusive || ctx.Err() != nil {
			break
		}
	}
	return out
}

// baselineOnce is one judgement over one window.
func (r *Runner) baselineOnce(ctx context.Context, key string, g droverv1.BaselineGate, metrics []judge.Metric,
	canary, base []Target, q PrometheusQuerier, attempt int) baselineOutcome {
	window, interval := windowAndInterval(g.Window, g.Interval, defaultBaselineWindow, defaultBaselineInterval)
	maxErrors := r.maxErrors()
	cs := make([][]float64, len(g.Metrics))
	bs := make([][]float64, len(g.Metrics))
	start := r.now()
	errs, rounds := 0, 0
	for {
		var failed error
		at := r.now()
	round:
		for i, m := range g.Metrics {
			for side, targets := range [][]Target{canary, base} {
				for _, t := range targets {
					v, ok, err := q.Sample(ctx, g.Address, m.Query, t, at)
					if err != nil {
						failed = fmt.Errorf("metric %s, Prod %s: %w", m.Name, t.Prod, err)
						break round
					}
					if !ok {
						continue // no data: not a sample
					}
					if side == 0 {
						cs[i] = append(cs[i], v)
					} else {
						bs[i] = append(bs[i], v)
					}
				}
			}
		}
		switch {
		case failed != nil && ctx.Err() != nil:
			return baselineOutcome{verdict: judge.Inconclusive, detail: &droverv1.BaselineJudgement{}, message: ctx.Err().Error()}
		case failed != nil:
			errs++
			if errs >= maxErrors {
				return baselineOutcome{verdict: judge.Inconclusive, detail: &droverv1.BaselineJudgement{},
					message: fmt.Sprintf("%d rounds of queries in a row failed: %v", errs, failed)}
			}
		default:
			errs = 0
			rounds++
		}
		if r.now().Sub(start) >= window && rounds > 0 {
			break
		}
		r.progress(key, fmt.Sprintf("attempt %d: %d rounds sampled of %d canary and %d baseline Prods, window %s", attempt, rounds, len(canary), len(base), window))
		if err := sleepCtx(ctx, interval); err != nil {
			return baselineOutcome{verdict: judge.Inconclusive, detail: &droverv1.BaselineJudgement{}, message: err.Error()}
		}
	}
	results := make([]judge.Result, len(g.Metrics))
	detail := &droverv1.BaselineJudgement{}
	var parts []string
	for i, m := range g.Metrics {
		res := judge.Judge(metrics[i], cs[i], bs[i])
		results[i] = res
		detail.Metrics = append(detail.Metrics, droverv1.MetricJudgement{
			Name: m.Name, Verdict: string(res.Verdict), CanaryMean: decimal(res.CanaryMean), BaselineMean: decimal(res.BaselineMean),
			CanarySamples: int32(res.CanarySamples), BaselineSamples: int32(res.BaselineSamples), Unusable: int32(res.Unusable),
			PValue: decimal(res.P), Reason: res.Reason,
		})
		parts = append(parts, fmt.Sprintf("%s %s: %s", m.Name, res.Verdict, res.Reason))
	}
	v := judge.Combine(results)
	return baselineOutcome{verdict: v, detail: detail,
		message: fmt.Sprintf("%s after %s (%d rounds, canary %s vs baseline %s): %s", v, window, rounds,
			strings.Join(names(canary), ","), strings.Join(names(base), ","), strings.Join(parts, "; "))}
}

// judgeMetrics reads each metric's judgement settings from the gate.
func judgeMetrics(g droverv1.BaselineGate) ([]judge.Metric, error) {
	conf := defaultBaselineConfidence
	if g.Confidence != "" {
		c, err := strconv.ParseFloat(g.Confidence, 64)
		if err != nil || !(c > 0 && c < 1) {
			return nil, fmt.Errorf("confidence %q is not a decimal between 0 and 1", g.Confidence)
		}
		conf = c
	}
	minSamples := defaultBaselineMinSamples
	if g.MinSamples != nil {
		minSamples = int(*g.MinSamples)
	}
	out := make([]judge.Metric, 0, len(g.Metrics))
	for _, m := range g.Metrics {
		jm := judge.Metric{Worse: judge.WorseWhenHigher, MinSamples: minSamples, Confidence: conf}
		if m.WorseWhen == string(judge.WorseWhenLower) {
			jm.Worse = judge.WorseWhenLower
		}
		for _, f := range []struct {
			s   string
			dst *float64
			nm  string
		}{{m.MaxRatio, &jm.MaxRatio, "maxRatio"}, {m.MaxDifference, &jm.MaxDifference, "maxDifference"}} {
			if f.s == "" {
				continue
			}
			v, err := strconv.ParseFloat(f.s, 64)
			if err != nil || v < 0 || math.IsInf(v, 0) {
				return nil, fmt.Errorf("metric %s: %s %q is not a decimal", m.Name, f.nm, f.s)
			}
			*f.dst = v
		}
		out = append(out, jm)
	}
	return out, nil
}

func names(ts []Target) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Prod
	}
	return out
}

// decimal formats a number for the status; "" for NaN.
func decimal(f float64) string {
	if math.IsNaN(f) {
		return ""
	}
	return strconv.FormatFloat(f, 'g', 6, 64)
}
