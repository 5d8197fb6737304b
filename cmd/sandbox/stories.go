package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/cli"
	"github.com/drover-dev/drover/internal/test/cloudbed"
	"github.com/drover-dev/drover/internal/test/harness"
)

// The walk through the users' stories (docs/release-engineer-guide.md,
// docs/platform-team-guide.md, docs/security.md), once the Prods are up: a second team
// without a Tenant tries to run a Prod on the shop's Cluster and is refused; the release
// engineer ships v2 through the ProdSet's RolloutPolicy, then v3, whose HTTP check fails
// and which drover rolls back, then v4, which its baseline gate judges worse than the
// Prods still on v2 and drover rolls back; the platform team drains a cluster and
// restores it. Every fact the walk
// prints is read from the objects' status or from Route53; the commands are those a user
// would type, and the kubectl drover ones run in-process (internal/cli).

// storyPoll is how often the walk reads the ProdSet and the maintenance.
const storyPoll = time.Second

// Story timeouts: each story fails after this long.
const (
	rolloutTimeout = 4 * time.Minute
	drainTimeout   = 3 * time.Minute
	// servingTimeout bounds the wait for every Prod to serve after a rollout;
	// publishTimeout the wait for their first publication in Route53 (NLBs first).
	servingTimeout = time.Minute
	publishTimeout = 3 * time.Minute
)

// walk is what the stories need.
type walk struct {
	sb      *sandbox
	out     io.Writer
	set     client.ObjectKey // the ProdSet shipped
	cluster string           // the cluster drained
}

// walkReport is what happened, for the test.
type walkReport struct {
	Good, Bad *droverv1.RolloutStatus // the rollouts of v2 and v3 as they ended
	// Judged is the rollout of worseVersion as it ended: its baseline gate failed.
	Judged   *droverv1.RolloutStatus
	Promoted []string // the steps the walk promoted, by name
	// Drained are the drained cluster's Prods (namespace/name) with their service-level
	// weights in Route53 once the maintenance was Drained.
	Drained map[string]int64
	// Tenancy is what the second team's attempt came to.
	Tenancy *tenancyReport
}

// newWalk finds the ProdSet to ship (the first applied) and the cluster to drain (the
// ClusterMaintenance sample's, else the second workload cluster).
func newWalk(sb *sandbox, out io.Writer) (*walk, error) {
	w := &walk{sb: sb, out: out, cluster: workloads[1].Name}
	for _, o := range sb.applied {
		if o.GetKind() == "ProdSet" && w.set.Name == "" {
			w.set = client.ObjectKeyFromObject(o)
		}
	}
	for _, o := range sb.skipped {
		if name, _, _ := unstructured.NestedString(o.Object, "spec", "clusterName"); o.GetKind() == "ClusterMaintenance" && name != "" {
			w.cluster = name
		}
	}
	if w.set.Name == "" {
		return nil, fmt.Errorf("no ProdSet among the samples applied")
	}
	return w, nil
}

