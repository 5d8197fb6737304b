package packaging

import (
	"bufio"
	"bytes"
	"debug/buildinfo"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd   string // upper case: FROM, RUN, COPY...
	args  string
	line  int
	stage int // index of the stage it belongs to
}

type stage struct {
	image, name string
	instrs      []instruction
}

type dockerfile struct {
	stages []stage
	args   map[string]string // ARGs before the first FROM, with their defaults
}

// parseDockerfile reads the subset of Dockerfile syntax drover's uses: instructions,
// comments, continuation lines, no heredocs.
func parseDockerfile(path string) (*dockerfile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	df := &dockerfile{args: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	var cur strings.Builder
	start, n := 0, 0
	flush := func() error {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return nil
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: start}
		if strings.Contains(in.args, "<<") {
			return fmt.Errorf("%s:%d: heredocs are not understood by this test", path, start)
		}
		switch {
		case in.cmd == "FROM":
			f := strings.Fields(in.args)
			var image, name string
			for i := 0; i < len(f); i++ {
				switch {
				case strings.HasPrefix(f[i], "--"):
				case strings.EqualFold(f[i], "AS") && i+1 < len(f):
					name = f[i+1]
					i++
				default:
					image = f[i]
				}
			}
			df.stages = append(df.stages, stage{image: image, name: name})
		case len(df.stages) == 0:
			if in.cmd != "ARG" {
				return fmt.Errorf("%s:%d: %s before the first FROM", path, start, in.cmd)
			}
			k, v, _ := strings.Cut(in.args, "=")
			df.args[k] = v
			return nil
		}
		in.stage = len(df.stages) - 1
		s := &df.stages[in.stage]
		s.instrs = append(s.instrs, in)
		return nil
	}
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\"))
			cur.WriteString(" ")
			continue
		}
		cur.WriteString(trimmed)
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("%s: ends in a continuation line", path)
	}
	if len(df.stages) == 0 {
		return nil, fmt.Errorf("%s: no FROM", path)
	}
	return df, nil
}

func (df *dockerfile) final() stage { return df.stages[len(df.stages)-1] }

func (s stage) all(cmd string) []instruction {
	var out []instruction
	for _, in := range s.instrs {
		if in.cmd == cmd {
			out = append(out, in)
		}
	}
	return out
}

// goBuildCmd is the `go build` of the manager in the Dockerfile's build stage.
type goBuildCmd struct {
	env     map[string]string
	flags   []string // other flags, such as -trimpath
	ldflags string   // with ${VAR} references
	output  string
	pkg     string
	stage   string
}

