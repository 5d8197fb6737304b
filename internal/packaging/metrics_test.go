package packaging

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// The ServiceMonitor scrapes over HTTPS with Prometheus' token; metrics.readers are
// bound to metrics-reader; a certSecret is mounted where --metrics-cert-path reads it.
func TestChartMetricsSecure(t *testing.T) {
	in := mustRenderChart(t, `
metrics:
  certSecret: drover-metrics-cert
  readers:
  - {kind: ServiceAccount, name: prometheus-k8s, namespace: monitoring}
  - {kind: Group, name: sre}
  serviceMonitor:
    enabled: true
    tlsConfig:
      ca: {secret: {name: drover-metrics-cert, key: ca.crt}}
      serverName: drover-manager-metrics.drover-ops.svc
`)
	m := checkInstall(t, in, want{
		namespace:      helmNamespace,
		args:           map[string]string{"metrics-secure": "true", "metrics-cert-path": "/var/run/drover/metrics"},
		serviceMonitor: true,
		crdExtraAnnots: helmCRDAnnotations,
	})
	mounted := false
	for _, vm := range m.container.VolumeMounts {
		for _, v := range m.deploy.Spec.Template.Spec.Volumes {
			mounted = mounted || v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName == "drover-metrics-cert" &&
				vm.MountPath == m.flags["metrics-cert-path"] && vm.ReadOnly
		}
	}
	if !mounted {
		t.Errorf("Secret drover-metrics-cert is not mounted read-only at --metrics-cert-path: %+v", m.container.VolumeMounts)
	}
	b := convert[rbacv1.ClusterRoleBinding](t, in.get(t, "ClusterRoleBinding", "drover-metrics-reader"))
	wantSubjects := []rbacv1.Subject{
		{Kind: "ServiceAccount", Name: "prometheus-k8s", Namespace: "monitoring"},
		{Kind: "Group", Name: "sre", APIGroup: "rbac.authorization.k8s.io"},
	}
	if b.RoleRef.Name != "drover-metrics-reader" || !reflect.DeepEqual(b.Subjects, wantSubjects) {
		t.Errorf("ClusterRoleBinding drover-metrics-reader binds %s to %+v; want drover-metrics-reader to %+v", b.RoleRef.Name, b.Subjects, wantSubjects)
	}
	eps, _, _ := unstructured.NestedSlice(in.get(t, "ServiceMonitor", "drover-manager").Object, "spec", "endpoints")
	ep := eps[0].(map[string]any)
	if ep["bearerTokenFile"] != "/var/run/secrets/kubernetes.io/serviceaccount/token" {
		t.Errorf("ServiceMonitor bearerTokenFile %v", ep["bearerTokenFile"])
	}
	if tc, _ := ep["tlsConfig"].(map[string]any); tc["serverName"] != "drover-manager-metrics.drover-ops.svc" || tc["insecureSkipVerify"] != nil {
		t.Errorf("ServiceMonitor tlsConfig %v; want the values' (a CA and serverName, no insecureSkipVerify)", tc)
	}

	// By default nobody is bound; the ServiceMonitor skips verifying the self-signed certificate.
	in = mustRenderChart(t, "metrics: {serviceMonitor: {enabled: true}}")
	if got := in.ofKind("ClusterRoleBinding"); len(got) != 1 {
		t.Errorf("%d ClusterRoleBindings by default; want the manager's only", len(got))
	}
	eps, _, _ = unstructured.NestedSlice(in.get(t, "ServiceMonitor", "drover-manager").Object, "spec", "endpoints")
	if tc, _ := eps[0].(map[string]any)["tlsConfig"].(map[string]any); tc["insecureSkipVerify"] != true {
		t.Errorf("default ServiceMonitor tlsConfig %v", tc)
	}

	if _, err := renderChart(t, "metrics: {readers: [{kind: ServiceAccount, name: prometheus}]}"); err == nil {
		t.Error("a reader ServiceAccount without a namespace rendered")
	}
}

// metrics.secure=false is plain HTTP for local clusters: the flag and the ServiceMonitor agree.
func TestChartMetricsInsecure(t *testing.T) {
	in := mustRenderChart(t, "metrics: {secure: false, serviceMonitor: {enabled: true}}")
	checkInstall(t, in, want{
		namespace:      helmNamespace,
		args:           map[string]string{"metrics-secure": "false"},
		serviceMonitor: true,
		crdExtraAnnots: helmCRDAnnotations,
	})
}
