package tenancy_test

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/tenancy"
)

// FuzzMatch checks the NamePattern rules on any pattern and name: "*" matches every
// name; a pattern without "*" only itself (and never when empty); "prefix*" exactly the
// names that start with a prefix without "*"; any other "*" matches nothing.
//
//	go test -run='^$' -fuzz='^FuzzMatch$' -fuzztime=30s ./internal/tenancy/
func FuzzMatch(f *testing.F) {
	for _, seed := range [][2]string{{"*", ""}, {"shop-*", "shop-1"}, {"shop", "shop"}, {"", ""}, {"a*b", "a*b"}, {"**", "*"}, {"*a", "ba"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		got := tenancy.Match(pattern, name)
		if tenancy.Match("*", name) != true {
			t.Fatalf("* does not match %q", name)
		}
		stars := strings.Count(pattern, "*")
		var want bool
		switch {
		case pattern == "*":
			want = true
		case stars == 0:
			want = pattern != "" && pattern == name
		case stars == 1 && strings.HasSuffix(pattern, "*") && len(pattern) > 1:
			want = strings.HasPrefix(name, strings.TrimSuffix(pattern, "*"))
		}
		if got != want {
			t.Fatalf("Match(%q, %q) = %v, want %v", pattern, name, got, want)
		}
		if got && pattern != "*" && !strings.HasSuffix(pattern, "*") && pattern != name {
			t.Fatalf("Match(%q, %q): an exact pattern matched another name", pattern, name)
		}
	})
}

