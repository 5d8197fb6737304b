package cli

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The page: plain HTML, CSS and JavaScript, no library, embedded in the binary (it loads
// nothing from anywhere else; its Content-Security-Policy forbids it).
//
//go:embed web
var webFiles embed.FS

const dashCookie = "drover-dashboard"

func (c *cli) dashboardCommand() *cobra.Command {
	var (
		address string
		open    bool
		allNss  bool
	)
	cmd := &cobra.Command{
		Use:   "dashboard",
		Short: "Open a live web page of the ProdSets: traffic, rollouts, releases and clusters",
		Long: `Serve a live web page on this machine and open it in the browser. The page shows
each ProdSet's traffic by region, cluster and path (Octavia VIP or NLB), with the
weights DNS holds beside the desired ones while a change is in flight; the rollout's
steps, gates and verdicts, with the commands (promote, pause, resume, abort,
rollback), each confirmed first and sent as "kubectl drover rollout" sends it; the
release history as a timeline; the clusters, their maintenances, and freezes.

The page reads the control plane with your kubeconfig's credentials, through a watch,
so it shows exactly what your RBAC lets you list and says what it cannot show. The
server listens on the loopback interface only, and answers only a browser that
opened the printed address (it carries a secret token, kept in a cookie).

Without -n or -A the page covers every namespace when you may list ProdSets in all of
them, else the namespace of your kubeconfig context.`,
		Example: "  kubectl drover dashboard\n  kubectl drover dashboard -n shop --open=false --address 127.0.0.1:8080",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, ns, err := c.kube.restConfig()
			if err != nil {
				return err
			}
			cl, err := client.NewWithWatch(cfg, client.Options{Scheme: c.scheme})
			if err != nil {
				return fmt.Errorf("connecting to the cluster: %w", err)
			}
			if err := loopbackOnly(address); err != nil {
				return err
			}
			ctx := cmd.Context()
			src, err := startDashSource(ctx, cl, allNss, c.kube.overrides.Context.Namespace, ns)
			if err != nil {
				return err
			}
			d := &dashboard{cli: c, cl: cl, src: src, hub: newDashHub(), token: newToken(), stop: ctx.Done()}
			go d.build(ctx)
			ln, err := net.Listen("tcp", address)
			if err != nil {
				return fmt.Errorf("listening on %s: %w", address, err)
			}
			d.addr = ln.Addr().String()
			url := "http://" + d.addr + "/?token=" + d.token
			fmt.Fprintf(c.Out, "drover dashboard of %s at %s\n", src.scope, url)
			for _, h := range src.hidden {
				fmt.Fprintf(c.Out, "  not shown: %s\n", h)
			}
			fmt.Fprintln(c.Out, "Press Ctrl-C to stop.")
			if open {
				if err := openBrowser(url); err != nil {
					fmt.Fprintf(c.Out, "could not open a browser (%v): open the address above\n", err)
				}
			}
			srv := &http.Server{Handler: d.handler(), ReadHeaderTimeout: 10 * time.Second}
			go func() {
				<-ctx.Done()
				shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				_ = srv.Shutdown(shut)
			}()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&address, "address", "127.0.0.1:0", "Loopback address and port to serve on (port 0: any free port).")
	cmd.Flags().BoolVar(&open, "open", true, "Open the page in the default browser.")
	cmd.Flags().BoolVarP(&allNss, "all-namespaces", "A", false, "Show every namespace (your credentials must list ProdSets in all of them).")
	return cmd
}

// loopbackOnly refuses an address other than the loopback interface: the page acts with
// the user's credentials, so no other machine may reach it.
func loopbackOnly(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("--address %q: %w", address, err)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return refused("--address %q: the dashboard serves on the loopback interface only (127.0.0.1, ::1 or localhost): it acts with your credentials", address)
}

func newToken() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// openBrowser asks the desktop to open url.
func openBrowser(url string) error {
	var cmd *exec.Cmd
	switch runtime.GOOS {
	case "darwin":
		cmd = exec.Command("open", url)
	case "windows":
		cmd = exec.Command("rundll32", "url.dll,FileProtocolHandler", url)
	default:
		cmd = exec.Command("xdg-open", url)
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	go func() { _ = cmd.Wait() }()
	return nil
}

// dashboard is the page's server.
type dashboard struct {
	cli   *cli
	cl    client.Client
	src   *dashSource
	hub   *dashHub
	token string
	addr  string // host:port listened on
	// stop ends the event streams (when the command ends), so that shutting the server
	// down need not wait for the pages to go.
	stop <-chan struct{}
}

// build rebuilds the view when the informers saw a change (gathering the changes of
// dashDebounce) or every dashRefresh, and publishes it when it changed.
func (d *dashboard) build(ctx context.Context) {
	tick := time.NewTicker(dashRefresh)
	defer tick.Stop()
	for {
		data, now := d.src.data(), d.cli.opts.Now()
		data.mayPatch = d.src.mayPatch(ctx, d.cl, data.sets, now)
		v := buildDashboard(data, now)
		when := v.Time
		v.Time = ""
		key, err := json.Marshal(v)
		if err == nil {
			v.Time = when
			b, _ := json.Marshal(v)
			d.hub.publish(string(key), b)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-d.src.changed:
			select {
			case <-ctx.Done():
				return
			case <-time.After(dashDebounce):
			}
		}
	}
}

func (d *dashboard) handler() http.Handler {
	static, _ := fs.Sub(webFiles, "web")
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(static))
	mux.HandleFunc("GET /api/view", d.serveView)
	mux.HandleFunc("GET /api/events", d.serveEvents)
	mux.HandleFunc("POST /api/command", d.serveCommand)
	return d.guard(mux)
}

// guard lets through only requests of the browser that opened the printed address: the
// Host must be the address served (no DNS rebinding), the session cookie must hold the
// token (set from ?token= once, then the token leaves the address bar), and a POST must
// come from the page itself (same Origin, JSON).
func (d *dashboard) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-store")
		if !d.hostAllowed(r.Host) {
			http.Error(w, "unexpected Host header: open the address kubectl drover dashboard printed", http.StatusForbidden)
			return
		}
		if tok := r.URL.Query().Get("token"); tok != "" {
			if !d.tokenOK(tok) {
				http.Error(w, "wrong token: open the address kubectl drover dashboard printed", http.StatusForbidden)
				return
			}
			//nolint:gosec // G124: plain HTTP on loopback, where not every browser returns a Secure cookie; HttpOnly and SameSite=Strict hold.
			http.SetCookie(w, &http.Cookie{Name: dashCookie, Value: d.token, Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode})
			http.Redirect(w, r, "/", http.StatusSeeOther)
			return
		}
		ck, err := r.Cookie(dashCookie)
		if err != nil || !d.tokenOK(ck.Value) {
			http.Error(w, "not signed in: open the address kubectl drover dashboard printed (it carries a token)", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if r.Header.Get("Origin") != "http://"+r.Host || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
				http.Error(w, "cross-origin request refused", http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

func (d *dashboard) tokenOK(t string) bool {
	return subtle.ConstantTimeCompare([]byte(t), []byte(d.token)) == 1
}

// hostAllowed accepts the address served, by IP or as localhost.
func (d *dashboard) hostAllowed(host string) bool {
	_, port, err := net.SplitHostPort(d.addr)
	if err != nil {
		return false
	}
	return host == d.addr || host == net.JoinHostPort("localhost", port)
}

func (d *dashboard) serveView(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(d.hub.current())
}

// serveEvents streams every new view as a server-sent event.
func (d *dashboard) serveEvents(w http.ResponseWriter, r *http.Request) {
	flusher, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	ch, done := d.hub.subscribe()
	defer done()
	keepAlive := time.NewTicker(25 * time.Second)
	defer keepAlive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-d.stop:
			return
		case b := <-ch:
			if _, err := fmt.Fprintf(w, "event: view\ndata: %s\n\n", b); err != nil {
				return
			}
		case <-keepAlive.C:
			if _, err := fmt.Fprint(w, ": keep-alive\n\n"); err != nil {
				return
			}
		}
		flusher.Flush()
	}
}

// commandRequest is what the page posts to send a rollout command.
type commandRequest struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Verb      string `json:"verb"`
}

// commandResult is the answer: what the plugin printed, or why it did not send.
type commandResult struct {
	Output string `json:"output"`
	Error  string `json:"error,omitempty"`
}

// serveCommand sends a rollout command exactly as `kubectl drover rollout VERB` does
// (the same check of the set's status, the same annotation), with the user's
// credentials.
func (d *dashboard) serveCommand(w http.ResponseWriter, r *http.Request) {
	var req commandRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&req); err != nil {
		http.Error(w, "bad request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if !slices.ContainsFunc(rolloutVerbs, func(v struct{ word, short string }) bool { return v.word == req.Verb }) {
		http.Error(w, fmt.Sprintf("unknown command %q", req.Verb), http.StatusBadRequest)
		return
	}
	if req.Name == "" || req.Namespace == "" || d.src.namespace != "" && req.Namespace != d.src.namespace {
		http.Error(w, "that ProdSet is not on this page", http.StatusBadRequest)
		return
	}
	var out bytes.Buffer
	c := &cli{Streams: Streams{Out: &out, ErrOut: &out}, opts: d.cli.opts, kube: d.cli.kube, scheme: d.cli.scheme}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	err := c.sendCommand(ctx, d.cl, client.ObjectKey{Namespace: req.Namespace, Name: req.Name}, req.Verb, sendOptions{})
	res := commandResult{Output: out.String()}
	status := http.StatusOK
	if err != nil {
		res.Error = err.Error()
		status = http.StatusInternalServerError
		var ref *refusedError
		if errors.As(err, &ref) {
			status = http.StatusConflict
		}
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(res)
}
