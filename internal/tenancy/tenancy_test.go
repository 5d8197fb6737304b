package tenancy_test

import (
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// tenant is a Tenant named name with spec.
func tenant(name string, spec droverv1.TenantSpec) *droverv1.Tenant {
	return &droverv1.Tenant{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
}

// lookupOf finds the given Tenants by name.
func lookupOf(tenants ...*droverv1.Tenant) func(string) (*droverv1.Tenant, bool) {
	return func(name string) (*droverv1.Tenant, bool) {
		for _, t := range tenants {
			if t.Name == name {
				return t, true
			}
		}
		return nil, false
	}
}

// labelled is the labels of a namespace of tenant name.
func labelled(name string) map[string]string { return map[string]string{droverv1.TenantLabel: name} }

// shop is the Tenant most tests use: Clusters of namespace fleet named eu-* labelled
// tier=shared, every Cluster of namespace lab, target namespaces shop and shop-*, and
// kube-system by its name.
var shop = tenant("shop", droverv1.TenantSpec{
	Clusters: []droverv1.TenantClusterRule{
		{Namespace: "fleet", Names: []droverv1.NamePattern{"eu-*", "us-1"},
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "shared"}}},
		{Namespace: "lab"},
		{Namespace: "broken", Selector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
			{Key: "tier", Operator: "Bogus"}}}},
		{Namespace: "half-broken", Names: []droverv1.NamePattern{"a"}, Selector: &metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "tier", Operator: metav1.LabelSelectorOpIn}}}}, // In without values
		{Namespace: "half-broken", Names: []droverv1.NamePattern{"b"}},
	},
	TargetNamespaces: []droverv1.NamePattern{"shop", "shop-*", "kube-system"},
	Kinds: droverv1.TenantKinds{
		NamespacedDenied: []droverv1.GroupKind{{Group: "", Kind: "Secret"}, {Group: "networking.k8s.io", Kind: "*"}},
		ClusterScopedAllowed: []droverv1.GroupKind{
			{Group: "rbac.authorization.k8s.io", Kind: "ClusterRole"},
			{Group: "example.com", Kind: "*"},
		},
	},
	ServiceAccount: &droverv1.TenantServiceAccount{Namespace: "shop-system", Name: "drover-apply"},
})

var (
	tenantPolicy   = tenancy.Resolve("team-a", labelled("shop"), lookupOf(shop), false)
	defaultsPolicy = tenancy.Resolve("team-a", map[string]string{"other": "label"}, lookupOf(shop), false)
	missingPolicy  = tenancy.Resolve("team-a", labelled("shoop"), lookupOf(shop), false)
	emptyLabel     = tenancy.Resolve("team-a", labelled(""), lookupOf(shop), false)
	singleTeam     = tenancy.Resolve("team-a", labelled("shoop"), lookupOf(shop), true)
)

func TestResolve(t *testing.T) {
	other := tenant("other", droverv1.TenantSpec{})
	for _, tc := range []struct {
		name       string
		labels     map[string]string
		lookup     func(string) (*droverv1.Tenant, bool)
		singleTeam bool
		want       string // Name()
		tenant     *droverv1.Tenant
	}{
		{name: "tenant", labels: labelled("shop"), lookup: lookupOf(shop), want: `Tenant "shop"`, tenant: shop},
		{name: "no labels", lookup: lookupOf(shop), want: `the defaults for namespace "team-a" (no Tenant)`},
		{name: "another label", labels: map[string]string{"drover.dev/tenants": "shop"}, lookup: lookupOf(shop),
			want: `the defaults for namespace "team-a" (no Tenant)`},
		{name: "missing Tenant", labels: labelled("shoop"), lookup: lookupOf(shop), want: `Tenant "shoop"`},
		{name: "empty label", labels: labelled(""), lookup: lookupOf(shop), want: `Tenant ""`},
		{name: "no lookup", labels: labelled("shop"), want: `Tenant "shop"`},
		{name: "lookup answers ok with nil", labels: labelled("shop"),
			lookup: func(string) (*droverv1.Tenant, bool) { return nil, true }, want: `Tenant "shop"`},
		{name: "lookup answers another Tenant", labels: labelled("shop"),
			lookup: func(string) (*droverv1.Tenant, bool) { return other, true }, want: `Tenant "shop"`},
		{name: "lookup answers a Tenant with not found", labels: labelled("shop"),
			lookup: func(string) (*droverv1.Tenant, bool) { return shop, false }, want: `Tenant "shop"`},
		{name: "single team", labels: labelled("shop"), lookup: lookupOf(shop), singleTeam: true,
			want: "single-team mode (--single-team)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tenancy.Resolve("team-a", tc.labels, tc.lookup, tc.singleTeam)
			if got := p.Name(); got != tc.want {
				t.Errorf("Name() = %q, want %q", got, tc.want)
			}
			if p.Tenant != tc.tenant {
				t.Errorf("Tenant = %v, want %v", p.Tenant, tc.tenant)
			}
			if p.Namespace != "team-a" || p.SingleTeam != tc.singleTeam {
				t.Errorf("Resolve = %+v", p)
			}
		})
	}
}