// FuzzPolicy builds a Tenant of one cluster rule, one target namespace pattern, one kind
// in each list and a ServiceAccount from arbitrary strings, and checks every check of its
// Policy, the defaults', a missing Tenant's and single-team mode's against the rules
// that keep tenants apart:
//
//   - a refusal names its policy (Policy is the Policy's Name), rule and subject, and
//     its message says all three; the checks are deterministic;
//   - single-team mode allows everything and applies as the manager;
//   - a missing Tenant allows nothing, shares nothing and has no identity;
//   - a Cluster of the Prods' own namespace is always allowed otherwise; the defaults
//     allow no other, and a rule whose selector does not parse allows none;
//   - a system namespace is a target only when the Tenant names it exactly;
//   - the core Namespace is never allowed, nor any cluster-scoped kind by the defaults;
//   - an impersonated user is a ServiceAccount's, with no ":" smuggled into its parts.
func FuzzPolicy(f *testing.F) {
	f.Add("team-a", "fleet", "eu-1", "eu-*", "tier", "In", "shared", "shop-*", "shop-1", "rbac.authorization.k8s.io", "ClusterRole", false, "shop", "apply")
	f.Add("team-a", "team-a", "c", "*", "tier", "Bogus", "x", "*", "kube-system", "", "Namespace", false, "shop", "a:b")
	f.Add("team-a", "fleet", "c", "", "", "Exists", "", "kube-system", "kube-system", "", "*", true, "", "")
	f.Add("", "", "", "", "tier", "NotIn", "", "", "", "", "", true, "a:b", "c")
	f.Add("team-a", "fleet", "eu-1", "eu-1", "bad key!", "In", "v", "default", "default", "example.com", "*", false, "ns", "sa")
	f.Fuzz(func(t *testing.T, namespace, clusterNamespace, clusterName, namePattern, labelKey, operator, labelValue,
		targetPattern, target, group, kind string, namespaced bool, saNamespace, saName string) {
		rule := droverv1.TenantClusterRule{Namespace: clusterNamespace, Names: []droverv1.NamePattern{droverv1.NamePattern(namePattern)}}
		if labelKey != "" {
			rule.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: labelKey, Operator: metav1.LabelSelectorOperator(operator), Values: []string{labelValue}}}}
		}
		gk := droverv1.GroupKind{Group: group, Kind: kind}
		spec := droverv1.TenantSpec{
			Clusters:         []droverv1.TenantClusterRule{rule},
			TargetNamespaces: []droverv1.NamePattern{droverv1.NamePattern(targetPattern)},
			Kinds: droverv1.TenantKinds{NamespacedAllowed: []droverv1.GroupKind{gk}, NamespacedDenied: []droverv1.GroupKind{{Group: "x", Kind: kind}},
				ClusterScopedAllowed: []droverv1.GroupKind{gk}},
			ServiceAccount: &droverv1.TenantServiceAccount{Namespace: saNamespace, Name: saName},
		}
		lookup := lookupOf(tenant("fuzz", spec))
		clusterLabels := map[string]string{labelKey: labelValue}
		objectGK := schema.GroupKind{Group: group, Kind: kind}

		tenantP := tenancy.Resolve(namespace, labelled("fuzz"), lookup, false)
		defaultsP := tenancy.Resolve(namespace, nil, lookup, false)
		missingP := tenancy.Resolve(namespace, labelled("gone"), lookup, false)
		singleP := tenancy.Resolve(namespace, labelled("gone"), lookup, true)
		if tenantP.Tenant == nil {
			t.Fatal("Resolve did not find the Tenant")
		}

		for _, p := range []tenancy.Policy{tenantP, defaultsP, missingP, singleP} {
			refusals := map[string]*tenancy.Refusal{
				"Cluster":         p.Cluster(clusterNamespace, clusterName, clusterLabels),
				"own Cluster":     p.Cluster(namespace, clusterName, clusterLabels),
				"TargetNamespace": p.TargetNamespace(target),
				"Object":          p.Object(objectGK, namespaced),
				"Namespace":       p.Object(schema.GroupKind{Kind: "Namespace"}, namespaced),
			}
			_, identityRefusal := p.Identity()
			refusals["Identity"] = identityRefusal

			// Deterministic, and every refusal says who refused what by which rule.
			again := p.Cluster(clusterNamespace, clusterName, clusterLabels)
			if (again == nil) != (refusals["Cluster"] == nil) || (again != nil && *again != *refusals["Cluster"]) {
				t.Fatalf("%s: Cluster is not deterministic", p.Name())
			}
			for check, r := range refusals {
				if r == nil {
					continue
				}
				if r.Policy == "" || r.Rule == "" || r.Subject == "" || r.Message == "" || r.Policy != p.Name() {
					t.Fatalf("%s: %s: incomplete refusal %+v", p.Name(), check, r)
				}
				if !strings.Contains(r.Message, r.Policy) || !strings.Contains(r.Message, r.Subject) ||
					(r.Rule != tenancy.RuleTenant && !strings.Contains(r.Message, "("+r.Rule+")")) {
					t.Fatalf("%s: %s: the message %q does not name the policy, the subject and the rule %q", p.Name(), check, r.Message, r.Rule)
				}
			}

			switch {
			case p.SingleTeam:
				for check, r := range refusals {
					if r != nil {
						t.Fatalf("single team: %s refused: %s", check, r.Message)
					}
				}
				if id, _ := p.Identity(); id.Impersonate {
					t.Fatalf("single team impersonates %s", id.User)
				}
				if !p.SharesTargetNamespaces(clusterNamespace, func(string) string { return "" }) {
					t.Fatal("single team shares no target namespace")
				}
			case p.TenantName == "gone":
				for check, r := range refusals {
					if r == nil || r.Rule != tenancy.RuleTenant || !strings.Contains(r.Message, "does not exist") {
						t.Fatalf("a missing Tenant: %s not refused by the tenant rule: %v", check, r)
					}
				}
				if p.SharesTargetNamespaces(namespace, func(string) string { return "gone" }) {
					t.Fatal("a missing Tenant shares a target namespace")
				}
				if id, _ := p.Identity(); id.Impersonate || id.User != "" {
					t.Fatalf("a missing Tenant has an identity: %+v", id)
				}
			default:
				if namespace != "" && refusals["own Cluster"] != nil {
					t.Fatalf("%s: own Cluster refused: %s", p.Name(), refusals["own Cluster"].Message)
				}
				if refusals["Namespace"] == nil {
					t.Fatalf("%s: Namespace allowed", p.Name())
				}
				if namespace != "" && !p.SharesTargetNamespaces(namespace, nil) {
					t.Fatalf("%s: own target namespaces not shared", p.Name())
				}
				if p.SharesTargetNamespaces("", func(string) string { return p.TenantName }) {
					t.Fatalf("%s: a namespace without an owner is shared", p.Name())
				}
				systemTarget := target == "default" || strings.HasPrefix(target, "kube-")
				if systemTarget && refusals["TargetNamespace"] == nil && (p.Tenant == nil || targetPattern != target) {
					t.Fatalf("%s: system namespace %q allowed by pattern %q", p.Name(), target, targetPattern)
				}
				if p.Tenant == nil {
					if clusterNamespace != namespace && refusals["Cluster"] == nil {
						t.Fatalf("the defaults allow Cluster %s/%s", clusterNamespace, clusterName)
					}
					if !namespaced && refusals["Object"] == nil {
						t.Fatalf("the defaults allow the cluster-scoped %v", objectGK)
					}
					if target != "" && !systemTarget && refusals["TargetNamespace"] != nil {
						t.Fatalf("the defaults refuse target namespace %q", target)
					}
					break
				}
				if rule.Selector != nil && clusterNamespace != namespace && refusals["Cluster"] == nil {
					if _, err := metav1.LabelSelectorAsSelector(rule.Selector); err != nil {
						t.Fatalf("an invalid selector allowed Cluster %s/%s: %v", clusterNamespace, clusterName, err)
					}
				}
				if id, r := p.Identity(); r == nil && id.Impersonate {
					parts := strings.Split(id.User, ":")
					if len(parts) != 4 || parts[2] != saNamespace || parts[3] != saName || len(id.Groups) != 3 {
						t.Fatalf("impersonated user %q for ServiceAccount %q/%q, groups %v", id.User, saNamespace, saName, id.Groups)
					}
				}
			}
		}
	})
}
