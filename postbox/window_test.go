package postbox_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
)

// TestDeliveryWindows: mail is stored in seal's v2 format, the messages of
// one window share one W record and those after the window's end get
// another, every one reads back, and the export hands out OpenPGP messages
// (which gpg opens: seal's TestWindowExportGPG) that the session opens too.
func TestDeliveryWindows(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	e := newEnvOpts(t, postbox.Options{Now: func() time.Time { return now }})
	if _, err := e.svc.CreateAccount(ctx, "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	var raws [][]byte
	for i := range 4 {
		if i == 3 {
			now = now.Add(11 * time.Minute) // past the window's life
		}
		raw := fmt.Appendf(nil, "Subject: m%d\r\n\r\nbody %d\r\n", i, i)
		raws = append(raws, raw)
		if err := e.svc.Deliver(ctx, postbox.Envelope{From: "x@y.example", Recipients: []string{"ann@example.org"}}, postbox.Bytes(raw)); err != nil {
			t.Fatal(err)
		}
	}
	sess, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	msgs := e.inbox(t, sess)
	if len(msgs) != 4 {
		t.Fatalf("%d messages", len(msgs))
	}
	var records [][]byte
	for i, m := range msgs {
		rc, err := e.blobs.Get(ctx, m.Blob)
		if err != nil {
			t.Fatal(err)
		}
		blob, _ := io.ReadAll(rc)
		rc.Close()
		if !seal.IsWindowMessage(blob) {
			t.Fatalf("message %d not stored in the v2 format", i)
		}
		records = append(records, blob[:4+int(blob[2])<<8+int(blob[3])])
		if got, err := sess.Body(ctx, m); err != nil || !bytes.Equal(got, raws[i]) {
			t.Fatalf("Body %d = %q, %v", i, got, err)
		}
	}
	if !bytes.Equal(records[0], records[1]) || !bytes.Equal(records[1], records[2]) {
		t.Error("messages of one window carry different W records")
	}
	if bytes.Equal(records[2], records[3]) {
		t.Error("a message after the window's end carries the old W record")
	}
	n := 0
	err = sess.ExportMessages(ctx, func(_ sealpost.Mailbox, m sealpost.Message, sealed []byte) error {
		if seal.IsWindowMessage(sealed) {
			return fmt.Errorf("export of UID %d is not OpenPGP", m.UID)
		}
		n++
		return nil
	})
	if err != nil || n != 4 {
		t.Fatalf("ExportMessages: %d messages, %v", n, err)
	}
}
