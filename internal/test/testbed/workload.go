package testbed

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// KubeControllerManagerControllers are the controllers kube-controller-manager runs in
// a workload with Controllers=true: enough for Deployments to roll out, ServiceAccounts
// and namespaces to be managed, and owned objects to be garbage collected.
var KubeControllerManagerControllers = []string{
	"deployment-controller",
	"replicaset-controller",
	"serviceaccount-controller",
	"namespace-controller",
	"garbage-collector-controller",
	"pod-garbage-collector-controller",
	"endpointslice-controller",
}

const (
	// FakeNodeAnnotation marks Nodes that kwok manages (and that the test bed creates).
	FakeNodeAnnotation = "kwok.x-k8s.io/node"
	fakeNodeValue      = "fake"
)

// Workload is one workload cluster: its own kube-apiserver and etcd (and, with
// Controllers, kube-controller-manager, kube-scheduler and kwok), registered in the
// control plane as a Cluster API Cluster with a kubeconfig Secret.
type Workload struct {
	// Env holds Name, Config, Client, Kubeconfig, Host and Port of this workload's API.
	// Kubeconfig is exactly the value of the <name>-kubeconfig Secret.
	*Env
	// Cluster is the key of the Cluster object (and, with "-kubeconfig", of the
	// Secret) in the control plane.
	Cluster types.NamespacedName
	// Labels are the labels on the Cluster object.
	Labels map[string]string
	// KubeconfigPath is a file holding Kubeconfig.
	KubeconfigPath string
	// Nodes are the names of the fake (kwok) Nodes; empty without Controllers.
	Nodes []string

	opts    WorkloadOptions
	logDir  string
	mu      sync.Mutex
	procs   []*process
	apiDown bool
}

// StopAPIServer stops only this workload's kube-apiserver, as if the cluster became
// unreachable: etcd, its data and the controllers keep running, and requests to the
// workload fail until StartAPIServer. The Cluster object's status is left as it was
// (Cluster API would only mark it after a grace period).
func (w *Workload) StopAPIServer() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.Environment.ControlPlane.APIServer.Stop(); err != nil {
		return fmt.Errorf("stopping %s kube-apiserver (log %s): %w", w.Name, w.apiLog.Name(), err)
	}
	w.apiDown = true
	return nil
}

// StartAPIServer starts this workload's kube-apiserver again on the same address and
// port with the same certificates and data, so Config, Client, Kubeconfig and the
// kubeconfig Secret keep working. It returns once the API answers requests.
func (w *Workload) StartAPIServer() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.apiDown {
		return fmt.Errorf("%s kube-apiserver is running", w.Name)
	}
	if err := w.Environment.ControlPlane.APIServer.Start(); err != nil {
		return fmt.Errorf("restarting %s kube-apiserver (log %s): %w", w.Name, w.apiLog.Name(), err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := wait.PollUntilContextCancel(ctx, 100*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		return w.Client.Get(ctx, client.ObjectKey{Name: metav1.NamespaceDefault}, &corev1.Namespace{}) == nil, nil
	})
	if err != nil {
		return fmt.Errorf("%s kube-apiserver restarted but does not answer (log %s): %w", w.Name, w.apiLog.Name(), err)
	}
	w.apiDown = false
	return nil
}

// RestartAPIServer is StopAPIServer followed by StartAPIServer.
func (w *Workload) RestartAPIServer() error {
	if err := w.StopAPIServer(); err != nil {
		return err
	}
	return w.StartAPIServer()
}

// CheckProcesses returns an error naming every helper process (kube-controller-manager,
// kube-scheduler, kwok) that has exited.
func (w *Workload) CheckProcesses() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	var errs []error
	for _, p := range w.procs {
		if done, err := p.exited(); done {
			errs = append(errs, fmt.Errorf("%s/%s exited (%v); log %s", w.Name, p.name, err, p.logPath))
		}
	}
	return errors.Join(errs...)
}

