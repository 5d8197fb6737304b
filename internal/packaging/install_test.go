package packaging

import (
	"fmt"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	runtimev1 "sigs.k8s.io/cluster-api/api/runtime/v1beta2"
	"sigs.k8s.io/yaml"

	"github.com/drover-dev/drover/internal/hooks"
)

// install is the objects of one rendered installation.
type install struct {
	objs []*unstructured.Unstructured
}

func parseObjects(t *testing.T, docs []string) install {
	t.Helper()
	var in install
	for _, doc := range docs {
		if strings.TrimSpace(doc) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(doc), &m); err != nil {
			t.Fatalf("rendered YAML does not parse: %v\n%s", err, doc)
		}
		if len(m) == 0 {
			continue
		}
		u := &unstructured.Unstructured{Object: m}
		if u.GetKind() == "" || u.GetAPIVersion() == "" || u.GetName() == "" {
			t.Fatalf("rendered object without apiVersion, kind or name:\n%s", doc)
		}
		in.objs = append(in.objs, u)
	}
	return in
}

func (in install) ofKind(kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range in.objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func (in install) get(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, o := range in.ofKind(kind) {
		if o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no %s %s among %s", kind, name, in.summary())
	return nil
}

// summary lists kind/name of every object, sorted.
func (in install) summary() string {
	var s []string
	for _, o := range in.objs {
		s = append(s, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}

func convert[T any](t *testing.T, u *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, out, true); err != nil {
		t.Fatalf("%s %s: %v", u.GetKind(), u.GetName(), err)
	}
	return out
}

// want says what an installation should hold beyond the rules every one follows.
type want struct {
	namespace        string
	args             map[string]string // flag → value the manager must get
	runtimeExtension bool
	serviceMonitor   bool
	withoutCRDs      bool     // the install leaves the CRDs out
	withoutAdmission bool     // the install leaves config/admission's policies out
	certSecret       string   // the Runtime Extension's existing Secret; empty: a Certificate makes it
	clientCASecret   string   // the Secret with the CA of the Runtime Extension's callers
	crdExtraLabels   []string // labels the install adds to config/crd/bases' CRDs
	crdExtraAnnots   []string // annotations the install adds to them
	networkPolicy    bool     // the install has a NetworkPolicy for the manager
}

// manager is what checkInstall learned about the manager, for further checks.
type manager struct {
	deploy    *appsv1.Deployment
	container corev1.Container
	flags     map[string]string
}

// checkInstall checks the rules every drover installation follows, Helm or kustomize.
func checkInstall(t *testing.T, in install, w want) manager {
	t.Helper()
	root := repoRoot(t)

	// Namespaced objects live in the install's namespace; nothing is left without one.
	for _, o := range in.objs {
		switch o.GetKind() {
		case "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "ExtensionConfig",
			"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding":
			if o.GetNamespace() != "" {
				t.Errorf("cluster-scoped %s %s has namespace %q", o.GetKind(), o.GetName(), o.GetNamespace())
			}
		default:
			if o.GetNamespace() != w.namespace {
				t.Errorf("%s %s is in namespace %q; want %q", o.GetKind(), o.GetName(), o.GetNamespace(), w.namespace)
			}
		}
	}

	// The manager Deployment.
	deploys := in.ofKind("Deployment")
	if len(deploys) != 1 {
		t.Fatalf("want one Deployment, got %d: %s", len(deploys), in.summary())
	}
	d := convert[appsv1.Deployment](t, deploys[0])
	pod := d.Spec.Template
	if d.Spec.Replicas != nil && *d.Spec.Replicas < 1 {
		t.Errorf("Deployment has %d replicas", *d.Spec.Replicas)
	}
	sel, err := metaSelector(d)
	if err != nil || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("the Deployment's selector %v does not match its pods' labels %v (%v)", d.Spec.Selector, pod.Labels, err)
	}
	if len(pod.Spec.Containers) != 1 || pod.Spec.Containers[0].Name != "manager" {
		t.Fatalf("want one container named manager, got %v", pod.Spec.Containers)
	}
	c := pod.Spec.Containers[0]
	if c.Image == "" {
		t.Error("the manager has no image")
	}
	if len(c.Command) > 0 {
		t.Errorf("the manager sets command %v; the image's ENTRYPOINT is the binary, flags go in args", c.Command)
	}
	checkManagerArgs(t, c.Args)
	flags := flagValues(c.Args)
	for name, value := range w.args {
		if got, ok := flags[name]; !ok || got != value {
			t.Errorf("--%s=%q; want %q (args %q)", name, got, value, c.Args)
		}
	}
	if flags["leader-elect"] != "true" {
		t.Errorf("leader election is off: args %q", c.Args)
	}

	// Security: non-root 65532, read-only root, no capabilities, RuntimeDefault seccomp.
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 {
		t.Errorf("pod securityContext %+v; want runAsNonRoot and runAsUser 65532", psc)
	}
	seccomp := psc != nil && psc.SeccompProfile != nil && psc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	if csc := c.SecurityContext; csc != nil && csc.SeccompProfile != nil {
		seccomp = csc.SeccompProfile.Type == corev1.SeccompProfileTypeRuntimeDefault
	}
	if !seccomp {
		t.Error("the manager does not run with the RuntimeDefault seccomp profile")
	}
	csc := c.SecurityContext
	switch {
	case csc == nil:
		t.Error("the manager container has no securityContext")
	default:
		if csc.AllowPrivilegeEscalation == nil || *csc.AllowPrivilegeEscalation {
			t.Error("the manager may escalate privileges")
		}
		if csc.ReadOnlyRootFilesystem == nil || !*csc.ReadOnlyRootFilesystem {
			t.Error("the manager's root filesystem is writable")
		}
		if csc.Privileged != nil && *csc.Privileged {
			t.Error("the manager is privileged")
		}
		if csc.Capabilities == nil || !reflect.DeepEqual(csc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(csc.Capabilities.Add) > 0 {
			t.Errorf("the manager's capabilities %+v; want drop [ALL], add none", csc.Capabilities)
		}
	}

	// Resources, probes and ports agree with the flags.
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		if _, ok := c.Resources.Requests[r]; !ok {
			t.Errorf("no %s request", r)
		}
		if _, ok := c.Resources.Limits[r]; !ok {
			t.Errorf("no %s limit", r)
		}
	}
	ports := map[string]int32{}
	for _, p := range c.Ports {
		ports[p.Name] = p.ContainerPort
	}
	probePort := portOf(t, flags["health-probe-bind-address"])
	for name, p := range map[string]*corev1.Probe{"/healthz": c.LivenessProbe, "/readyz": c.ReadinessProbe} {
		if p == nil || p.HTTPGet == nil || p.HTTPGet.Path != name {
			t.Errorf("want a probe on %s, got %+v", name, p)
			continue
		}
		if got := resolvePort(p.HTTPGet.Port.String(), ports); got != probePort {
			t.Errorf("probe %s on port %s (%d); the manager serves probes on %d", name, p.HTTPGet.Port.String(), got, probePort)
		}
	}
	if ports["metrics"] != portOf(t, flags["metrics-bind-address"]) {
		t.Errorf("container port metrics is %d; --metrics-bind-address=%s", ports["metrics"], flags["metrics-bind-address"])
	}

	// The ServiceAccount, RBAC and bindings.
	sa := in.get(t, "ServiceAccount", pod.Spec.ServiceAccountName)
	checkRBAC(t, in, root, sa, flags)

	// The metrics Service.
	var metricsSvc *corev1.Service
	for _, o := range in.ofKind("Service") {
		s := convert[corev1.Service](t, o)
		if len(s.Spec.Ports) == 1 && s.Spec.Ports[0].Name == "metrics" {
			metricsSvc = s
		}
	}
	if metricsSvc == nil {
		t.Errorf("no metrics Service among %s", in.summary())
	} else {
		if !labels.SelectorFromSet(metricsSvc.Spec.Selector).Matches(labels.Set(pod.Labels)) || len(metricsSvc.Spec.Selector) == 0 {
			t.Errorf("metrics Service selector %v does not select the manager's pods %v", metricsSvc.Spec.Selector, pod.Labels)
		}
		if tp := metricsSvc.Spec.Ports[0].TargetPort.String(); resolvePort(tp, ports) != ports["metrics"] {
			t.Errorf("metrics Service targets port %s", tp)
		}
	}

	// ServiceMonitor.
	sms := in.ofKind("ServiceMonitor")
	if w.serviceMonitor != (len(sms) == 1) {
		t.Errorf("want a ServiceMonitor: %v; got %d", w.serviceMonitor, len(sms))
	}
	if len(sms) == 1 && metricsSvc != nil {
		sm := sms[0]
		if sm.GetAPIVersion() != "monitoring.coreos.com/v1" {
			t.Errorf("ServiceMonitor apiVersion %s", sm.GetAPIVersion())
		}
		ml, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
		if len(ml) == 0 || !labels.SelectorFromSet(ml).Matches(labels.Set(metricsSvc.Labels)) {
			t.Errorf("ServiceMonitor selects %v; the metrics Service has labels %v", ml, metricsSvc.Labels)
		}
		eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
		if len(eps) != 1 || eps[0].(map[string]any)["port"] != "metrics" {
			t.Errorf("ServiceMonitor endpoints %v; want one on port metrics", eps)
		} else {
			// The manager serves HTTPS and wants a bearer token, unless --metrics-secure=false.
			ep := eps[0].(map[string]any)
			wantScheme := "https"
			if flags["metrics-secure"] == "false" {
				wantScheme = "http"
			}
			if ep["scheme"] != wantScheme {
				t.Errorf("ServiceMonitor scheme %v; the manager serves %s (--metrics-secure=%s)", ep["scheme"], wantScheme, flags["metrics-secure"])
			}
			if wantScheme == "https" && (ep["bearerTokenFile"] == nil || ep["tlsConfig"] == nil) {
				t.Errorf("ServiceMonitor endpoint %v sends no bearer token or has no tlsConfig", ep)
			}
		}
	}
	checkNetworkPolicy(t, in, w, pod, ports)

	checkCRDs(t, in, root, w)
	checkAdmission(t, in, root, w)
	checkRuntimeExtension(t, in, w, pod, ports, flags)
	return manager{deploy: d, container: c, flags: flags}
}

func metaSelector(d *appsv1.Deployment) (labels.Selector, error) {
	if d.Spec.Selector == nil {
		return nil, fmt.Errorf("no selector")
	}
	return labels.SelectorFromSet(d.Spec.Selector.MatchLabels), nil
}

// portOf is the port of a bind address such as :8080.
func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	i := strings.LastIndex(addr, ":")
	p, err := strconv.ParseInt(addr[i+1:], 10, 32)
	if i < 0 || err != nil {
		t.Errorf("bind address %q has no port", addr)
		return -1
	}
	return int32(p)
}

func resolvePort(p string, named map[string]int32) int32 {
	if n, err := strconv.ParseInt(p, 10, 32); err == nil {
		return int32(n)
	}
	if n, ok := named[p]; ok {
		return n
	}
	return -1
}

func readObject(t *testing.T, path string, into any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, into); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// checkRBAC: the ClusterRole's rules are config/rbac/role.yaml's (generated from the
// controllers' markers), the leader election Role's are config/rbac's, and both are
// bound to the manager's ServiceAccount.
func checkRBAC(t *testing.T, in install, root string, sa *unstructured.Unstructured, flags map[string]string) {
	t.Helper()
	var wantRole, wantLE rbacv1.Role
	var generated rbacv1.ClusterRole
	readObject(t, filepath.Join(root, "config", "rbac", "role.yaml"), &generated)
	readObject(t, filepath.Join(root, "config", "rbac", "leader_election_role.yaml"), &wantLE)
	wantRole.Rules = generated.Rules
	if len(wantRole.Rules) == 0 {
		t.Fatal("config/rbac/role.yaml has no rules")
	}
	subject := rbacv1.Subject{Kind: "ServiceAccount", Name: sa.GetName(), Namespace: sa.GetNamespace()}

	// The manager's ClusterRole is the one bound to its ServiceAccount; the other is
	// metrics-reader, for whoever scrapes the metrics.
	var crb *rbacv1.ClusterRoleBinding
	for _, o := range in.ofKind("ClusterRoleBinding") {
		b := convert[rbacv1.ClusterRoleBinding](t, o)
		if slices.Contains(b.Subjects, subject) {
			if crb != nil {
				t.Errorf("ClusterRoleBindings %s and %s both bind the manager's ServiceAccount", crb.Name, b.Name)
			}
			crb = b
		}
	}
	if crb == nil {
		t.Fatalf("no ClusterRoleBinding binds the manager's ServiceAccount %+v", subject)
	}
	// And the platform team's drover-release-finalizers and the app teams'
	// drover-releasediffs, bound to nobody.
	var release, diffs rbacv1.ClusterRole
	readObject(t, filepath.Join(root, "config", "rbac", "release_finalizers_role.yaml"), &release)
	readObject(t, filepath.Join(root, "config", "rbac", "releasediffs_role.yaml"), &diffs)
	released, diffRoles := 0, 0
	var cr, reader *rbacv1.ClusterRole
	for _, o := range in.ofKind("ClusterRole") {
		r := convert[rbacv1.ClusterRole](t, o)
		switch {
		case r.Name == crb.RoleRef.Name:
			cr = r
		case r.Name == release.Name:
			released++
			if !reflect.DeepEqual(r.Rules, release.Rules) {
				t.Errorf("ClusterRole %s rules differ from config/rbac/release_finalizers_role.yaml:\n got %+v\nwant %+v", r.Name, r.Rules, release.Rules)
			}
		case r.Name == diffs.Name:
			diffRoles++
			if !reflect.DeepEqual(r.Rules, diffs.Rules) {
				t.Errorf("ClusterRole %s rules differ from config/rbac/releasediffs_role.yaml:\n got %+v\nwant %+v", r.Name, r.Rules, diffs.Rules)
			}
		case strings.HasSuffix(r.Name, "-metrics-reader"):
			reader = r
		default:
			t.Errorf("unexpected ClusterRole %s", r.Name)
		}
	}
	if released != 1 {
		t.Errorf("want one ClusterRole %s, got %d", release.Name, released)
	}
	if diffRoles != 1 {
		t.Errorf("want one ClusterRole %s, got %d", diffs.Name, diffRoles)
	}
	if cr == nil {
		t.Fatalf("the manager's ClusterRoleBinding %s names ClusterRole %s, which the install lacks", crb.Name, crb.RoleRef.Name)
	}
	if !reflect.DeepEqual(cr.Rules, wantRole.Rules) {
		t.Errorf("ClusterRole %s rules differ from config/rbac/role.yaml:\n got %+v\nwant %+v", cr.Name, cr.Rules, wantRole.Rules)
	}
	if crb.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: cr.Name}) ||
		!reflect.DeepEqual(crb.Subjects, []rbacv1.Subject{subject}) {
		t.Errorf("ClusterRoleBinding %s binds %+v to %+v; want ClusterRole %s to %+v", crb.Name, crb.RoleRef, crb.Subjects, cr.Name, subject)
	}
	// The metrics endpoint reviews tokens and access with the manager's identity.
	for _, need := range []rbacv1.PolicyRule{
		{APIGroups: []string{"authentication.k8s.io"}, Resources: []string{"tokenreviews"}, Verbs: []string{"create"}},
		{APIGroups: []string{"authorization.k8s.io"}, Resources: []string{"subjectaccessreviews"}, Verbs: []string{"create"}},
	} {
		if !slices.ContainsFunc(cr.Rules, func(r rbacv1.PolicyRule) bool { return reflect.DeepEqual(r, need) }) {
			t.Errorf("ClusterRole %s lacks %+v, which the metrics endpoint's authentication and authorization need", cr.Name, need)
		}
	}
	// metrics-reader may GET /metrics and nothing else: config/rbac's rules.
	var wantReader rbacv1.ClusterRole
	readObject(t, filepath.Join(root, "config", "rbac", "metrics_reader_role.yaml"), &wantReader)
	if want := []rbacv1.PolicyRule{{NonResourceURLs: []string{"/metrics"}, Verbs: []string{"get"}}}; !reflect.DeepEqual(wantReader.Rules, want) {
		t.Errorf("config/rbac/metrics_reader_role.yaml rules %+v; want %+v", wantReader.Rules, want)
	}
	switch {
	case reader == nil:
		t.Errorf("no metrics-reader ClusterRole among %s", in.summary())
	case !reflect.DeepEqual(reader.Rules, wantReader.Rules):
		t.Errorf("ClusterRole %s rules %+v; want config/rbac/metrics_reader_role.yaml's %+v", reader.Name, reader.Rules, wantReader.Rules)
	}

	roles := in.ofKind("Role")
	if len(roles) != 1 {
		t.Fatalf("want one Role (leader election), got %d", len(roles))
	}
	role := convert[rbacv1.Role](t, roles[0])
	if !reflect.DeepEqual(role.Rules, wantLE.Rules) {
		t.Errorf("Role %s rules differ from config/rbac/leader_election_role.yaml:\n got %+v\nwant %+v", role.Name, role.Rules, wantLE.Rules)
	}
	if ns := flags["leader-election-namespace"]; ns != "" && role.Namespace != ns {
		t.Errorf("leader election Role in %s; the Lease is in %s", role.Namespace, ns)
	}
	rbs := in.ofKind("RoleBinding")
	if len(rbs) != 1 {
		t.Fatalf("want one RoleBinding, got %d", len(rbs))
	}
	rb := convert[rbacv1.RoleBinding](t, rbs[0])
	if rb.RoleRef != (rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: role.Name}) ||
		!reflect.DeepEqual(rb.Subjects, []rbacv1.Subject{subject}) || rb.Namespace != role.Namespace {
		t.Errorf("RoleBinding %s/%s binds %+v to %+v; want Role %s to %+v", rb.Namespace, rb.Name, rb.RoleRef, rb.Subjects, role.Name, subject)
	}
}

