package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/store/postgres"
)

// writeConfig writes a sealpost.toml in dir with the demo's two regions
// (us's store as given) and loopback listeners on free ports.
func writeConfig(t *testing.T, dir, usStore string, extra string) string {
	t.Helper()
	conf := filepath.Join(dir, "sealpost.toml")
	text := fmt.Sprintf(`hostname = "mail.demo.example"
data_dir = "data"
[[region]]
id = "ie"
name = "Ireland"
country = "IE"
zones = ["EU"]
[[region]]
id = "us"
name = "United States"
country = "US"
zones = ["US"]
%s
[listen]
smtp = "127.0.0.1:0"
submissions = "127.0.0.1:0"
imaps = "127.0.0.1:0"
[tls]
self_signed = true
[argon2]
time = 1
memory_kib = 8192
threads = 1
%s`, usStore, extra)
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return conf
}

// One process serves a region on SQLite and a pack folder, and one on a
// real PostgreSQL server and a real S3 server (versitygw); mail lands in
// each account's home storage; a mailbox moves from the embedded region to
// PostgreSQL + S3 and keeps its UIDs.
func TestServePostgresRegion(t *testing.T) {
	dsn := testenv.StartPostgres(t, "sealpost_us")[0]
	s3 := testenv.StartS3(t)
	dir := t.TempDir()
	secret := filepath.Join(dir, "s3.secret")
	os.WriteFile(secret, []byte(s3.SecretKey+"\n"), 0o600)
	conf := writeConfig(t, dir, fmt.Sprintf("store.kind = \"postgres\"\nstore.dsn = %q\n"+
		"blobs.kind = \"s3\"\nblobs.endpoint = %q\nblobs.bucket = \"sealpost-us\"\nblobs.prefix = \"us/\"\n"+
		"blobs.access_key = %q\nblobs.secret_key_file = %q\nblobs.create_bucket = true\n", dsn, s3.Endpoint, s3.AccessKey, secret), "")
	mustSealpost(t, "", "domain", "add", "demo.example", "--region", "ie", "--config", conf)
	mustSealpost(t, alicePass+"\n", "account", "add", alice, "--config", conf)
	mustSealpost(t, bobPass+"\n", "account", "add", bob, "--region", "us", "--config", conf)

	d := testenv.Start(t, filepath.Join(dir, "serve.log"), "serve", "--config", conf, "--dns", testenv.SenderDNS(t).Addr)
	for _, who := range []struct{ user, pass string }{{alice, alicePass}, {bob, bobPass}} {
		for i := 0; i < 3; i++ {
			deliver(t, d.Addrs["smtp"], "x@example.org", who.user, message("x@example.org", who.user, fmt.Sprintf("msg %d", i), "hello "+who.user))
		}
	}
	c := login(t, d.Addrs["imaps"], alice, alicePass)
	validity, before := fetchAll(t, c, "INBOX")
	c.Logout().Wait()
	cb := login(t, d.Addrs["imaps"], bob, bobPass)
	if _, msgs := fetchAll(t, cb, "INBOX"); len(msgs) != 3 {
		t.Fatalf("bob (PostgreSQL) has %d messages", len(msgs))
	}
	cb.Logout().Wait()
	d.Stop()

	inv := func() map[string]int {
		st, err := postgres.Open(context.Background(), dsn)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		iv, err := st.Inventory(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]int{}
		for _, owner := range iv.Blobs {
			out[owner]++
		}
		return out
	}
	if got := inv(); got[bob] != 3 || got[alice] != 0 {
		t.Errorf("PostgreSQL region holds %v, want bob's 3 only", got)
	}
	// The audit checks every referenced blob is in the region's blob
	// store: here, bob's are in the bucket, and nothing of us is local.
	if out := mustSealpost(t, "", "residency", "audit", "--config", conf); !strings.Contains(out, "OK:") ||
		!strings.Contains(out, "region us: 3 blobs") {
		t.Errorf("audit: %s", out)
	}
	if _, err := os.Stat(filepath.Join(dir, "data", "regions", "us")); !os.IsNotExist(err) {
		t.Errorf("region us (PostgreSQL + S3) wrote to the local data folder: %v", err)
	}

	out := mustSealpost(t, alicePass+"\n", "account", "move", alice, "--to", "us", "--config", conf)
	if !strings.Contains(out, "moved") {
		t.Fatalf("move: %s", out)
	}
	if got := inv(); got[alice] != 3 || got[bob] != 3 {
		t.Errorf("after the move PostgreSQL holds %v", got)
	}
	d = testenv.Start(t, filepath.Join(dir, "serve2.log"), "serve", "--config", conf, "--dns", testenv.SenderDNS(t).Addr)
	c = login(t, d.Addrs["imaps"], alice, alicePass)
	validity2, after := fetchAll(t, c, "INBOX")
	if validity2 != validity || len(after) != len(before) {
		t.Fatalf("after the move: UIDVALIDITY %d (was %d), %d messages (was %d)", validity2, validity, len(after), len(before))
	}
	for uid, b := range before {
		if string(after[uid]) != string(b) {
			t.Errorf("UID %d differs after the move", uid)
		}
	}
	d.Stop()
	if out := mustSealpost(t, "", "residency", "audit", "--config", conf); !strings.Contains(out, "OK:") {
		t.Errorf("audit after the move: %s", out)
	}
}
