package cli

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
	"github.com/drover-dev/drover/internal/test/builder"
)

// TestDashboardInABrowser loads the dashboard in headless Chromium against the test bed
// while a release goes through a canary: what the page shows at each stage (text and
// structure), a command confirmed and sent from the page, and a user whose RBAC covers one
// namespace seeing nothing of another. Screenshots of each stage go to the test's
// artifact directory (go test -artifacts keeps them).
func TestDashboardInABrowser(t *testing.T) {
	startBed(t)
	g := NewWithT(t)
	ctx := t.Context()
	policy := builder.RolloutPolicy(bed.Namespace, "dash-canary", droverv1.RolloutPolicySpec{Steps: []droverv1.RolloutStep{
		{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), Weight: ptr.To(int32(10)),
			Gates: []droverv1.Gate{{Approval: &droverv1.ApprovalGate{Message: "look at the canary"}}}},
		{Name: "rest"},
	}})
	g.Expect(cp.Create(ctx, policy)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), policy) })
	newSet(t, "dash", "shop", 2, builder.Policy(policy.Name))
	expectServing(g, "dash", 2)

	// A namespace the second user may not read, with a ProdSet of its own.
	other := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "dash-other"}}
	g.Expect(cp.Create(ctx, other)).To(Succeed())
	secret := builder.ProdSet(other.Name, "secret-shop", builder.Replicas(1), builder.OnClusters(pool, "cart"))
	g.Expect(cp.Create(ctx, secret)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), secret) })

	artifacts := t.ArtifactDir()
	browser := newBrowser(t)

	// The platform engineer (admin): every namespace.
	url := startDashboard(t, kubeconfig)
	g.Expect(chromedp.Do(browser, chromedp.Navigate(url))).To(Succeed())
	set := `article[data-set="default/dash"]`
	g.Eventually(func(g Gomega) {
		g.Expect(text(browser, "#live")).To(Equal("live"))
		g.Expect(text(browser, "#scope")).To(Equal("all namespaces"))
		g.Expect(count(browser, `article[data-set="dash-other/secret-shop"]`)).To(Equal(1))
		g.Expect(text(browser, set+` [data-bar="publishedShare"]`)).To(And(ContainSubstring("dash-"), ContainSubstring("50%")))
		// Grouped by region and cluster: a is in eu, b in us.
		g.Expect(text(browser, set+` [data-region="eu"] [data-cluster="a"]`)).To(MatchRegexp(`cluster a · DNS 100\n(?s).*DNS 100 · 50% of the service`))
		g.Expect(text(browser, set+` [data-region="us"] [data-cluster="b"]`)).To(ContainSubstring("v1"))
		g.Expect(text(browser, set+` [data-region="eu"] [data-paths]`)).To(Equal("Octavia 100 (ONLINE) · NLB 0"), "one path: it takes the Prod's whole weight")
		g.Expect(text(browser, set+` [data-region="eu"] [data-path-shares]`)).To(Equal("of the service: 50% via Octavia · 0% via NLB"))
		g.Expect(text(browser, set+` [data-step="0"]`)).To(ContainSubstring("1 Prod at weight 10 · 1 gate"))
		g.Expect(text(browser, "#clusters tbody")).To(MatchRegexp(`a\teu\tyes\t–\t1\t100`))
		g.Expect(text(browser, "#clusters tbody")).To(MatchRegexp(`c\teu\tyes\t`))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(attr(browser, set+` button[data-verb="promote"]`, "disabled")).To(Equal(""), "no rollout to promote")
	screenshot(browser, t, artifacts, "1-settled.png")

	// A release stops at the canary's approval; the page follows it live. Each render
	// that shows a weight change in flight is recorded (Route53 holds each change
	// PENDING for a second here).
	_, err := chromedp.Run(browser, chromedp.Evaluate[bool](`(() => {
		window.inFlight = [];
		new MutationObserver(() => {
			const t = document.querySelector('article[data-set="default/dash"] .traffic[data-in-flight="true"]');
			if (t) window.inFlight.push(t.innerText);
		}).observe(document.getElementById("sets"), {childList: true, subtree: true});
		return true;
	})()`))
	g.Expect(err).NotTo(HaveOccurred())
	updateSet(g, "dash", func(s *droverv1.ProdSet) { s.Spec.Template.Spec.Version = "v2" })
	g.Eventually(func(g Gomega) {
		g.Expect(text(browser, set+` .rollout h3`)).To(ContainSubstring("Progressing"))
		g.Expect(attr(browser, set+` [data-step="0"]`, "data-state")).To(Equal("current"))
		g.Expect(attr(browser, set+` [data-step="1"]`, "data-state")).To(Equal("waiting"))
		g.Expect(text(browser, set+` [data-waits]`)).To(ContainSubstring("waiting for approval (promote): look at the canary"))
		g.Expect(text(browser, set+` [data-gate="0"]`)).To(ContainSubstring("approval: waiting"))
		g.Expect(text(browser, set+` [data-step="0"]`)).To(MatchRegexp(`dash-\w+ Done`))
		g.Expect(text(browser, set+` .traffic`)).To(ContainSubstring("v2"))
		g.Expect(text(browser, set+` [data-bar="publishedShare"]`)).To(MatchRegexp(`dash-[ab] 9.1%`)) // 10 of 110
		g.Expect(text(browser, set+` ul.releases`)).To(MatchRegexp(`Progressing \w{10} v2 · 1 step · started \S+ by \S+\n`))
		g.Expect(attr(browser, set+` button[data-verb="promote"]`, "disabled")).To(Equal("<none>"))
	}, 60*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(count(browser, set+` .tl-bar.running`)).To(Equal(1))
	inFlight, err := chromedp.Run(browser, chromedp.Evaluate[[]string](`window.inFlight`))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(inFlight).To(ContainElement(And(ContainSubstring("Traffic change in flight\nDNS now"), ContainSubstring("\ndesired\n"),
		MatchRegexp(`DNS (100 → desired 0 \(submitted 0\)|0 → desired 10 \(submitted 10\))`))), "DNS's weight beside the desired one while the canary's weight moves")
	screenshot(browser, t, artifacts, "2-canary-waits-for-approval.png")

	// promote asks first; cancelled, nothing is sent.
	g.Expect(chromedp.Do(browser, chromedp.Click(chromedp.CSS(set+` button[data-verb="promote"]`)))).To(Succeed())
	g.Eventually(func() string { return text(browser, "#confirm") }).Should(MatchRegexp(
		`^promote the rollout of default/dash\?\s+the gates of step 1 \(canary\) that have not passed pass \(gate 1 approval\), and the rollout goes on to step 2 \(rest\)\s+Cancel\s+Send$`))
	screenshot(browser, t, artifacts, "3-confirm-promote.png")
	g.Expect(chromedp.Do(browser, chromedp.Click(chromedp.CSS("#confirm-cancel")))).To(Succeed())
	g.Consistently(func(g Gomega) {
		g.Expect(getSet(g, "dash").Annotations).NotTo(HaveKey(droverv1.RolloutCommandAnnotation))
	}, time.Second, 200*time.Millisecond).Should(Succeed())

	// Confirmed: sent as the CLI sends it; the rollout goes on to the end.
	g.Expect(chromedp.Do(browser,
		chromedp.Click(chromedp.CSS(set+` button[data-verb="promote"]`)),
		chromedp.WaitVisible(chromedp.CSS("#confirm-send")),
		chromedp.Click(chromedp.CSS("#confirm-send")))).To(Succeed())
	g.Eventually(func() string { return text(browser, set+` .command-result`) }, 10*time.Second).Should(
		MatchRegexp(`set drover.dev/rollout-command=promote@\S+ on ProdSet default/dash`))
	g.Expect(getSet(g, "dash").Annotations[droverv1.RolloutCommandAnnotation]).To(HavePrefix("promote@"))
	g.Eventually(func(g Gomega) {
		g.Expect(text(browser, set+` .rollout h3`)).To(ContainSubstring("Succeeded"))
		g.Expect(attr(browser, set+` [data-step="1"]`, "data-state")).To(Equal("done"))
		g.Expect(text(browser, set+` ul.releases li:first-child`)).To(MatchRegexp(`^Completed \w{10} v2 · 2 steps`))
		g.Expect(text(browser, set+` ul.releases li:first-child`)).To(HaveSuffix("commands: promote by kubectl-drover at step 1"), "the page sends as the plugin does, under its field manager")
		g.Expect(text(browser, set+` [data-bar="publishedShare"]`)).To(ContainSubstring("50%"))
		g.Expect(text(browser, set+` .traffic`)).NotTo(ContainSubstring("v1"))
	}, 90*time.Second, 200*time.Millisecond).Should(Succeed())
	screenshot(browser, t, artifacts, "4-released.png")

	// A tenant's text is shown as text: a Freeze whose reason is markup (of a set of no
	// consequence here) runs no script and adds no element.
	hostile := &droverv1.Freeze{ObjectMeta: metav1.ObjectMeta{Namespace: bed.Namespace, Name: "dash-hostile"}, Spec: droverv1.FreezeSpec{
		FreezeTime: droverv1.FreezeTime{Reason: `<img src=x onerror="document.body.dataset.pwned='1'">`}, ProdSets: []string{"none-such"}}}
	g.Expect(cp.Create(ctx, hostile)).To(Succeed())
	t.Cleanup(func() { _ = cp.Delete(context.Background(), hostile) })

	// A tenant whose ServiceAccount may read drover's kinds in namespace default only, and
	// write nothing.
	alice := tenantKubeconfig(t, "dash-alice")
	url = startDashboard(t, alice)
	g.Expect(chromedp.Do(browser, chromedp.Navigate(url))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(text(browser, "#scope")).To(Equal("namespace default"))
		g.Expect(count(browser, set)).To(Equal(1))
		g.Expect(text(browser, "#hidden-list")).To(ContainSubstring("Clusters in namespace default: your credentials may not list them"))
		g.Expect(text(browser, "#clusters tbody")).To(MatchRegexp(`a \*\t–\tyes`), "a cluster known from the Prods only")
		g.Expect(attr(browser, set+` button[data-verb="rollback"]`, "title")).To(Equal("your credentials may not patch ProdSets in namespace default (a command is an annotation on the ProdSet)"))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(text(browser, "body")).NotTo(Or(ContainSubstring("secret-shop"), ContainSubstring("dash-other")))
	g.Expect(text(browser, `[data-freeze="Freeze/default/dash-hostile"]`)).To(ContainSubstring(`(<img src=x onerror="document.body.dataset.pwned='1'">)`))
	g.Expect(count(browser, "#freezes img")).To(BeZero())
	g.Expect(attr(browser, "body", "data-pwned")).To(Equal("<none>"))
	screenshot(browser, t, artifacts, "5-tenant-view.png")

	// Asked for the namespace it may not read, the page shows nothing of it, and says why.
	url = startDashboard(t, alice, "-n", other.Name)
	g.Expect(chromedp.Do(browser, chromedp.Navigate(url))).To(Succeed())
	g.Eventually(func(g Gomega) {
		g.Expect(text(browser, "#scope")).To(Equal("namespace dash-other"))
		g.Expect(text(browser, "#hidden-list")).To(ContainSubstring("ProdSets in namespace dash-other: your credentials may not list them"))
		g.Expect(text(browser, "#sets")).To(Equal("No ProdSets to show."))
	}, 30*time.Second, 200*time.Millisecond).Should(Succeed())
	g.Expect(text(browser, "body")).NotTo(ContainSubstring("secret-shop"))
	screenshot(browser, t, artifacts, "6-forbidden-namespace.png")
}

// newBrowser starts headless Chromium for the test (Debian's package, `make chromium`).
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("DROVER_CHROMIUM")
	if path == "" {
		for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
			if p, err := exec.LookPath(name); err == nil {
				path = p
				break
			}
		}
	}
	if path == "" {
		t.Fatal("no Chromium: run make chromium (Debian's chromium package), or set DROVER_CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(path), chromedp.NoSandbox,
		chromedp.WindowSize(1400, 1000), chromedp.Flag("disable-dev-shm-usage", true))
	// Chromium has been seen to exit at start now and then on a loaded machine, before
	// saying where it listens; a second start is then fine.
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
		ctx, cancel := chromedp.NewContext(actx)
		if err = chromedp.Do(ctx); err == nil {
			t.Cleanup(func() { cancel(); cancelAlloc() })
			return ctx
		}
		cancel()
		cancelAlloc()
		t.Logf("starting %s (attempt %d): %v", path, attempt, err)
	}
	t.Fatalf("starting %s: %v", path, err)
	return nil
}

// startDashboard runs `kubectl drover dashboard` with kubeconfig until the test ends and
// returns the address it printed.
func startDashboard(t *testing.T, kc string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		cmd := NewCommand(Streams{In: strings.NewReader(""), Out: out, ErrOut: out}, Options{})
		cmd.SetArgs(append([]string{"--kubeconfig", kc, "dashboard", "--open=false"}, args...))
		done <- cmd.ExecuteContext(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("dashboard: %v", err)
		}
	})
	re := regexp.MustCompile(` at (http://127\.0\.0\.1:\d+/\?token=\w+)\n`)
	NewWithT(t).Eventually(out.String, 30*time.Second).Should(MatchRegexp(re.String()))
	t.Logf("$ kubectl drover dashboard %s\n%s", strings.Join(args, " "), out.String())
	return re.FindStringSubmatch(out.String())[1]
}