// checkCRDs: the install's CRDs are config/crd/bases', but for the labels and
// annotations the install says it adds.
func checkCRDs(t *testing.T, in install, root string, w want) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no CRDs in config/crd/bases (%v)", err)
	}
	wantCRDs := map[string]map[string]any{}
	for _, f := range files {
		var m map[string]any
		readObject(t, f, &m)
		wantCRDs[(&unstructured.Unstructured{Object: m}).GetName()] = m
	}
	got := in.ofKind("CustomResourceDefinition")
	if w.withoutCRDs {
		if len(got) > 0 {
			t.Errorf("%d CRDs; want none", len(got))
		}
		return
	}
	if len(got) != len(wantCRDs) {
		t.Errorf("%d CRDs; config/crd/bases has %d", len(got), len(wantCRDs))
	}
	for _, o := range got {
		c := o.DeepCopy()
		stripMeta(t, c, "labels", w.crdExtraLabels)
		stripMeta(t, c, "annotations", w.crdExtraAnnots)
		wantObj, ok := wantCRDs[c.GetName()]
		if !ok {
			t.Errorf("CRD %s is not in config/crd/bases", c.GetName())
			continue
		}
		if !reflect.DeepEqual(c.Object, wantObj) {
			t.Errorf("CRD %s differs from config/crd/bases (run make helm-sync?)", c.GetName())
		}
	}
}