// runStories walks the stories and reports what happened; an error means a story did
// not end as it should (or ctx ended).
func runStories(ctx context.Context, sb *sandbox, out io.Writer) (*walkReport, error) {
	w, err := newWalk(sb, out)
	if err != nil {
		return nil, err
	}
	w.followAlong()
	rep := &walkReport{}
	set := &droverv1.ProdSet{}
	if err := sb.bed.ControlPlane.Client.Get(ctx, w.set, set); err != nil {
		return nil, err
	}
	w.say("\nwaiting for drover to publish every Prod of ProdSet %s (version %s) at its weight in Route53...", w.set, set.Spec.Template.Spec.Version)
	if err := w.waitServing(ctx, set.Spec.Template.Spec.Version, publishTimeout); err != nil {
		return rep, err
	}

	w.say("\n=== story 1, tenancy: a second team, in namespace %s without a Tenant, reaches for the shop's cluster ===", secondTeam)
	if rep.Tenancy, err = w.tenancyStory(ctx); err != nil {
		return rep, fmt.Errorf("the second team: %w", err)
	}
	if !rep.Tenancy.Unchanged {
		return rep, fmt.Errorf("the shop's Prods changed while the second team tried")
	}

	w.say("\n=== story 2, the release engineer: ship v2 through the rollout policy ===")
	if rep.Good, err = w.ship(ctx, "v2", rep); err != nil {
		return rep, fmt.Errorf("shipping v2: %w", err)
	}
	if rep.Good.Phase != droverv1.RolloutSucceeded {
		return rep, fmt.Errorf("the rollout of v2 ended %s: %s", rep.Good.Phase, rep.Good.Message)
	}
	if err := w.waitServing(ctx, "v2", servingTimeout); err != nil {
		return rep, err
	}

	w.say("\n=== story 3, a bad release: ship v3, whose HTTP check fails (the sandbox's endpoint answers 500 for %s) ===", badVersion)
	if rep.Bad, err = w.ship(ctx, "v3", rep); err != nil {
		return rep, fmt.Errorf("shipping v3: %w", err)
	}
	if rep.Bad.Phase != droverv1.RolloutRolledBack {
		return rep, fmt.Errorf("the rollout of v3 ended %s, not RolledBack: %s", rep.Bad.Phase, rep.Bad.Message)
	}
	w.sayRollback(rep.Bad)
	if err := w.waitServing(ctx, "v2", servingTimeout); err != nil {
		return rep, err
	}

	w.say("\n=== story 4, a worse release: ship %s, whose error ratio (the sandbox's Prometheus serves one per Prod) is three times that of the Prods still on v2 ===", worseVersion)
	if rep.Judged, err = w.ship(ctx, worseVersion, rep); err != nil {
		return rep, fmt.Errorf("shipping %s: %w", worseVersion, err)
	}
	if rep.Judged.Phase != droverv1.RolloutRolledBack {
		return rep, fmt.Errorf("the rollout of %s ended %s, not RolledBack: %s", worseVersion, rep.Judged.Phase, rep.Judged.Message)
	}
	w.say("\nwhy: %s\nthe judgement, as kubectl drover status shows it:\n", rep.Judged.Message)
	if err := w.plugin(ctx, "-n", w.set.Namespace, "status", w.set.Name); err != nil {
		return rep, err
	}
	if err := w.waitServing(ctx, "v2", servingTimeout); err != nil {
		return rep, err
	}

	w.say("\n=== story 5, the platform team: drain cluster %s for maintenance, then restore it ===", w.cluster)
	if rep.Drained, err = w.drainAndRestore(ctx); err != nil {
		return rep, err
	}
	w.say("\n=== the stories are done; the sandbox keeps running ===")
	return rep, nil
}

// say prints a line of narration.
func (w *walk) say(format string, args ...any) {
	fmt.Fprintf(w.out, format+"\n", args...)
}

// stamp prints a line with the time.
func (w *walk) stamp(format string, args ...any) {
	fmt.Fprintf(w.out, "%s "+format+"\n", append([]any{time.Now().Format(time.TimeOnly)}, args...)...)
}

// followAlong prints the commands that follow the walk from another shell.
func (w *walk) followAlong() {
	bin := filepath.Join(w.sb.cfg.root, "bin")
	w.say("\nthe sandbox now walks through the users' stories (--stories=false skips this). Follow along in another shell:\n")
	w.say("  export KUBECONFIG=%s", w.sb.cfg.kubeconfigOut)
	w.say("  export PATH=%s:$PATH   # kubectl-drover (make build) becomes `kubectl drover`", bin)
	w.say("  kubectl drover dashboard          # the same, live, in the browser")
	w.say("  kubectl drover status %s -n %s -w", w.set.Name, w.set.Namespace)
	w.say("  kubectl get prods -n %s -w", w.set.Namespace)
	w.say("  kubectl drover cluster list")
}

