package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/setup"
	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/test/clouds/awstest"
	"github.com/drover-dev/drover/internal/test/testbed"
)

// regionLabel is the topology label the workload clusters carry.
const regionLabel = "topology.drover.dev/region"

// poolLabel selects the clusters of the sample ProdSet.
const poolLabel = "drover.dev/pool"

// workloads are the sandbox's workload clusters, all in the sample ProdSet's pool. All
// run controllers and kwok nodes, so the Deployments of the Prods roll out and become
// Available.
var workloads = []testbed.WorkloadOptions{
	{Name: "workload-1", Labels: map[string]string{regionLabel: "eu", poolLabel: "shop"}, Controllers: true},
	{Name: "workload-2", Labels: map[string]string{regionLabel: "eu", poolLabel: "shop"}, Controllers: true},
	{Name: "workload-3", Labels: map[string]string{regionLabel: "us", poolLabel: "shop"}, Controllers: true},
}

// startTestbed starts the control plane with drover's CRDs and the workload clusters.
// The first run on a machine builds the Kubernetes binaries first (progress on stderr).
func startTestbed(ctx context.Context, cfg config) (*testbed.Testbed, error) {
	fmt.Printf("starting the test bed: a control plane and %d workload clusters (the first run builds the Kubernetes binaries; minutes)\n", len(workloads))
	bed, err := testbed.Start(ctx, testbed.Options{
		CRDDirectoryPaths: []string{filepath.Join(cfg.root, "config", "crd", "bases")},
		Workloads:         workloads,
		Scheme:            setup.Scheme(),
		LogDir:            cfg.logDir,
		Logf:              func(format string, args ...any) { fmt.Printf("  "+format+"\n", args...) },
		Progress:          os.Stderr,
	})
	if err != nil {
		if ctx.Err() != nil {
			fmt.Println("test bed start interrupted; it stopped what it had started")
		}
		return nil, fmt.Errorf("starting the test bed: %w", err)
	}
	return bed, nil
}

// stopTestbed stops every process of the test bed and removes its data; the logs in
// .sandbox/logs stay.
func stopTestbed(bed *testbed.Testbed) {
	fmt.Println("stopping the test bed...")
	start := time.Now()
	if err := bed.Stop(); err != nil {
		fmt.Fprintf(os.Stderr, "sandbox: stopping the test bed: %v (logs: %s)\n", err, bed.LogDir())
		return
	}
	fmt.Printf("test bed stopped after %s; its logs are in %s\n", time.Since(start).Round(time.Millisecond), bed.LogDir())
}

// writeKubeconfigs writes the control-plane kubeconfig to cfg.kubeconfigOut and each
// workload's to .sandbox/<name>.kubeconfig, replacing those of an earlier run.
func writeKubeconfigs(bed *testbed.Testbed, cfg config) error {
	if err := bed.WriteControlPlaneKubeconfig(cfg.kubeconfigOut); err != nil {
		return fmt.Errorf("writing the control-plane kubeconfig: %w", err)
	}
	for _, w := range bed.Workloads {
		if err := os.WriteFile(workloadKubeconfig(cfg, w.Name), w.Kubeconfig, 0o600); err != nil {
			return fmt.Errorf("writing the kubeconfig of %s: %w", w.Name, err)
		}
	}
	return nil
}

// workloadKubeconfig is where the kubeconfig of workload cluster name goes.
func workloadKubeconfig(cfg config, name string) string {
	return filepath.Join(cfg.sandboxDir, name+".kubeconfig")
}

