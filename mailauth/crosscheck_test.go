package mailauth

import (
	"bufio"
	"bytes"
	"context"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
)

// TestDKIMAgainstDebian cross-checks DKIM verdicts with Debian's
// python3-dkim (dkimpy), which shares no code with go-msgauth: for the same
// messages and the same published key, both must say the same.
func TestDKIMAgainstDebian(t *testing.T) {
	py := dkimPython(t)
	w := newWorld(t, nil)
	pub, err := x509.MarshalPKIXPublicKey(&keys().rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	record := rsaKeyRecord(pub) // as published at rsa._domainkey.dkim.example
	good := sign(t, message("From: Ann <a@dkim.example>", "To: bob@ours.example"), "dkim.example", "rsa")
	badBody := append(bytes.Clone(good[:len(good)-len("test.\r\n")]), "TEST!\r\n"...)
	badHeader := []byte(strings.Replace(string(good), "Subject: test", "Subject: pay now", 1))
	for _, tc := range []struct {
		name string
		msg  []byte
		want string
	}{
		{"valid", good, "pass"},
		{"body changed", badBody, "fail"},
		{"signed header changed", badHeader, "fail"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := w.c.Check(context.Background(), Input{IP: client, Helo: "client.example", MailFrom: "x@spf-fail.example", Message: tc.msg})
			if len(res.DKIM) != 1 {
				t.Fatalf("dkim results: %+v", res.DKIM)
			}
			ours := string(res.DKIM[0].Result)
			file := filepath.Join(t.TempDir(), "msg.eml")
			if err := os.WriteFile(file, tc.msg, 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(py, "testdata/dkimpy.py", "verify", file, "rsa._domainkey.dkim.example", record).CombinedOutput()
			if err != nil {
				t.Fatalf("dkimpy.py verify: %v\n%s", err, out)
			}
			theirs := strings.TrimSpace(string(out))
			if ours != tc.want || theirs != tc.want {
				t.Errorf("go-msgauth says %s, python3-dkim says %s; want %s", ours, theirs, tc.want)
			}
		})
	}
}

// TestDKIMSignedByDebian: a signature made by python3-dkim with the key
// published at rsa._domainkey.dkim.example verifies here, and DMARC
// passes on it.
func TestDKIMSignedByDebian(t *testing.T) {
	py := dkimPython(t)
	w := newWorld(t, nil)
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "key.pem")
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(keys().rsa)})
	if err := os.WriteFile(keyFile, pemKey, 0o600); err != nil {
		t.Fatal(err)
	}
	msg := message("From: Ann <a@dkim.example>", "To: bob@ours.example")
	file := filepath.Join(dir, "msg.eml")
	if err := os.WriteFile(file, msg, 0o600); err != nil {
		t.Fatal(err)
	}
	sig, err := exec.Command(py, "testdata/dkimpy.py", "sign", file, "dkim.example", "rsa", keyFile).Output()
	if err != nil {
		t.Fatalf("dkimpy.py sign: %v", err)
	}
	if !strings.HasPrefix(string(sig), "DKIM-Signature:") {
		t.Fatalf("dkimpy.py sign printed %q", sig)
	}
	signed := append(bytes.Clone(sig), msg...)
	res := w.c.Check(context.Background(), Input{IP: client, Helo: "client.example", MailFrom: "x@spf-fail.example", Message: signed})
	if len(res.DKIM) != 1 || res.DKIM[0].Result != "pass" || res.DMARC.Result != "pass" || res.Verdict != Accept {
		t.Errorf("python3-dkim's signature: %s, dkim %+v, dmarc %s", res.Verdict, res.DKIM, res.DMARC.Result)
	}
}

// dkimPython returns the Python that has Debian's dkim module: the
// interpreter of python3-dkim's dkimverify script.
func dkimPython(t *testing.T) string {
	tool := testenv.NeedTool(t, "dkimverify", "python3-dkim")
	f, err := os.Open(tool)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	line, _ := bufio.NewReader(f).ReadString('\n')
	py, ok := strings.CutPrefix(strings.TrimSpace(line), "#!")
	if !ok {
		t.Fatalf("%s has no interpreter line", tool)
	}
	return strings.Fields(py)[0]
}