// checkAdmission: the install's ValidatingAdmissionPolicies and bindings are
// config/admission's (its kustomization's resources), but for the labels the install
// adds to the CRDs (the same for these cluster-scoped objects).
func checkAdmission(t *testing.T, in install, root string, w want) {
	t.Helper()
	var kustomization struct {
		Resources []string `json:"resources"`
	}
	readObject(t, filepath.Join(root, "config", "admission", "kustomization.yaml"), &kustomization)
	wantObjs := map[string]map[string]any{}
	for _, f := range kustomization.Resources {
		var m map[string]any
		readObject(t, filepath.Join(root, "config", "admission", f), &m)
		u := &unstructured.Unstructured{Object: m}
		wantObjs[u.GetKind()+"/"+u.GetName()] = m
	}
	if len(wantObjs) == 0 {
		t.Fatal("config/admission lists no policies")
	}
	var got []*unstructured.Unstructured
	for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
		got = append(got, in.ofKind(kind)...)
	}
	if w.withoutAdmission {
		if len(got) > 0 {
			t.Errorf("%d admission policies and bindings; want none", len(got))
		}
		return
	}
	if len(got) != len(wantObjs) {
		t.Errorf("%d admission policies and bindings; config/admission has %d", len(got), len(wantObjs))
	}
	for _, o := range got {
		c := o.DeepCopy()
		stripMeta(t, c, "labels", w.crdExtraLabels)
		stripMeta(t, c, "annotations", nil)
		key := c.GetKind() + "/" + c.GetName()
		wantObj, ok := wantObjs[key]
		if !ok {
			t.Errorf("%s is not in config/admission", key)
			continue
		}
		if !reflect.DeepEqual(c.Object, wantObj) {
			t.Errorf("%s differs from config/admission (run make helm-sync?)", key)
		}
	}
}

