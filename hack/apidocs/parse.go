package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// api is what apidocs learns from one API package.
type api struct {
	group, version string
	types          map[string]*typeInfo
}

// typeInfo is one named type of the package.
type typeInfo struct {
	name    string
	doc     string // the doc comment without its marker lines
	markers []marker
	// fields of a struct; nil for any other type.
	fields   []field
	isStruct bool
	// underlying is the type a non-struct type is declared as, such as "string".
	underlying ast.Expr
	consts     []constant
	// imports maps each import name of the type's file to its path.
	imports map[string]string
}

// field is one field of a struct.
type field struct {
	jsonName string // empty for an embedded (inline) field
	typ      ast.Expr
	doc      string
	markers  []marker
	inline   bool
	// omitempty is true when the JSON tag has omitempty (the field is optional unless
	// a marker says otherwise).
	omitempty bool
}

// constant is a constant declared with a named type of the package.
type constant struct {
	name, value, doc string
}

// marker is one kubebuilder-style marker line: "+kubebuilder:validation:Minimum=0" is
// {name: "kubebuilder:validation:Minimum", value: "0"}; "+optional" is {name: "optional"}.
type marker struct {
	name, value string
}

// argMarkers take key=value arguments ("+kubebuilder:printcolumn:name=...,type=..."), so
// their name ends at the last colon before the arguments, not at the first "=".
var argMarkers = []string{
	"kubebuilder:validation:XValidation",
	"kubebuilder:validation:items:XValidation",
	"kubebuilder:printcolumn",
	"kubebuilder:resource",
	"kubebuilder:subresource:scale",
}

// parseMarker parses one comment line; ok is false when it is not a marker.
func parseMarker(line string) (marker, bool) {
	line = strings.TrimSpace(line)
	if !strings.HasPrefix(line, "+") || len(line) < 2 {
		return marker{}, false
	}
	line = line[1:]
	for _, name := range argMarkers {
		if strings.HasPrefix(line, name+":") {
			return marker{name: name, value: line[len(name)+1:]}, true
		}
	}
	name, value, _ := strings.Cut(line, "=")
	return marker{name: name, value: value}, true
}

// splitDoc separates a comment into its documentation and its markers.
func splitDoc(cg *ast.CommentGroup) (string, []marker) {
	if cg == nil {
		return "", nil
	}
	var doc []string
	var markers []marker
	for _, line := range strings.Split(cg.Text(), "\n") {
		if m, ok := parseMarker(line); ok {
			markers = append(markers, m)
			continue
		}
		doc = append(doc, line)
	}
	return strings.TrimSpace(strings.Join(doc, "\n")), markers
}

// parseArgs parses marker arguments such as `rule="self > 0",message="too small"` or
// `categories=drover,shortName=cm;maint`. A value is a Go string literal (quoted or
// back-quoted) or runs to the next comma.
func parseArgs(s string) (map[string]string, error) {
	args := map[string]string{}
	for s != "" {
		key, rest, ok := strings.Cut(s, "=")
		if !ok {
			// A bare flag such as "+kubebuilder:resource:...,path=x,flag".
			args[key] = ""
			return args, nil
		}
		var value string
		if rest != "" && (rest[0] == '"' || rest[0] == '`') {
			lit, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("argument %s: %w", key, err)
			}
			if value, err = strconv.Unquote(lit); err != nil {
				return nil, fmt.Errorf("argument %s: %w", key, err)
			}
			rest = rest[len(lit):]
		} else {
			var more bool
			value, rest, more = strings.Cut(rest, ",")
			args[key] = value
			if !more {
				return args, nil
			}
			s = rest
			continue
		}
		args[key] = value
		if rest != "" {
			if rest[0] != ',' {
				return nil, fmt.Errorf("argument %s: want a comma after the value, have %q", key, rest)
			}
			rest = rest[1:]
		}
		s = rest
	}
	return args, nil
}

// unquote returns a marker value without its Go quotes, if it has any.
func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '`') {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	return s
}