// ship sets the ProdSet's version, follows the rollout it starts until it ends, and
// says how it went. It promotes a step waiting only for approvals, as a user would.
func (w *walk) ship(ctx context.Context, version string, rep *walkReport) (*droverv1.RolloutStatus, error) {
	ctx, cancel := context.WithTimeout(ctx, rolloutTimeout)
	defer cancel()
	cp := w.sb.bed.ControlPlane.Client
	set := &droverv1.ProdSet{}
	if err := cp.Get(ctx, w.set, set); err != nil {
		return nil, err
	}
	before := ""
	if set.Status.Rollout != nil {
		before = set.Status.Rollout.Revision
	}
	w.say("version %s → %s:\n\n  kubectl patch prodset %s -n %s --type merge -p '{\"spec\":{\"template\":{\"spec\":{\"version\":%q}}}}'\n",
		set.Spec.Template.Spec.Version, version, w.set.Name, w.set.Namespace, version)
	patch := client.MergeFrom(set.DeepCopy())
	set.Spec.Template.Spec.Version = version
	if err := cp.Patch(ctx, set, patch); err != nil {
		return nil, err
	}
	generation := set.Generation

	last := ""
	promoted := map[int32]bool{}
	for {
		if err := cp.Get(ctx, w.set, set); err != nil && ctx.Err() == nil {
			w.stamp("(will retry) %v", err)
		}
		ro := set.Status.Rollout
		if set.Status.ObservedGeneration >= generation && ro != nil && ro.Revision != before {
			line := fmt.Sprintf("rollout %s (version %s) %s", short(ro.Revision), version, ro.Phase)
			if ro.Phase == droverv1.RolloutProgressing || ro.Phase == droverv1.RolloutPaused {
				line += fmt.Sprintf(" at step %d/%s (%s)", ro.Step+1, w.steps(ctx, ro), ro.StepName)
			}
			if ro.Message != "" {
				line += ": " + ro.Message
			}
			if line != last {
				w.stamp("%s", line)
				last = line
			}
			switch ro.Phase {
			case droverv1.RolloutSucceeded, droverv1.RolloutRolledBack:
				w.sayOutcome(ctx, ro)
				return ro.DeepCopy(), nil
			case droverv1.RolloutPaused:
				return ro.DeepCopy(), fmt.Errorf("the rollout paused: %s", ro.Message)
			case droverv1.RolloutProgressing:
				if !ro.Promoted && !promoted[ro.Step] && onlyApprovalsWait(ro.Message) {
					promoted[ro.Step] = true
					w.say("\nstep %s's checks passed and it waits for a person (%s); they look, and promote:", ro.StepName, ro.Message)
					if err := w.plugin(ctx, "-n", w.set.Namespace, "rollout", "promote", w.set.Name, "--wait"); err != nil {
						return ro.DeepCopy(), fmt.Errorf("promoting: %w", err)
					}
					w.say("")
					rep.Promoted = append(rep.Promoted, ro.StepName)
				}
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for the rollout of %s to end: %w (last: %s)", version, ctx.Err(), last)
		case <-w.sb.mgr.Done():
			return nil, fmt.Errorf("the manager exited: %w", w.sb.mgr.ExitError())
		case <-time.After(storyPoll):
		}
	}
}

// steps is how many steps the ProdSet's policy has ("?" when it cannot be read).
func (w *walk) steps(ctx context.Context, ro *droverv1.RolloutStatus) string {
	name := ro.Policy
	if name == "" {
		return "?"
	}
	p := &droverv1.RolloutPolicy{}
	if err := w.sb.bed.ControlPlane.Client.Get(ctx, client.ObjectKey{Namespace: w.set.Namespace, Name: name}, p); err != nil {
		return "?"
	}
	return fmt.Sprint(len(p.Spec.Steps))
}

// onlyApprovalsWait reports whether a rollout's message says that its step waits for
// approvals and nothing else ("step canary: gate 2 (approval): waiting for approval
// (promote)...": the gates waiting are listed, "; " apart).
func onlyApprovalsWait(msg string) bool {
	_, waiting, ok := strings.Cut(msg, ": ")
	if !ok || !strings.HasPrefix(msg, "step ") {
		return false
	}
	for part := range strings.SplitSeq(waiting, "; ") {
		if !strings.Contains(part, "(approval): waiting for approval") {
			return false
		}
	}
	return true
}

// sayOutcome tells how a rollout ended: when, its gates' verdicts and its Prods.
func (w *walk) sayOutcome(ctx context.Context, ro *droverv1.RolloutStatus) {
	took := ""
	if ro.StartedTime != nil && ro.FinishedTime != nil {
		took = " after " + ro.FinishedTime.Sub(ro.StartedTime.Time).Round(time.Second).String()
	}
	w.say("\nrollout %s (from %s) ended %s%s", short(ro.Revision), short(ro.PreviousRevision), ro.Phase, took)
	for _, g := range ro.Gates {
		verdict := "passed"
		if !g.Passed {
			verdict = "FAILED"
		}
		w.say("  step %s, gate %d (%s) %s: %s", g.StepName, g.Gate+1, g.Type, verdict, g.Message)
	}
	w.sayProds(ctx)
}

// sayProds prints each Prod of the set: cluster, version, applied version and the
// service-level weight in Route53.
func (w *walk) sayProds(ctx context.Context) {
	prods, err := listProds(ctx, w.sb.bed.ControlPlane.Client)
	if err != nil {
		w.say("  (cannot list the Prods: %v)", err)
		return
	}
	weights, err := w.weights(ctx)
	if err != nil {
		w.say("  (cannot read Route53: %v)", err)
	}
	for i := range prods {
		p := &prods[i]
		weight := "none"
		if v, ok := weights[prodKey(p)]; ok {
			weight = fmt.Sprint(v)
		}
		w.say("  %s on %s: version %s, applied %s, Route53 weight %s", prodKey(p), p.Spec.ClusterRef.Name, p.Spec.Version, p.Status.AppliedVersion, weight)
	}
}

// sayRollback tells how the bad rollout went back, from its status.
func (w *walk) sayRollback(ro *droverv1.RolloutStatus) {
	w.say("\nwhy: %s", ro.Message)
	if ro.FailedTime != nil && ro.RollbackSubmittedTime != nil {
		w.say("the gate failed at %s (status.rollout.failedTime); the traffic change taking the weights back was submitted to Route53 at %s (rollbackSubmittedTime): the Route53 table printed next shows it",
			ro.FailedTime.Format("15:04:05.000"), ro.RollbackSubmittedTime.Format("15:04:05.000"))
	}
	if ro.RollbackLatency != nil {
		w.say("rollback latency (status.rollout.rollbackLatency, from the failure to the traffic change submitted): %s", ro.RollbackLatency.Duration)
	}
	w.say("the HTTP check endpoint answered %d checks of %s with 500", w.sb.check.Hits(badVersion, 500), badVersion)
}

// waitServing waits until every Prod of the set runs version, is Available and has its
// weight in Route53, and says so.
func (w *walk) waitServing(ctx context.Context, version string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	want := countProds(w.sb.applied)
	for {
		prods, err := listProds(ctx, w.sb.bed.ControlPlane.Client)
		weights, werr := w.weights(ctx)
		if err == nil && werr == nil && len(prods) == want && servingAt(prods, weights, version) {
			w.say("all %d Prods serve %s, each at its full weight in Route53", len(prods), version)
			return nil
		}
		select {
		case <-ctx.Done():
			w.sayProds(context.Background())
			return fmt.Errorf("waiting for every Prod to serve %s: %w", version, ctx.Err())
		case <-time.After(storyPoll):
		}
	}
}

// servingAt reports whether every Prod runs version, is Available and is published at
// its desired weight.
func servingAt(prods []droverv1.Prod, weights map[string]int64, version string) bool {
	for i := range prods {
		p := &prods[i]
		if p.Spec.Version != version || p.Status.AppliedVersion != version || !isAvailable(p) {
			return false
		}
		if v, ok := weights[prodKey(p)]; !ok || v != int64(p.DesiredWeight()) {
			return false
		}
	}
	return true
}

// weights reads the service-level weight of each Prod (namespace/name) in the set's
// hosted zone.
func (w *walk) weights(ctx context.Context) (map[string]int64, error) {
	out := map[string]int64{}
	for _, zone := range sortedKeys(w.sb.clouds.Zones) {
		recs, err := cloudbed.ReadRecords(ctx, w.sb.clouds.AWS.Route53, w.sb.clouds.Zones[zone])
		if err != nil {
			return nil, err
		}
		for _, r := range cloudbed.ProdRows(owner, recs) {
			if r.Weight != nil {
				out[r.Prod] = *r.Weight
			}
		}
	}
	return out, nil
}

// drainAndRestore drains the cluster as `kubectl drover cluster drain --wait` does,
// says what Route53 has for its Prods then, and restores it. It returns the drained
// Prods' weights.
func (w *walk) drainAndRestore(ctx context.Context) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, drainTimeout)
	defer cancel()
	ns := w.set.Namespace
	if err := w.plugin(ctx, "-n", ns, "cluster", "drain", w.cluster, "--reason", "sandbox: the platform team's story", "--wait"); err != nil {
		return nil, fmt.Errorf("draining %s: %w", w.cluster, err)
	}
	cp := w.sb.bed.ControlPlane.Client
	list := &droverv1.ClusterMaintenanceList{}
	if err := cp.List(ctx, list, client.InNamespace(ns)); err != nil {
		return nil, err
	}
	for i := range list.Items {
		m := &list.Items[i]
		if m.Spec.ClusterName != w.cluster {
			continue
		}
		drained := ""
		if m.Status.DrainedTime != nil {
			drained = ", drained at " + m.Status.DrainedTime.Format(time.TimeOnly)
		}
		reason := ""
		if c := meta.FindStatusCondition(m.Status.Conditions, droverv1.MaintenanceDrainedCondition); c != nil {
			reason = ": " + c.Message
		}
		w.say("\nClusterMaintenance %s/%s is %s%s%s", m.Namespace, m.Name, m.Status.Phase, drained, reason)
	}
	onCluster, err := w.prodsOn(ctx, w.cluster)
	if err != nil {
		return nil, err
	}
	weights, err := w.weights(ctx)
	if err != nil {
		return nil, err
	}
	drainedWeights := map[string]int64{}
	w.say("Route53 for the Prods on %s:", w.cluster)
	for _, key := range onCluster {
		v, ok := weights[key]
		if !ok {
			w.say("  %s: no record", key)
			continue
		}
		drainedWeights[key] = v
		w.say("  %s: weight %d", key, v)
	}
	w.say("the other clusters' Prods serve meanwhile:")
	for _, key := range sortedKeys(stringWeights(weights)) {
		if !slices.Contains(onCluster, key) {
			w.say("  %s: weight %d", key, weights[key])
		}
	}

	w.say("\nthe maintenance is done; put the cluster back into traffic:")
	if err := w.plugin(ctx, "-n", ns, "cluster", "restore", w.cluster, "--wait"); err != nil {
		return drainedWeights, fmt.Errorf("restoring %s: %w", w.cluster, err)
	}
	for {
		prods, err := listProds(ctx, cp)
		weights, werr := w.weights(ctx)
		if err == nil && werr == nil && allWeightsBack(prods, weights, onCluster) {
			break
		}
		select {
		case <-ctx.Done():
			return drainedWeights, fmt.Errorf("waiting for the Prods on %s to get their weights back: %w", w.cluster, ctx.Err())
		case <-time.After(storyPoll):
		}
	}
	weights, err = w.weights(ctx)
	if err != nil {
		return drainedWeights, err
	}
	w.say("Route53 for the Prods on %s again:", w.cluster)
	for _, key := range onCluster {
		w.say("  %s: weight %d", key, weights[key])
	}
	return drainedWeights, nil
}

