package importer

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// readAll runs src.Read on f with st and collects what it sends.
func readAll(t *testing.T, src Source, f Folder, st FolderState) ([]Item, error) {
	t.Helper()
	out := make(chan Item, 100)
	err := src.Read(context.Background(), Request{Folder: f, Validity: func(uint32) FolderState { return st }, MaxSize: 1 << 20}, out)
	close(out)
	var items []Item
	for it := range out {
		items = append(items, it)
	}
	return items, err
}

func flagsOf(it Item) []string {
	var out []string
	for _, f := range it.Flags {
		out = append(out, string(f))
	}
	slices.Sort(out)
	return out
}

func TestMbox(t *testing.T) {
	src, err := OpenMbox("testdata/sample.mbox", "INBOX", MboxRD)
	if err != nil {
		t.Fatal(err)
	}
	f := Folder{Name: "INBOX"}
	items, err := readAll(t, src, f, FolderState{})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("%d messages, want 3", len(items))
	}
	first := string(items[0].Body)
	for _, want := range []string{
		"From: Alice <alice@example.org>\r\n", "\r\n\r\nHello Bob,\r\n",
		"\r\nFrom the start, this line was quoted once.\r\n>From here, twice.\r\n> From is not quoted.\r\n",
	} {
		if !strings.Contains(first, want) {
			t.Errorf("first message lacks %q:\n%s", want, first)
		}
	}
	if strings.HasSuffix(first, "\r\n\r\n") || strings.Contains(first, "From alice@example.org Tue") {
		t.Errorf("first message keeps the separator or its empty line:\n%q", first)
	}
	if strings.Contains(strings.ReplaceAll(first, "\r\n", ""), "\n") {
		t.Errorf("a bare LF is left")
	}
	wantFlags := [][]string{
		{"$Label1", "Work", `\Answered`, `\Flagged`, `\Seen`},
		nil,
		{`\Draft`},
	}
	wantDates := []time.Time{
		time.Date(2019, 3, 5, 9, 10, 11, 0, time.UTC),
		time.Date(2019, 3, 6, 10, 0, 0, 0, time.UTC),
		time.Date(2019, 3, 7, 11, 30, 0, 0, time.UTC),
	}
	for i, it := range items {
		if !slices.Equal(flagsOf(it), wantFlags[i]) {
			t.Errorf("message %d: flags %v, want %v", i, flagsOf(it), wantFlags[i])
		}
		if !it.Date.Equal(wantDates[i]) {
			t.Errorf("message %d: date %v, want %v", i, it.Date, wantDates[i])
		}
		if i > 0 && it.Start != items[i-1].Pos {
			t.Errorf("message %d starts at %d, the one before ends at %d", i, it.Start, items[i-1].Pos)
		}
	}
	if !strings.HasSuffix(string(items[2].Body), "A draft, with an empty line at its end.\r\n\r\n") {
		t.Errorf("last message's end: %q", items[2].Body)
	}
	fi, _ := os.Stat("testdata/sample.mbox")
	if items[2].Pos != uint64(fi.Size()) {
		t.Errorf("last message ends at %d, the file at %d", items[2].Pos, fi.Size())
	}

	// Resuming after the first message reads the other two.
	st := FolderState{}.after(items[:1])
	rest, err := readAll(t, src, f, st)
	if err != nil || len(rest) != 2 || !bytes.Equal(rest[0].Body, items[1].Body) {
		t.Fatalf("resumed: %d messages, %v", len(rest), err)
	}
	// A file rewritten before that point is refused.
	st.Check = strings.Repeat("0", 32)
	if _, err := readAll(t, src, f, st); err == nil {
		t.Errorf("resuming a changed mbox was not refused")
	}
}

func TestMboxO(t *testing.T) {
	in := "From a@b Tue Mar  5 09:10:11 2019\nSubject: x\n\n>From here\n>>From there\n"
	var items []Item
	ParseMbox(bufio.NewReader(strings.NewReader(in)), 0, MboxO, 1<<20, func(it Item) error { items = append(items, it); return nil })
	if len(items) != 1 || string(items[0].Body) != "Subject: x\r\n\r\nFrom here\r\n>>From there\r\n" {
		t.Fatalf("mboxo: %v", items)
	}
	if err := ParseMbox(bufio.NewReader(strings.NewReader("Subject: not mbox\n")), 0, MboxRD, 1<<20, func(Item) error { return nil }); err == nil {
		t.Errorf("a file not starting with From was taken")
	}
}

