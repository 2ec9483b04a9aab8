package legal_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The legal workflow never imports the sealing code: nothing in it can open
// sealed mail, so nothing can make it. It may share internal/pwhash (Argon2id
// for officer passwords), which holds no mail key. This checks every legal
// package's dependencies, transitive ones included, with the go tool.
func TestLegalNeverImportsSeal(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/sealpost/sealpost/legal/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	pkgs := strings.Fields(string(out))
	if len(pkgs) < 10 {
		t.Fatalf("go list found too little: %q", pkgs)
	}
	for _, p := range pkgs {
		switch p {
		case "github.com/sealpost/sealpost/seal", "github.com/sealpost/sealpost/postbox", "github.com/sealpost/sealpost/server":
			t.Errorf("a legal package depends on %s", p)
		}
		if strings.HasPrefix(p, "github.com/ProtonMail/go-crypto") {
			t.Errorf("a legal package depends on OpenPGP code (%s)", p)
		}
	}
	// The shared password hasher is allowed, and is in use (legal/store),
	// so the check above really covers what it reaches.
	if !slices.Contains(pkgs, "github.com/sealpost/sealpost/internal/pwhash") {
		t.Error("no legal package depends on internal/pwhash; officer passwords should use it")
	}
	// pwhash itself imports nothing of the project but errors, so sharing
	// it can never bring seal (or anything else) into the legal packages.
	out, err = exec.Command("go", "list", "-deps", "github.com/sealpost/sealpost/internal/pwhash").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, p := range strings.Fields(string(out)) {
		if strings.HasPrefix(p, "github.com/sealpost/sealpost") &&
			p != "github.com/sealpost/sealpost/internal/pwhash" && p != "github.com/sealpost/sealpost/errors" {
			t.Errorf("internal/pwhash depends on %s; it may import only errors of the project", p)
		}
	}
}
