package packaging

import (
	"reflect"
	"testing"

	networkingv1 "k8s.io/api/networking/v1"
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
		networkPolicy:  true,
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
		networkPolicy:  true,
	})
}

// The default NetworkPolicy: metrics from namespaces labelled metrics=enabled, probes
// from anyone, ingress only, egress open.
func TestChartNetworkPolicy(t *testing.T) {
	np := convert[networkingv1.NetworkPolicy](t, mustRenderChart(t, "").get(t, "NetworkPolicy", "drover-manager"))
	if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) || np.Spec.Egress != nil {
		t.Errorf("policyTypes %v, egress %v; want Ingress only, egress open", np.Spec.PolicyTypes, np.Spec.Egress)
	}
	if len(np.Spec.Ingress) != 2 {
		t.Fatalf("ingress rules %+v; want metrics and probes", np.Spec.Ingress)
	}
	metrics, probes := np.Spec.Ingress[0], np.Spec.Ingress[1]
	if metrics.Ports[0].Port.IntValue() != 8443 || len(metrics.From) != 1 || metrics.From[0].NamespaceSelector == nil ||
		!reflect.DeepEqual(metrics.From[0].NamespaceSelector.MatchLabels, map[string]string{"metrics": "enabled"}) || metrics.From[0].PodSelector != nil {
		t.Errorf("metrics rule %+v; want port 8443 from namespaces labelled metrics=enabled", metrics)
	}
	if probes.Ports[0].Port.IntValue() != 8081 || len(probes.From) != 0 {
		t.Errorf("probes rule %+v; want port 8081 from anyone (the kubelet is not a pod)", probes)
	}

	// Restricted egress, a narrower Runtime Extension and other metrics peers.
	in := mustRenderChart(t, `
runtimeExtension: {enabled: true, clientAuth: {caSecret: capi-ca}}
networkPolicy:
  metrics:
    from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: monitoring}}, podSelector: {matchLabels: {app: prometheus}}}]
  runtimeExtension:
    from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: capi-system}}}]
  egress:
    restrict: true
    rules:
    - ports: [{port: 53, protocol: UDP}]
    - to: [{ipBlock: {cidr: 10.0.0.0/8}}]
`)
	checkInstall(t, in, want{
		namespace:        helmNamespace,
		runtimeExtension: true,
		clientCASecret:   "capi-ca",
		crdExtraAnnots:   helmCRDAnnotations,
		networkPolicy:    true,
	})
	np = convert[networkingv1.NetworkPolicy](t, in.get(t, "NetworkPolicy", "drover-manager"))
	if !reflect.DeepEqual(np.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}) || len(np.Spec.Egress) != 2 {
		t.Errorf("policyTypes %v, egress %+v; want Ingress and Egress with the two rules", np.Spec.PolicyTypes, np.Spec.Egress)
	}
	if len(np.Spec.Ingress) != 3 || np.Spec.Ingress[2].Ports[0].Port.IntValue() != 9443 ||
		len(np.Spec.Ingress[2].From) != 1 || np.Spec.Ingress[2].From[0].NamespaceSelector.MatchLabels["kubernetes.io/metadata.name"] != "capi-system" {
		t.Errorf("ingress %+v; want the Runtime Extension's port 9443 from capi-system", np.Spec.Ingress)
	}
	if p := np.Spec.Ingress[0].From[0].PodSelector; p == nil || p.MatchLabels["app"] != "prometheus" {
		t.Errorf("metrics peers %+v; want the values'", np.Spec.Ingress[0].From)
	}

	if got := mustRenderChart(t, "networkPolicy: {enabled: false}").ofKind("NetworkPolicy"); len(got) != 0 {
		t.Errorf("networkPolicy.enabled=false rendered %d NetworkPolicies", len(got))
	}
	if _, err := renderChart(t, "networkPolicy: {metrics: {from: anyone}}"); err == nil {
		t.Error("networkPolicy.metrics.from that is not a list rendered")
	}
}
