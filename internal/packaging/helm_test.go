package packaging

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const helmNamespace = "drover-ops"

// renderChart renders charts/drover as `helm install drover charts/drover -n
// drover-ops -f values` would (see RenderChart).
func renderChart(t *testing.T, values string) (install, error) {
	t.Helper()
	var user map[string]any
	if err := yaml.Unmarshal([]byte(values), &user); err != nil {
		t.Fatalf("test values: %v", err)
	}
	docs, err := RenderChart(filepath.Join(repoRoot(t), "charts", "drover"), "drover", helmNamespace, user)
	if err != nil {
		return install{}, err
	}
	return parseObjects(t, docs), nil
}

func mustRenderChart(t *testing.T, values string) install {
	t.Helper()
	in, err := renderChart(t, values)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return in
}

var helmCRDAnnotations = []string{"helm.sh/resource-policy"}

func TestChartDefaults(t *testing.T) {
	in := mustRenderChart(t, "")
	m := checkInstall(t, in, want{
		namespace: helmNamespace,
		args: map[string]string{
			"traffic-provider": "none", "leader-elect": "true",
			"metrics-bind-address": ":8443", "metrics-secure": "true", "health-probe-bind-address": ":8081",
		},
		crdExtraAnnots: helmCRDAnnotations,
		networkPolicy:  true,
	})
	if got, want := in.summary(), strings.Join([]string{
		"ClusterRole/drover-manager-role", "ClusterRole/drover-metrics-reader", "ClusterRole/drover-release-finalizers", "ClusterRole/drover-releasediffs", "ClusterRoleBinding/drover-manager-rolebinding",
		"CustomResourceDefinition/analysistemplates.drover.dev", "CustomResourceDefinition/clusteranalysistemplates.drover.dev", "CustomResourceDefinition/clusterfreezes.drover.dev",
		"CustomResourceDefinition/clustermaintenances.drover.dev", "CustomResourceDefinition/freezes.drover.dev", "CustomResourceDefinition/notifiers.drover.dev", "CustomResourceDefinition/prods.drover.dev",
		"CustomResourceDefinition/prodsets.drover.dev", "CustomResourceDefinition/releasediffs.drover.dev", "CustomResourceDefinition/releases.drover.dev", "CustomResourceDefinition/rolloutpolicies.drover.dev",
		"CustomResourceDefinition/tenants.drover.dev",
		"Deployment/drover-manager", "NetworkPolicy/drover-manager", "Role/drover-leader-election-role", "RoleBinding/drover-leader-election-rolebinding",
		"Service/drover-manager-metrics", "ServiceAccount/drover-manager",
		"ValidatingAdmissionPolicy/drover-defaults",
		"ValidatingAdmissionPolicy/drover-own-namespace-clusters", "ValidatingAdmissionPolicy/drover-release-finalizers",
		"ValidatingAdmissionPolicy/drover-tenant-label-needs-a-tenant",
		"ValidatingAdmissionPolicy/drover-tenant-prods", "ValidatingAdmissionPolicy/drover-tenant-prodsets",
		"ValidatingAdmissionPolicyBinding/drover-defaults",
		"ValidatingAdmissionPolicyBinding/drover-own-namespace-clusters", "ValidatingAdmissionPolicyBinding/drover-release-finalizers",
		"ValidatingAdmissionPolicyBinding/drover-tenant-label-needs-a-tenant",
		"ValidatingAdmissionPolicyBinding/drover-tenant-prods", "ValidatingAdmissionPolicyBinding/drover-tenant-prodsets",
	}, " "); got != want {
		t.Errorf("objects:\n got %s\nwant %s", got, want)
	}
	if img := m.container.Image; img != "registry.example/drover/manager:v0.1.0" {
		t.Errorf("image %s; want the chart's appVersion as tag", img)
	}
	for _, f := range []string{"aws-region", "nlb-vpc-id", "os-cloud", "octavia-endpoint", "runtime-extension-port", "prometheus-address", "metrics-cert-path", "pprof"} {
		if _, ok := m.flags[f]; ok {
			t.Errorf("--%s is set by default", f)
		}
	}
	if len(m.container.EnvFrom) > 0 || len(m.deploy.Spec.Template.Spec.Volumes) > 0 {
		t.Errorf("default install has envFrom %v or volumes %v", m.container.EnvFrom, m.deploy.Spec.Template.Spec.Volumes)
	}
}

