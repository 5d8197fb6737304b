// Command apidocs writes the API reference (docs/api-reference.md) from the Go types of
// an API package: every kind, every field with its type, its doc comment, and the
// defaults and validation of its kubebuilder markers. It reads the source with go/ast
// (no type checking), so it needs nothing outside the standard library.
//
// Usage: go run ./hack/apidocs [-o FILE] DIR (make api-docs runs it on api/v1alpha1;
// make manifests runs make api-docs, so make verify-gen fails on a stale reference).
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
)

func main() {
	out := flag.String("o", "", "write the reference to this file instead of standard output")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: apidocs [-o FILE] DIR")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *out); err != nil {
		fmt.Fprintln(os.Stderr, "apidocs:", err)
		os.Exit(1)
	}
}

func run(dir, out string) error {
	a, err := load(dir)
	if err != nil {
		return err
	}
	md := render(a, filepath.ToSlash(filepath.Clean(dir)))
	if out == "" {
		_, err = os.Stdout.WriteString(md)
		return err
	}
	return os.WriteFile(out, []byte(md), 0o644)
}