// check is what a test expects of a check: allowed, or refused by rule with a message
// holding every one of parts.
type check struct {
	rule  string // "" for allowed
	parts []string
}

func allowed() check { return check{} }
func refused(rule string, parts ...string) check {
	return check{rule: rule, parts: parts}
}

func (c check) verify(t *testing.T, p tenancy.Policy, r *tenancy.Refusal) {
	t.Helper()
	if c.rule == "" {
		if r != nil {
			t.Fatalf("want allowed, got refused: %s", r.Message)
		}
		return
	}
	if r == nil {
		t.Fatalf("want refused by %s, got allowed", c.rule)
	}
	if r.Rule != c.rule {
		t.Errorf("Rule = %q, want %q (%s)", r.Rule, c.rule, r.Message)
	}
	if r.Policy != p.Name() || r.Policy == "" || r.Subject == "" {
		t.Errorf("Policy = %q (want %q), Subject = %q", r.Policy, p.Name(), r.Subject)
	}
	if r.Error() != r.Message || !strings.HasPrefix(r.Message, r.Policy+" ") || !strings.Contains(r.Message, r.Subject) {
		t.Errorf("the message %q does not start with the policy %q or name the subject %q", r.Message, r.Policy, r.Subject)
	}
	if r.Rule != tenancy.RuleTenant && !strings.Contains(r.Message, "("+r.Rule+")") {
		t.Errorf("the message %q does not name the rule %q", r.Message, r.Rule)
	}
	for _, part := range c.parts {
		if !strings.Contains(r.Message, part) {
			t.Errorf("the message %q does not say %q", r.Message, part)
		}
	}
}

// missingParts is what every refusal by a missing Tenant says.
var missingParts = []string{`Tenant "shoop" does not exist`, `namespace "team-a" is labelled drover.dev/tenant=shoop`}

// defaultsParts is what every refusal by the defaults says.
var defaultsParts = []string{`the defaults for namespace "team-a" (no Tenant) do not allow`, "label the namespace drover.dev/tenant=<name> and write a Tenant"}