const productionValues = `
image:
  tag: v1.2.3
replicaCount: 2
ownerID: drover-prod-eu
traffic:
  provider: route53
tenancy:
  defaults:
    gateNetworks: [10.20.0.0/16, 10.30.0.0/16]
    octaviaProjects: [3f1e7c2a9b8d4e6f8a0b1c2d3e4f5a6b]
prometheusAddress: http://prometheus-operated.monitoring:9090
pprof: 127.0.0.1:6060
aws:
  region: eu-west-1
  irsaRoleARN: arn:aws:iam::123456789012:role/drover-manager
mirror:
  nlb:
    vpcID: vpc-0123456789abcdef0
    subnets: [subnet-a, subnet-b]
    scheme: internal
  pollInterval: 45s
openstack:
  cloudsSecret: drover-openstack-clouds
  cloud: private
runtimeExtension:
  enabled: true
  surge: true
  clientAuth:
    caSecret: capi-client-ca
    allowedNames: [capi-controller-manager]
metrics:
  serviceMonitor:
    enabled: true
    labels:
      release: prometheus
podDisruptionBudget:
  enabled: true
leaderElection:
  leaseDuration: 30s
logLevel: debug
extraArgs:
- --prod-concurrency=20
`

func TestChartProduction(t *testing.T) {
	in := mustRenderChart(t, productionValues)
	m := checkInstall(t, in, want{
		namespace: helmNamespace,
		args: map[string]string{
			"traffic-provider": "route53", "owner-id": "drover-prod-eu", "aws-region": "eu-west-1",
			"nlb-vpc-id": "vpc-0123456789abcdef0", "nlb-subnets": "subnet-a,subnet-b", "nlb-scheme": "internal",
			"mirror-poll-interval": "45s", "os-cloud": "private",
			"gate-networks": "10.20.0.0/16,10.30.0.0/16", "default-octavia-projects": "3f1e7c2a9b8d4e6f8a0b1c2d3e4f5a6b",
			"prometheus-address":                   "http://prometheus-operated.monitoring:9090",
			"pprof":                                "127.0.0.1:6060",
			"runtime-extension-port":               "9443",
			"runtime-extension-surge":              "true",
			"runtime-extension-client-names":       "capi-controller-manager",
			"runtime-extension-namespace-selector": `{"matchLabels":{"drover.dev/upgrade-hooks":"enabled"}}`,
			"leader-elect-lease-duration":          "30s", "zap-log-level": "debug", "prod-concurrency": "20",
		},
		runtimeExtension: true,
		clientCASecret:   "capi-client-ca",
		serviceMonitor:   true,
		crdExtraAnnots:   helmCRDAnnotations,
		networkPolicy:    true,
	})
	if m.container.Image != "registry.example/drover/manager:v1.2.3" {
		t.Errorf("image %s", m.container.Image)
	}
	if r := m.deploy.Spec.Replicas; r == nil || *r != 2 {
		t.Errorf("replicas %v; want 2", r)
	}
	sa := in.get(t, "ServiceAccount", "drover-manager")
	if got := sa.GetAnnotations()["eks.amazonaws.com/role-arn"]; got != "arn:aws:iam::123456789012:role/drover-manager" {
		t.Errorf("ServiceAccount role-arn annotation %q", got)
	}
	// clouds.yaml from the Secret, where the OpenStack clients look.
	mounted := false
	for _, vm := range m.container.VolumeMounts {
		for _, v := range m.deploy.Spec.Template.Spec.Volumes {
			if v.Name == vm.Name && v.Secret != nil && v.Secret.SecretName == "drover-openstack-clouds" && vm.MountPath == "/etc/openstack" && vm.ReadOnly {
				mounted = true
			}
		}
	}
	if !mounted {
		t.Errorf("Secret drover-openstack-clouds is not mounted read-only at /etc/openstack: %+v", m.container.VolumeMounts)
	}
	sm := in.get(t, "ServiceMonitor", "drover-manager")
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels %v lack release: prometheus", sm.GetLabels())
	}
	pdb := in.get(t, "PodDisruptionBudget", "drover-manager")
	if mu, _, _ := unstructuredInt(pdb.Object, "spec", "maxUnavailable"); mu != 1 {
		t.Errorf("PodDisruptionBudget maxUnavailable %d; want 1", mu)
	}
	in.get(t, "Issuer", "drover-selfsigned")
	in.get(t, "ExtensionConfig", "drover")
}

