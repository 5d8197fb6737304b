package rollouts_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// A manager that acts on a gate's verdict and dies before its status write must not
// leave the Prods ahead of the set's status: verdicts live in memory, so a restarted
// manager runs the gate again and, until it passes, decides from the status it reads —
// which put the canary back to its step weight and the Prod the next step had taken out
// of traffic back in, to take it out again once the gate passed (seen in the e2e suite's
// manager kills). The verdicts are written before anything acts on them.
//
// Here the death falls exactly there: from the moment the canary's HTTP check runs, the
// set's status writes are refused (a ValidatingAdmissionPolicy on prodsets/status), the
// check then passes, and the manager is restarted before the writes are let through
// again.
func TestRolloutStateIsRecordedBeforeProdsMove(t *testing.T) {
	g := NewWithT(t)
	release := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(release) }) }
	check := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(check.Close)
	t.Cleanup(open)

	newPolicy(t, "crash", droverv1.RolloutPolicySpec{
		Strategy: droverv1.InPlaceStrategy,
		Steps: []droverv1.RolloutStep{
			{Name: "canary", Selector: regionIs("eu"), Weight: ptr.To[int32](10), Gates: []droverv1.Gate{{HTTPCheck: &droverv1.HTTPCheckGate{
				URL: check.URL + "/healthz?prod={{ .Prod }}", ExpectedStatus: http.StatusOK, Tries: 1, SuccessPercent: 100,
				Interval: &metav1.Duration{Duration: 100 * time.Millisecond}, Timeout: &metav1.Duration{Duration: time.Minute},
			}}}},
			{Name: "rest"},
		},
	})
	set := newSet(t, "crash", "crash", 2)
	var canary, rest string
	for cluster, name := range byCluster(g, set) {
		if cluster[:2] == "eu" {
			canary = name
		} else {
			rest = name
		}
	}
	g.Expect(canary).NotTo(BeEmpty())
	g.Expect(rest).NotTo(BeEmpty())
	generations := map[string]int64{}
	for _, name := range []string{canary, rest} {
		generations[name] = getProd(g, set, name).Generation
	}

	v2 := ship(t, set, "v2")
	g.Eventually(func(g Gomega) {
		ro := getSet(g, set).Status.Rollout
		g.Expect(ro.Revision).To(Equal(v2))
		g.Expect(ro.GatesStartedTime).NotTo(BeNil(), "the canary's check runs: %s", ro.Message)
	}, 90*time.Second, 100*time.Millisecond).Should(Succeed())

	refuseStatusWrites(t, set)
	passed := counter(g, "drover_rollout_gate_results_total", "result", "passed")
	open() // the check passes now; the manager acts on it, and cannot record it
	g.Eventually(func() float64 { return counter(g, "drover_rollout_gate_results_total", "result", "passed") }, 30*time.Second, 50*time.Millisecond).
		Should(BeNumerically(">", passed), "the canary's check passed")
	// Two more failed reconciles: the second began after the first ended, so after the
	// verdict was in; it acted on it and could not record it.
	failed := counter(g, "controller_runtime_reconcile_errors_total", "controller", "prodset")
	g.Eventually(func() float64 {
		return counter(g, "controller_runtime_reconcile_errors_total", "controller", "prodset")
	}, 30*time.Second, 50*time.Millisecond).
		Should(BeNumerically(">=", failed+2), "the manager reconciled the set after the check passed, and its status writes were refused")
	restartManager(t)
	allowStatusWrites(t, set)

	waitPhase(t, set, v2, droverv1.RolloutSucceeded, 90*time.Second)
	// Each Prod's last write (revision v2, full weight) before its changes are counted.
	g.Eventually(func(g Gomega) {
		for _, name := range []string{canary, rest} {
			p := getProd(g, set, name)
			g.Expect(p.Labels[droverv1.RevisionLabel]).To(Equal(v2), "%s's revision", name)
			g.Expect(p.DesiredWeight()).To(Equal(droverv1.DefaultWeight), "%s's weight", name)
		}
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
	// Each Prod's spec changed as one InPlace move does and no more: out of traffic, the
	// new revision, back (the canary at its step weight first).
	g.Expect(getProd(g, set, rest).Generation-generations[rest]).To(BeEquivalentTo(3),
		"the Prod of the second step: weight 0, revision v2, weight 100; not back in traffic and out again")
	g.Expect(getProd(g, set, canary).Generation-generations[canary]).To(BeEquivalentTo(4),
		"the canary: weight 0, revision v2, weight 10, weight 100; not back to 10 and up again")
}

func getProd(g Gomega, set *droverv1.ProdSet, name string) *droverv1.Prod {
	p := &droverv1.Prod{}
	g.Expect(cp.Get(context.Background(), client.ObjectKey{Namespace: set.Namespace, Name: name}, p)).To(Succeed())
	return p
}

// counter sums the samples of a counter of this process's metrics whose label has value.
func counter(g Gomega, name, label, value string) float64 {
	families, err := ctrlmetrics.Registry.Gather()
	g.Expect(err).NotTo(HaveOccurred())
	var n float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == label && l.GetValue() == value {
					n += m.GetCounter().GetValue()
				}
			}
		}
	}
	return n
}

