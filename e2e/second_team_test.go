package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/cloudbed"
)

// A second team shares the fleet with the shop. It writes Prods in its own
// control-plane namespace as a ServiceAccount that may write nothing else, and tries to
// reach what is not its own: the fleet's Clusters without a Tenant, then, with a Tenant
// that lets it use one fleet cluster, the shop's target namespace, cluster-admin,
// kube-system and a fleet cluster its Tenant does not list. Each attempt is refused,
// at admission (the chart's ValidatingAdmissionPolicies) or on the Prod (Applied=False),
// and neither the attempts nor their updates and deletion touch the shop: its objects on
// every workload cluster keep their resourceVersions, its Prods stay Available and
// serving, its records in Route53 stay as they were, and nothing of the second team is
// left on any workload cluster.

const (
	// secondTeam is the second team's control-plane namespace and its Tenant's name.
	secondTeam = "payments"
	// secondTeamSA is the ServiceAccount the second team writes its Prods as.
	secondTeamSA = "deployer"
	// secondTeamCluster is the one fleet cluster the second team's Tenant allows;
	// secondTeamOtherCluster one it does not.
	secondTeamCluster      = "workload-1"
	secondTeamOtherCluster = "workload-2"
	// escalationBinding is the ClusterRoleBinding to cluster-admin the second team tries.
	escalationBinding = "payments-escalation"
	// plantedConfigMap is the ConfigMap the second team tries to put into kube-system.
	plantedConfigMap = "payments-planted"

	ownNamespacePolicy = "drover-own-namespace-clusters"
	tenantProdsPolicy  = "drover-tenant-prods"
	needsTenantPolicy  = "drover-tenant-label-needs-a-tenant"
)

// secondTeamWait is how long an admission policy, a Tenant or a namespace label gets to
// reach the API server's admission plugin, and a Prod to be refused by the manager.
var secondTeamWait = []any{30 * time.Second, 250 * time.Millisecond}

