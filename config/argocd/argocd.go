// Package argocd holds drover's Argo CD resource customizations: Lua health checks for
// Prods, ProdSets, RolloutPolicies and ClusterMaintenances, and the ProdSet's rollout
// actions, laid out as Argo CD lays out its own (drover.dev/<Kind>/actions/discovery.lua
// and actions/<name>/action.lua) but for the health check, which is one script for every
// kind (drover.dev/health.lua: each reads the same Ready, Reconciling and Stalled
// conditions), and argocd-cm.yaml, the argocd-cm data keys generated from them (go test
// -update), where each kind has its own copy of the health check, as Argo CD wants.
//
// Health, Actions and RunAction run the scripts the way Argo CD does (util/lua in
// argo-cd): a fresh gopher-lua state with only the libraries Argo CD opens for
// customizations from argocd-cm (package, base and table; os through require("os"), with
// only time and date; no string or math), the object as the global obj, converted from
// its JSON, and the result converted back.
package argocd

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Group is the API group the customizations are for.
const Group = "drover.dev"

//go:embed drover.dev
var scripts embed.FS

// now is the clock os.time and os.date read.
var now = time.Now

// strictGlobals makes reading an undefined global an error (the tests set it): a script
// that reads string, math or io, which Argo CD does not open, fails where it would fail
// in Argo CD, not only when the missing function is called.
var strictGlobals bool

// healthStatuses are the statuses Argo CD accepts from a health script.
var healthStatuses = []string{"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}

// HealthKinds are the kinds with a status, which the health check is for; the others
// (templates, freezes, tenants) have nothing for it to read.
var HealthKinds = []string{"ClusterMaintenance", "Notifier", "Prod", "ProdSet", "RolloutPolicy"}

// healthScript is the health check of kind.
func healthScript(kind string) (string, error) {
	if !slices.Contains(HealthKinds, kind) {
		return "", fmt.Errorf("%s/%s has no health check: %w", Group, kind, fs.ErrNotExist)
	}
	b, err := scripts.ReadFile(path.Join(Group, "health.lua"))
	return string(b), err
}

// Health runs the health script of obj's kind and returns what it says. A status Argo
// CD does not know is Unknown, as in Argo CD. (Argo CD reports an object being deleted
// as Progressing "Pending deletion" without running the script; Health runs it.)
func Health(obj *unstructured.Unstructured) (status, message string, err error) {
	kind, err := kindOf(obj)
	if err != nil {
		return "", "", err
	}
	src, err := healthScript(kind)
	if err != nil {
		return "", "", err
	}
	out, err := run(obj, src)
	if err != nil {
		return "", "", err
	}
	m, ok := out.(map[string]any)
	if !ok {
		return "", "", fmt.Errorf("%s health.lua returned %T, not a table with status and message", kind, out)
	}
	status, _ = m["status"].(string)
	message, _ = m["message"].(string)
	if !slices.Contains(healthStatuses, status) {
		return "Unknown", "Lua returned an invalid health status", nil
	}
	return status, message, nil
}

// Actions runs the action discovery script of obj's kind and returns its actions, each
// with whether it is disabled now. A kind without actions has none.
func Actions(obj *unstructured.Unstructured) (map[string]bool, error) {
	kind, err := kindOf(obj)
	if err != nil {
		return nil, err
	}
	src, err := script(kind, "actions/discovery.lua")
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]bool{}, nil
	}
	if err != nil {
		return nil, err
	}
	out, err := run(obj, src)
	if err != nil {
		return nil, err
	}
	actions := map[string]bool{}
	switch out := out.(type) {
	case []any: // an empty table: no actions
		if len(out) > 0 {
			return nil, fmt.Errorf("%s discovery.lua returned a list, not a table of actions", kind)
		}
	case map[string]any:
		for name, v := range out {
			// As in Argo CD: enabled unless the action's table says disabled = true.
			m, _ := v.(map[string]any)
			disabled, _ := m["disabled"].(bool)
			actions[name] = disabled
		}
	default:
		return nil, fmt.Errorf("%s discovery.lua returned %T, not a table of actions", kind, out)
	}
	return actions, nil
}

