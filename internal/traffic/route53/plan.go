package route53

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/route53/types"

	"github.com/drover-dev/drover/internal/traffic"
)

// Health check settings drover uses on every path: checks every 10 s ("fast"), three
// failures make a path unhealthy.
const (
	healthCheckInterval         int32 = 10
	healthCheckFailureThreshold int32 = 3
)

// hcKey names the health check of one path of one Prod of one service.
type hcKey struct {
	Service string // canonical service name
	ID      string // <namespace>/<name>
	Path    Path
}

// hcEntry is a health check drover created: its id, whose path it checks and the digest
// of its configuration.
type hcEntry struct {
	ID     string
	Key    hcKey
	Digest string
}

// hcSpec is a health check a change needs.
type hcSpec struct {
	Key    hcKey
	Config types.HealthCheckConfig
	Digest string
}

// desiredPath is one path record a Prod should have.
type desiredPath struct {
	Path   Path
	Record types.ResourceRecordSet // HealthCheckId filled in by buildChanges
	HC     *hcSpec
}

// serviceIntent is everything the batch wants for one service: the last weight given for
// each Prod.
type serviceIntent struct {
	Service traffic.Service
	Weights map[string]traffic.Weight // by Prod id
}

// merge folds weights into the intent, later ones replacing earlier ones of the same Prod.
// Paths given earlier are kept when a later weight carries none.
func (si *serviceIntent) merge(weights []traffic.Weight) {
	if si.Weights == nil {
		si.Weights = map[string]traffic.Weight{}
	}
	for _, w := range weights {
		if prev, ok := si.Weights[w.ID]; ok && w.Paths == nil && !w.Remove && !prev.Remove {
			w.Paths = prev.Paths
		}
		si.Weights[w.ID] = w
	}
}

// carries reports whether the intent already has every one of weights as given: merging
// them would change nothing.
func (si *serviceIntent) carries(weights []traffic.Weight) bool {
	for _, w := range weights {
		have, ok := si.Weights[w.ID]
		if !ok || have.Remove != w.Remove || (!w.Remove && have.Weight != w.Weight) {
			return false
		}
		if w.Paths != nil && (have.Paths == nil || !reflect.DeepEqual(*have.Paths, *w.Paths)) {
			return false
		}
	}
	return true
}

// healthCheckConfig is the Route53 health check of one path, or nil when the service
// checks nothing.
func healthCheckConfig(p *traffic.Paths, path Path) *types.HealthCheckConfig {
	hc := p.HealthCheck
	if hc == nil {
		return nil
	}
	cfg := &types.HealthCheckConfig{
		Type:             types.HealthCheckType(hc.Protocol),
		Port:             aws.Int32(hc.Port),
		RequestInterval:  aws.Int32(healthCheckInterval),
		FailureThreshold: aws.Int32(healthCheckFailureThreshold),
	}
	if hc.Protocol == "HTTP" || hc.Protocol == "HTTPS" {
		cfg.ResourcePath = aws.String(hc.Path)
	}
	switch path {
	case OctaviaPath:
		cfg.IPAddress = aws.String(p.OctaviaVIP)
	case NLBPath:
		cfg.FullyQualifiedDomainName = aws.String(canonical(p.NLBDNSName))
	}
	return cfg
}

// configDigest identifies a health check configuration.
func configDigest(c *types.HealthCheckConfig) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s|%s|%s|%d|%s|%d|%d", c.Type, aws.ToString(c.IPAddress), aws.ToString(c.FullyQualifiedDomainName),
		aws.ToInt32(c.Port), aws.ToString(c.ResourcePath), aws.ToInt32(c.RequestInterval), aws.ToInt32(c.FailureThreshold))
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// desiredPaths returns the path records a Prod's paths make (without health check ids).
func desiredPaths(owner string, svc traffic.Service, id string, p *traffic.Paths) []desiredPath {
	name := ProdRecordName(svc.Name, id)
	ttl := int64(svc.TTL.Seconds())
	if ttl < 1 {
		ttl = 1
	}
	var out []desiredPath
	if p.OctaviaVIP != "" {
		out = append(out, desiredPath{Path: OctaviaPath, Record: types.ResourceRecordSet{
			Name: aws.String(name), Type: types.RRTypeA, SetIdentifier: aws.String(pathSetID(owner, id, OctaviaPath)),
			Weight: aws.Int64(int64(p.OctaviaWeight)), TTL: aws.Int64(ttl),
			ResourceRecords: []types.ResourceRecord{{Value: aws.String(p.OctaviaVIP)}},
		}})
	}
	if p.NLBDNSName != "" {
		out = append(out, desiredPath{Path: NLBPath, Record: types.ResourceRecordSet{
			Name: aws.String(name), Type: types.RRTypeA, SetIdentifier: aws.String(pathSetID(owner, id, NLBPath)),
			Weight: aws.Int64(int64(p.NLBWeight)),
			AliasTarget: &types.AliasTarget{
				HostedZoneId: aws.String(p.NLBZoneID), DNSName: aws.String(canonical(p.NLBDNSName)), EvaluateTargetHealth: true,
			},
		}})
	}
	for i := range out {
		if cfg := healthCheckConfig(p, out[i].Path); cfg != nil {
			out[i].HC = &hcSpec{Key: hcKey{Service: canonical(svc.Name), ID: id, Path: out[i].Path}, Config: *cfg, Digest: configDigest(cfg)}
		}
	}
	return out
}

