package e2e

import (
	"bytes"
	"path/filepath"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/sealpost/sealpost/internal/testenv"
)

// TestIMAPAcrossProtocols drives the real binary with go-imap's client: an
// IDLE woken by mail arriving over SMTP, flags, SEARCH, MOVE and APPEND.
func TestIMAPAcrossProtocols(t *testing.T) {
	dir := t.TempDir()
	d := testenv.StartDemo(t, filepath.Join(dir, "data"), filepath.Join(dir, "demo.log"))

	exists := make(chan uint32, 16)
	c, err := imapclient.DialTLS(d.Addrs["imaps"], &imapclient.Options{
		TLSConfig: testenv.ClientTLS(),
		UnilateralDataHandler: &imapclient.UnilateralDataHandler{
			Mailbox: func(m *imapclient.UnilateralDataMailbox) {
				if m.NumMessages != nil {
					exists <- *m.NumMessages
				}
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(bob, bobPass).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}

	// IDLE, then deliver over SMTP: the session hears EXISTS.
	idle, err := c.Idle()
	if err != nil {
		t.Fatal(err)
	}
	raw := message("ivy@example.org", bob, "idle wake", "woken by SMTP")
	deliver(t, d.Addrs["smtp"], "ivy@example.org", bob, raw)
	select {
	case n := <-exists:
		if n != 1 {
			t.Fatalf("EXISTS %d during IDLE, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("IDLE was not woken by a delivery")
	}
	if err := idle.Close(); err != nil {
		t.Fatal(err)
	}
	if err := idle.Wait(); err != nil {
		t.Fatal(err)
	}

	// Flags and SEARCH.
	uids := imap.UIDSetNum(1)
	if _, err := c.Store(uids, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Flags: []imap.Flag{imap.FlagFlagged, "$Important"}, Silent: true}, nil).Collect(); err != nil {
		t.Fatal(err)
	}
	for _, crit := range []*imap.SearchCriteria{
		{Flag: []imap.Flag{imap.FlagFlagged}},
		{Body: []string{"woken by SMTP"}},
		{Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "idle wake"}}},
	} {
		res, err := c.UIDSearch(crit, nil).Wait()
		if err != nil {
			t.Fatal(err)
		}
		if got := res.AllUIDs(); len(got) != 1 || got[0] != 1 {
			t.Errorf("UID SEARCH %+v = %v, want [1]", crit, got)
		}
	}
	res, err := c.UIDSearch(&imap.SearchCriteria{Body: []string{"not in any message"}}, nil).Wait()
	if err != nil || len(res.AllUIDs()) != 0 {
		t.Errorf("negative SEARCH: %v %v", res, err)
	}

	// MOVE to Archive keeps bytes and flags.
	if _, err := c.Move(uids, "Archive").Wait(); err != nil {
		t.Fatal(err)
	}
	_, inbox := fetchAll(t, c, "INBOX")
	if len(inbox) != 0 {
		t.Fatalf("INBOX after MOVE has %d messages", len(inbox))
	}
	_, archive := fetchAll(t, c, "Archive")
	if len(archive) != 1 {
		t.Fatalf("Archive after MOVE has %d messages", len(archive))
	}
	for _, b := range archive {
		if !bytes.Equal(stripTrace(t, b), raw) {
			t.Fatal("moved message changed")
		}
	}
	msgs, err := c.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch flags: %v", err)
	}
	if !hasFlag(msgs[0].Flags, imap.FlagFlagged) || !hasFlag(msgs[0].Flags, "$Important") {
		t.Errorf("flags after MOVE: %v", msgs[0].Flags)
	}

	// APPEND then fetch back byte for byte, with its flags and date.
	draft := message(bob, alice, "draft", "unfinished")
	date := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	ac := c.Append("Drafts", int64(len(draft)), &imap.AppendOptions{Flags: []imap.Flag{imap.FlagDraft}, Time: date})
	ac.Write(draft)
	ac.Close()
	ad, err := ac.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("Drafts", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err = c.Fetch(imap.UIDSetNum(ad.UID), &imap.FetchOptions{
		Flags: true, InternalDate: true, RFC822Size: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch appended: %v", err)
	}
	m := msgs[0]
	if !bytes.Equal(m.BodySection[0].Bytes, draft) || m.RFC822Size != int64(len(draft)) || !m.InternalDate.Equal(date) || !hasFlag(m.Flags, imap.FlagDraft) {
		t.Errorf("appended message came back as size %d date %v flags %v", m.RFC822Size, m.InternalDate, m.Flags)
	}
}

func hasFlag(flags []imap.Flag, f imap.Flag) bool {
	for _, g := range flags {
		if g == f {
			return true
		}
	}
	return false
}
