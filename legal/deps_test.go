package legal_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The legal workflow never imports the sealing code: nothing in it can open
// sealed mail, so nothing can make it. This checks every legal package's
// dependencies, transitive ones included, with the go tool.
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
}
