package releasediff

import (
	"encoding/base64"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func obj(m map[string]any) *unstructured.Unstructured { return &unstructured.Unstructured{Object: m} }

func configMap(data map[string]any, meta map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": "settings", "namespace": "shop"}
	for k, v := range meta {
		md[k] = v
	}
	return obj(map[string]any{"apiVersion": "v1", "kind": "ConfigMap", "metadata": md, "data": data})
}

func secret(field string, data map[string]any, annotations map[string]any) *unstructured.Unstructured {
	md := map[string]any{"name": "creds", "namespace": "shop"}
	if annotations != nil {
		md["annotations"] = annotations
	}
	return obj(map[string]any{"apiVersion": "v1", "kind": "Secret", "metadata": md, field: data})
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDiff(t *testing.T) {
	serverSet := map[string]any{"resourceVersion": "42", "generation": int64(3), "uid": "u-1", "creationTimestamp": "2030-01-01T00:00:00Z",
		"managedFields": []any{map[string]any{"manager": "drover"}}}
	withStatus := configMap(map[string]any{"a": "1"}, serverSet)
	withStatus.Object["status"] = map[string]any{"phase": "x"}
	tests := []struct {
		name            string
		live, candidate *unstructured.Unstructured
		changed         bool
		has, hasNot     []string
	}{
		{
			name: "only what the server sets differs", live: withStatus, candidate: configMap(map[string]any{"a": "1"}, map[string]any{"resourceVersion": "43"}),
			changed: false,
		},
		{
			name: "a changed value", live: configMap(map[string]any{"a": "1", "b": "2"}, serverSet), candidate: configMap(map[string]any{"a": "2", "b": "2"}, nil),
			changed: true,
			has:     []string{"--- live/ConfigMap/shop/settings", "+++ candidate/ConfigMap/shop/settings", "-  a: \"1\"", "+  a: \"2\"", "   b: \"2\""},
			hasNot:  []string{"resourceVersion", "managedFields", "uid", "generation", "creationTimestamp"},
		},
		{
			name: "created", live: nil, candidate: configMap(map[string]any{"a": "1"}, nil),
			changed: true, has: []string{"+kind: ConfigMap", "+  a: \"1\""}, hasNot: []string{"\n-kind"},
		},
		{
			name: "deleted", live: configMap(map[string]any{"a": "1"}, nil), candidate: nil,
			changed: true, has: []string{"-kind: ConfigMap", "-  a: \"1\""}, hasNot: []string{"\n+kind"},
		},
		{
			name: "a Secret's values are never shown",
			live: secret("data", map[string]any{"same": b64("s3cret-same"), "old": b64("s3cret-old"), "gone": b64("s3cret-gone")},
				map[string]any{lastApplied: `{"data":{"same":"` + b64("s3cret-same") + `"}}`}),
			candidate: secret("data", map[string]any{"same": b64("s3cret-same"), "old": b64("s3cret-new"), "added": b64("s3cret-added")},
				map[string]any{lastApplied: `{"data":{"same":"` + b64("s3cret-same") + `"}}`}),
			changed: true,
			has:     []string{"   same: <unchanged>", "-  old: '<changed: old value>'", "+  old: '<changed: new value>'", "-  gone: <changed>", "+  added: <changed>"},
			hasNot:  []string{"s3cret", b64("s3cret-same"), b64("s3cret-old"), b64("s3cret-new"), b64("s3cret-added"), b64("s3cret-gone")},
		},
		{
			name:      "a created Secret's stringData is not shown",
			live:      nil,
			candidate: secret("stringData", map[string]any{"password": "hunter2"}, nil),
			changed:   true,
			has:       []string{"+  password: <changed>"}, hasNot: []string{"hunter2"},
		},
		{
			name:      "a Secret whose values stay is unchanged",
			live:      secret("data", map[string]any{"k": b64("v")}, nil),
			candidate: secret("data", map[string]any{"k": b64("v")}, nil),
			changed:   false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			name := "ConfigMap/shop/settings"
			src := tt.candidate
			if src == nil {
				src = tt.live
			}
			if isSecret(src) {
				name = "Secret/shop/creds"
			}
			liveBefore := ""
			if tt.live != nil {
				liveBefore, _ = toYAML(tt.live)
			}
			diff, changed, truncated, err := Diff(name, tt.live, tt.candidate)
			if err != nil {
				t.Fatal(err)
			}
			if changed != tt.changed {
				t.Fatalf("changed = %t, want %t; diff:\n%s", changed, tt.changed, diff)
			}
			if truncated {
				t.Errorf("a short diff was cut")
			}
			if !changed && diff != "" {
				t.Errorf("no change, but a diff:\n%s", diff)
			}
			for _, s := range tt.has {
				if !strings.Contains(diff, s) {
					t.Errorf("the diff lacks %q:\n%s", s, diff)
				}
			}
			for _, s := range tt.hasNot {
				if strings.Contains(diff, s) {
					t.Errorf("the diff shows %q:\n%s", s, diff)
				}
			}
			if tt.live != nil {
				if after, _ := toYAML(tt.live); after != liveBefore {
					t.Errorf("Diff changed the live object it was given")
				}
			}
		})
	}
}

func TestRedactHidesKubectlsCopyOfASecret(t *testing.T) {
	live := secret("data", map[string]any{"k": b64("v")}, map[string]any{lastApplied: `{"data":{"k":"` + b64("v") + `"}}`, "team": "shop"})
	cm := configMap(map[string]any{"k": "v"}, map[string]any{"annotations": map[string]any{lastApplied: `{"data":{"k":"v"}}`}})
	redact(live, nil)
	redact(cm, nil)
	if got := live.GetAnnotations(); got[lastApplied] != "<redacted>" || got["team"] != "shop" {
		t.Errorf("the Secret's annotations after redact: %v", got)
	}
	if got := cm.GetAnnotations()[lastApplied]; got != `{"data":{"k":"v"}}` {
		t.Errorf("a ConfigMap's annotation was redacted: %q", got)
	}
	if got, _, _ := unstructured.NestedString(cm.Object, "data", "k"); got != "v" {
		t.Errorf("a ConfigMap's data was redacted: %q", got)
	}
}

func TestDiffIsCutAtALineEnd(t *testing.T) {
	big := map[string]any{}
	for i := range 2000 {
		big[strings.Repeat("k", 10)+string(rune('a'+i%26))+strings.Repeat("x", i%7)+"-"+itoa(i)] = strings.Repeat("v", 20)
	}
	diff, changed, truncated, err := Diff("ConfigMap/shop/settings", nil, configMap(big, nil))
	if err != nil || !changed {
		t.Fatalf("changed %t, err %v", changed, err)
	}
	if !truncated {
		t.Fatalf("a %d-byte diff was not cut", len(diff))
	}
	if len(diff) > MaxDiffBytes {
		t.Errorf("the diff has %d bytes, more than %d", len(diff), MaxDiffBytes)
	}
	if !strings.HasSuffix(diff, "\n") {
		t.Errorf("the diff was cut inside a line")
	}
}

func TestDiffOfAnObjectTooLongToCompare(t *testing.T) {
	a, b := map[string]any{}, map[string]any{}
	for i := range maxDiffLines + 10 {
		a["k"+itoa(i)] = "1"
		b["k"+itoa(i)] = "2"
	}
	diff, changed, truncated, err := Diff("ConfigMap/shop/settings", configMap(a, nil), configMap(b, nil))
	if err != nil || !changed || !truncated {
		t.Fatalf("changed %t, truncated %t, err %v", changed, truncated, err)
	}
	if !strings.HasPrefix(diff, "--- live/ConfigMap/shop/settings\n+++ candidate/ConfigMap/shop/settings\n@@ ") {
		t.Errorf("unexpected start:\n%.300s", diff)
	}
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}

func TestCut(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
		cut  bool
	}{
		{"a\nb\n", 10, "a\nb\n", false},
		{"a\nb\n", 4, "a\nb\n", false},
		{"aa\nbb\ncc\n", 7, "aa\nbb\n", true},
		{"aa\nbb\ncc\n", 2, "aa", true},
	}
	for _, tt := range tests {
		got, cut := cut(tt.in, tt.max)
		if got != tt.want || cut != tt.cut {
			t.Errorf("cut(%q, %d) = %q, %t; want %q, %t", tt.in, tt.max, got, cut, tt.want, tt.cut)
		}
	}
}