// RunAction runs the action name on a copy of obj and returns the object the action
// returns, which Argo CD would patch the live object to. It runs the action whether or
// not discovery disables it now.
func RunAction(obj *unstructured.Unstructured, name string) (*unstructured.Unstructured, error) {
	kind, err := kindOf(obj)
	if err != nil {
		return nil, err
	}
	if name == "" || strings.ContainsAny(name, "/.") {
		return nil, fmt.Errorf("no action %q", name)
	}
	src, err := script(kind, "actions/"+name+"/action.lua")
	if err != nil {
		return nil, err
	}
	before := obj.DeepCopy()
	out, err := run(before, src)
	if err != nil {
		return nil, err
	}
	m, ok := out.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s action %s returned %T, not the object", kind, name, out)
	}
	restoreMaps(m, before.Object)
	return &unstructured.Unstructured{Object: m}, nil
}

// kindOf is obj's kind, if its group is drover's.
func kindOf(obj *unstructured.Unstructured) (string, error) {
	gvk := obj.GroupVersionKind()
	if gvk.Group != Group || gvk.Kind == "" {
		return "", fmt.Errorf("no customizations for %q: only for kinds of %s", gvk.GroupKind(), Group)
	}
	return gvk.Kind, nil
}

// script is the Lua file name of kind.
func script(kind, name string) (string, error) {
	b, err := scripts.ReadFile(path.Join(Group, kind, name))
	if err != nil {
		return "", fmt.Errorf("%s/%s has no %s: %w", Group, kind, name, err)
	}
	return string(b), nil
}

// run runs src with obj as the global obj, as Argo CD's VM does (one second at most),
// and returns its result converted to JSON values.
func run(obj *unstructured.Unstructured, src string) (any, error) {
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.LoadLibName, lua.OpenPackage}, {lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}} {
		if err := L.CallByParam(lua.P{Fn: L.NewFunction(lib.open), Protect: true}, lua.LString(lib.name)); err != nil {
			return nil, err
		}
	}
	// Argo CD's safe os: only time and date, and only through require("os").
	L.PreloadModule("os", func(L *lua.LState) int {
		L.Push(L.SetFuncs(L.NewTable(), map[string]lua.LGFunction{"time": osTime, "date": osDate}))
		return 1
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	L.SetContext(ctx)
	L.SetGlobal("obj", toLua(L, obj.Object))
	if strictGlobals {
		mt := L.NewTable()
		L.SetField(mt, "__index", L.NewFunction(func(L *lua.LState) int {
			L.RaiseError("undefined global %s", L.CheckAny(2).String())
			return 0
		}))
		L.SetMetatable(L.Get(lua.GlobalsIndex), mt)
	}
	top := L.GetTop()
	if err := L.DoString(src); err != nil {
		return nil, err
	}
	if L.GetTop() == top {
		return nil, errors.New("the script returned nothing")
	}
	return fromLua(L.Get(-1), nil)
}

// toLua converts a JSON value, as unstructured holds it, to Lua. A null is nil, which a
// table does not keep: a key whose value is null is gone when the table comes back, as
// in Argo CD.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case int32:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, e := range v {
			t.Append(toLua(L, e))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, e := range v {
			t.RawSetString(k, toLua(L, e))
		}
		return t
	}
	return lua.LNil
}

