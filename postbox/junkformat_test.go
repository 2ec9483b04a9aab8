package postbox_test

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost/junk"
	"github.com/sealpost/sealpost/postbox"
)

// format1Model encodes, as the classifier wrote models before SipHash
// (format 1: HMAC-SHA256(key, token) cut to 64 bits, see junk/codec.go),
// a model trained on the given ham and spam messages. It is written here
// from the format's description, independently of package junk's encoder.
func format1Model(k junk.Key, ham, spam [][]byte) []byte {
	type cnt struct{ ham, spam uint64 }
	counts := map[uint64]*cnt{}
	count := func(msg []byte, isSpam bool) {
		for _, tok := range junk.Tokenize(msg) {
			mac := hmac.New(sha256.New, k[:])
			mac.Write([]byte(tok))
			h := binary.BigEndian.Uint64(mac.Sum(nil))
			c := counts[h]
			if c == nil {
				c = &cnt{}
				counts[h] = c
			}
			if isSpam {
				c.spam++
			} else {
				c.ham++
			}
		}
	}
	for _, m := range ham {
		count(m, false)
	}
	for _, m := range spam {
		count(m, true)
	}
	hs := make([]uint64, 0, len(counts))
	for h := range counts {
		hs = append(hs, h)
	}
	slices.SortFunc(hs, cmp.Compare)
	b := []byte("SPJK\x01\x01") // format 1, tokenizer version 1
	b = binary.AppendUvarint(b, uint64(len(ham)))
	b = binary.AppendUvarint(b, uint64(len(spam)))
	b = binary.AppendVarint(b, time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC).Unix())
	b = binary.AppendUvarint(b, uint64(len(hs)))
	var prev uint64
	for _, h := range hs {
		b = binary.AppendUvarint(b, h-prev)
		b = binary.AppendUvarint(b, counts[h].ham)
		b = binary.AppendUvarint(b, counts[h].spam)
		prev = h
	}
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
}

// TestFormat1ModelKept: an account's model stored before SipHash (format
// 1, HMAC-SHA256 hashes) is loaded at delivery and scores as trained (a
// spam goes to Junk, a ham stays in INBOX: hashed the new way the model
// would know no token and judge nothing), shows its counts on the
// owner's page, and the owner's further training adds to it, keeping it
// format 1 and HMAC-SHA256, so no training is lost.
func TestFormat1ModelKept(t *testing.T) {
	ctx := context.Background()
	e, ss, _ := filterEnv(t)
	jk, plain, err := ss.JunkModelForTest(ctx)
	if err != nil || plain != nil {
		t.Fatalf("a model before training (%v)", err)
	}
	var ham, spam [][]byte
	for i := range 25 {
		ham = append(ham, fmt.Appendf(nil, "Subject: the quarterly report %d\r\n\r\nthe quarterly numbers for the budget meeting %d\r\n", i, i))
		spam = append(spam, fmt.Appendf(nil, "Subject: cheap casino bonus %d\r\n\r\nwin the casino lottery prize now %d\r\n", i, i))
	}
	if err := ss.PutJunkModelForTest(ctx, format1Model(jk, ham, spam)); err != nil {
		t.Fatal(err)
	}
	st, err := e.svc.FilterStatus(ctx, "ann@example.org")
	if err != nil || st.Ham != 25 || st.Spam != 25 {
		t.Fatalf("owner's page: ham %d spam %d (%v), want 25 and 25", st.Ham, st.Spam, err)
	}
	deliver := func(subject, body string) {
		t.Helper()
		raw := []byte("From: <x@y.example>\r\nTo: <ann@example.org>\r\nSubject: " + subject + "\r\n\r\n" + body + "\r\n")
		env := postbox.Envelope{From: "x@y.example", Recipients: []string{"ann@example.org"}, Client: netip.MustParseAddr("192.0.2.1")}
		if err := e.svc.Deliver(ctx, env, postbox.Bytes(raw)); err != nil {
			t.Fatal(err)
		}
	}
	deliver("cheap casino bonus", "win the casino lottery prize now")
	deliver("the quarterly report", "the quarterly numbers for the budget meeting")
	if j, in := len(boxOf(t, ss, "Junk")), len(boxOf(t, ss, "INBOX")); j != 1 || in != 1 {
		t.Fatalf("with the format 1 model: Junk %d, INBOX %d, want 1 and 1", j, in)
	}

	// Training on: the ham in INBOX, taught as ham.
	inbox, err := ss.Mailbox(ctx, "INBOX")
	if err != nil {
		t.Fatal(err)
	}
	if err := ss.Learn(ctx, inbox, boxOf(t, ss, "INBOX"), false); err != nil {
		t.Fatal(err)
	}
	_, plain, err = ss.JunkModelForTest(ctx)
	if err != nil || len(plain) < 6 || plain[4] != 1 {
		t.Fatalf("after training, the stored model is not format 1 (%v)", err)
	}
	var m junk.Model
	if err := m.UnmarshalBinary(plain); err != nil {
		t.Fatal(err)
	}
	if s := m.Stats(); s.Ham != 26 || s.Spam != 25 {
		t.Fatalf("after training: %+v, want 26 ham and 25 spam", s)
	}
	// The new lesson went in under HMAC-SHA256: the model scores a
	// message of the old spam's words as spam, and what the owner just
	// taught as ham as ham.
	if p := m.Score(jk, spam[0]); p < 0.9 {
		t.Errorf("old spam scores %.3f", p)
	}
	if p := m.Score(jk, ham[0]); p > 0.1 {
		t.Errorf("old ham scores %.3f", p)
	}
	deliver("cheap casino bonus again", "win the casino lottery prize now")
	if j := len(boxOf(t, ss, "Junk")); j != 2 {
		t.Errorf("after training, Junk %d, want 2", j)
	}
}
