package cli

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	clusterv1 "sigs.k8s.io/cluster-api/api/core/v1beta2"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

var dashNow = time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)

func dashProd(name, cluster, version string, desired int32, opts ...func(*droverv1.Prod)) droverv1.Prod {
	p := droverv1.Prod{}
	p.Namespace, p.Name = "shop", name
	p.Labels = map[string]string{droverv1.ProdSetNameLabel: "web"}
	p.Spec.ClusterRef.Name = cluster
	p.Spec.Version = version
	p.Spec.Traffic.Weight = ptr.To(desired)
	p.Status.Endpoint = &droverv1.ProdEndpoint{VIP: "10.0.0.1", OctaviaStatus: "ONLINE"}
	p.Status.Conditions = []metav1.Condition{
		{Type: droverv1.ProdClusterReachableCondition, Status: metav1.ConditionTrue, Reason: "Reachable"},
		{Type: droverv1.ProdAvailableCondition, Status: metav1.ConditionTrue, Reason: "Available"},
	}
	for _, o := range opts {
		o(&p)
	}
	return p
}

func mirrored(healthy int32) func(*droverv1.Prod) {
	return func(p *droverv1.Prod) {
		p.Spec.Traffic.Mirror = &droverv1.NLBMirror{}
		p.Status.Endpoint.NLBDNSName, p.Status.Endpoint.NLBZoneID = "nlb.example", "Z1"
		p.Status.Mirror = &droverv1.MirrorStatus{TargetGroups: []droverv1.MirrorTargetGroup{{Pool: "p", Targets: 2, HealthyTargets: healthy}}}
	}
}

func dashCluster(name, region string) clusterv1.Cluster {
	c := clusterv1.Cluster{}
	c.Namespace, c.Name = "shop", name
	if region != "" {
		c.Labels = map[string]string{"topology.drover.dev/region": region}
	}
	return c
}

