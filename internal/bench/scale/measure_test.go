package scale

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat: 100 on every
// architecture Linux runs drover on (sysconf(_SC_CLK_TCK), which Go does not expose).
const clockTicks = 100

// procStats is what /proc says about one process.
type procStats struct {
	// RSS is VmRSS, the resident set now; HWM is VmHWM, its peak since the process
	// started. Both in bytes.
	RSS, HWM int64
	// CPU is utime+stime: CPU time the process used since it started, user and system.
	CPU time.Duration
}

// readProc reads VmRSS and VmHWM from /proc/<pid>/status and utime+stime from
// /proc/<pid>/stat.
func readProc(pid int) (procStats, error) {
	var st procStats
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(status), "\n") {
		name, rest, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		fields := strings.Fields(rest) // "123456 kB"
		if len(fields) != 2 || fields[1] != "kB" {
			return st, fmt.Errorf("/proc/%d/status: cannot read %q", pid, line)
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return st, fmt.Errorf("/proc/%d/status: %q: %w", pid, line, err)
		}
		if name == "VmRSS" {
			st.RSS = kb << 10
		} else {
			st.HWM = kb << 10
		}
	}
	if st.RSS == 0 || st.HWM == 0 {
		return st, fmt.Errorf("/proc/%d/status has no VmRSS or VmHWM", pid)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	st.CPU, err = parseStatCPU(string(stat))
	if err != nil {
		return st, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return st, nil
}

// parseStatCPU returns utime+stime of a /proc/<pid>/stat line. The command name (field
// 2) is in parentheses and may hold spaces and parentheses itself, so fields are counted
// from the last ')': utime and stime are fields 14 and 15 of the line.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	fields := strings.Fields(stat[i+1:]) // fields[0] is field 3 (state)
	if len(fields) < 13 {
		return 0, fmt.Errorf("too few fields in %q", stat)
	}
	var ticks int64
	for _, f := range fields[11:13] {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("utime/stime %q: %w", f, err)
		}
		ticks += n
	}
	return time.Duration(ticks) * time.Second / clockTicks, nil
}

// selfCPU is the CPU time this (test) process has used so far.
func selfCPU() (time.Duration, error) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(stat))
}

// sample is one Prometheus sample: a metric name, its labels and its value.
type sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// metrics are the samples of one scrape.
type metrics []sample

// sum adds up the samples named name whose labels include every pair of match.
func (m metrics) sum(name string, match map[string]string) float64 {
	var total float64
	for _, s := range m {
		if s.Name == name && labelsMatch(s.Labels, match) {
			total += s.Value
		}
	}
	return total
}

func labelsMatch(have, want map[string]string) bool {
	for k, v := range want {
		if have[k] != v {
			return false
		}
	}
	return true
}

// parseMetrics reads the Prometheus text exposition format, keeping only the samples
// whose name keep accepts (nil keeps all). Comments, HELP and TYPE lines are skipped.
func parseMetrics(r io.Reader, keep func(name string) bool) (metrics, error) {
	var out metrics
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		end := strings.IndexAny(line, "{ ")
		if end < 0 {
			return nil, fmt.Errorf("line %d: no value in %q", n, line)
		}
		name := line[:end]
		if keep != nil && !keep(name) {
			continue
		}
		s := sample{Name: name, Labels: map[string]string{}}
		rest := line[end:]
		if rest[0] == '{' {
			var err error
			if rest, err = parseLabels(rest[1:], s.Labels); err != nil {
				return nil, fmt.Errorf("line %d: %w", n, err)
			}
		}
		fields := strings.Fields(rest) // value [timestamp]
		if len(fields) == 0 {
			return nil, fmt.Errorf("line %d: no value in %q", n, line)
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: value %q: %w", n, fields[0], err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// parseLabels reads `a="x",b="y"}` into into and returns what follows the '}'. Values
// may hold \\, \" and \n escapes.
func parseLabels(s string, into map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return "", fmt.Errorf("unterminated labels")
		}
		if s[0] == '}' {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq < 0 || len(s) < eq+2 || s[eq+1] != '"' {
			return "", fmt.Errorf("bad label in %q", s)
		}
		key := strings.TrimSpace(s[:eq])
		s = s[eq+2:]
		var val strings.Builder
		closed := false
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					val.WriteByte('\n')
				default:
					val.WriteByte(s[i])
				}
				continue
			}
			if c == '"' {
				s = s[i+1:]
				closed = true
				break
			}
			val.WriteByte(c)
		}
		if !closed {
			return "", fmt.Errorf("unterminated value of label %s", key)
		}
		into[key] = val.String()
	}
}