// serviceRecord is a Prod's weighted alias record under the service name.
func serviceRecord(owner string, svc traffic.Service, id string, weight int32) types.ResourceRecordSet {
	return types.ResourceRecordSet{
		Name: aws.String(canonical(svc.Name)), Type: types.RRTypeA, SetIdentifier: aws.String(serviceSetID(owner, id)),
		Weight: aws.Int64(int64(weight)),
		AliasTarget: &types.AliasTarget{
			HostedZoneId: aws.String(svc.Zone), DNSName: aws.String(ProdRecordName(svc.Name, id)), EvaluateTargetHealth: true,
		},
	}
}

// recordKey identifies a record set within a zone: drover's SetIdentifiers are unique
// across the zone, so the SetIdentifier alone would do; name and type are kept for clarity.
type recordKey struct{ Name, Type, SetID string }

func keyOf(r *types.ResourceRecordSet) recordKey {
	return recordKey{Name: canonical(aws.ToString(r.Name)), Type: string(r.Type), SetID: aws.ToString(r.SetIdentifier)}
}

// sameRecord reports whether two record sets publish the same thing.
func sameRecord(a, b *types.ResourceRecordSet) bool {
	if keyOf(a) != keyOf(b) || aws.ToInt64(a.Weight) != aws.ToInt64(b.Weight) || aws.ToString(a.HealthCheckId) != aws.ToString(b.HealthCheckId) {
		return false
	}
	if (a.AliasTarget == nil) != (b.AliasTarget == nil) {
		return false
	}
	if a.AliasTarget != nil {
		return sameName(aws.ToString(a.AliasTarget.DNSName), aws.ToString(b.AliasTarget.DNSName)) &&
			strings.EqualFold(aws.ToString(a.AliasTarget.HostedZoneId), aws.ToString(b.AliasTarget.HostedZoneId)) &&
			a.AliasTarget.EvaluateTargetHealth == b.AliasTarget.EvaluateTargetHealth
	}
	if aws.ToInt64(a.TTL) != aws.ToInt64(b.TTL) || len(a.ResourceRecords) != len(b.ResourceRecords) {
		return false
	}
	for i := range a.ResourceRecords {
		if aws.ToString(a.ResourceRecords[i].Value) != aws.ToString(b.ResourceRecords[i].Value) {
			return false
		}
	}
	return true
}

// current is what one service's subtree of the zone holds of drover's (this owner's).
type current struct {
	records map[recordKey]types.ResourceRecordSet
}

func newCurrent(owner, service string, listed []types.ResourceRecordSet) current {
	c := current{records: map[recordKey]types.ResourceRecordSet{}}
	for _, r := range listed {
		if owned(owner, service, aws.ToString(r.Name), aws.ToString(r.SetIdentifier)) {
			c.records[keyOf(&r)] = r
		}
	}
	return c
}

// neededHealthChecks lists the health checks the intent's path records need.
func neededHealthChecks(owner string, si serviceIntent) []hcSpec {
	var out []hcSpec
	for _, id := range slices.Sorted(maps.Keys(si.Weights)) {
		w := si.Weights[id]
		if w.Remove || w.Paths == nil {
			continue
		}
		for _, d := range desiredPaths(owner, si.Service, id, w.Paths) {
			if d.HC != nil {
				out = append(out, *d.HC)
			}
		}
	}
	return out
}

