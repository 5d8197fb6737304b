package traffic

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"time"
)

// Memory is a Publisher that keeps the records in memory and behaves as Route53 does in
// the ways the controllers depend on: a change applies all its weights or none, it is
// PENDING for Propagation before it is INSYNC, a zone takes one change at a time
// (ErrChangeInProgress while one is pending), and change ids are never reused. It backs
// --traffic-provider=memory (demos, and the scale benchmark's manager, which measures
// drover rather than DNS) and unit tests of pure logic; the envtest suites, the e2e
// suite and the sandbox publish to Route53 (moto) instead.
type Memory struct {
	// Propagation is how long a change stays PENDING. Zero makes changes INSYNC at once.
	Propagation time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	mu      sync.Mutex
	seq     int
	records map[Service]map[string]int32 // by record id
	changes map[string]change
	pending map[string]string // zone -> id of its change not yet in sync
	calls   Calls
}

type change struct {
	zone    string
	insync  time.Time
	weights []Weight
}

// Calls counts what a Memory was asked, for tests and benchmarks.
type Calls struct {
	// Publish counts Publish calls that were accepted.
	Publish int
	// Refused counts Publish calls refused with ErrChangeInProgress.
	Refused int
	// InSync counts InSync calls.
	InSync int
}

var _ Publisher = (*Memory)(nil)

func (m *Memory) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now()
}

// Publish applies weights to svc's records as one change.
func (m *Memory) Publish(ctx context.Context, svc Service, weights []Weight) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if svc.Zone == "" || svc.Name == "" {
		return "", fmt.Errorf("publishing weights: the service needs a zone and a name, got %q %q", svc.Zone, svc.Name)
	}
	for _, w := range weights {
		if w.ID == "" || (!w.Remove && (w.Weight < 0 || w.Weight > 255)) {
			return "", fmt.Errorf("publishing weights of %s: invalid record %+v", svc.Name, w)
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	if id, ok := m.pending[svc.Zone]; ok {
		if now.Before(m.changes[id].insync) {
			m.calls.Refused++
			return "", fmt.Errorf("zone %s: %w (change %s)", svc.Zone, ErrChangeInProgress, id)
		}
		delete(m.pending, svc.Zone)
	}
	if m.records == nil {
		m.records = map[Service]map[string]int32{}
		m.changes = map[string]change{}
		m.pending = map[string]string{}
	}
	key := Service{Zone: svc.Zone, Name: svc.Name}
	set := m.records[key]
	if set == nil {
		set = map[string]int32{}
		m.records[key] = set
	}
	for _, w := range weights {
		if w.Remove {
			delete(set, w.ID)
		} else {
			set[w.ID] = w.Weight
		}
	}
	m.seq++
	id := fmt.Sprintf("C%06d", m.seq)
	m.changes[id] = change{zone: svc.Zone, insync: now.Add(m.Propagation), weights: append([]Weight(nil), weights...)}
	if m.Propagation > 0 {
		m.pending[svc.Zone] = id
	}
	m.calls.Publish++
	return id, nil
}

// InSync reports whether Propagation has passed since the change was submitted.
func (m *Memory) InSync(ctx context.Context, changeID string) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls.InSync++
	c, ok := m.changes[changeID]
	if !ok {
		return false, fmt.Errorf("no such change %q", changeID)
	}
	return !m.now().Before(c.insync), nil
}

// Records returns a copy of svc's records: weight by record id.
func (m *Memory) Records(svc Service) map[string]int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return maps.Clone(m.records[Service{Zone: svc.Zone, Name: svc.Name}])
}

// Changes returns the weights of every accepted change, in order.
func (m *Memory) Changes() [][]Weight {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]Weight, 0, m.seq)
	for i := 1; i <= m.seq; i++ {
		out = append(out, append([]Weight(nil), m.changes[fmt.Sprintf("C%06d", i)].weights...))
	}
	return out
}

// Calls returns what the Memory was asked so far.
func (m *Memory) Calls() Calls {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls
}
