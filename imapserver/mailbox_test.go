package imapserver

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
)

func numberedMsg(i int) string {
	return fmt.Sprintf("From: s%d@remote.example\r\nSubject: message %d\r\n\r\nBody of message %d.\r\n", i, i, i)
}

func fetchUIDs(t *testing.T, c *imapclient.Client) []imap.UID {
	t.Helper()
	msgs, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var uids []imap.UID
	for _, m := range msgs {
		uids = append(uids, m.UID)
	}
	return uids
}

func TestStoreCopyMoveExpunge(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		e.deliver(numberedMsg(i))
	}
	c := e.client(alice, nil)
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	// STORE +FLAGS, -FLAGS, FLAGS, .SILENT, keywords.
	msgs, err := c.Store(imap.SeqSetNum(1, 2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Label1"}}, nil).Collect()
	if err != nil || len(msgs) != 2 || !slices.Contains(msgs[0].Flags, imap.FlagFlagged) || !slices.Contains(msgs[1].Flags, "$Label1") {
		t.Fatalf("STORE +FLAGS: %v %+v", err, msgs)
	}
	msgs, err = c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Collect()
	if err != nil || len(msgs) != 1 || !slices.Equal(msgs[0].Flags, []imap.Flag{"$Label1", `\Recent`}) {
		t.Fatalf("STORE -FLAGS: %v %+v", err, msgs)
	}
	msgs, err = c.Store(imap.UIDSetNum(3), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: []imap.Flag{imap.FlagDeleted, imap.FlagSeen}}, nil).Collect()
	if err != nil || len(msgs) != 0 {
		t.Fatalf("UID STORE FLAGS.SILENT: %v %+v", err, msgs)
	}
	all, err := c.Fetch(imap.SeqSet{{Start: 1, Stop: 0}}, &imap.FetchOptions{Flags: true, UID: true}).Collect()
	if err != nil || len(all) != 5 {
		t.Fatal(err)
	}
	if !slices.Contains(all[2].Flags, imap.FlagDeleted) || !slices.Contains(all[2].Flags, imap.FlagSeen) || !slices.Equal(all[3].Flags, []imap.Flag{`\Recent`}) {
		t.Errorf("flags after STORE: %+v", all)
	}

	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{`\Bogus`}}, nil).Close(); err == nil {
		t.Errorf("STORE of an unknown system flag succeeded")
	}

	// COPY with COPYUID; TRYCREATE for a missing mailbox.
	cd, err := c.Copy(imap.SeqSetNum(1, 2), "Archive").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if src, _ := cd.SourceUIDs.Nums(); !slices.Equal(src, []imap.UID{1, 2}) || cd.UIDValidity == 0 {
		t.Errorf("COPYUID: %+v", cd)
	}
	if _, err := c.Copy(imap.SeqSetNum(1), "Nope").Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		t.Errorf("COPY to a missing mailbox: %v", err)
	}

	// MOVE with COPYUID and EXPUNGE responses.
	var expunged []uint32
	var mu sync.Mutex
	c2 := e.client(alice, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Expunge: func(seq uint32) { mu.Lock(); expunged = append(expunged, seq); mu.Unlock() },
	}})
	if _, err := c2.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	md, err := c.Move(imap.SeqSetNum(4), "Trash").Wait()
	if err != nil {
		t.Fatal(err)
	}
	if src, _ := md.SourceUIDs.(imap.UIDSet).Nums(); !slices.Equal(src, []imap.UID{4}) {
		t.Errorf("MOVE COPYUID: %+v", md)
	}
	if uids := fetchUIDs(t, c); !slices.Equal(uids, []imap.UID{1, 2, 3, 5}) {
		t.Errorf("after MOVE: %v", uids)
	}
	// MOVE to the selected mailbox itself: TestMoveCopyToSelf.

	// UID EXPUNGE only expunges \Deleted messages in the set.
	if _, err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	seqs, err := c.UIDExpunge(imap.UIDSetNum(2, 3)).Collect()
	if err != nil || !slices.Equal(seqs, []uint32{3}) {
		t.Errorf("UID EXPUNGE 2,3: %v %v", seqs, err)
	}
	seqs, err = c.Expunge().Collect()
	if err != nil || !slices.Equal(seqs, []uint32{1}) {
		t.Errorf("EXPUNGE: %v %v", seqs, err)
	}
	if uids := fetchUIDs(t, c); !slices.Equal(uids, []imap.UID{2, 5}) {
		t.Errorf("after EXPUNGE: %v", uids)
	}

	// The other session sees the expunges on its next command, with
	// sequence numbers in its own view.
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if !slices.Equal(expunged, []uint32{4, 3, 1}) {
		t.Errorf("other session's expunges: %v", expunged)
	}
	mu.Unlock()
	if uids := fetchUIDs(t, c2); !slices.Equal(uids, []imap.UID{2, 5}) {
		t.Errorf("other session after expunges: %v", uids)
	}

	// The copies and the moved message are where they should be.
	st, err := c.Status("Archive", &imap.StatusOptions{NumMessages: true, UIDNext: true}).Wait()
	if err != nil || *st.NumMessages != 2 {
		t.Errorf("Archive: %v %+v", err, st)
	}
	st, err = c.Status("Trash", &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || *st.NumMessages != 1 {
		t.Errorf("Trash: %v %+v", err, st)
	}
	if _, err := c.Select("Trash", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	msgs, err = c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{whole}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatal(err)
	}
	mustEqualBytes(t, "moved message", msgs[0].FindBodySection(whole), []byte(numberedMsg(4)))
}