// fromLua converts a Lua value to JSON as Argo CD's encoder does: a table with string
// keys is an object, one with the keys 1..n an array, and an empty table an empty array
// (restoreMaps puts back the objects that were). Whole numbers are int64, as unstructured
// decodes them from JSON.
func fromLua(v lua.LValue, path []*lua.LTable) (any, error) {
	switch v := v.(type) {
	case *lua.LNilType:
		return nil, nil
	case lua.LBool:
		return bool(v), nil
	case lua.LString:
		return string(v), nil
	case lua.LNumber:
		f := float64(v)
		switch {
		case math.IsNaN(f) || math.IsInf(f, 0):
			return nil, fmt.Errorf("the number %v has no JSON", f)
		case f == math.Trunc(f) && math.Abs(f) <= 1<<53:
			return int64(f), nil
		}
		return f, nil
	case *lua.LTable:
		if slices.Contains(path, v) {
			return nil, errors.New("a table that contains itself has no JSON")
		}
		path = append(path, v)
		var keys, strs int
		v.ForEach(func(k, _ lua.LValue) {
			keys++
			if k.Type() == lua.LTString {
				strs++
			}
		})
		switch {
		case keys == 0:
			return []any{}, nil
		case strs == keys:
			out := make(map[string]any, keys)
			var err error
			v.ForEach(func(k, e lua.LValue) {
				if err == nil {
					out[k.String()], err = fromLua(e, path)
				}
			})
			return out, err
		case strs == 0:
			out := make([]any, keys)
			for i := range out {
				e := v.RawGetInt(i + 1)
				if e == lua.LNil {
					return nil, errors.New("a table with keys other than 1..n has no JSON array")
				}
				var err error
				if out[i], err = fromLua(e, path); err != nil {
					return nil, err
				}
			}
			return out, nil
		}
		return nil, errors.New("a table with both string and number keys has no JSON")
	}
	return nil, fmt.Errorf("a Lua %s has no JSON", v.Type())
}

// restoreMaps does what Argo CD's cleanReturnedObj does: Lua has one empty table for {}
// and [], so where the object had an object and the script returned an empty table, the
// object as it was is put back.
func restoreMaps(next, prev map[string]any) {
	for k, pv := range prev {
		switch nv := next[k].(type) {
		case map[string]any:
			if pm, ok := pv.(map[string]any); ok {
				restoreMaps(nv, pm)
			}
		case []any:
			switch pv := pv.(type) {
			case map[string]any:
				if len(nv) == 0 {
					next[k] = pv
				}
			case []any:
				restoreInArray(nv, pv)
			}
		}
	}
}

func restoreInArray(next, prev []any) {
	for i := range min(len(next), len(prev)) {
		switch nv := next[i].(type) {
		case map[string]any:
			if pm, ok := prev[i].(map[string]any); ok {
				restoreMaps(nv, pm)
			}
		case []any:
			if pa, ok := prev[i].([]any); ok {
				restoreInArray(nv, pa)
			}
		}
	}
}

// osTime is os.time() (Argo CD's takes a date table too; no script here needs it).
func osTime(L *lua.LState) int {
	if L.GetTop() > 0 {
		L.RaiseError("os.time takes no argument here")
	}
	L.Push(lua.LNumber(now().Unix()))
	return 1
}

// osDate is os.date([format [, time]]): "!" first is UTC.
func osDate(L *lua.LState) int {
	format := L.OptString(1, "%c")
	t := now()
	utc := strings.HasPrefix(format, "!")
	format = strings.TrimPrefix(format, "!")
	if L.GetTop() >= 2 {
		t = time.Unix(L.CheckInt64(2), 0)
	}
	if utc {
		t = t.UTC()
	}
	L.Push(lua.LString(strftime(t, format)))
	return 1
}

// strftimeLayouts are the strftime conversions os.date knows, as Go layouts.
var strftimeLayouts = map[byte]string{
	'c': "02 Jan 06 15:04 MST", 'd': "02", 'F': "2006-01-02", 'H': "15", 'm': "01", 'M': "04",
	'S': "05", 'X': "15:04:05", 'y': "06", 'Y': "2006", 'z': "-0700", 'Z': "MST",
}