// printInstructions tells the user where everything is and how to follow along.
func printInstructions(sb *sandbox) {
	bed, cfg, c := sb.bed, sb.cfg, sb.clouds
	fmt.Printf("\ncontrol plane: %s\n", bed.ControlPlane.URL())
	for _, w := range bed.Workloads {
		fmt.Printf("%s:    %s (%s)\n", w.Name, w.URL(), labelString(w.Labels))
	}
	fmt.Printf("AWS (moto):    %s (ELBv2, Route53; region %s, any credentials)\n", c.Moto.Endpoint(), awstest.Region)
	for _, name := range sortedKeys(c.Zones) {
		fmt.Printf("hosted zone:   %s (%s)\n", name, c.Zones[name])
	}
	fmt.Printf("Octavia:       %s (no auth: send X-Project-Id: %s and X-Roles: admin)\n", c.Octavia.Endpoint(), cloudbed.OctaviaProject)
	fmt.Printf("test bed data: %s\n", filepath.Dir(filepath.Dir(bed.Workloads[0].KubeconfigPath)))
	fmt.Printf("process logs:  %s (manager.log, <cluster>-<binary>.log, moto.log, %s/<program>.log)\n", cfg.logDir, relOr(cfg.logDir, c.Octavia.Dir()))
	fmt.Printf("\nfollow along in another shell:\n\n")
	fmt.Printf("  export KUBECONFIG=%s\n", cfg.kubeconfigOut)
	fmt.Printf("  %s dashboard   # a live page in the browser: traffic, rollouts, releases, clusters\n", filepath.Join(cfg.root, "bin", "kubectl-drover"))
	fmt.Printf("  kubectl get prods -A\n")
	fmt.Printf("  kubectl get clusters -A\n")
	fmt.Printf("  kubectl get prodsets,rolloutpolicies,clustermaintenances -A\n")
	if t := sb.tenancy.Tenant; t != nil {
		fmt.Printf("  kubectl get tenant %s -o yaml\n", t.GetName())
		fmt.Printf("  kubectl get namespaces -L %s\n", droverv1.TenantLabel)
	}
	var namespace string
	for _, o := range sb.applied {
		if o.GetKind() != "ProdSet" {
			continue
		}
		namespace = o.GetNamespace()
		ns, _, _ := unstructured.NestedString(o.Object, "spec", "template", "spec", "targetNamespace")
		fmt.Printf("  kubectl describe prodset -n %s %s\n", o.GetNamespace(), o.GetName())
		if ns != "" {
			fmt.Printf("  kubectl --kubeconfig %s -n %s get deploy,pods,svc,endpointslices\n", workloadKubeconfig(cfg, bed.Workloads[0].Name), ns)
		}
	}
	fmt.Printf("  curl -s -H 'X-Project-Id: %s' -H 'X-Roles: admin' %sv2.0/lbaas/loadbalancers\n", cloudbed.OctaviaProject, c.Octavia.Endpoint())
	if namespace != "" {
		fmt.Printf("\nfail the Octavia load balancer of the Prod on %s (Route53 sends its traffic to its NLB), then repair it:\n\n", bed.Workloads[0].Name)
		sel := fmt.Sprintf("-n %s -l %s=%s", namespace, droverv1.ClusterNameLabel, bed.Workloads[0].Name)
		fmt.Printf("  kubectl annotate prods %s %s=ERROR\n", sel, cloudbed.OperatingStatusAnnotation)
		fmt.Printf("  kubectl annotate prods %s %s-\n", sel, cloudbed.OperatingStatusAnnotation)
	}
	for _, o := range sb.skipped {
		if o.GetKind() == "ClusterMaintenance" {
			fmt.Printf("\ndrain a cluster (see docs/platform-team-guide.md; its Prods' weights go to 0), then put it back:\n\n")
			fmt.Printf("  kubectl apply -f %s\n", filepath.Join(cfg.samplesDir, "drover_v1alpha1_clustermaintenance.yaml"))
			fmt.Printf("  kubectl get clustermaintenances -w\n")
			fmt.Printf("  kubectl delete clustermaintenance -n %s %s\n", o.GetNamespace(), o.GetName())
		}
	}
	fmt.Println()
}

// relOr is path relative to base when it is below it, else path.
func relOr(base, path string) string {
	if rel, err := filepath.Rel(base, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
}

// sortedKeys returns m's keys in order.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// labelString renders labels as k=v,k=v in key order.
func labelString(labels map[string]string) string {
	parts := make([]string, 0, len(labels))
	for k, v := range labels {
		parts = append(parts, k+"="+v)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