// refuseStatusWrites makes the API server refuse every write of the set's status, and
// waits until it does.
func refuseStatusWrites(t *testing.T, set *droverv1.ProdSet) {
	t.Helper()
	g := NewWithT(t)
	name := "refuse-status-of-" + set.Name
	policy := &admissionv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: ptr.To(admissionv1.Fail),
			MatchConstraints: &admissionv1.MatchResources{ResourceRules: []admissionv1.NamedRuleWithOperations{{
				RuleWithOperations: admissionv1.RuleWithOperations{
					Operations: []admissionv1.OperationType{admissionv1.Update},
					Rule:       admissionv1.Rule{APIGroups: []string{droverv1.GroupVersion.Group}, APIVersions: []string{"*"}, Resources: []string{"prodsets/status"}},
				},
			}}},
			MatchConditions: []admissionv1.MatchCondition{{Name: "this-set", Expression: fmt.Sprintf("object.metadata.namespace == %q && object.metadata.name == %q", set.Namespace, set.Name)}},
			Validations:     []admissionv1.Validation{{Expression: "false", Message: "the test refuses this set's status writes"}},
		},
	}
	binding := &admissionv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       admissionv1.ValidatingAdmissionPolicyBindingSpec{PolicyName: name, ValidationActions: []admissionv1.ValidationAction{admissionv1.Deny}},
	}
	g.Expect(cp.Create(context.Background(), policy)).To(Succeed())
	g.Expect(cp.Create(context.Background(), binding)).To(Succeed())
	t.Cleanup(func() { allowStatusWrites(t, set) })
	g.Eventually(func() error {
		s := getSet(g, set)
		patch := client.MergeFrom(s.DeepCopy())
		s.Status.ObservedRolloutCommand = "probe@" + time.Now().String()
		err := cp.Status().Patch(context.Background(), s, patch, client.DryRunAll)
		if err == nil {
			return fmt.Errorf("a status write of ProdSet %s still goes through", set.Name)
		}
		if !apierrors.IsInvalid(err) && !apierrors.IsForbidden(err) {
			return err
		}
		return nil
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
}

// allowStatusWrites removes what refuseStatusWrites made, and waits until the set's
// status can be written again.
func allowStatusWrites(t *testing.T, set *droverv1.ProdSet) {
	t.Helper()
	g := NewWithT(t)
	name := "refuse-status-of-" + set.Name
	for _, o := range []client.Object{
		&admissionv1.ValidatingAdmissionPolicyBinding{ObjectMeta: metav1.ObjectMeta{Name: name}},
		&admissionv1.ValidatingAdmissionPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}},
	} {
		g.Expect(client.IgnoreNotFound(cp.Delete(context.Background(), o))).To(Succeed())
	}
	g.Eventually(func() error {
		s := getSet(g, set)
		patch := client.MergeFrom(s.DeepCopy())
		s.Status.ObservedRolloutCommand = "probe@" + time.Now().String()
		return cp.Status().Patch(context.Background(), s, patch, client.DryRunAll)
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed())
}
