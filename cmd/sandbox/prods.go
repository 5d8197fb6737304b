package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/harness"
)

// pollInterval is how often the sandbox reads the Prods.
const pollInterval = 2 * time.Second

// conditionTypes are the Prod conditions the sandbox reports, in the order it shows them.
var conditionTypes = []string{
	droverv1.ProdClusterReachableCondition,
	droverv1.ProdAppliedCondition,
	droverv1.ProdAvailableCondition,
	droverv1.ProdTrafficReadyCondition,
}

// listProds returns every Prod of the control plane, sorted by namespace and name.
func listProds(ctx context.Context, c client.Client) ([]droverv1.Prod, error) {
	var list droverv1.ProdList
	if err := c.List(ctx, &list); err != nil {
		return nil, fmt.Errorf("listing Prods: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return prodKey(&list.Items[i]) < prodKey(&list.Items[j]) })
	return list.Items, nil
}

// prodKey is namespace/name.
func prodKey(p *droverv1.Prod) string { return p.Namespace + "/" + p.Name }

// isAvailable reports whether the Prod's Available condition is True for its current
// generation.
func isAvailable(p *droverv1.Prod) bool {
	c := meta.FindStatusCondition(p.Status.Conditions, droverv1.ProdAvailableCondition)
	return c != nil && c.Status == metav1.ConditionTrue && p.Status.ObservedGeneration == p.Generation
}

// waitAvailable polls until every applied Prod exists and all Prods are Available, the
// timeout passes (not an error: the summary says which are not), the manager exits or
// ctx ends. It returns the Prods it saw last.
func waitAvailable(ctx context.Context, c client.Client, mgr *harness.Manager, applied []*unstructured.Unstructured, timeout time.Duration) ([]droverv1.Prod, error) {
	want := countProds(applied)
	fmt.Printf("waiting up to %s for the %d Prods to become Available...\n", timeout, want)
	start := time.Now()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	var prods []droverv1.Prod
	for {
		var err error
		if prods, err = listProds(ctx, c); err != nil && ctx.Err() == nil {
			fmt.Println("  (will retry)", err)
		}
		if err == nil && len(prods) >= want && allAvailable(prods) {
			fmt.Printf("all %d Prods Available after %s\n", len(prods), time.Since(start).Round(time.Second))
			return prods, nil
		}
		select {
		case <-ctx.Done():
			return prods, ctx.Err()
		case <-mgr.Done():
			return prods, mgr.ExitError()
		case <-deadline.C:
			fmt.Printf("not every Prod is Available after %s\n", timeout)
			return prods, nil
		case <-tick.C:
		}
	}
}

// allAvailable reports whether every Prod is Available.
func allAvailable(prods []droverv1.Prod) bool {
	for i := range prods {
		if !isAvailable(&prods[i]) {
			return false
		}
	}
	return true
}

// printSummary prints a table of the Prods and then, for each one not Available, why.
func printSummary(w io.Writer, prods []droverv1.Prod, cfg config) {
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "PROD\tCLUSTER\tVERSION\tCLUSTERREACHABLE\tAPPLIED\tAVAILABLE\tINVENTORY")
	for i := range prods {
		p := &prods[i]
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", prodKey(p), p.Spec.ClusterRef.Name, versionCell(p),
			conditionCell(p, droverv1.ProdClusterReachableCondition), conditionCell(p, droverv1.ProdAppliedCondition),
			conditionCell(p, droverv1.ProdAvailableCondition), len(p.Status.Inventory))
	}
	_ = tw.Flush()
	if len(prods) == 0 {
		fmt.Fprintln(w, "(no Prods)")
	}
	for i := range prods {
		if p := &prods[i]; !isAvailable(p) {
			fmt.Fprintf(w, "%s is not Available: %s\n", prodKey(p), whyNotAvailable(p))
		}
	}
	if !allAvailable(prods) {
		fmt.Fprintf(w, "see %s/manager.log\n", cfg.logDir)
	}
}

// versionCell is spec.version, with the applied version when that differs.
func versionCell(p *droverv1.Prod) string {
	if a := p.Status.AppliedVersion; a != "" && a != p.Spec.Version {
		return fmt.Sprintf("%s (applied %s)", p.Spec.Version, a)
	}
	return p.Spec.Version
}

// conditionCell renders a condition as "Status (Reason)", or "-" when it is not set.
func conditionCell(p *droverv1.Prod, condType string) string {
	c := meta.FindStatusCondition(p.Status.Conditions, condType)
	if c == nil {
		return "-"
	}
	return fmt.Sprintf("%s (%s)", c.Status, c.Reason)
}