// secondTeamSpecs are the second team's part of the shop's story: it runs while the
// shop serves, and the story's sampler watches.
func secondTeamSpecs(story *shopStory) {
	It("a second team in its own namespace is refused the fleet, the shop's namespace, cluster-admin and kube-system, and the shop never notices", func(ctx SpecContext) {
		start := time.Now()
		before := snapshotShop(ctx, story)

		team := secondTeamClient(ctx)

		By("without a Tenant, a Prod on a fleet cluster is refused at admission")
		fleet := secondTeamProd("fleet", secondTeamCluster, secondTeam, configMap("settings", nil))
		expectAdmissionRefusal(ctx, team, fleet, ownNamespacePolicy,
			fmt.Sprintf("spec.clusterRef.namespace: no Tenant governs namespace %s: a Prod may name Clusters of its own namespace only, not of %s", secondTeam, bed.Namespace))

		Byf("the platform team gives the second team Tenant %s, allowing fleet cluster %s, and labels its namespace", secondTeam, secondTeamCluster)
		tenant := &droverv1.Tenant{
			ObjectMeta: metav1.ObjectMeta{Name: secondTeam},
			Spec: droverv1.TenantSpec{Clusters: []droverv1.TenantClusterRule{
				{Namespace: bed.Namespace, Names: []droverv1.NamePattern{secondTeamCluster}},
			}},
		}
		Expect(cp.Create(ctx, tenant)).To(Succeed())
		DeferCleanup(func(ctx SpecContext) {
			Expect(client.IgnoreNotFound(cp.Delete(ctx, tenant))).To(Succeed())
		})
		ns := &corev1.Namespace{}
		Expect(cp.Get(ctx, client.ObjectKey{Name: secondTeam}, ns)).To(Succeed())
		patch := client.MergeFrom(ns.DeepCopy())
		ns.Labels = map[string]string{droverv1.TenantLabel: secondTeam}
		Expect(cp.Patch(ctx, ns, patch)).To(Succeed())

		// The shop's target namespaces on the cluster the Tenant allows: one for each of
		// its Prods there.
		var shopNamespaces []string
		for _, p := range before.prods {
			if p.Spec.ClusterRef.Name == secondTeamCluster {
				shopNamespaces = append(shopNamespaces, p.Spec.TargetNamespace)
			}
		}
		Expect(shopNamespaces).NotTo(BeEmpty(), "the shop has no Prod on %s: %v", secondTeamCluster, prodsByCluster(before.prods))
		shopNS, otherShopNS := shopNamespaces[0], shopNamespaces[len(shopNamespaces)-1]
		Byf("a Prod into the shop's target namespace %s is NotOwned", shopNS)
		intoShop := createAdmitted(ctx, team, secondTeamProd("into-shop", secondTeamCluster, shopNS,
			configMap(shopNS+"-config", map[string]any{"LOG_LEVEL": "debug"})))
		expectProdRefused(ctx, intoShop, droverv1.ProdNotOwnedReason,
			fmt.Sprintf("namespace %s exists and was not created by drover for namespace %s", shopNS, secondTeam))

		// Kubernetes' own cluster-scoped kinds and the system namespaces are refused at
		// admission; the manager refuses them again (controllers/prod's tenancy tests,
		// which run without the admission policies).
		By("a Prod holding a ClusterRoleBinding to cluster-admin is refused at admission")
		escalate := secondTeamProd("escalate", secondTeamCluster, secondTeam+"-escalate",
			configMap("settings", nil), clusterAdminBinding(escalationBinding))
		expectAdmissionRefusal(ctx, team, escalate, tenantProdsPolicy,
			fmt.Sprintf("spec.manifests[1]: Tenant %s (namespace %s) does not allow ClusterRoleBinding rbac.authorization.k8s.io (spec.kinds.clusterScopedAllowed)", secondTeam, secondTeam))

		By("a Prod into kube-system is refused at admission")
		kubeSystem := secondTeamProd("into-kube-system", secondTeamCluster, metav1.NamespaceSystem, configMap(plantedConfigMap, nil))
		expectAdmissionRefusal(ctx, team, kubeSystem, tenantProdsPolicy,
			fmt.Sprintf("spec.targetNamespace: Tenant %s (namespace %s) does not allow target namespace %s (spec.targetNamespaces): it is a system namespace",
				secondTeam, secondTeam, metav1.NamespaceSystem))

		Byf("a Prod on fleet cluster %s, which the Tenant does not list, is refused at admission", secondTeamOtherCluster)
		elsewhere := secondTeamProd("elsewhere", secondTeamOtherCluster, secondTeam, configMap("settings", nil))
		expectAdmissionRefusal(ctx, team, elsewhere, tenantProdsPolicy,
			fmt.Sprintf("spec.clusterRef: Tenant %s (namespace %s) does not allow Cluster %s/%s", secondTeam, secondTeam, bed.Namespace, secondTeamOtherCluster))

		By("moving the NotOwned Prod to that cluster is refused: a Prod's clusterRef is immutable")
		moved := getTeamProd(ctx, team, intoShop)
		moved.Spec.ClusterRef.Name = secondTeamOtherCluster
		err := team.Update(ctx, moved)
		Expect(apierrors.IsInvalid(err)).To(BeTrue(), "updating Prod %s onto %s: want Invalid, got %v", client.ObjectKeyFromObject(intoShop), secondTeamOtherCluster, err)
		Expect(err.Error()).To(ContainSubstring("clusterRef is immutable"))

		Byf("updating the NotOwned Prod changes nothing: it is refused again at its new generation, retargeted to %s", otherShopNS)
		Eventually(func(g Gomega) {
			cur := getTeamProd(ctx, team, intoShop)
			cur.Spec.Version = "v2"
			cur.Spec.TargetNamespace = otherShopNS
			g.Expect(team.Update(ctx, cur)).To(Succeed())
		}, secondTeamWait...).Should(Succeed(), "updating Prod %s", client.ObjectKeyFromObject(intoShop))
		expectProdRefused(ctx, intoShop, droverv1.ProdNotOwnedReason, "namespace "+otherShopNS+" exists")

		By("deleting the refused Prod: it goes at once, having nothing on any cluster")
		Expect(team.Delete(ctx, intoShop)).To(Succeed())
		waitForGone(ctx, waitForGoneInput{Getter: cp, Object: &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Namespace: intoShop.Namespace, Name: intoShop.Name}},
			Where: "the control plane", Manager: manager.Manager}, secondTeamWait...)

		By("the shop never noticed: its objects, Prods and records are as they were")
		after := snapshotShop(ctx, story)
		Expect(after.objects).To(Equal(before.objects), "the shop's objects on the workload clusters (cluster kind namespace/name: resourceVersion)")
		GinkgoWriter.Printf("%d objects of the shop kept their resourceVersions\n", len(after.objects))
		Expect(after.records).To(Equal(before.records), "the shop's records in Route53")
		for i := range after.prods {
			p := &after.prods[i]
			available := meta.FindStatusCondition(p.Status.Conditions, droverv1.ProdAvailableCondition)
			Expect(available).NotTo(BeNil(), "Prod %s has no Available condition", p.Name)
			Expect(available.Status).To(Equal(metav1.ConditionTrue), "Prod %s is not Available: %s", p.Name, available.Message)
			Expect(available.LastTransitionTime.Time).To(BeTemporally("<", start), "Prod %s's Available changed while the second team tried", p.Name)
		}
		Expect(prodNames(after.prods)).To(Equal(prodNames(before.prods)), "the shop's Prods")
		if story.sampler != nil {
			var during []servingSample
			for _, s := range story.sampler.samplesOf(story.key) {
				if !s.At.Before(start) {
					during = append(during, s)
				}
			}
			GinkgoWriter.Printf("the sampler read the shop %d times while the second team tried\n", len(during))
			for _, s := range during {
				Expect(s.Serving).To(Equal(defaultSetReplicas), "the shop's serving Prods at %s", s.At.Format("15:04:05.000"))
			}
		}

		By("nothing of the second team is on any workload cluster")
		expectNothingOfSecondTeam(ctx)
		GinkgoWriter.Printf("the second team's attempts took %s\n", time.Since(start).Round(time.Millisecond))
	}, SpecTimeout(2*time.Minute))
}

