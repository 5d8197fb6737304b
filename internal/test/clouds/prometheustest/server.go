// Package prometheustest runs a real Prometheus server, and an Exporter for it to
// scrape, so that drover's Prometheus gate is tested against the real thing.
//
// Why not a fake /api/v1/query: a fake answers what its author believes Prometheus
// answers. The real server proves that the PromQL a gate sends parses, that its label
// matchers select the series meant, what an instant query returns for a missing or
// stale series, and that a gate sees a new value only after it has been scraped.
//
// The binary is $DROVER_PROMETHEUS, else bin/prometheus/prometheus in the repository
// (make prometheus puts it there), else prometheus on PATH. Without one, Start fails
// the test: gate tests are never skipped.
package prometheustest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/drover-dev/drover/internal/test/proc"
)

// BinaryEnv names the environment variable holding the path of the prometheus binary.
const BinaryEnv = "DROVER_PROMETHEUS"

const readyTimeout = 30 * time.Second

// Options configures the Prometheus server Start runs.
type Options struct {
	// ScrapeTargets are the host:port addresses scraped (at /metrics), all in one job
	// named "test".
	ScrapeTargets []string
	// ScrapeInterval is the global scrape and evaluation interval. Defaults to 1s.
	ScrapeInterval time.Duration
}

// Server is a running Prometheus server.
type Server struct {
	url     string
	logPath string
}

// URL is the server's base URL, http://127.0.0.1:<port>, the address a gate names.
func (s *Server) URL() string { return s.url }

// Start runs a Prometheus server on a free port of 127.0.0.1 with its configuration and
// storage in a temporary directory, and waits until it is ready. It is stopped when the
// test ends; if the test failed, the tail of its log is logged.
func Start(t T, opts Options) *Server {
	t.Helper()
	bin := binary(t)
	if opts.ScrapeInterval <= 0 {
		opts.ScrapeInterval = time.Second
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, config(opts), 0o644); err != nil {
		t.Fatalf("prometheustest: %v", err)
	}
	s := &Server{logPath: filepath.Join(dir, "prometheus.log")}
	t.Cleanup(func() { // runs after run's cleanup has stopped Prometheus
		if t.Failed() {
			t.Logf("prometheustest: what Prometheus at %s warned of:\n%s", s.url, s.logProblems())
		}
	})
	// Another process may take the free port before Prometheus binds it; try again then.
	for attempt := 1; ; attempt++ {
		addr := freeAddr(t)
		s.url = "http://" + addr
		err := s.run(t, bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--web.listen-address="+addr, "--log.level=info")
		if err == nil {
			return s
		}
		if attempt < 3 && strings.Contains(s.logTail(), "address already in use") {
			continue
		}
		t.Fatalf("prometheustest: %v", err) // the cleanup above logs the log's tail
	}
}

// run starts bin and waits until it answers /-/ready, stopping it at the end of the
// test; an error means it has been stopped again.
func (s *Server) run(t T, bin string, args ...string) error {
	t.Helper()
	log, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	fmt.Fprintf(log, "### %s %q\n", bin, args)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = log, log
	proc.SetAttrs(cmd)
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan struct{})
	var waitErr error // set before exited is closed
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		_ = log.Close()
	}
	t.Cleanup(stop)

	deadline := time.Now().Add(readyTimeout)
	for {
		select {
		case <-exited:
			stop()
			return fmt.Errorf("%s exited before it was ready: %v", bin, waitErr)
		case <-time.After(100 * time.Millisecond):
		}
		if code, _, err := get(s.url + "/-/ready"); err == nil && code == http.StatusOK {
			return nil
		}
		if time.Now().After(deadline) {
			stop()
			return fmt.Errorf("%s not ready at %s/-/ready after %v", bin, s.url, readyTimeout)
		}
	}
}

// WaitForQuery polls the instant query until it returns at least one sample, so a test
// knows scraping has started; a comparison waits for a value, such as
// `shop_error_ratio{prod="shop-eu-1"} > 0.1`. It fails the test after timeout, at
// once if Prometheus refuses the query. The first scrape comes about 5s after Start:
// Prometheus 2.42 applies new scrape targets every 5s.
func (s *Server) WaitForQuery(t T, query string, timeout time.Duration) {
	t.Helper()
	u := s.url + "/api/v1/query?" + url.Values{"query": {query}}.Encode()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		code, body, err := get(u)
		switch {
		case err != nil:
			last = err.Error()
		case code == http.StatusBadRequest:
			t.Fatalf("prometheustest: Prometheus refused %q: %.500s", query, body)
		case code != http.StatusOK:
			last = fmt.Sprintf("status %d: %.500s", code, body)
		default:
			var r struct {
				Data struct {
					ResultType string            `json:"resultType"`
					Result     []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &r); err != nil {
				last = fmt.Sprintf("%v: %.500s", err, body)
				break
			}
			// A scalar or a string is one sample; a vector or matrix lists them.
			if len(r.Data.Result) > 0 || r.Data.ResultType == "scalar" || r.Data.ResultType == "string" {
				return
			}
			last = string(body)
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheustest: %q returned no sample within %v; last answer: %s", query, timeout, last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// logProblems is the last warnings and errors of the log, few enough that a failed
// suite's own summary stays at the end of its output (its shutdown alone is a screenful
// of info lines).
func (s *Server) logProblems() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.Contains(line, "level=warn") || strings.Contains(line, "level=error") || strings.HasPrefix(line, "###") {
			out = append(out, line)
		}
	}
	if len(out) > 10 {
		out = out[len(out)-10:]
	}
	if len(out) == 0 {
		return "(none)"
	}
	return strings.Join(out, "\n")
}

func (s *Server) logTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return err.Error()
	}
	const n = 4000
	if len(b) > n {
		return "..." + string(b[len(b)-n:])
	}
	return string(b)
}

func config(opts Options) []byte {
	interval := strconv.FormatInt(opts.ScrapeInterval.Milliseconds(), 10) + "ms"
	targets, _ := json.Marshal(opts.ScrapeTargets) // YAML reads JSON's strings and lists
	if opts.ScrapeTargets == nil {
		targets = []byte("[]")
	}
	return []byte(fmt.Sprintf(`global:
  scrape_interval: %[1]s
  scrape_timeout: %[1]s
  evaluation_interval: %[1]s
scrape_configs:
  - job_name: test
    static_configs:
      - targets: %[2]s
`, interval, targets))
}

// binary finds the prometheus binary, or fails the test saying how to get one.
func binary(t T) string {
	t.Helper()
	if p := os.Getenv(BinaryEnv); p != "" {
		if !isExecutable(p) {
			t.Fatalf("prometheustest: $%s=%s is not an executable; run `make prometheus`", BinaryEnv, p)
		}
		return p
	}
	if root, err := repoRoot(); err == nil {
		if p := filepath.Join(root, "bin", "prometheus", "prometheus"); isExecutable(p) {
			return p
		}
	}
	if p, err := exec.LookPath("prometheus"); err == nil {
		return p
	}
	t.Fatalf("prometheustest: no prometheus binary ($%s unset, none in bin/prometheus/ or on PATH); run `make prometheus`", BinaryEnv)
	return ""
}

// repoRoot walks up from the working directory, then from this file's, to go.mod.
func repoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", errors.New("no go.mod above the working directory")
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

func freeAddr(t T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("prometheustest: finding a free port: %v", err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}

func get(u string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, body, err
}