func TestCluster(t *testing.T) {
	shared := map[string]string{"tier": "shared"}
	for _, tc := range []struct {
		name            string
		policy          tenancy.Policy
		namespace, clus string
		labels          map[string]string
		want            check
	}{
		{name: "own namespace", policy: tenantPolicy, namespace: "team-a", clus: "c1", want: allowed()},
		{name: "own namespace, defaults", policy: defaultsPolicy, namespace: "team-a", clus: "c1", want: allowed()},
		{name: "own namespace, single team", policy: singleTeam, namespace: "team-a", clus: "c1", want: allowed()},
		{name: "own namespace, missing Tenant", policy: missingPolicy, namespace: "team-a", clus: "c1",
			want: refused(tenancy.RuleTenant, append([]string{"Cluster team-a/c1"}, missingParts...)...)},
		{name: "own namespace, empty label", policy: emptyLabel, namespace: "team-a", clus: "c1",
			want: refused(tenancy.RuleTenant, `Tenant "" does not exist`, "labelled drover.dev/tenant with an empty value")},
		{name: "other namespace, defaults", policy: defaultsPolicy, namespace: "fleet", clus: "eu-1", labels: shared,
			want: refused(tenancy.RuleClusters, append([]string{"Cluster fleet/eu-1 (spec.clusters)", `only on the Clusters of namespace "team-a"`}, defaultsParts...)...)},
		{name: "other namespace, single team", policy: singleTeam, namespace: "fleet", clus: "anything", want: allowed()},
		{name: "rule: name pattern and selector", policy: tenantPolicy, namespace: "fleet", clus: "eu-9", labels: shared, want: allowed()},
		{name: "rule: exact name", policy: tenantPolicy, namespace: "fleet", clus: "us-1", labels: map[string]string{"tier": "shared", "x": "y"}, want: allowed()},
		{name: "rule: name does not match", policy: tenantPolicy, namespace: "fleet", clus: "us-2", labels: shared,
			want: refused(tenancy.RuleClusters, `Tenant "shop" does not allow Cluster fleet/us-2 (spec.clusters)`)},
		{name: "rule: prefix alone is no match", policy: tenantPolicy, namespace: "fleet", clus: "eu", labels: shared,
			want: refused(tenancy.RuleClusters)},
		{name: "rule: selector does not match", policy: tenantPolicy, namespace: "fleet", clus: "eu-9", labels: map[string]string{"tier": "dedicated"},
			want: refused(tenancy.RuleClusters, "no rule allows it")},
		{name: "rule: no labels", policy: tenantPolicy, namespace: "fleet", clus: "eu-9", want: refused(tenancy.RuleClusters)},
		{name: "rule: any name, any labels", policy: tenantPolicy, namespace: "lab", clus: "whatever", want: allowed()},
		{name: "no rule for the namespace", policy: tenantPolicy, namespace: "fleet-2", clus: "eu-1", labels: shared,
			want: refused(tenancy.RuleClusters, `Tenant "shop" does not allow Cluster fleet-2/eu-1 (spec.clusters)`)},
		{name: "namespace differs in case", policy: tenantPolicy, namespace: "Fleet", clus: "eu-1", labels: shared, want: refused(tenancy.RuleClusters)},
		{name: "invalid selector refuses", policy: tenantPolicy, namespace: "broken", clus: "c", labels: map[string]string{"tier": "x"},
			want: refused(tenancy.RuleClusters, "the selector of spec.clusters[2] is not valid")},
		{name: "invalid selector refuses, no labels", policy: tenantPolicy, namespace: "broken", clus: "c",
			want: refused(tenancy.RuleClusters, "spec.clusters[2]")},
		{name: "invalid selector, another rule allows", policy: tenantPolicy, namespace: "half-broken", clus: "b", want: allowed()},
		{name: "invalid selector, no other rule", policy: tenantPolicy, namespace: "half-broken", clus: "a", labels: map[string]string{"tier": "x"},
			want: refused(tenancy.RuleClusters, "spec.clusters[3] is not valid")},
		{name: "empty namespace", policy: tenantPolicy, namespace: "", clus: "c", want: refused(tenancy.RuleClusters, "cannot be empty")},
		{name: "empty namespace, empty own namespace", policy: tenancy.Policy{}, namespace: "", clus: "c",
			want: refused(tenancy.RuleClusters, "cannot be empty")},
		{name: "hostile name", policy: tenantPolicy, namespace: "fleet", clus: "eu-*", labels: shared, want: allowed()}, // eu-* starts with eu-
		{name: "hostile name, no match", policy: tenantPolicy, namespace: "fleet", clus: "*", labels: shared, want: refused(tenancy.RuleClusters)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.verify(t, tc.policy, tc.policy.Cluster(tc.namespace, tc.clus, tc.labels))
		})
	}
}

func TestTargetNamespace(t *testing.T) {
	anyName := tenancy.Resolve("team-a", labelled("any"), lookupOf(tenant("any", droverv1.TenantSpec{})), false)
	star := tenancy.Resolve("team-a", labelled("star"), lookupOf(tenant("star", droverv1.TenantSpec{
		TargetNamespaces: []droverv1.NamePattern{"*", "kube-*", "kube-public*", "defaul*"}})), false)
	system := "it is a system namespace of the workload cluster"
	for _, tc := range []struct {
		name   string
		policy tenancy.Policy
		ns     string
		want   check
	}{
		{name: "defaults: any name", policy: defaultsPolicy, ns: "anything", want: allowed()},
		{name: "empty list: any name", policy: anyName, ns: "anything", want: allowed()},
		{name: "exact", policy: tenantPolicy, ns: "shop", want: allowed()},
		{name: "pattern", policy: tenantPolicy, ns: "shop-eu", want: allowed()},
		{name: "no match", policy: tenantPolicy, ns: "shopping",
			want: refused(tenancy.RuleTargetNamespaces, `Tenant "shop" does not allow target namespace "shopping" (spec.targetNamespaces)`)},
		{name: "missing Tenant", policy: missingPolicy, ns: "shop", want: refused(tenancy.RuleTenant, missingParts...)},
		{name: "single team", policy: singleTeam, ns: "kube-system", want: allowed()},
		{name: "empty name", policy: anyName, ns: "", want: refused(tenancy.RuleTargetNamespaces, "needs a name")},
		{name: "empty name, defaults", policy: defaultsPolicy, ns: "", want: refused(tenancy.RuleTargetNamespaces, "(no Tenant) do not allow", "needs a name")},
		{name: "kube-system listed by name", policy: tenantPolicy, ns: "kube-system", want: allowed()},
		{name: "kube-public not listed", policy: tenantPolicy, ns: "kube-public", want: refused(tenancy.RuleTargetNamespaces, system)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.verify(t, tc.policy, tc.policy.TargetNamespace(tc.ns))
		})
	}
	// The system namespaces: refused by the defaults, by an empty list, and by any pattern.
	for _, ns := range []string{"kube-system", "kube-public", "kube-node-lease", "default", "kube-", "kube-flannel"} {
		for _, p := range []tenancy.Policy{defaultsPolicy, anyName, star} {
			t.Run(ns+" by "+p.Name(), func(t *testing.T) {
				want := refused(tenancy.RuleTargetNamespaces, system)
				if p.TenantName == "" {
					want.parts = append(want.parts, defaultsParts...)
				}
				want.verify(t, p, p.TargetNamespace(ns))
			})
		}
	}
	// Near the system namespaces, but not one of them.
	for _, ns := range []string{"kube", "kubesystem", "defaults", "my-kube-system", "default-shop"} {
		if r := anyName.TargetNamespace(ns); r != nil {
			t.Errorf("TargetNamespace(%q) refused: %s", ns, r.Message)
		}
	}
}

