package packaging

import (
	"fmt"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"helm.sh/helm/v3/pkg/releaseutil"
)

// RenderChart renders the chart in chartDir as `helm template release chartDir -n
// namespace -f values` would, with Helm's library: values checked against the chart's
// values.schema.json, templates rendered in strict mode (a missing value is an error).
// It returns the rendered YAML documents in template file order, without NOTES.txt.
// The packaging tests check the chart with it; the e2e suite and the sandbox install
// the chart's RBAC from it.
func RenderChart(chartDir, release, namespace string, values map[string]any) ([]string, error) {
	ch, err := loader.LoadDir(chartDir)
	if err != nil {
		return nil, fmt.Errorf("loading the chart %s: %w", chartDir, err)
	}
	vals, err := chartutil.ToRenderValues(ch, values, chartutil.ReleaseOptions{
		Name: release, Namespace: namespace, Revision: 1, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, err
	}
	out, err := engine.Engine{Strict: true}.Render(ch, vals)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for name := range out {
		names = append(names, name)
	}
	sort.Strings(names)
	var docs []string
	for _, name := range names {
		if strings.HasSuffix(name, "NOTES.txt") {
			continue
		}
		for _, doc := range releaseutil.SplitManifests(out[name]) {
			docs = append(docs, doc)
		}
	}
	return docs, nil
}
