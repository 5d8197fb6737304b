// Command helmpackage packages a Helm chart directory into <name>-<version>.tgz, as
// `helm package` does, with Helm's own Go library, for machines without the helm CLI
// (make helm-package uses helm when it is installed). The chart is loaded and its
// default values are checked against values.schema.json first.
//
//	go run ./hack/helmpackage [-d DIR] [-version V] [-app-version V] CHART_DIR
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "helmpackage:", err)
		os.Exit(1)
	}
}

func run() error {
	dest := flag.String("d", ".", "Directory to write the chart archive to.")
	version := flag.String("version", "", "Override the chart's version.")
	appVersion := flag.String("app-version", "", "Override the chart's appVersion.")
	flag.Parse()
	if flag.NArg() != 1 {
		return errors.New("usage: helmpackage [-d DIR] [-version V] [-app-version V] CHART_DIR")
	}
	ch, err := loader.LoadDir(flag.Arg(0))
	if err != nil {
		return fmt.Errorf("loading %s: %w", flag.Arg(0), err)
	}
	if *version != "" {
		ch.Metadata.Version = *version
	}
	if *appVersion != "" {
		ch.Metadata.AppVersion = *appVersion
	}
	if err := ch.Validate(); err != nil {
		return fmt.Errorf("chart %s: %w", ch.Name(), err)
	}
	if err := chartutil.ValidateAgainstSchema(ch, ch.Values); err != nil {
		return fmt.Errorf("chart %s: default values: %w", ch.Name(), err)
	}
	if err := os.MkdirAll(*dest, 0o755); err != nil {
		return err
	}
	path, err := chartutil.Save(ch, *dest)
	if err != nil {
		return fmt.Errorf("packaging %s: %w", ch.Name(), err)
	}
	fmt.Println(path)
	return nil
}
