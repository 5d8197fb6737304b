package notify

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"k8s.io/apimachinery/pkg/types"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

const installationNS = "drover-system"

// receiver is a real HTTP server on loopback that records the Generic bodies it
// accepted and answers what its script says for each request, in order (then 200).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	script   []func(w http.ResponseWriter) bool // true: accepted
	got      []GenericBody
	requests atomic.Int32
}

func newReceiver(t *testing.T, script ...func(w http.ResponseWriter) bool) *receiver {
	r := &receiver{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.requests.Add(1)
		r.mu.Lock()
		var step func(w http.ResponseWriter) bool
		if len(r.script) > 0 {
			step, r.script = r.script[0], r.script[1:]
		}
		r.mu.Unlock()
		if step != nil && !step(w) {
			return
		}
		var b GenericBody
		if err := json.NewDecoder(req.Body).Decode(&b); err != nil || req.Header.Get("Content-Type") != "application/json" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.got = append(r.got, b)
		r.mu.Unlock()
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) bodies() []GenericBody {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]GenericBody(nil), r.got...)
}

func (r *receiver) names() string {
	var out []string
	for _, b := range r.bodies() {
		out = append(out, b.Name)
	}
	return strings.Join(out, ",")
}

func status(code int, header ...string) func(w http.ResponseWriter) bool {
	return func(w http.ResponseWriter) bool {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, "secret internal detail of the receiver")
		return false
	}
}

