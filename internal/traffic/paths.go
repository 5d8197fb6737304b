package traffic

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Paths are the two ways into one Prod (docs/traffic.md, "The two levels of records"): its Octavia VIP and
// the AWS NLB that mirrors the Octavia load balancer. A provider that publishes them
// (Route53) writes them as two weighted records of the Prod's own name, each with its
// own health check, and points the Prod's service-level record at that name. Providers
// that keep only service-level weights (Memory) ignore them.
type Paths struct {
	// OctaviaVIP is the Octavia load balancer's VIP address; empty while unknown.
	OctaviaVIP string
	// OctaviaWeight is the weight of the Octavia path, 0–255.
	OctaviaWeight int32
	// NLBDNSName is the mirroring NLB's DNS name; empty without a mirror.
	NLBDNSName string
	// NLBZoneID is the NLB's canonical hosted zone (for the alias record).
	NLBZoneID string
	// NLBWeight is the weight of the NLB path, 0–255.
	NLBWeight int32
	// HealthCheck is what Route53 checks on each path; nil checks nothing.
	HealthCheck *HealthCheck
}

// HealthCheck is a Route53 health check of one path.
type HealthCheck struct {
	// Protocol is HTTP, HTTPS or TCP.
	Protocol string
	// Port checked.
	Port int32
	// Path requested by HTTP and HTTPS checks.
	Path string
}

// Routable reports whether the paths lead anywhere: a service-level record may point at
// the Prod's name only when at least one path record exists under it.
func (p *Paths) Routable() bool {
	return p != nil && (p.OctaviaVIP != "" || p.NLBDNSName != "")
}

// Digest identifies the paths' published form; two Paths with the same Digest need no
// change in DNS.
func (p *Paths) Digest() string {
	if p == nil {
		return ""
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s|%d|%s|%s|%d", p.OctaviaVIP, p.OctaviaWeight, p.NLBDNSName, p.NLBZoneID, p.NLBWeight)
	if hc := p.HealthCheck; hc != nil {
		fmt.Fprintf(h, "|%s|%d|%s", hc.Protocol, hc.Port, hc.Path)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Health of one path as drover last observed it.
type Health int

const (
	// HealthUnknown: nothing says either way; the path keeps its steady-state weight.
	HealthUnknown Health = iota
	// Healthy: the path serves.
	Healthy
	// Unhealthy: the path is known not to serve (an Octavia load balancer in ERROR or
	// OFFLINE, an NLB whose targets all fail their checks).
	Unhealthy
)

// SplitInput is what decides the split of one Prod's traffic between its paths.
type SplitInput struct {
	OctaviaVIP, NLBDNSName, NLBZoneID string
	// OctaviaWeight and NLBWeight are the steady-state weights (90 and 10 by default).
	OctaviaWeight, NLBWeight int32
	// Octavia and NLB are the paths' observed health.
	Octavia, NLB Health
	HealthCheck  *HealthCheck
}

// Split returns a Prod's paths: the steady-state weights, except that when one path is
// known to be down and the other is not, the other takes the whole weight of the Prod
// (the sum of both). When both are down, or nothing is known, the steady state stays:
// drover does not guess, and Route53's own health checks still route around a failed
// path. A path that does not exist gets no record.
func Split(in SplitInput) Paths {
	p := Paths{
		OctaviaVIP: in.OctaviaVIP, NLBDNSName: in.NLBDNSName, NLBZoneID: in.NLBZoneID,
		OctaviaWeight: in.OctaviaWeight, NLBWeight: in.NLBWeight, HealthCheck: in.HealthCheck,
	}
	total := min(p.OctaviaWeight+p.NLBWeight, 255)
	if p.NLBDNSName == "" {
		p.NLBZoneID, p.NLBWeight = "", 0
	}
	if p.OctaviaVIP == "" {
		p.OctaviaWeight = 0
	}
	switch {
	case p.OctaviaVIP == "" || p.NLBDNSName == "":
		// One path only: it gets the whole weight, whatever its health says.
		if p.OctaviaVIP != "" {
			p.OctaviaWeight = max(total, 1)
		} else if p.NLBDNSName != "" {
			p.NLBWeight = max(total, 1)
		}
	case in.Octavia == Unhealthy && in.NLB != Unhealthy:
		p.OctaviaWeight, p.NLBWeight = 0, max(total, 1)
	case in.NLB == Unhealthy && in.Octavia != Unhealthy:
		p.OctaviaWeight, p.NLBWeight = max(total, 1), 0
	}
	return p
}

// Steady-state weights of a Prod's two paths when its mirror does not say (docs/traffic.md,
// "The two levels of records").
const (
	DefaultOctaviaWeight int32 = 90
	DefaultNLBWeight     int32 = 10
)

// ProdPaths returns the Prod's paths as its DNS should publish them: its Octavia VIP and
// its NLB (when the mirror is on) from status.endpoint, split by Split with the health
// drover observed, each checked by hc. nil when the Prod has no endpoint yet. The
// ProdSet controller publishes them; the plugin's dashboard draws them.
func ProdPaths(p *droverv1.Prod, hc *HealthCheck) *Paths {
	ep := p.Status.Endpoint
	if ep == nil {
		return nil
	}
	in := SplitInput{OctaviaVIP: ep.VIP, OctaviaWeight: DefaultOctaviaWeight, NLBWeight: DefaultNLBWeight}
	if m := p.Spec.Traffic.Mirror; m != nil && (m.Enabled == nil || *m.Enabled) {
		in.NLBDNSName, in.NLBZoneID = ep.NLBDNSName, ep.NLBZoneID
		if m.OctaviaWeight != nil {
			in.OctaviaWeight = *m.OctaviaWeight
		}
		if m.NLBWeight != nil {
			in.NLBWeight = *m.NLBWeight
		}
	}
	switch ep.OctaviaStatus {
	case "ONLINE", "DEGRADED", "DRAINING", "NO_MONITOR":
		in.Octavia = Healthy
	case "ERROR", "OFFLINE":
		in.Octavia = Unhealthy
	}
	if ms := p.Status.Mirror; ms != nil {
		var targets, healthy int32
		for _, tg := range ms.TargetGroups {
			targets, healthy = targets+tg.Targets, healthy+tg.HealthyTargets
		}
		switch {
		case healthy > 0:
			in.NLB = Healthy
		case targets > 0:
			in.NLB = Unhealthy
		}
	}
	in.HealthCheck = hc
	paths := Split(in)
	if !paths.Routable() {
		return nil
	}
	return &paths
}
