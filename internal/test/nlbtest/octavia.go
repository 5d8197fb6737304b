// Package nlbtest holds what the tests of the NLB mirror's packages share: an Octavia
// load balancer to mirror, an in-memory ELBv2 and an assertion. It does not import
// internal/nlb, so that package's own tests can use it.
package nlbtest

import "github.com/drover-dev/drover/internal/cloud/octavia"

// Member is an enabled, online member of weight 1.
func Member(addr string, port int32) octavia.Member {
	return octavia.Member{ID: "m-" + addr, Address: addr, Port: port, Weight: 1, AdminStateUp: true, OperatingStatus: "ONLINE"}
}

// Members are Members of the addresses, all on port.
func Members(port int32, addrs ...string) []octavia.Member {
	out := make([]octavia.Member, len(addrs))
	for i, a := range addrs {
		out[i] = Member(a, port)
	}
	return out
}

// Snapshot is an Octavia load balancer with two listeners: TCP:80 to pool p-web
// (4 members on 8080, HTTP monitor) and HTTPS:443 to pool p-tls (4 members on 8443,
// TLS-HELLO monitor). Edits change it.
func Snapshot(edits ...func(*octavia.Snapshot)) *octavia.Snapshot {
	s := &octavia.Snapshot{
		LoadBalancer: octavia.LoadBalancer{ID: "lb-1", Name: "shop", VIP: "10.9.0.10", ProvisioningStatus: "ACTIVE", OperatingStatus: "ONLINE", AdminStateUp: true},
		Listeners: []octavia.Listener{
			{ID: "l-80", Protocol: "TCP", Port: 80, DefaultPoolID: "p-web", AdminStateUp: true},
			{ID: "l-443", Protocol: "HTTPS", Port: 443, DefaultPoolID: "p-tls", AdminStateUp: true},
		},
		Pools: []octavia.Pool{
			{
				ID: "p-tls", Protocol: "HTTPS", LBAlgorithm: "ROUND_ROBIN", AdminStateUp: true,
				Members: Members(8443, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"),
				Monitor: &octavia.Monitor{ID: "hm-tls", Type: "TLS-HELLO", Delay: 10, Timeout: 5, MaxRetries: 3, MaxRetriesDown: 3, AdminStateUp: true},
			},
			{
				ID: "p-web", Protocol: "TCP", LBAlgorithm: "ROUND_ROBIN", AdminStateUp: true,
				Members: Members(8080, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"),
				Monitor: &octavia.Monitor{ID: "hm-web", Type: "HTTP", Delay: 5, Timeout: 3, MaxRetries: 3, MaxRetriesDown: 3,
					HTTPMethod: "GET", URLPath: "/healthz", ExpectedCodes: "200", AdminStateUp: true},
			},
		},
	}
	for _, e := range edits {
		e(s)
	}
	return s
}

// Pool is the snapshot's pool of the id; it panics when there is none.
func Pool(s *octavia.Snapshot, id string) *octavia.Pool {
	for i := range s.Pools {
		if s.Pools[i].ID == id {
			return &s.Pools[i]
		}
	}
	panic("no pool " + id)
}
