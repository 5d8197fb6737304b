package prod_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/suite"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The suite runs the real manager wiring against a real test bed: a control plane with
// Cluster API's and drover's CRDs and three workload clusters, each its own
// kube-apiserver and etcd. The first two also run kube-controller-manager, kube-scheduler
// and kwok, so Deployments really roll out.
var (
	bed *testbed.Testbed
	cp  client.Client
)

const (
	rolloutCluster = "workload-1"
	otherCluster   = "workload-2"
	outageCluster  = "workload-3"
)

// managerNamespace is the manager's, where it records what released Prods left behind.
const managerNamespace = "drover-system"

func TestMain(m *testing.M) {
	os.Exit(suite.Run(m, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join("..", "..", "config", "crd", "bases")},
		Workloads: []testbed.WorkloadOptions{
			{Name: rolloutCluster, Labels: map[string]string{"topology.drover.dev/region": "eu"}, Controllers: true},
			{Name: otherCluster, Labels: map[string]string{"topology.drover.dev/region": "eu"}, Controllers: true},
			{Name: outageCluster, Labels: map[string]string{"topology.drover.dev/region": "us"}},
		},
	}, setup.Options{WorkloadClientTimeout: 5 * time.Second, ProdResyncInterval: 3 * time.Second, ManagerNamespace: managerNamespace}, func(b *testbed.Testbed) {
		bed, cp = b, b.ControlPlane.Client
		if err := cp.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}}); err != nil {
			panic(fmt.Sprintf("creating the manager's namespace: %v", err))
		}
	}))
}