func TestChartAWSCredentialsSecretAndNoauthOctavia(t *testing.T) {
	in := mustRenderChart(t, `
traffic: {provider: route53}
ownerID: drover-test
aws:
  credentialsSecret: drover-aws-credentials
  endpoints: {route53: "http://moto.test:5000", elbv2: "http://moto.test:5000"}
openstack:
  octaviaEndpoint: http://octavia.test:9876
  octaviaProjectID: p1
  cloud: ignored-with-an-endpoint
runtimeExtension:
  enabled: true
  certificate:
    certManager: {enabled: false}
    existingSecret: my-tls
  clientAuth: {caSecret: capi-ca, caKey: bundle.pem}
  extensionConfig:
    namespaceSelector: null
crds: {install: false}
admissionPolicies: {enabled: false}
`)
	m := checkInstall(t, in, want{
		namespace: helmNamespace,
		args: map[string]string{
			"aws-route53-endpoint": "http://moto.test:5000", "aws-elbv2-endpoint": "http://moto.test:5000",
			"octavia-endpoint": "http://octavia.test:9876", "octavia-project-id": "p1",
			"runtime-extension-namespace-selector": "{}", // every namespace, as the ExtensionConfig without a selector
		},
		runtimeExtension: true,
		clientCASecret:   "capi-ca",
		withoutCRDs:      true,
		withoutAdmission: true,
		certSecret:       "my-tls",
		networkPolicy:    true,
	})
	if _, ok := m.flags["os-cloud"]; ok {
		t.Error("--os-cloud is set beside --octavia-endpoint")
	}
	if len(m.container.EnvFrom) != 1 || m.container.EnvFrom[0].SecretRef == nil || m.container.EnvFrom[0].SecretRef.Name != "drover-aws-credentials" {
		t.Errorf("envFrom %+v; want the Secret drover-aws-credentials", m.container.EnvFrom)
	}
	if len(in.ofKind("Certificate")) != 0 || len(in.ofKind("CustomResourceDefinition")) != 0 {
		t.Errorf("a Certificate or CRDs rendered: %s", in.summary())
	}
}

// Single-team mode is one value, and off unless asked for.
func TestChartSingleTeam(t *testing.T) {
	for values, want := range map[string]bool{"": false, "tenancy: {singleTeam: false}": false, "tenancy: {singleTeam: true}": true} {
		in := mustRenderChart(t, values)
		deploy := in.get(t, "Deployment", "drover-manager")
		containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
		args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
		if got := slices.Contains(args, "--single-team"); got != want {
			t.Errorf("values %q: --single-team in the args is %t, want %t (%v)", values, got, want, args)
		}
	}
	if _, err := renderChart(t, "tenancy: {singleTeam: yes-please}"); err == nil {
		t.Error("a singleTeam that is not a boolean rendered")
	}
}

// Single-team mode leaves out the tenancy admission policies and their bindings (those
// of config/admission labelled drover.dev/tenancy=true): they would refuse at admission
// what the manager then allows, such as a Prod naming a Cluster of another namespace.
// The others (drover-release-finalizers) stay.
func TestChartSingleTeamLeavesOutTheTenancyPolicies(t *testing.T) {
	root := repoRoot(t)
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	readObject(t, filepath.Join(root, "config", "admission", "kustomization.yaml"), &kustomization)
	tenancy := map[string]bool{} // kind/name → labelled as a tenancy policy
	for _, f := range kustomization.Resources {
		var m map[string]any
		readObject(t, filepath.Join(root, "config", "admission", f), &m)
		u := &unstructured.Unstructured{Object: m}
		tenancy[u.GetKind()+"/"+u.GetName()] = u.GetLabels()["drover.dev/tenancy"] == "true"
	}
	// Each policy, and its binding alike, is labelled for what it checks.
	for name, want := range map[string]bool{
		"drover-own-namespace-clusters":      true,
		"drover-defaults":                    true,
		"drover-tenant-prods":                true,
		"drover-tenant-prodsets":             true,
		"drover-tenant-label-needs-a-tenant": true,
		"drover-release-finalizers":          false,
	} {
		for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
			if got, ok := tenancy[kind+"/"+name]; !ok || got != want {
				t.Errorf("%s/%s: in config/admission %t, labelled drover.dev/tenancy=true %t; want labelled %t", kind, name, ok, got, want)
			}
		}
	}
	for values, singleTeam := range map[string]bool{
		"":                             false,
		"tenancy: {singleTeam: false}": false,
		"tenancy: {singleTeam: true}":  true,
	} {
		in := mustRenderChart(t, values)
		rendered := map[string]bool{}
		for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
			for _, o := range in.ofKind(kind) {
				rendered[kind+"/"+o.GetName()] = true
			}
		}
		for key, isTenancy := range tenancy {
			if want := !singleTeam || !isTenancy; rendered[key] != want {
				t.Errorf("values %q: %s rendered %t, want %t", values, key, rendered[key], want)
			}
		}
		if len(rendered) > len(tenancy) {
			t.Errorf("values %q: %d admission objects rendered, config/admission has %d", values, len(rendered), len(tenancy))
		}
	}
	// admissionPolicies.enabled: false leaves out all of them, in either mode.
	for _, values := range []string{"admissionPolicies: {enabled: false}", "{admissionPolicies: {enabled: false}, tenancy: {singleTeam: true}}"} {
		in := mustRenderChart(t, values)
		if n := len(in.ofKind("ValidatingAdmissionPolicy")) + len(in.ofKind("ValidatingAdmissionPolicyBinding")); n != 0 {
			t.Errorf("values %q: %d admission objects rendered, want none", values, n)
		}
	}
}

