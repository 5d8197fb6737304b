package tenancy

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// The rules a Refusal names: the field of the Tenant's spec that would have to say
// otherwise, or RuleTenant when the Tenant the namespace names does not exist.
const (
	RuleTenant               = "tenant"
	RuleClusters             = "spec.clusters"
	RuleTargetNamespaces     = "spec.targetNamespaces"
	RuleClusterScopedAllowed = "spec.kinds.clusterScopedAllowed"
	RuleNamespacedAllowed    = "spec.kinds.namespacedAllowed"
	RuleNamespacedDenied     = "spec.kinds.namespacedDenied"
	RuleServiceAccount       = "spec.serviceAccount"
	RuleHostedZones          = "spec.hostedZones"
	RuleOctaviaProjects      = "spec.octaviaProjects"
)

// defaultsHint tells the reader of a refusal by the defaults how to get more.
const defaultsHint = "to allow more, label the namespace " + droverv1.TenantLabel + "=<name> and write a Tenant of that name"

// Policy is what the Prods of one control-plane namespace may reach. Build it with
// Resolve; the zero value of the tenancy fields (no TenantName, no Tenant) is the
// defaults.
type Policy struct {
	// Namespace is the Prods' control-plane namespace.
	Namespace string
	// TenantName is the namespace's drover.dev/tenant label, "" if none.
	TenantName string
	// Tenant is the Tenant of that name; nil for the defaults, or when it does not exist.
	Tenant *droverv1.Tenant
	// SingleTeam is the manager's --single-team flag: the tenancy checks are off.
	SingleTeam bool
	// DefaultOctaviaProjects are the OpenStack projects whose load balancers the defaults
	// (a namespace without a Tenant) may mirror: the manager's --default-octavia-projects,
	// none unless set. The caller sets it after Resolve.
	DefaultOctaviaProjects []string
	// DefaultGateNetworks are the networks the gates of a namespace without a Tenant may
	// connect to (the manager's --gate-networks); none: public addresses only. The
	// caller sets it; Resolve does not.
	DefaultGateNetworks []netip.Prefix

	// labelled is set by Resolve when the namespace carries the label, even with an
	// empty value: such a namespace asked for a Tenant, and never gets the defaults.
	labelled bool
}

// Resolve returns the Policy of a control-plane namespace from its labels. lookup finds a
// Tenant by name (ok false when there is none). A label naming a Tenant that lookup does
// not find, an empty label, a nil lookup, or a lookup that answers another Tenant than
// the one asked for, gives the Policy of a missing Tenant, which refuses everything.
func Resolve(namespace string, namespaceLabels map[string]string, lookup func(name string) (*droverv1.Tenant, bool), singleTeam bool) Policy {
	name, labelled := namespaceLabels[droverv1.TenantLabel]
	p := Policy{Namespace: namespace, TenantName: name, SingleTeam: singleTeam, labelled: labelled}
	if singleTeam || !labelled || name == "" || lookup == nil {
		return p
	}
	if t, ok := lookup(name); ok && t != nil && t.Name == name {
		p.Tenant = t
	}
	return p
}

// missing says whether the namespace names a Tenant that does not exist.
func (p Policy) missing() bool {
	return !p.SingleTeam && p.Tenant == nil && (p.TenantName != "" || p.labelled)
}

// defaults says whether the namespace has no Tenant and gets the defaults.
func (p Policy) defaults() bool {
	return !p.SingleTeam && p.Tenant == nil && !p.missing()
}

// Name names the policy for a message: `Tenant "shop"`, or
// `the defaults for namespace "team-a" (no Tenant)`.
func (p Policy) Name() string {
	switch {
	case p.SingleTeam:
		return "single-team mode (--single-team)"
	case p.defaults():
		return fmt.Sprintf("the defaults for namespace %q (no Tenant)", p.Namespace)
	}
	return fmt.Sprintf("Tenant %q", p.TenantName)
}

// Refusal says which rule of which policy refused what. Its message is meant for a
// Prod's Applied condition. The checks return a nil *Refusal when they allow: compare it
// with nil before storing it in an error, or the error is never nil.
type Refusal struct {
	// Policy is the Name of the refusing Policy.
	Policy string
	// Rule is the field of the Tenant that refused (one of the Rule constants).
	Rule string
	// Subject is what was refused: `Cluster fleet/workload-9`, `target namespace "shop"`,
	// `ClusterRoleBinding rbac.authorization.k8s.io`.
	Subject string
	// Message says all of it in a sentence.
	Message string
}

