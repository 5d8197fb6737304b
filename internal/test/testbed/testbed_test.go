package testbed_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"
	"sigs.k8s.io/cluster-api/util/kubeconfig"
	"sigs.k8s.io/cluster-api/util/secret"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/drover-dev/drover/internal/test/testbed"
)

const regionLabel = "topology.drover.dev/region"

func TestTestbed(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	start := time.Now()
	bed, err := testbed.Start(ctx, testbed.Options{
		Namespace: "fleet",
		Logf:      t.Logf,
		Workloads: []testbed.WorkloadOptions{
			{Name: "eu-1", Labels: map[string]string{regionLabel: "eu"}, Controllers: true},
			{Name: "us-1", Labels: map[string]string{regionLabel: "us"}},
		},
	})
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Logf("test bed started in %s", time.Since(start).Round(time.Millisecond))
	t.Cleanup(func() {
		if t.Failed() {
			bed.KeepLogs()
			t.Logf("process logs kept in %s", bed.LogDir())
		}
		if err := bed.Stop(); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})

	cp := bed.ControlPlane.Client
	if len(bed.Workloads) != 2 || bed.Workload("eu-1") == nil || bed.Workload("us-1") == nil || bed.Workload("nope") != nil {
		t.Fatalf("unexpected workloads: %+v", bed.Workloads)
	}

	t.Run("registered as Cluster API registers clusters", func(t *testing.T) {
		for _, w := range bed.Workloads {
			cluster := &clusterv1.Cluster{}
			if err := cp.Get(ctx, w.Cluster, cluster); err != nil {
				t.Fatalf("Cluster %s: %v", w.Cluster, err)
			}
			if w.Cluster.Namespace != "fleet" || cluster.Labels[regionLabel] != w.Labels[regionLabel] || cluster.Labels[regionLabel] == "" {
				t.Errorf("Cluster %s: namespace/labels %v", w.Cluster, cluster.Labels)
			}
			ep := cluster.Spec.ControlPlaneEndpoint
			if ep.Host != w.Host || int(ep.Port) != w.Port || !ep.IsValid() {
				t.Errorf("Cluster %s: controlPlaneEndpoint %+v, want %s:%d", w.Cluster, ep, w.Host, w.Port)
			}
			if !ptr.Deref(cluster.Status.Initialization.InfrastructureProvisioned, false) ||
				!ptr.Deref(cluster.Status.Initialization.ControlPlaneInitialized, false) {
				t.Errorf("Cluster %s: initialization %+v", w.Cluster, cluster.Status.Initialization)
			}
			if cluster.Status.Phase != string(clusterv1.ClusterPhaseProvisioned) {
				t.Errorf("Cluster %s: phase %q", w.Cluster, cluster.Status.Phase)
			}
			for _, c := range []string{
				clusterv1.ClusterAvailableCondition,
				clusterv1.ClusterInfrastructureReadyCondition,
				clusterv1.ClusterControlPlaneInitializedCondition,
				clusterv1.ClusterControlPlaneAvailableCondition,
				clusterv1.ClusterRemoteConnectionProbeCondition,
			} {
				if !meta.IsStatusConditionTrue(cluster.Status.Conditions, c) {
					t.Errorf("Cluster %s: condition %s not True: %+v", w.Cluster, c, cluster.Status.Conditions)
				}
			}

			s := &corev1.Secret{}
			key := client.ObjectKey{Namespace: w.Cluster.Namespace, Name: secret.Name(w.Cluster.Name, secret.Kubeconfig)}
			if err := cp.Get(ctx, key, s); err != nil {
				t.Fatalf("kubeconfig Secret %s: %v", key, err)
			}
			if s.Type != clusterv1.ClusterSecretType || s.Labels[clusterv1.ClusterNameLabel] != w.Cluster.Name {
				t.Errorf("Secret %s: type %q labels %v", key, s.Type, s.Labels)
			}
			if len(s.OwnerReferences) != 1 || s.OwnerReferences[0].Kind != "Cluster" ||
				s.OwnerReferences[0].UID != cluster.UID || s.OwnerReferences[0].APIVersion != clusterv1.GroupVersion.String() {
				t.Errorf("Secret %s: owner references %+v", key, s.OwnerReferences)
			}

			// Read it the way Cluster API's clustercache does, and use it.
			data, err := kubeconfig.FromSecret(ctx, cp, w.Cluster)
			if err != nil {
				t.Fatalf("kubeconfig.FromSecret(%s): %v", w.Cluster, err)
			}
			c := clientFromKubeconfig(t, data, bed)
			ns := &corev1.Namespace{}
			if err := c.Get(ctx, client.ObjectKey{Name: "kube-system"}, ns); err != nil {
				t.Errorf("client from Secret of %s: %v", w.Cluster, err)
			}
			// Each workload is its own API: a marker in one is absent from the other.
			cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "marker-" + w.Name}}
			if err := c.Create(ctx, cm); err != nil {
				t.Errorf("creating marker in %s: %v", w.Name, err)
			}
		}
		for _, w := range bed.Workloads {
			for _, other := range bed.Workloads {
				err := w.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "marker-" + other.Name}, &corev1.ConfigMap{})
				if (other == w) != (err == nil) {
					t.Errorf("marker of %s in %s: err=%v", other.Name, w.Name, err)
				}
			}
		}
	})

	eu := bed.Workload("eu-1")
	t.Run("Deployment becomes Available", func(t *testing.T) {
		dep := deployment("web", 2)
		if err := eu.Client.Create(ctx, dep); err != nil {
			t.Fatal(err)
		}
		waitAvailable(ctx, t, eu, dep, 2, 60*time.Second)
		pods := &corev1.PodList{}
		if err := eu.Client.List(ctx, pods, client.InNamespace("default"), client.MatchingLabels{"app": "web"}); err != nil {
			t.Fatal(err)
		}
		for _, p := range pods.Items {
			if p.Spec.NodeName == "" || p.Status.Phase != corev1.PodRunning {
				t.Errorf("pod %s: node %q phase %q", p.Name, p.Spec.NodeName, p.Status.Phase)
			}
		}
	})

	t.Run("losing and regaining the API server", func(t *testing.T) {
		us := bed.Workload("us-1")
		cm := &corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "before-outage"},
			Data:       map[string]string{"k": "v"},
		}
		if err := us.Client.Create(ctx, cm); err != nil {
			t.Fatal(err)
		}
		data, err := kubeconfig.FromSecret(ctx, cp, us.Cluster)
		if err != nil {
			t.Fatal(err)
		}
		fromSecret := clientFromKubeconfig(t, data, bed)

		for _, w := range []*testbed.Workload{us, eu} {
			stopStart := time.Now()
			if err := w.StopAPIServer(); err != nil {
				t.Fatalf("StopAPIServer(%s): %v", w.Name, err)
			}
			t.Logf("StopAPIServer(%s) took %s", w.Name, time.Since(stopStart).Round(time.Millisecond))
		}
		shortCtx, cancelShort := context.WithTimeout(ctx, 5*time.Second)
		err = fromSecret.Get(shortCtx, client.ObjectKeyFromObject(cm), &corev1.ConfigMap{})
		cancelShort()
		if err == nil {
			t.Fatal("request to a stopped kube-apiserver succeeded")
		}
		t.Logf("while stopped: %v", err)
		// The control plane is unaffected.
		if err := cp.Get(ctx, us.Cluster, &clusterv1.Cluster{}); err != nil {
			t.Errorf("control plane while a workload is down: %v", err)
		}

		for _, w := range []*testbed.Workload{us, eu} {
			startStart := time.Now()
			if err := w.StartAPIServer(); err != nil {
				t.Fatalf("StartAPIServer(%s): %v", w.Name, err)
			}
			t.Logf("StartAPIServer(%s) took %s", w.Name, time.Since(startStart).Round(time.Millisecond))
		}
		if err := us.StartAPIServer(); err == nil {
			t.Error("StartAPIServer on a running kube-apiserver succeeded")
		}
		got := &corev1.ConfigMap{}
		if err := fromSecret.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
			t.Fatalf("after restart, with the kubeconfig from the Secret: %v", err)
		}
		if got.Data["k"] != "v" {
			t.Errorf("data after restart: %v", got.Data)
		}
		if err := us.RestartAPIServer(); err != nil {
			t.Fatalf("RestartAPIServer: %v", err)
		}
		if err := us.Client.Get(ctx, client.ObjectKeyFromObject(cm), got); err != nil {
			t.Fatalf("after RestartAPIServer: %v", err)
		}

		// The controllers survived the outage: scaling still rolls out.
		if err := eu.CheckProcesses(); err != nil {
			t.Fatal(err)
		}
		dep := &appsv1.Deployment{}
		if err := eu.Client.Get(ctx, client.ObjectKey{Namespace: "default", Name: "web"}, dep); err != nil {
			t.Fatal(err)
		}
		dep.Spec.Replicas = ptr.To[int32](3)
		if err := eu.Client.Update(ctx, dep); err != nil {
			t.Fatal(err)
		}
		waitAvailable(ctx, t, eu, dep, 3, 90*time.Second)
	})

	t.Run("control plane kubeconfig", func(t *testing.T) {
		path := t.TempDir() + "/cp.kubeconfig"
		if err := bed.WriteControlPlaneKubeconfig(path); err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.BuildConfigFromFlags("", path)
		if err != nil {
			t.Fatal(err)
		}
		c, err := client.New(cfg, client.Options{Scheme: bed.Scheme})
		if err != nil {
			t.Fatal(err)
		}
		list := &clusterv1.ClusterList{}
		if err := c.List(ctx, list, client.InNamespace(bed.Namespace)); err != nil {
			t.Fatal(err)
		}
		if len(list.Items) != 2 {
			t.Errorf("clusters: %d", len(list.Items))
		}
	})
}