func strftime(t time.Time, format string) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' || i+1 == len(format) {
			b.WriteByte(c)
			continue
		}
		i++
		if layout, ok := strftimeLayouts[format[i]]; ok {
			b.WriteString(t.Format(layout))
		} else if format[i] == '%' {
			b.WriteByte('%')
		} else {
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}

// ConfigMapFile is the file the customizations are generated into, next to the scripts.
const ConfigMapFile = "argocd-cm.yaml"

// configMapHeader heads argocd-cm.yaml.
const configMapHeader = `# Argo CD resource customizations for drover's kinds: health checks for Prod, ProdSet,
# RolloutPolicy, ClusterMaintenance and Notifier, the ProdSet's rollout actions (promote,
# pause, resume, abort, rollback) and the ClusterMaintenance's (restore, drain). Merge its
# data keys into Argo CD's argocd-cm ConfigMap:
#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file config/argocd/argocd-cm.yaml
# docs/operations.md, "Deploying drover's objects with GitOps", says what each status means.
#
# Generated from the Lua files under config/argocd/drover.dev; do not edit. Regenerate with:
#   go test ./config/argocd/ -run TestConfigMap -update
apiVersion: v1
kind: ConfigMap
metadata:
  name: argocd-cm
data:
`

// configMap is argocd-cm.yaml as the Lua files make it: for each of HealthKinds, the
// health script as resource.customizations.health.drover.dev_<Kind>, and the action discovery
// script and action definitions, in name order, as
// resource.customizations.actions.drover.dev_<Kind>. Keys are in order.
func configMap() ([]byte, error) {
	kinds, err := fs.ReadDir(scripts, Group)
	if err != nil {
		return nil, err
	}
	entries := map[string][]byte{}
	for _, kind := range HealthKinds {
		src, err := healthScript(kind)
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		if err := literal(&b, "    ", src); err != nil {
			return nil, fmt.Errorf("health.lua: %w", err)
		}
		entries["resource.customizations.health."+Group+"_"+kind] = b.Bytes()
	}
	for _, k := range kinds {
		if !k.IsDir() {
			continue
		}
		kind := k.Name()
		discovery, err := script(kind, "actions/discovery.lua")
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var b bytes.Buffer
		b.WriteString("    discovery.lua: |\n")
		if err := literal(&b, "      ", discovery); err != nil {
			return nil, fmt.Errorf("%s discovery.lua: %w", kind, err)
		}
		b.WriteString("    definitions:\n")
		actions, err := fs.ReadDir(scripts, path.Join(Group, kind, "actions"))
		if err != nil {
			return nil, err
		}
		for _, a := range actions {
			if !a.IsDir() {
				continue
			}
			src, err := script(kind, "actions/"+a.Name()+"/action.lua")
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(&b, "    - name: %s\n      action.lua: |\n", a.Name())
			if err := literal(&b, "        ", src); err != nil {
				return nil, fmt.Errorf("%s action %s: %w", kind, a.Name(), err)
			}
		}
		entries["resource.customizations.actions."+Group+"_"+kind] = b.Bytes()
	}
	var out bytes.Buffer
	out.WriteString(configMapHeader)
	for _, key := range slices.Sorted(maps.Keys(entries)) {
		fmt.Fprintf(&out, "  %s: |\n", key)
		out.Write(entries[key])
	}
	return out.Bytes(), nil
}

// literal writes text as the lines of a YAML literal block scalar (|) indented by
// indent. The block keeps text as it is when text ends in one newline and its first
// line does not start with a space.
func literal(b *bytes.Buffer, indent, text string) error {
	if !strings.HasSuffix(text, "\n") || strings.HasSuffix(text, "\n\n") || strings.HasPrefix(text, " ") || strings.HasPrefix(text, "\t") {
		return errors.New("a script must end in one newline and not start with blanks")
	}
	for _, line := range strings.SplitAfter(text, "\n") {
		switch line {
		case "":
		case "\n":
			b.WriteString("\n")
		default:
			b.WriteString(indent + line)
		}
	}
	return nil
}