func (r *Refusal) Error() string { return r.Message }

// refuse builds the Refusal of rule for subject; why, when not empty, follows the
// sentence. A refusal by the defaults says how to get more.
func (p Policy) refuse(rule, subject, why string) *Refusal {
	return p.refusal(rule, subject, why, p.defaults())
}

// refuseAlways is refuse for what no Tenant can allow either: no hint.
func (p Policy) refuseAlways(rule, subject, why string) *Refusal {
	return p.refusal(rule, subject, why, false)
}

func (p Policy) refusal(rule, subject, why string, hint bool) *Refusal {
	if p.missing() {
		return p.refuseMissing(subject)
	}
	verb := "does"
	if p.defaults() {
		verb = "do" // the defaults
	}
	msg := fmt.Sprintf("%s %s not allow %s (%s)", p.Name(), verb, subject, rule)
	if why != "" {
		msg += ": " + why
	}
	if hint {
		msg += "; " + defaultsHint
	}
	return &Refusal{Policy: p.Name(), Rule: rule, Subject: subject, Message: msg}
}

// refuseMissing is the refusal of everything by a Tenant that does not exist.
func (p Policy) refuseMissing(subject string) *Refusal {
	label := fmt.Sprintf("labelled %s=%s", droverv1.TenantLabel, p.TenantName)
	if p.TenantName == "" {
		label = fmt.Sprintf("labelled %s with an empty value", droverv1.TenantLabel)
	}
	msg := fmt.Sprintf("%s does not exist, so it does not allow %s: namespace %q is %s, and nothing is allowed until that Tenant exists or the label changes",
		p.Name(), subject, p.Namespace, label)
	return &Refusal{Policy: p.Name(), Rule: RuleTenant, Subject: subject, Message: msg}
}

// Match says whether name matches a NamePattern: "*" matches every name, "prefix*" every
// name that starts with prefix, anything else only itself. A pattern the API would not
// admit (empty, or with a "*" anywhere but at its end) matches nothing.
func Match(pattern, name string) bool {
	if pattern == "*" {
		return true
	}
	if prefix, ok := strings.CutSuffix(pattern, "*"); ok {
		return prefix != "" && !strings.Contains(prefix, "*") && strings.HasPrefix(name, prefix)
	}
	return pattern != "" && !strings.Contains(pattern, "*") && pattern == name
}

// matchAny says whether any of patterns matches name.
func matchAny(patterns []droverv1.NamePattern, name string) bool {
	for _, pattern := range patterns {
		if Match(string(pattern), name) {
			return true
		}
	}
	return false
}

// Cluster says whether the Prods may run on the Cluster namespace/name with labels. A
// Cluster of the Prods' own namespace is always allowed (unless the Tenant is missing);
// one of another namespace only by a rule of spec.clusters with that namespace whose
// names (empty: any) match its name and whose selector (unset: any) matches its labels.
// A selector that does not parse allows nothing.
func (p Policy) Cluster(namespace, name string, clusterLabels map[string]string) *Refusal {
	subject := fmt.Sprintf("Cluster %s/%s", namespace, name)
	switch {
	case p.SingleTeam:
		return nil
	case p.missing():
		return p.refuseMissing(subject)
	case namespace == "":
		return p.refuseAlways(RuleClusters, subject, "a Cluster's namespace cannot be empty")
	case namespace == p.Namespace:
		return nil
	case p.defaults():
		return p.refuse(RuleClusters, subject, fmt.Sprintf("its Prods may run only on the Clusters of namespace %q", p.Namespace))
	}
	var broken []string
	for i, rule := range p.Tenant.Spec.Clusters {
		if rule.Namespace != namespace || (len(rule.Names) > 0 && !matchAny(rule.Names, name)) {
			continue
		}
		if rule.Selector == nil {
			return nil
		}
		selector, err := metav1.LabelSelectorAsSelector(rule.Selector)
		if err != nil {
			broken = append(broken, fmt.Sprintf("the selector of spec.clusters[%d] is not valid (%v)", i, err))
			continue
		}
		if selector.Matches(labels.Set(clusterLabels)) {
			return nil
		}
	}
	why := fmt.Sprintf("no rule allows it; its Prods may run on the Clusters of namespace %q and those the rules allow", p.Namespace)
	if len(broken) > 0 {
		why += "; " + strings.Join(broken, "; ")
	}
	return p.refuse(RuleClusters, subject, why)
}

