package prodset_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
	"github.com/drover-dev/drover/internal/traffic"
)

// The suite runs the manager's real wiring against a control plane with Cluster API's
// and drover's CRDs and four workload clusters in two regions, each its own
// kube-apiserver and etcd. DNS is traffic.Memory, which keeps Route53's semantics that
// matter here: one change at a time per zone, PENDING before INSYNC.
var (
	bed *testbed.Testbed
	cp  client.Client
	dns = &traffic.Memory{Propagation: propagation}
)

const (
	region = "topology.drover.dev/region"
	pool   = "drover.dev/pool"
	// The clusters: two per region.
	eu1, eu2, us1, us2 = "eu-1", "eu-2", "us-1", "us-2"
	zone               = "Z0PRODSETTEST"
	// propagation is how long a DNS change stays PENDING.
	propagation = 500 * time.Millisecond
)

func TestMain(m *testing.M) {
	var workloads []testbed.WorkloadOptions
	for _, name := range []string{eu1, eu2, us1, us2} {
		workloads = append(workloads, testbed.WorkloadOptions{Name: name, Labels: map[string]string{region: name[:2], pool: "shop"}})
	}
	os.Exit(suite.Run(m, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Workloads:         workloads,
	}, setup.Options{
		WorkloadClientTimeout:      5 * time.Second,
		Publisher:                  dns,
		MaintenanceRecheckInterval: 2 * time.Second,
	}, func(b *testbed.Testbed) {
		bed, cp = b, b.ControlPlane.Client
	}))
}
