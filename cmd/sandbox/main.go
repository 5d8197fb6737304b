// Command sandbox runs drover locally, the way `make dev` starts it: a control plane
// and three workload clusters from internal/test/testbed (real kube-apiservers and etcds;
// the workloads also run kube-controller-manager, kube-scheduler and kwok, so
// Deployments really roll out); AWS as moto's server mode (ELBv2 and Route53) and
// OpenStack's real Octavia API and worker with their no-op drivers; the manager binary
// as a child process against the control plane, publishing weights to Route53 and
// mirroring each Prod's Octavia load balancer to an NLB; a stand-in for the OpenStack
// cloud controller manager that gives the Prods' Services of type LoadBalancer their
// Octavia load balancers (ccm.go); and the sample RolloutPolicy and ProdSet of
// config/samples, pointed at a hosted zone the sandbox makes in moto, in the sandbox's
// variant (gates.go: the HTTP checks go to an endpoint the sandbox serves, an approval
// stands in for the Prometheus gate, the records' TTL is short).
//
// The control plane is multi-tenant as a platform team sets it up (tenancy.go,
// docs/security.md): the chart's ValidatingAdmissionPolicies (config/admission) are
// installed, the sample Tenant is applied and the samples' namespace, default, where the
// workload clusters are registered, joins it by its drover.dev/tenant label.
//
// Once the Prods are Available it walks through the users' stories (stories.go; off
// with --stories=false): a second team, in a namespace of its own without a Tenant,
// applies a Prod naming the shop's Cluster, and the API server refuses it while the
// shop's Prods stay as they were; the release engineer ships v2 through the
// RolloutPolicy, promoting its approval; ships v3, whose HTTP check fails, and drover
// rolls it back; the platform team drains a cluster and restores it. Then it reports every change of
// the Prods' conditions, and prints drover's Route53 records (each Prod's service-level weight and
// its Octavia and NLB path weights) and NLBs whenever they change, until Ctrl-C (or
// SIGTERM) stops the manager, the test bed and the clouds.
//
// Everything it keeps lives in <repo>/.sandbox: the control-plane kubeconfig (unless
// --kubeconfig-out says otherwise), one kubeconfig per workload cluster and the
// process logs (logs/: the clusters', the manager's, moto.log and octavia/), which
// each run replaces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/drover-dev/drover/internal/test/checkserver"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/testbed"
)

const (
	// sandboxDirName is the directory under the repository root holding the sandbox's
	// kubeconfigs, lock and logs.
	sandboxDirName = ".sandbox"
	// managerStopTimeout is how long the manager gets to stop after SIGTERM.
	managerStopTimeout = 30 * time.Second
)

// config is the sandbox's configuration, from its flags.
type config struct {
	root          string        // repository root
	sandboxDir    string        // <root>/.sandbox
	logDir        string        // <root>/.sandbox/logs
	kubeconfigOut string        // where the control-plane kubeconfig goes
	managerPath   string        // the manager binary
	managerArgs   []string      // extra manager flags (the arguments after --)
	samplesDir    string        // the samples to apply
	wait          time.Duration // how long to wait for every Prod to become Available
	stories       bool          // walk through the users' stories once the Prods are up
}

// errUsage marks a command line the flag package rejected (and already explained).
var errUsage = errors.New("usage error")

func main() {
	err := run()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		os.Exit(1)
	}
}

// run sets the sandbox up, reports on it until interrupted and tears it down again.
// An interruption is not an error: it is how the sandbox is meant to end.
func run() error {
	root, err := testbed.RepoRoot()
	if err != nil {
		return err
	}
	cfg, err := parseFlags(root, os.Args[1:])
	if err != nil {
		return err
	}
	ctx := interruptible()
	err = runSandbox(ctx, cfg)
	if errors.Is(context.Cause(ctx), errInterrupted) && (err == nil || errors.Is(err, context.Canceled)) {
		fmt.Println("sandbox stopped cleanly")
		return nil
	}
	return err
}

// errInterrupted is the cause of the sandbox's context once Ctrl-C or SIGTERM arrived.
var errInterrupted = errors.New("interrupted")

// interruptible returns a context that the first SIGINT or SIGTERM cancels (with cause
// errInterrupted). A second one ends the process at once, with the default action; the
// child processes die with it (Pdeathsig).
func interruptible() context.Context {
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		sig := <-sigs
		signal.Stop(sigs)
		fmt.Printf("\n%s: stopping the sandbox (Ctrl-C again to force)...\n", sig)
		cancel(errInterrupted)
	}()
	return ctx
}