// allWeightsBack reports whether each of the Prods keys has its desired weight in Route53.
func allWeightsBack(prods []droverv1.Prod, weights map[string]int64, keys []string) bool {
	for i := range prods {
		p := &prods[i]
		if !slices.Contains(keys, prodKey(p)) {
			continue
		}
		if v, ok := weights[prodKey(p)]; !ok || v != int64(p.DesiredWeight()) {
			return false
		}
	}
	return true
}

// prodsOn returns the Prods (namespace/name) on cluster, sorted.
func (w *walk) prodsOn(ctx context.Context, cluster string) ([]string, error) {
	prods, err := listProds(ctx, w.sb.bed.ControlPlane.Client)
	if err != nil {
		return nil, err
	}
	var keys []string
	for i := range prods {
		if prods[i].Spec.ClusterRef.Name == cluster {
			keys = append(keys, prodKey(&prods[i]))
		}
	}
	return keys, nil
}

// stringWeights is weights with string values, for sortedKeys.
func stringWeights(weights map[string]int64) map[string]string {
	out := make(map[string]string, len(weights))
	for k, v := range weights {
		out[k] = fmt.Sprint(v)
	}
	return out
}

// plugin runs `kubectl drover args...` in-process against the control plane, after
// printing the command as the user would type it (with KUBECONFIG exported).
func (w *walk) plugin(ctx context.Context, args ...string) error {
	fmt.Fprintf(w.out, "\n  $ kubectl drover %s\n", quoteArgs(args))
	cmd := cli.NewCommand(cli.Streams{In: strings.NewReader(""), Out: indent(w.out), ErrOut: indent(w.out)}, cli.Options{})
	cmd.SetArgs(append([]string{"--kubeconfig", w.sb.cfg.kubeconfigOut}, args...))
	return cmd.ExecuteContext(ctx)
}