// scrapeURL fetches and parses a /metrics endpoint with hc.
func scrapeURL(ctx context.Context, hc *http.Client, url string, keep func(string) bool) (metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, body)
	}
	return parseMetrics(resp.Body, keep)
}

// requestKey is a class of API requests as kube-apiserver counts them.
type requestKey struct {
	// Verb as apiserver_request_total names it: LIST, GET, WATCH, APPLY (server-side
	// apply), PATCH, POST, PUT, DELETE...
	Verb string
	// Resource (with "/subresource"), or "" for requests outside the resource API:
	// discovery (/api, /apis), health probes (/, /healthz), /version.
	Resource string
	// Path of a request outside the resource API.
	Path string
}

// requestCounts are API requests by class.
type requestCounts map[requestKey]float64

// apiserverKeep keeps the samples apiServerRequests needs.
func apiserverKeep(name string) bool {
	return name == "apiserver_request_total" || name == "apiserver_longrunning_requests"
}

// apiServerRequests scrapes one kube-apiserver's metrics (as an admin, cfg): requests
// that ended, from apiserver_request_total, by verb and resource; and the watches open
// now, from apiserver_longrunning_requests, by resource. A WATCH is counted in the first
// only when it ends; an informer's initial list arrives through its watch (client-go's
// WatchListClient), so an informer shows as one open watch and no LIST.
func apiServerRequests(ctx context.Context, cfg *rest.Config) (ended, watching requestCounts, _ error) {
	hc, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, nil, err
	}
	m, err := scrapeURL(ctx, hc, strings.TrimRight(cfg.Host, "/")+"/metrics", apiserverKeep)
	if err != nil {
		return nil, nil, err
	}
	ended, watching = requestCounts{}, requestCounts{}
	for _, s := range m {
		k := requestKey{Verb: s.Labels["verb"], Resource: s.Labels["resource"]}
		if sub := s.Labels["subresource"]; sub != "" {
			if k.Resource == "" {
				k.Path = sub // the path of a non-resource request
			} else {
				k.Resource += "/" + sub
			}
		}
		switch {
		case s.Name == "apiserver_request_total":
			ended[k] += s.Value
		case k.Verb == "WATCH":
			watching[k] += s.Value
		}
	}
	return ended, watching, nil
}

