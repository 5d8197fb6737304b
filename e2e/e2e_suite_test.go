package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/checkserver"
	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/test/clouds/prometheustest"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/hookstest"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// The suite runs drover the way a user meets it, every part real: a control plane and
// four workload clusters in two regions (internal/test/testbed: real kube-apiservers and
// etcds, each workload with kube-controller-manager, kube-scheduler and kwok, so
// Deployments really roll out), AWS as moto's server mode and OpenStack's real Octavia
// API and worker (internal/test/cloudbed), with a stand-in for the OpenStack cloud
// controller manager that gives each Prod's Service of type LoadBalancer an Octavia
// load balancer, a real Prometheus for the gates, and drover's manager as its own
// binary, with leader election, publishing weights to Route53 and mirroring every
// Octavia load balancer to an NLB.

const (
	// regionLabel is the topology label on the workload clusters' Cluster objects.
	regionLabel = "topology.drover.dev/region"
	// rolloutCluster is the workload cluster the sample Prod of config/samples targets.
	rolloutCluster = "workload-1"
	// zoneName is the public hosted zone the suite makes in moto; every ProdSet's
	// records go there.
	zoneName = "example.com"
	// managerNamespace holds the manager's leader election Lease.
	managerNamespace = "drover-system"

	// setupTimeout bounds building the binaries and starting the test bed and clouds,
	// including the wait for the machine-wide Octavia lock while another package's
	// Octavia stack holds it (minutes on a busy machine).
	setupTimeout = 20 * time.Minute
	// managerStopTimeout is how long the manager gets to stop after SIGTERM.
	managerStopTimeout = 30 * time.Second
	// managerLogTailLines is how much of the manager's log a failed suite prints.
	managerLogTailLines = 60
)

// workloads are the suite's workload clusters: two regions, two clusters each, all with
// controllers and kwok Nodes.
var workloads = []testbed.WorkloadOptions{
	{Name: "workload-1", Labels: map[string]string{regionLabel: "eu"}, Controllers: true},
	{Name: "workload-2", Labels: map[string]string{regionLabel: "eu"}, Controllers: true},
	{Name: "workload-3", Labels: map[string]string{regionLabel: "us"}, Controllers: true},
	{Name: "workload-4", Labels: map[string]string{regionLabel: "us"}, Controllers: true},
}

// The suite's shared state, set up by TestE2E and BeforeSuite.
var (
	// root is the repository root.
	root string
	// workDir holds the binaries, the control-plane kubeconfig and the clouds' logs.
	workDir string
	// kubeconfigPath is the admin's control-plane kubeconfig kubectl and the plugin use
	// (the manager's is managerKubeconfigPath).
	kubeconfigPath string
	// managerBinary and pluginBinary are cmd/manager and cmd/kubectl-drover, built.
	managerBinary, pluginBinary string
	// bed is the control plane and the workload clusters.
	bed *testbed.Testbed
	// cp is a client of the control plane (drover's and Cluster API's types).
	cp client.Client
	// clouds are moto and Octavia; zoneID is the hosted zone zoneName in moto.
	clouds *cloudbed.Clouds
	zoneID string
	// checks answers the HTTP check gates; prom is the Prometheus the Prometheus gates
	// ask, scraping exporter.
	checks   *checkserver.Server
	prom     *prometheustest.Server
	exporter *prometheustest.Exporter

	// manager is the suite's manager replica (restartManager replaces it); managers
	// started besides it (startReplica) are stopped by AfterSuite too.
	manager *managerReplica
	// hooks calls the manager's Runtime Extension over HTTPS, as Cluster API does.
	hooks *hookstest.Caller
	// hookCA and hookCertDir are the Runtime Extension's serving certificate.
	hookCA      []byte
	hookCertDir string
	// hookClientCA signs the client certificate hooks presents, as Cluster API's
	// --runtime-extension-client-cert-file; the manager trusts it.
	hookClientCA *hookstest.ClientCA

	replicasMu sync.Mutex
	replicas   []*managerReplica

	// stopCCM stops the stand-in CCM.
	stopCCM func()
	// setUp is true once BeforeSuite got through; specFailed once a spec failed.
	setUp, specFailed bool
	// failures are the failed specs' names, places and messages.
	failures []string
)

func TestE2E(t *testing.T) {
	RegisterFailHandler(Fail)
	// Prometheus and its scrape target live as long as the test (their helpers clean up
	// through t), so they start here rather than in BeforeSuite.
	exporter = prometheustest.NewExporter(t)
	prom = prometheustest.Start(t, prometheustest.Options{ScrapeTargets: []string{exporter.Addr()}})
	RunSpecs(t, "drover e2e")
	// Ginkgo's summary names a failed spec; its message (a ledger's problems, say) is far
	// above it in a long log. Repeat it here, before the clouds' logs the cleanups add.
	for _, f := range failures {
		t.Errorf("failed: %s", f)
	}
}

