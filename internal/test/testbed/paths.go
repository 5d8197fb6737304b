package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"unicode"
)

const (
	// BinaryDirEnv names the environment variable that points at a directory holding
	// kube-apiserver, etcd, kube-controller-manager, kube-scheduler and kwok.
	BinaryDirEnv = "DROVER_K8S_BIN"

	ensureScript   = "hack/ensure-k8s-binaries.sh"
	capiModulePath = "sigs.k8s.io/cluster-api"
)

// RepoRoot returns the root of the drover repository: the first directory, walking
// up from the working directory (and then from this source file's directory), that
// holds a go.mod and hack/ensure-k8s-binaries.sh.
func RepoRoot() (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if _, file, _, ok := runtime.Caller(0); ok {
		starts = append(starts, filepath.Dir(file))
	}
	for _, dir := range starts {
		for {
			if fileExists(filepath.Join(dir, "go.mod")) && fileExists(filepath.Join(dir, ensureScript)) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("cannot find the drover repository root (a directory with go.mod and %s) above %v", ensureScript, starts)
}

// ResolveBinaryDir returns dir if set, else $DROVER_K8S_BIN if set, else the directory
// printed by hack/ensure-k8s-binaries.sh (which builds the binaries if needed; its
// progress goes to progress, which may be nil).
func ResolveBinaryDir(ctx context.Context, dir string, progress io.Writer) (string, error) {
	if dir == "" {
		dir = os.Getenv(BinaryDirEnv)
	}
	if dir != "" {
		return filepath.Abs(dir)
	}
	root, err := RepoRoot()
	if err != nil {
		return "", fmt.Errorf("no binary directory given and $%s unset: %w", BinaryDirEnv, err)
	}
	cmd := exec.CommandContext(ctx, "bash", filepath.Join(root, ensureScript))
	cmd.Dir = root
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if progress != nil {
		cmd.Stderr = io.MultiWriter(&stderr, progress)
	}
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", ensureScript, err, tail(stderr.String(), 4000))
	}
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	out := strings.TrimSpace(lines[len(lines)-1])
	if out == "" {
		return "", fmt.Errorf("%s printed no directory", ensureScript)
	}
	return out, nil
}

// CAPICRDDir returns the directory holding Cluster API's core CRDs
// (core/config/crd/bases of the sigs.k8s.io/cluster-api module this binary was built
// with). It looks in the module cache first (using the build info of the running
// binary, so it works in tests and in built binaries) and then asks `go list -m`.
func CAPICRDDir() (string, error) {
	var tried []string
	find := func(modDirs []string) string {
		for _, modDir := range modDirs {
			for _, sub := range []string{"core/config/crd/bases", "config/crd/bases"} {
				d := filepath.Join(modDir, sub)
				if fileExists(filepath.Join(d, "cluster.x-k8s.io_clusters.yaml")) {
					return d
				}
				tried = append(tried, d)
			}
		}
		return ""
	}
	if d := find(capiModuleDirsFromBuildInfo()); d != "" {
		return d, nil
	}
	if d := find(capiModuleDirFromGoList()); d != "" {
		return d, nil
	}
	return "", fmt.Errorf("cannot find Cluster API CRDs (tried %v); is %s in go.mod and downloaded (go mod download)?", tried, capiModulePath)
}

func capiModuleDirsFromBuildInfo() []string {
	var dirs []string
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range bi.Deps {
			if dep.Path != capiModulePath {
				continue
			}
			m := dep
			if dep.Replace != nil {
				m = dep.Replace
			}
			switch {
			case m.Version != "":
				for _, cache := range modCacheDirs() {
					dirs = append(dirs, filepath.Join(cache, escapeModulePath(m.Path)+"@"+m.Version))
				}
			case filepath.IsAbs(m.Path):
				dirs = append(dirs, m.Path)
			default:
				if root, err := RepoRoot(); err == nil {
					dirs = append(dirs, filepath.Join(root, m.Path))
				}
			}
		}
	}
	return dirs
}

// capiModuleDirFromGoList asks the go tool, which knows about replace directives and
// workspaces; it needs the go tool and the repository.
func capiModuleDirFromGoList() []string {
	listDir := ""
	if root, err := RepoRoot(); err == nil {
		listDir = root
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", capiModulePath)
	cmd.Dir = listDir
	if out, err := cmd.Output(); err == nil {
		if d := strings.TrimSpace(string(out)); d != "" {
			return []string{d}
		}
	}
	return nil
}

func modCacheDirs() []string {
	var dirs []string
	if d := os.Getenv("GOMODCACHE"); d != "" {
		dirs = append(dirs, d)
	}
	if gp := os.Getenv("GOPATH"); gp != "" {
		dirs = append(dirs, filepath.Join(filepath.SplitList(gp)[0], "pkg", "mod"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "pkg", "mod"))
	}
	return dirs
}

// escapeModulePath applies the module cache's case encoding ("!" + lower case).
func escapeModulePath(p string) string {
	var b strings.Builder
	for _, r := range p {
		if unicode.IsUpper(r) {
			b.WriteByte('!')
			b.WriteRune(unicode.ToLower(r))
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

func checkBinaries(dir string, names ...string) error {
	var errs []error
	for _, n := range names {
		st, err := os.Stat(filepath.Join(dir, n))
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			errs = append(errs, fmt.Errorf("%s: not an executable in %s (run %s)", n, dir, ensureScript))
		}
	}
	return errors.Join(errs...)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}