// quoteArgs renders args for a shell, quoting those with spaces.
func quoteArgs(args []string) string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, " '\"") {
			a = fmt.Sprintf("%q", a)
		}
		out[i] = a
	}
	return strings.Join(out, " ")
}

// indentWriter indents every line written through it.
type indentWriter struct {
	w     io.Writer
	start bool
}

func indent(w io.Writer) io.Writer { return &indentWriter{w: w, start: true} }

func (iw *indentWriter) Write(p []byte) (int, error) {
	var b strings.Builder
	for _, c := range string(p) {
		if iw.start {
			b.WriteString("    ")
			iw.start = false
		}
		b.WriteRune(c)
		if c == '\n' {
			iw.start = true
		}
	}
	if _, err := io.WriteString(iw.w, b.String()); err != nil {
		return 0, err
	}
	return len(p), nil
}

// short is a revision's first 10 characters.
func short(rev string) string {
	if len(rev) > 10 {
		return rev[:10]
	}
	if rev == "" {
		return "-"
	}
	return rev
}

// secondTeam is the control-plane namespace of the tenancy story's second team. It has
// no drover.dev/tenant label, so the defaults apply (docs/security.md): Clusters of its
// own namespace only, namespaced kinds only.
const secondTeam = "team-b"

// tenancyTimeout bounds the tenancy story. A refusal at admission is immediate; one on
// the Prod (when the admission policies are not installed) takes a reconcile.
const tenancyTimeout = time.Minute