// secondTeamClient makes the second team's control-plane namespace and a ServiceAccount
// there that may write Prods in it and nothing else (no Tenant, no label on its
// namespace, no Prod elsewhere), and returns a client acting as it.
func secondTeamClient(ctx context.Context) client.Client {
	Byf("making the second team's namespace %s and its ServiceAccount %s, which may write Prods there only", secondTeam, secondTeamSA)
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Namespace: secondTeam, Name: "prod-writer"},
		Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{droverv1.GroupVersion.Group}, Resources: []string{"prods"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		}},
	}
	for _, o := range []client.Object{
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: secondTeam}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: secondTeam, Name: secondTeamSA}},
		role,
		&rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: secondTeam, Name: "prod-writer"},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: secondTeam, Name: secondTeamSA}},
		},
	} {
		Expect(cp.Create(ctx, o)).To(Succeed(), "creating %T %s", o, client.ObjectKeyFromObject(o))
	}
	DeferCleanup(func(ctx SpecContext) {
		// The control plane has no namespace controller: the namespace stays Terminating,
		// and its label still names a Tenant that is gone, so nothing more can run there.
		Expect(client.IgnoreNotFound(cp.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: secondTeam}}))).To(Succeed())
	})
	kubeconfig, err := bed.ControlPlane.ServiceAccountKubeconfig(ctx, secondTeam, secondTeamSA, time.Hour)
	Expect(err).NotTo(HaveOccurred())
	team := clientOf(kubeconfig)
	expectIdentity(ctx, team, "the second team", fmt.Sprintf("system:serviceaccount:%s:%s", secondTeam, secondTeamSA), []authorizationv1.ResourceAttributes{
		{Verb: "create", Group: droverv1.GroupVersion.Group, Resource: "tenants"},
		{Verb: "patch", Resource: "namespaces", Name: secondTeam},
		{Verb: "create", Group: droverv1.GroupVersion.Group, Resource: "prods", Namespace: bed.Namespace},
		{Verb: "get", Resource: "secrets", Namespace: bed.Namespace},
	}, &corev1.SecretList{}, secondTeam)
	return team
}