func TestMaildir(t *testing.T) {
	root := maildirFixture(t)
	when := time.Date(2019, 3, 5, 9, 0, 0, 0, time.UTC)
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			os.Chtimes(p, when, when)
		}
		return nil
	})
	src, err := OpenMaildir(root)
	if err != nil {
		t.Fatal(err)
	}
	folders, _ := src.Folders(context.Background())
	var names []string
	for _, f := range folders {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"INBOX", "Sent", "Work.Projects"}) {
		t.Fatalf("folders %v", names)
	}
	inbox, err := readAll(t, src, Folder{Name: "INBOX", Delim: "."}, FolderState{})
	if err != nil {
		t.Fatal(err)
	}
	if len(inbox) != 3 {
		t.Fatalf("INBOX: %d messages, want 3 (tmp/ and dot files are not read)", len(inbox))
	}
	want := []struct {
		name  string
		flags []string
	}{
		{"1551776400.M1P10.host,S=60", []string{`\Answered`, `\Seen`}},
		{"1551776500.M2P10.host", nil},
		{"1551776600.M3P10.host", []string{"$Forwarded", "Work", `\Flagged`}},
	}
	for i, w := range want {
		if inbox[i].Name != w.name || !slices.Equal(flagsOf(inbox[i]), w.flags) {
			t.Errorf("message %d: %s %v, want %s %v", i, inbox[i].Name, flagsOf(inbox[i]), w.name, w.flags)
		}
		if !inbox[i].Date.Equal(when) {
			t.Errorf("message %d: date %v", i, inbox[i].Date)
		}
		if !bytes.HasPrefix(inbox[i].Body, []byte("From: Ann <ann@example.org>\r\nSubject: ")) {
			t.Errorf("message %d: %q", i, inbox[i].Body)
		}
	}
	st := FolderState{}.after(inbox[:2])
	rest, _ := readAll(t, src, Folder{Name: "INBOX"}, st)
	if len(rest) != 1 || rest[0].Name != want[2].name {
		t.Errorf("resumed: %v", rest)
	}
	nested, _ := readAll(t, src, Folder{Name: "Work.Projects", Delim: "."}, FolderState{})
	if len(nested) != 1 || !slices.Equal(flagsOf(nested[0]), []string{"$Forwarded", `\Deleted`, `\Seen`}) {
		t.Errorf("Work.Projects: %v", nested)
	}
	if d, skip := Map(Folder{Name: "Work.Projects", Delim: "."}, false); d.Mailbox != "Work/Projects" || skip != "" {
		t.Errorf("Work.Projects maps to %v %q", d, skip)
	}
}

// maildirFixture copies testdata/maildir to a temporary folder, naming
// the files as a Maildir does: the fixture writes the info separator ":"
// as "!" (no ":" in a Go module's file names, nor on Windows).
func maildirFixture(t *testing.T) string {
	t.Helper()
	root := filepath.Join(t.TempDir(), "Maildir")
	if err := os.CopyFS(root, os.DirFS("testdata/maildir")); err != nil {
		t.Fatal(err)
	}
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(fi.Name(), "!2,") {
			os.Rename(p, filepath.Join(filepath.Dir(p), strings.Replace(fi.Name(), "!2,", ":2,", 1)))
		}
		return nil
	})
	return root
}

func TestMap(t *testing.T) {
	for _, c := range []struct {
		f    Folder
		want Dest
		skip bool
	}{
		{Folder{Name: "inbox", Delim: "/"}, Dest{"INBOX", sealpost.UseInbox}, false},
		{Folder{Name: "[Gmail]/Sent Mail", Delim: "/", Attrs: []string{`\HasNoChildren`, `\Sent`}}, Dest{"Sent", sealpost.UseSent}, false},
		{Folder{Name: "[Gmail]/Sent Mail", Delim: "/"}, Dest{"Sent", sealpost.UseSent}, false},
		{Folder{Name: "Sent Items", Delim: "/"}, Dest{"Sent", sealpost.UseSent}, false},
		{Folder{Name: "Deleted Items", Delim: "/"}, Dest{"Trash", sealpost.UseTrash}, false},
		{Folder{Name: "Junk E-mail", Delim: "/"}, Dest{"Junk", sealpost.UseJunk}, false},
		{Folder{Name: "Gesendet", Delim: "/", Attrs: []string{`\sent`}}, Dest{"Sent", sealpost.UseSent}, false},
		{Folder{Name: "INBOX.Drafts", Delim: ".", Attrs: []string{`\Drafts`}}, Dest{"Drafts", sealpost.UseDrafts}, false},
		{Folder{Name: "INBOX.a/b.c", Delim: "."}, Dest{"INBOX/a-b/c", sealpost.UseNone}, false},
		{Folder{Name: "[Gmail]/All Mail", Delim: "/", Attrs: []string{`\All`}}, Dest{}, true},
		{Folder{Name: "[Gmail]/All Mail", Delim: "/"}, Dest{}, true},
		{Folder{Name: "[Gmail]/Starred", Delim: "/", Attrs: []string{`\Flagged`}}, Dest{}, true},
		{Folder{Name: "[Gmail]", Delim: "/", Attrs: []string{`\Noselect`}}, Dest{}, true},
		{Folder{Name: "bad*name", Delim: "/"}, Dest{}, true},
	} {
		d, skip := Map(c.f, false)
		if d != c.want || (skip != "") != c.skip {
			t.Errorf("Map(%v) = %v %q, want %v skip %v", c.f, d, skip, c.want, c.skip)
		}
	}
	if d, skip := Map(Folder{Name: "[Gmail]/All Mail", Delim: "/", Attrs: []string{`\All`}}, true); skip != "" || d.Mailbox != "[Gmail]/All Mail" {
		t.Errorf("with AllMail: %v %q", d, skip)
	}
}