// stripMeta removes the named labels or annotations, failing if one is missing.
func stripMeta(t *testing.T, o *unstructured.Unstructured, field string, keys []string) {
	t.Helper()
	m, _, _ := unstructured.NestedStringMap(o.Object, "metadata", field)
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			t.Errorf("%s %s lacks the %s %s", o.GetKind(), o.GetName(), field, k)
		}
		delete(m, k)
	}
	if len(m) == 0 {
		unstructured.RemoveNestedField(o.Object, "metadata", field)
		return
	}
	_ = unstructured.SetNestedStringMap(o.Object, m, "metadata", field)
}

// checkRuntimeExtension: the Service, the certificate's Secret mounted where the
// manager reads it, and the ExtensionConfig pointing at the Service.
func checkRuntimeExtension(t *testing.T, in install, w want, pod corev1.PodTemplateSpec, ports map[string]int32, flags map[string]string) {
	t.Helper()
	ecs := in.ofKind("ExtensionConfig")
	port, on := flags["runtime-extension-port"]
	if !w.runtimeExtension {
		if on && port != "0" || len(ecs) > 0 {
			t.Errorf("the Runtime Extension is on (--runtime-extension-port=%s, %d ExtensionConfigs)", port, len(ecs))
		}
		return
	}
	if !on || port == "0" {
		t.Fatalf("the Runtime Extension is off: args %v", flags)
	}
	if ports["runtime-ext"] != portOf(t, ":"+port) {
		t.Errorf("container port runtime-ext %d; --runtime-extension-port=%s", ports["runtime-ext"], port)
	}
	// The certificate's Secret, mounted at --runtime-extension-cert-dir.
	var secret string
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		if m.MountPath == flags["runtime-extension-cert-dir"] {
			for _, v := range pod.Spec.Volumes {
				if v.Name == m.Name && v.Secret != nil {
					secret = v.Secret.SecretName
				}
			}
		}
	}
	if secret == "" {
		t.Fatalf("no Secret volume mounted at --runtime-extension-cert-dir=%s", flags["runtime-extension-cert-dir"])
	}
	// The callers' CA, from its Secret: the extension does not start without it.
	caFile := flags["runtime-extension-client-ca-file"]
	var caSecret string
	for _, m := range pod.Spec.Containers[0].VolumeMounts {
		if caFile != "" && m.MountPath == path.Dir(caFile) {
			for _, v := range pod.Spec.Volumes {
				if v.Name == m.Name && v.Secret != nil {
					caSecret = v.Secret.SecretName
				}
			}
		}
	}
	if caSecret == "" || caSecret != w.clientCASecret {
		t.Errorf("--runtime-extension-client-ca-file=%s is in Secret %q; want Secret %q", caFile, caSecret, w.clientCASecret)
	}
	var svc *corev1.Service
	for _, o := range in.ofKind("Service") {
		s := convert[corev1.Service](t, o)
		if len(s.Spec.Ports) == 1 && resolvePort(s.Spec.Ports[0].TargetPort.String(), ports) == ports["runtime-ext"] {
			svc = s
		}
	}
	if svc == nil {
		t.Fatal("no Service in front of the Runtime Extension's port")
	}
	if len(svc.Spec.Selector) == 0 || !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
		t.Errorf("Service %s does not select the manager's pods", svc.Name)
	}
	certs := in.ofKind("Certificate")
	switch {
	case w.certSecret != "":
		if len(certs) > 0 || secret != w.certSecret {
			t.Errorf("want the existing Secret %s mounted and no Certificate; got Secret %s, %d Certificates", w.certSecret, secret, len(certs))
		}
	case len(certs) != 1:
		t.Fatalf("want one cert-manager Certificate, got %d", len(certs))
	default:
		secretName, _, _ := unstructured.NestedString(certs[0].Object, "spec", "secretName")
		dnsNames, _, _ := unstructured.NestedStringSlice(certs[0].Object, "spec", "dnsNames")
		if secretName != secret {
			t.Errorf("Certificate writes Secret %s; the manager mounts %s", secretName, secret)
		}
		if host := svc.Name + "." + svc.Namespace + ".svc"; !contains(dnsNames, host) {
			t.Errorf("Certificate dnsNames %v lack %s", dnsNames, host)
		}
		issuer, _, _ := unstructured.NestedString(certs[0].Object, "spec", "issuerRef", "name")
		if issuers := in.ofKind("Issuer"); len(issuers) != 1 || issuers[0].GetName() != issuer {
			t.Errorf("Certificate uses issuer %s; the install has Issuers %v", issuer, issuers)
		}
	}
	if len(ecs) != 1 {
		t.Fatalf("want one ExtensionConfig, got %d", len(ecs))
	}
	ec := ecs[0]
	ref, _, _ := unstructured.NestedMap(ec.Object, "spec", "clientConfig", "service")
	if ref["name"] != svc.Name || ref["namespace"] != svc.Namespace || fmt.Sprint(ref["port"]) != fmt.Sprint(svc.Spec.Ports[0].Port) {
		t.Errorf("ExtensionConfig calls %v; the Service is %s/%s port %d", ref, svc.Namespace, svc.Name, svc.Spec.Ports[0].Port)
	}
	if got, want := ec.GetAnnotations()["runtime.cluster.x-k8s.io/inject-ca-from-secret"], svc.Namespace+"/"+secret; got != want {
		t.Errorf("ExtensionConfig injects its CA from %q; want %q", got, want)
	}
	// The manager refuses the Clusters of the namespaces Cluster API does not call it for.
	sel, err := hooks.ParseNamespaceSelector(flags["runtime-extension-namespace-selector"])
	if err != nil {
		t.Fatal(err)
	}
	ecSel := convert[runtimev1.ExtensionConfig](t, ec).Spec.NamespaceSelector
	if _, set := flags["runtime-extension-namespace-selector"]; !set || selectorString(t, sel) != selectorString(t, ecSel) {
		t.Errorf("--runtime-extension-namespace-selector selects %q (set: %t); the ExtensionConfig's namespaceSelector %q",
			selectorString(t, sel), set, selectorString(t, ecSel))
	}
}

