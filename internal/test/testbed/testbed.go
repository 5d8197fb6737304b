// Package testbed starts a real multi-cluster Kubernetes test bed: a control-plane
// kube-apiserver with Cluster API's CRDs (and any others, e.g. drover's), and any number
// of workload clusters, each its own kube-apiserver and etcd (optionally with
// kube-controller-manager, kube-scheduler and kwok so that Deployments really roll
// out). Every workload is registered in the control plane exactly as Cluster API
// registers a provisioned cluster: a v1beta2 Cluster with spec.controlPlaneEndpoint and
// a provisioned/initialized/available status, and a <name>-kubeconfig Secret.
//
// The envtest suites, the e2e suite and the local sandbox all use it. Binaries come
// from Options.BinaryDir, $DROVER_K8S_BIN, or hack/ensure-k8s-binaries.sh.
package testbed

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
)

// ControlPlaneName is the Env.Name of the control plane (and the prefix of its logs).
const ControlPlaneName = "control-plane"

// KeepLogsEnv, when set to a non-empty value, makes Stop keep the process logs.
const KeepLogsEnv = "DROVER_TESTBED_KEEP_LOGS"

// Options configures Start.
type Options struct {
	// BinaryDir holds kube-apiserver and etcd (and kube-controller-manager,
	// kube-scheduler and kwok if any workload has Controllers). Default: $DROVER_K8S_BIN,
	// else the directory hack/ensure-k8s-binaries.sh prints (it builds what is missing).
	BinaryDir string
	// CRDDirectoryPaths are extra CRD files or directories installed in the control
	// plane (e.g. drover's config/crd/bases). Cluster API's core CRDs are always
	// installed.
	CRDDirectoryPaths []string
	// Namespace is where the Cluster objects and kubeconfig Secrets go; created if
	// missing. Default "default".
	Namespace string
	// Workloads are the workload clusters to start and register.
	Workloads []WorkloadOptions
	// Scheme is used for every client of the test bed. Default: NewScheme().
	Scheme *runtime.Scheme
	// LogDir receives the process logs (<cluster>-<binary>.log). Default: a new
	// temporary directory that Stop removes unless KeepLogs was called or
	// $DROVER_TESTBED_KEEP_LOGS is set. A given LogDir is never removed.
	LogDir string
	// Logf, if set, receives progress messages (e.g. t.Logf).
	Logf func(format string, args ...any)
	// Progress, if set, receives the output of hack/ensure-k8s-binaries.sh.
	Progress io.Writer
	// StartTimeout bounds each kube-apiserver's and etcd's start. Default 2 minutes.
	StartTimeout time.Duration
}

// WorkloadOptions configures one workload cluster.
type WorkloadOptions struct {
	// Name of the Cluster object (a DNS-1123 label); must be unique.
	Name string
	// Labels are put on the Cluster object (e.g. topology.drover.dev/region=eu).
	Labels map[string]string
	// Controllers also runs kube-controller-manager (KubeControllerManagerControllers),
	// kube-scheduler and kwok, with fake Nodes, so Deployments roll out and become
	// Available (their Pods become Running on kwok Nodes; no containers run). The
	// workload's kube-apiserver then runs without the ServiceAccount (as in envtest) and
	// TaintNodesByCondition admission plugins.
	Controllers bool
	// Nodes is the number of fake Nodes with Controllers; default 1.
	Nodes int
}

// Testbed is a running control plane plus workload clusters. Stop it when done.
type Testbed struct {
	// ControlPlane is the management cluster with Cluster API's CRDs, the Cluster
	// objects and their kubeconfig Secrets.
	ControlPlane *Env
	// Workloads in the order of Options.Workloads.
	Workloads []*Workload
	// Scheme used by all clients.
	Scheme *runtime.Scheme
	// Namespace of the Cluster objects and kubeconfig Secrets.
	Namespace string
	// BinaryDir the binaries were taken from.
	BinaryDir string

	workDir    string
	logDir     string
	ownLogDir  bool
	mu         sync.Mutex
	keepLogs   bool
	stopOnce   sync.Once
	stopErr    error
	logf       func(format string, args ...any)
	startStart time.Time
}