func TestObject(t *testing.T) {
	gk := func(group, kind string) schema.GroupKind { return schema.GroupKind{Group: group, Kind: kind} }
	only := tenancy.Resolve("team-a", labelled("only"), lookupOf(tenant("only", droverv1.TenantSpec{Kinds: droverv1.TenantKinds{
		NamespacedAllowed: []droverv1.GroupKind{{Group: "apps", Kind: "*"}, {Group: "", Kind: "ConfigMap"}, {Group: "", Kind: "Secret"}},
		NamespacedDenied:  []droverv1.GroupKind{{Group: "apps", Kind: "DaemonSet"}},
		// What the CRD refuses, as if written past it: Namespace is still never allowed.
		ClusterScopedAllowed: []droverv1.GroupKind{{Group: "", Kind: "*"}, {Group: "", Kind: "Namespace"}},
	}})), false)
	for _, tc := range []struct {
		name       string
		policy     tenancy.Policy
		gk         schema.GroupKind
		namespaced bool
		want       check
	}{
		{name: "defaults: namespaced", policy: defaultsPolicy, gk: gk("apps", "Deployment"), namespaced: true, want: allowed()},
		{name: "defaults: Secret", policy: defaultsPolicy, gk: gk("", "Secret"), namespaced: true, want: allowed()},
		{name: "defaults: cluster-scoped", policy: defaultsPolicy, gk: gk("rbac.authorization.k8s.io", "ClusterRoleBinding"),
			want: refused(tenancy.RuleClusterScopedAllowed, append([]string{"ClusterRoleBinding rbac.authorization.k8s.io (spec.kinds.clusterScopedAllowed)"}, defaultsParts...)...)},
		{name: "defaults: Namespace", policy: defaultsPolicy, gk: gk("", "Namespace"),
			want: refused(tenancy.RuleClusterScopedAllowed, "Namespace of the core group", "drover creates and marks each target namespace itself")},
		{name: "Namespace said to be namespaced", policy: defaultsPolicy, gk: gk("", "Namespace"), namespaced: true,
			want: refused(tenancy.RuleClusterScopedAllowed)},
		{name: "Namespace of another group", policy: defaultsPolicy, gk: gk("example.com", "Namespace"), namespaced: true, want: allowed()},
		{name: "Namespace allowed past the CRD", policy: only, gk: gk("", "Namespace"), want: refused(tenancy.RuleClusterScopedAllowed)},
		{name: "single team: Namespace", policy: singleTeam, gk: gk("", "Namespace"), want: allowed()},
		{name: "single team: cluster-scoped", policy: singleTeam, gk: gk("rbac.authorization.k8s.io", "ClusterRoleBinding"), want: allowed()},
		{name: "missing Tenant: namespaced", policy: missingPolicy, gk: gk("", "ConfigMap"), namespaced: true,
			want: refused(tenancy.RuleTenant, append([]string{"ConfigMap of the core group"}, missingParts...)...)},
		{name: "cluster-scoped allowed", policy: tenantPolicy, gk: gk("rbac.authorization.k8s.io", "ClusterRole"), want: allowed()},
		{name: "cluster-scoped, another kind of the group", policy: tenantPolicy, gk: gk("rbac.authorization.k8s.io", "ClusterRoleBinding"),
			want: refused(tenancy.RuleClusterScopedAllowed, `Tenant "shop" does not allow ClusterRoleBinding rbac.authorization.k8s.io (spec.kinds.clusterScopedAllowed)`)},
		{name: "cluster-scoped, the kind of another group", policy: tenantPolicy, gk: gk("rbac.example.com", "ClusterRole"),
			want: refused(tenancy.RuleClusterScopedAllowed)},
		{name: "cluster-scoped, the kind in the core group", policy: tenantPolicy, gk: gk("", "ClusterRole"),
			want: refused(tenancy.RuleClusterScopedAllowed)},
		{name: "cluster-scoped, group wildcard", policy: tenantPolicy, gk: gk("example.com", "Widget"), want: allowed()},
		{name: "cluster-scoped, a group ending like it", policy: tenantPolicy, gk: gk("evil-example.com", "Widget"),
			want: refused(tenancy.RuleClusterScopedAllowed)},
		{name: "core wildcard past the CRD", policy: only, gk: gk("", "PersistentVolume"), want: allowed()},
		{name: "namespaced, denied", policy: tenantPolicy, gk: gk("", "Secret"), namespaced: true,
			want: refused(tenancy.RuleNamespacedDenied, `Tenant "shop" does not allow Secret of the core group (spec.kinds.namespacedDenied)`)},
		{name: "namespaced, denied by group wildcard", policy: tenantPolicy, gk: gk("networking.k8s.io", "NetworkPolicy"), namespaced: true,
			want: refused(tenancy.RuleNamespacedDenied)},
		{name: "namespaced, empty allow list", policy: tenantPolicy, gk: gk("apps", "Deployment"), namespaced: true, want: allowed()},
		{name: "namespaced, allowed by wildcard", policy: only, gk: gk("apps", "StatefulSet"), namespaced: true, want: allowed()},
		{name: "namespaced, allowed and denied", policy: only, gk: gk("apps", "DaemonSet"), namespaced: true,
			want: refused(tenancy.RuleNamespacedDenied)},
		{name: "namespaced, not allowed", policy: only, gk: gk("batch", "Job"), namespaced: true,
			want: refused(tenancy.RuleNamespacedAllowed, "Job batch (spec.kinds.namespacedAllowed)")},
		{name: "kind differs in case", policy: only, gk: gk("", "configmap"), namespaced: true, want: refused(tenancy.RuleNamespacedAllowed)},
		{name: "empty kind", policy: defaultsPolicy, gk: gk("apps", ""), namespaced: true, want: refused(tenancy.RuleNamespacedAllowed, "needs a kind")},
		{name: "kind *", policy: tenantPolicy, gk: gk("rbac.authorization.k8s.io", "*"), want: refused(tenancy.RuleClusterScopedAllowed)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.verify(t, tc.policy, tc.policy.Object(tc.gk, tc.namespaced))
		})
	}
}

