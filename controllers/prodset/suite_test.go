package prodset_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/dnsbed"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The suite runs the manager's real wiring against a control plane with Cluster API's
// and drover's CRDs and four workload clusters in two regions, each its own
// kube-apiserver and etcd. DNS is Route53: moto behind the AWS fault proxy, which keeps
// each change PENDING for propagation as Route53 does, and drover's Route53 publisher
// (internal/test/dnsbed); the tests read the records moto holds and the changes the
// proxy saw. Every set's records are in one hosted zone.
var (
	bed  *testbed.Testbed
	cp   client.Client
	dns  *dnsbed.Bed
	zone string
)

const (
	region = "topology.drover.dev/region"
	pool   = "drover.dev/pool"
	// The clusters: two per region.
	eu1, eu2, us1, us2 = "eu-1", "eu-2", "us-1", "us-2"
	// propagation is how long a Route53 change stays PENDING.
	propagation = time.Second
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	var err error
	if dns, err = dnsbed.Start(dnsbed.Options{Propagation: propagation}); err != nil {
		fmt.Fprintln(os.Stderr, "starting moto:", err)
		return 1
	}
	defer dns.Close()
	if zone, err = dns.CreateZone(context.Background(), "example.com"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var workloads []testbed.WorkloadOptions
	for _, name := range []string{eu1, eu2, us1, us2} {
		workloads = append(workloads, testbed.WorkloadOptions{Name: name, Labels: map[string]string{region: name[:2], pool: "shop"}})
	}
	return suite.Run(m, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Workloads:         workloads,
	}, dns.Options(setup.Options{
		WorkloadClientTimeout:      5 * time.Second,
		MaintenanceRecheckInterval: 2 * time.Second,
	}), func(b *testbed.Testbed) {
		bed, cp = b, b.ControlPlane.Client
	})
}
