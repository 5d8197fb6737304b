// Package egress makes the HTTP clients with which the manager connects where a tenant
// says: a rollout gate's URL, a Notifier's webhook. Every address such a client dials is
// judged by the namespace's tenancy.Policy after DNS, no proxy is used, and Reason turns
// a failure into a fixed sentence that holds nothing the server or the network said.
package egress

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"

	"github.com/drover-dev/drover/internal/tenancy"
)

// Every request a gate or a Notifier makes goes through a client from Client, and every
// failure reaches what a tenant reads through Reason: the URL and address are written by
// a tenant, and the verdict is read by anyone who may read the object, so the manager
// must not be a way to reach what the tenant cannot, nor to read what it answers.

var (
	// ErrRedirectElsewhere: a redirect to another scheme, host or port.
	ErrRedirectElsewhere = errors.New("redirect to another host refused (only the same scheme, host and port are followed)")
	// ErrTooManyRedirects: more than maxRedirects in a row.
	ErrTooManyRedirects = errors.New("too many redirects")
	// ErrRedirectRefused: a redirect sent to a client that follows none.
	ErrRedirectRefused = errors.New("redirect refused (a webhook is not redirected)")
)

const maxRedirects = 10

// Options tune a Client.
type Options struct {
	// Trusted skips the policy (the manager's own --prometheus-address, a Notifier of the
	// installation namespace) but none of the other rules.
	Trusted bool
	// NoRedirects refuses every redirect (ErrRedirectRefused): a webhook's POST is not
	// followed anywhere. Otherwise redirects to the same scheme, host and port are
	// followed, each of which must be a URL the policy allows.
	NoRedirects bool
}

// Client returns a client whose every connection, redirects included, goes to an
// address policy allows (checked on the address actually dialled, after DNS, so a name
// that resolves elsewhere the second time changes nothing), which follows redirects to
// the same scheme, host and port only (or none, with NoRedirects), each of which must be
// a URL policy allows, which verifies TLS, and which uses no proxy (the proxy's address
// is not the one the check is for).
func Client(policy tenancy.Policy, opts Options) *http.Client {
	if opts.Trusted {
		policy = tenancy.Policy{SingleTeam: true}
	}
	dialer := &net.Dialer{
		Timeout: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil {
				return fmt.Errorf("dialling %q: not an IP address and port", address)
			}
			if ref := policy.GateAddress(ap.Addr()); ref != nil {
				return ref
			}
			return nil
		},
	}
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           dialer.DialContext,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: time.Minute,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       30 * time.Second,
			ForceAttemptHTTP2:     true,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if opts.NoRedirects {
				return ErrRedirectRefused
			}
			if len(via) >= maxRedirects {
				return ErrTooManyRedirects
			}
			if !SameOrigin(req.URL, via[0].URL) {
				return ErrRedirectElsewhere
			}
			if ref := policy.GateURL(req.URL.String()); ref != nil {
				return ref
			}
			return nil
		},
	}
}

// SameOrigin says whether a and b have the same scheme, host and port (the scheme's
// default port when none is written).
func SameOrigin(a, b *url.URL) bool {
	port := func(u *url.URL) string {
		if p := u.Port(); p != "" {
			return p
		}
		switch u.Scheme {
		case "https":
			return "443"
		case "http":
			return "80"
		}
		return ""
	}
	return equalFold(a.Scheme, b.Scheme) && equalFold(a.Hostname(), b.Hostname()) && port(a) == port(b)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Reason is a fixed sentence for a failed request: what kind of failure, never what
// the server or the network said (an error's text may hold the URL's resolved
// address, a TLS peer's certificate names, or bytes the server sent).
func Reason(err error) string {
	var ref *tenancy.Refusal
	var dnsErr *net.DNSError
	var netErr net.Error
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	var recordHeader tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ref):
		return "refused: " + ref.Message
	case errors.Is(err, ErrRedirectElsewhere):
		return ErrRedirectElsewhere.Error()
	case errors.Is(err, ErrTooManyRedirects):
		return ErrTooManyRedirects.Error()
	case errors.Is(err, ErrRedirectRefused):
		return ErrRedirectRefused.Error()
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host not found"
		}
		return "DNS lookup failed"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EHOSTUNREACH):
		return "network unreachable"
	case errors.As(err, &unknownAuthority), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verification), errors.As(err, &recordHeader), errors.As(err, &alert):
		return "TLS handshake failed"
	}
	return "request failed"
}