// register creates the Cluster (with the status Cluster API sets once the control plane
// is up) and the kubeconfig Secret in the control plane.
func (w *Workload) register(ctx context.Context, cp client.Client) error {
	cluster := &clusterv1.Cluster{
		ObjectMeta: metav1.ObjectMeta{
			Name:      w.Cluster.Name,
			Namespace: w.Cluster.Namespace,
			Labels:    w.Labels,
		},
		Spec: clusterv1.ClusterSpec{
			ControlPlaneEndpoint: clusterv1.APIEndpoint{Host: w.Host, Port: int32(w.Port)},
		},
	}
	if err := cp.Create(ctx, cluster); err != nil {
		return fmt.Errorf("creating Cluster %s: %w", w.Cluster, err)
	}
	now := metav1.Now()
	cond := func(t string, status metav1.ConditionStatus, reason string) metav1.Condition {
		return metav1.Condition{
			Type: t, Status: status, Reason: reason,
			ObservedGeneration: cluster.Generation, LastTransitionTime: now,
		}
	}
	cluster.Status = clusterv1.ClusterStatus{
		Initialization: clusterv1.ClusterInitializationStatus{
			InfrastructureProvisioned: ptr.To(true),
			ControlPlaneInitialized:   ptr.To(true),
		},
		Phase:              string(clusterv1.ClusterPhaseProvisioned),
		ObservedGeneration: cluster.Generation,
		Conditions: []metav1.Condition{
			cond(clusterv1.ClusterAvailableCondition, metav1.ConditionTrue, clusterv1.ClusterAvailableReason),
			cond(clusterv1.ClusterInfrastructureReadyCondition, metav1.ConditionTrue, clusterv1.ClusterInfrastructureReadyReason),
			cond(clusterv1.ClusterControlPlaneInitializedCondition, metav1.ConditionTrue, clusterv1.ClusterControlPlaneInitializedReason),
			cond(clusterv1.ClusterControlPlaneAvailableCondition, metav1.ConditionTrue, clusterv1.ClusterControlPlaneAvailableReason),
			cond(clusterv1.ClusterWorkersAvailableCondition, metav1.ConditionTrue, clusterv1.ClusterWorkersAvailableNoWorkersReason),
			cond(clusterv1.ClusterRemoteConnectionProbeCondition, metav1.ConditionTrue, clusterv1.ClusterRemoteConnectionProbeSucceededReason),
			cond(clusterv1.PausedCondition, metav1.ConditionFalse, clusterv1.NotPausedReason),
			cond(clusterv1.ClusterDeletingCondition, metav1.ConditionFalse, clusterv1.ClusterNotDeletingReason),
		},
	}
	if err := cp.Status().Update(ctx, cluster); err != nil {
		return fmt.Errorf("setting status of Cluster %s: %w", w.Cluster, err)
	}
	if err := cp.Create(ctx, kubeconfig.GenerateSecret(cluster, w.Kubeconfig)); err != nil {
		return fmt.Errorf("creating kubeconfig Secret of Cluster %s: %w", w.Cluster, err)
	}
	return nil
}

