package octavia

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/listeners"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/loadbalancers"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/monitors"
	"github.com/gophercloud/gophercloud/v2/openstack/loadbalancer/v2/pools"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
)

// Snapshot implements Client. Every call reads the load balancer and its pool list (with
// each pool's member ids and updated_at); what else it reads, decide says (change.go):
//
//   - nothing more when neither moved since the last read and that read is settled: the
//     last read's listeners, monitors and members stand (two requests);
//   - when something moved: the listeners, each pool's monitor, and of the members only
//     those added or updated since the last read (a walk down updated_at, newest first,
//     and a GET of each added member the walk did not meet); removed members are dropped;
//   - everything, every member in pages of pageSize (each request's work on Octavia
//     bounded whatever the pool's size), on the first read of a load balancer and then
//     every FullRefresh whatever changed.
//
// A load balancer that is not ACTIVE (PENDING_* mid-change, or ERROR) is returned alone,
// without listeners or pools: it is not mirrored until it is ACTIVE again, and a change
// in flight could make reading its members cost as much as a full read every retry.
// Health monitors are read from /v2/lbaas/healthmonitors (this Octavia's status tree
// names a pool's monitor health_monitor, which gophercloud's status tree type does not
// read). Member operating statuses (which the
// health manager changes without moving the load balancer's updated_at, and which the
// mirror does not use) may be as old as the last read of that member, at most
// FullRefresh.
func (c *Gophercloud) Snapshot(ctx context.Context, id string) (*Snapshot, error) {
	if err := ValidateID(id); err != nil {
		return nil, fmt.Errorf("octavia: load balancer: %w", err)
	}
	res := loadbalancers.Get(ctx, c.sc, id)
	lb, err := res.Extract()
	if err != nil {
		if gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
			return nil, fmt.Errorf("octavia: load balancer %s: %w (%w)", id, cloudmetrics.ErrNotFound, err)
		}
		return nil, fmt.Errorf("octavia: reading load balancer %s: %w", id, err)
	}
	asOf, _ := http.ParseTime(res.Header.Get("Date"))
	snap := &Snapshot{LoadBalancer: LoadBalancer{
		ID:                 lb.ID,
		Name:               lb.Name,
		VIP:                lb.VipAddress,
		ProjectID:          lb.ProjectID,
		ProvisioningStatus: lb.ProvisioningStatus,
		OperatingStatus:    lb.OperatingStatus,
		AdminStateUp:       lb.AdminStateUp,
	}}
	cur := fingerprint{LBUpdated: lb.UpdatedAt, LBStatus: lb.ProvisioningStatus}
	c.mu.Lock()
	prev := c.cache[id]
	c.mu.Unlock()
	now := c.now()
	if kind, _ := decide(prev, cur, now, c.refresh); kind == lbOnly {
		snap.ReadAt = c.now()
		c.mu.Lock()
		c.last[id] = kind
		c.mu.Unlock()
		return snap, nil
	}
	rows, err := c.listPools(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("octavia: listing the pools of load balancer %s: %w", id, err)
	}
	for _, p := range rows {
		cur.Pools = append(cur.Pools, p.print())
	}
	kind, _ := decide(prev, cur, now, c.refresh)
	next := &baseline{print: cur, asOf: asOf, snap: snap, memberUpdated: map[string]time.Time{}}
	if kind == full {
		next.fullAt = now
	} else {
		next.fullAt = prev.fullAt
	}
	if kind == reuse {
		snap.Listeners = slices.Clone(prev.snap.Listeners)
	} else if snap.Listeners, err = c.listListeners(ctx, id); err != nil {
		return nil, err
	}
	poolIDs := make(map[string]bool, len(rows))
	for _, row := range rows {
		pool, err := c.pool(ctx, kind, row, prev, next)
		if err != nil {
			return nil, fmt.Errorf("octavia: load balancer %s: %w", id, err)
		}
		poolIDs[row.ID] = true
		snap.Pools = append(snap.Pools, pool)
	}
	for _, l := range snap.Listeners {
		// A default pool that is not among the pools listed a moment earlier means the
		// load balancer changed during the read: not a snapshot.
		if l.DefaultPoolID != "" && !poolIDs[l.DefaultPoolID] {
			return nil, fmt.Errorf("octavia: load balancer %s changed during the read: listener %s's default pool %s was not listed",
				id, l.ID, l.DefaultPoolID)
		}
	}
	slices.SortFunc(snap.Pools, func(a, b Pool) int { return cmp.Compare(a.ID, b.ID) })
	snap.ReadAt = c.now()

	c.mu.Lock()
	defer c.mu.Unlock()
	c.last[id] = kind
	c.cache[id] = next
	c.forgetOld(now)
	return cloneSnapshot(snap), nil
}