// tenantKubeconfig writes a kubeconfig for a ServiceAccount of the bed's namespace that
// may read drover's kinds there, and write nothing: a tenant's viewer.
func tenantKubeconfig(t *testing.T, name string) string {
	t.Helper()
	g := NewWithT(t)
	ctx := t.Context()
	ns := bed.Namespace
	objs := []client.Object{
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}},
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{droverv1.GroupVersion.Group}, Resources: []string{"prodsets", "prods", "rolloutpolicies", "releases", "freezes"}, Verbs: []string{"get", "list", "watch"}},
		}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name},
			Subjects: []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: name}}},
	}
	for _, o := range objs {
		g.Expect(cp.Create(ctx, o)).To(Succeed())
		t.Cleanup(func() { _ = cp.Delete(context.Background(), o) })
	}
	kc, err := bed.ControlPlane.ServiceAccountKubeconfig(ctx, ns, name, time.Hour)
	g.Expect(err).NotTo(HaveOccurred())
	path := filepath.Join(t.TempDir(), "kubeconfig")
	g.Expect(os.WriteFile(path, kc, 0o600)).To(Succeed())
	return path
}

// text is the rendered text of the first element sel matches ("" when none).
func text(ctx context.Context, sel string) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.querySelector(`+jsString(sel)+`); return e ? e.innerText.trim() : ""; })()`))
	return s
}

// attr is an attribute of the first element sel matches ("<none>" when absent).
func attr(ctx context.Context, sel, name string) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(() => { const e = document.querySelector(`+jsString(sel)+`); const v = e && e.getAttribute(`+jsString(name)+`); return v === null ? "<none>" : v; })()`))
	return s
}

// count is the number of elements sel matches.
func count(ctx context.Context, sel string) int {
	n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll(`+jsString(sel)+`).length`))
	return n
}

func jsString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// screenshot saves the whole page as name in dir.
func screenshot(ctx context.Context, t *testing.T, dir, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Errorf("screenshot %s: %v", name, err)
		return
	}
	t.Logf("screenshot: %s", path)
}
