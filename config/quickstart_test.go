package config

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The file quickstart writes loads back as the configuration it stands for.
func TestFreshRoundTrip(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	os.WriteFile(cert, []byte("x"), 0o600)
	os.WriteFile(key, []byte("x"), 0o600)
	for _, f := range []Fresh{
		{Hostname: "mail.example.org", DataDir: filepath.Join(dir, `da"ta\ dir`), Region: "ie", Country: "IE", ACMEEmail: "postmaster@example.org"},
		{Hostname: "mail.example.org", DataDir: filepath.Join(dir, "data"), Region: "ie", Country: "IE", SelfSigned: true},
		{Hostname: "mail.example.org", DataDir: filepath.Join(dir, "data"), Region: "de", Country: "DE", Cert: cert, Key: key},
	} {
		b, err := f.TOML()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "sealpost.toml")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := Load(p)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		want := f.Config()
		if err := want.Validate(); err != nil {
			t.Fatal(err)
		}
		if (got.TLS.ACME != nil) != (f.Cert == "" && !f.SelfSigned) {
			t.Errorf("ACME %v for %+v", got.TLS.ACME, f)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("loaded\n%+v\nwant\n%+v\n%s", got, want, b)
		}
	}
	if _, err := (Fresh{Hostname: "a\nb", DataDir: "/x"}).TOML(); err == nil {
		t.Error("a control character was written")
	}
	if _, err := (Fresh{Hostname: "a", DataDir: "rel"}).TOML(); err == nil {
		t.Error("a relative data_dir was written")
	}
}