// takeoverProd is the second team's attempt: a Prod on the shop's Cluster, into the
// shop's target namespace, replacing the shop's ConfigMap. %s: the Prod's namespace,
// the Cluster's namespace and name, the target namespace.
const takeoverProd = `apiVersion: drover.dev/v1alpha1
kind: Prod
metadata:
  name: shop-takeover
  namespace: %s
spec:
  clusterRef: {namespace: %s, name: %s}
  targetNamespace: %s
  version: v1
  manifests:
  - apiVersion: v1
    kind: ConfigMap
    metadata: {name: shop-config}
    data: {CHECKOUT_URL: "https://checkout.team-b.example"}
`

// tenancyReport is what the second team's attempt came to.
type tenancyReport struct {
	Prod client.ObjectKey // the Prod the second team tried
	// AtAdmission: the API server refused the Prod and Message is its message; else the
	// manager did, and Message is the Prod's Applied condition (reason NotPermitted).
	AtAdmission bool
	Message     string
	// Left are the second team's Prods after the story (it deletes what it made).
	Left []string
	// Shop are the shop's Prods (namespace/name) as the story found them; Unchanged
	// says they, and their weights in Route53, were the same at its end.
	Shop      map[string]shopProd
	Unchanged bool
}

// shopProd is what the tenancy story compares of one of the shop's Prods.
type shopProd struct {
	Line      string // for people: generation, versions, Available, inventory size, weight
	Inventory string // the inventory itself
}

