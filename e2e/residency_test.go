package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/store/sqlite"
)

// The demo runs two regions with separate storage: alice's mail lands only
// under regions/ie, bob's only under regions/us, and `account list` says so.
func TestDemoTwoRegions(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	deliver(t, d.Addrs["smtp"], "x@example.org", alice, message("x@example.org", alice, "for alice", "hello alice"))
	deliver(t, d.Addrs["smtp"], "x@example.org", bob, message("x@example.org", bob, "for bob", "hello bob"))
	for _, who := range []struct{ user, pass, body string }{{alice, alicePass, "hello alice"}, {bob, bobPass, "hello bob"}} {
		c := login(t, d.Addrs["imaps"], who.user, who.pass)
		_, msgs := fetchAll(t, c, "INBOX")
		if len(msgs) != 1 {
			t.Fatalf("%s has %d messages", who.user, len(msgs))
		}
		for _, b := range msgs {
			if !strings.Contains(string(b), who.body) {
				t.Errorf("%s: wrong message %q", who.user, b)
			}
		}
	}
	d.Stop()

	list := mustSealpost(t, "", "account", "list", "--data", data)
	for _, want := range []string{"alice@demo.example  ie      IE", "bob@demo.example    us      US"} {
		if !strings.Contains(list, want) {
			t.Errorf("account list lacks %q:\n%s", want, list)
		}
	}
	// Each region's own storage holds its account and only it.
	for id, want := range map[string]string{"ie": alice, "us": bob} {
		st, err := sqlite.Open(filepath.Join(data, "regions", id, "meta.db"))
		if err != nil {
			t.Fatal(err)
		}
		inv, err := st.Inventory(context.Background())
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(inv.Accounts) != 1 || inv.Accounts[0].Address != want || len(inv.Blobs) != 1 {
			t.Errorf("region %s holds %v with %d blobs, want only %s with 1", id, inv.Accounts, len(inv.Blobs), want)
		}
	}
	out := mustSealpost(t, "", "residency", "audit", "--data", data)
	if !strings.Contains(out, "OK: every account's data is in its home region only") {
		t.Errorf("audit of the demo: %s", out)
	}
}

// `account move` asks for the owner's password, keeps UIDVALIDITY, UIDs and
// bytes, and resumes after kill -9 at every point of the move.
func TestAccountMoveCrashSafe(t *testing.T) {
	points := []string{"", "started", "swept", "first-blob", "blobs-copied", "imported", "copied", "switched", "source-deleted", "cleaned"}
	for _, point := range points {
		name := point
		if name == "" {
			name = "no-crash"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
			for i := 0; i < 3; i++ {
				deliver(t, d.Addrs["smtp"], "x@example.org", alice, message("x@example.org", alice, fmt.Sprintf("message %d", i), "body"))
			}
			c := login(t, d.Addrs["imaps"], alice, alicePass)
			validity, before := fetchAll(t, c, "INBOX")
			c.Logout().Wait()
			d.Stop()

			if point == "" {
				if out, err := sealpost(t, "wrong-password\n", "account", "move", alice, "--to", "us", "--data", data); err == nil {
					t.Fatalf("move with a wrong password succeeded: %s", out)
				}
			} else {
				cmd := exec.Command(testenv.BuildBinary(t), "account", "move", alice, "--to", "us", "--data", data)
				cmd.Stdin = strings.NewReader(alicePass + "\n")
				cmd.Env = append(os.Environ(), "SEALPOST_TEST_MOVE_CRASH="+point)
				out, err := cmd.CombinedOutput()
				if ee, ok := err.(*exec.ExitError); !ok || ee.ProcessState.String() != "signal: killed" {
					t.Fatalf("move did not die at %s: %v\n%s", point, err, out)
				}
			}
			out := mustSealpost(t, alicePass+"\n", "account", "move", alice, "--to", "us", "--data", data)
			if !strings.Contains(out, "moved alice@demo.example from region ie to region us") {
				t.Fatalf("move: %s", out)
			}
			if out := mustSealpost(t, "", "account", "list", "--data", data); !strings.Contains(out, "alice@demo.example  us") {
				t.Errorf("account list after move:\n%s", out)
			}
			if out := mustSealpost(t, "", "residency", "audit", "--data", data); !strings.Contains(out, "OK:") {
				t.Errorf("audit after move:\n%s", out)
			}
			events, _ := os.ReadFile(filepath.Join(data, "events.jsonl"))
			if !strings.Contains(string(events), `"kind":"mailbox.move.completed","account":"alice@demo.example"`) {
				t.Errorf("move not recorded: %s", events)
			}

			d = testenv.StartDemo(t, data, filepath.Join(dir, "demo2.log"))
			c = login(t, d.Addrs["imaps"], alice, alicePass)
			validity2, after := fetchAll(t, c, "INBOX")
			if validity2 != validity || len(after) != len(before) {
				t.Fatalf("after move: UIDVALIDITY %d (was %d), %d messages (was %d)", validity2, validity, len(after), len(before))
			}
			for uid, b := range before {
				if string(after[uid]) != string(b) {
					t.Errorf("UID %d differs after the move", uid)
				}
			}
		})
	}
}

// The audit exits non-zero and names the item when an account's data sits
// outside its home region.
func TestResidencyAuditCatchesMisplacedData(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	deliver(t, d.Addrs["smtp"], "x@example.org", alice, message("x@example.org", alice, "for alice", "hello"))
	d.Stop()

	// Copy alice's rows and one sealed blob into the us region's storage,
	// behind the server's back.
	ctx := context.Background()
	ie, err := sqlite.Open(filepath.Join(data, "regions", "ie", "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := ie.ExportAccount(ctx, alice)
	ie.Close()
	if err != nil {
		t.Fatal(err)
	}
	us, err := sqlite.Open(filepath.Join(data, "regions", "us", "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	usBlobs, err := pack.Open(filepath.Join(data, "regions", "us", "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	stray, err := usBlobs.Put(ctx, []byte("-----sealed bytes of nobody here-----"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range img.Mailboxes {
		img.Mailboxes[i].Messages = nil // the account and its keys only
	}
	if _, err := us.ImportAccount(ctx, img); err != nil {
		t.Fatal(err)
	}
	us.Close()
	usBlobs.Close()

	out, err := sealpost(t, "", "residency", "audit", "--data", data)
	if err == nil {
		t.Fatalf("audit passed with misplaced data:\n%s", out)
	}
	for _, want := range []string{
		"MISPLACED region us: account alice@demo.example: its data (account, keys, mail) is here but its home is region ie",
		"MISPLACED region us: blob " + string(stray) + ":",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("audit output lacks %q:\n%s", want, out)
		}
	}
	// The audit read every region's storage: an operator's access, recorded.
	if j, _ := os.ReadFile(filepath.Join(data, "events.jsonl")); !strings.Contains(string(j), `"kind":"residency.audit"`) {
		t.Errorf("the audit is not in the event journal:\n%s", j)
	}
}
