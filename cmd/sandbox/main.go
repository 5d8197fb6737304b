// Command sandbox runs drover locally, the way `make dev` starts it: a control plane
// and three workload clusters from internal/testbed (real kube-apiservers and etcds;
// the workloads also run kube-controller-manager, kube-scheduler and kwok, so
// Deployments really roll out), the manager binary as a child process against the
// control plane, and the sample RolloutPolicy and ProdSet of config/samples.
// It reports the Prods once they are Available and then every change of their
// conditions, until Ctrl-C (or SIGTERM) stops the manager and the test bed.
//
// Everything it keeps lives in <repo>/.sandbox: the control-plane kubeconfig (unless
// --kubeconfig-out says otherwise), one kubeconfig per workload cluster and the
// process logs (logs/), which each run replaces.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/drover-dev/drover/internal/testbed"
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
			"Runs a control plane and 3 workload clusters, drover's manager against them and the samples.\n\n")
		fs.PrintDefaults()
	}
	fs.StringVar(&cfg.kubeconfigOut, "kubeconfig-out", filepath.Join(sandboxDir, "kubeconfig"), "Where to write the control-plane kubeconfig (overwritten).")
	fs.StringVar(&cfg.managerPath, "manager", filepath.Join(root, "bin", "manager"), "The manager binary; the default one is (re)built with go build first.")
	fs.StringVar(&cfg.samplesDir, "samples", filepath.Join(root, "config", "samples"), "Directory of sample YAML to apply.")
	fs.DurationVar(&cfg.wait, "wait", 3*time.Minute, "How long to wait for every Prod to become Available.")
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

// runSandbox does the work of run; its deferred calls stop the manager and then the
// test bed, whatever happened.
func runSandbox(ctx context.Context, cfg config) error {
	unlock, err := lockSandbox(cfg.sandboxDir)
	if err != nil {
		return err
	}
	defer unlock()
	if err := resetDir(cfg.logDir); err != nil {
		return fmt.Errorf("preparing the log directory: %w", err)
	}
	fmt.Println("process logs:", cfg.logDir)
	samples, skipped, err := loadSamples(cfg.samplesDir)
	if err != nil {
		return err
	}
	if err := ensureManager(ctx, cfg); err != nil {
		return err
	}

	bed, err := startTestbed(ctx, cfg)
	if err != nil {
		return err
	}
	defer stopTestbed(bed)
	if ctx.Err() != nil {
		return ctx.Err() // interrupted while the test bed started
	}
	if err := writeKubeconfigs(bed, cfg); err != nil {
		return err
	}

	mgr, err := startManager(cfg)
	if err != nil {
		return err
	}
	defer stopManager(mgr)

	cp := bed.ControlPlane.Client
	if err := applyAll(ctx, cp, samples); err != nil {
		return err
	}
	printInstructions(bed, cfg, samples, skipped)
	prods, err := waitAvailable(ctx, cp, mgr, samples, cfg.wait)
	if err != nil {
		return err
	}
	printSummary(os.Stdout, prods, cfg)
	fmt.Println("\nwatching the Prods; Ctrl-C stops the manager and the test bed")
	return watchProds(ctx, cp, mgr, prods)
}

// resetDir replaces dir by an empty directory, so no log of an earlier run is left.
func resetDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}
