package packaging

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// config/workload-rbac, what a platform team applies to each workload cluster, builds,
// and binds every ClusterRole it defines to its one ServiceAccount, in its Namespace.
func TestKustomizeWorkloadRBAC(t *testing.T) {
	in := renderKustomization(t, "config/workload-rbac")
	nss, sas := in.ofKind("Namespace"), in.ofKind("ServiceAccount")
	if len(nss) != 1 || len(sas) != 1 {
		t.Fatalf("want one Namespace and one ServiceAccount, got %s", in.summary())
	}
	if sas[0].GetNamespace() != nss[0].GetName() {
		t.Errorf("ServiceAccount %s is in namespace %q, not in %s", sas[0].GetName(), sas[0].GetNamespace(), nss[0].GetName())
	}
	subject := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sas[0].GetName(), Namespace: sas[0].GetNamespace()}}
	bound := map[string]bool{}
	for _, o := range in.ofKind("ClusterRoleBinding") {
		b := convert[rbacv1.ClusterRoleBinding](t, o)
		if b.RoleRef.Kind != "ClusterRole" || !reflect.DeepEqual(b.Subjects, subject) {
			t.Errorf("ClusterRoleBinding %s binds %+v to %+v; want a ClusterRole to %+v", b.Name, b.RoleRef, b.Subjects, subject)
		}
		bound[b.RoleRef.Name] = true
	}
	roles := in.ofKind("ClusterRole")
	if len(roles) == 0 {
		t.Fatal("no ClusterRole")
	}
	for _, o := range roles {
		r := convert[rbacv1.ClusterRole](t, o)
		if !bound[r.Name] {
			t.Errorf("ClusterRole %s is bound to nothing", r.Name)
		}
		if len(r.Rules) == 0 {
			t.Errorf("ClusterRole %s has no rules", r.Name)
		}
		delete(bound, r.Name)
	}
	for name := range bound {
		t.Errorf("a ClusterRoleBinding refers to ClusterRole %s, which config/workload-rbac does not define", name)
	}
	if other := len(in.objs) - len(nss) - len(sas) - len(roles) - len(in.ofKind("ClusterRoleBinding")); other != 0 {
		t.Errorf("%d objects besides the Namespace, ServiceAccount, ClusterRoles and bindings: %s", other, in.summary())
	}
}