// forgetOld drops what is kept of load balancers not read for two full refreshes (a Prod
// deleted, or its load balancer replaced). c.mu is held.
func (c *Gophercloud) forgetOld(now time.Time) {
	for id, b := range c.cache {
		if now.Sub(b.fullAt) > 2*c.refresh {
			delete(c.cache, id)
			delete(c.last, id)
		}
	}
}

// cloneSnapshot copies s so that its caller may change it without changing what is kept.
func cloneSnapshot(s *Snapshot) *Snapshot {
	out := *s
	out.Listeners = slices.Clone(s.Listeners)
	out.Pools = slices.Clone(s.Pools)
	for i := range out.Pools {
		out.Pools[i].Members = slices.Clone(out.Pools[i].Members)
		if m := out.Pools[i].Monitor; m != nil {
			mc := *m
			out.Pools[i].Monitor = &mc
		}
	}
	return &out
}

// poolRow is a pool as Octavia's pool list returns it, with what gophercloud's Pool
// leaves out (provisioning status, updated_at).
type poolRow struct {
	ID                 string      `json:"id"`
	Name               string      `json:"name"`
	Protocol           string      `json:"protocol"`
	LBAlgorithm        string      `json:"lb_algorithm"`
	AdminStateUp       bool        `json:"admin_state_up"`
	OperatingStatus    string      `json:"operating_status"`
	ProvisioningStatus string      `json:"provisioning_status"`
	MonitorID          string      `json:"healthmonitor_id"`
	UpdatedAt          *string     `json:"updated_at"`
	Members            []memberRef `json:"members"`
	updated            time.Time
	memberIDs          []string
}

type memberRef struct {
	ID string `json:"id"`
}

func (p poolRow) print() poolPrint {
	return poolPrint{ID: p.ID, Updated: p.updated, Status: p.ProvisioningStatus, MonitorID: p.MonitorID, MemberIDs: p.memberIDs}
}

// listPools lists the load balancer's pools, sorted by id, every id in them checked.
func (c *Gophercloud) listPools(ctx context.Context, lbID string) ([]poolRow, error) {
	page, err := pools.List(c.sc, pools.ListOpts{LoadbalancerID: lbID}).AllPages(ctx)
	if err != nil {
		return nil, err
	}
	var body struct {
		Pools []poolRow `json:"pools"`
	}
	if err := page.(pools.PoolPage).ExtractInto(&body); err != nil {
		return nil, err
	}
	for i := range body.Pools {
		p := &body.Pools[i]
		// Octavia's own ids go into URLs too (members, monitors): checked all the same.
		if err := ValidateID(p.ID); err != nil {
			return nil, fmt.Errorf("pool: %w", err)
		}
		if p.MonitorID != "" {
			if err := ValidateID(p.MonitorID); err != nil {
				return nil, fmt.Errorf("health monitor of pool %s: %w", p.ID, err)
			}
		}
		if p.UpdatedAt != nil {
			if p.updated, err = parseTime(*p.UpdatedAt); err != nil {
				return nil, fmt.Errorf("pool %s: updated_at: %w", p.ID, err)
			}
		}
		for _, m := range p.Members {
			if err := ValidateID(m.ID); err != nil {
				return nil, fmt.Errorf("member of pool %s: %w", p.ID, err)
			}
			p.memberIDs = append(p.memberIDs, m.ID)
		}
		slices.Sort(p.memberIDs)
		p.memberIDs = slices.Compact(p.memberIDs)
	}
	slices.SortFunc(body.Pools, func(a, b poolRow) int { return cmp.Compare(a.ID, b.ID) })
	return body.Pools, nil
}

// parseTime reads Octavia's timestamps: UTC without a zone, with or without fractional
// seconds.
func parseTime(s string) (time.Time, error) {
	return time.Parse("2006-01-02T15:04:05", strings.TrimSuffix(s, "Z"))
}