// TestDashboardTraffic: shares of the service, grouped by region and cluster, the paths'
// split (a path known down gives the other the whole weight), and a change in flight.
func TestDashboardTraffic(t *testing.T) {
	set := droverv1.ProdSet{}
	set.Namespace, set.Name, set.UID = "shop", "web", "set-uid"
	set.Spec.Template.Spec.Version = "v2"
	set.Status.Prods = []droverv1.ProdSummary{
		{Name: "web-a", Cluster: "a", Version: "v2", Weight: ptr.To(int32(10)), PublishedWeight: ptr.To(int32(10))},
		{Name: "web-b", Cluster: "b", Version: "v1", Weight: ptr.To(int32(100)), PublishedWeight: ptr.To(int32(100))},
		{Name: "web-c", Cluster: "c", Version: "v1", Weight: ptr.To(int32(0)), PublishedWeight: ptr.To(int32(90)), PendingWeight: ptr.To(int32(0)), Evicted: "ClusterMaintenance shop/c", PendingPaths: "x"},
		{Name: "web-d", Cluster: "d", Version: "v1", Weight: ptr.To(int32(100))},
	}
	d := &dashboardData{
		scope: "namespace shop", sets: []droverv1.ProdSet{set}, clustersListed: true,
		clusters: []clusterv1.Cluster{dashCluster("a", "eu"), dashCluster("b", "us"), dashCluster("c", "eu"), dashCluster("d", "")},
		prods: []droverv1.Prod{
			dashProd("web-a", "a", "v2", 10, mirrored(2)),
			dashProd("web-b", "b", "v1", 100, mirrored(0)),
			dashProd("web-c", "c", "v1", 0, mirrored(1), func(p *droverv1.Prod) { p.Status.Endpoint.OctaviaStatus = "ERROR" }),
			dashProd("web-d", "d", "v1", 100, func(p *droverv1.Prod) { p.Status.Endpoint = nil }),
		},
	}
	v := buildDashboard(d, dashNow)
	if len(v.ProdSets) != 1 {
		t.Fatalf("sets: %+v", v.ProdSets)
	}
	tv := v.ProdSets[0].Traffic
	if tv.Published != 200 || tv.Desired != 210 || !tv.InFlight {
		t.Errorf("totals: published %d desired %d in flight %v; want 200, 210, true", tv.Published, tv.Desired, tv.InFlight)
	}
	var regions []string
	for _, r := range tv.Regions {
		var cs []string
		for _, c := range r.Clusters {
			var ps []string
			for _, p := range c.Prods {
				paths := "-"
				if p.Paths != nil {
					paths = strings.TrimSpace(strings.Join([]string{fmt.Sprint(p.Paths.Octavia), fmt.Sprint(p.Paths.NLB), p.Paths.Note}, " "))
				}
				ps = append(ps, p.Name+" "+p.State+" "+fmt.Sprint(p.PublishedShare)+"/"+fmt.Sprint(p.DesiredShare)+" "+paths)
			}
			cs = append(cs, c.Cluster+":"+fmt.Sprint(c.Published)+"/"+fmt.Sprint(c.Desired)+"["+strings.Join(ps, "; ")+"]")
		}
		regions = append(regions, cmp.Or(r.Region, "?")+":"+fmt.Sprint(r.Published)+"{"+strings.Join(cs, " ")+"}")
	}
	want := []string{
		"eu:100{a:10/10[web-a serving 5/4.8 90 10] c:90/0[web-c draining 45/0 0 100 Octavia ERROR: the NLB takes the Prod's traffic]}",
		"us:100{b:100/100[web-b serving 50/47.6 100 0 no healthy NLB target: Octavia takes the Prod's traffic]}",
		"?:0{d:0/100[web-d pending 0/47.6 -]}",
	}
	if strings.Join(regions, "\n") != strings.Join(want, "\n") {
		t.Errorf("regions:\n%s\nwant:\n%s", strings.Join(regions, "\n"), strings.Join(want, "\n"))
	}
	if p := tv.Regions[0].Clusters[1].Prods[0]; p.Paths == nil || !p.Paths.InFlight || p.Paths.NLBTargets != 2 || p.Paths.NLBHealthy != 1 {
		t.Errorf("web-c paths: %+v", p.Paths)
	}
	// The regions come from the Clusters: without them (a tenant), the clusters are
	// inferred from the Prods and have no region.
	d.clusters, d.clustersListed = nil, false
	v = buildDashboard(d, dashNow)
	if r := v.ProdSets[0].Traffic.Regions; len(r) != 1 || r[0].Region != "" || len(r[0].Clusters) != 4 {
		t.Errorf("without Clusters: %+v", r)
	}
	if len(v.Clusters) != 4 || !v.Clusters[0].Inferred || v.Clusters[0].Name != "a" || v.Clusters[0].Reachable != "True" {
		t.Errorf("inferred clusters: %+v", v.Clusters)
	}
}