// Start starts the control plane and all workloads (in parallel) and registers the
// workloads in the control plane. On error everything started is stopped again and the
// error names the directory with the process logs, which is kept.
func Start(ctx context.Context, opts Options) (_ *Testbed, retErr error) {
	t := &Testbed{Namespace: opts.Namespace, logf: opts.Logf, startStart: time.Now()}
	if t.Namespace == "" {
		t.Namespace = metav1.NamespaceDefault
	}
	if t.logf == nil {
		t.logf = func(string, ...any) {}
	}
	if err := validate(opts); err != nil {
		return nil, err
	}
	t.Scheme = opts.Scheme
	if t.Scheme == nil {
		var err error
		if t.Scheme, err = NewScheme(); err != nil {
			return nil, err
		}
	}
	startTimeout := opts.StartTimeout
	if startTimeout == 0 {
		startTimeout = 2 * time.Minute
	}

	var err error
	if t.BinaryDir, err = ResolveBinaryDir(ctx, opts.BinaryDir, opts.Progress); err != nil {
		return nil, err
	}
	need := []string{"kube-apiserver", "etcd"}
	for _, w := range opts.Workloads {
		if w.Controllers {
			need = append(need, "kube-controller-manager", "kube-scheduler", "kwok")
			break
		}
	}
	if err := checkBinaries(t.BinaryDir, need...); err != nil {
		return nil, err
	}
	capiCRDs, err := CAPICRDDir()
	if err != nil {
		return nil, err
	}

	if t.workDir, err = os.MkdirTemp("", "drover-testbed-"); err != nil {
		return nil, err
	}
	t.logDir = opts.LogDir
	if t.logDir == "" {
		t.logDir = filepath.Join(t.workDir, "logs")
		t.ownLogDir = true
	}
	if err := os.MkdirAll(t.logDir, 0o755); err != nil {
		return nil, err
	}
	defer func() {
		if retErr != nil {
			t.KeepLogs()
			_ = t.Stop()
			retErr = fmt.Errorf("%w (process logs: %s)", retErr, t.logDir)
		}
	}()
	t.logf("testbed: starting control plane and %d workload(s); binaries %s, logs %s", len(opts.Workloads), t.BinaryDir, t.logDir)

	// The control plane and every workload start at the same time; a workload
	// registers itself once the control plane is up.
	cpReady := make(chan struct{})
	var cpErr error
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(cpReady)
		env, err := startEnv(envSpec{
			name: ControlPlaneName, dir: filepath.Join(t.workDir, ControlPlaneName), logDir: t.logDir,
			binDir: t.BinaryDir, crdPaths: append([]string{capiCRDs}, opts.CRDDirectoryPaths...),
			scheme: t.Scheme, startTimeout: startTimeout, user: "admin", clusterName: ControlPlaneName,
		})
		if err != nil {
			cpErr = err
			return
		}
		t.mu.Lock()
		t.ControlPlane = env
		t.mu.Unlock()
		t.logf("testbed: control plane up at %s after %s", env.URL(), time.Since(t.startStart).Round(time.Millisecond))
		if t.Namespace != metav1.NamespaceDefault {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: t.Namespace}}
			if err := env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
				cpErr = fmt.Errorf("creating namespace %s: %w", t.Namespace, err)
			}
		}
	})
	t.Workloads = make([]*Workload, len(opts.Workloads))
	errs := make([]error, len(opts.Workloads))
	for i, wo := range opts.Workloads {
		wg.Go(func() { errs[i] = t.startWorkload(ctx, i, wo, startTimeout, cpReady, &cpErr) })
	}
	wg.Wait()
	if err := errors.Join(append([]error{cpErr}, errs...)...); err != nil {
		return nil, err
	}
	t.logf("testbed: ready after %s", time.Since(t.startStart).Round(time.Millisecond))
	return t, nil
}

