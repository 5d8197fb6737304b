package cloudbed

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	droverv1 "github.com/drover-dev/drover/api/v1alpha1"
)

func TestOperatingStatusOf(t *testing.T) {
	tests := []struct {
		name        string
		annotations map[string]string
		want        string
		wantErr     bool
	}{
		{name: "no annotation: ONLINE", want: "ONLINE"},
		{name: "empty: ONLINE", annotations: map[string]string{OperatingStatusAnnotation: " "}, want: "ONLINE"},
		{name: "ERROR", annotations: map[string]string{OperatingStatusAnnotation: "ERROR"}, want: "ERROR"},
		{name: "lower case", annotations: map[string]string{OperatingStatusAnnotation: "offline"}, want: "OFFLINE"},
		{name: "degraded with spaces", annotations: map[string]string{OperatingStatusAnnotation: " degraded "}, want: "DEGRADED"},
		{name: "unknown", annotations: map[string]string{OperatingStatusAnnotation: "BROKEN"}, wantErr: true},
		{name: "other annotations", annotations: map[string]string{"x": "ERROR"}, want: "ONLINE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &droverv1.Prod{ObjectMeta: metav1.ObjectMeta{Annotations: tt.annotations}}
			got, err := operatingStatusOf(p)
			if (err != nil) != tt.wantErr || got != tt.want {
				t.Errorf("operatingStatusOf = %q, %v; want %q, error %t", got, err, tt.want, tt.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), OperatingStatusAnnotation) {
				t.Errorf("error %q does not name the annotation", err)
			}
		})
	}
}

func TestDesiredListeners(t *testing.T) {
	port := func(name string, p int32, proto corev1.Protocol) corev1.ServicePort {
		return corev1.ServicePort{Name: name, Port: p, Protocol: proto}
	}
	svc := func(ports ...corev1.ServicePort) *corev1.Service {
		return &corev1.Service{Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: ports}}
	}
	ep := func(ready *bool, addrs ...string) discoveryv1.Endpoint {
		return discoveryv1.Endpoint{Addresses: addrs, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
	}
	slice := func(typ discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) discoveryv1.EndpointSlice {
		return discoveryv1.EndpointSlice{AddressType: typ, Ports: ports, Endpoints: eps}
	}
	epPort := func(name string, p int32) discoveryv1.EndpointPort {
		return discoveryv1.EndpointPort{Name: ptr.To(name), Port: ptr.To(p), Protocol: ptr.To(corev1.ProtocolTCP)}
	}
	tests := []struct {
		name   string
		svc    *corev1.Service
		slices []discoveryv1.EndpointSlice
		want   []listenerSpec
	}{
		{
			name: "no endpoints yet: listeners without members",
			svc:  svc(port("http", 80, "")),
			want: []listenerSpec{{Port: 80, Protocol: "TCP"}},
		},
		{
			name: "ready endpoints of the port's name, sorted, each once, across slices",
			svc:  svc(port("http", 80, corev1.ProtocolTCP)),
			slices: []discoveryv1.EndpointSlice{
				slice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{epPort("http", 8080)},
					ep(nil, "10.0.0.2"), ep(ptr.To(true), "10.0.0.1"), ep(ptr.To(false), "10.0.0.9")),
				slice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{epPort("http", 8080)}, ep(nil, "10.0.0.1", "10.0.0.3")),
				slice(discoveryv1.AddressTypeIPv6, []discoveryv1.EndpointPort{epPort("http", 8080)}, ep(nil, "fd00::1")),
			},
			want: []listenerSpec{{Port: 80, Protocol: "TCP", Members: []memberSpec{{"10.0.0.1", 8080}, {"10.0.0.2", 8080}, {"10.0.0.3", 8080}}}},
		},
		{
			name: "two ports, each with its own endpoint port; listeners in port order",
			svc:  svc(port("https", 443, ""), port("http", 80, "")),
			slices: []discoveryv1.EndpointSlice{
				slice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{epPort("http", 8080), epPort("https", 8443)}, ep(nil, "10.0.0.1")),
			},
			want: []listenerSpec{
				{Port: 80, Protocol: "TCP", Members: []memberSpec{{"10.0.0.1", 8080}}},
				{Port: 443, Protocol: "TCP", Members: []memberSpec{{"10.0.0.1", 8443}}},
			},
		},
		{
			name: "a UDP port takes the UDP endpoint port of its name",
			svc:  svc(port("dns", 53, corev1.ProtocolUDP)),
			slices: []discoveryv1.EndpointSlice{
				slice(discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{
					epPort("dns", 5353),
					{Name: ptr.To("dns"), Port: ptr.To[int32](53), Protocol: ptr.To(corev1.ProtocolUDP)},
				}, ep(nil, "10.0.0.1")),
			},
			want: []listenerSpec{{Port: 53, Protocol: "UDP", Members: []memberSpec{{"10.0.0.1", 53}}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, desiredListeners(tt.svc, tt.slices)); diff != "" {
				t.Errorf("desiredListeners (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVIPAddress(t *testing.T) {
	for n, want := range map[int]string{0: "198.51.100.10", 1: "198.51.100.11", 239: "198.51.100.249", 240: "198.51.100.10"} {
		if got := vipAddress(n); got != want {
			t.Errorf("vipAddress(%d) = %s, want %s", n, got, want)
		}
	}
}

func TestOctaviaError(t *testing.T) {
	answer := func(status int, body string) error {
		return fmt.Errorf("wrapped: %w", gophercloud.ErrUnexpectedResponseCode{Actual: status, Body: []byte(body)})
	}
	tests := []struct {
		name      string
		err       error
		want      string
		transient bool
		immutable bool
	}{
		{
			name:      "database locked: the fault string's first line",
			err:       answer(http.StatusInternalServerError, `{"faultcode": "Server", "faultstring": "(sqlite3.OperationalError) database is locked\n[SQL: UPDATE ...]"}`),
			want:      "creating: Octavia answered 500: (sqlite3.OperationalError) database is locked",
			transient: true,
		},
		{
			name:      "busy load balancer",
			err:       answer(http.StatusConflict, `{"faultcode": "Client", "faultstring": "Load Balancer 1 is immutable and cannot be updated."}`),
			want:      "creating: Octavia answered 409: Load Balancer 1 is immutable and cannot be updated.",
			transient: true,
			immutable: true,
		},
		{
			name: "another server error",
			err:  answer(http.StatusInternalServerError, `{"faultstring": "boom"}`),
			want: "creating: Octavia answered 500: boom",
		},
		{
			name: "not JSON",
			err:  answer(http.StatusBadRequest, "bad\nrequest"),
			want: "creating: Octavia answered 400: bad",
		},
		{
			name: "no answer",
			err:  errors.New("connection refused"),
			want: "creating: connection refused",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := octaviaError("creating", tt.err)
			if err.Error() != tt.want {
				t.Errorf("octaviaError = %q, want %q", err, tt.want)
			}
			if got := isImmutable(fmt.Errorf("sync: %w", err)); got != tt.immutable {
				t.Errorf("isImmutable = %t, want %t", got, tt.immutable)
			}
			if got := isTransient(fmt.Errorf("sync: %w", err)); got != tt.transient {
				t.Errorf("isTransient = %t, want %t", got, tt.transient)
			}
		})
	}
}