func TestChartRefusesBadValues(t *testing.T) {
	for name, values := range map[string]string{
		"unknown provider":           "traffic: {provider: dns}",
		"NLB without subnets":        "mirror: {nlb: {vpcID: vpc-1}}",
		"bad NLB scheme":             "mirror: {nlb: {vpcID: vpc-1, subnets: [s], scheme: public}}",
		"unknown value":              "trafficProvider: route53",
		"bad duration":               "leaderElection: {leaseDuration: fifteen}",
		"no cert for the hooks":      "runtimeExtension: {enabled: true, certificate: {certManager: {enabled: false}}, clientAuth: {caSecret: ca}}",
		"no client CA for the hooks": "runtimeExtension: {enabled: true}",
		"route53 without an owner":   "traffic: {provider: route53}",
		"NLBs without an owner":      "mirror: {nlb: {vpcID: vpc-1, subnets: [s]}}",
		"an owner with a slash":      `ownerID: "drover/eu"`,
		"an owner too long":          `ownerID: "drover-this-installation-is-far-too-long"`,
	} {
		t.Run(name, func(t *testing.T) {
			in, err := renderChart(t, values)
			if err == nil {
				t.Fatalf("rendered %d objects; want an error", len(in.objs))
			}
			t.Logf("refused: %v", err)
		})
	}
}

// The chart's copies of the generated files are the generated files.
func TestChartFilesMatchConfig(t *testing.T) {
	root := repoRoot(t)
	pairs := map[string]string{filepath.Join("config", "rbac", "role.yaml"): filepath.Join("charts", "drover", "files", "rbac", "role.yaml")}
	generated, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	copies, err := filepath.Glob(filepath.Join(root, "charts", "drover", "files", "crds", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(copies) != len(generated) {
		t.Errorf("charts/drover/files/crds has %d files, config/crd/bases %d: run make helm-sync", len(copies), len(generated))
	}
	for _, g := range generated {
		pairs[filepath.Join("config", "crd", "bases", filepath.Base(g))] = filepath.Join("charts", "drover", "files", "crds", filepath.Base(g))
	}
	// config/admission's policies and bindings: every YAML file but the kustomization.
	policies, err := filepath.Glob(filepath.Join(root, "config", "admission", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	policyCopies, err := filepath.Glob(filepath.Join(root, "charts", "drover", "files", "admission", "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(policyCopies) != len(policies)-1 {
		t.Errorf("charts/drover/files/admission has %d files, config/admission %d besides its kustomization: run make helm-sync", len(policyCopies), len(policies)-1)
	}
	for _, p := range policies {
		if filepath.Base(p) != "kustomization.yaml" {
			pairs[filepath.Join("config", "admission", filepath.Base(p))] = filepath.Join("charts", "drover", "files", "admission", filepath.Base(p))
		}
	}
	for src, dst := range pairs {
		a, err := os.ReadFile(filepath.Join(root, src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(root, dst))
		if err != nil {
			t.Errorf("%s: %v (run make helm-sync)", dst, err)
			continue
		}
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from %s: run make helm-sync", dst, src)
		}
	}
}

func unstructuredInt(obj map[string]any, fields ...string) (int64, bool, error) {
	var cur any = obj
	for _, f := range fields {
		m, ok := cur.(map[string]any)
		if !ok {
			return 0, false, nil
		}
		cur = m[f]
	}
	switch v := cur.(type) {
	case int64:
		return v, true, nil
	case float64:
		return int64(v), true, nil
	}
	return 0, false, nil
}
