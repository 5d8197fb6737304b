package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/drover-dev/drover/internal/egress"
	"github.com/drover-dev/drover/internal/tenancy"
)

// Bounds of the Dispatcher's defaults.
const (
	// DefaultQueueSize is how many events wait per Notifier; a full queue drops its oldest.
	DefaultQueueSize = 256
	// DefaultMaxPerNamespace is how many Notifiers of one namespace are served.
	DefaultMaxPerNamespace = 16
	// DefaultMaxAttempts is how many times an event is posted before it is given up.
	DefaultMaxAttempts = 6
	// DefaultMaxAge is how old an event may grow in retries before it is given up.
	DefaultMaxAge = 10 * time.Minute
	// DefaultMinBackoff and DefaultMaxBackoff bound the wait between attempts, which
	// doubles from the one to the other; a Retry-After longer than DefaultMaxBackoff is
	// cut to it.
	DefaultMinBackoff = time.Second
	DefaultMaxBackoff = time.Minute
	// DefaultTimeout bounds each request, connection and TLS handshake included.
	DefaultTimeout = 10 * time.Second
	// maxResponseRead is how much of a response body is read (and thrown away), so that
	// the connection may be reused without reading whatever a receiver sends.
	maxResponseRead = 4 << 10
)

// ErrTooMany: the namespace already has MaxPerNamespace Notifiers served.
var ErrTooMany = errors.New("too many Notifiers in the namespace")

// Dispatcher offers every event to the Notifiers that want it, each through a bounded
// queue of its own and one worker that posts its events in order, retrying what may
// succeed later. Offer never blocks. Its zero value is not usable: use New.
type Dispatcher struct {
	// InstallationNamespace is the namespace whose Notifiers receive every event and
	// whose receivers are trusted.
	InstallationNamespace string
	// Installation names the installation in the bodies (the manager's --owner).
	Installation string
	// QueueSize, MaxPerNamespace, MaxAttempts, MaxAge, MinBackoff, MaxBackoff and
	// Timeout default to the Default constants.
	QueueSize, MaxPerNamespace, MaxAttempts int
	MaxAge, MinBackoff, MaxBackoff, Timeout time.Duration
	// OnHealthChange, when set, is called (without blocking the worker for long) when a
	// Notifier's deliveries start failing or succeed again.
	OnHealthChange func(types.NamespacedName)

	mu    sync.RWMutex
	sinks map[types.NamespacedName]*sink
	base  context.Context
	stop  context.CancelFunc
}

// New returns a Dispatcher for an installation namespace.
func New(installationNamespace, installation string) *Dispatcher {
	base, stop := context.WithCancel(context.Background())
	return &Dispatcher{InstallationNamespace: installationNamespace, Installation: installation,
		sinks: map[types.NamespacedName]*sink{}, base: base, stop: stop}
}

// Start waits for ctx to end, then stops every worker (a manager.Runnable).
func (d *Dispatcher) Start(ctx context.Context) error {
	<-ctx.Done()
	d.stop()
	return nil
}

// NeedLeaderElection: every replica taps its own events; only the leader records any.
func (d *Dispatcher) NeedLeaderElection() bool { return false }

// Health is how a Notifier's deliveries fare.
type Health struct {
	// Failing: the last event was given up on.
	Failing bool
	// LastFailure and LastReason are the last event given up on, zero if none: the
	// reason is a fixed sentence ("HTTP 500", "timeout"), never what the receiver said.
	LastFailure time.Time
	LastReason  string
}

// Configure starts or updates the Notifier of cfg.Key with policy judging its
// receiver's addresses (ignored for an installation Notifier).
func (d *Dispatcher) Configure(cfg Config, policy tenancy.Policy) error {
	cfg.Installation = cfg.Key.Namespace == d.InstallationNamespace
	client := egress.Client(policy, egress.Options{Trusted: cfg.Installation, NoRedirects: true})
	client.Timeout = d.timeout()
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.sinks[cfg.Key]; ok {
		s.mu.Lock()
		s.cfg, s.client = cfg, client
		s.mu.Unlock()
		return nil
	}
	n := 0
	for k := range d.sinks {
		if k.Namespace == cfg.Key.Namespace {
			n++
		}
	}
	if n >= orDefault(d.MaxPerNamespace, DefaultMaxPerNamespace) {
		return fmt.Errorf("%w: %d are served per namespace", ErrTooMany, orDefault(d.MaxPerNamespace, DefaultMaxPerNamespace))
	}
	ctx, cancel := context.WithCancel(d.base)
	s := &sink{d: d, cfg: cfg, client: client, cancel: cancel, wake: make(chan struct{}, 1)}
	d.sinks[cfg.Key] = s
	go s.run(ctx)
	return nil
}

// Remove stops the Notifier of key, dropping what it had not sent.
func (d *Dispatcher) Remove(key types.NamespacedName) {
	d.mu.Lock()
	s, ok := d.sinks[key]
	delete(d.sinks, key)
	d.mu.Unlock()
	if ok {
		s.cancel()
		forget(key)
	}
}

