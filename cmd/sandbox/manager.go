package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/test/harness"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// ensureManager makes sure the manager binary exists. The default one, bin/manager, is
// (re)built with go build, which takes a moment when it is up to date and otherwise
// keeps the sandbox from running old code; one given with --manager is used as is.
func ensureManager(ctx context.Context, cfg config) error {
	if cfg.managerPath != filepath.Join(cfg.root, "bin", "manager") {
		st, err := os.Stat(cfg.managerPath)
		if err != nil {
			return fmt.Errorf("manager binary: %w", err)
		}
		if st.IsDir() {
			return fmt.Errorf("manager binary %s is a directory", cfg.managerPath)
		}
		return nil
	}
	fmt.Println("building the manager: go build -o bin/manager ./cmd/manager")
	if err := os.MkdirAll(filepath.Dir(cfg.managerPath), 0o755); err != nil {
		return fmt.Errorf("building the manager: %w", err)
	}
	return harness.BuildManager(ctx, cfg.root, cfg.managerPath)
}

// managerNamespace is where the chart's ServiceAccount the manager runs as lives.
const managerNamespace = "drover-system"

// identityTokenTTL is how long the manager's tokens are valid: longer than anyone
// keeps a sandbox.
const identityTokenTTL = 7 * 24 * time.Hour

// installIdentities installs the chart's RBAC and config/workload-rbac and writes the
// manager's kubeconfig, a token of the chart's ServiceAccount, to
// .sandbox/manager.kubeconfig: the manager runs with the permissions drover ships with,
// the workload clusters' kubeconfig Secrets hold config/workload-rbac's ServiceAccount.
// It returns the kubeconfig's path.
func installIdentities(ctx context.Context, bed *testbed.Testbed, cfg config) (string, error) {
	id, err := harness.InstallIdentities(ctx, cfg.root, bed, managerNamespace, identityTokenTTL)
	if err != nil {
		return "", fmt.Errorf("installing drover's RBAC: %w", err)
	}
	path := filepath.Join(cfg.sandboxDir, "manager.kubeconfig")
	if err := os.WriteFile(path, id.ManagerKubeconfig, 0o600); err != nil {
		return "", err
	}
	fmt.Printf("the manager acts as ServiceAccount %s (charts/drover's RBAC; %s), on the workload clusters as %s (config/workload-rbac)\n",
		id.Manager, path, id.Workload)
	return path, nil
}

// startManager runs the manager binary against the control plane (with kubeconfig)
// and the clouds (Route53 weights, NLB mirrors, Octavia; credentials in its
// environment), with its output in <logDir>/manager.log. The arguments after -- come
// last, so they can override any of these flags.
func startManager(cfg config, kubeconfig string, c *cloudbed.Clouds) (*harness.Manager, error) {
	args := append(harness.LocalManagerArgs(), c.ManagerArgs()...)
	mgr, err := harness.StartManager(harness.ManagerOptions{
		Binary:     cfg.managerPath,
		Kubeconfig: kubeconfig,
		Args:       append(args, cfg.managerArgs...),
		Env:        c.ManagerEnv(),
		LogPath:    filepath.Join(cfg.logDir, "manager.log"),
	})
	if err != nil {
		return nil, err
	}
	fmt.Printf("manager started (pid %d): %s\n", mgr.Pid(), mgr.CommandLine())
	return mgr, nil
}

// stopManager stops the manager (SIGTERM, then SIGKILL after managerStopTimeout) and
// says how that went.
func stopManager(mgr *harness.Manager) {
	if mgr.Exited() {
		return // watchProds or waitAvailable reported it
	}
	fmt.Println("stopping the manager...")
	start := time.Now()
	if err := mgr.Stop(managerStopTimeout); err != nil {
		fmt.Fprintln(os.Stderr, "sandbox:", err)
		return
	}
	fmt.Printf("manager stopped after %s\n", time.Since(start).Round(time.Millisecond))
}
