// Package faultproxy is the core the test bed's fault-injecting reverse proxies share:
// awstest.FaultProxy in front of moto and octaviatest.FaultProxy in front of Octavia.
// A Proxy forwards to its target; each cloud's proxy recognises the requests of its
// wire protocol, asks the Proxy which of its faults takes a request (in the order they
// were injected, a seeded share of the matching requests, a number of times) and
// answers as that cloud fails. Requests a fault holds (a hang, a lost answer) return
// when the faults are cleared or the proxy closes.
package faultproxy

import (
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"
)

// Fault is what a cloud's fault type tells the core: the chance (0–1) that a matching
// request takes it, 0 meaning every one, and how many requests it takes before it is
// used up, 0 meaning until cleared.
type Fault interface {
	Limits() (rate float64, times int)
}

// Proxy forwards requests to a target and keeps the faults of type F that a cloud's
// proxy injects.
type Proxy[F Fault] struct {
	name string
	srv  *httptest.Server
	rp   *httputil.ReverseProxy

	mu      sync.Mutex
	rnd     *rand.Rand
	faults  []*active[F]
	release chan struct{} // closed by Clear and Close: held requests return
	closed  bool
}

type active[F Fault] struct {
	fault F
	left  int // for times > 0
}

// New starts a proxy named name (for its error messages) of the server at target on a
// free loopback port, serving every request with serve, and draws rates from a
// generator seeded with seed. It is closed when the test ends.
func New[F Fault](t testing.TB, name, target string, seed uint64, serve http.HandlerFunc) *Proxy[F] {
	t.Helper()
	p, err := Start[F](name, target, seed, serve)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// Start is New outside of a test (a TestMain, a sandbox): the caller closes the proxy.
func Start[F Fault](name, target string, seed uint64, serve http.HandlerFunc) (*Proxy[F], error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("%s: proxy target %q: %w", name, target, err)
	}
	p := &Proxy[F]{
		name: name,
		rp:   httputil.NewSingleHostReverseProxy(u),
		//nolint:gosec // G404: fault injection wants a seeded, reproducible generator, not a secure one.
		rnd:     rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
		release: make(chan struct{}),
	}
	p.rp.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
		if r.Context().Err() != nil {
			return // the client gave up: nobody reads the answer
		}
		http.Error(w, name+": "+err.Error(), http.StatusBadGateway)
	}
	p.srv = httptest.NewServer(serve)
	return p, nil
}

// URL is the proxy's base URL, http://127.0.0.1:<port>.
func (p *Proxy[F]) URL() string { return p.srv.URL }

// Name is the name the proxy was started with.
func (p *Proxy[F]) Name() string { return p.name }

// Forward sends the request to the target and copies its answer to w.
func (p *Proxy[F]) Forward(w http.ResponseWriter, r *http.Request) { p.rp.ServeHTTP(w, r) }

// Inject adds faults after those already there.
func (p *Proxy[F]) Inject(faults ...F) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range faults {
		_, times := f.Limits()
		p.faults = append(p.faults, &active[F]{fault: f, left: times})
	}
}

// Clear removes every fault and releases held requests.
func (p *Proxy[F]) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
	if !p.closed {
		close(p.release)
		p.release = make(chan struct{})
	}
}

// Close stops the proxy, releasing held requests.
func (p *Proxy[F]) Close() {
	p.mu.Lock()
	if !p.closed {
		p.closed = true
		close(p.release)
	}
	p.mu.Unlock()
	p.srv.Close()
}

// Take returns the first fault from index from on that matches accepts and that takes
// the request (its rate drawn, its times not used up), counting it used, with the
// index after it (to look on from, after a fault that lets the request go on) and the
// channel that releases held requests; nil when no fault takes the request.
func (p *Proxy[F]) Take(from int, matches func(F) bool) (*F, int, <-chan struct{}) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := from; i < len(p.faults); i++ {
		a := p.faults[i]
		rate, times := a.fault.Limits()
		if !matches(a.fault) || (times > 0 && a.left <= 0) {
			continue
		}
		if rate > 0 && rate < 1 && p.rnd.Float64() >= rate {
			continue
		}
		if times > 0 {
			a.left--
		}
		taken := a.fault
		return &taken, i + 1, p.release
	}
	return nil, len(p.faults), nil
}

// Wait sleeps for d unless the client gives up or release is closed first; it tells
// whether the request goes on.
func Wait(r *http.Request, release <-chan struct{}, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		return false
	case <-release:
		return true
	}
}

// Hold answers nothing until the client gives up or release is closed; it tells
// whether the request was released, when the caller answers it.
func Hold(r *http.Request, release <-chan struct{}) bool {
	select {
	case <-r.Context().Done():
		return false
	case <-release:
		return true
	}
}