// TestDashboardRollout: the steps with where the rollout is, the commands with what
// they would do or why not, and only the set's own Releases, newest first.
func TestDashboardRollout(t *testing.T) {
	policy := droverv1.RolloutPolicy{}
	policy.Namespace, policy.Name = "shop", "canary"
	policy.Spec.Steps = []droverv1.RolloutStep{
		{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), Weight: ptr.To(int32(10)), Gates: []droverv1.Gate{{Approval: &droverv1.ApprovalGate{}}}},
		{Count: ptr.To(intstr.FromString("50%"))},
		{Name: "rest"},
	}
	set := droverv1.ProdSet{}
	set.Namespace, set.Name, set.UID = "shop", "web", "set-uid"
	set.Spec.RolloutPolicyRef = &droverv1.LocalObjectReference{Name: "canary"}
	set.Status.Rollout = &droverv1.RolloutStatus{Revision: "r2", PreviousRevision: "r1", Phase: droverv1.RolloutProgressing, Step: 1,
		Prods: []droverv1.RolloutProdStatus{{Name: "web-a", Step: 0, Phase: "Done"}, {Name: "web-b", Step: 1, Phase: "Updating"}}}
	own := func(name string, started time.Time, outcome droverv1.ReleaseOutcome) droverv1.Release {
		r := droverv1.Release{}
		r.Namespace, r.Name = "shop", name
		r.OwnerReferences = []metav1.OwnerReference{{APIVersion: droverv1.GroupVersion.String(), Kind: "ProdSet", Name: "web", UID: "set-uid", Controller: ptr.To(true)}}
		r.Revision, r.StartedTime, r.Outcome = name, metav1.NewTime(started), outcome
		if outcome == "" {
			r.Phase = droverv1.RolloutProgressing
		} else {
			r.FinishedTime = &metav1.Time{Time: started.Add(time.Minute)}
		}
		return r
	}
	forged := own("forged", dashNow, droverv1.ReleaseCompleted)
	forged.OwnerReferences[0].UID = "another-uid" // carries the name, is not the set's
	d := &dashboardData{
		sets: []droverv1.ProdSet{set}, policies: []droverv1.RolloutPolicy{policy},
		releases: []droverv1.Release{own("old", dashNow.Add(-2*time.Hour), droverv1.ReleaseRolledBack), forged, own("new", dashNow.Add(-time.Minute), "")},
	}
	ds := buildDashboard(d, dashNow).ProdSets[0]
	var steps []string
	for _, s := range ds.Steps {
		var ps []string
		for _, p := range s.Prods {
			ps = append(ps, p.Name+" "+p.Phase)
		}
		steps = append(steps, s.Name+" ("+s.Takes+") "+s.State+" "+strings.Join(ps, ","))
	}
	wantSteps := "canary (1 Prod at weight 10) done web-a Done|step 2 (50% Prods) current web-b Updating|rest (every remaining Prod) waiting "
	if got := strings.Join(steps, "|"); got != wantSteps {
		t.Errorf("steps:\n%s\nwant:\n%s", got, wantSteps)
	}
	applies := map[string]bool{}
	for _, c := range ds.Commands {
		applies[c.Verb] = c.Applies
		if c.Text == "" {
			t.Errorf("command %s says nothing", c.Verb)
		}
	}
	if !applies["promote"] || !applies["pause"] || applies["resume"] || !applies["abort"] {
		t.Errorf("commands: %+v", ds.Commands)
	}
	var rels []string
	for _, r := range ds.Releases {
		rels = append(rels, r.Name+" "+r.Outcome)
	}
	if got := strings.Join(rels, ", "); got != "new Progressing, old RolledBack" {
		t.Errorf("releases: %s; want the set's own, newest first", got)
	}

	// A user who may not patch ProdSets in the namespace is offered no command, and told why.
	d.mayPatch = map[string]bool{"shop": false}
	for _, c := range buildDashboard(d, dashNow).ProdSets[0].Commands {
		if c.Applies || !strings.Contains(c.Text, "your credentials may not patch ProdSets in namespace shop") {
			t.Errorf("without patch: %+v", c)
		}
	}
	d.mayPatch = map[string]bool{"shop": true}
	if c := buildDashboard(d, dashNow).ProdSets[0].Commands[0]; !c.Applies {
		t.Errorf("with patch: %+v", c)
	}

	// Rolled back at the current step: that step failed.
	d.sets[0].Status.Rollout.Phase = droverv1.RolloutRolledBack
	if s := buildDashboard(d, dashNow).ProdSets[0].Steps[1]; s.State != "failed" {
		t.Errorf("rolled back step: %+v", s)
	}
	// Without a policy: no steps, no commands.
	d.sets[0].Spec.RolloutPolicyRef = nil
	if ds := buildDashboard(d, dashNow).ProdSets[0]; len(ds.Steps) != 0 || len(ds.Commands) != 0 {
		t.Errorf("without a policy: %+v %+v", ds.Steps, ds.Commands)
	}
}