// secondTeamProd is a Prod of the second team on the fleet cluster (a Cluster of the
// Clusters' namespace), applying objs into target.
func secondTeamProd(name, cluster, target string, objs ...map[string]any) *droverv1.Prod {
	p := &droverv1.Prod{
		ObjectMeta: metav1.ObjectMeta{Namespace: secondTeam, Name: name},
		Spec: droverv1.ProdSpec{
			ClusterRef:       droverv1.ClusterReference{Namespace: bed.Namespace, Name: cluster},
			ProdTemplateSpec: droverv1.ProdTemplateSpec{Version: "v1", TargetNamespace: target},
		},
	}
	for _, o := range objs {
		raw, err := json.Marshal(o)
		Expect(err).NotTo(HaveOccurred())
		p.Spec.Manifests = append(p.Spec.Manifests, runtime.RawExtension{Raw: raw})
	}
	return p
}

// configMap is a ConfigMap manifest.
func configMap(name string, data map[string]any) map[string]any {
	return map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": map[string]any{"name": name}, "data": data}
}

// clusterAdminBinding is a ClusterRoleBinding manifest making kube-system's default
// ServiceAccount cluster-admin.
func clusterAdminBinding(name string) map[string]any {
	return map[string]any{
		"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
		"metadata": map[string]any{"name": name},
		"roleRef":  map[string]any{"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
		"subjects": []any{map[string]any{"kind": "ServiceAccount", "name": "default", "namespace": metav1.NamespaceSystem}},
	}
}

// refusedBy reports whether err is a refusal by the ValidatingAdmissionPolicy policy
// whose message holds want.
func refusedBy(err error, policy, want string) bool {
	// A rule's refusal is Forbidden (its reason); a binding's (no Tenant) is Invalid.
	return err != nil && (apierrors.IsForbidden(err) || apierrors.IsInvalid(err)) &&
		strings.Contains(err.Error(), fmt.Sprintf("ValidatingAdmissionPolicy '%s'", policy)) && strings.Contains(err.Error(), want)
}

// expectAdmissionRefusal checks that c cannot create p: policy refuses it saying want.
// It first waits, with dry runs, until the API server's admission plugin refuses it
// (a policy, a Tenant or a namespace label reaches the plugin a moment after it is
// written); then the real creation must be refused the same way.
func expectAdmissionRefusal(ctx context.Context, c client.Client, p *droverv1.Prod, policy, want string) {
	key := client.ObjectKeyFromObject(p)
	var err error
	Eventually(func() bool {
		err = c.Create(ctx, p.DeepCopy(), client.DryRunAll)
		return refusedBy(err, policy, want)
	}, secondTeamWait...).Should(BeTrue(), func() string {
		return fmt.Sprintf("creating Prod %s (dry run): want a refusal by %s saying %q, got %v", key, policy, want, err)
	})
	err = c.Create(ctx, p.DeepCopy())
	Expect(refusedBy(err, policy, want)).To(BeTrue(), "creating Prod %s: want a refusal by %s saying %q, got %v", key, policy, want, err)
	GinkgoWriter.Printf("Prod %s refused at admission: %v\n", key, err)
	Expect(apierrors.IsNotFound(cp.Get(ctx, key, &droverv1.Prod{}))).To(BeTrue(), "Prod %s exists after its refusal", key)
}

// createAdmitted creates p as c. Until the admission plugin has seen the Tenant and the
// namespace's label, the label-needs-a-Tenant and own-namespace policies refuse it:
// those refusals are retried, any other fails.
func createAdmitted(ctx context.Context, c client.Client, p *droverv1.Prod) *droverv1.Prod {
	Eventually(func() error {
		obj := p.DeepCopy()
		err := c.Create(ctx, obj)
		if err == nil {
			p = obj
			return nil
		}
		if refusedBy(err, needsTenantPolicy, "") || refusedBy(err, ownNamespacePolicy, "") {
			return err
		}
		StopTrying(fmt.Sprintf("creating Prod %s", client.ObjectKeyFromObject(p))).Wrap(err).Now()
		return err
	}, secondTeamWait...).Should(Succeed(), "creating Prod %s", client.ObjectKeyFromObject(p))
	return p
}

// getTeamProd reads the Prod as c.
func getTeamProd(ctx context.Context, c client.Client, p *droverv1.Prod) *droverv1.Prod {
	cur := &droverv1.Prod{}
	Expect(c.Get(ctx, client.ObjectKeyFromObject(p), cur)).To(Succeed())
	return cur
}

// expectProdRefused waits until the Prod's status is for its current generation with
// Applied False for reason, its message holding every one of parts, and nothing recorded
// as applied.
func expectProdRefused(ctx context.Context, p *droverv1.Prod, reason string, parts ...string) {
	key := client.ObjectKeyFromObject(p)
	Byf("Waiting for Prod %s to be Applied=False, %s", key, reason)
	cur := &droverv1.Prod{}
	var readErr error
	Eventually(func(g Gomega) {
		stopIfManagerExited(manager.Manager)
		readErr = cp.Get(ctx, key, cur)
		g.Expect(readErr).NotTo(HaveOccurred())
		g.Expect(cur.Status.ObservedGeneration).To(Equal(cur.Generation), "the status is for generation %d", cur.Status.ObservedGeneration)
		applied := meta.FindStatusCondition(cur.Status.Conditions, droverv1.ProdAppliedCondition)
		g.Expect(applied).NotTo(BeNil())
		g.Expect(applied.Status).To(Equal(metav1.ConditionFalse))
		g.Expect(applied.Reason).To(Equal(reason))
		for _, part := range parts {
			g.Expect(applied.Message).To(ContainSubstring(part))
		}
		g.Expect(cur.Status.Inventory).To(BeEmpty(), "a refused Prod records nothing as applied")
		g.Expect(cur.Status.AppliedVersion).To(BeEmpty(), "a refused Prod applied no version")
	}, secondTeamWait...).Should(Succeed(), func() string {
		return describeProd(fmt.Sprintf("Prod %s was not refused (%s)", key, reason), cur, readErr)
	})
	GinkgoWriter.Printf("Prod %s refused: %s\n", key, meta.FindStatusCondition(cur.Status.Conditions, droverv1.ProdAppliedCondition).Message)
}

// shopSnapshot is what the second team must not change of the shop.
type shopSnapshot struct {
	// objects are "<cluster> <kind> <namespace>/<name>" → resourceVersion of each shop
	// Prod's target namespace on its cluster and the ConfigMaps, Deployments and
	// Services in it.
	objects map[string]string
	// records are the shop's records in Route53, by Prod.
	records map[string]cloudbed.ProdRecords
	// prods are the shop's Prods.
	prods []droverv1.Prod
}

// snapshotShop reads the shop's Prods, their objects on the workload clusters (the
// target namespace of each Prod on its cluster, and the ConfigMaps, Deployments and
// Services in it) and the shop's records.
func snapshotShop(ctx context.Context, story *shopStory) shopSnapshot {
	s := shopSnapshot{objects: map[string]string{}, prods: listSetProds(ctx, Default, story.key)}
	Expect(s.prods).To(HaveLen(defaultSetReplicas), "the shop's Prods")
	for _, p := range s.prods {
		cluster, ns := p.Spec.ClusterRef.Name, p.Spec.TargetNamespace
		w := bed.Workload(cluster)
		Expect(w).NotTo(BeNil(), "Prod %s's cluster %s", p.Name, cluster)
		n := &corev1.Namespace{}
		Expect(w.Client.Get(ctx, client.ObjectKey{Name: ns}, n)).To(Succeed(), "namespace %s on %s", ns, cluster)
		s.objects[cluster+" Namespace "+ns] = n.ResourceVersion
		for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &appsv1.DeploymentList{}, &corev1.ServiceList{}} {
			Expect(w.Client.List(ctx, list, client.InNamespace(ns))).To(Succeed())
			kind := strings.TrimSuffix(fmt.Sprintf("%T", list), "List")
			kind = kind[strings.LastIndex(kind, ".")+1:]
			Expect(meta.EachListItem(list, func(o runtime.Object) error {
				obj := o.(client.Object)
				s.objects[fmt.Sprintf("%s %s %s", cluster, kind, client.ObjectKeyFromObject(obj))] = obj.GetResourceVersion()
				return nil
			})).To(Succeed())
		}
		Expect(s.objects).To(HaveKey(fmt.Sprintf("%s Deployment %s/%s", cluster, ns, story.key.Name)),
			"Prod %s's Deployment among %v", p.Name, slices.Sorted(maps.Keys(s.objects)))
	}
	var err error
	s.records, err = readSetRecords(ctx, story.key)
	Expect(err).NotTo(HaveOccurred())
	Expect(s.records).To(HaveLen(defaultSetReplicas), "the shop's records")
	return s
}