func TestBudgetBoundsTheStatus(t *testing.T) {
	mk := func(n, diffLen int) droverv1.ReleaseDiffProd {
		p := droverv1.ReleaseDiffProd{Name: "p"}
		for range n {
			p.Objects = append(p.Objects, droverv1.ReleaseDiffObject{Action: droverv1.ReleaseDiffUpdate, Diff: strings.Repeat("x", diffLen)})
		}
		return p
	}
	b := &budget{diffBytes: 250, objects: 5}
	first := mk(2, 100)
	if b.fit(&first) {
		t.Fatal("the first Prod was cut although its 2 diffs fit")
	}
	second := mk(4, 100)
	if !b.fit(&second) {
		t.Fatal("the second Prod was not cut")
	}
	if len(second.Objects) != 3 {
		t.Errorf("the second Prod keeps %d objects, want the 3 left of 5", len(second.Objects))
	}
	if b.objects != 0 {
		t.Errorf("%d objects left in the budget, want 0", b.objects)
	}
	if second.Objects[0].Diff != "" || !second.Objects[0].DiffTruncated {
		t.Errorf("a diff past the byte budget was kept: %d bytes, truncated %t", len(second.Objects[0].Diff), second.Objects[0].DiffTruncated)
	}
}

func TestBudgetCountsBytes(t *testing.T) {
	b := &budget{diffBytes: 250, objects: 100}
	p := droverv1.ReleaseDiffProd{Objects: []droverv1.ReleaseDiffObject{
		{Diff: strings.Repeat("x", 100)}, {Diff: strings.Repeat("x", 100)}, {Diff: strings.Repeat("x", 100)},
	}}
	if !b.fit(&p) {
		t.Fatal("300 bytes of diffs fit a budget of 250")
	}
	if p.Objects[0].Diff == "" || p.Objects[1].Diff == "" || p.Objects[2].Diff != "" || !p.Objects[2].DiffTruncated {
		t.Errorf("want the first two diffs kept and the third dropped, got lengths %d %d %d", len(p.Objects[0].Diff), len(p.Objects[1].Diff), len(p.Objects[2].Diff))
	}
}

