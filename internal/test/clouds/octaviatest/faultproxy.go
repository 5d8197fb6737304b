package octaviatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync"
	"testing"

	"github.com/drover-dev/drover/internal/test/faultproxy"
)

// FaultKind is what a Fault does to a request it matches.
type FaultKind int

// Faults.
const (
	// Status answers with Fault.Status and an Octavia-style error body, without
	// forwarding: 409 is what Octavia answers while a load balancer is PENDING_*, 500
	// a failure, 404 a missing object, 429 throttling.
	Status FaultKind = iota + 1
	// EmptyMembers answers a member list with 200 and no members ({"members": []}),
	// without forwarding: a wrong answer a client cannot tell from a real one. On a pool
	// list or a pool, it forwards the request and takes every member id out of the
	// answer's pools ("members": []).
	EmptyMembers
	// Hang holds the request until the client gives up (its context or timeout), the
	// fault is cleared, or the proxy closes; it is never forwarded.
	Hang
)

// Fault makes the requests it matches fail.
type Fault struct {
	// Method matches the request's method; "" matches any.
	Method string
	// Path matches the URL path after its ".../lbaas" prefix, by path.Match: "*" is one
	// segment. "/pools/*/members" matches GET /v2.0/lbaas/pools/{id}/members;
	// "/loadbalancers/*" a load balancer. "" matches any path.
	Path string
	// Query, if set, must occur in the raw query: "marker=" matches the pages after a
	// list's first.
	Query string
	Kind  FaultKind
	// Status is the HTTP status of a Status fault.
	Status int
	// Times is how many requests the fault takes before it is used up; 0 is until
	// cleared.
	Times int
}

func (f Fault) String() string {
	m := f.Method
	if m == "" {
		m = "*"
	}
	switch f.Kind {
	case Status:
		return fmt.Sprintf("%s %s → %d", m, f.Path, f.Status)
	case EmptyMembers:
		return fmt.Sprintf("%s %s → no members", m, f.Path)
	case Hang:
		return fmt.Sprintf("%s %s → hang", m, f.Path)
	}
	return fmt.Sprintf("%s %s → ?", m, f.Path)
}

// FaultProxy is a reverse proxy in front of an Octavia that makes chosen requests
// fail. Give a client its URL instead of the Octavia's. Octavia's pagination links
// name the host a request was sent to, so paginated reads stay behind the proxy.
type FaultProxy struct {
	*faultproxy.Proxy[Fault]

	mu   sync.Mutex
	seen []string
	hits map[string]int
}

// Limits: a Fault takes every request it matches, Times times.
func (f Fault) Limits() (rate float64, times int) { return 0, f.Times }

// NewFaultProxy starts a proxy of the Octavia at target (an endpoint such as
// Server.Endpoint) on a free port; it is closed when the test ends.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	p := &FaultProxy{hits: map[string]int{}}
	p.Proxy = faultproxy.New[Fault](t, "octaviatest.FaultProxy", target, 0, p.serve)
	return p
}

func (p *FaultProxy) serve(w http.ResponseWriter, r *http.Request) {
	f, release := p.match(r)
	if f == nil {
		p.Forward(w, r)
		return
	}
	switch f.Kind {
	case Status:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		fmt.Fprintf(w, `{"faultcode": %q, "faultstring": "octaviatest.FaultProxy: injected %d", "debuginfo": null}`,
			faultCode(f.Status), f.Status)
	case EmptyMembers:
		if !strings.HasSuffix(r.URL.Path, "/members") {
			p.withoutMemberIDs(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"members": [], "members_links": []}`))
	case Hang:
		if faultproxy.Hold(r, release) {
			http.Error(w, "octaviatest.FaultProxy: hang released", http.StatusServiceUnavailable)
		}
	}
}

// withoutMemberIDs forwards a request for a pool list or a pool and answers what came
// back with no member ids in its pools.
func (p *FaultProxy) withoutMemberIDs(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	p.Forward(rec, r)
	var body map[string]json.RawMessage
	if rec.Code != http.StatusOK || json.Unmarshal(rec.Body.Bytes(), &body) != nil {
		http.Error(w, "octaviatest.FaultProxy: EmptyMembers on an answer that is not a pool list or a pool", http.StatusBadGateway)
		return
	}
	empty := func(raw json.RawMessage) (json.RawMessage, error) {
		var pool map[string]any
		if err := json.Unmarshal(raw, &pool); err != nil {
			return nil, err
		}
		pool["members"] = []any{}
		return json.Marshal(pool)
	}
	var err error
	if raw, ok := body["pool"]; ok {
		body["pool"], err = empty(raw)
	}
	if raw, ok := body["pools"]; ok {
		var list []json.RawMessage
		if err = json.Unmarshal(raw, &list); err == nil {
			for i := range list {
				if list[i], err = empty(list[i]); err != nil {
					break
				}
			}
			body["pools"], _ = json.Marshal(list)
		}
	}
	out, _ := json.Marshal(body)
	if err != nil {
		http.Error(w, "octaviatest.FaultProxy: EmptyMembers: "+err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

// URL is the proxy's base URL, http://127.0.0.1:<port>/, an endpoint for clients.
func (p *FaultProxy) URL() string { return p.Proxy.URL() + "/" }

// Inject adds a fault; a request takes the first fault added that matches it.
func (p *FaultProxy) Inject(f Fault) { p.Proxy.Inject(f) }

// Hits is how many requests a fault like f (same method, path, query, kind and
// status) has taken.
func (p *FaultProxy) Hits(f Fault) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hits[faultKey(f)]
}

// Requests are the requests the proxy received, "METHOD /path" (without the query),
// in order.
func (p *FaultProxy) Requests() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.seen...)
}

// match records the request and returns the fault it takes, if any, with the channel
// that releases it if it hangs.
func (p *FaultProxy) match(r *http.Request) (*Fault, <-chan struct{}) {
	p.mu.Lock()
	p.seen = append(p.seen, r.Method+" "+r.URL.Path)
	p.mu.Unlock()
	rel := lbaasPath(r.URL.Path)
	f, _, release := p.Take(0, func(f Fault) bool {
		if f.Method != "" && !strings.EqualFold(f.Method, r.Method) {
			return false
		}
		if f.Path != "" {
			if ok, _ := path.Match(f.Path, rel); !ok {
				return false
			}
		}
		return f.Query == "" || strings.Contains(r.URL.RawQuery, f.Query)
	})
	if f != nil {
		p.mu.Lock()
		p.hits[faultKey(*f)]++
		p.mu.Unlock()
	}
	return f, release
}

// lbaasPath is the part of an API path after "/lbaas" ("/v2.0/lbaas/pools/x" →
// "/pools/x"); a path without it is returned whole.
func lbaasPath(p string) string {
	if i := strings.Index(p, "/lbaas/"); i >= 0 {
		return p[i+len("/lbaas"):]
	}
	return p
}

func faultKey(f Fault) string {
	return fmt.Sprintf("%s|%s|%s|%d|%d", strings.ToUpper(f.Method), f.Path, f.Query, f.Kind, f.Status)
}

func faultCode(status int) string {
	if status >= 500 {
		return "Server"
	}
	return "Client"
}
