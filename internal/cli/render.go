package cli

import (
	"fmt"
	"io"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/duration"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

// Condition markers: R ClusterReachable, Ap Applied, Av Available, T TrafficReady,
// M MirrorSynced; each followed by ✓ (True), ✗ (False), ? (Unknown) or - (not set).
var markerLabels = map[string]string{
	"ClusterReachable": "R", "Applied": "Ap", "Available": "Av", "TrafficReady": "T", "MirrorSynced": "M",
}

// legend explains the tree's short forms; printed once under it.
const legend = "weight: desired/published in DNS.  R reachable  Ap applied  Av available  T traffic ready  M mirror synced:  ✓ true  ✗ false  ? unknown  - not set"

// markers renders a Prod's conditions in the order of prodConditions.
func markers(conds []ConditionView) string {
	parts := make([]string, 0, len(prodConditions))
	for _, t := range prodConditions {
		mark := "-"
		for _, c := range conds {
			if c.Type == t {
				mark = statusMark(c.Status)
			}
		}
		parts = append(parts, markerLabels[t]+mark)
	}
	return strings.Join(parts, " ")
}

func statusMark(status string) string {
	switch status {
	case "True":
		return "✓"
	case "False":
		return "✗"
	}
	return "?"
}

// weightText is "desired/published", with a pending DNS change when there is one.
func weightText(p ProdView) string {
	s := fmt.Sprintf("%s/%s", int32Text(p.Weight), int32Text(p.PublishedWeight))
	if p.PendingWeight != nil && (p.PublishedWeight == nil || *p.PendingWeight != *p.PublishedWeight) {
		s += fmt.Sprintf(" (→%d)", *p.PendingWeight)
	}
	return s
}

func int32Text(v *int32) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprint(*v)
}

// short is a revision cut to 10 characters (they are 10 hex digits today).
func short(rev string) string {
	if len(rev) > 10 {
		return rev[:10]
	}
	return rev
}

// oneLine folds a message onto one line, without control characters (see clean).
func oneLine(s string) string {
	return strings.Join(strings.Fields(clean(s)), " ")
}

// clean replaces the control characters of s, which a tenant may have written (a
// version, a gate's message), with U+FFFD: an escape sequence printed as it is would
// be the terminal's to obey.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r != ' ' && r != '\t' && r != '\n' && (unicode.IsControl(r) || r == '\u2028' || r == '\u2029') {
			return '\uFFFD'
		}
		return r
	}, s)
}

// renderStatus writes the tree of every ProdSet of v, then the Prods of no ProdSet.
func renderStatus(w io.Writer, v StatusView, now time.Time) {
	if len(v.ProdSets) == 0 && len(v.Prods) == 0 {
		fmt.Fprintln(w, "No ProdSets or Prods found.")
		return
	}
	for i, s := range v.ProdSets {
		if i > 0 {
			fmt.Fprintln(w)
		}
		renderSet(w, s, now)
	}
	if len(v.Prods) > 0 {
		if len(v.ProdSets) > 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintln(w, "Prods of no ProdSet")
		renderProds(w, v.Prods, now)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, legend)
}