// whyNotAvailable explains a Prod that is not Available by its first condition that is
// not True.
func whyNotAvailable(p *droverv1.Prod) string {
	if p.Status.ObservedGeneration != p.Generation {
		return fmt.Sprintf("the manager has not reconciled generation %d yet (status is for generation %d)", p.Generation, p.Status.ObservedGeneration)
	}
	for _, t := range conditionTypes[:3] {
		c := meta.FindStatusCondition(p.Status.Conditions, t)
		switch {
		case c == nil:
			return t + " not set yet"
		case c.Status != metav1.ConditionTrue:
			return fmt.Sprintf("%s %s (%s): %s", t, c.Status, c.Reason, c.Message)
		}
	}
	return "unknown"
}

// conditionState is a condition as the sandbox tracks it. Changes are judged by status
// and reason only: a message alone changes often while a Deployment rolls out.
type conditionState struct {
	status  metav1.ConditionStatus
	reason  string
	message string
}

// prodState is what the sandbox tracks of one Prod: its conditions by type and the
// version it last applied completely.
type prodState struct {
	conditions     map[string]conditionState
	appliedVersion string
}

// stateOf returns the Prod's reported conditions and applied version.
func stateOf(p *droverv1.Prod) prodState {
	s := prodState{conditions: map[string]conditionState{}, appliedVersion: p.Status.AppliedVersion}
	for _, t := range conditionTypes {
		if c := meta.FindStatusCondition(p.Status.Conditions, t); c != nil {
			s.conditions[t] = conditionState{status: c.Status, reason: c.Reason, message: c.Message}
		}
	}
	return s
}

// watchProds polls the Prods every pollInterval and prints a line for every Prod that
// appeared, went away or whose conditions changed, until ctx ends (nil) or the manager
// exits (an error).
func watchProds(ctx context.Context, c client.Client, mgr *harness.Manager, initial []droverv1.Prod) error {
	seen := map[string]prodState{}
	for i := range initial {
		seen[prodKey(&initial[i])] = stateOf(&initial[i])
	}
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-mgr.Done():
			return mgr.ExitError()
		case <-tick.C:
		}
		prods, err := listProds(ctx, c)
		if err != nil {
			if !failing && ctx.Err() == nil {
				fmt.Printf("%s %v (retrying quietly)\n", time.Now().Format(time.TimeOnly), err)
			}
			failing = true
			continue
		}
		failing = false
		seen = reportChanges(seen, prods)
	}
}

// reportChanges prints what changed between before and prods and returns the new state.
func reportChanges(before map[string]prodState, prods []droverv1.Prod) map[string]prodState {
	now := time.Now().Format(time.TimeOnly)
	after := make(map[string]prodState, len(prods))
	for i := range prods {
		p := &prods[i]
		key := prodKey(p)
		state := stateOf(p)
		after[key] = state
		old, existed := before[key]
		if !existed {
			fmt.Printf("%s %s: new Prod on %s, version %s\n", now, key, p.Spec.ClusterRef.Name, p.Spec.Version)
			old = prodState{}
		}
		if changes := diffStates(old, state); len(changes) > 0 {
			fmt.Printf("%s %s: %s\n", now, key, strings.Join(changes, "; "))
		}
	}
	for key := range before {
		if _, ok := after[key]; !ok {
			fmt.Printf("%s %s: deleted\n", now, key)
		}
	}
	return after
}

// diffStates describes what changed: the applied version, and each condition whose
// status or reason differs (with its new message when it is not True).
func diffStates(old, cur prodState) []string {
	var out []string
	if old.appliedVersion != cur.appliedVersion && cur.appliedVersion != "" {
		out = append(out, fmt.Sprintf("applied version %s", cur.appliedVersion))
	}
	for _, t := range conditionTypes {
		o, c := old.conditions[t], cur.conditions[t]
		if o.status == c.status && o.reason == c.reason {
			continue
		}
		line := fmt.Sprintf("%s %s -> %s", t, stateString(o), stateString(c))
		if c.status != metav1.ConditionTrue && c.message != "" {
			line += " (" + c.message + ")"
		}
		out = append(out, line)
	}
	return out
}

// stateString renders a condition state as Status/Reason, or "unset".
func stateString(s conditionState) string {
	if s.status == "" {
		return "unset"
	}
	return string(s.status) + "/" + s.reason
}