func (t *Testbed) startWorkload(ctx context.Context, i int, wo WorkloadOptions, startTimeout time.Duration, cpReady <-chan struct{}, cpErr *error) error {
	dir := filepath.Join(t.workDir, wo.Name)
	spec := envSpec{
		name: wo.Name, dir: dir, logDir: t.logDir, binDir: t.BinaryDir, scheme: t.Scheme,
		startTimeout: startTimeout, user: "kubernetes-admin", clusterName: wo.Name,
	}
	if wo.Controllers {
		// ServiceAccount: as envtest (Pods need no token). TaintNodesByCondition would
		// put node.kubernetes.io/not-ready:NoSchedule on every new Node, and only the
		// node-lifecycle-controller (not run here) takes it off again.
		spec.disableAdmission = []string{"ServiceAccount", "TaintNodesByCondition"}
	}
	env, err := startEnv(spec)
	if err != nil {
		return err
	}
	w := &Workload{
		Env:            env,
		Cluster:        types.NamespacedName{Namespace: t.Namespace, Name: wo.Name},
		Labels:         wo.Labels,
		KubeconfigPath: filepath.Join(dir, "kubeconfig"),
		opts:           wo,
		logDir:         t.logDir,
	}
	t.mu.Lock()
	t.Workloads[i] = w
	t.mu.Unlock()
	if err := writeFile(w.KubeconfigPath, w.Kubeconfig); err != nil {
		return err
	}
	t.logf("testbed: workload %s up at %s after %s", wo.Name, env.URL(), time.Since(t.startStart).Round(time.Millisecond))
	if wo.Controllers {
		if err := w.startControllers(ctx, t.BinaryDir); err != nil {
			return err
		}
		t.logf("testbed: workload %s controllers and %d kwok node(s) ready after %s", wo.Name, len(w.Nodes), time.Since(t.startStart).Round(time.Millisecond))
	}
	<-cpReady
	if *cpErr != nil {
		return nil // reported by the control plane
	}
	return w.register(ctx, t.ControlPlane.Client)
}

// Workload returns the workload with the given name, or nil.
func (t *Testbed) Workload(name string) *Workload {
	for _, w := range t.Workloads {
		if w != nil && w.Name == name {
			return w
		}
	}
	return nil
}

// WriteControlPlaneKubeconfig writes an admin kubeconfig for the control plane to path
// (mode 0600), e.g. for the manager binary or kubectl.
func (t *Testbed) WriteControlPlaneKubeconfig(path string) error {
	return writeFile(path, t.ControlPlane.Kubeconfig)
}

// LogDir is the directory with the process logs.
func (t *Testbed) LogDir() string { return t.logDir }

// KeepLogs makes Stop keep the process logs (call it when a test failed).
func (t *Testbed) KeepLogs() {
	t.mu.Lock()
	t.keepLogs = true
	t.mu.Unlock()
}

// Stop stops every process of the test bed and removes its certificates and data (and
// the logs, see Options.LogDir). It is safe to call more than once.
func (t *Testbed) Stop() error {
	t.stopOnce.Do(func() {
		var mu sync.Mutex
		var errs []error
		add := func(err error) {
			if err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}
		var wg sync.WaitGroup
		for _, w := range t.Workloads {
			if w == nil {
				continue
			}
			wg.Go(func() {
				add(w.stopProcesses())
				add(w.stop())
			})
		}
		if t.ControlPlane != nil {
			wg.Go(func() { add(t.ControlPlane.stop()) })
		}
		wg.Wait()
		t.mu.Lock()
		keep := t.keepLogs || os.Getenv(KeepLogsEnv) != "" || !t.ownLogDir
		t.mu.Unlock()
		if keep && t.ownLogDir {
			// Keep only the logs.
			entries, _ := os.ReadDir(t.workDir)
			for _, e := range entries {
				if e.Name() != "logs" {
					add(os.RemoveAll(filepath.Join(t.workDir, e.Name())))
				}
			}
		} else if t.workDir != "" {
			add(os.RemoveAll(t.workDir))
		}
		t.stopErr = errors.Join(errs...)
	})
	return t.stopErr
}

func validate(opts Options) error {
	seen := map[string]bool{}
	for _, w := range opts.Workloads {
		if errs := validation.IsDNS1123Label(w.Name); len(errs) > 0 {
			return fmt.Errorf("workload name %q: %v", w.Name, errs)
		}
		if w.Name == ControlPlaneName {
			return fmt.Errorf("workload name %q is reserved", w.Name)
		}
		if seen[w.Name] {
			return fmt.Errorf("duplicate workload name %q", w.Name)
		}
		seen[w.Name] = true
	}
	return nil
}

// TB is the part of testing.TB StartForTest uses.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
	Errorf(format string, args ...any)
	Logf(format string, args ...any)
	Failed() bool
	Cleanup(func())
}

// StartForTest is Start for one test: a failure to start fails the test, and the test
// bed is stopped when the test ends, its process logs kept (and their directory logged)
// if the test failed.
func StartForTest(ctx context.Context, t TB, opts Options) *Testbed {
	t.Helper()
	bed, err := Start(ctx, opts)
	if err != nil {
		t.Fatalf("starting the test bed: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			bed.KeepLogs()
			t.Logf("test bed process logs kept in %s", bed.LogDir())
		}
		if err := bed.Stop(); err != nil {
			t.Errorf("stopping the test bed: %v", err)
		}
	})
	return bed
}