// expectNothingOfSecondTeam checks every workload cluster for what the second team
// tried to put there: the ClusterRoleBinding, the ConfigMap in kube-system, a namespace
// made for it, any ConfigMap or ClusterRoleBinding of one of its Prods. (The shop's
// namespace is snapshotShop's to check.)
func expectNothingOfSecondTeam(ctx context.Context) {
	for _, w := range bed.Workloads {
		err := w.Client.Get(ctx, client.ObjectKey{Name: escalationBinding}, &rbacv1.ClusterRoleBinding{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "ClusterRoleBinding %s on %s: %v", escalationBinding, w.Name, err)
		err = w.Client.Get(ctx, client.ObjectKey{Namespace: metav1.NamespaceSystem, Name: plantedConfigMap}, &corev1.ConfigMap{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "ConfigMap %s/%s on %s: %v", metav1.NamespaceSystem, plantedConfigMap, w.Name, err)

		namespaces := &corev1.NamespaceList{}
		Expect(w.Client.List(ctx, namespaces)).To(Succeed())
		for _, n := range namespaces.Items {
			Expect(n.Annotations[droverv1.OwnerNamespaceAnnotation]).NotTo(Equal(secondTeam), "namespace %s on %s was made for the second team", n.Name, w.Name)
			Expect(n.Name).NotTo(HavePrefix(secondTeam), "namespace %s on %s", n.Name, w.Name)
		}
		for _, list := range []client.ObjectList{&corev1.ConfigMapList{}, &rbacv1.ClusterRoleBindingList{}} {
			Expect(w.Client.List(ctx, list, client.HasLabels{droverv1.ProdUIDLabel})).To(Succeed())
			Expect(meta.EachListItem(list, func(o runtime.Object) error {
				obj := o.(client.Object)
				Expect(obj.GetAnnotations()[droverv1.ProdRefAnnotation]).NotTo(HavePrefix(secondTeam+"/"),
					"%T %s on %s belongs to the second team", obj, client.ObjectKeyFromObject(obj), w.Name)
				return nil
			})).To(Succeed())
		}
	}
}
