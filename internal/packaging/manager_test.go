package packaging

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// testVersion is stamped into the manager built by the tests, to find it in the binary.
const testVersion = "v0.0.0-packaging-test.7f3a91"

var (
	buildOnce  sync.Once
	builtPath  string
	buildErr   error
	buildTmp   string
	knownFlags map[string]bool
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildTmp != "" {
		_ = os.RemoveAll(buildTmp)
	}
	os.Exit(code)
}

// repoRoot is the module's root directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	return root
}

// managerBinary builds ./cmd/manager once, the way the Dockerfile's build stage does
// (from the files its COPYs take from the build context, with its environment,
// -trimpath and -ldflags, testVersion stamped), for this machine's architecture so
// that the tests can run it. -trimpath keeps the build cache shared with the
// repository's own builds of the same flags.
func managerBinary(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	buildOnce.Do(func() {
		df, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
		if err != nil {
			buildErr = err
			return
		}
		b, err := df.goBuild()
		if err != nil {
			buildErr = err
			return
		}
		buildTmp, err = os.MkdirTemp("", "drover-packaging-")
		if err != nil {
			buildErr = err
			return
		}
		// Build where the Dockerfile does: in a copy of what its COPYs take from the
		// build context, so a package left out of the context fails here.
		ctxDir := filepath.Join(buildTmp, "src")
		if err := buildContext(root, ctxDir, df, b.stage); err != nil {
			buildErr = err
			return
		}
		builtPath = filepath.Join(buildTmp, "manager")
		args := []string{"build"}
		args = append(args, b.flags...)
		args = append(args, "-ldflags", b.expandedLDFlags(map[string]string{"VERSION": testVersion, "COMMIT": "0123abc"}), "-o", builtPath, b.pkg)
		cmd := exec.Command("go", args...)
		cmd.Dir = ctxDir
		cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=")
		for k, v := range b.env {
			if k != "GOOS" && k != "GOARCH" {
				cmd.Env = append(cmd.Env, k+"="+v)
			}
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtPath
}

var flagLine = regexp.MustCompile(`^\s+(?:-[A-Za-z], )?--([a-z0-9][a-z0-9-]*)`)

// managerFlags returns the flags the manager defines, from its --help.
func managerFlags(t *testing.T) map[string]bool {
	t.Helper()
	if knownFlags != nil {
		return knownFlags
	}
	out, err := exec.Command(managerBinary(t), "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("manager --help: %v\n%s", err, out)
	}
	flags := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		if m := flagLine.FindStringSubmatch(line); m != nil {
			flags[m[1]] = true
		}
	}
	for _, f := range []string{"traffic-provider", "leader-elect", "metrics-bind-address", "kubeconfig", "zap-log-level"} {
		if !flags[f] {
			t.Fatalf("manager --help does not list --%s; the help output changed shape?\n%s", f, out)
		}
	}
	knownFlags = flags
	return flags
}

// checkManagerArgs fails unless the manager accepts args: every flag exists (from its
// --help) and every value parses (the manager parses args then stops at a trailing
// --help; an unknown flag or a bad value exits 2 before).
func checkManagerArgs(t *testing.T, args []string) {
	t.Helper()
	known := managerFlags(t)
	var unknown []string
	for _, a := range args {
		if !strings.HasPrefix(a, "--") {
			t.Errorf("argument %q is not a --flag", a)
			continue
		}
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !known[name] {
			unknown = append(unknown, name)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		t.Errorf("flags the manager does not define: %v", unknown)
	}
	cmd := exec.Command(managerBinary(t), append(append([]string{}, args...), "--help")...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Errorf("the manager refuses %q: %v\n%s", args, err, errorLines(stderr.String()))
	}
}

// errorLines drops the usage text the manager prints with a flag error.
func errorLines(s string) string {
	var out []string
	for _, line := range strings.Split(s, "\n") {
		if line != "" && !strings.HasPrefix(line, " ") && !strings.HasPrefix(line, "Usage of") {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// flagValues maps each --name=value (or bare --name) of args to its value.
func flagValues(args []string) map[string]string {
	m := map[string]string{}
	for _, a := range args {
		name, value, ok := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if !ok {
			value = "true"
		}
		m[name] = value
	}
	return m
}

func TestManagerRefusesUnknownFlagsAndBadValues(t *testing.T) {
	// The check the installs rely on must be able to fail.
	bin := managerBinary(t)
	for _, args := range [][]string{
		{"--no-such-flag=1", "--help"},
		{"--leader-elect-lease-duration=fifteen", "--help"},
	} {
		if err := exec.Command(bin, args...).Run(); err == nil {
			t.Errorf("manager %v exited 0", args)
		}
	}
	if err := exec.Command(bin, "--traffic-provider=route53", "--help").Run(); err != nil {
		t.Errorf("manager --traffic-provider=route53 --help: %v", err)
	}
}