// newDispatcher is a Dispatcher with short waits, stopped at the test's end.
func newDispatcher(t *testing.T) *Dispatcher {
	d := New(installationNS, "test")
	d.MinBackoff, d.MaxBackoff, d.Timeout = 20*time.Millisecond, 100*time.Millisecond, 5*time.Second
	t.Cleanup(d.stop)
	return d
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ev(namespace, name string) Event {
	return Event{Kind: "ProdSet", Namespace: namespace, Name: name, Type: "Normal", Reason: "RolloutStarted", Note: "rolling out v2", Time: time.Now()}
}

// value reads a counter or a gauge.
func value(m prometheus.Metric) float64 {
	var out dto.Metric
	if err := m.Write(&out); err != nil {
		panic(err)
	}
	if out.Counter != nil {
		return out.Counter.GetValue()
	}
	return out.Gauge.GetValue()
}

func count(key types.NamespacedName, result string) float64 {
	return value(events.WithLabelValues(key.Namespace, key.Name, result))
}

// A receiver that fails with 500s, then asks to wait with a 429 and Retry-After, then
// recovers, gets every event once, in order, and the Retry-After is cut to MaxBackoff.
func TestRetriesDeliverInOrder(t *testing.T) {
	r := newReceiver(t, status(500), status(503), status(429, "Retry-After", "3600"), status(408))
	d := newDispatcher(t)
	key := types.NamespacedName{Namespace: installationNS, Name: "retries"}
	if err := d.Configure(Config{Key: key, Type: droverv1.NotifierGeneric, URL: r.URL}, tenancy.Policy{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	for i := range 3 {
		d.Offer(ev("shop", fmt.Sprintf("e%d", i)))
	}
	eventually(t, "three events delivered", func() bool { return len(r.bodies()) == 3 })
	if got := r.names(); got != "e0,e1,e2" {
		t.Errorf("delivered %s, want e0,e1,e2", got)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v: Retry-After 3600 was not cut to MaxBackoff", took)
	}
	if n := r.requests.Load(); n != 7 {
		t.Errorf("%d requests, want 4 failed and 3 accepted", n)
	}
	if got := count(key, resultDelivered); got != 3 {
		t.Errorf("delivered metric %v", got)
	}
	if got := value(retries.WithLabelValues(key.Namespace, key.Name)); got != 4 {
		t.Errorf("retries metric %v, want 4", got)
	}
	if h, _ := d.Health(key); h.Failing {
		t.Errorf("health %+v", h)
	}
}

// A 4xx other than 408 and 429 is not retried; the event is given up, the Notifier turns
// failing, and the next event, once the receiver recovers, says one was lost and turns
// it healthy again. Attempts run out after MaxAttempts on 5xx.
func TestGivingUp(t *testing.T) {
	r := newReceiver(t, status(404), status(500), status(500))
	d := newDispatcher(t)
	d.MaxAttempts = 2
	var changes atomic.Int32
	d.OnHealthChange = func(types.NamespacedName) { changes.Add(1) }
	key := types.NamespacedName{Namespace: installationNS, Name: "giving-up"}
	if err := d.Configure(Config{Key: key, Type: droverv1.NotifierGeneric, URL: r.URL}, tenancy.Policy{}); err != nil {
		t.Fatal(err)
	}
	d.Offer(ev("shop", "lost-404"))
	eventually(t, "the 404 given up", func() bool { return count(key, resultFailed) == 1 })
	if n := r.requests.Load(); n != 1 {
		t.Errorf("a 404 was tried %d times", n)
	}
	h, _ := d.Health(key)
	if !h.Failing || h.LastReason != "HTTP 404 (after 1 attempts)" || strings.Contains(h.LastReason, "secret") {
		t.Errorf("health %+v", h)
	}
	d.Offer(ev("shop", "lost-500"))
	eventually(t, "the 500s given up", func() bool { return count(key, resultFailed) == 2 })
	if n := r.requests.Load(); n != 3 {
		t.Errorf("%d requests, want 1 + MaxAttempts 2", n)
	}
	d.Offer(ev("shop", "after"))
	eventually(t, "delivered after recovery", func() bool { return len(r.bodies()) == 1 })
	if b := r.bodies()[0]; b.Name != "after" || b.Dropped != 2 {
		t.Errorf("first body after recovery %+v, want dropped 2", b)
	}
	eventually(t, "healthy again", func() bool { h, _ := d.Health(key); return !h.Failing })
	if n := changes.Load(); n != 2 {
		t.Errorf("%d health changes, want 2 (failing, recovered)", n)
	}
}

// A full queue drops its oldest events, counts them, and says so in the next message.
func TestQueueDropsOldest(t *testing.T) {
	release := make(chan struct{})
	r := newReceiver(t, func(http.ResponseWriter) bool { <-release; return true })
	d := newDispatcher(t)
	d.QueueSize = 3
	key := types.NamespacedName{Namespace: installationNS, Name: "queue"}
	if err := d.Configure(Config{Key: key, Type: droverv1.NotifierGeneric, URL: r.URL}, tenancy.Policy{}); err != nil {
		t.Fatal(err)
	}
	d.Offer(ev("shop", "first"))
	eventually(t, "the first event in flight", func() bool { return r.requests.Load() == 1 })
	for i := range 5 {
		d.Offer(ev("shop", fmt.Sprintf("q%d", i)))
	}
	if got := value(queueLength.WithLabelValues(key.Namespace, key.Name)); got != 3 {
		t.Errorf("queue length %v, want 3", got)
	}
	close(release)
	eventually(t, "four delivered", func() bool { return len(r.bodies()) == 4 })
	if got := r.names(); got != "first,q2,q3,q4" {
		t.Errorf("delivered %s, want first,q2,q3,q4", got)
	}
	if got := count(key, resultDropped); got != 2 {
		t.Errorf("dropped metric %v, want 2", got)
	}
	if b := r.bodies(); b[1].Dropped != 2 || b[2].Dropped != 0 {
		t.Errorf("dropped in bodies: %d, %d; want 2, 0", b[1].Dropped, b[2].Dropped)
	}
}

// A tenant's Notifier receives its own namespace's events only, and its receiver is
// judged by its namespace's policy: loopback is refused (before connecting, and not
// retried) unless the policy allows it.
func TestTenantNotifiers(t *testing.T) {
	shopRecv, bankRecv, platformRecv := newReceiver(t), newReceiver(t), newReceiver(t)
	d := newDispatcher(t)
	shop := types.NamespacedName{Namespace: "shop", Name: "n"}
	bank := types.NamespacedName{Namespace: "bank", Name: "n"}
	platform := types.NamespacedName{Namespace: installationNS, Name: "n"}
	// Loopback only for the namespaces allowed it by a Tenant (spec.gateNetworks).
	networks := func(ns string, cidrs ...string) tenancy.Policy {
		return tenancy.Resolve(ns, map[string]string{droverv1.TenantLabel: ns}, func(name string) (*droverv1.Tenant, bool) {
			te := &droverv1.Tenant{}
			te.Name = name
			te.Spec.GateNetworks = cidrs
			return te, true
		}, false)
	}
	loopback := func(ns string) tenancy.Policy { return networks(ns, "127.0.0.0/8") }
	for key, cfg := range map[types.NamespacedName]struct {
		url    string
		policy tenancy.Policy
	}{shop: {shopRecv.URL, loopback("shop")}, bank: {bankRecv.URL, loopback("bank")}, platform: {platformRecv.URL, tenancy.Policy{}}} {
		if err := d.Configure(Config{Key: key, Type: droverv1.NotifierGeneric, URL: cfg.url}, cfg.policy); err != nil {
			t.Fatal(err)
		}
	}
	d.Offer(ev("shop", "shop-event"))
	d.Offer(Event{Kind: "ClusterMaintenance", Name: "eu-1", Type: "Normal", Reason: "Drained"})
	d.Offer(ev("bank", "bank-event"))
	eventually(t, "every receiver served", func() bool {
		return len(shopRecv.bodies()) == 1 && len(bankRecv.bodies()) == 1 && len(platformRecv.bodies()) == 3
	})
	time.Sleep(50 * time.Millisecond) // anything misrouted would have arrived by now
	if got := shopRecv.names(); got != "shop-event" {
		t.Errorf("shop received %s", got)
	}
	if got := bankRecv.names(); got != "bank-event" {
		t.Errorf("bank received %s", got)
	}
	if got := platformRecv.names(); got != "shop-event,eu-1,bank-event" {
		t.Errorf("the installation received %s", got)
	}

	// The defaults (no Tenant) refuse loopback, and so does a Tenant listing every
	// network but not loopback itself.
	hostile := newReceiver(t)
	for name, policy := range map[string]tenancy.Policy{
		"defaults":    {Namespace: "shop"},
		"any network": networks("shop", "0.0.0.0/0", "10.0.0.0/8"),
	} {
		key := types.NamespacedName{Namespace: "shop", Name: "hostile-" + strings.ReplaceAll(name, " ", "-")}
		if err := d.Configure(Config{Key: key, Type: droverv1.NotifierGeneric, URL: hostile.URL}, policy); err != nil {
			t.Fatal(err)
		}
	}
	// A name that resolves to loopback is refused on connecting, after DNS.
	byName := types.NamespacedName{Namespace: "shop", Name: "hostile-by-name"}
	if err := d.Configure(Config{Key: byName, Type: droverv1.NotifierGeneric, URL: strings.Replace(hostile.URL, "127.0.0.1", "localhost", 1)},
		tenancy.Policy{Namespace: "shop"}); err != nil {
		t.Fatal(err)
	}
	d.Offer(ev("shop", "probe"))
	for _, name := range []string{"hostile-defaults", "hostile-any-network", "hostile-by-name"} {
		key := types.NamespacedName{Namespace: "shop", Name: name}
		eventually(t, name+" refused", func() bool { return count(key, resultFailed) == 1 })
		h, _ := d.Health(key)
		if !strings.HasPrefix(h.LastReason, "refused: ") || !strings.HasSuffix(h.LastReason, "(after 1 attempts)") {
			t.Errorf("%s: reason %q, want a refusal not retried", name, h.LastReason)
		}
	}
	if n := hostile.requests.Load(); n != 0 {
		t.Errorf("the refused receiver got %d requests", n)
	}
}

// A redirect is not followed: the receiver it points to gets nothing, and the event is
// not retried.
func TestNoRedirects(t *testing.T) {
	target := newReceiver(t)
	r := newReceiver(t, func(w http.ResponseWriter) bool {
		w.Header().Set("Location", target.URL)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return false
	})
	d := newDispatcher(t)
	key := types.NamespacedName{Namespace: installationNS, Name: "redirect"}
	if err := d.Configure(Config{Key: key, Type: droverv1.NotifierGeneric, URL: r.URL}, tenancy.Policy{}); err != nil {
		t.Fatal(err)
	}
	d.Offer(ev("shop", "x"))
	eventually(t, "the redirect given up", func() bool { return count(key, resultFailed) == 1 })
	if target.requests.Load() != 0 || r.requests.Load() != 1 {
		t.Errorf("redirect target got %d requests, receiver %d", target.requests.Load(), r.requests.Load())
	}
}

// No more than MaxPerNamespace Notifiers of one namespace are served.
func TestMaxPerNamespace(t *testing.T) {
	d := newDispatcher(t)
	d.MaxPerNamespace = 2
	for i, want := range []bool{true, true, false} {
		err := d.Configure(Config{Key: types.NamespacedName{Namespace: "shop", Name: fmt.Sprint(i)}, URL: "https://example.com"}, tenancy.Policy{})
		if (err == nil) != want {
			t.Errorf("notifier %d: %v", i, err)
		}
	}
	if err := d.Configure(Config{Key: types.NamespacedName{Namespace: "bank", Name: "0"}, URL: "https://example.com"}, tenancy.Policy{}); err != nil {
		t.Errorf("another namespace: %v", err)
	}
	d.Remove(types.NamespacedName{Namespace: "shop", Name: "0"})
	if err := d.Configure(Config{Key: types.NamespacedName{Namespace: "shop", Name: "2"}, URL: "https://example.com"}, tenancy.Policy{}); err != nil {
		t.Errorf("after a removal: %v", err)
	}
}