func (c *Gophercloud) listListeners(ctx context.Context, lbID string) ([]Listener, error) {
	page, err := listeners.List(c.sc, listeners.ListOpts{LoadbalancerID: lbID}).AllPages(ctx)
	if err != nil {
		return nil, fmt.Errorf("octavia: listing the listeners of load balancer %s: %w", lbID, err)
	}
	ls, err := listeners.ExtractListeners(page)
	if err != nil {
		return nil, fmt.Errorf("octavia: listing the listeners of load balancer %s: %w", lbID, err)
	}
	out := make([]Listener, 0, len(ls))
	for _, l := range ls {
		out = append(out, Listener{
			ID:            l.ID,
			Name:          l.Name,
			Protocol:      l.Protocol,
			Port:          int32(l.ProtocolPort),
			DefaultPoolID: l.DefaultPoolID,
			AdminStateUp:  l.AdminStateUp,
		})
	}
	slices.SortFunc(out, func(a, b Listener) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port), cmp.Compare(a.ID, b.ID))
	})
	return out, nil
}

// pool makes the snapshot of one pool: its own fields from the pool list, its members and
// monitor as kind says, and records its members' updated_at in next.
func (c *Gophercloud) pool(ctx context.Context, kind readKind, row poolRow, prev, next *baseline) (Pool, error) {
	out := Pool{
		ID:              row.ID,
		Name:            row.Name,
		Protocol:        row.Protocol,
		LBAlgorithm:     row.LBAlgorithm,
		AdminStateUp:    row.AdminStateUp,
		OperatingStatus: row.OperatingStatus,
	}
	var old *Pool
	if prev != nil {
		if i := slices.IndexFunc(prev.snap.Pools, func(p Pool) bool { return p.ID == row.ID }); i >= 0 {
			old = &prev.snap.Pools[i]
		}
	}
	var oldPrint *poolPrint
	if prev != nil {
		if i := slices.IndexFunc(prev.print.Pools, func(p poolPrint) bool { return p.ID == row.ID }); i >= 0 {
			oldPrint = &prev.print.Pools[i]
		}
	}
	if kind == delta && (old == nil || oldPrint == nil) {
		kind = full // a pool not read before
	}

	var (
		members []pools.Member
		err     error
	)
	switch kind {
	case reuse:
		out.Members = old.Members
		out.Monitor = old.Monitor
		for _, m := range old.Members {
			next.memberUpdated[m.ID] = prev.memberUpdated[m.ID]
		}
		return out, nil
	case full:
		members, err = c.allMembers(ctx, row.ID, pageSize(len(row.memberIDs)))
	case delta:
		members, err = c.changedMembers(ctx, row, old, oldPrint, prev)
	}
	if err != nil {
		return Pool{}, err
	}
	for _, m := range members {
		out.Members = append(out.Members, Member{
			ID:              m.ID,
			Name:            m.Name,
			Address:         m.Address,
			Port:            int32(m.ProtocolPort),
			Weight:          int32(m.Weight),
			Backup:          m.Backup,
			AdminStateUp:    m.AdminStateUp,
			OperatingStatus: m.OperatingStatus,
		})
		next.memberUpdated[m.ID] = m.UpdatedAt
	}
	slices.SortFunc(out.Members, func(a, b Member) int {
		return cmp.Or(compareAddresses(a.Address, b.Address), cmp.Compare(a.Port, b.Port), cmp.Compare(a.ID, b.ID))
	})
	if row.MonitorID == "" {
		return out, nil
	}
	m, err := monitors.Get(ctx, c.sc, row.MonitorID).Extract()
	if err != nil {
		// Gone since the pool was read: the load balancer changed during the read.
		return Pool{}, fmt.Errorf("reading health monitor %s of pool %s: %w", row.MonitorID, row.ID, err)
	}
	out.Monitor = &Monitor{
		ID:             m.ID,
		Type:           m.Type,
		Delay:          int32(m.Delay),
		Timeout:        int32(m.Timeout),
		MaxRetries:     int32(m.MaxRetries),
		MaxRetriesDown: int32(m.MaxRetriesDown),
		HTTPMethod:     m.HTTPMethod,
		URLPath:        m.URLPath,
		ExpectedCodes:  m.ExpectedCodes,
		AdminStateUp:   m.AdminStateUp,
	}
	return out, nil
}

