package packaging

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// dockerignore is the subset of .dockerignore semantics drover's file uses: patterns of
// filepath.Match, a leading "**/" matching at any depth, "!" re-including, the last
// matching line winning, and a pattern matching a directory matching all inside it.
type dockerignore []string

func readDockerignore(path string) (dockerignore, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dockerignore
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, "#") {
			d = append(d, line)
		}
	}
	return d, nil
}

func (d dockerignore) excludes(rel string) bool {
	excluded := false
	for _, p := range d {
		neg := strings.HasPrefix(p, "!")
		p = strings.TrimSuffix(strings.TrimPrefix(p, "!"), "/")
		if patternMatches(p, rel) {
			excluded = !neg
		}
	}
	return excluded
}

// patternMatches: p matches rel or one of its parent directories.
func patternMatches(p, rel string) bool {
	parts := strings.Split(rel, "/")
	for end := 1; end <= len(parts); end++ {
		candidates := []string{strings.Join(parts[:end], "/")}
		if strings.HasPrefix(p, "**/") {
			for start := 1; start < end; start++ {
				candidates = append(candidates, strings.Join(parts[start:end], "/"))
			}
		}
		for _, c := range candidates {
			if ok, _ := filepath.Match(strings.TrimPrefix(p, "**/"), c); ok {
				return true
			}
		}
	}
	return false
}

// buildContext lays out, in dir, what the Dockerfile's build stage sees: each COPY of
// the build stage from the build context, without what .dockerignore leaves out.
func buildContext(root, dir string, df *dockerfile, stageName string) error {
	ignore, err := readDockerignore(filepath.Join(root, ".dockerignore"))
	if err != nil {
		return err
	}
	var st *stage
	for i := range df.stages {
		if df.stages[i].name == stageName {
			st = &df.stages[i]
		}
	}
	if st == nil {
		return fmt.Errorf("no stage %q", stageName)
	}
	for _, in := range st.all("COPY") {
		f := strings.Fields(in.args)
		var srcs []string
		for _, a := range f[:len(f)-1] {
			if strings.HasPrefix(a, "--from") {
				return fmt.Errorf("line %d: COPY %s in the build stage", in.line, a)
			}
			if !strings.HasPrefix(a, "--") {
				srcs = append(srcs, a)
			}
		}
		dst := f[len(f)-1]
		for _, src := range srcs {
			src = strings.TrimSuffix(src, "/")
			target := filepath.Join(dir, dst)
			if !strings.HasSuffix(dst, "/") || len(srcs) > 1 {
				// COPY a b: b is the new name; COPY a b ./: into the directory.
				if len(srcs) > 1 || dst == "./" || dst == "." {
					target = filepath.Join(dir, dst, filepath.Base(src))
				}
			}
			if err := copyTree(root, src, target, ignore); err != nil {
				return fmt.Errorf("line %d: %w", in.line, err)
			}
		}
	}
	return nil
}

func copyTree(root, src, target string, ignore dockerignore) error {
	copied := 0
	err := filepath.WalkDir(filepath.Join(root, src), func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if e.IsDir() || ignore.excludes(rel) {
			return nil
		}
		inner, err := filepath.Rel(filepath.Join(root, src), path)
		if err != nil {
			return err
		}
		out := filepath.Join(target, inner)
		if inner == "." {
			out = target
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			return err
		}
		copied++
		return os.WriteFile(out, data, 0o644)
	})
	if err == nil && copied == 0 {
		err = fmt.Errorf("COPY %s: nothing of it is in the build context (.dockerignore)", src)
	}
	return err
}