// Health returns the health of the Notifier of key, and whether it is served.
func (d *Dispatcher) Health(key types.NamespacedName) (Health, bool) {
	d.mu.RLock()
	s, ok := d.sinks[key]
	d.mu.RUnlock()
	if !ok {
		return Health{}, false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.health, true
}

// Offer queues e for every Notifier that wants it. It never blocks on a receiver: a
// full queue drops its oldest event.
func (d *Dispatcher) Offer(e Event) {
	if d == nil {
		return
	}
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, s := range d.sinks {
		s.offer(e)
	}
}

func (d *Dispatcher) timeout() time.Duration { return orDuration(d.Timeout, DefaultTimeout) }

// sink is one Notifier: its queue, its worker's client and its health.
type sink struct {
	d      *Dispatcher
	cancel context.CancelFunc
	wake   chan struct{}

	mu      sync.Mutex
	cfg     Config
	client  *http.Client
	queue   []Event
	dropped int // since the last event delivered
	health  Health
}

func (s *sink) offer(e Event) {
	s.mu.Lock()
	if !s.cfg.Wants(e) {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= orDefault(s.d.QueueSize, DefaultQueueSize) {
		s.queue = s.queue[1:]
		s.dropped++
		events.WithLabelValues(s.cfg.Key.Namespace, s.cfg.Key.Name, resultDropped).Inc()
	}
	s.queue = append(s.queue, e)
	queueLength.WithLabelValues(s.cfg.Key.Namespace, s.cfg.Key.Name).Set(float64(len(s.queue)))
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// next takes the oldest event, with the configuration to send it with and how many
// events before it were lost.
func (s *sink) next() (Event, Config, *http.Client, int, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.queue) == 0 {
		return Event{}, Config{}, nil, 0, false
	}
	e := s.queue[0]
	s.queue[0] = Event{}
	s.queue = s.queue[1:]
	queueLength.WithLabelValues(s.cfg.Key.Namespace, s.cfg.Key.Name).Set(float64(len(s.queue)))
	return e, s.cfg, s.client, s.dropped, true
}

func (s *sink) run(ctx context.Context) {
	for {
		e, cfg, client, dropped, ok := s.next()
		if !ok {
			select {
			case <-ctx.Done():
				return
			case <-s.wake:
				continue
			}
		}
		err := s.deliver(ctx, cfg, client, e, dropped)
		if ctx.Err() != nil {
			return
		}
		s.done(cfg.Key, dropped, err)
	}
}

// done records how an event fared.
func (s *sink) done(key types.NamespacedName, dropped int, err error) {
	s.mu.Lock()
	was := s.health.Failing
	if err == nil {
		s.dropped -= dropped // those the message just told of
		s.health.Failing = false
		events.WithLabelValues(key.Namespace, key.Name, resultDelivered).Inc()
	} else {
		s.dropped++ // the next message tells of it
		s.health = Health{Failing: true, LastFailure: time.Now(), LastReason: err.Error()}
		events.WithLabelValues(key.Namespace, key.Name, resultFailed).Inc()
	}
	changed := was != s.health.Failing
	s.mu.Unlock()
	if changed && s.d.OnHealthChange != nil {
		s.d.OnHealthChange(key)
	}
}

// deliveryError is a delivery given up on; its text is a fixed sentence.
type deliveryError struct{ reason string }

func (e *deliveryError) Error() string { return e.reason }

// deliver posts e until the receiver accepts it, the error is one a retry cannot mend,
// or the attempts or the event's age run out.
func (s *sink) deliver(ctx context.Context, cfg Config, client *http.Client, e Event, dropped int) error {
	body, err := Body(cfg.Type, s.d.Installation, e, dropped)
	if err != nil {
		return &deliveryError{"the event could not be encoded"}
	}
	maxAttempts := orDefault(s.d.MaxAttempts, DefaultMaxAttempts)
	maxAge := orDuration(s.d.MaxAge, DefaultMaxAge)
	backoff := orDuration(s.d.MinBackoff, DefaultMinBackoff)
	maxBackoff := orDuration(s.d.MaxBackoff, DefaultMaxBackoff)
	start := time.Now()
	for attempt := 1; ; attempt++ {
		retry, after, reason := post(ctx, client, cfg.URL, body)
		if reason == "" {
			return nil
		}
		if !retry || attempt >= maxAttempts || time.Since(start) >= maxAge {
			return &deliveryError{fmt.Sprintf("%s (after %d attempts)", reason, attempt)}
		}
		retries.WithLabelValues(cfg.Key.Namespace, cfg.Key.Name).Inc()
		wait := backoff
		if after > 0 {
			wait = min(after, maxBackoff)
		}
		backoff = min(2*backoff, maxBackoff)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(wait):
		}
	}
}

// post sends body once. It returns "" when the receiver accepted it; otherwise a fixed
// reason, whether a retry may succeed, and how long the receiver asked to wait.
func post(ctx context.Context, client *http.Client, url string, body []byte) (retry bool, after time.Duration, reason string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return false, 0, "the address is not a valid URL"
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "drover-notifier")
	resp, err := client.Do(req)
	if err != nil {
		var ref *tenancy.Refusal
		if errors.As(err, &ref) || errors.Is(err, egress.ErrRedirectRefused) {
			return false, 0, egress.Reason(err)
		}
		return true, 0, egress.Reason(err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	_ = resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		return false, 0, ""
	case code == http.StatusRequestTimeout, code == http.StatusTooManyRequests, code >= 500:
		return true, retryAfter(resp.Header.Get("Retry-After")), fmt.Sprintf("HTTP %d", code)
	default:
		return false, 0, fmt.Sprintf("HTTP %d", code)
	}
}

// retryAfter reads a Retry-After header in seconds or as an HTTP date; 0 if none.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0)
	}
	return 0
}

func orDefault(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func orDuration(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}