// selectorString is a namespace selector as Cluster API reads it: nil selects every
// namespace.
func selectorString(t *testing.T, s *metav1.LabelSelector) string {
	t.Helper()
	if s == nil {
		return labels.Everything().String()
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		t.Fatal(err)
	}
	return sel.String()
}

// checkNetworkPolicy: the manager's NetworkPolicy selects its pods and lets in only the
// metrics port (from the peers it names), the probes port and, when on, the Runtime
// Extension's port: the container's ports, so that nothing the manager serves is cut
// off and nothing else is open.
func checkNetworkPolicy(t *testing.T, in install, w want, pod corev1.PodTemplateSpec, ports map[string]int32) {
	t.Helper()
	nps := in.ofKind("NetworkPolicy")
	if !w.networkPolicy {
		if len(nps) > 0 {
			t.Errorf("%d NetworkPolicies; want none", len(nps))
		}
		return
	}
	if len(nps) != 1 {
		t.Fatalf("want one NetworkPolicy, got %d: %s", len(nps), in.summary())
	}
	np := convert[networkingv1.NetworkPolicy](t, nps[0])
	sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
	if err != nil || sel.Empty() || !sel.Matches(labels.Set(pod.Labels)) {
		t.Errorf("NetworkPolicy %s selects %v; the manager's pods have labels %v (%v)", np.Name, np.Spec.PodSelector, pod.Labels, err)
	}
	if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
		t.Errorf("NetworkPolicy %s policyTypes %v lack Ingress", np.Name, np.Spec.PolicyTypes)
	}
	open := map[int32]bool{}
	for _, r := range np.Spec.Ingress {
		if len(r.Ports) == 0 {
			t.Errorf("NetworkPolicy %s has an ingress rule for every port: %+v", np.Name, r)
		}
		for _, p := range r.Ports {
			if p.Port == nil {
				t.Errorf("NetworkPolicy %s opens every port to %+v", np.Name, r.From)
				continue
			}
			n := resolvePort(p.Port.String(), ports)
			open[n] = true
			if n == ports["metrics"] && len(r.From) == 0 {
				t.Errorf("NetworkPolicy %s lets anyone reach the metrics port", np.Name)
			}
		}
	}
	want := map[int32]bool{}
	for _, p := range pod.Spec.Containers[0].Ports {
		want[p.ContainerPort] = true
	}
	if !reflect.DeepEqual(open, want) {
		t.Errorf("NetworkPolicy %s opens ports %v; the manager serves %v", np.Name, open, want)
	}
}
