// Package gates evaluates the gates of a rollout step that look outside drover: an HTTP
// check of each of the step's Prods and a Prometheus query with a threshold. Each
// evaluation is one bounded call; the rollout engine decides when to call and what the
// results mean.
package gates

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/template"
	"time"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// Target is one Prod an HTTP check is made against.
type Target struct {
	// Prod is the Prod's name ({{ .Prod }} in the URL template).
	Prod string
	// Host is where the Prod is reached, such as its load balancer's address ({{ .Host }}).
	Host string
	// Version is the Prod's version ({{ .Version }}).
	Version string
}

// HTTPResult is the outcome of an HTTP check over all targets.
type HTTPResult struct {
	Passed bool
	// Tries and Successes per Prod.
	Tries, Successes map[string]int
	// Message explains the verdict, naming the Prods that failed.
	Message string
}

// HTTPChecker runs HTTP checks. Its requests follow redirects to the same scheme, host
// and port only, connect only to addresses Policy allows (checked on the address
// dialled, redirects included), and its verdicts hold status codes and fixed reasons,
// never a word of what a server answered.
type HTTPChecker struct {
	// Policy is the tenancy of the gate's namespace: which URLs (GateURL) and addresses
	// (GateAddress) the checks may reach. The zero value is the defaults: any URL,
	// public addresses only.
	Policy tenancy.Policy
	// Sleep waits between tries; nil means a timer that honours ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Check requests the gate's URL on every target gate.Tries times, gate.Interval apart,
// and passes when every target answered gate.ExpectedStatus in at least
// gate.SuccessPercent of its tries.
func (h HTTPChecker) Check(ctx context.Context, gate droverv1.HTTPCheckGate, targets []Target) (HTTPResult, error) {
	tmpl, err := template.New("url").Option("missingkey=error").Parse(gate.URL)
	if err != nil {
		return HTTPResult{}, fmt.Errorf("httpCheck url %q: %w", gate.URL, err)
	}
	tries := int(max(gate.Tries, 1))
	want := int(gate.ExpectedStatus)
	if want == 0 {
		want = http.StatusOK
	}
	pct := int(gate.SuccessPercent)
	if pct == 0 {
		pct = 100
	}
	interval := 2 * time.Second
	if gate.Interval != nil {
		interval = gate.Interval.Duration
	}
	timeout := 5 * time.Second
	if gate.Timeout != nil {
		timeout = gate.Timeout.Duration
	}
	urls := make([]string, len(targets))
	for i, t := range targets {
		var b bytes.Buffer
		if err := tmpl.Execute(&b, t); err != nil {
			return HTTPResult{}, fmt.Errorf("httpCheck url %q for Prod %s: %w", gate.URL, t.Prod, err)
		}
		urls[i] = b.String()
		if ref := h.Policy.GateURL(urls[i]); ref != nil {
			return HTTPResult{}, fmt.Errorf("refused: %w", ref)
		}
	}
	c := newClient(h.Policy, false)
	defer c.CloseIdleConnections()
	sleep := h.Sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	res := HTTPResult{Tries: map[string]int{}, Successes: map[string]int{}}
	last := map[string]string{}
	for try := range tries {
		if try > 0 {
			if err := sleep(ctx, interval); err != nil {
				return HTTPResult{}, err
			}
		}
		for i, t := range targets {
			res.Tries[t.Prod]++
			status, err := get(ctx, c, urls[i], timeout)
			switch {
			case err != nil:
				last[t.Prod] = reason(err)
			case status != want:
				last[t.Prod] = fmt.Sprintf("status %d, want %d", status, want)
			default:
				res.Successes[t.Prod]++
			}
		}
	}
	var failed []string
	for _, t := range targets {
		if res.Successes[t.Prod]*100 < pct*res.Tries[t.Prod] {
			failed = append(failed, fmt.Sprintf("%s: %d/%d tries succeeded (last: %s)", t.Prod, res.Successes[t.Prod], res.Tries[t.Prod], last[t.Prod]))
		}
	}
	res.Passed = len(failed) == 0
	if res.Passed {
		res.Message = fmt.Sprintf("%d Prods answered %d in at least %d%% of %d tries", len(targets), want, pct, tries)
	} else {
		res.Message = "below " + fmt.Sprint(pct) + "% success: " + strings.Join(failed, "; ")
	}
	return res, nil
}

func get(ctx context.Context, c *http.Client, url string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
