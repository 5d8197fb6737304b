package releasediff_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The suite runs the manager's real wiring against a control plane with Cluster API's
// and drover's CRDs and three workload clusters, each its own kube-apiserver and etcd
// (no controllers: the stories use ConfigMaps and Secrets, which need none): w1 and w2
// for the sets' Prods, w3 for the one whose API server stops.
var (
	bed *testbed.Testbed
	cp  client.Client
)

const (
	w1, w2 = "w1", "w2"
	// outage is the cluster whose API server a test stops.
	outage = "w3"
	pool   = "drover.dev/pool"
)

func TestMain(m *testing.M) {
	os.Exit(suite.Run(m, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Workloads: []testbed.WorkloadOptions{
			{Name: w1, Labels: map[string]string{pool: "shop"}},
			{Name: w2, Labels: map[string]string{pool: "shop"}},
			{Name: outage, Labels: map[string]string{pool: "outage"}},
		},
	}, setup.Options{WorkloadClientTimeout: 5 * time.Second}, func(b *testbed.Testbed) {
		bed, cp = b, b.ControlPlane.Client
	}))
}