// TestDashboardJSONNeverNull: the page iterates over every list; none may be null.
func TestDashboardJSONNeverNull(t *testing.T) {
	b, err := json.Marshal(buildDashboard(&dashboardData{sets: []droverv1.ProdSet{{}}}, dashNow))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "null") {
		t.Errorf("a null list in %s", b)
	}
}

func testDashboard() *dashboard {
	return &dashboard{hub: newDashHub(), token: "secret-token", addr: "127.0.0.1:8080", src: &dashSource{namespace: "shop"}, cli: &cli{opts: Options{Now: time.Now}}}
}

// TestDashboardGuard: only the browser that opened the printed address gets an answer.
func TestDashboardGuard(t *testing.T) {
	d := testDashboard()
	d.hub.publish("k", []byte(`{"scope":"namespace shop"}`))
	h := d.handler()
	do := func(method, target, host string, hdr map[string]string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, target, strings.NewReader(`{"namespace":"shop","name":"web","verb":"promote"}`))
		r.Host = host
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	cookie := map[string]string{"Cookie": dashCookie + "=secret-token"}

	// The printed address sets the session cookie and leaves the token out of the address bar.
	w := do("GET", "/?token=secret-token", "127.0.0.1:8080", nil)
	if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/" {
		t.Errorf("token: %d %v", w.Code, w.Header())
	}
	if c := w.Header().Get("Set-Cookie"); !strings.Contains(c, "drover-dashboard=secret-token") || !strings.Contains(c, "HttpOnly") || !strings.Contains(c, "SameSite=Strict") {
		t.Errorf("cookie: %q", c)
	}
	if w.Header().Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("the token could leak through Referer: %v", w.Header())
	}
	for _, tc := range []struct {
		name, method, target, host string
		hdr                        map[string]string
		code                       int
	}{
		{"wrong token", "GET", "/?token=guess", "127.0.0.1:8080", nil, http.StatusForbidden},
		{"no cookie", "GET", "/api/view", "127.0.0.1:8080", nil, http.StatusUnauthorized},
		{"wrong cookie", "GET", "/api/view", "127.0.0.1:8080", map[string]string{"Cookie": dashCookie + "=guess"}, http.StatusUnauthorized},
		{"rebound host name", "GET", "/api/view", "evil.example:8080", cookie, http.StatusForbidden},
		{"other port", "GET", "/api/view", "127.0.0.1:9090", cookie, http.StatusForbidden},
		{"the view", "GET", "/api/view", "127.0.0.1:8080", cookie, http.StatusOK},
		{"by localhost", "GET", "/api/view", "localhost:8080", cookie, http.StatusOK},
		{"the page", "GET", "/", "127.0.0.1:8080", cookie, http.StatusOK},
		{"the script", "GET", "/app.js", "127.0.0.1:8080", cookie, http.StatusOK},
		{"post without origin", "POST", "/api/command", "127.0.0.1:8080", map[string]string{"Cookie": dashCookie + "=secret-token", "Content-Type": "application/json"}, http.StatusForbidden},
		{"post from another site", "POST", "/api/command", "127.0.0.1:8080", map[string]string{"Cookie": dashCookie + "=secret-token", "Content-Type": "application/json", "Origin": "http://evil.example"}, http.StatusForbidden},
		{"post as a form", "POST", "/api/command", "127.0.0.1:8080", map[string]string{"Cookie": dashCookie + "=secret-token", "Content-Type": "text/plain", "Origin": "http://127.0.0.1:8080"}, http.StatusForbidden},
	} {
		w := do(tc.method, tc.target, tc.host, tc.hdr)
		if w.Code != tc.code {
			t.Errorf("%s: %d, want %d (%s)", tc.name, w.Code, tc.code, w.Body.String())
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
			t.Errorf("%s: Content-Security-Policy %q", tc.name, csp)
		}
	}
	if w := do("GET", "/api/view", "127.0.0.1:8080", cookie); w.Body.String() != `{"scope":"namespace shop"}` {
		t.Errorf("view: %s", w.Body.String())
	}
}