// startControllers runs kube-controller-manager, kube-scheduler and kwok against this
// workload and creates its fake Nodes; it returns once kwok reports them Ready and the
// controller manager has created the default ServiceAccount.
func (w *Workload) startControllers(ctx context.Context, binDir string) error {
	kc := w.KubeconfigPath
	specs := []struct {
		name string
		args []string
	}{
		{"kube-controller-manager", []string{
			"--kubeconfig=" + kc,
			"--controllers=" + strings.Join(KubeControllerManagerControllers, ","),
			"--leader-elect=false",
			"--use-service-account-credentials=false",
			"--secure-port=0",
			"--concurrent-deployment-syncs=10", "--concurrent-replicaset-syncs=10",
		}},
		{"kube-scheduler", []string{
			"--kubeconfig=" + kc,
			"--leader-elect=false",
			"--secure-port=0",
		}},
		{"kwok", []string{
			"--kubeconfig=" + kc,
			"--manage-all-nodes=false",
			"--manage-nodes-with-annotation-selector=" + FakeNodeAnnotation + "=" + fakeNodeValue,
			"--node-ip=127.0.0.1",
			"--server-address=",
		}},
	}
	for _, s := range specs {
		p, err := startProcess(s.name, filepath.Join(w.logDir, w.Name+"-"+s.name+".log"), filepath.Join(binDir, s.name), s.args...)
		if err != nil {
			return err
		}
		w.mu.Lock()
		w.procs = append(w.procs, p)
		w.mu.Unlock()
	}

	n := w.opts.Nodes
	if n <= 0 {
		n = 1
	}
	for i := range n {
		node := fakeNode(fmt.Sprintf("kwok-%s-%d", w.Name, i))
		if err := w.Client.Create(ctx, node); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating Node %s: %w", node.Name, err)
		}
		w.Nodes = append(w.Nodes, node.Name)
	}

	waitCtx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var lastErr error
	err := wait.PollUntilContextCancel(waitCtx, 200*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		if err := w.CheckProcesses(); err != nil {
			return false, err
		}
		for _, name := range w.Nodes {
			node := &corev1.Node{}
			if err := w.Client.Get(ctx, client.ObjectKey{Name: name}, node); err != nil {
				lastErr = err
				return false, nil
			}
			if !nodeReady(node) {
				lastErr = fmt.Errorf("node %s not Ready (is kwok running? log %s)", name, filepath.Join(w.logDir, w.Name+"-kwok.log"))
				return false, nil
			}
		}
		sa := &corev1.ServiceAccount{}
		if err := w.Client.Get(ctx, client.ObjectKey{Namespace: metav1.NamespaceDefault, Name: "default"}, sa); err != nil {
			lastErr = fmt.Errorf("no default ServiceAccount yet (is kube-controller-manager running? log %s): %w",
				filepath.Join(w.logDir, w.Name+"-kube-controller-manager.log"), err)
			return false, nil
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("controllers of %s not ready: %w (last: %v)", w.Name, err, lastErr)
	}
	return nil
}

func (w *Workload) stopProcesses() error {
	w.mu.Lock()
	procs := w.procs
	w.procs = nil
	w.mu.Unlock()
	var wg sync.WaitGroup
	errs := make([]error, len(procs))
	for i, p := range procs {
		wg.Go(func() { errs[i] = p.stop(10 * time.Second) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// fakeNode returns a Node as kwok's documentation creates them: kwok manages it
// because of the kwok.x-k8s.io/node=fake annotation (heartbeats, Ready condition, and
// Pods bound to it become Running). It has no taint so plain Pods schedule onto it.
func fakeNode(name string) *corev1.Node {
	res := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse("32"),
		corev1.ResourceMemory: resource.MustParse("256Gi"),
		corev1.ResourcePods:   resource.MustParse("110"),
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name: name,
			Annotations: map[string]string{
				FakeNodeAnnotation:             fakeNodeValue,
				"node.alpha.kubernetes.io/ttl": "0",
			},
			Labels: map[string]string{
				"type":                          "kwok",
				"kubernetes.io/hostname":        name,
				"kubernetes.io/os":              "linux",
				"kubernetes.io/arch":            "amd64",
				"kubernetes.io/role":            "agent",
				"node-role.kubernetes.io/agent": "",
			},
		},
		Status: corev1.NodeStatus{
			Capacity:    res,
			Allocatable: res,
			NodeInfo: corev1.NodeSystemInfo{
				Architecture:    "amd64",
				OperatingSystem: "linux",
				KubeletVersion:  "fake",
			},
			Phase: corev1.NodeRunning,
		},
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func writeFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
