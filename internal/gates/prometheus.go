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
	tmpl, err := template.New("query").Option("missingkey=error").Parse(gate.Query)
	if err != nil {
		return PrometheusResult{}, fmt.Errorf("prometheus query %q: %w", gate.Query, err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, t); err != nil {
		return PrometheusResult{}, fmt.Errorf("prometheus query %q: %w", gate.Query, err)
	}
	threshold, err := strconv.ParseFloat(gate.Threshold, 64)
	if err != nil {
		return PrometheusResult{}, fmt.Errorf("prometheus threshold %q: %w", gate.Threshold, err)
	}
	addr, trusted := gate.Address, false
	if addr == "" {
		addr, trusted = q.Address, true
	}
	if addr == "" {
		return PrometheusResult{}, fmt.Errorf("the gate names no Prometheus address and the manager has no --prometheus-address")
	}
	v, err := q.query(ctx, addr, trusted, b.String(), at)
	if err != nil {
		return PrometheusResult{}, err
	}
	holds, err := compare(v, gate.Comparison, threshold)
	if err != nil {
		return PrometheusResult{}, err
	}
	verdict := "holds"
	if !holds {
		verdict = "does not hold"
	}
	return PrometheusResult{Holds: holds, Value: v,
		Message: fmt.Sprintf("%s = %g; %g %s %s %s", b.String(), v, v, gate.Comparison, gate.Threshold, verdict)}, nil
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

func (q PrometheusQuerier) query(ctx context.Context, addr string, trusted bool, query string, at time.Time) (float64, error) {
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
		return 0, fmt.Errorf("the Prometheus address %q is not a URL", addr)
	}
	if !trusted {
		if ref := q.Policy.GateURL(u); ref != nil {
			return 0, fmt.Errorf("refused: %w", ref)
		}
	}
	c := newClient(q.Policy, trusted)
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("querying Prometheus at %s: %s", addr, reason(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return 0, fmt.Errorf("reading Prometheus's answer (HTTP %d): %s", resp.StatusCode, reason(err))
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return 0, fmt.Errorf("the Prometheus address %s answered HTTP %d: the answer is not a Prometheus API response", addr, resp.StatusCode)
	}
	if r.Status != "success" {
		errorType := r.ErrorType
		if !errorTypes[errorType] {
			errorType = "unknown"
		}
		// Prometheus's error text is not shown: the address may be anything answering
		// JSON. Its error type is one of a few words.
		return 0, fmt.Errorf("the query %q was refused by Prometheus (HTTP %d, error type %s); try it in Prometheus's own UI to see why", query, resp.StatusCode, errorType)
	}
	switch r.Data.ResultType {
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(r.Data.Result, &s); err != nil {
			return 0, fmt.Errorf("the answer's scalar is not a Prometheus scalar")
		}
		return sampleValue(s[1])
	case "vector":
		var v []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			return 0, fmt.Errorf("the answer's vector is not a Prometheus vector")
		}
		if len(v) != 1 {
			return 0, fmt.Errorf("query %q returned %d samples; a gate needs exactly one (aggregate it, e.g. with sum())", query, len(v))
		}
		return sampleValue(v[0].Value[1])
	}
	resultType := r.Data.ResultType
	if !resultTypes[resultType] {
		resultType = "result of an unknown type"
	}
	return 0, fmt.Errorf("query %q returned a %s; a gate needs a scalar or a one-sample vector", query, resultType)
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