func TestTwoSessionsSeeFlagsAndExpunges(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		e.deliver(numberedMsg(i))
	}
	type flagUpdate struct {
		seq   uint32
		flags []imap.Flag
	}
	updates := make(chan flagUpdate, 10)
	c1 := e.client(alice, nil)
	c2 := e.client(alice, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Fetch: func(msg *imapclient.FetchMessageData) {
			buf, err := msg.Collect()
			if err == nil {
				updates <- flagUpdate{buf.SeqNum, buf.Flags}
			}
		},
	}})
	for _, c := range []*imapclient.Client{c1, c2} {
		if _, err := c.Select("INBOX", nil).Wait(); err != nil {
			t.Fatal(err)
		}
	}
	if err := c1.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagAnswered}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case u := <-updates:
		if u.seq != 2 || !slices.Equal(u.flags, []imap.Flag{imap.FlagAnswered}) {
			t.Errorf("flag update: %+v", u)
		}
	case <-time.After(10 * time.Second): // the client's handler runs in a goroutine
		t.Errorf("no flag update after NOOP")
	}

	// Sequence numbers stay the client's until it is told of the expunge:
	// FETCH 3 in session 2 still means the third message it knows.
	c1.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	if _, err := c1.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	msgs, err := c2.Fetch(imap.SeqSetNum(3), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 || msgs[0].SeqNum != 3 {
		t.Errorf("FETCH 3 before the expunge is announced: %v %+v", err, msgs)
	}
	if err := c2.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c2.Fetch(imap.SeqSetNum(2), &imap.FetchOptions{UID: true}).Collect()
	if err != nil || len(msgs) != 1 || msgs[0].UID != 3 {
		t.Errorf("FETCH 2 after the expunge: %v %+v", err, msgs)
	}
}

func TestIdleWakesOnDelivery(t *testing.T) {
	e := newEnv(t)
	e.deliver(numberedMsg(1))
	exists := make(chan uint32, 10)
	expunges := make(chan uint32, 10)
	c := e.client(alice, &imapclient.Options{UnilateralDataHandler: &imapclient.UnilateralDataHandler{
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				exists <- *d.NumMessages
			}
		},
		Expunge: func(seq uint32) { expunges <- seq },
	}})
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	go e.deliver(numberedMsg(2))
	select {
	case n := <-exists:
		if n != 2 {
			t.Errorf("EXISTS %d", n)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("IDLE did not wake on delivery")
	}

	// An expunge by another session wakes IDLE too.
	other := e.client(alice, nil)
	if _, err := other.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	other.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	if _, err := other.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	select {
	case seq := <-expunges:
		if seq != 1 {
			t.Errorf("EXPUNGE %d", seq)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("IDLE did not wake on expunge")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}
	if uids := fetchUIDs(t, c); !slices.Equal(uids, []imap.UID{2}) {
		t.Errorf("after IDLE: %v", uids)
	}
}

func TestAppend(t *testing.T) {
	e := newEnv(t)
	c := e.client(alice, nil)
	raw := "From: alice@example.org\r\nSubject: draft\r\n\r\nappended \xff bytes\n"
	date := time.Date(2020, 5, 17, 10, 20, 30, 0, time.FixedZone("", 2*3600))
	cmd := c.Append("Drafts", int64(len(raw)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDraft, imap.FlagSeen}, Time: date})
	cmd.Write([]byte(raw))
	cmd.Close()
	ad, err := cmd.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if ad.UID != 1 || ad.UIDValidity == 0 {
		t.Errorf("APPENDUID: %+v", ad)
	}
	sd, err := c.Select("Drafts", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sd.UIDValidity != ad.UIDValidity || sd.NumMessages != 1 {
		t.Errorf("SELECT Drafts: %+v", sd)
	}
	whole := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.UIDSetNum(ad.UID), &imap.FetchOptions{Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{whole}}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatal(err)
	}
	mustEqualBytes(t, "appended message", msgs[0].FindBodySection(whole), []byte(raw))
	if !msgs[0].InternalDate.Equal(date) || msgs[0].RFC822Size != int64(len(raw)) {
		t.Errorf("internal date %v, size %d", msgs[0].InternalDate, msgs[0].RFC822Size)
	}
	if !slices.Contains(msgs[0].Flags, imap.FlagDraft) || !slices.Contains(msgs[0].Flags, imap.FlagSeen) {
		t.Errorf("flags %v", msgs[0].Flags)
	}

	// APPEND to the selected mailbox announces the message; to a missing
	// mailbox asks for TRYCREATE; over the limit is TOOBIG.
	cmd = c.Append("Drafts", 3, nil)
	cmd.Write([]byte("x\r\n"))
	cmd.Close()
	if _, err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if c.Mailbox().NumMessages != 2 {
		t.Errorf("EXISTS after APPEND to the selected mailbox: %d", c.Mailbox().NumMessages)
	}
	cmd = c.Append("Missing", 3, nil)
	cmd.Write([]byte("x\r\n"))
	cmd.Close()
	if _, err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "TRYCREATE") {
		t.Errorf("APPEND to a missing mailbox: %v", err)
	}
	r := e.rawTLS()
	r.login(alice)
	_, tagged := r.cmd("APPEND INBOX {%d}", 1<<40)
	if !strings.Contains(tagged, "NO [TOOBIG]") {
		t.Errorf("APPEND over the limit: %q", tagged)
	}
	// LITERAL+: a non-synchronizing literal.
	r.ok("APPEND INBOX {5+}\r\nHello")
	u := r.ok("STATUS INBOX (MESSAGES)")
	if len(u) != 1 || !strings.Contains(u[0], "MESSAGES 1") {
		t.Errorf("after APPEND with LITERAL+: %q", u)
	}
}

