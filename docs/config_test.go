// Package docs holds the checks that keep the documents in this directory true to the
// code: CONFIGURATION.md must list every JSON field, environment variable and engine
// option the code has, and nothing else.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// TestConfigurationMatchesTheCode compares CONFIGURATION.md's tables with the code:
// every JSON document struct of package policy (a struct type named xxxJSON; its section
// is xxx in snake case, circuitBreakerJSON → circuit_breaker), the environment variables
// of policy/env.go, and the exported functions of package supervisor that return an
// Option. A field, variable or option without its row fails, and so does a row the code
// no longer has.
func TestConfigurationMatchesTheCode(t *testing.T) {
	doc := readSections(t, "CONFIGURATION.md")
	code := map[string][]string{}
	for name, keys := range jsonDocuments(t, filepath.Join("..", "policy")) {
		code[name] = keys
	}
	code["Environment"] = envVariables(t, filepath.Join("..", "policy", "env.go"))
	code["Engine options"] = engineOptions(t, filepath.Join("..", "supervisor"))
	for section, want := range code {
		got, ok := doc[section]
		if !ok {
			t.Errorf("CONFIGURATION.md has no section %q; the code has %v", section, want)
			continue
		}
		for _, k := range want {
			if !slices.Contains(got, k) {
				t.Errorf("CONFIGURATION.md section %q has no row for %q", section, k)
			}
		}
		for _, k := range got {
			if !slices.Contains(want, k) {
				t.Errorf("CONFIGURATION.md section %q has a row for %q, which the code does not have", section, k)
			}
		}
	}
	for section := range doc {
		if _, ok := code[section]; !ok {
			t.Errorf("CONFIGURATION.md section %q matches nothing in the code", section)
		}
	}
}

var (
	heading = regexp.MustCompile("^###? `?([^`]+?)`?( \\(.*\\))?$")
	row     = regexp.MustCompile("^\\| `([^`]+)` \\|")
)

// readSections returns, per "## "/"### " heading of the document (backquotes and a
// parenthesised remark dropped), the first-column names of its table rows.
func readSections(t *testing.T, path string) map[string][]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sections := map[string][]string{}
	current := ""
	for line := range strings.SplitSeq(string(data), "\n") {
		if m := heading.FindStringSubmatch(line); m != nil {
			current = m[1]
			if strings.HasPrefix(line, "### ") {
				sections[current] = []string{}
			}
			continue
		}
		if m := row.FindStringSubmatch(line); m != nil && current != "" {
			if _, ok := sections[current]; !ok {
				sections[current] = []string{}
			}
			sections[current] = append(sections[current], m[1])
		}
	}
	// A level-2 heading with a table of its own (Environment, Engine options) is a
	// section; one that only groups level-3 sections (Policies, Backoffs) is not.
	for name, rows := range sections {
		if len(rows) == 0 && (name == "Policies" || name == "Backoffs") {
			delete(sections, name)
		}
	}
	return sections
}

// sections maps a document struct's name, where it differs, to its kind's JSON "type".
var sections = map[string]string{"budget": "retry_budget"}

// jsonDocuments returns the JSON keys of every struct type named xxxJSON in the non-test
// files of dir, by section name, without "type".
func jsonDocuments(t *testing.T, dir string) map[string][]string {
	t.Helper()
	docs := map[string][]string{}
	for _, f := range parseDir(t, dir) {
		ast.Inspect(f, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok || !strings.HasSuffix(ts.Name.Name, "JSON") || ts.Name.Name == "JSON" {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			keys := []string{}
			for _, field := range st.Fields.List {
				if field.Tag == nil {
					continue
				}
				tag, _ := strconv.Unquote(field.Tag.Value)
				key, _, _ := strings.Cut(reflect.StructTag(tag).Get("json"), ",")
				if key != "" && key != "-" && key != "type" {
					keys = append(keys, key)
				}
			}
			name := snake(strings.TrimSuffix(ts.Name.Name, "JSON"))
			if alias, ok := sections[name]; ok {
				name = alias
			}
			docs[name] = keys
			return true
		})
	}
	return docs
}

// envVariables returns the values of the string constants named env... in the file.
func envVariables(t *testing.T, path string) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), path, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var vars []string
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if !strings.HasPrefix(name.Name, "env") || i >= len(vs.Values) {
				continue
			}
			if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
				v, _ := strconv.Unquote(lit.Value)
				vars = append(vars, v)
			}
		}
		return true
	})
	if len(vars) == 0 {
		t.Fatalf("no environment variables found in %s", path)
	}
	return vars
}

// engineOptions returns the exported functions of the package in dir whose only result
// is Option.
func engineOptions(t *testing.T, dir string) []string {
	t.Helper()
	var opts []string
	for _, f := range parseDir(t, dir) {
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv != nil || !fd.Name.IsExported() || fd.Type.Results == nil || len(fd.Type.Results.List) != 1 {
				continue
			}
			if id, ok := fd.Type.Results.List[0].Type.(*ast.Ident); ok && id.Name == "Option" {
				opts = append(opts, fd.Name.Name)
			}
		}
	}
	if len(opts) == 0 {
		t.Fatalf("no options found in %s", dir)
	}
	return opts
}

// parseDir parses the non-test Go files of dir.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	return files
}

// snake turns a Go identifier in camel case into snake case: circuitBreaker →
// circuit_breaker.
func snake(s string) string {
	var b strings.Builder
	for i, r := range s {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('_')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}