func TestIdentity(t *testing.T) {
	noSA := tenancy.Resolve("team-a", labelled("nosa"), lookupOf(tenant("nosa", droverv1.TenantSpec{})), false)
	badSA := func(ns, name string) tenancy.Policy {
		return tenancy.Resolve("team-a", labelled("bad"), lookupOf(tenant("bad", droverv1.TenantSpec{
			ServiceAccount: &droverv1.TenantServiceAccount{Namespace: ns, Name: name}})), false)
	}
	for _, tc := range []struct {
		name   string
		policy tenancy.Policy
		want   tenancy.Identity
		rule   string
	}{
		{name: "tenant", policy: tenantPolicy, want: tenancy.Identity{
			Impersonate: true,
			User:        "system:serviceaccount:shop-system:drover-apply",
			Groups:      []string{"system:serviceaccounts", "system:serviceaccounts:shop-system", "system:authenticated"},
		}},
		{name: "tenant without a ServiceAccount", policy: noSA},
		{name: "defaults", policy: defaultsPolicy},
		{name: "single team", policy: singleTeam},
		{name: "missing Tenant", policy: missingPolicy, rule: tenancy.RuleTenant},
		{name: "empty label", policy: emptyLabel, rule: tenancy.RuleTenant},
		{name: "a colon in the name", policy: badSA("shop", "a:b"), rule: tenancy.RuleServiceAccount},
		{name: "a colon in the namespace", policy: badSA("a:b", "c"), rule: tenancy.RuleServiceAccount},
		{name: "empty name", policy: badSA("shop", ""), rule: tenancy.RuleServiceAccount},
		{name: "empty namespace", policy: badSA("", "x"), rule: tenancy.RuleServiceAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id, r := tc.policy.Identity()
			if tc.rule != "" {
				if r == nil || r.Rule != tc.rule || r.Message == "" || r.Policy == "" {
					t.Fatalf("want refused by %s, got %+v, %+v", tc.rule, id, r)
				}
				if id.Impersonate || id.User != "" || id.Groups != nil {
					t.Errorf("a refusal came with an identity: %+v", id)
				}
				return
			}
			if r != nil {
				t.Fatalf("refused: %s", r.Message)
			}
			if id.Impersonate != tc.want.Impersonate || id.User != tc.want.User || !slices.Equal(id.Groups, tc.want.Groups) {
				t.Errorf("Identity() = %+v, want %+v", id, tc.want)
			}
		})
	}
}