// ClusterCandidate is Cluster before the Cluster is read: it refuses namespace/name when
// no labels could make it allowed, so a caller refuses a Cluster it may not use without
// reading it, and the refusal (the same words as Cluster's) tells nothing of whether the
// Cluster exists. It is nil when the labels decide (Cluster must be asked then).
func (p Policy) ClusterCandidate(namespace, name string) *Refusal {
	ref := p.Cluster(namespace, name, nil)
	if ref == nil || p.Tenant == nil || p.missing() {
		return ref
	}
	for _, rule := range p.Tenant.Spec.Clusters {
		if rule.Namespace == namespace && (len(rule.Names) == 0 || matchAny(rule.Names, name)) && rule.Selector != nil {
			return nil
		}
	}
	return ref
}

// systemNamespace says whether name is one of a workload cluster's system namespaces:
// default, or kube-system, kube-public, kube-node-lease or any other name starting with
// "kube-".
func systemNamespace(name string) bool {
	return name == "default" || strings.HasPrefix(name, "kube-")
}

// TargetNamespace checks a target namespace's name against spec.targetNamespaces (empty,
// or the defaults: any name). Whether the namespace, if it exists on the workload
// cluster, is the tenant's is checked elsewhere (SharesTargetNamespaces).
//
// The workload cluster's system namespaces (default, kube-system, kube-public,
// kube-node-lease and every other "kube-" name) are refused unless the Tenant lists that
// exact name: they hold what the cluster itself runs on (kube-system's controllers and
// their credentials, the node leases, the bootstrap data of kube-public, the kubernetes
// Service and whatever lands in default unqualified), so applying into one can take over
// the cluster and every tenant on it. A pattern is written for a team's own names, and
// "*" or "kube-*" must not hand these over by accident; only naming one does.
func (p Policy) TargetNamespace(name string) *Refusal {
	subject := fmt.Sprintf("target namespace %q", name)
	switch {
	case p.SingleTeam:
		return nil
	case p.missing():
		return p.refuseMissing(subject)
	case name == "":
		return p.refuseAlways(RuleTargetNamespaces, subject, "a target namespace needs a name")
	}
	var patterns []droverv1.NamePattern
	if p.Tenant != nil {
		patterns = p.Tenant.Spec.TargetNamespaces
	}
	if systemNamespace(name) {
		if p.Tenant != nil && listsExactly(patterns, name) {
			return nil
		}
		return p.refuse(RuleTargetNamespaces, subject,
			"it is a system namespace of the workload cluster, allowed only when the Tenant lists it by its exact name")
	}
	if len(patterns) == 0 || matchAny(patterns, name) {
		return nil
	}
	return p.refuse(RuleTargetNamespaces, subject, "no name or pattern of the Tenant matches it")
}

// listsExactly says whether patterns hold name itself, not as a pattern.
func listsExactly(patterns []droverv1.NamePattern, name string) bool {
	for _, pattern := range patterns {
		if string(pattern) == name {
			return true
		}
	}
	return false
}

// Object checks a kind of the manifests: namespaced says whether the workload cluster
// scopes it to a namespace. A cluster-scoped kind is allowed only when
// spec.kinds.clusterScopedAllowed holds it (the defaults allow none); the core Namespace
// never is, whatever it is said to be scoped as (drover creates and marks the target
// namespace itself). A namespaced kind is allowed when spec.kinds.namespacedAllowed is
// empty or holds it, and spec.kinds.namespacedDenied does not.
func (p Policy) Object(gk schema.GroupKind, namespaced bool) *Refusal {
	subject := kindName(gk)
	switch {
	case p.SingleTeam:
		return nil
	case p.missing():
		return p.refuseMissing(subject)
	case gk.Kind == "":
		return p.refuseAlways(kindRule(namespaced), subject, "an object needs a kind")
	case gk.Group == "" && gk.Kind == "Namespace":
		return p.refuseAlways(RuleClusterScopedAllowed, subject, "drover creates and marks each target namespace itself; a Namespace is never allowed in the manifests")
	}
	var kinds droverv1.TenantKinds
	if p.Tenant != nil {
		kinds = p.Tenant.Spec.Kinds
	}
	if !namespaced {
		if holdsKind(kinds.ClusterScopedAllowed, gk) {
			return nil
		}
		return p.refuse(RuleClusterScopedAllowed, subject, "it is cluster-scoped, and only the cluster-scoped kinds listed are allowed")
	}
	if len(kinds.NamespacedAllowed) > 0 && !holdsKind(kinds.NamespacedAllowed, gk) {
		return p.refuse(RuleNamespacedAllowed, subject, "it is not among the namespaced kinds allowed")
	}
	if holdsKind(kinds.NamespacedDenied, gk) {
		return p.refuse(RuleNamespacedDenied, subject, "it is among the namespaced kinds denied")
	}
	return nil
}