// tenancyStory walks the tenancy story: the platform team gives a second team a namespace
// without a Tenant; the team applies a Prod naming the shop's Cluster and target
// namespace, which the API server refuses at admission (drover-own-namespace-clusters),
// or, without the admission policies, the manager refuses (Applied=False, NotPermitted).
// The shop's Prods and their Route53 weights stay as they were.
func (w *walk) tenancyStory(ctx context.Context) (*tenancyReport, error) {
	ctx, cancel := context.WithTimeout(ctx, tenancyTimeout)
	defer cancel()
	cp := w.sb.bed.ControlPlane.Client
	rep := &tenancyReport{}
	var err error
	if rep.Shop, err = w.shopState(ctx); err != nil {
		return rep, err
	}
	target := ""
	for _, o := range w.sb.applied {
		if client.ObjectKeyFromObject(o) == w.set {
			target, _, _ = unstructured.NestedString(o.Object, "spec", "template", "spec", "targetNamespace")
		}
	}
	cluster := w.sb.bed.Workloads[0].Cluster
	if t := w.sb.tenancy.Tenant; t != nil {
		for _, name := range w.sb.tenancy.Namespaces {
			w.say("namespace %s belongs to Tenant %s (its label %s); the shop's Prods run there", name, t.GetName(), droverv1.TenantLabel)
		}
	}
	w.say("the platform team gives a second team a namespace of its own, and no Tenant: the defaults apply (Clusters of %s only, namespaced kinds only)\n\n  kubectl create namespace %s\n", secondTeam, secondTeam)
	ns := &corev1.Namespace{}
	ns.SetName(secondTeam)
	if err := cp.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return rep, err
	}

	doc := fmt.Sprintf(takeoverProd, secondTeam, cluster.Namespace, cluster.Name, target)
	objs, err := harness.DecodeYAML([]byte(doc))
	if err != nil {
		return rep, err
	}
	prod := objs[0]
	rep.Prod = client.ObjectKeyFromObject(prod)
	w.say("the team has no Cluster of its own; it tries the shop's, %s, and the shop's target namespace %s, replacing the shop's ConfigMap:\n", cluster, target)
	w.say("  kubectl apply -f - <<EOF\n  %sEOF\n", indentString(doc, "  "))
	err = harness.Apply(ctx, cp, fieldManager, prod)
	switch {
	case isAdmissionRefusal(err):
		rep.AtAdmission = true
		rep.Message = err.Error()
		var status apierrors.APIStatus
		if errors.As(err, &status) {
			rep.Message = status.Status().Message
		}
		w.say("the API server refuses it at admission; nothing is created, and the manager never sees it:\n\n  %s\n", rep.Message)
	case err != nil:
		return rep, err
	default:
		w.say("admitted (the admission policies are not installed); the manager refuses it on the Prod:")
		if rep.Message, err = w.waitNotPermitted(ctx, rep.Prod); err != nil {
			return rep, err
		}
		w.say("\n  Prod %s: Applied=False, reason %s: %s\n", rep.Prod, droverv1.ProdNotPermittedReason, rep.Message)
		w.say("  kubectl delete prod -n %s %s", rep.Prod.Namespace, rep.Prod.Name)
		if err := w.deleteProd(ctx, rep.Prod); err != nil {
			return rep, err
		}
	}
	w.say("that is as far as the team gets: %s has no Cluster of its own, and without a Tenant it may name no other namespace's, so none of its Prods can run anywhere (were it to have a Cluster, a ClusterRoleBinding among its manifests would be refused on the Prod: the defaults allow no cluster-scoped kind)", secondTeam)

	var left droverv1.ProdList
	if err := cp.List(ctx, &left, client.InNamespace(secondTeam)); err != nil {
		return rep, err
	}
	for i := range left.Items {
		rep.Left = append(rep.Left, prodKey(&left.Items[i]))
	}
	after, err := w.shopState(ctx)
	if err != nil {
		return rep, err
	}
	rep.Unchanged = maps.Equal(rep.Shop, after)
	if rep.Unchanged {
		w.say("\nthe shop's Prods are as they were, each Available, with the same inventory and the same weight in Route53:")
	} else {
		w.say("\nthe shop's Prods CHANGED while the second team tried; before, then now:")
	}
	for _, key := range slices.Sorted(maps.Keys(after)) {
		if before, ok := rep.Shop[key]; !ok || before != after[key] {
			w.say("  %s: %s", key, before.Line)
		}
		w.say("  %s: %s", key, after[key].Line)
	}
	return rep, nil
}

