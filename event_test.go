package sealpost

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestEventKinds checks the list of kinds: well-formed, no duplicates, and
// every EventKind constant of the package in it (the packages that treat
// events test each listed kind, so a constant left out would escape them).
func TestEventKinds(t *testing.T) {
	form := regexp.MustCompile(`^[a-z]+(\.[a-z]+(_[a-z]+)*)+$`)
	seen := make(map[EventKind]bool)
	for _, k := range EventKinds() {
		if !form.MatchString(string(k)) {
			t.Errorf("kind %q is not lower-case words joined by dots", k)
		}
		if seen[k] {
			t.Errorf("kind %q is listed twice", k)
		}
		seen[k] = true
	}

	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	declared := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST {
				continue
			}
			for _, s := range g.Specs {
				vs := s.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "EventKind" {
					continue
				}
				for i, id := range vs.Names {
					declared++
					var k string
					lit, ok := vs.Values[i].(*ast.BasicLit)
					if ok {
						k, err = strconv.Unquote(lit.Value)
					}
					if !ok || err != nil {
						t.Errorf("%s: %s is not a string literal", name, id.Name)
					} else if !seen[EventKind(k)] {
						t.Errorf("%s: %s (%q) is not in EventKinds", name, id.Name, k)
					}
				}
			}
		}
	}
	if n := len(EventKinds()); declared != n || n == 0 {
		t.Errorf("the package declares %d EventKind constants, EventKinds lists %d", declared, n)
	}
}
