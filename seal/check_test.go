package seal

import (
	"bytes"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// TestCheckSealed: both at-rest formats pass without a key; zeros, a
// truncated header, plaintext and another file's bytes do not.
func TestCheckSealed(t *testing.T) {
	a := newTestAccount(t, "pw")
	window := windowSeal(t, newWindow(t, a.rcpt), []byte("Subject: hi\r\n\r\nhello\r\n"))
	var pgp bytes.Buffer
	if err := a.rcpt.Seal(&pgp, []byte("Subject: hi\r\n\r\nhello\r\n")); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{"window": window, "openpgp": pgp.Bytes()} {
		if err := CheckSealed(b, false); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	bad := map[string][]byte{
		"zeros":            make([]byte, 4096),
		"empty":            nil,
		"plaintext":        []byte("Subject: hi\r\n\r\nhello\r\n"),
		"window truncated": window[:20],
		"window no tag":    window[:len(window)-len(window)+4+int(window[2])<<8+int(window[3])+windowSaltLen],
		"openpgp cut":      pgp.Bytes()[:10],
		"sqlite":           []byte("SQLite format 3\x00" + string(make([]byte, 100))),
	}
	for name, b := range bad {
		if err := CheckSealed(b, false); !errors.Is(errors.Invalid, err) {
			t.Errorf("%s: CheckSealed = %v, want Invalid", name, err)
		}
	}
	mime := []byte("From: a@b\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=x\r\n\r\n--x\r\n")
	if err := CheckSealed(mime, true); err != nil {
		t.Errorf("PGP/MIME: %v", err)
	}
	if err := CheckSealed([]byte("From: a@b\r\n\r\nmultipart/encrypted in the body only\r\n"), true); err == nil {
		t.Error("a plain message passed as PGP/MIME")
	}
}