// parseFlags reads the sandbox's flags; the arguments after them go to the manager.
func parseFlags(root string, args []string) (config, error) {
	sandboxDir := filepath.Join(root, sandboxDirName)
	cfg := config{root: root, sandboxDir: sandboxDir, logDir: filepath.Join(sandboxDir, "logs")}
	fs := flag.NewFlagSet("sandbox", flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: go run ./cmd/sandbox [flags] [-- manager flags]\n\n"+
			"Runs a control plane and 3 workload clusters, AWS (moto) and Octavia, drover's manager against them\n"+
			"and the samples, and prints the Prods and drover's Route53 records and NLBs as they change.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.kubeconfigOut, "kubeconfig-out", filepath.Join(sandboxDir, "kubeconfig"), "Where to write the control-plane kubeconfig (overwritten).")
	fs.StringVar(&cfg.managerPath, "manager", filepath.Join(root, "bin", "manager"), "The manager binary; the default one is (re)built with go build first.")
	fs.StringVar(&cfg.samplesDir, "samples", filepath.Join(root, "config", "samples"), "Directory of sample YAML to apply.")
	fs.DurationVar(&cfg.wait, "wait", 3*time.Minute, "How long to wait for every Prod to become Available.")
	fs.BoolVar(&cfg.stories, "stories", true, "Once the Prods are up, walk through the users' stories: a second team refused the shop's cluster, ship v2, ship a bad v3 that rolls back, drain and restore a cluster.")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return config{}, err
		}
		return config{}, fmt.Errorf("%w: %w", errUsage, err)
	}
	cfg.managerArgs = fs.Args()
	for _, p := range []*string{&cfg.kubeconfigOut, &cfg.managerPath, &cfg.samplesDir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return config{}, fmt.Errorf("resolving %s: %w", *p, err)
		}
		*p = abs
	}
	return cfg, nil
}

// runSandbox does the work of run: it starts the sandbox, follows it until ctx ends
// and stops it again, whatever happened.
func runSandbox(ctx context.Context, cfg config) error {
	sb, err := startSandbox(ctx, cfg)
	if err != nil {
		return err
	}
	defer sb.close()
	printInstructions(sb)
	cp := sb.bed.ControlPlane.Client
	prods, err := waitAvailable(ctx, cp, sb.mgr, sb.applied, cfg.wait)
	if err != nil {
		return err
	}
	printSummary(os.Stdout, prods, cfg)
	if cfg.stories {
		if !allAvailable(prods) {
			fmt.Println("\nnot walking through the stories: not every Prod is Available")
		} else if _, err := runStories(ctx, sb, os.Stdout); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			fmt.Printf("\nthe walk through the stories stopped: %v\nsee %s/manager.log; the sandbox keeps running\n", err, cfg.logDir)
		}
	}
	fmt.Println("\nwatching the Prods, Route53 and the NLBs; Ctrl-C stops the manager, the test bed and the clouds")
	return watchProds(ctx, cp, sb.mgr, prods)
}

// sandbox is everything the sandbox runs. close stops it.
type sandbox struct {
	cfg     config
	started time.Time
	bed     *testbed.Testbed
	clouds  *cloudbed.Clouds
	mgr     *harness.Manager
	check   *checkserver.Server // the HTTP check endpoint of the sandbox's RolloutPolicy
	metrics *metrics            // the Prometheus of its baseline gates
	// applied are the samples applied, skipped those left to the user.
	applied, skipped []*unstructured.Unstructured
	// tenancy is the Tenant among the samples and the namespaces it governs.
	tenancy tenantPlan
	// stops undo what started, in the order it started; close runs them backwards.
	stops []func()
	loops sync.WaitGroup
}