// TestDashboardCommandRequests: the page's command endpoint takes only a known verb for
// a set of the page's namespace.
func TestDashboardCommandRequests(t *testing.T) {
	h := testDashboard().handler()
	for _, tc := range []struct{ body, want string }{
		{`{"namespace":"shop","name":"web","verb":"delete"}`, `unknown command "delete"`},
		{`{"namespace":"other","name":"web","verb":"promote"}`, "that ProdSet is not on this page"},
		{`{"namespace":"shop","name":"","verb":"promote"}`, "that ProdSet is not on this page"},
		{`{"namespace":"shop",` + strings.Repeat(" ", 5000) + `}`, "bad request"},
	} {
		r := httptest.NewRequest("POST", "/api/command", strings.NewReader(tc.body))
		r.Host = "127.0.0.1:8080"
		r.Header.Set("Cookie", dashCookie+"=secret-token")
		r.Header.Set("Origin", "http://127.0.0.1:8080")
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != http.StatusBadRequest || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("%.60s: %d %q, want 400 %q", tc.body, w.Code, w.Body.String(), tc.want)
		}
	}
}

func TestLoopbackOnly(t *testing.T) {
	for addr, ok := range map[string]bool{
		"127.0.0.1:0": true, "localhost:8080": true, "[::1]:80": true, "127.1.2.3:9": true,
		"0.0.0.0:8080": false, ":8080": false, "10.0.0.1:80": false, "example.com:80": false, "nonsense": false,
	} {
		if err := loopbackOnly(addr); (err == nil) != ok {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

// TestDashHub: a view equal to the last but for its time is not sent again; a slow
// page gets the newest view only.
func TestDashHub(t *testing.T) {
	h := newDashHub()
	h.publish("a", []byte("1"))
	ch, done := h.subscribe()
	defer done()
	if got := string(<-ch); got != "1" {
		t.Fatalf("first: %s", got)
	}
	h.publish("a", []byte("1 later"))
	select {
	case b := <-ch:
		t.Fatalf("an unchanged view was sent again: %s", b)
	default:
	}
	h.publish("b", []byte("2"))
	h.publish("c", []byte("3"))
	if got := string(<-ch); got != "3" {
		t.Errorf("slow page got %s, want the newest (3)", got)
	}
}

// TestPageLoadsNothingFromElsewhere: every asset the page names is embedded, and it
// never writes markup from data.
func TestPageLoadsNothingFromElsewhere(t *testing.T) {
	external := regexp.MustCompile(`(?i)(src|href)\s*=\s*["'](https?:)?//|url\(\s*["']?(https?:)?//|@import|fetch\(\s*["']https?:`)
	unsafe := regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(|new Function`)
	err := fs.WalkDir(webFiles, "web", func(path string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		b, err := webFiles.ReadFile(path)
		if err != nil {
			return err
		}
		if m := external.Find(b); m != nil {
			t.Errorf("%s loads from elsewhere: %s", path, m)
		}
		if m := unsafe.Find(b); m != nil {
			t.Errorf("%s writes markup or code from strings: %s", path, m)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"web/index.html", "web/app.js", "web/app.css"} {
		if _, err := webFiles.ReadFile(name); err != nil {
			t.Errorf("%s not embedded: %v", name, err)
		}
	}
}

// TestDashboardPageRendersAView loads the page in headless Chromium from the real
// handler serving a view built from fixtures: what the test bed cannot show quickly (an
// NLB path taking a Prod's traffic when Octavia fails, a maintenance draining a cluster,
// a baseline gate's numbers, a Prod of no set) is drawn as the view says.
func TestDashboardPageRendersAView(t *testing.T) {
	policy := droverv1.RolloutPolicy{}
	policy.Namespace, policy.Name = "shop", "canary"
	policy.Spec.Steps = []droverv1.RolloutStep{
		{Name: "canary", Count: ptr.To(intstr.FromInt32(1)), Gates: []droverv1.Gate{{Baseline: &droverv1.BaselineGate{}}}},
		{Name: "rest"},
	}
	set := droverv1.ProdSet{}
	set.Namespace, set.Name, set.UID = "shop", "web", "set-uid"
	set.Spec.RolloutPolicyRef = &droverv1.LocalObjectReference{Name: "canary"}
	set.Status.Prods = []droverv1.ProdSummary{
		{Name: "web-a", Cluster: "a", Version: "v2", Weight: ptr.To(int32(100)), PublishedWeight: ptr.To(int32(100))},
		{Name: "web-b", Cluster: "b", Version: "v1", Weight: ptr.To(int32(0)), PublishedWeight: ptr.To(int32(0)), Evicted: "ClusterMaintenance shop/b-upgrade", Drained: true},
	}
	set.Status.Rollout = &droverv1.RolloutStatus{Revision: "r2", Phase: droverv1.RolloutPaused, Step: 0, Message: "gate 1 (baseline) failed",
		Gates: []droverv1.GateOutcome{{Step: 0, Gate: 0, Type: "baseline", Message: "error_ratio worse", Baseline: &droverv1.BaselineJudgement{
			Metrics: []droverv1.MetricJudgement{{Name: "error_ratio", Verdict: "Fail", CanaryMean: "0.2", BaselineMean: "0.01", CanarySamples: 12, BaselineSamples: 12, PValue: "0.001"}}}}}}
	cm := droverv1.ClusterMaintenance{}
	cm.Namespace, cm.Name, cm.Spec.ClusterName, cm.Status.Phase = "shop", "b-upgrade", "b", droverv1.MaintenanceDraining
	lone := dashProd("solo", "a", "v9", 5)
	lone.Labels = nil
	d := &dashboardData{
		scope: "namespace shop", sets: []droverv1.ProdSet{set}, policies: []droverv1.RolloutPolicy{policy}, clustersListed: true,
		clusters:     []clusterv1.Cluster{dashCluster("a", "eu"), dashCluster("b", "us")},
		maintenances: []droverv1.ClusterMaintenance{cm},
		prods: []droverv1.Prod{
			dashProd("web-a", "a", "v2", 100, mirrored(2), func(p *droverv1.Prod) { p.Status.Endpoint.OctaviaStatus = "ERROR" }),
			dashProd("web-b", "b", "v1", 0, mirrored(2)),
			lone,
		},
		hidden: []string{"Clusters in namespace shop: your credentials may not list them"},
	}
	v := buildDashboard(d, time.Now())
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	dash := testDashboard()
	dash.hub.publish("k", b)
	srv := httptest.NewServer(dash.handler())
	t.Cleanup(srv.Close) // after the browser's cleanup: Close waits for the page's event stream to end
	dash.addr = strings.TrimPrefix(srv.URL, "http://")

	browser := newBrowser(t)
	g := NewWithT(t)
	g.Expect(chromedp.Do(browser, chromedp.Navigate(srv.URL+"/?token="+dash.token))).To(Succeed())
	set1 := `article[data-set="shop/web"]`
	g.Eventually(func() string { return text(browser, "#scope") }, 10*time.Second).Should(Equal("namespace shop"))
	g.Expect(text(browser, "#hidden-list")).To(Equal("Clusters in namespace shop: your credentials may not list them"))
	g.Expect(text(browser, set1+` [data-cluster="a"] [data-paths]`)).To(Equal("Octavia 0 (ERROR) · NLB 100 (2/2 healthy)"))
	g.Expect(text(browser, set1+` [data-cluster="a"] .prod`)).To(ContainSubstring("Octavia ERROR: the NLB takes the Prod's traffic"))
	g.Expect(text(browser, set1+` [data-cluster="a"] [data-path-shares]`)).To(Equal("of the service: 0% via Octavia · 100% via NLB"))
	g.Expect(text(browser, set1+` [data-region="us"] [data-prod="web-b"]`)).To(And(ContainSubstring("v1 evicted"), ContainSubstring("evicted: ClusterMaintenance shop/b-upgrade")))
	g.Expect(text(browser, set1+` [data-bar="publishedShare"]`)).To(Equal("web-a 100%"))
	g.Expect(text(browser, set1+` .rollout h3`)).To(HavePrefix("Rollout Paused"))
	g.Expect(text(browser, set1+` [data-gate="0"]`)).To(HavePrefix("gate 1 baseline: failed error_ratio worse"))
	g.Expect(text(browser, set1+` [data-gate="0"] table.judgement tbody`)).To(Equal("error_ratio\tFail\t0.2\t0.01\t12/12\t0.001"))
	g.Expect(attr(browser, set1+` button[data-verb="resume"]`, "disabled")).To(Equal("<none>"))
	g.Expect(attr(browser, set1+` button[data-verb="pause"]`, "title")).To(ContainSubstring("already Paused"))
	g.Expect(text(browser, `#clusters tr[data-cluster="shop/b"]`)).To(Equal("b\tus\tyes\tb-upgrade: Draining\t1\t0"))
	g.Expect(text(browser, "#lone-prods")).To(Equal("solo on a · v9 · DNS –"))
	g.Expect(text(browser, "#live")).To(Equal("live"))
}

// BenchmarkBuildDashboard builds the view of 200 ProdSets of 10 Prods on 20 clusters,
// each set with 20 Releases (the scale of docs/benchmarks.md's BenchmarkResync), and
// reports the JSON the page receives per change.
func BenchmarkBuildDashboard(b *testing.B) {
	d := &dashboardData{scope: "all namespaces", clustersListed: true}
	for c := range 20 {
		d.clusters = append(d.clusters, dashCluster(fmt.Sprintf("c%02d", c), []string{"eu", "us"}[c%2]))
	}
	for s := range 200 {
		set := droverv1.ProdSet{}
		set.Namespace, set.Name, set.UID = "shop", fmt.Sprintf("set-%03d", s), types.UID(fmt.Sprintf("uid-%03d", s))
		for p := range 10 {
			name := fmt.Sprintf("%s-%d", set.Name, p)
			prod := dashProd(name, fmt.Sprintf("c%02d", (s+p)%20), "v1", 100, mirrored(2))
			prod.Labels[droverv1.ProdSetNameLabel] = set.Name
			d.prods = append(d.prods, prod)
			set.Status.Prods = append(set.Status.Prods, droverv1.ProdSummary{Name: name, Cluster: prod.Spec.ClusterRef.Name, Version: "v1", Weight: ptr.To(int32(100)), PublishedWeight: ptr.To(int32(100))})
		}
		for r := range 20 {
			rel := droverv1.Release{}
			rel.Namespace, rel.Name = "shop", fmt.Sprintf("%s-%02d", set.Name, r)
			rel.OwnerReferences = []metav1.OwnerReference{{APIVersion: droverv1.GroupVersion.String(), Kind: "ProdSet", Name: set.Name, UID: set.UID, Controller: ptr.To(true)}}
			rel.StartedTime = metav1.NewTime(dashNow.Add(-time.Duration(r) * time.Hour))
			rel.Outcome = droverv1.ReleaseCompleted
			d.releases = append(d.releases, rel)
		}
		d.sets = append(d.sets, set)
	}
	var size int
	for b.Loop() {
		v := buildDashboard(d, dashNow)
		j, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		size = len(j)
	}
	b.ReportMetric(float64(size)/1024, "KiB/view")
}
