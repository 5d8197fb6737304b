package octavia

import (
	"slices"
	"time"
)

// How Snapshot tells what changed since its last read of a load balancer, without listing
// every member: on Octavia 11 a member listing costs time quadratic in the pool's size
// (each member is converted with the load balancer's whole object graph: 0.1 s at 20
// members, 34–42 s at 1,000), while the load balancer, the pool list with its member ids,
// a single member and a short page of members sorted by updated_at cost time linear in it
// (under 0.3 s each at 1,000).
//
// What Octavia 11's API changes, read from its source (octavia/api/v2/controllers/member.py,
// controller/worker/v2/flows/member_flows.py) and checked against the real API
// (internal/cloud/octavia's tests and the benchmark's smoke test): every member change
// through the API (create, update, delete, the batch update) first sets the load
// balancer, the pool's listeners and the pool PENDING_UPDATE, then its worker sets the
// member, the pool and the load balancer with its listeners ACTIVE again. Each of those
// writes moves the row's updated_at (oslo.db's TimestampMixin, onupdate). A created or
// updated member's updated_at is when the worker set it ACTIVE; a deleted member's row is
// gone. So a change of members moves the load balancer's and the pool's updated_at and the
// member's; an added or removed member changes the pool's member ids. Octavia's health
// manager moves a member's updated_at when its operating status changes, not the load
// balancer's.
//
// updated_at has one-second precision on MySQL, and Octavia's hosts' clocks are not
// drover's: a read is dated by Octavia's own clock (the Date header of the load
// balancer's GET), and anything Octavia dated within ClockMargin of it counts as possibly
// after it.

// ClockMargin is how close to a read's date (Octavia's clock, one-second precision) an
// updated_at must be to count as possibly later than the read: the Date header's and
// MySQL's second, and the drift between Octavia's API and worker hosts.
const ClockMargin = 10 * time.Second

// readKind is how much of a load balancer Snapshot reads.
type readKind int

const (
	// reuse: nothing changed; the last read's listeners, pools and members stand.
	reuse readKind = iota
	// delta: the listeners and monitors are read again, and of the members only those
	// added or updated since the last read (removed ones are dropped).
	delta
	// full: everything is read, every member of every pool in pages.
	full
	// lbOnly: the load balancer is not ACTIVE (mid-change, or broken): nothing under it
	// is read, since it is not mirrored until it is ACTIVE again, and a change in flight
	// (a batch update marks every member it lists) could make a read cost as much as a
	// full one, every retry.
	lbOnly
)

func (k readKind) String() string {
	switch k {
	case reuse:
		return "reuse"
	case delta:
		return "delta"
	case lbOnly:
		return "load balancer only"
	}
	return "full"
}

// fingerprint is what the cheap reads (the load balancer, its pool list) say of a load
// balancer: what any change through Octavia's API moves.
type fingerprint struct {
	LBUpdated time.Time
	LBStatus  string
	// Pools sorted by id.
	Pools []poolPrint
}

// poolPrint is one pool as the pool list shows it.
type poolPrint struct {
	ID        string
	Updated   time.Time
	Status    string
	MonitorID string
	// MemberIDs sorted.
	MemberIDs []string
}

// baseline is the last complete picture of a load balancer and what it was read from.
type baseline struct {
	print fingerprint
	// asOf is Octavia's time at the start of the read (the load balancer GET's Date); the
	// zero time when Octavia sent none, which makes every later read a delta one.
	asOf time.Time
	// fullAt is when (drover's clock) every member was last read.
	fullAt time.Time
	snap   *Snapshot
	// memberUpdated is each member's updated_at (by id) as last read.
	memberUpdated map[string]time.Time
}