// startSandbox starts the clouds (moto and Octavia) and the test bed at once, creates
// the samples' hosted zones, runs the manager against all of them and the stand-in
// CCM, applies the samples and starts printing what AWS has. On error it stops what it
// started.
func startSandbox(ctx context.Context, cfg config) (_ *sandbox, retErr error) {
	// The test bed's envtest logs through controller-runtime; it says what matters
	// through Logf, and its processes log to files.
	ctrllog.SetLogger(logr.Discard())
	sb := &sandbox{cfg: cfg, started: time.Now()}
	defer func() {
		if retErr != nil {
			sb.close()
		}
	}()
	unlock, err := lockSandbox(cfg.sandboxDir)
	if err != nil {
		return nil, err
	}
	sb.stops = append(sb.stops, unlock)
	if err := resetDir(cfg.logDir); err != nil {
		return nil, fmt.Errorf("preparing the log directory: %w", err)
	}
	fmt.Println("process logs:", cfg.logDir)
	if sb.applied, sb.skipped, err = loadSamples(cfg.samplesDir); err != nil {
		return nil, err
	}
	if sb.tenancy, err = planTenancy(sb.applied); err != nil {
		return nil, err
	}
	if err := ensureManager(ctx, cfg); err != nil {
		return nil, err
	}

	fmt.Println("starting the clouds: moto (AWS ELBv2 and Route53) and Octavia (API, worker, RabbitMQ)")
	var cloudsErr error
	cloudsDone := make(chan struct{})
	go func() {
		defer close(cloudsDone)
		sb.clouds, cloudsErr = cloudbed.Start(cfg.logDir)
	}()
	bed, bedErr := startTestbed(ctx, cfg)
	<-cloudsDone
	if sb.clouds != nil {
		sb.stops = append(sb.stops, func() { stopClouds(sb.clouds) })
	}
	if bed != nil {
		sb.bed = bed
		sb.stops = append(sb.stops, func() { stopTestbed(bed) })
	}
	if err := errors.Join(cloudsErr, bedErr); err != nil {
		return nil, err
	}
	if ctx.Err() != nil {
		return nil, ctx.Err() // interrupted while starting
	}
	fmt.Printf("clouds up: moto at %s, Octavia at %s (started in %s)\n",
		sb.clouds.Moto.Endpoint(), sb.clouds.Octavia.Endpoint(), sb.clouds.Octavia.StartupTime().Round(time.Millisecond))

	if err := sb.clouds.CreateZones(ctx, zoneNames(sb.applied)); err != nil {
		return nil, err
	}
	changes, err := pointAtZones(sb.applied, sb.clouds.Zones)
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		fmt.Printf("ProdSet %s publishes to the hosted zone %s, made in moto as %s (the sample says %s)\n", c.ProdSet, c.Zone, c.To, c.From)
	}
	if sb.check, err = startCheckServer(); err != nil {
		return nil, err
	}
	sb.stops = append(sb.stops, sb.check.Stop)
	if sb.metrics, err = startMetrics(cfg.logDir); err != nil {
		return nil, err
	}
	sb.stops = append(sb.stops, sb.metrics.stop)
	variants, err := sandboxVariants(sb.applied, sb.check.Template(), sb.metrics.prom.URL())
	if err != nil {
		return nil, err
	}
	fmt.Printf("the sandbox's variant of the samples (the sandbox serves the HTTP checks at %s: 200, 500 for %s):\n", sb.check.URL(), badVersion)
	for _, v := range variants {
		fmt.Println("  " + v)
	}
	if err := writeKubeconfigs(bed, cfg); err != nil {
		return nil, err
	}
	managerKubeconfig, err := installIdentities(ctx, bed, cfg)
	if err != nil {
		return nil, err
	}
	if err := installAdmission(ctx, bed, cfg); err != nil {
		return nil, err
	}

	if sb.mgr, err = startManager(cfg, managerKubeconfig, sb.clouds); err != nil {
		return nil, err
	}
	sb.stops = append(sb.stops, func() { stopManager(sb.mgr) })

	loopCtx, cancel := context.WithCancel(ctx)
	sb.stops = append(sb.stops, func() {
		cancel()
		sb.loops.Wait()
	})
	workload := func(name string) client.Client {
		if w := bed.Workload(name); w != nil {
			return w.Client
		}
		return nil
	}
	ccm := cloudbed.NewCCM(bed.ControlPlane.Client, workload, sb.clouds, os.Stdout)
	sb.loops.Go(func() { ccm.Run(loopCtx) })
	sb.loops.Go(func() { sb.metrics.run(loopCtx, bed.ControlPlane.Client) })

	if err := setUpTenancy(ctx, bed.ControlPlane.Client, sb.tenancy); err != nil {
		return nil, err
	}
	if err := applyAll(ctx, bed.ControlPlane.Client, sb.applied); err != nil {
		return nil, err
	}
	fmt.Printf("sandbox up after %s\n", time.Since(sb.started).Round(time.Second))
	view := newCloudView(sb.clouds, os.Stdout, sb.started)
	sb.loops.Go(func() { view.run(loopCtx) })
	return sb, nil
}

// close stops what the sandbox started, the last first: the stand-in CCM and the
// printing of AWS, the manager, the test bed and the clouds (which started together).
func (sb *sandbox) close() {
	for i := len(sb.stops) - 1; i >= 0; i-- {
		sb.stops[i]()
	}
	sb.stops = nil
}

// resetDir replaces dir by an empty directory, so no log of an earlier run is left.
func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}

// stopClouds stops the clouds and says how that went.
func stopClouds(c *cloudbed.Clouds) {
	fmt.Println("stopping moto and Octavia...")
	start := time.Now()
	c.Stop()
	fmt.Printf("moto and Octavia stopped after %s\n", time.Since(start).Round(time.Millisecond))
}
