package audit

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSetBy(t *testing.T) {
	at := func(s int) *metav1.Time { t := metav1.NewTime(time.Unix(int64(s), 0)); return &t }
	annotation := metav1.NewFieldsV1(`{"f:metadata":{"f:annotations":{"f:drover.dev/safety-override":{}}}}`)
	template := metav1.NewFieldsV1(`{"f:spec":{"f:template":{"f:spec":{"f:version":{}}}}}`)
	labelNamedTemplate := metav1.NewFieldsV1(`{"f:metadata":{"f:labels":{"f:template":{}}},"f:status":{"f:template":{}}}`)
	override := []string{"metadata", "annotations", "drover.dev/safety-override"}
	for _, tt := range []struct {
		name   string
		fields []metav1.ManagedFieldsEntry
		path   []string
		want   string
	}{
		{"the owner of the annotation", []metav1.ManagedFieldsEntry{
			{Manager: "drover", FieldsV1: metav1.NewFieldsV1(`{"f:spec":{}}`)},
			{Manager: "kubectl-annotate", FieldsV1: annotation},
			{Manager: "no-fields"},
		}, override, "kubectl-annotate"},
		{"nobody owns it", []metav1.ManagedFieldsEntry{{Manager: "drover", FieldsV1: template}}, override, ""},
		{"a field below the path", []metav1.ManagedFieldsEntry{{Manager: "argocd-controller", FieldsV1: template}}, []string{"spec", "template"}, "argocd-controller"},
		{"the same name elsewhere is not the field", []metav1.ManagedFieldsEntry{{Manager: "kubectl-label", FieldsV1: labelNamedTemplate}}, []string{"spec", "template"}, ""},
		{"the latest of two owners", []metav1.ManagedFieldsEntry{
			{Manager: "later", Time: at(20), FieldsV1: template},
			{Manager: "earlier", Time: at(10), FieldsV1: template},
		}, []string{"spec", "template"}, "later"},
		{"a status entry does not count", []metav1.ManagedFieldsEntry{
			{Manager: "kubectl-edit", Time: at(10), FieldsV1: template},
			{Manager: "drover", Time: at(30), Subresource: "status", FieldsV1: template},
		}, []string{"spec", "template"}, "kubectl-edit"},
		{"garbage fields", []metav1.ManagedFieldsEntry{{Manager: "x", FieldsV1: metav1.NewFieldsV1(`{"f:spec":`)}}, []string{"spec"}, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := SetBy(tt.fields, tt.path...); got != tt.want {
				t.Errorf("SetBy(%v) = %q, want %q", tt.path, got, tt.want)
			}
		})
	}
}