// renderSet writes one ProdSet's tree:
//
//	ProdSet default/shop  version v2  revision 1a2b3c4d5e (previous 9f8e7d6c5b)
//	│ replicas 3: 3 available, 2 serving (minimum 2)
//	│ rollout Progressing  step 1/2 canary  policy shop-canary
//	│   waits for: step canary: gate 1 (approval): waiting for approval (promote)
//	│   gate 1 approval: waiting
//	├─ shop-eu-1  eu-1  v2  10/10  R✓ Ap✓ Av✓ T✓ M-  rollout Done
//	└─ shop-us-1  us-1  v1  100/100  R✓ Ap✓ Av✓ T✓ M-
func renderSet(w io.Writer, s SetView, now time.Time) {
	head := fmt.Sprintf("ProdSet %s/%s  version %s", s.Namespace, s.Name, s.Version)
	if s.Revision != "" {
		head += "  revision " + short(s.Revision)
		if s.PreviousRevision != "" {
			head += " (previous " + short(s.PreviousRevision) + ")"
		}
	}
	fmt.Fprintln(w, head)
	bar := "│ "
	if len(s.Prods) == 0 {
		bar = "  "
	}
	fmt.Fprintf(w, "%sreplicas %d: %d available, %d serving (minimum %d)\n", bar, s.Replicas, s.AvailableReplicas, s.ServingReplicas, s.MinServing)
	if ro := s.Rollout; ro != nil {
		line := "rollout " + ro.Phase
		if ro.Phase != "Succeeded" && ro.Phase != "RolledBack" || ro.StepName != "" {
			line += "  " + stepText(ro)
		}
		if s.Policy != "" {
			line += "  policy " + s.Policy
		}
		if ro.Revision != s.Revision && ro.Revision != "" {
			line += "  (of revision " + short(ro.Revision) + ")"
		}
		fmt.Fprintln(w, bar+line)
		if ro.Message != "" {
			label := "waits for"
			switch ro.Phase {
			case "Succeeded", "RolledBack", "RollingBack", "Paused":
				label = "message"
			}
			fmt.Fprintf(w, "%s  %s: %s\n", bar, label, oneLine(ro.Message))
		}
		if ro.Promoted {
			fmt.Fprintf(w, "%s  promoted: the step's gates pass when reached\n", bar)
		}
		for _, g := range ro.Gates {
			state := "waiting"
			switch g.Verdict {
			case "passed":
				state = "✓ passed"
			case "failed":
				state = "✗ failed"
			case "inconclusive":
				state = "? inconclusive"
			}
			line := fmt.Sprintf("%s  gate %d %s: %s", bar, g.Index+1, g.Type, state)
			if g.Message != "" && g.Baseline == nil {
				line += " (" + oneLine(g.Message) + ")"
			}
			fmt.Fprintln(w, line)
			renderJudgement(w, bar, g.Baseline)
		}
	} else if s.Policy != "" {
		fmt.Fprintf(w, "%spolicy %s, no rollout yet\n", bar, s.Policy)
	}
	if s.PendingCommand != "" {
		fmt.Fprintf(w, "%scommand %s sent, not read by drover yet\n", bar, s.PendingCommand)
	}
	for _, c := range s.Conditions {
		fmt.Fprintf(w, "%s! %s\n", bar, conditionText(c))
	}
	renderProds(w, s.Prods, now)
}

// stepText is "step 2/3 us", "step 2 us" without the policy, "all 3 steps passed".
func stepText(ro *RolloutView) string {
	if ro.Steps > 0 && int(ro.Step) >= ro.Steps {
		return fmt.Sprintf("all %d steps passed", ro.Steps)
	}
	s := fmt.Sprintf("step %d", ro.Step+1)
	if ro.Steps > 0 {
		s += fmt.Sprintf("/%d", ro.Steps)
	}
	if ro.StepName != "" {
		s += " " + ro.StepName
	}
	return s
}

func conditionText(c ConditionView) string {
	s := fmt.Sprintf("%s %s", c.Type, c.Status)
	if c.Reason != "" {
		s += " " + c.Reason
	}
	if c.Message != "" {
		s += ": " + oneLine(c.Message)
	}
	return s
}

// renderProds writes the Prods as the branches of a tree, their columns aligned.
func renderProds(w io.Writer, prods []ProdView, now time.Time) {
	rows := make([][]string, len(prods))
	widths := make([]int, 4)
	for i, p := range prods {
		version := p.Version
		if p.Revision != "" {
			version += " (" + short(p.Revision) + ")"
		}
		rows[i] = []string{p.Name, p.Cluster, version, weightText(p)}
		for j, cell := range rows[i] {
			widths[j] = max(widths[j], utf8.RuneCountInString(cell))
		}
	}
	for i, p := range prods {
		branch, stem := "├─ ", "│    "
		if i == len(prods)-1 {
			branch, stem = "└─ ", "     "
		}
		var b strings.Builder
		b.WriteString(branch)
		for j, cell := range rows[i] {
			b.WriteString(pad(cell, widths[j]))
			b.WriteString("  ")
		}
		if p.Missing {
			b.WriteString("(Prod not found)")
		} else {
			b.WriteString(markers(p.Conditions))
		}
		var notes []string
		if p.RolloutPhase != "" {
			n := "rollout " + p.RolloutPhase
			if p.Replacement != "" {
				n += " → " + p.Replacement
			}
			notes = append(notes, n)
		}
		if p.Evicted != "" {
			notes = append(notes, "out of traffic: "+p.Evicted)
		}
		if p.Held != "" {
			notes = append(notes, "held in DNS by safety rule "+p.Held)
		}
		if p.SurgeFor != "" {
			notes = append(notes, "stand-in for "+p.SurgeFor)
		}
		if len(notes) > 0 {
			b.WriteString("  " + strings.Join(notes, ", "))
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))

		for _, c := range p.Conditions {
			if c.Status != "True" {
				fmt.Fprintf(w, "%s%s %s\n", stem, statusMark(c.Status), conditionText(c))
			}
		}
		if line := endpointText(p); line != "" {
			fmt.Fprintf(w, "%s%s\n", stem, line)
		}
		if line := mirrorText(p.Mirror, now); line != "" {
			fmt.Fprintf(w, "%s%s\n", stem, line)
		}
	}
}