// decide says how much to read, given the last baseline (nil if none), what the cheap
// reads say now, drover's time and how often everything is read whatever the fingerprint
// says (the safety net). why explains it, for the logs and the tests.
func decide(prev *baseline, cur fingerprint, now time.Time, refresh time.Duration) (kind readKind, why string) {
	switch {
	case cur.LBStatus != "ACTIVE":
		return lbOnly, "the load balancer is " + cur.LBStatus + ", not ACTIVE"
	case prev == nil:
		return full, "no earlier read"
	case now.Sub(prev.fullAt) >= refresh || now.Before(prev.fullAt):
		return full, "every member is read again now and then, whatever the fingerprint says"
	case !slices.EqualFunc(prev.print.Pools, cur.Pools, samePool):
		return delta, "a pool changed (updated_at, status, monitor or member ids)"
	case !prev.print.LBUpdated.Equal(cur.LBUpdated) || prev.print.LBStatus != cur.LBStatus:
		return delta, "the load balancer's updated_at moved"
	case !settled(prev):
		return delta, "the last read was within a clock margin of the load balancer's last change"
	}
	return reuse, "unchanged"
}

func samePool(a, b poolPrint) bool {
	return a.ID == b.ID && a.Updated.Equal(b.Updated) && a.Status == b.Status && a.MonitorID == b.MonitorID &&
		slices.Equal(a.MemberIDs, b.MemberIDs)
}

// settled: the load balancer's and every pool's last change was well before the read
// that made the baseline, so a change after the read cannot carry the same updated_at.
func settled(b *baseline) bool {
	if b.asOf.IsZero() {
		return false
	}
	w := watermark(b.asOf)
	if !b.print.LBUpdated.Before(w) {
		return false
	}
	for _, p := range b.print.Pools {
		if !p.Updated.Before(w) {
			return false
		}
	}
	return true
}

// watermark is the oldest updated_at a change after a read dated asOf can carry.
func watermark(asOf time.Time) time.Time { return asOf.Add(-ClockMargin) }

// memberDelta compares a pool's member ids (both sorted) then and now.
func memberDelta(before, now []string) (added, gone []string) {
	i, j := 0, 0
	for i < len(before) || j < len(now) {
		switch {
		case j == len(now) || (i < len(before) && before[i] < now[j]):
			gone = append(gone, before[i])
			i++
		case i == len(before) || now[j] < before[i]:
			added = append(added, now[j])
			j++
		default:
			i++
			j++
		}
	}
	return added, gone
}

// Sizes of the pages of members.
const (
	// fullPage is the largest page of a full read.
	fullPage = 50
	// maxDeltaPage is the largest page of a delta read's walk down updated_at.
	maxDeltaPage = fullPage
	// conversionsPerRequest bounds the work of one request for a page of members: on
	// Octavia 11 a page costs its size times the pool's (each member is converted with
	// the pool's every member). 50,000 took 2–6 s on a loaded 2-core machine, well within
	// the client's 30 s timeout.
	conversionsPerRequest = 50_000
)

// pageSize is the largest page of members of a pool of this many that keeps a request
// within conversionsPerRequest: 50 up to 1,000 members, 10 at 5,000, 1 from 50,000 on.
func pageSize(members int) int {
	return max(1, min(fullPage, conversionsPerRequest/max(members, 1)))
}

// deltaLimit is the size of page number page (from 0) of a delta read's walk down
// updated_at, newest first, with unmet added members not met by the walk yet: as many as
// those and one more (the one that shows the walk can stop), then, for members updated
// but not added, 2, 4, 8… more, so that the members read are at most the added ones and
// about twice the updated ones, and never more than maxDeltaPage a request.
func deltaLimit(page, unmet int) int {
	return min(maxDeltaPage, unmet+1<<min(page, 10))
}

// walkDone says whether a delta read's walk down updated_at can stop after a page: its
// oldest member was updated before the watermark (so every later one was too), or there
// is no next page. A member never updated (zero updated_at) is older than any watermark.
func walkDone(oldest time.Time, hasNext bool, mark time.Time) bool {
	return !hasNext || oldest.Before(mark)
}