// servicePlan is the part of a change batch for one service.
type servicePlan struct {
	Changes []types.Change
	// Skipped lists Prods whose service-level record was not written because no path
	// record exists under their name (Route53 refuses an alias to a missing name).
	Skipped []string
	// Orphaned lists health checks no record will use once the change is in sync.
	Orphaned []string
}

// planService turns one service's intent into changes against what the zone holds.
// healthChecks gives the id of each needed health check (all created beforehand), and
// index the health checks drover knows of (to find those no record uses any more).
func planService(owner string, si serviceIntent, cur current, healthChecks map[hcKey]string, index []hcEntry) servicePlan {
	var plan servicePlan
	desired := map[recordKey]types.ResourceRecordSet{}
	deleted := map[recordKey]bool{}
	upsert := func(r types.ResourceRecordSet) { desired[keyOf(&r)] = r }
	del := func(k recordKey) {
		if _, ok := cur.records[k]; ok {
			deleted[k] = true
		}
	}
	svcName := canonical(si.Service.Name)
	for _, id := range slices.Sorted(maps.Keys(si.Weights)) {
		w := si.Weights[id]
		prodName := ProdRecordName(si.Service.Name, id)
		l1 := recordKey{Name: svcName, Type: string(types.RRTypeA), SetID: serviceSetID(owner, id)}
		pathKey := func(p Path) recordKey {
			return recordKey{Name: canonical(prodName), Type: string(types.RRTypeA), SetID: pathSetID(owner, id, p)}
		}
		if w.Remove {
			del(l1)
			for _, p := range Paths {
				del(pathKey(p))
			}
			continue
		}
		routable := false
		if w.Paths != nil {
			want := map[Path]bool{}
			for _, d := range desiredPaths(owner, si.Service, id, w.Paths) {
				r := d.Record
				if d.HC != nil {
					r.HealthCheckId = aws.String(healthChecks[d.HC.Key])
				}
				upsert(r)
				want[d.Path] = true
			}
			for _, p := range Paths {
				if !want[p] {
					del(pathKey(p))
				}
			}
			routable = len(want) > 0
		} else {
			for _, p := range Paths {
				if _, ok := cur.records[pathKey(p)]; ok {
					routable = true
				}
			}
		}
		if routable {
			upsert(serviceRecord(owner, si.Service, id, w.Weight))
		} else {
			del(l1)
			if w.Weight > 0 {
				plan.Skipped = append(plan.Skipped, id)
			}
		}
	}
	// Path records first, so that an alias created in this batch finds its target;
	// deletions of service-level records before the path records they alias.
	keys := slices.SortedFunc(maps.Keys(desired), comparePathsFirst)
	for _, k := range keys {
		r := desired[k]
		if old, ok := cur.records[k]; ok && sameRecord(&old, &r) {
			continue
		}
		plan.Changes = append(plan.Changes, types.Change{Action: types.ChangeActionUpsert, ResourceRecordSet: &r})
	}
	for _, k := range slices.SortedFunc(maps.Keys(deleted), compareServiceFirst) {
		r := cur.records[k]
		plan.Changes = append(plan.Changes, types.Change{Action: types.ChangeActionDelete, ResourceRecordSet: &r})
	}
	// Health checks of this service that no record uses once the batch is in: the ones
	// replaced or removed now, and any left over by an earlier manager.
	inUse := map[string]bool{}
	for k, r := range cur.records {
		if !deleted[k] {
			if _, replaced := desired[k]; !replaced && aws.ToString(r.HealthCheckId) != "" {
				inUse[aws.ToString(r.HealthCheckId)] = true
			}
		}
	}
	for _, r := range desired {
		if id := aws.ToString(r.HealthCheckId); id != "" {
			inUse[id] = true
		}
	}
	for _, e := range index {
		if e.Key.Service == svcName && !inUse[e.ID] {
			plan.Orphaned = append(plan.Orphaned, e.ID)
		}
	}
	slices.Sort(plan.Orphaned)
	return plan
}

// comparePathsFirst orders deeper names (the Prods' own names) before the service name,
// then by SetIdentifier: upserted path records come before the aliases that need them.
func comparePathsFirst(a, b recordKey) int {
	da, db := strings.Count(a.Name, "."), strings.Count(b.Name, ".")
	if da != db {
		return db - da
	}
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.SetID, b.SetID)
}

// compareServiceFirst is the reverse: deleted aliases go before the path records they
// point at.
func compareServiceFirst(a, b recordKey) int { return -comparePathsFirst(a, b) }
