package gates

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// PrometheusQuerier evaluates PromQL instant queries through Prometheus's HTTP API
// (GET /api/v1/query). Its requests follow redirects to the same scheme, host and port
// only, and its verdicts hold status codes, Prometheus's error types and the query's
// value, never a word of what a server answered.
type PrometheusQuerier struct {
	// Policy is the tenancy of the gate's namespace: which addresses a gate's own
	// address may be and reach (GateURL, GateAddress). The zero value is the defaults.
	Policy tenancy.Policy
	// Address is used when a gate names none (the manager's --prometheus-address). The
	// platform team chose it, so Policy does not judge it.
	Address string
	// Timeout of one query. Defaults to 10s.
	Timeout time.Duration
}

// PrometheusResult is one evaluation of a Prometheus gate.
type PrometheusResult struct {
	// Holds: the value compared with the threshold as the gate says.
	Holds   bool
	Value   float64
	Message string
}

// Evaluate runs the gate's query (with {{ .Prod }} and {{ .Version }} substituted from
// t) at time at and compares its one value with the threshold. A query that returns no
// sample, or more than one, is an error: the gate cannot be judged.
func (q PrometheusQuerier) Evaluate(ctx context.Context, gate droverv1.PrometheusGate, t Target, at time.Time) (PrometheusResult, error) {
	query, err := render(gate.Query, t)
	if err != nil {
		return PrometheusResult{}, err
	}
	threshold, err := strconv.ParseFloat(gate.Threshold, 64)
	if err != nil {
		return PrometheusResult{}, fmt.Errorf("prometheus threshold %q: %w", gate.Threshold, err)
	}
	vs, err := q.queryAt(ctx, gate.Address, query, at)
	if err != nil {
		return PrometheusResult{}, err
	}
	if len(vs) != 1 {
		return PrometheusResult{}, fmt.Errorf("query %q returned %d samples; a gate needs exactly one (aggregate it, e.g. with sum())", query, len(vs))
	}
	v := vs[0]
	holds, err := compare(v, gate.Comparison, threshold)
	if err != nil {
		return PrometheusResult{}, err
	}
	verdict := "holds"
	if !holds {
		verdict = "does not hold"
	}
	return PrometheusResult{Holds: holds, Value: v,
		Message: fmt.Sprintf("%s = %g; %g %s %s %s", query, v, v, gate.Comparison, gate.Threshold, verdict)}, nil
}

// Sample runs query (a template: {{ .Prod }} and {{ .Version }} from t) at time at
// against address (the manager's --prometheus-address when empty) and returns its one
// value, or ok false when it returned no sample (the Prod has no data). More than one
// sample is an error; a NaN value is returned as such, for the caller to judge.
func (q PrometheusQuerier) Sample(ctx context.Context, address, query string, t Target, at time.Time) (v float64, ok bool, err error) {
	rendered, err := render(query, t)
	if err != nil {
		return 0, false, err
	}
	vs, err := q.queryAt(ctx, address, rendered, at)
	switch {
	case err != nil:
		return 0, false, err
	case len(vs) == 0:
		return 0, false, nil
	case len(vs) > 1:
		return 0, false, fmt.Errorf("query %q returned %d samples; a metric needs one per Prod (aggregate it, e.g. with sum())", rendered, len(vs))
	}
	return vs[0], true, nil
}

// render substitutes t into a query template.
func render(query string, t Target) (string, error) {
	tmpl, err := template.New("query").Option("missingkey=error").Parse(query)
	if err != nil {
		return "", fmt.Errorf("prometheus query %q: %w", query, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, t); err != nil {
		return "", fmt.Errorf("prometheus query %q: %w", query, err)
	}
	return b.String(), nil
}

// queryAt queries address, or the manager's own address when the gate names none (which
// the platform team chose, so the tenancy does not judge it).
func (q PrometheusQuerier) queryAt(ctx context.Context, address, query string, at time.Time) ([]float64, error) {
	addr, trusted := address, false
	if addr == "" {
		addr, trusted = q.Address, true
	}
	if addr == "" {
		return nil, fmt.Errorf("the gate names no Prometheus address and the manager has no --prometheus-address")
	}
	return q.query(ctx, addr, trusted, query, at)
}

func compare(v float64, op string, threshold float64) (bool, error) {
	switch op {
	case "<":
		return v < threshold, nil
	case "<=":
		return v <= threshold, nil
	case ">":
		return v > threshold, nil
	case ">=":
		return v >= threshold, nil
	}
	return false, fmt.Errorf("unknown comparison %q", op)
}

// apiResponse is the part of Prometheus's query response Evaluate reads.
type apiResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// errorTypes are the error types Prometheus's API answers with; any other is "unknown".
var errorTypes = map[string]bool{
	"bad_data": true, "execution": true, "canceled": true, "timeout": true, "internal": true,
	"unavailable": true, "not_found": true, "not_acceptable": true,
}

// resultTypes are the result types Prometheus's API answers with.
var resultTypes = map[string]bool{"matrix": true, "vector": true, "scalar": true, "string": true}

func (q PrometheusQuerier) query(ctx context.Context, addr string, trusted bool, query string, at time.Time) ([]float64, error) {
	timeout := q.Timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	u := strings.TrimRight(addr, "/") + "/api/v1/query?" + url.Values{
		"query": {query}, "time": {strconv.FormatFloat(float64(at.UnixMilli())/1000, 'f', 3, 64)},
	}.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("the Prometheus address %q is not a URL", addr)
	}
	if !trusted {
		if ref := q.Policy.GateURL(u); ref != nil {
			return nil, fmt.Errorf("refused: %w", ref)
		}
	}
	c := newClient(q.Policy, trusted)
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("querying Prometheus at %s: %s", addr, reason(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("reading Prometheus's answer (HTTP %d): %s", resp.StatusCode, reason(err))
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("the Prometheus address %s answered HTTP %d: the answer is not a Prometheus API response", addr, resp.StatusCode)
	}
	if r.Status != "success" {
		errorType := r.ErrorType
		if !errorTypes[errorType] {
			errorType = "unknown"
		}
		// Prometheus's error text is not shown: the address may be anything answering
		// JSON. Its error type is one of a few words.
		return nil, fmt.Errorf("the query %q was refused by Prometheus (HTTP %d, error type %s); try it in Prometheus's own UI to see why", query, resp.StatusCode, errorType)
	}
	switch r.Data.ResultType {
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(r.Data.Result, &s); err != nil {
			return nil, fmt.Errorf("the answer's scalar is not a Prometheus scalar")
		}
		v, err := sampleValue(s[1])
		if err != nil {
			return nil, err
		}
		return []float64{v}, nil
	case "vector":
		var v []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("the answer's vector is not a Prometheus vector")
		}
		out := make([]float64, 0, len(v))
		for _, e := range v {
			f, err := sampleValue(e.Value[1])
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	}
	resultType := r.Data.ResultType
	if !resultTypes[resultType] {
		resultType = "result of an unknown type"
	}
	return nil, fmt.Errorf("query %q returned a %s; a gate needs a scalar or a one-sample vector", query, resultType)
}

func sampleValue(v any) (float64, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("a sample value is not a string")
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, fmt.Errorf("a sample value is not a number")
	}
	return f, nil
}
