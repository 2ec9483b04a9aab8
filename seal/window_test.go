package seal

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

func newWindow(t testing.TB, r *Recipient) *Window {
	t.Helper()
	wd, err := r.NewWindow()
	if err != nil {
		t.Fatalf("NewWindow: %v", err)
	}
	return wd
}

func windowSeal(t testing.TB, wd *Window, plaintext []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	n, err := wd.SealFrom(&buf, bytes.NewReader(plaintext))
	if err != nil || n != int64(len(plaintext)) {
		t.Fatalf("SealFrom: %d, %v; want %d", n, err, len(plaintext))
	}
	return buf.Bytes()
}

// TestWindowRoundTrip seals sizes around the chunk boundaries and opens each
// with Open (one window, so one public-key operation) and OpenCached.
func TestWindowRoundTrip(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	wd := newWindow(t, a.rcpt)
	for _, n := range []int{0, 1, 100, windowChunk - 1, windowChunk, windowChunk + 1, 2 * windowChunk, 3*windowChunk + 17} {
		msg := make([]byte, n)
		rand.Read(msg)
		sealed := windowSeal(t, wd, msg)
		if !IsWindowMessage(sealed) {
			t.Fatalf("%d bytes: not a window message", n)
		}
		got, wrapped, err := u.Open(sealed, []byte("ref"))
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: Open: %v (equal %v)", n, err, bytes.Equal(got, msg))
		}
		got, err = u.OpenCached(sealed, wrapped, []byte("ref"))
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("%d bytes: OpenCached: %v", n, err)
		}
		_, err = u.OpenCached(sealed, wrapped, []byte("other ref"))
		wantKind(t, "OpenCached with another binding", err, errors.Permission)
	}
	if len(u.windows.m) != 1 {
		t.Errorf("%d windows remembered, want 1 (one W for all messages)", len(u.windows.m))
	}
	// A second window is a second W.
	wd2 := newWindow(t, a.rcpt)
	if _, _, err := u.Open(windowSeal(t, wd2, []byte("x")), nil); err != nil {
		t.Fatal(err)
	}
	if len(u.windows.m) != 2 {
		t.Errorf("%d windows remembered, want 2", len(u.windows.m))
	}
	// Another account cannot open it; a wiped window does not seal.
	b := newTestAccount(t, "pw2")
	_, _, err := b.gen.Unlocked.Open(windowSeal(t, wd, []byte("secret")), nil)
	wantKind(t, "Open by another account", err, errors.Sealed)
	wd.Wipe()
	_, err = wd.SealFrom(&bytes.Buffer{}, bytes.NewReader([]byte("x")))
	wantKind(t, "SealFrom after Wipe", err, errors.Sealed)
}

// TestWindowOldFormat: OpenPGP messages stored before v2 still open beside
// v2 ones, through both paths.
func TestWindowOldFormat(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	msg := []byte("Subject: old\r\n\r\nstored as OpenPGP\r\n")
	old := sealBytes(t, a.rcpt, msg)
	if IsWindowMessage(old) {
		t.Fatal("an OpenPGP message taken for a window message")
	}
	got, wrapped, err := u.Open(old, []byte("r"))
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("Open of OpenPGP: %v", err)
	}
	if got, err := u.OpenCached(old, wrapped, []byte("r")); err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("OpenCached of OpenPGP: %v", err)
	}
	if exp, err := u.ExportMessage(old, wrapped, []byte("r")); err != nil || !bytes.Equal(exp, old) {
		t.Fatalf("ExportMessage of OpenPGP changed it or failed: %v", err)
	}
}

// TestWindowTamper: every single-byte change, every truncation, a dropped
// or reordered chunk, and a spliced W record fail to open, through both
// Open and OpenCached.
func TestWindowTamper(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	wd := newWindow(t, a.rcpt)
	small := windowSeal(t, wd, []byte("Subject: x\r\n\r\nbody\r\n"))
	plain, wrapped, err := u.Open(small, nil)
	if err != nil {
		t.Fatal(err)
	}
	srec, _, _, _ := windowParts(small)
	for i := range small {
		bad := bytes.Clone(small)
		bad[i] ^= 0x01
		got, _, err := u.Open(bad, nil)
		// Inside the W record, a change go-crypto's PKESK parser ignores
		// (an MPI's bit count) still yields W; the plaintext must then be
		// the same. Anywhere else (salt, chunks) nothing opens.
		inRecord := i >= 4 && i < 4+len(srec)
		if err == nil && (!inRecord || !bytes.Equal(got, plain)) {
			t.Fatalf("Open accepted a change at byte %d", i)
		}
		if _, err := u.OpenCached(bad, wrapped, nil); err == nil && i >= 4+len(srec) {
			t.Fatalf("OpenCached accepted a change at byte %d", i)
		}
	}
	for n := range len(small) {
		if _, _, err := u.Open(small[:n], nil); err == nil {
			t.Fatalf("Open accepted the message cut to %d bytes", n)
		}
	}
	if _, _, err := u.Open(append(bytes.Clone(small), 0), nil); err == nil {
		t.Fatal("Open accepted a trailing byte")
	}
	msg := make([]byte, 2*windowChunk+10)
	rand.Read(msg)
	big := windowSeal(t, wd, msg)
	_, _, _, err = windowParts(big)
	if err != nil {
		t.Fatal(err)
	}
	rec, _, chunks, _ := windowParts(big)
	hdr := big[:len(big)-len(chunks)]
	full := windowChunk + gcmTag
	c0, c1, c2 := chunks[:full], chunks[full:2*full], chunks[2*full:]
	cases := map[string][]byte{
		"last chunk dropped":  cat(hdr, c0, c1),
		"chunks reordered":    cat(hdr, c1, c0, c2),
		"middle chunk copied": cat(hdr, c0, c0, c2),
	}
	for name, bad := range cases {
		if _, _, err := u.Open(bad, nil); err == nil {
			t.Errorf("Open accepted: %s", name)
		}
	}
	// Another window's W record on this message's chunks.
	other := windowSeal(t, newWindow(t, a.rcpt), []byte("y"))
	orec, _, _, _ := windowParts(other)
	if len(orec) == len(rec) {
		spliced := cat(big[:4], orec, big[4+len(rec):])
		if _, _, err := u.Open(spliced, nil); err == nil {
			t.Error("Open accepted another window's W record")
		}
	}
}

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// TestWindowExportGPG: what ExportMessage makes of a v2 message, gpg
// decrypts with the exported private key.
func TestWindowExportGPG(t *testing.T) {
	a, h, loopback := gpgWithKey(t)
	u := a.gen.Unlocked
	msg := make([]byte, windowChunk+300)
	rand.Read(msg)
	sealed := windowSeal(t, newWindow(t, a.rcpt), msg)
	for _, cached := range []bool{false, true} {
		var wrapped []byte
		if cached {
			_, wrapped, _ = u.Open(sealed, []byte("ref"))
		}
		out, err := u.ExportMessage(sealed, wrapped, []byte("ref"))
		if err != nil {
			t.Fatal(err)
		}
		if IsWindowMessage(out) {
			t.Fatal("export is still a window message")
		}
		got := h.run(nil, append(loopback, "--decrypt", h.write("msg.gpg", out))...)
		if !bytes.Equal(got, msg) {
			t.Fatalf("gpg decrypted %d bytes, want the %d sealed", len(got), len(msg))
		}
	}
}