// allMembers lists every member of a pool, in pages of size. A page that times out is
// asked again a quarter the size (down to one member): on Octavia 11 a page's work is its
// size times the pool's, so a loaded Octavia still answers a smaller one.
func (c *Gophercloud) allMembers(ctx context.Context, poolID string, size int) ([]pools.Member, error) {
	var out []pools.Member
	marker := ""
	for {
		page, hasNext, err := c.memberPage(ctx, poolID, pools.ListMembersOpts{Limit: size, Marker: marker})
		if err != nil {
			if size > 1 && timedOut(ctx, err) {
				size = max(1, size/4)
				continue
			}
			return nil, fmt.Errorf("listing the members of pool %s: %w", poolID, err)
		}
		out = append(out, page...)
		if !hasNext || len(page) == 0 {
			return out, nil
		}
		marker = page[len(page)-1].ID
	}
}

// memberPage reads one page of a pool's members, every id in it checked (the last one is
// the next page's marker), and whether Octavia links a next page.
func (c *Gophercloud) memberPage(ctx context.Context, poolID string, opts pools.ListMembersOpts) (page []pools.Member, hasNext bool, err error) {
	err = pools.ListMembers(c.sc, poolID, opts).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		ms, err := pools.ExtractMembers(p)
		if err != nil {
			return false, err
		}
		page = ms
		next, err := p.NextPageURL()
		hasNext = err == nil && next != ""
		return false, nil // one page a request
	})
	if err != nil {
		return nil, false, err
	}
	for _, m := range page {
		if err := ValidateID(m.ID); err != nil {
			return nil, false, fmt.Errorf("member of pool %s: %w", poolID, err)
		}
	}
	return page, hasNext, nil
}

// timedOut: err is the client's timeout of one request, not the end of ctx.
func timedOut(ctx context.Context, err error) bool {
	var ne net.Error
	return ctx.Err() == nil && errors.As(err, &ne) && ne.Timeout()
}

// changedMembers are a pool's members now, read from what changed since prev: the last
// read's members less those whose ids the pool no longer lists, with those updated since
// (a walk down updated_at until a member older than prev's watermark) and those added
// (each the walk did not meet, read alone) read again.
func (c *Gophercloud) changedMembers(ctx context.Context, row poolRow, old *Pool, oldPrint *poolPrint, prev *baseline) ([]pools.Member, error) {
	added, _ := memberDelta(oldPrint.MemberIDs, row.memberIDs)
	now := make(map[string]bool, len(row.memberIDs))
	for _, id := range row.memberIDs {
		now[id] = true
	}
	fresh := map[string]pools.Member{}
	mark := watermark(prev.asOf)
	marker := ""
	for n := 0; ; n++ {
		unmet := 0
		for _, id := range added {
			if _, ok := fresh[id]; !ok {
				unmet++
			}
		}
		limit := min(deltaLimit(n, unmet), pageSize(len(row.memberIDs)))
		opts := pools.ListMembersOpts{Limit: limit, Marker: marker, SortKey: "updated_at", SortDir: "desc"}
		page, hasNext, err := c.memberPage(ctx, row.ID, opts)
		if err != nil {
			return nil, fmt.Errorf("listing the members of pool %s updated since %s: %w", row.ID, mark.Format(time.RFC3339), err)
		}
		for _, m := range page {
			fresh[m.ID] = m
		}
		if len(page) == 0 || walkDone(page[len(page)-1].UpdatedAt, hasNext, mark) {
			break
		}
		marker = page[len(page)-1].ID
	}
	for _, id := range added {
		if _, ok := fresh[id]; ok {
			continue
		}
		m, err := pools.GetMember(ctx, c.sc, row.ID, id).Extract()
		if err != nil {
			// Listed a moment ago: the pool changed during the read.
			return nil, fmt.Errorf("reading member %s of pool %s: %w", id, row.ID, err)
		}
		fresh[id] = *m
	}
	kept := make(map[string]Member, len(old.Members))
	for _, m := range old.Members {
		kept[m.ID] = m
	}
	out := make([]pools.Member, 0, len(row.memberIDs))
	for _, id := range row.memberIDs {
		if m, ok := fresh[id]; ok {
			out = append(out, m)
			continue
		}
		m, ok := kept[id]
		if !ok {
			return nil, fmt.Errorf("member %s of pool %s was neither read before nor now", id, row.ID)
		}
		out = append(out, pools.Member{
			ID: m.ID, Name: m.Name, Address: m.Address, ProtocolPort: int(m.Port), Weight: int(m.Weight), Backup: m.Backup,
			AdminStateUp: m.AdminStateUp, OperatingStatus: m.OperatingStatus, UpdatedAt: prev.memberUpdated[m.ID],
		})
	}
	return out, nil
}