var (
	runGoBuild = regexp.MustCompile(`^(?:--mount=\S+\s+)*((?:[A-Z_]+=\S+\s+)*)go build\s+(.*)$`)
	ldflagsRe  = regexp.MustCompile(`-ldflags\s+"([^"]*)"`)
	varRef     = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\(([A-Za-z_][A-Za-z0-9_]*)\)`)
)

func (df *dockerfile) goBuild() (*goBuildCmd, error) {
	var found []*goBuildCmd
	for _, s := range df.stages {
		for _, in := range s.all("RUN") {
			m := runGoBuild.FindStringSubmatch(in.args)
			if m == nil {
				continue
			}
			b := &goBuildCmd{env: map[string]string{}, stage: s.name}
			for _, kv := range strings.Fields(m[1]) {
				k, v, _ := strings.Cut(kv, "=")
				b.env[k] = v
			}
			rest := m[2]
			if lm := ldflagsRe.FindStringSubmatch(rest); lm != nil {
				b.ldflags = lm[1]
				rest = strings.Replace(rest, lm[0], "", 1)
			}
			f := strings.Fields(rest)
			for i := 0; i < len(f); i++ {
				switch {
				case f[i] == "-o" && i+1 < len(f):
					b.output = f[i+1]
					i++
				case strings.HasPrefix(f[i], "-"):
					b.flags = append(b.flags, f[i])
				default:
					if b.pkg != "" {
						return nil, fmt.Errorf("line %d: go build of several packages: %s %s", in.line, b.pkg, f[i])
					}
					b.pkg = f[i]
				}
			}
			found = append(found, b)
		}
	}
	if len(found) != 1 {
		return nil, fmt.Errorf("want exactly one RUN ... go build in Dockerfile, found %d", len(found))
	}
	return found[0], nil
}

// expandedLDFlags substitutes ${VAR} and $(VAR) references.
func (b *goBuildCmd) expandedLDFlags(vars map[string]string) string {
	return expand(b.ldflags, vars)
}

func expand(s string, vars map[string]string) string {
	return varRef.ReplaceAllStringFunc(s, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2]
		if v, ok := vars[name]; ok {
			return v
		}
		return ref
	})
}

func TestDockerfile(t *testing.T) {
	root := repoRoot(t)
	df, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.stages) < 2 {
		t.Fatalf("want a multi-stage build, got %d stage(s)", len(df.stages))
	}

	// The final stage: distroless static (nonroot) or scratch, run as 65532, only the
	// manager binary in it.
	final := df.final()
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") && final.image != "scratch" {
		t.Errorf("final stage FROM %s; want gcr.io/distroless/static:nonroot or scratch", final.image)
	}
	users := final.all("USER")
	if len(users) == 0 {
		t.Error("final stage has no USER")
	} else if u := users[len(users)-1].args; u != "65532" && u != "65532:65532" {
		t.Errorf("final stage runs as USER %s; want 65532:65532 (nonroot)", u)
	}
	for _, bad := range []string{"RUN", "ADD"} {
		if in := final.all(bad); len(in) > 0 {
			t.Errorf("final stage has %s at line %d: it should hold nothing but the binary", bad, in[0].line)
		}
	}
	b, err := df.goBuild()
	if err != nil {
		t.Fatal(err)
	}
	copies := final.all("COPY")
	if len(copies) != 1 {
		t.Fatalf("final stage has %d COPY instructions; want exactly one, of the manager binary", len(copies))
	}
	f := strings.Fields(copies[0].args)
	if len(f) != 3 || f[0] != "--from="+b.stage || f[1] != b.output {
		t.Errorf("final stage COPY %s; want COPY --from=%s %s /manager", copies[0].args, b.stage, b.output)
	}
	entry := final.all("ENTRYPOINT")
	if len(entry) != 1 || len(f) != 3 || entry[0].args != fmt.Sprintf(`["%s"]`, f[2]) {
		t.Errorf("final stage ENTRYPOINT %v; want exactly [\"%s\"] (the Deployments pass flags as args)", entry, f[len(f)-1])
	}

	// The build: static, reproducible, stamped, of ./cmd/manager.
	if b.pkg != "./cmd/manager" {
		t.Errorf("go build %s; want ./cmd/manager", b.pkg)
	}
	if b.env["CGO_ENABLED"] != "0" {
		t.Errorf("go build runs with CGO_ENABLED=%q; want 0 (a static binary)", b.env["CGO_ENABLED"])
	}
	for _, want := range []string{"-trimpath", "-buildvcs=false"} {
		if !contains(b.flags, want) {
			t.Errorf("go build flags %v lack %s", b.flags, want)
		}
	}
	for _, want := range []string{"-X k8s.io/client-go/pkg/version.gitVersion=${VERSION}", "-X k8s.io/client-go/pkg/version.gitCommit=${COMMIT}"} {
		if !strings.Contains(b.ldflags, want) {
			t.Errorf("-ldflags %q lack %q", b.ldflags, want)
		}
	}
	buildStage := df.stages[0]
	for _, s := range df.stages {
		if s.name == b.stage {
			buildStage = s
		}
	}
	argNames := map[string]bool{}
	for _, in := range buildStage.all("ARG") {
		k, _, _ := strings.Cut(in.args, "=")
		argNames[k] = true
	}
	for _, m := range varRef.FindAllStringSubmatch(b.ldflags, -1) {
		if !argNames[m[1]] {
			t.Errorf("-ldflags use ${%s}, which the build stage does not declare with ARG", m[1])
		}
	}

	// make build-static builds the same binary: same flags, same ldflags.
	mk, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	mkLD := regexp.MustCompile(`(?m)^STATIC_LDFLAGS\s*=\s*(.*)$`).FindSubmatch(mk)
	if mkLD == nil {
		t.Error("Makefile has no STATIC_LDFLAGS")
	} else {
		vars := map[string]string{"VERSION": "V", "COMMIT": "C"}
		if got, want := expand(string(mkLD[1]), vars), b.expandedLDFlags(vars); got != want {
			t.Errorf("Makefile STATIC_LDFLAGS %q differ from the Dockerfile's -ldflags %q", got, want)
		}
	}

	// Every package of the module the manager imports is in the build context and
	// copied into the build stage.
	list := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", "./cmd/manager")
	list.Dir = root
	out, err := list.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var sources []string
	for _, in := range buildStage.all("COPY") {
		fs := strings.Fields(in.args)
		for _, src := range fs[:len(fs)-1] {
			if !strings.HasPrefix(src, "--") {
				sources = append(sources, strings.TrimSuffix(src, "/"))
			}
		}
	}
	for _, want := range []string{"go.mod", "go.sum"} {
		if !contains(sources, want) {
			t.Errorf("the build stage does not COPY %s", want)
		}
	}
	ignore, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		covered := ""
		for _, src := range sources {
			if rel == src || strings.HasPrefix(rel, src+"/") {
				covered = src
			}
		}
		if covered == "" {
			t.Errorf("the manager imports ./%s, which no COPY of the build stage brings in", rel)
		} else if !bytes.Contains(ignore, []byte("\n!"+covered+"/\n")) {
			t.Errorf(".dockerignore does not let %s/ into the build context", covered)
		}
	}
}

func TestStaticManagerBinary(t *testing.T) {
	bin := managerBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the manager has a %s program header: not a static binary", p.Type)
		}
	}
	for _, name := range []string{".interp", ".dynamic"} {
		if f.Section(name) != nil {
			t.Errorf("the manager has a %s section: not a static binary", name)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the manager needs shared libraries %v (%v)", libs, err)
	}

	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if settings["CGO_ENABLED"] != "0" || settings["-trimpath"] != "true" {
		t.Errorf("build settings CGO_ENABLED=%q -trimpath=%q; want 0 and true", settings["CGO_ENABLED"], settings["-trimpath"])
	}

	// The version is stamped into client-go's variable, not only recorded in the build
	// settings: the string occurs more often than in the -ldflags setting.
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	all := bytes.Count(data, []byte(testVersion))
	inSettings := bytes.Count(data, []byte("gitVersion="+testVersion))
	if all <= inSettings {
		t.Errorf("the version %s is not in the binary beyond its build settings: is the -X target right?", testVersion)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// pinnedImage is registry/repository:tag@sha256:<64 hex digits>: a digest, which is what
// is pulled, and the tag it was taken from, for whoever reads the Dockerfile.
var pinnedImage = regexp.MustCompile(`^([a-z0-9][a-z0-9._/-]*):([A-Za-z0-9_][A-Za-z0-9_.-]*)@sha256:[0-9a-f]{64}$`)

// Every base image is pinned by digest (a tag can be moved to other content; a digest
// cannot), with its tag kept; the Go image is at least go.mod's Go release.
func TestDockerfileBaseImagesPinned(t *testing.T) {
	root := repoRoot(t)
	df, err := parseDockerfile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages := map[string]bool{}
	for _, s := range df.stages {
		image := expand(s.image, df.args)
		switch m := pinnedImage.FindStringSubmatch(image); {
		case stages[s.image] || image == "scratch":
			// FROM an earlier stage, or nothing.
		case m == nil:
			t.Errorf("FROM %s is not pinned as image:tag@sha256:<digest>", s.image)
		case m[1] == "golang":
			mod, err := os.ReadFile(filepath.Join(root, "go.mod"))
			if err != nil {
				t.Fatal(err)
			}
			goLine := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(mod)
			if goLine == nil {
				t.Fatal("go.mod has no go line")
			}
			if !goVersionAtLeast(strings.SplitN(m[2], "-", 2)[0], string(goLine[1])) {
				t.Errorf("FROM %s: Go %s is older than go.mod's go %s", s.image, m[2], goLine[1])
			}
		}
		if s.name != "" {
			stages[s.name] = true
		}
	}
	for _, bad := range []string{"golang:1.26", "golang:1.26@sha256:abc", "gcr.io/distroless/static@sha256:" + strings.Repeat("a", 64), "gcr.io/distroless/static:nonroot"} {
		if pinnedImage.MatchString(bad) {
			t.Errorf("%s passes as pinned", bad)
		}
	}
}

// goVersionAtLeast reports whether Go release have (1.26.9, 1.26) is at least want (1.26.0).
func goVersionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(w); i++ {
		var hv, wv int
		if i < len(h) {
			hv, _ = strconv.Atoi(h[i])
		}
		wv, _ = strconv.Atoi(w[i])
		if hv != wv {
			return hv > wv
		}
	}
	return true
}