// load parses the non-test, non-generated Go files of dir.
func load(dir string) (*api, error) {
	fset := token.NewFileSet()
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	a := &api{types: map[string]*typeInfo{}}
	type typedConst struct {
		typ string
		c   constant
	}
	var consts []typedConst
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") ||
			strings.HasPrefix(name, "zz_generated") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		a.version = f.Name.Name
		if _, ms := splitDoc(f.Doc); len(ms) > 0 {
			for _, m := range ms {
				if m.name == "groupName" {
					a.group = m.value
				}
			}
		}
		imports := map[string]string{}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			local := filepath.Base(path)
			if imp.Name != nil {
				local = imp.Name.Name
			}
			imports[local] = path
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, spec := range gd.Specs {
				switch s := spec.(type) {
				case *ast.TypeSpec:
					cg := s.Doc
					if cg == nil && len(gd.Specs) == 1 {
						cg = gd.Doc
					}
					t := &typeInfo{name: s.Name.Name, imports: imports}
					t.doc, t.markers = splitDoc(cg)
					if st, ok := s.Type.(*ast.StructType); ok {
						t.isStruct = true
						t.fields = structFields(st)
					} else {
						t.underlying = s.Type
					}
					a.types[t.name] = t
				case *ast.ValueSpec:
					if gd.Tok != token.CONST || s.Type == nil {
						continue
					}
					id, ok := s.Type.(*ast.Ident)
					if !ok {
						continue
					}
					cg := s.Doc
					if cg == nil && len(gd.Specs) == 1 {
						cg = gd.Doc
					}
					doc, _ := splitDoc(cg)
					for i, n := range s.Names {
						if i >= len(s.Values) {
							break
						}
						lit, ok := s.Values[i].(*ast.BasicLit)
						if !ok {
							continue
						}
						consts = append(consts, typedConst{typ: id.Name, c: constant{name: n.Name, value: unquote(lit.Value), doc: doc}})
					}
				}
			}
		}
	}
	for _, tc := range consts {
		if t, ok := a.types[tc.typ]; ok {
			t.consts = append(t.consts, tc.c)
		}
	}
	if len(a.types) == 0 {
		return nil, fmt.Errorf("no types in %s", dir)
	}
	return a, nil
}

func structFields(st *ast.StructType) []field {
	var out []field
	for _, f := range st.Fields.List {
		fd := field{typ: f.Type}
		fd.doc, fd.markers = splitDoc(f.Doc)
		tag := ""
		if f.Tag != nil {
			raw, _ := strconv.Unquote(f.Tag.Value)
			tag = reflect.StructTag(raw).Get("json")
		}
		name, opts, _ := strings.Cut(tag, ",")
		fd.omitempty = strings.Contains(","+opts+",", ",omitempty,") || strings.Contains(","+opts+",", ",omitzero,")
		switch {
		case len(f.Names) == 0 && (name == "" || strings.Contains(","+opts+",", ",inline,")):
			fd.inline = true
		case name == "-":
			continue
		case name == "" && len(f.Names) > 0:
			name = f.Names[0].Name
		}
		fd.jsonName = name
		if fd.inline {
			fd.jsonName = ""
		}
		out = append(out, fd)
	}
	return out
}

// has reports whether ms has a marker called name, and its value.
func has(ms []marker, name string) (string, bool) {
	for _, m := range ms {
		if m.name == name {
			return m.value, true
		}
	}
	return "", false
}

// localRefs lists the names of the package's own types that expr refers to.
func localRefs(expr ast.Expr) []string {
	var out []string
	ast.Inspect(expr, func(n ast.Node) bool {
		switch x := n.(type) {
		case *ast.SelectorExpr:
			return false // another package's type
		case *ast.Ident:
			out = append(out, x.Name)
		}
		return true
	})
	return out
}

// kinds returns the package's root types except lists, sorted by name.
func (a *api) kinds() []*typeInfo {
	var out []*typeInfo
	for _, name := range slices.Sorted(maps.Keys(a.types)) {
		t := a.types[name]
		if v, ok := has(t.markers, "kubebuilder:object:root"); ok && v != "false" && !isList(t) {
			out = append(out, t)
		}
	}
	return out
}