func pad(s string, width int) string {
	if n := utf8.RuneCountInString(s); n < width {
		return s + strings.Repeat(" ", width-n)
	}
	return s
}

// endpointText is the Prod's two paths: its Octavia VIP and its NLB.
func endpointText(p ProdView) string {
	e := p.Endpoint
	if e == nil {
		return ""
	}
	var parts []string
	if e.VIP != "" || e.LoadBalancerID != "" {
		s := "octavia"
		if e.VIP != "" {
			s += " " + e.VIP
		}
		if e.OctaviaStatus != "" {
			s += " (" + e.OctaviaStatus + ")"
		}
		parts = append(parts, s)
	}
	if e.NLBDNSName != "" {
		parts = append(parts, "nlb "+e.NLBDNSName)
	} else if e.NLBARN != "" {
		parts = append(parts, "nlb "+e.NLBARN)
	}
	if len(parts) == 0 {
		return ""
	}
	return "endpoint: " + strings.Join(parts, ", ")
}

// mirrorText is the NLB mirror's last sync: "mirror InSync: 2 target groups, 4/4
// targets healthy, synced 30s ago".
func mirrorText(m *MirrorView, now time.Time) string {
	if m == nil {
		return ""
	}
	outcome := m.Outcome
	if outcome == "" {
		outcome = "not synced yet"
	}
	s := fmt.Sprintf("mirror %s: %d target group", outcome, m.TargetGroups)
	if m.TargetGroups != 1 {
		s += "s"
	}
	s += fmt.Sprintf(", %d/%d targets healthy", m.HealthyTargets, m.Targets)
	if m.LastSyncTime != nil {
		s += ", synced " + duration.HumanDuration(now.Sub(m.LastSyncTime.Time)) + " ago"
	}
	if m.Outcome != "InSync" && m.Outcome != "Changed" && m.Message != "" {
		s += " (" + oneLine(m.Message) + ")"
	}
	return s
}

// renderJudgement shows a baseline gate's judgement: the Prods compared, then a line per
// metric with its verdict and numbers.
func renderJudgement(w io.Writer, bar string, j *droverv1.BaselineJudgement) {
	if j == nil {
		return
	}
	line := fmt.Sprintf("%s    canary %s vs baseline %s", bar, strings.Join(j.Canary, ","), strings.Join(j.Baseline, ","))
	if j.Attempts > 1 {
		line += fmt.Sprintf(" (%d attempts)", j.Attempts)
	}
	fmt.Fprintln(w, line)
	for _, m := range j.Metrics {
		fmt.Fprintf(w, "%s    %s %s: canary mean %s (%d samples) vs baseline %s (%d)", bar, m.Name, m.Verdict,
			orDash(m.CanaryMean), m.CanarySamples, orDash(m.BaselineMean), m.BaselineSamples)
		if m.PValue != "" {
			fmt.Fprintf(w, ", p=%s", m.PValue)
		}
		if m.Unusable > 0 {
			fmt.Fprintf(w, ", %d NaN or infinite left out", m.Unusable)
		}
		fmt.Fprintln(w)
	}
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}

// cleanWriter writes through clean: nothing written through it reaches a terminal as an
// escape sequence.
type cleanWriter struct{ w io.Writer }

func (c cleanWriter) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, clean(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
