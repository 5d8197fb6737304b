package workload

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestIsUnreachable(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://10.0.0.1:6443/api", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"connection refused", refused, true},
		{"wrapped connection refused", fmt.Errorf("applying ConfigMap x: %w", refused), true},
		{"deadline", context.DeadlineExceeded, true},
		{"service unavailable", apierrors.NewServiceUnavailable("etcd is down"), true},
		{"server timeout", apierrors.NewServerTimeout(schema.GroupResource{Resource: "configmaps"}, "create", 1), true},
		{"the API server said no", apierrors.NewForbidden(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("rbac")), false},
		{"invalid object", apierrors.NewBadRequest("spec.replicas: invalid"), false},
		{"conflict", apierrors.NewConflict(schema.GroupResource{Resource: "configmaps"}, "x", errors.New("changed")), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := IsUnreachable(tt.err); got != tt.want {
				t.Fatalf("IsUnreachable(%v) = %t, want %t", tt.err, got, tt.want)
			}
		})
	}
}