func clientFromKubeconfig(t *testing.T, data []byte, bed *testbed.Testbed) client.Client {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(data)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: bed.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func deployment(name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.example/app:1"}}},
			},
		},
	}
}

func waitAvailable(ctx context.Context, t *testing.T, w *testbed.Workload, dep *appsv1.Deployment, replicas int32, timeout time.Duration) {
	t.Helper()
	start := time.Now()
	var last appsv1.DeploymentStatus
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		d := &appsv1.Deployment{}
		if err := w.Client.Get(ctx, client.ObjectKeyFromObject(dep), d); err != nil {
			return false, nil
		}
		last = d.Status
		return d.Status.ObservedGeneration == d.Generation && d.Status.AvailableReplicas == replicas &&
			d.Status.UpdatedReplicas == replicas && d.Status.Replicas == replicas, nil
	})
	if err != nil {
		var conds []string
		for _, c := range last.Conditions {
			conds = append(conds, fmt.Sprintf("%s=%s(%s)", c.Type, c.Status, c.Message))
		}
		var pods []string
		list := &corev1.PodList{}
		_ = w.Client.List(ctx, list, client.InNamespace(dep.Namespace))
		for _, p := range list.Items {
			pods = append(pods, fmt.Sprintf("%s node=%q phase=%s conditions=%+v", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions))
		}
		t.Fatalf("Deployment %s not Available with %d replicas after %s: %+v [%s]; processes: %v; pods:\n%s",
			dep.Name, replicas, timeout, last, strings.Join(conds, " "), w.CheckProcesses(), strings.Join(pods, "\n"))
	}
	t.Logf("Deployment %s: %d replicas available after %s", dep.Name, replicas, time.Since(start).Round(time.Millisecond))
}
