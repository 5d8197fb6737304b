package e2e

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/harness"
	"github.com/drover-dev/drover/internal/hooks/hookstest"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/testbed"
)

const (
	// regionLabel is the topology label on the workload clusters' Cluster objects.
	regionLabel = "topology.drover.dev/region"
	// rolloutCluster runs kube-controller-manager, kube-scheduler and kwok, so its
	// Deployments roll out and become available; the sample Prod targets it.
	rolloutCluster = "workload-1"

	// setupTimeout bounds building the manager and starting the test bed.
	setupTimeout = 3 * time.Minute
	// managerStopTimeout is how long the manager gets to stop after SIGTERM.
	managerStopTimeout = 30 * time.Second
	// managerLogTailLines is how much of the manager's log a failed suite prints.
	managerLogTailLines = 40
)

// The suite's shared state, set up by BeforeSuite.
var (
	// root is the repository root.
	root string
	// workDir holds the manager binary and the control-plane kubeconfig.
	workDir string
	// kubeconfigPath is the control-plane kubeconfig the manager and kubectl use.
	kubeconfigPath string
	// bed is the control plane and the workload clusters.
	bed *testbed.Testbed
	// cp is a client of the control plane (drover's and Cluster API's types).
	cp client.Client
	// manager is drover's manager binary, running against the control plane.
	manager *harness.Manager

	// hooks calls the manager's Runtime Extension over HTTPS, as Cluster API does.
	hooks *hookstest.Caller
	// setUp is true once BeforeSuite got through; specFailed once a spec failed.
	setUp, specFailed bool
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "drover e2e")
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	root, err = testbed.RepoRoot()
	Expect(err).NotTo(HaveOccurred(), "finding the repository root")
	workDir, err = os.MkdirTemp("", "drover-e2e-")
	Expect(err).NotTo(HaveOccurred())

	// The binary goes to a directory of the suite's own, not bin/manager: a sandbox
	// running from the same checkout keeps its binary.
	binary := filepath.Join(workDir, "manager")
	By("building the manager: go build -o " + binary + " ./cmd/manager")
	start := time.Now()
	Expect(harness.BuildManager(ctx, root, binary)).To(Succeed())
	GinkgoWriter.Printf("manager built in %s\n", time.Since(start).Round(time.Millisecond))

	By("starting the test bed: a control plane and workload clusters workload-1 (with controllers), workload-2 and workload-3")
	bed, err = testbed.Start(ctx, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")},
		Workloads: []testbed.WorkloadOptions{
			{Name: rolloutCluster, Labels: map[string]string{regionLabel: "eu"}, Controllers: true},
			{Name: "workload-2", Labels: map[string]string{regionLabel: "eu"}},
			{Name: "workload-3", Labels: map[string]string{regionLabel: "us"}},
		},
		Scheme: setup.Scheme(),
		Logf:   func(format string, args ...any) { GinkgoWriter.Printf(format+"\n", args...) },
	})
	Expect(err).NotTo(HaveOccurred(), "starting the test bed")
	cp = bed.ControlPlane.Client
	kubeconfigPath = filepath.Join(workDir, "control-plane.kubeconfig")
	Expect(bed.WriteControlPlaneKubeconfig(kubeconfigPath)).To(Succeed())

	By("starting the manager binary against the control plane, with the in-memory DNS and the Runtime Extension")
	caPEM, certDir := hookstest.ServeCert(GinkgoT())
	hookPort := hookstest.FreePort(GinkgoT())
	manager, err = harness.StartManager(harness.ManagerOptions{
		Binary:     binary,
		Kubeconfig: kubeconfigPath,
		Args: append(harness.LocalManagerArgs(), "--traffic-provider=memory",
			fmt.Sprintf("--runtime-extension-port=%d", hookPort), "--runtime-extension-cert-dir="+certDir),
		LogPath: filepath.Join(bed.LogDir(), "manager.log"),
	})
	Expect(err).NotTo(HaveOccurred())
	GinkgoWriter.Printf("manager running (pid %d): %s\n", manager.Pid(), manager.CommandLine())
	hooks, err = hookstest.NewCaller(fmt.Sprintf("https://127.0.0.1:%d", hookPort), caPEM)
	Expect(err).NotTo(HaveOccurred())
	setUp = true
}, NodeTimeout(setupTimeout))

// ReportAfterEach notes a failed spec, so that AfterSuite keeps the logs.
var _ = ReportAfterEach(func(report SpecReport) {
	if report.Failed() {
		specFailed = true
	}
})

// AfterSuite stops the manager and then the test bed. The logs stay when anything
// failed, including the manager ending on its own.
var _ = AfterSuite(func() {
	var errs []error
	if manager != nil {
		By("stopping the manager")
		if err := manager.ExitError(); err != nil {
			errs = append(errs, fmt.Errorf("the manager exited before the suite ended: %w", err))
		} else if err := manager.Stop(managerStopTimeout); err != nil {
			errs = append(errs, fmt.Errorf("stopping the manager: %w", err))
		}
	}
	failed := specFailed || !setUp || len(errs) > 0
	if manager != nil && failed {
		fmt.Fprintf(os.Stderr, "\nthe end of the manager's log (%s):\n%s\n\n", manager.LogPath(), manager.LogTail(managerLogTailLines))
	}
	if bed != nil {
		By("stopping the test bed")
		if failed {
			bed.KeepLogs()
			fmt.Fprintf(os.Stderr, "test bed and manager logs kept in %s\n", bed.LogDir())
		}
		if err := bed.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("stopping the test bed: %w", err))
		}
	}
	if workDir != "" {
		if err := os.RemoveAll(workDir); err != nil {
			errs = append(errs, err)
		}
	}
	Expect(errors.Join(errs...)).NotTo(HaveOccurred())
})