func TestBudgetCutsMessagesOnceSpent(t *testing.T) {
	b := &budget{diffBytes: 1000, objects: 100}
	long := strings.Repeat("m", maxMessage)
	p := droverv1.ReleaseDiffProd{Objects: []droverv1.ReleaseDiffObject{{Message: long[:900]}, {Message: long}, {Message: "short"}}}
	if !b.fit(&p) {
		t.Fatal("messages past the budget were kept whole")
	}
	if got := []int{len(p.Objects[0].Message), len(p.Objects[1].Message), len(p.Objects[2].Message)}; got[0] != 900 || got[1] != shortMessage || got[2] != 5 {
		t.Errorf("message lengths %v, want [900 %d 5]", got, shortMessage)
	}
}

func TestChangesAndSummary(t *testing.T) {
	same := droverv1.ReleaseDiffProd{Name: "a", Objects: []droverv1.ReleaseDiffObject{{Action: droverv1.ReleaseDiffUnchanged}}}
	refused := droverv1.ReleaseDiffProd{Name: "b", Objects: []droverv1.ReleaseDiffObject{{Action: droverv1.ReleaseDiffRefused}}}
	unreachable := droverv1.ReleaseDiffProd{Name: "c", Message: "Cluster x cannot be reached"}
	if changes([]droverv1.ReleaseDiffProd{same}) {
		t.Error("only unchanged objects count as changes")
	}
	if !changes([]droverv1.ReleaseDiffProd{same, refused}) {
		t.Error("a refused object does not count as a change")
	}
	if !changes([]droverv1.ReleaseDiffProd{same, unreachable}) {
		t.Error("a Prod that could not be diffed does not count as a change")
	}
	if got := summary(nil); !strings.Contains(got, "no Prods") {
		t.Errorf("summary of no Prods = %q", got)
	}
	got := summary([]droverv1.ReleaseDiffProd{same, refused, unreachable})
	for _, want := range []string{"2 Prods diffed", "1 unchanged", "1 refused", "1 Prods could not be diffed"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary %q lacks %q", got, want)
		}
	}
}