// shopState reads the Prods of the shop's namespace (the ProdSet's) and their
// service-level weights in Route53.
func (w *walk) shopState(ctx context.Context) (map[string]shopProd, error) {
	prods, err := listProds(ctx, w.sb.bed.ControlPlane.Client)
	if err != nil {
		return nil, err
	}
	weights, err := w.weights(ctx)
	if err != nil {
		return nil, err
	}
	out := map[string]shopProd{}
	for i := range prods {
		p := &prods[i]
		if p.Namespace != w.set.Namespace {
			continue
		}
		weight := "none"
		if v, ok := weights[prodKey(p)]; ok {
			weight = fmt.Sprint(v)
		}
		out[prodKey(p)] = shopProd{
			Line: fmt.Sprintf("generation %d, version %s, applied %s, Available %t, %d objects in its inventory, Route53 weight %s",
				p.Generation, p.Spec.Version, p.Status.AppliedVersion, isAvailable(p), len(p.Status.Inventory), weight),
			Inventory: fmt.Sprint(p.Status.Inventory),
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Prods in namespace %s", w.set.Namespace)
	}
	return out, nil
}

// waitNotPermitted waits for the Prod's Applied condition to be False with reason
// NotPermitted and returns its message.
func (w *walk) waitNotPermitted(ctx context.Context, key client.ObjectKey) (string, error) {
	for {
		p := &droverv1.Prod{}
		if err := w.sb.bed.ControlPlane.Client.Get(ctx, key, p); err != nil && ctx.Err() == nil {
			return "", err
		}
		c := meta.FindStatusCondition(p.Status.Conditions, droverv1.ProdAppliedCondition)
		if c != nil && c.Status == metav1.ConditionFalse && c.Reason == droverv1.ProdNotPermittedReason {
			return c.Message, nil
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("waiting for Prod %s to be refused (Applied=False, NotPermitted): %w", key, ctx.Err())
		case <-time.After(storyPoll):
		}
	}
}

// deleteProd deletes the Prod and waits until it is gone.
func (w *walk) deleteProd(ctx context.Context, key client.ObjectKey) error {
	cp := w.sb.bed.ControlPlane.Client
	p := &droverv1.Prod{}
	p.Namespace, p.Name = key.Namespace, key.Name
	if err := cp.Delete(ctx, p); client.IgnoreNotFound(err) != nil {
		return err
	}
	for {
		err := cp.Get(ctx, key, p)
		if apierrors.IsNotFound(err) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for Prod %s to go: %w", key, ctx.Err())
		case <-time.After(storyPoll):
		}
	}
}

// indentString puts prefix before every line of s but the first.
func indentString(s, prefix string) string {
	return strings.ReplaceAll(s, "\n", "\n"+prefix)
}