func TestSharesTargetNamespaces(t *testing.T) {
	tenantOf := func(ns string) string {
		return map[string]string{"team-a": "shop", "team-b": "shop", "team-c": "other", "team-e": "shoop"}[ns]
	}
	for _, tc := range []struct {
		name     string
		policy   tenancy.Policy
		owner    string
		tenantOf func(string) string
		want     bool
	}{
		{name: "own namespace", policy: tenantPolicy, owner: "team-a", tenantOf: tenantOf, want: true},
		{name: "own namespace, defaults", policy: defaultsPolicy, owner: "team-a", tenantOf: tenantOf, want: true},
		{name: "same tenant", policy: tenantPolicy, owner: "team-b", tenantOf: tenantOf, want: true},
		{name: "another tenant", policy: tenantPolicy, owner: "team-c", tenantOf: tenantOf},
		{name: "no tenant", policy: tenantPolicy, owner: "team-d", tenantOf: tenantOf},
		{name: "no owner", policy: tenantPolicy, owner: "", tenantOf: tenantOf},
		{name: "no owner, defaults", policy: defaultsPolicy, owner: "", tenantOf: func(string) string { return "" }},
		{name: "defaults, another namespace without a tenant", policy: defaultsPolicy, owner: "team-d",
			tenantOf: func(string) string { return "" }},
		{name: "defaults, another namespace of a tenant", policy: defaultsPolicy, owner: "team-b", tenantOf: tenantOf},
		{name: "missing Tenant, the same missing tenant", policy: missingPolicy, owner: "team-e", tenantOf: tenantOf},
		{name: "missing Tenant, own namespace", policy: missingPolicy, owner: "team-a", tenantOf: tenantOf},
		{name: "empty label, another namespace with an empty label", policy: emptyLabel, owner: "team-d", tenantOf: tenantOf},
		{name: "no tenantOf", policy: tenantPolicy, owner: "team-b"},
		{name: "no tenantOf, own namespace", policy: tenantPolicy, owner: "team-a", want: true},
		{name: "single team", policy: singleTeam, owner: "team-c", tenantOf: tenantOf, want: true},
		{name: "single team, no owner", policy: singleTeam, owner: "", tenantOf: tenantOf, want: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.policy.SharesTargetNamespaces(tc.owner, tc.tenantOf); got != tc.want {
				t.Errorf("SharesTargetNamespaces(%q) = %v, want %v", tc.owner, got, tc.want)
			}
		})
	}
}

