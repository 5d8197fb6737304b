package freeze

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t
}

func mt(s string) *metav1.Time { t := metav1.NewTime(at(s)); return &t }

func TestAt(t *testing.T) {
	created := at("2026-12-01T00:00:00Z")
	// Fridays 17:00 in Berlin (UTC+1 in December) for 63 hours: until Monday 08:00.
	friday := droverv1.FreezeWindow{Schedule: "0 17 * * 5", Duration: metav1.Duration{Duration: 63 * time.Hour}, TimeZone: "Europe/Berlin"}
	for _, tc := range []struct {
		name string
		t    droverv1.FreezeTime
		now  string
		want State
	}{
		{name: "until deleted", t: droverv1.FreezeTime{}, now: "2026-12-03T10:00:00Z", want: State{Active: true}},
		{name: "before its start", t: droverv1.FreezeTime{Start: mt("2026-12-05T00:00:00Z")}, now: "2026-12-03T10:00:00Z",
			want: State{Next: at("2026-12-05T00:00:00Z")}},
		{name: "between start and end", t: droverv1.FreezeTime{Start: mt("2026-12-02T00:00:00Z"), End: mt("2026-12-04T00:00:00Z")}, now: "2026-12-03T10:00:00Z",
			want: State{Active: true, Until: at("2026-12-04T00:00:00Z")}},
		{name: "after its end", t: droverv1.FreezeTime{End: mt("2026-12-02T00:00:00Z")}, now: "2026-12-03T10:00:00Z", want: State{}},
		{name: "a Thursday: the next Friday evening", t: droverv1.FreezeTime{Windows: []droverv1.FreezeWindow{friday}}, now: "2026-12-03T10:00:00Z",
			want: State{Next: at("2026-12-04T16:00:00Z")}},
		{name: "Friday evening in Berlin", t: droverv1.FreezeTime{Windows: []droverv1.FreezeWindow{friday}}, now: "2026-12-04T16:00:00Z",
			want: State{Active: true, Until: at("2026-12-07T07:00:00Z")}},
		{name: "Sunday", t: droverv1.FreezeTime{Windows: []droverv1.FreezeWindow{friday}}, now: "2026-12-06T12:00:00Z",
			want: State{Active: true, Until: at("2026-12-07T07:00:00Z")}},
		{name: "Monday 08:00 in Berlin: over", t: droverv1.FreezeTime{Windows: []droverv1.FreezeWindow{friday}}, now: "2026-12-07T07:00:00Z",
			want: State{Next: at("2026-12-11T16:00:00Z")}},
		{name: "a window cut by the end", t: droverv1.FreezeTime{End: mt("2026-12-05T00:00:00Z"), Windows: []droverv1.FreezeWindow{friday}}, now: "2026-12-04T20:00:00Z",
			want: State{Active: true, Until: at("2026-12-05T00:00:00Z")}},
		{name: "the next window after the end is none", t: droverv1.FreezeTime{End: mt("2026-12-04T00:00:00Z"), Windows: []droverv1.FreezeWindow{friday}}, now: "2026-12-03T20:00:00Z",
			want: State{}},
		{name: "windows before the start wait for it", t: droverv1.FreezeTime{Start: mt("2026-12-05T00:00:00Z"), Windows: []droverv1.FreezeWindow{friday}}, now: "2026-12-03T10:00:00Z",
			want: State{Next: at("2026-12-05T00:00:00Z")}},
		{name: "overlapping windows merge", t: droverv1.FreezeTime{Windows: []droverv1.FreezeWindow{
			{Schedule: "0 * * * *", Duration: metav1.Duration{Duration: 90 * time.Minute}}}}, now: "2026-12-03T10:30:00Z",
			want: State{Active: true, Until: at("2026-12-03T11:30:00Z").Add(1000 * time.Hour)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := At(tc.t, created, at(tc.now))
			if tc.name == "overlapping windows merge" {
				// Hourly windows of 90 minutes never leave a gap: merged as far as the bound.
				if !got.Active || !got.Until.After(at("2026-12-10T00:00:00Z")) {
					t.Fatalf("got %+v", got)
				}
				return
			}
			if got.Active != tc.want.Active || !got.Until.Equal(tc.want.Until) || !got.Next.Equal(tc.want.Next) || got.Invalid != "" {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
		})
	}

	for _, w := range []droverv1.FreezeWindow{
		{Schedule: "not a schedule", Duration: metav1.Duration{Duration: time.Hour}},
		{Schedule: "0 17 * * 5", Duration: metav1.Duration{Duration: time.Hour}, TimeZone: "Mars/Olympus"},
	} {
		got := At(droverv1.FreezeTime{Windows: []droverv1.FreezeWindow{w}}, created, at("2026-12-03T10:00:00Z"))
		if !got.Active || got.Invalid == "" {
			t.Errorf("%+v: a window that cannot be read must hold, got %+v", w, got)
		}
		if d := Describe("Freeze", "shop/x", "r", got); !strings.Contains(d, "holds until fixed or deleted") {
			t.Errorf("description %q", d)
		}
	}
	if d := Describe("ClusterFreeze", "upgrade", "k8s 1.37", State{Active: true, Until: at("2026-12-07T07:00:00Z")}); d != "frozen by ClusterFreeze upgrade (k8s 1.37) until 2026-12-07T07:00:00Z" {
		t.Errorf("description %q", d)
	}
}
