// Package mirror benchmarks the NLB mirror's sync against the real parts: the real
// Octavia API and worker (Debian's packages with their no-op drivers,
// internal/test/clouds/octaviatest) and moto's ELBv2 (internal/test/clouds/awstest), read and
// written through drover's own clients (internal/cloud/octavia, internal/cloud/elbv2).
//
// One sync is what controllers/mirror does per poll for a Prod with a mirror: read the
// Octavia load balancer (octavia.Client.Snapshot), plan (nlb.Desired), read the NLB
// (deploy.Observe), diff (nlb.Diff, with the default removal guard), fingerprint the model
// (nlb.Model.Digest) and, unless the plan is empty, apply it (deploy.Apply). The
// controller's Kubernetes side (the Prod's status patch, events) is not part of it: it
// calls no cloud API, and in a steady state it writes nothing.
//
// Every figure is counted from drover_cloud_api_calls_total, the counter drover's clients
// increment for each call, and timed around each step. Every sync is checked: after a
// churn sync the NLB's targets (read with the SDK, not drover's code) must equal Octavia's
// members (read with gophercloud, not drover's code) exactly, with exactly one
// RegisterTargets and one DeregisterTargets; a steady-state sync must make no write.
//
//	go test -run='^$' -bench=. -benchtime=1x -timeout=60m ./internal/bench/mirror/
//
// TestMirrorChurnSmoke runs the same checks on 20 members, so that go test keeps the
// benchmark's code honest.
package mirror

import (
	"os"
	"testing"

	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/clouds/octaviatest"
)

func TestMain(m *testing.M) {
	os.Exit(awstest.Run(runner(func() int { return octaviatest.Main(m, octaviatest.Options{}) })))
}

type runner func() int

func (r runner) Run() int { return r() }
