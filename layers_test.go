package sealpost_test

import (
	"bufio"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/sealpost/sealpost"

// goList returns, for every package of the module, the packages it imports
// (not its tests'): with deps, every package it depends on, transitively.
func goList(t *testing.T, deps bool) map[string][]string {
	t.Helper()
	format := `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`
	if deps {
		format = `{{.ImportPath}}{{range .Deps}} {{.}}{{end}}`
	}
	out, err := exec.Command("go", "list", "-f", format, "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	pkgs := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		f := strings.Fields(line)
		pkgs[f[0]] = f[1:]
	}
	if len(pkgs) < 30 {
		t.Fatalf("go list found too little: %d packages", len(pkgs))
	}
	return pkgs
}

// short names a package of the module as docs/ARCHITECTURE.md does:
// "sealpost" for the root, else its path below the module.
func short(pkg string) string {
	if pkg == module {
		return "sealpost"
	}
	return strings.TrimPrefix(pkg, module+"/")
}

// layers reads the package table of docs/ARCHITECTURE.md: each row names
// one or more packages (in backquotes, in its first column), and rows are in
// layer order, top first.
func layers(t *testing.T) map[string]int {
	t.Helper()
	f, err := os.Open("docs/ARCHITECTURE.md")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	names := regexp.MustCompile("`([a-z0-9/]+)`")
	row := map[string]int{}
	n := 0
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "|") {
			if in {
				break // the table ended
			}
			continue
		}
		in = true
		first := strings.SplitN(line, "|", 3)[1]
		m := names.FindAllStringSubmatch(first, -1)
		if len(m) == 0 {
			continue // the header
		}
		n++
		for _, s := range m {
			row[s[1]] = n
		}
	}
	if len(row) < 20 {
		t.Fatalf("read only %d packages from the table in docs/ARCHITECTURE.md", len(row))
	}
	return row
}

// Every package of the module has its row in docs/ARCHITECTURE.md's table,
// and imports only packages of its own row or of rows below it: the
// document's "dependencies point down this list" holds.
func TestDependenciesPointDown(t *testing.T) {
	row := layers(t)
	for pkg, imports := range goList(t, false) {
		me, ok := row[short(pkg)]
		if !ok {
			t.Errorf("package %s has no row in docs/ARCHITECTURE.md", short(pkg))
			continue
		}
		for _, imp := range imports {
			if !strings.HasPrefix(imp, module) {
				continue
			}
			if r, ok := row[short(imp)]; ok && r < me {
				t.Errorf("%s imports %s, which is above it in docs/ARCHITECTURE.md", short(pkg), short(imp))
			}
		}
	}
	for name := range row {
		if _, err := os.Stat(strings.TrimPrefix(name, "sealpost")); name != "sealpost" && err != nil {
			t.Errorf("docs/ARCHITECTURE.md names %s, which is not a package here", name)
		}
	}
}

// The rules the layers exist for, checked on every package's transitive
// dependencies:
//   - the store layer (metadata stores and their residency guard, blob
//     stores) never depends on residency routing (region) nor on anything
//     above it;
//   - postbox and smtpserver do not link go-imap: the mail service speaks
//     no protocol, and SMTP no IMAP;
//   - smtpserver and imapserver never depend on each other, nor on a
//     concrete store;
//   - the legal workflow never links the sealing code (nothing in it can
//     open sealed mail, so nothing can make it), nor OpenPGP; it shares
//     internal/pwhash (Argon2id for officer passwords), which holds no key
//     and imports nothing of the project but errors;
//   - the root package depends on nothing of the project but errors.
func TestImportRules(t *testing.T) {
	deps := goList(t, true)
	of := func(pkg string) []string {
		t.Helper()
		path := module + "/" + pkg
		if pkg == "sealpost" {
			path = module
		}
		got, ok := deps[path]
		if !ok {
			t.Fatalf("no package %s", pkg)
		}
		return got
	}
	// never fails if pkg depends on any package of bad or below one.
	never := func(pkg string, bad ...string) {
		t.Helper()
		for _, d := range of(pkg) {
			for _, b := range bad {
				if d == b || strings.HasPrefix(d, b+"/") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
	// only fails if pkg depends on a package of the module not in allowed.
	only := func(pkg string, allowed ...string) {
		t.Helper()
		for _, d := range of(pkg) {
			if strings.HasPrefix(d, module+"/") && !slices.Contains(allowed, short(d)) {
				t.Errorf("%s depends on %s; of the project it may use only %v", pkg, short(d), allowed)
			}
		}
	}

	var stores, legal []string
	for pkg := range deps {
		switch s := short(pkg); {
		case strings.HasPrefix(s, "store/") || strings.HasPrefix(s, "blob/"):
			stores = append(stores, s)
		case s == "legal" || strings.HasPrefix(s, "legal/"):
			legal = append(legal, s)
		}
	}
	if !slices.Contains(stores, "store/guard") || !slices.Contains(stores, "store/sqlite") || !slices.Contains(stores, "blob/pack") ||
		!slices.Contains(legal, "legal/gateway") || !slices.Contains(legal, "legal/store") {
		t.Fatalf("found store packages %v, legal packages %v", stores, legal)
	}
	for _, s := range stores {
		never(s, module+"/region", module+"/postbox", module+"/imapserver", module+"/smtpserver",
			module+"/frontdoor", module+"/server", module+"/web")
	}

	imap := "github.com/emersion/go-imap"
	never("postbox", imap, module+"/imapserver")
	never("smtpserver", imap, module+"/imapserver", module+"/store", module+"/blob")
	never("imapserver", module+"/smtpserver", module+"/store", module+"/blob")

	for _, l := range legal {
		never(l, module+"/seal", module+"/postbox", module+"/server", "github.com/ProtonMail/go-crypto")
	}
	// The shared hasher is in use (so the rule above covers what it
	// reaches), and brings nothing else in.
	if !slices.Contains(of("legal/store"), module+"/internal/pwhash") {
		t.Error("legal/store does not use internal/pwhash for officer passwords")
	}
	for _, leaf := range []string{"sealpost", "internal/pwhash", "internal/sqlitedb", "internal/durable"} {
		only(leaf, "errors")
	}
}