func TestMatch(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "anything", true},
		{"*", "", true},
		{"shop", "shop", true},
		{"shop", "shop-1", false},
		{"shop", "Shop", false},
		{"shop-*", "shop-1", true},
		{"shop-*", "shop-", true},
		{"shop-*", "shop", false},
		{"shop-*", "SHOP-1", false},
		{"", "", false},
		{"", "shop", false},
		{"**", "*x", false},
		{"a*b", "a*b", false},
		{"a*b*", "a*bc", false},
		{"*shop", "my-shop", false},
		{"*shop", "*shop", false},
	} {
		if got := tenancy.Match(tc.pattern, tc.name); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

// TestNoHintForWhatNoTenantAllows: the defaults tell how to get more only when a Tenant
// could give it.
func TestNoHintForWhatNoTenantAllows(t *testing.T) {
	for _, r := range []*tenancy.Refusal{
		defaultsPolicy.Object(schema.GroupKind{Kind: "Namespace"}, false),
		defaultsPolicy.Object(schema.GroupKind{Group: "apps"}, true),
		defaultsPolicy.TargetNamespace(""),
		defaultsPolicy.Cluster("", "c", nil),
	} {
		if r == nil {
			t.Fatal("allowed")
		}
		if strings.Contains(r.Message, "write a Tenant") {
			t.Errorf("%q tells how to get more from a Tenant", r.Message)
		}
	}
}

// TestZeroPolicy: a Policy built by hand without Resolve is the defaults of its namespace.
func TestZeroPolicy(t *testing.T) {
	p := tenancy.Policy{Namespace: "team-a"}
	if p.Name() != defaultsPolicy.Name() {
		t.Errorf("Name() = %q", p.Name())
	}
	if p.Cluster("team-a", "c", nil) != nil || p.Cluster("fleet", "c", nil) == nil || p.Object(schema.GroupKind{Kind: "ConfigMap"}, true) != nil {
		t.Error("a Policy with no tenant is not the defaults")
	}
	// With a TenantName and no Tenant it is a missing Tenant.
	p.TenantName = "shop"
	if r := p.Cluster("team-a", "c", nil); r == nil || r.Rule != tenancy.RuleTenant {
		t.Errorf("a Policy naming a Tenant it does not have allowed its own Cluster: %v", r)
	}
}

func TestClusterCandidate(t *testing.T) {
	for _, tc := range []struct {
		name            string
		policy          tenancy.Policy
		namespace, clus string
		want            check
	}{
		{name: "own namespace", policy: tenantPolicy, namespace: "team-a", clus: "c1", want: allowed()},
		{name: "defaults, other namespace", policy: defaultsPolicy, namespace: "fleet", clus: "eu-1", want: refused(tenancy.RuleClusters, "Cluster fleet/eu-1")},
		{name: "missing Tenant", policy: missingPolicy, namespace: "team-a", clus: "c1", want: refused(tenancy.RuleTenant)},
		{name: "single team", policy: singleTeam, namespace: "fleet", clus: "x", want: allowed()},
		{name: "a rule with a selector: the labels decide", policy: tenantPolicy, namespace: "fleet", clus: "eu-1", want: allowed()},
		{name: "a rule without a selector", policy: tenantPolicy, namespace: "lab", clus: "any", want: allowed()},
		{name: "no rule for the namespace", policy: tenantPolicy, namespace: "fleet-2", clus: "eu-1", want: refused(tenancy.RuleClusters, "fleet-2/eu-1")},
		{name: "a rule of the namespace, not of the name", policy: tenantPolicy, namespace: "fleet", clus: "us-2", want: refused(tenancy.RuleClusters)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.verify(t, tc.policy, tc.policy.ClusterCandidate(tc.namespace, tc.clus))
		})
	}
	// Before and after reading, a refused Cluster gets the same words: whether it exists
	// is not told.
	if a, b := defaultsPolicy.ClusterCandidate("fleet", "eu-1"), defaultsPolicy.Cluster("fleet", "eu-1", map[string]string{"tier": "shared"}); a.Error() != b.Error() {
		t.Errorf("ClusterCandidate says %q, Cluster %q", a, b)
	}
}

func TestRecordName(t *testing.T) {
	shopDNS := tenant("shop", droverv1.TenantSpec{HostedZones: []droverv1.TenantHostedZone{
		{ID: "ZSHOP", RecordNames: []string{"shop.example.com", "*.shop.example.com"}},
		{ID: "ZEMPTY"},
	}})
	reserved := func(zone string) bool { return zone == "ZSHOP" || zone == "ZEMPTY" }
	tenantPolicy := tenancy.Resolve("team-a", labelled("shop"), lookupOf(shopDNS), false)
	defaults := tenancy.Resolve("team-b", nil, lookupOf(shopDNS), false)
	missing := tenancy.Resolve("team-c", labelled("gone"), lookupOf(shopDNS), false)
	single := tenancy.Resolve("team-d", labelled("gone"), lookupOf(shopDNS), true)
	for _, tc := range []struct {
		name   string
		policy tenancy.Policy
		zone   string
		record string
		want   string // "" allowed, else a part of the refusal
	}{
		{"the Tenant's name", tenantPolicy, "ZSHOP", "shop.example.com", ""},
		{"case and final dot do not count", tenantPolicy, "ZSHOP", "Shop.Example.COM.", ""},
		{"below the suffix", tenantPolicy, "ZSHOP", "eu.cart.shop.example.com", ""},
		{"a look-alike suffix", tenantPolicy, "ZSHOP", "evilshop.example.com", "no record name or suffix"},
		{"a sibling", tenantPolicy, "ZSHOP", "bank.example.com", "no record name or suffix"},
		{"a zone listed without names", tenantPolicy, "ZEMPTY", "shop.example.com", "no record name or suffix"},
		{"a zone the Tenant does not list", tenantPolicy, "ZOTHER", "shop.example.com", "does not list that hosted zone"},
		{"the defaults in a free zone", defaults, "ZOTHER", "anything.example.org", ""},
		{"the defaults in a zone a Tenant lists", defaults, "ZSHOP", "squat.shop.example.com", "a Tenant lists that zone"},
		{"a missing Tenant", missing, "ZOTHER", "anything.example.org", "does not exist"},
		{"single-team mode", single, "ZSHOP", "anything.example.org", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := tc.policy.RecordName(tc.zone, tc.record, reserved)
			switch {
			case tc.want == "" && got != nil:
				t.Errorf("refused: %v", got)
			case tc.want != "" && got == nil:
				t.Errorf("allowed, want a refusal saying %q", tc.want)
			case tc.want != "" && !strings.Contains(got.Message, tc.want):
				t.Errorf("refusal %q, want it to say %q", got.Message, tc.want)
			}
		})
	}
}

