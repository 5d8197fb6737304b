package traffic

import (
	"maps"
	"slices"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/types"
)

// Handoff is what a ClusterMaintenance handed to the Publisher for one ProdSet at its
// admission: the change (its ticket) that carries weight 0 for the set's Prods on the
// drained cluster. The set takes it over in its next reconcile as if it had submitted
// it itself (Handoffs.Take), and its status catches up with DNS.
type Handoff struct {
	// Maintenance is the UID of the ClusterMaintenance that handed it over.
	Maintenance types.UID
	// Ticket is the change the weights went in (Publisher.Publish's answer).
	Ticket string
	// Weights are the Prods' weights in it, by Prod name.
	Weights map[string]int32
	// planned is when it was planned (Plan); a plan never handed nor abandoned is
	// dropped after stalePlan.
	planned time.Time
}

// stalePlan is how long a planned hand-off holds its set back without being handed or
// abandoned: both happen in the reconcile that planned it, within a status write.
const stalePlan = 30 * time.Second

// Handoffs are the hand-offs not taken over yet, by ProdSet. They live in the leader's
// memory: a manager that restarts before every set took its hand-off over finds the
// sets in the ClusterMaintenance's status.handoff, and those sets check their records
// against DNS instead (see the ProdSet controller).
type Handoffs struct {
	// Now is the clock (when a hand-off was planned, and whether that plan is stale);
	// nil means time.Now.
	Now func() time.Time

	mu  sync.Mutex
	all map[types.NamespacedName][]Handoff
	// made are the maintenances this manager planned hand-offs for.
	made map[types.UID]bool
}

// Plan records that the maintenance is about to hand weights of the set over (once its
// status says so): until Hand or Abandon, the set waits for it rather than publishing
// on its own.
func (h *Handoffs) Plan(set types.NamespacedName, maintenance types.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.all == nil {
		h.all = map[types.NamespacedName][]Handoff{}
		h.made = map[types.UID]bool{}
	}
	h.made[maintenance] = true
	h.all[set] = append(h.all[set], Handoff{Maintenance: maintenance, planned: h.now()})
}

func (h *Handoffs) now() time.Time {
	if h.Now == nil {
		return time.Now()
	}
	return h.Now()
}

// Hand publishes the planned weights for the set and records the change they went in,
// in one step: a reconcile of the set that asks between the two cannot miss it. When
// publish fails, the plan is abandoned and the error returned.
func (h *Handoffs) Hand(set types.NamespacedName, maintenance types.UID, publish func() (string, error), weights map[string]int32) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	i := slices.IndexFunc(h.all[set], func(x Handoff) bool { return x.Maintenance == maintenance && x.Ticket == "" })
	if i < 0 {
		return nil // abandoned meanwhile
	}
	ticket, err := publish()
	if err != nil {
		h.drop(set, i)
		return err
	}
	h.all[set][i].Ticket, h.all[set][i].Weights = ticket, maps.Clone(weights)
	return nil
}

// Abandon drops the planned hand-off of the set by the maintenance, which will not be
// made (its status could not be written): nothing of it reached DNS.
func (h *Handoffs) Abandon(set types.NamespacedName, maintenance types.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if i := slices.IndexFunc(h.all[set], func(x Handoff) bool { return x.Maintenance == maintenance && x.Ticket == "" }); i >= 0 {
		h.drop(set, i)
	}
}

func (h *Handoffs) drop(set types.NamespacedName, i int) {
	h.all[set] = slices.Delete(h.all[set], i, i+1)
	if len(h.all[set]) == 0 {
		delete(h.all, set)
	}
}

// Take returns the set's oldest hand-off and forgets it, unless it is not handed yet,
// or the set has a change of its own in flight (inFlight, not the hand-off's ticket):
// DNS takes changes in the order they were submitted, so the set takes the hand-off
// over once its own change is in sync, and its status then holds what DNS holds.
func (h *Handoffs) Take(set types.NamespacedName, inFlight string) (Handoff, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	hs := h.all[set]
	if len(hs) == 0 || hs[0].Ticket == "" || (inFlight != "" && inFlight != hs[0].Ticket) {
		return Handoff{}, false
	}
	taken := hs[0]
	h.drop(set, 0)
	return taken, true
}

// Pending reports whether the set has a hand-off planned or handed and not taken over;
// false on a nil Handoffs (no maintenance hands anything over).
func (h *Handoffs) Pending(set types.NamespacedName) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	now := h.now()
	if i := slices.IndexFunc(h.all[set], func(x Handoff) bool { return x.Ticket == "" && now.Sub(x.planned) > stalePlan }); i >= 0 {
		h.drop(set, i)
	}
	return len(h.all[set]) > 0
}

// Made reports whether this manager planned the maintenance's hand-offs: a set it names
// that has no record of it either took it over or was never handed anything. A
// maintenance not made here was admitted by an earlier manager.
func (h *Handoffs) Made(maintenance types.UID) bool {
	if h == nil {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.made[maintenance]
}

// Forget drops the set's hand-offs (the set is gone).
func (h *Handoffs) Forget(set types.NamespacedName) {
	if h == nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.all, set)
}

// ForgetMaintenance forgets that the maintenance's hand-offs were made here (it is gone).
func (h *Handoffs) ForgetMaintenance(maintenance types.UID) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.made, maintenance)
}
