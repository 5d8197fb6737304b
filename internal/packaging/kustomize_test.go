package packaging

import (
	"path/filepath"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

const kustomizeNamespace = "drover-system"

// renderKustomization builds a kustomization of config/ as `kubectl kustomize` does.
func renderKustomization(t *testing.T, dir string) install {
	t.Helper()
	k := krusty.MakeKustomizer(krusty.MakeDefaultOptions())
	rm, err := k.Run(filesys.MakeFsOnDisk(), filepath.Join(repoRoot(t), dir))
	if err != nil {
		t.Fatalf("kustomize build %s: %v", dir, err)
	}
	var docs []string
	for _, r := range rm.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(y))
	}
	return parseObjects(t, docs)
}

// config/default adds app.kubernetes.io/part-of to everything, the CRDs too.
var kustomizeCRDLabels = []string{"app.kubernetes.io/part-of"}

func TestKustomizeDefault(t *testing.T) {
	in := renderKustomization(t, "config/default")
	checkInstall(t, in, want{
		namespace:      kustomizeNamespace,
		args:           map[string]string{"leader-elect": "true"},
		crdExtraLabels: kustomizeCRDLabels,
	})
	ns := in.get(t, "Namespace", kustomizeNamespace)
	if ns.GetLabels()["pod-security.kubernetes.io/enforce"] != "restricted" {
		t.Errorf("namespace %s does not enforce the restricted Pod Security Standard", ns.GetName())
	}
}

func TestKustomizeRuntimeExtension(t *testing.T) {
	in := renderKustomization(t, "config/runtime-extension")
	checkInstall(t, in, want{
		namespace:        kustomizeNamespace,
		args:             map[string]string{"runtime-extension-port": "9443", "runtime-extension-client-names": "capi-controller-manager"},
		runtimeExtension: true,
		clientCASecret:   "drover-runtime-extension-client-ca",
		crdExtraLabels:   kustomizeCRDLabels,
	})
}

func TestKustomizeExampleAWSOpenStack(t *testing.T) {
	in := renderKustomization(t, "config/examples/aws-openstack")
	m := checkInstall(t, in, want{
		namespace: kustomizeNamespace,
		args: map[string]string{
			"traffic-provider": "route53", "nlb-scheme": "internet-facing", "os-cloud": "private",
		},
		crdExtraLabels: kustomizeCRDLabels,
	})
	sa := in.get(t, "ServiceAccount", "drover-manager")
	if sa.GetAnnotations()["eks.amazonaws.com/role-arn"] == "" {
		t.Error("the example's ServiceAccount has no IRSA role annotation")
	}
	found := false
	for _, vm := range m.container.VolumeMounts {
		found = found || vm.MountPath == "/etc/openstack" && vm.ReadOnly
	}
	if !found {
		t.Errorf("clouds.yaml is not mounted at /etc/openstack: %+v", m.container.VolumeMounts)
	}
}