// Manifests is the first thing the policy refuses of a Prod's target namespace and its
// rendered objects (a namespaced object is in the target namespace once rendered), or
// nil. The Prod controller checks it before it applies anything, and the ReleaseDiff
// controller before it dry-runs a candidate template.
func (p Policy) Manifests(targetNamespace string, objs []*unstructured.Unstructured) error {
	if ref := p.TargetNamespace(targetNamespace); ref != nil {
		return ref
	}
	for i, o := range objs {
		if ref := p.Object(o.GroupVersionKind().GroupKind(), o.GetNamespace() != ""); ref != nil {
			return fmt.Errorf("spec.manifests[%d]: %w", i, ref)
		}
	}
	return nil
}

// kindRule is the rule that lists kinds of that scope.
func kindRule(namespaced bool) string {
	if namespaced {
		return RuleNamespacedAllowed
	}
	return RuleClusterScopedAllowed
}

// kindName names a kind with its group: "ClusterRoleBinding rbac.authorization.k8s.io",
// or "ConfigMap of the core group".
func kindName(gk schema.GroupKind) string {
	if gk.Group == "" {
		return gk.Kind + " of the core group"
	}
	return gk.Kind + " " + gk.Group
}

// holdsKind says whether list holds gk: the same group, and the same kind or "*".
func holdsKind(list []droverv1.GroupKind, gk schema.GroupKind) bool {
	for _, k := range list {
		if k.Group == gk.Group && (k.Kind == gk.Kind || k.Kind == "*") {
			return true
		}
	}
	return false
}

// Identity is who the Prods' objects are applied as on a workload cluster.
type Identity struct {
	// Impersonate is false for the manager's own identity; User and Groups are then empty.
	Impersonate bool
	// User is "system:serviceaccount:<namespace>:<name>".
	User string
	// Groups are those the API server gives that ServiceAccount: "system:serviceaccounts",
	// "system:serviceaccounts:<namespace>" and "system:authenticated".
	Groups []string
}

// Identity says who the Prods' objects are applied (and deleted) as: the Tenant's
// spec.serviceAccount, impersonated, or the manager itself for the defaults, single-team
// mode and a Tenant without one. A missing Tenant refuses: falling back to the manager's
// identity would be the opposite of failing closed. So does a ServiceAccount whose
// namespace or name the API would not admit, rather than impersonate a made-up user.
func (p Policy) Identity() (Identity, *Refusal) {
	switch {
	case p.SingleTeam || p.defaults():
		return Identity{}, nil
	case p.missing():
		return Identity{}, p.refuseMissing("applying or deleting as any identity")
	}
	sa := p.Tenant.Spec.ServiceAccount
	if sa == nil {
		return Identity{}, nil
	}
	if len(validation.IsDNS1123Label(sa.Namespace)) > 0 || len(validation.IsDNS1123Subdomain(sa.Name)) > 0 {
		return Identity{}, p.refuse(RuleServiceAccount, fmt.Sprintf("ServiceAccount %q/%q", sa.Namespace, sa.Name),
			"its namespace must be a DNS label and its name a DNS subdomain")
	}
	return Identity{
		Impersonate: true,
		User:        "system:serviceaccount:" + sa.Namespace + ":" + sa.Name,
		Groups:      []string{"system:serviceaccounts", "system:serviceaccounts:" + sa.Namespace, "system:authenticated"},
	}, nil
}

// SharesTargetNamespaces says whether the Prods may apply into a workload namespace whose
// drover.dev/owner-namespace annotation is ownerNamespace: when that is their own
// namespace, or a control-plane namespace of the same Tenant (tenantOf gives a
// control-plane namespace's drover.dev/tenant label, "" if none). A namespace without the
// annotation ("") is nobody's, and a missing Tenant shares nothing, not even its own.
// Single-team mode shares everything, as drover did before it was multi-tenant.
func (p Policy) SharesTargetNamespaces(ownerNamespace string, tenantOf func(controlPlaneNamespace string) string) bool {
	switch {
	case p.SingleTeam:
		return true
	case ownerNamespace == "" || p.missing():
		return false
	case ownerNamespace == p.Namespace:
		return true
	}
	return p.Tenant != nil && p.TenantName != "" && tenantOf != nil && tenantOf(ownerNamespace) == p.TenantName
}

