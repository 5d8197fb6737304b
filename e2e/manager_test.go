package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/drover-dev/drover/internal/cloud/cloudmetrics"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/hookstest"
)

// leaderElectionID is the manager's leader election Lease (cmd/manager).
const leaderElectionID = "drover-manager.drover.dev"

// managerReplica is one running manager binary: a replica of drover's Deployment, as
// far as leader election goes. Each listens on ports of its own (metrics, the Runtime
// Extension), which stay the same across restarts.
type managerReplica struct {
	*harness.Manager
	name       string
	metricsURL string // https://127.0.0.1:<port>/metrics
	hooksURL   string // https://127.0.0.1:<port>
	args       []string
	// killed is true once the suite SIGKILLed this process on purpose.
	killed bool
}

// replicaArgs are a replica's manager flags: leader election (short enough leases
// that a handover takes seconds, long enough for a loaded 2-core machine to renew in
// time), metrics on a port of its own for the suite to scrape (HTTPS, with a token
// allowed to GET /metrics, as the chart serves them), the clouds (Route53, NLB
// mirrors, Octavia), the Runtime Extension, and loopback for the gates of the app
// team's namespace (no Tenant), where the suite's check endpoint and Prometheus listen.
func replicaArgs(metricsPort, hookPort int) []string {
	args := []string{
		"--leader-elect=true",
		"--leader-election-namespace=" + managerNamespace,
		"--leader-elect-lease-duration=15s",
		"--leader-elect-renew-deadline=10s",
		"--leader-elect-retry-period=2s",
		fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
		"--health-probe-bind-address=0",
		fmt.Sprintf("--runtime-extension-port=%d", hookPort),
		"--runtime-extension-cert-dir=" + hookCertDir,
		"--gate-networks=127.0.0.0/8",
		"--runtime-extension-client-ca-file=" + hookClientCA.File,
		"--runtime-extension-client-names=capi-controller-manager",
	}
	return append(args, clouds.ManagerArgs()...)
}

// startReplica starts a manager binary named name (its log is <logdir>/<name>.log)
// on free ports, and registers it for AfterSuite to stop.
func startReplica(name string) *managerReplica {
	metricsPort, hookPort := hookstest.FreePort(GinkgoT()), hookstest.FreePort(GinkgoT())
	r := &managerReplica{
		name:       name,
		metricsURL: fmt.Sprintf("https://127.0.0.1:%d/metrics", metricsPort),
		hooksURL:   fmt.Sprintf("https://127.0.0.1:%d", hookPort),
		args:       replicaArgs(metricsPort, hookPort),
	}
	r.start()
	replicasMu.Lock()
	replicas = append(replicas, r)
	replicasMu.Unlock()
	return r
}

// start runs the replica's binary with its flags.
func (r *managerReplica) start() {
	var err error
	r.Manager, err = harness.StartManager(harness.ManagerOptions{
		Binary:     managerBinary,
		Kubeconfig: managerKubeconfigPath,
		Args:       r.args,
		Env:        clouds.ManagerEnv(),
		LogPath:    filepath.Join(bed.LogDir(), r.name+".log"),
	})
	Expect(err).NotTo(HaveOccurred(), "starting manager %s", r.name)
	r.killed = false
	GinkgoWriter.Printf("manager %s running (pid %d)\n", r.name, r.Pid())
}

// kill ends the replica with SIGKILL, as a crash or an OOM kill would: no lease
// released, no request finished.
func (r *managerReplica) kill() {
	r.killed = true
	Expect(r.Kill()).To(Succeed(), "killing manager %s", r.name)
}

// restart starts the replica's binary again, on the same ports, after kill or Stop.
func (r *managerReplica) restart() {
	Expect(r.Exited()).To(BeTrue(), "manager %s still runs", r.name)
	r.start()
}

// metrics scrapes the replica's metrics endpoint as Prometheus would: over HTTPS with
// the token of a ServiceAccount bound to metrics-reader.
func (r *managerReplica) metrics(ctx context.Context) (map[string]*dto.MetricFamily, error) {
	body, err := metricsScraper.Scrape(ctx, r.metricsURL)
	if err != nil {
		return nil, err
	}
	defer body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	return parser.TextToMetricFamilies(body)
}

// metricSum is the sum of the samples of the counter or gauge name whose labels
// include labels; 0 when there is none.
func (r *managerReplica) metricSum(ctx context.Context, name string, labels map[string]string) (float64, error) {
	families, err := r.metrics(ctx)
	if err != nil {
		return 0, err
	}
	return sumOf(families[name], labels), nil
}

// sumOf adds up the samples of family whose labels include labels.
func sumOf(family *dto.MetricFamily, labels map[string]string) float64 {
	return sumWhere(family, func(have map[string]string) bool {
		for k, v := range labels {
			if have[k] != v {
				return false
			}
		}
		return true
	})
}

// sumWhere adds up the samples (counters, gauges or untyped) of family whose labels
// match.
func sumWhere(family *dto.MetricFamily, match func(map[string]string) bool) float64 {
	if family == nil {
		return 0
	}
	var sum float64
	for _, m := range family.GetMetric() {
		have := map[string]string{}
		for _, lp := range m.GetLabel() {
			have[lp.GetName()] = lp.GetValue()
		}
		if !match(have) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			sum += m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			sum += m.GetGauge().GetValue()
		case m.GetUntyped() != nil:
			sum += m.GetUntyped().GetValue()
		}
	}
	return sum
}

// isLeader reports whether the replica holds the leader election Lease, by its own
// leader_election_master_status gauge.
func (r *managerReplica) isLeader() bool {
	if r.Exited() {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	v, err := r.metricSum(ctx, "leader_election_master_status", map[string]string{"name": leaderElectionID})
	return err == nil && v == 1
}

// route53ChangeRequests is how many ChangeResourceRecordSets requests reached moto's
// Route53 through the proxy the managers use (every attempt, whatever its answer): what
// went over the wire, not what a manager counted.
func route53ChangeRequests() int {
	return clouds.Route53.Requests(cloudmetrics.Route53, "ChangeResourceRecordSets")
}

// buildPlugin builds cmd/kubectl-drover into out.
func buildPlugin(ctx context.Context, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/kubectl-drover")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build -o %s ./cmd/kubectl-drover: %w\n%s", out, err, strings.TrimSpace(string(b)))
	}
	return nil
}

// plugin runs `kubectl drover args...` against the control plane and returns its
// output (stdout and stderr).
func plugin(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, pluginBinary, append([]string{"--kubeconfig", kubeconfigPath}, args...)...)
	b, err := cmd.CombinedOutput()
	return string(b), err
}