func TestUIDsStableAcrossRestart(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 3; i++ {
		e.deliver(numberedMsg(i))
	}
	c := e.client(alice, nil)
	sd, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	c.Store(imap.SeqSetNum(2), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close()
	if _, err := c.Expunge().Collect(); err != nil {
		t.Fatal(err)
	}
	before := fetchUIDs(t, c)
	c.Close()

	e.restart()
	c = e.client(alice, nil)
	sd2, err := c.Select("INBOX", nil).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sd2.UIDValidity != sd.UIDValidity || sd2.UIDNext != sd.UIDNext {
		t.Errorf("after restart: UIDVALIDITY %d UIDNEXT %d, before %d %d", sd2.UIDValidity, sd2.UIDNext, sd.UIDValidity, sd.UIDNext)
	}
	if after := fetchUIDs(t, c); !slices.Equal(after, before) || !slices.Equal(after, []imap.UID{1, 3}) {
		t.Errorf("UIDs after restart %v, before %v", after, before)
	}
	e.deliver(numberedMsg(4))
	if err := c.Noop().Wait(); err != nil {
		t.Fatal(err)
	}
	if after := fetchUIDs(t, c); !slices.Equal(after, []imap.UID{1, 3, 4}) {
		t.Errorf("new UID after restart: %v", after)
	}
}

func TestMailboxHierarchyAndStatus(t *testing.T) {
	e := newEnv(t)
	c := e.client(alice, nil)
	for _, name := range []string{"Work/Projects/Alpha", "Work/Notes", "Lists/"} {
		if err := c.Create(name, nil).Wait(); err != nil {
			t.Fatalf("CREATE %s: %v", name, err)
		}
	}
	if err := c.Create("Work", nil).Wait(); err == nil || !strings.Contains(err.Error(), "ALREADYEXISTS") {
		t.Errorf("CREATE existing: %v", err)
	}
	if err := c.Create("inbox", nil).Wait(); err == nil {
		t.Errorf("CREATE inbox succeeded")
	}
	list, err := c.List("", "Work/%", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range list {
		names = append(names, l.Mailbox)
		if l.Mailbox == "Work/Projects" && !slices.Contains(l.Attrs, imap.MailboxAttrHasChildren) {
			t.Errorf("Work/Projects attrs %v", l.Attrs)
		}
	}
	if !slices.Equal(names, []string{"Work/Notes", "Work/Projects"}) {
		t.Errorf("LIST Work/%%: %v", names)
	}

	if err := c.Rename("Work", "Job", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	list, err = c.List("", "*", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	names = nil
	for _, l := range list {
		names = append(names, l.Mailbox)
	}
	for _, want := range []string{"Job", "Job/Notes", "Job/Projects", "Job/Projects/Alpha", "Lists"} {
		if !slices.Contains(names, want) {
			t.Errorf("after RENAME, %s missing from %v", want, names)
		}
	}
	if slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "Work") }) {
		t.Errorf("after RENAME, old names remain: %v", names)
	}
	if err := c.Rename("Nope", "Other", nil).Wait(); err == nil || !strings.Contains(err.Error(), "NONEXISTENT") {
		t.Errorf("RENAME missing: %v", err)
	}
	if err := c.Rename("Lists", "Job", nil).Wait(); err == nil || !strings.Contains(err.Error(), "ALREADYEXISTS") {
		t.Errorf("RENAME onto existing: %v", err)
	}

	// DELETE a parent: its children remain, it becomes \Noselect.
	if err := c.Delete("Job/Projects").Wait(); err != nil {
		t.Fatal(err)
	}
	list, err = c.List("Job/", "%", nil).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range list {
		if l.Mailbox == "Job/Projects" && !slices.Contains(l.Attrs, imap.MailboxAttrNoSelect) {
			t.Errorf("deleted parent attrs %v", l.Attrs)
		}
	}
	if _, err := c.Select("Job/Projects", nil).Wait(); err == nil {
		t.Errorf("SELECT of a deleted parent succeeded")
	}
	if err := c.Delete("INBOX").Wait(); err == nil {
		t.Errorf("DELETE INBOX succeeded")
	}
	if err := c.Delete("Nope").Wait(); err == nil || !strings.Contains(err.Error(), "NONEXISTENT") {
		t.Errorf("DELETE missing: %v", err)
	}

	// SUBSCRIBE / UNSUBSCRIBE / LSUB.
	if err := c.Subscribe("Lists").Wait(); err != nil {
		t.Fatal(err)
	}
	list, err = c.List("", "*", &imap.ListOptions{SelectSubscribed: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(list, func(l *imap.ListData) bool {
		return l.Mailbox == "Lists" && slices.Contains(l.Attrs, imap.MailboxAttrSubscribed)
	}) {
		t.Errorf("LIST (SUBSCRIBED) lacks Lists: %+v", list)
	}
	if err := c.Unsubscribe("Lists").Wait(); err != nil {
		t.Fatal(err)
	}

	// STATUS.
	e.deliver(numberedMsg(1))
	e.deliver(numberedMsg(2))
	st, err := c.Status("INBOX", &imap.StatusOptions{NumMessages: true, UIDNext: true, UIDValidity: true,
		NumUnseen: true, NumDeleted: true, Size: true, AppendLimit: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	wantSize := int64(len(numberedMsg(1)) + len(numberedMsg(2)))
	if *st.NumMessages != 2 || st.UIDNext != 3 || st.UIDValidity == 0 || *st.NumUnseen != 2 || *st.NumDeleted != 0 ||
		*st.Size != wantSize || st.AppendLimit == nil || *st.AppendLimit == 0 {
		t.Errorf("STATUS: %+v", st)
	}
	// DELETED-STORAGE (RFC 9208 4.2): the \Deleted messages' KiB.
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	st, err = c.Status("INBOX", &imap.StatusOptions{NumDeleted: true, DeletedStorage: true}).Wait()
	if want := (int64(len(numberedMsg(1))) + 1023) / 1024; err != nil || *st.NumDeleted != 1 || st.DeletedStorage == nil || *st.DeletedStorage != want {
		t.Errorf("STATUS DELETED-STORAGE: %+v, %v; want %d", st, err, want)
	}
	if err := c.Store(imap.SeqSetNum(1), &imap.StoreFlags{Op: imap.StoreFlagsDel, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Unselect().Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Status("Nope", &imap.StatusOptions{NumMessages: true}).Wait(); err == nil {
		t.Errorf("STATUS of a missing mailbox succeeded")
	}

	// RENAME INBOX moves its messages to the new mailbox; INBOX stays.
	if err := c.Rename("inbox", "Old mail", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]uint32{"INBOX": 0, "Old mail": 2} {
		st, err := c.Status(name, &imap.StatusOptions{NumMessages: true}).Wait()
		if err != nil || *st.NumMessages != want {
			t.Errorf("after RENAME INBOX, %s: %v %+v", name, err, st)
		}
	}

	// NAMESPACE, ENABLE IMAP4rev2 (then SELECT returns LIST), UNSELECT.
	r := e.rawTLS()
	r.login(alice)
	u := r.ok("NAMESPACE")
	if len(u) != 1 || u[0] != "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n" {
		t.Errorf("NAMESPACE: %q", u)
	}
	u = r.ok("ENABLE IMAP4rev2")
	if len(u) != 1 || !strings.Contains(u[0], "ENABLED IMAP4rev2") {
		t.Errorf("ENABLE: %q", u)
	}
	u = r.ok("SELECT Sent")
	if !slices.ContainsFunc(u, func(l string) bool { return strings.HasPrefix(l, `* LIST (\Sent) "/" "Sent"`) }) {
		t.Errorf("IMAP4rev2 SELECT without LIST: %q", u)
	}
	r.ok("UNSELECT")
}