func TestRecordNameMatches(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"shop.example.com", "shop.example.com", true},
		{"shop.example.com", "a.shop.example.com", false},
		{"*.shop.example.com", "a.shop.example.com", true},
		{"*.shop.example.com", "shop.example.com", false},
		{"*.shop.example.com", "xshop.example.com", false},
		{"*.shop.example.com.", "A.SHOP.example.com", true},
		{"", "", false},
	} {
		if got := tenancy.RecordNameMatches(tc.pattern, tc.name); got != tc.want {
			t.Errorf("RecordNameMatches(%q, %q) = %v, want %v", tc.pattern, tc.name, got, tc.want)
		}
	}
}

func TestOctaviaProject(t *testing.T) {
	withProjects := tenancy.Resolve("team-a", labelled("shop"), lookupOf(tenant("shop", droverv1.TenantSpec{
		OctaviaProjects: []string{"4f1a2b3c4d5e4f60a1b2c3d4e5f6a7b8", "shop-prod"},
	})), false)
	for _, tc := range []struct {
		name    string
		policy  tenancy.Policy
		project string
		want    check
	}{
		{name: "listed", policy: withProjects, project: "4f1a2b3c4d5e4f60a1b2c3d4e5f6a7b8", want: allowed()},
		{name: "listed by name", policy: withProjects, project: "shop-prod", want: allowed()},
		{name: "not listed", policy: withProjects, project: "9f1a2b3c4d5e4f60a1b2c3d4e5f6a7b8",
			want: refused(tenancy.RuleOctaviaProjects, `Tenant "shop" does not allow`, `OpenStack project "9f1a2b3c4d5e4f60a1b2c3d4e5f6a7b8"`, "does not list")},
		{name: "a prefix of a listed one", policy: withProjects, project: "shop",
			want: refused(tenancy.RuleOctaviaProjects, "does not list")},
		{name: "listed one with a suffix", policy: withProjects, project: "shop-prod-2",
			want: refused(tenancy.RuleOctaviaProjects, "does not list")},
		{name: "case matters", policy: withProjects, project: "SHOP-PROD",
			want: refused(tenancy.RuleOctaviaProjects, "does not list")},
		{name: "no project", policy: withProjects, project: "",
			want: refused(tenancy.RuleOctaviaProjects, "did not say which project")},
		{name: "a Tenant that lists none", policy: tenantPolicy, project: "shop-prod",
			want: refused(tenancy.RuleOctaviaProjects, `Tenant "shop" does not allow`)},
		{name: "defaults", policy: defaultsPolicy, project: "shop-prod",
			want: refused(tenancy.RuleOctaviaProjects, append(slices.Clone(defaultsParts), "--default-octavia-projects")...)},
		{name: "defaults, a default project", policy: withDefaults(defaultsPolicy, "shop-prod"), project: "shop-prod", want: allowed()},
		{name: "defaults, another project", policy: withDefaults(defaultsPolicy, "shop-prod"), project: "shop-test",
			want: refused(tenancy.RuleOctaviaProjects, "--default-octavia-projects")},
		{name: "a Tenant is not widened by the default projects", policy: withDefaults(tenantPolicy, "shop-prod"), project: "shop-prod",
			want: refused(tenancy.RuleOctaviaProjects, `Tenant "shop" does not allow`)},
		{name: "a missing Tenant is not widened by the default projects", policy: withDefaults(missingPolicy, "shop-prod"), project: "shop-prod",
			want: refused(tenancy.RuleTenant, missingParts...)},
		{name: "missing Tenant", policy: missingPolicy, project: "shop-prod", want: refused(tenancy.RuleTenant, missingParts...)},
		{name: "empty label", policy: emptyLabel, project: "shop-prod", want: refused(tenancy.RuleTenant, "with an empty value")},
		{name: "single-team", policy: singleTeam, project: "anything", want: allowed()},
		{name: "single-team, no project", policy: singleTeam, project: "", want: allowed()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.want.verify(t, tc.policy, tc.policy.OctaviaProject(tc.project))
		})
	}
}

// withDefaults is p with the manager's --default-octavia-projects.
func withDefaults(p tenancy.Policy, projects ...string) tenancy.Policy {
	p.DefaultOctaviaProjects = projects
	return p
}