// minus returns c - before, dropping classes that did not change.
func (c requestCounts) minus(before requestCounts) requestCounts {
	out := requestCounts{}
	for k, v := range c {
		if d := v - before[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// add adds o into c.
func (c requestCounts) add(o requestCounts) {
	for k, v := range o {
		c[k] += v
	}
}

// total sums the classes keep accepts.
func (c requestCounts) total(keep func(requestKey) bool) float64 {
	var t float64
	for k, v := range c {
		if keep(k) {
			t += v
		}
	}
	return t
}

// apiserverOwn are resources every kube-apiserver reads and writes by itself, through
// its loopback client, whatever its clients do: its identity and endpoint leases, the
// kubernetes Service's endpoints, the bootstrap controllers' checks. They are left out
// of what is attributed to the manager.
var apiserverOwn = map[string]bool{
	"leases": true, "endpoints": true, "endpointslices": true, "services/status": true,
	"resourcequotas": true, "limitranges": true, "serviceaccounts": true,
	"flowschemas/status": true, "prioritylevelconfigurations/status": true,
	"flowschemas": true, "prioritylevelconfigurations": true,
	// The manager's review of the benchmark's own scrapes of its metrics (the bearer
	// token and its access to /metrics; cached for minutes): measurement, not work.
	"tokenreviews": true, "subjectaccessreviews": true,
}

// apiserverOwnVerbs are requests a kube-apiserver makes of itself on a timer: the
// ClusterIP and NodePort repair loops list every Service every few minutes.
var apiserverOwnVerbs = map[requestKey]bool{{Verb: "LIST", Resource: "services"}: true}

// attributable reports whether a request class can have come from the manager: a
// resource request outside the kube-apiserver's own housekeeping. Non-resource requests
// (discovery, probes) are counted apart, and so are watches: one that ended during a
// measurement is the kube-apiserver's own informer's (the manager's stay open; they are
// counted from apiserver_longrunning_requests).
func attributable(k requestKey) bool {
	return k.Resource != "" && k.Verb != "WATCH" && !apiserverOwn[k.Resource] && !apiserverOwnVerbs[k]
}

// isWrite reports whether a verb asks the API server to change something. A
// server-side apply that changes nothing is still a write request; whether it changed
// an object is told by resourceVersions (see objectSnapshot).
func isWrite(verb string) bool {
	switch verb {
	case "APPLY", "PATCH", "POST", "PUT", "DELETE", "DELETECOLLECTION", "CREATE", "UPDATE":
		return true
	}
	return false
}

// String renders the counts as "VERB resource=n" sorted by count, then name.
func (c requestCounts) String() string {
	keys := make([]requestKey, 0, len(c))
	for k := range c {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if c[keys[i]] != c[keys[j]] {
			return c[keys[i]] > c[keys[j]]
		}
		if keys[i].Verb != keys[j].Verb {
			return keys[i].Verb < keys[j].Verb
		}
		return keys[i].Resource < keys[j].Resource
	})
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		res := k.Resource
		if res == "" {
			res = k.Path
		}
		parts = append(parts, fmt.Sprintf("%s %s=%.0f", k.Verb, res, c[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// objectSnapshot maps "<cluster>/<kind>/<namespace>/<name>" to the object's
// resourceVersion. An object that was written has a new one.
type objectSnapshot map[string]string

// objectDiff is what changed between two snapshots.
type objectDiff struct {
	Changed, Added, Removed []string
}

func (d objectDiff) empty() bool {
	return len(d.Changed)+len(d.Added)+len(d.Removed) == 0
}

func (d objectDiff) count() int { return len(d.Changed) + len(d.Added) + len(d.Removed) }

// String names up to five objects of each kind of change.
func (d objectDiff) String() string {
	if d.empty() {
		return "nothing changed"
	}
	const shown = 5
	show := func(what string, keys []string) string {
		if len(keys) == 0 {
			return ""
		}
		s := fmt.Sprintf("%d %s", len(keys), what)
		if len(keys) > shown {
			return s + fmt.Sprintf(" (%s, ...)", strings.Join(keys[:shown], ", "))
		}
		return s + " (" + strings.Join(keys, ", ") + ")"
	}
	var parts []string
	for _, p := range []string{show("changed", d.Changed), show("added", d.Added), show("removed", d.Removed)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, "; ")
}

// diff compares after with s (before).
func (s objectSnapshot) diff(after objectSnapshot) objectDiff {
	var d objectDiff
	for k, rv := range s {
		switch arv, ok := after[k]; {
		case !ok:
			d.Removed = append(d.Removed, k)
		case arv != rv:
			d.Changed = append(d.Changed, k)
		}
	}
	for k := range after {
		if _, ok := s[k]; !ok {
			d.Added = append(d.Added, k)
		}
	}
	sort.Strings(d.Changed)
	sort.Strings(d.Added)
	sort.Strings(d.Removed)
	return d
}
