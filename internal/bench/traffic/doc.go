// Package traffic holds drover's traffic benchmarks: how fast, and in how many Route53
// calls, drover moves weights when it matters. Everything is in its tests:
//
//   - BenchmarkEviction: a ClusterMaintenance drains a cluster hosting 100 Prods (one
//     Prod of each of 100 ProdSets of two Prods, their services in two hosted zones);
//     measured from the ClusterMaintenance's creation to the ChangeResourceRecordSets
//     that carries the last of the 100 weights 0.
//   - BenchmarkRollback: a ProdSet of 50 Prods on v2 ships v3 through an InPlace
//     RolloutPolicy whose first step moves 10 Prods and checks them with an HTTP gate
//     that fails (3 tries, 1 s apart); measured from the check server's first failing
//     answer (and from its last, the verdict) to the ChangeResourceRecordSets that takes
//     every v3 Prod out of traffic, the v2 Prods carrying it all again.
//   - TestTrafficSmoke: both at small sizes (6 Prods), asserting the same properties (one
//     ChangeResourceRecordSets per zone for the drain, the rollback in one), so that go
//     test keeps the benchmark code and drover's batching honest.
//
// Each benchmark runs twice: with the manager's Route53 client unpaced (what drover
// itself costs; moto answers at once) and paced as in production (4 requests a second,
// awsclient.DefaultRoute53Limit). Besides the timer (request to Drained, ship to
// RolledBack) each reports s-to-submit, s-own, s-aws, s-waits and Route53 call counts
// with b.ReportMetric, and logs a markdown table of measured against minimum.
//
// The parts are real: kube-apiservers of internal/test/testbed (a control plane and workload
// clusters), moto's server for Route53, and the manager's own wiring (setup.Controllers)
// in process with the Route53 publisher at its defaults. Only Octavia is a stand-in: an
// octavia.Client that answers every load balancer ACTIVE and ONLINE with a VIP, so that
// each Prod has an endpoint to publish; Octavia is not on the paths measured.
//
// Where the numbers come from. The publisher's Route53 API is wrapped by a recorder that
// timestamps every call: "submitted" is the moment the ChangeResourceRecordSets call was
// made. The publisher itself is wrapped too, so that each ProdSet's hand-off of its
// weights (Publish) is timestamped. The time to a submission is split along its critical
// path: up to the last hand-off the change carries, the controllers' work (drover's own
// time, but for the gate's configured tries in the rollback, a deliberate wait); from
// there, the publisher's AWS calls (the recorder's spans, pacing included), its linger
// (a deliberate wait, where no call covers it) and the rest (own time again).
// Route53's INSYNC is immediate in moto, so the time a batch in flight holds the next
// one back is shorter here than against AWS.
//
// Run them with
//
//	go test -run='^$' -bench=. -benchtime=1x -timeout=60m ./internal/bench/traffic/
//
// with DROVER_K8S_BIN (or KUBEBUILDER_ASSETS) pointing at the Kubernetes binaries and
// DROVER_MOTO_SERVER at moto_server. Setting up the Prods is expensive and done once per
// benchmark and process, outside the timed region; -benchtime=1x is the intended use,
// but a larger b.N works (each iteration drains and restores, or ships and rolls back,
// again, and the metrics are the means).
package traffic