// dnsName lower-cases a DNS name and drops its final dot.
func dnsName(name string) string { return strings.TrimSuffix(strings.ToLower(name), ".") }

// RecordName checks a ProdSet's service name in a Route53 hosted zone. A Tenant's sets may
// use only the zones of spec.hostedZones, and in each only the names its recordNames list:
// a name ("shop.example.com") or every name below a suffix ("*.shop.example.com", which
// does not hold shop.example.com itself). reserved says whether some Tenant lists a zone:
// the defaults may publish in any zone no Tenant lists, and in none that one does, so a
// platform team protects a zone by giving it to the Tenants that share it. Which set of
// several that may use a name holds it is decided elsewhere (one name, one set).
func (p Policy) RecordName(zoneID, name string, reserved func(zoneID string) bool) *Refusal {
	subject := fmt.Sprintf("record %s in hosted zone %s", dnsName(name), zoneID)
	switch {
	case p.SingleTeam:
		return nil
	case p.missing():
		return p.refuseMissing(subject)
	case p.defaults():
		if reserved != nil && reserved(zoneID) {
			return p.refuse(RuleHostedZones, subject, "a Tenant lists that zone, so only the namespaces of Tenants may publish in it")
		}
		return nil
	}
	for _, z := range p.Tenant.Spec.HostedZones {
		if z.ID != zoneID {
			continue
		}
		for _, pattern := range z.RecordNames {
			if RecordNameMatches(pattern, name) {
				return nil
			}
		}
		return p.refuse(RuleHostedZones, subject, "no record name or suffix the Tenant lists for that zone matches it")
	}
	return p.refuse(RuleHostedZones, subject, "the Tenant does not list that hosted zone")
}

// RecordNameMatches says whether a record name pattern of a Tenant holds name: the same
// name, or for "*.suffix" a name strictly below suffix. Case and a final dot do not count.
func RecordNameMatches(pattern, name string) bool {
	pattern, name = dnsName(pattern), dnsName(name)
	if suffix, ok := strings.CutPrefix(pattern, "*."); ok {
		return strings.HasSuffix(name, "."+suffix)
	}
	return pattern != "" && pattern == name
}

// ListsZone says whether a Tenant lists a hosted zone (what RecordName's reserved asks).
func ListsZone(t *droverv1.Tenant, zoneID string) bool {
	for _, z := range t.Spec.HostedZones {
		if z.ID == zoneID {
			return true
		}
	}
	return false
}

// OctaviaProject says whether the Prods may read and mirror an Octavia load balancer of the
// OpenStack project projectID (the load balancer's project_id, as Octavia answers it). A
// Tenant allows the projects its spec.octaviaProjects lists, by exact id, and no other:
// an empty list allows none. The defaults allow DefaultOctaviaProjects only (none unless
// the platform team names some): a namespace without a Tenant has no project of its own,
// and any load balancer the manager's credentials can read (with an admin role, every
// project's) would otherwise be its to mirror and to read the VIP of. Single-team mode
// allows every project, as drover did before it was multi-tenant. A load balancer
// without a project is refused.
func (p Policy) OctaviaProject(projectID string) *Refusal {
	subject := fmt.Sprintf("the Octavia load balancers of OpenStack project %q", projectID)
	switch {
	case p.SingleTeam:
		return nil
	case p.missing():
		return p.refuseMissing(subject)
	case projectID == "":
		return p.refuseAlways(RuleOctaviaProjects, "an Octavia load balancer without a project", "Octavia did not say which project the load balancer is of")
	case p.defaults() && slices.Contains(p.DefaultOctaviaProjects, projectID):
		return nil
	case p.defaults():
		return p.refuse(RuleOctaviaProjects, subject, "a namespace without a Tenant may mirror only the projects of the manager's --default-octavia-projects")
	}
	if slices.Contains(p.Tenant.Spec.OctaviaProjects, projectID) {
		return nil
	}
	return p.refuse(RuleOctaviaProjects, subject, "the Tenant does not list that project")
}