var _ = BeforeSuite(func(ctx SpecContext) {
	var err error
	root, err = testbed.RepoRoot()
	Expect(err).NotTo(HaveOccurred(), "finding the repository root")
	workDir, err = os.MkdirTemp("", "drover-e2e-")
	Expect(err).NotTo(HaveOccurred())

	// The binaries go to a directory of the suite's own, not bin/: a sandbox running
	// from the same checkout keeps its binary.
	managerBinary = filepath.Join(workDir, "manager")
	pluginBinary = filepath.Join(workDir, "kubectl-drover")
	By("building the manager and the kubectl plugin")
	start := time.Now()
	Expect(harness.BuildManager(ctx, root, managerBinary)).To(Succeed())
	Expect(buildPlugin(ctx, pluginBinary)).To(Succeed())
	GinkgoWriter.Printf("binaries built in %s\n", time.Since(start).Round(time.Millisecond))

	By("starting the clouds (moto, Octavia) and the test bed (a control plane, 4 workload clusters in 2 regions) at once")
	cloudLogs := filepath.Join(workDir, "clouds")
	Expect(os.MkdirAll(cloudLogs, 0o755)).To(Succeed())
	var cloudsErr error
	cloudsDone := make(chan struct{})
	go func() {
		defer close(cloudsDone)
		defer GinkgoRecover()
		clouds, cloudsErr = cloudbed.Start(cloudLogs)
	}()
	bed, err = testbed.Start(ctx, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join(root, "config", "crd", "bases")},
		Workloads:         workloads,
		Scheme:            setup.Scheme(),
		Logf:              func(format string, args ...any) { GinkgoWriter.Printf(format+"\n", args...) },
	})
	<-cloudsDone
	Expect(cloudsErr).NotTo(HaveOccurred(), "starting moto and Octavia")
	Expect(err).NotTo(HaveOccurred(), "starting the test bed")
	cp = bed.ControlPlane.Client
	kubeconfigPath = filepath.Join(workDir, "control-plane.kubeconfig")
	Expect(bed.WriteControlPlaneKubeconfig(kubeconfigPath)).To(Succeed())

	Byf("creating the hosted zone %s in moto", zoneName)
	Expect(clouds.CreateZones(ctx, []string{zoneName})).To(Succeed())
	zoneID = clouds.Zones[zoneName]

	By("running the stand-in CCM: an Octavia load balancer for each Prod's Service of type LoadBalancer")
	ccmCtx, cancel := context.WithCancel(context.Background())
	var ccmDone sync.WaitGroup
	workload := func(name string) client.Client {
		if w := bed.Workload(name); w != nil {
			return w.Client
		}
		return nil
	}
	ccm := cloudbed.NewCCM(cp, workload, clouds, GinkgoWriter)
	ccmDone.Go(func() { ccm.Run(ccmCtx) })
	stopCCM = func() { cancel(); ccmDone.Wait() }

	checks, err = checkserver.Start()
	Expect(err).NotTo(HaveOccurred())

	By("starting the manager binary: leader election, Route53, NLB mirrors, the Runtime Extension")
	Expect(cp.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}})).To(Succeed())
	By("installing the chart's RBAC and config/workload-rbac: the manager acts as their ServiceAccounts, not as the admin")
	installIdentities(ctx)
	By("installing the chart's admission policies and their bindings: a team's Prod is refused when it is written, as in an installation")
	_, err = harness.InstallAdmissionPolicies(ctx, root, cp, managerNamespace)
	Expect(err).NotTo(HaveOccurred())
	hookCA, hookCertDir = hookstest.ServeCert(GinkgoT())
	hookClientCA = hookstest.NewClientCA(GinkgoT(), "cluster-api client CA")
	manager = startReplica("manager")
	hooks, err = hookstest.NewCaller(manager.hooksURL, hookCA, hookClientCA.Issue(GinkgoT(), "capi-controller-manager").Certificate)
	Expect(err).NotTo(HaveOccurred())
	Eventually(manager.isLeader, time.Minute, 500*time.Millisecond).Should(BeTrue(), "the manager never became the leader")
	setUp = true
}, NodeTimeout(setupTimeout))

// ReportAfterEach notes a failed spec, so that AfterSuite keeps the logs, and its
// failure, so that TestE2E repeats it where go test's summary shows it.
var _ = ReportAfterEach(func(report SpecReport) {
	if report.Failed() {
		specFailed = true
		failures = append(failures, fmt.Sprintf("%s (%s):\n%s", report.FullText(), report.Failure.Location, firstLines(report.Failure.Message, 40)))
	}
})

// firstLines is s cut to its first n lines.
func firstLines(s string, n int) string {
	lines := strings.SplitN(s, "\n", n+1)
	if len(lines) > n {
		lines[n] = "…"
	}
	return strings.Join(lines, "\n")
}

// AfterSuite stops the managers, the CCM, the test bed and the clouds. The logs stay
// when anything failed, including a manager ending on its own.
var _ = AfterSuite(func() {
	var errs []error
	replicasMu.Lock()
	running := append([]*managerReplica(nil), replicas...)
	replicasMu.Unlock()
	for _, r := range running {
		if r.Exited() {
			if err := r.ExitError(); err != nil && !r.killed {
				errs = append(errs, fmt.Errorf("manager %s exited before the suite ended: %w", r.name, err))
			}
			continue
		}
		By("stopping manager " + r.name)
		if err := r.Stop(managerStopTimeout); err != nil {
			errs = append(errs, fmt.Errorf("stopping manager %s: %w", r.name, err))
		}
	}
	failed := specFailed || !setUp || len(errs) > 0
	if manager != nil && failed {
		fmt.Fprintf(os.Stderr, "\nthe end of the manager's log (%s):\n%s\n\n", manager.LogPath(), manager.LogTail(managerLogTailLines))
	}
	if stopCCM != nil {
		stopCCM()
	}
	if checks != nil {
		checks.Stop()
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
	if clouds != nil {
		By("stopping moto and Octavia")
		clouds.Stop()
	}
	if workDir != "" {
		if failed {
			fmt.Fprintf(os.Stderr, "the clouds' logs and the binaries are kept in %s\n", workDir)
		} else if err := os.RemoveAll(workDir); err != nil {
			errs = append(errs, err)
		}
	}
	Expect(errors.Join(errs...)).NotTo(HaveOccurred())
})
