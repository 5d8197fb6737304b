// Package grafana_test checks the Grafana dashboard drover ships: well-formed JSON, and
// every metric its queries read is one the manager registers (drover's own and
// controller-runtime's), so a renamed metric cannot leave a panel empty unnoticed.
package grafana_test

import (
	"encoding/json"
	"errors"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	// The packages that register drover's metrics, as the manager imports them.
	_ "github.com/drover-dev/drover/controllers/mirror"
	_ "github.com/drover-dev/drover/controllers/prod"
	_ "github.com/drover-dev/drover/controllers/prodset"
	_ "github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	_ "github.com/drover-dev/drover/internal/gates"
)

type dashboard struct {
	Title       string  `json:"title"`
	UID         string  `json:"uid"`
	Panels      []panel `json:"panels"`
	Annotations struct {
		List []annotation `json:"list"`
	} `json:"annotations"`
}

// annotation is a Prometheus annotation query: the rollouts on every panel's timeline.
type annotation struct {
	Name            string `json:"name"`
	Expr            string `json:"expr"`
	UseValueForTime bool   `json:"useValueForTime"`
	TitleFormat     string `json:"titleFormat"`
}

type panel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		Expr string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"`
}

func load(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile("drover-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	dec := json.NewDecoder(strings.NewReader(string(data)))
	if err := dec.Decode(&d); err != nil {
		t.Fatalf("drover-dashboard.json is not well-formed JSON: %v", err)
	}
	if dec.More() {
		t.Fatal("drover-dashboard.json has data after its object")
	}
	return d
}

func flatten(ps []panel) []panel {
	var out []panel
	for _, p := range ps {
		out = append(out, p)
		out = append(out, flatten(p.Panels)...)
	}
	return out
}

func TestDashboardIsWellFormed(t *testing.T) {
	d := load(t)
	if d.Title == "" || d.UID == "" {
		t.Errorf("title %q, uid %q: both must be set", d.Title, d.UID)
	}
	ids := map[int]bool{}
	for _, p := range flatten(d.Panels) {
		if ids[p.ID] {
			t.Errorf("panel id %d used twice", p.ID)
		}
		ids[p.ID] = true
		if p.Type == "row" {
			continue
		}
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			if strings.TrimSpace(tg.Expr) == "" {
				t.Errorf("panel %q has an empty query", p.Title)
			}
			if strings.Count(tg.Expr, "(") != strings.Count(tg.Expr, ")") || strings.Count(tg.Expr, "{") != strings.Count(tg.Expr, "}") {
				t.Errorf("panel %q: unbalanced brackets in %q", p.Title, tg.Expr)
			}
		}
	}
}

func TestDashboardMetricsAreExported(t *testing.T) {
	d := load(t)
	used := map[string][]string{}
	if len(d.Annotations.List) < 2 {
		t.Errorf("%d annotation queries: the rollouts' starts and ends belong on the timelines", len(d.Annotations.List))
	}
	for _, a := range d.Annotations.List {
		// The value is the time (milliseconds): one annotation per rollout, when it happened.
		if !a.UseValueForTime || !strings.Contains(a.Expr, "* 1000") || a.TitleFormat == "" {
			t.Errorf("annotation %q: useValueForTime %v, expr %q, title %q", a.Name, a.UseValueForTime, a.Expr, a.TitleFormat)
		}
		for _, n := range MetricNames(a.Expr) {
			used[n] = append(used[n], "annotation "+a.Name)
		}
	}
	for _, p := range flatten(d.Panels) {
		for _, tg := range p.Targets {
			names := MetricNames(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric found in %q", p.Title, tg.Expr)
			}
			for _, n := range names {
				used[n] = append(used[n], p.Title)
			}
		}
	}
	drover := 0
	for name, panels := range used {
		if !registered(name) {
			t.Errorf("metric %s (panels %s) is not registered by drover or controller-runtime", name, strings.Join(slices.Compact(panels), ", "))
		}
		if strings.HasPrefix(name, "drover_") {
			drover++
		}
	}
	if drover < 10 {
		t.Errorf("the dashboard reads only %d drover metrics", drover)
	}
}

// registered reports whether the controller-runtime registry (the one the manager
// serves) has a metric named name, or a histogram or summary whose series it is.
func registered(name string) bool {
	if nameTaken(name) {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && nameTaken(base) {
			return true
		}
	}
	return false
}

// nameTaken tries to register a probe under name: the registry refuses a second
// descriptor of a name it has with other labels or help, and a copy of one it has.
func nameTaken(name string) bool {
	probe := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: "probe from the dashboard test"})
	err := metrics.Registry.Register(probe)
	if err == nil {
		metrics.Registry.Unregister(probe)
		return false
	}
	var already prometheus.AlreadyRegisteredError
	return errors.As(err, &already) || strings.Contains(err.Error(), "same fully-qualified name")
}

var (
	stringLit  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	variable   = regexp.MustCompile(`\$\{?[A-Za-z0-9_]+(?::[A-Za-z]+)?\}?`)
	matchers   = regexp.MustCompile(`\{[^{}]*\}`)
	ranges     = regexp.MustCompile(`\[[^\[\]]*\]`)
	grouping   = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	identifier = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
	keywords   = map[string]bool{
		"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
		"and": true, "or": true, "unless": true, "bool": true, "offset": true, "inf": true, "nan": true,
	}
)

// MetricNames extracts the metric names a PromQL expression reads: identifiers that are
// not label names (inside {} or grouping clauses), functions or aggregations (followed by
// "("), keywords, Grafana variables, strings or durations.
func MetricNames(expr string) []string {
	e := stringLit.ReplaceAllString(expr, `""`)
	e = variable.ReplaceAllString(e, "")
	e = matchers.ReplaceAllString(e, " ")
	e = ranges.ReplaceAllString(e, " ")
	e = grouping.ReplaceAllString(e, " ")
	var out []string
	for _, loc := range identifier.FindAllStringIndex(e, -1) {
		name := e[loc[0]:loc[1]]
		if loc[0] > 0 && (e[loc[0]-1] == '.' || e[loc[0]-1] >= '0' && e[loc[0]-1] <= '9') {
			continue // part of a number such as 1e3
		}
		if keywords[strings.ToLower(name)] || strings.HasPrefix(strings.TrimSpace(e[loc[1]:]), "(") {
			continue
		}
		if next := strings.TrimSpace(e[loc[1]:]); strings.HasPrefix(next, "by") || strings.HasPrefix(next, "without") {
			continue // an aggregation written "sum by (x) (...)"; its clause is gone already
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (phase) (drover_prods{namespace=~"$namespace"})`:                                   {"drover_prods"},
		`histogram_quantile(0.9, sum by (le) (rate(a_seconds_bucket{x="y"}[$__rate_interval])))`:   {"a_seconds_bucket"},
		`sum(rate(errs_total[5m])) / sum(rate(all_total[5m])) > bool 0.1`:                          {"all_total", "errs_total"},
		`max without (pod) (up) or on (job) vector(1)`:                                             {"up"},
		`sum by (x) (rate(c_total{outcome=~"throttled|error", job="drover"}[1h] offset 1d)) * 1e3`: {"c_total"},
		`count(foo) by (bar)`: {"foo"},
		`label_replace(metric_a, "dst", "$1", "src", "(.*)") + ignoring(dst) group_left() metric_b{}`: {"metric_a", "metric_b"},
	} {
		if got := MetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("MetricNames(%q) = %v, want %v", expr, got, want)
		}
	}
}
