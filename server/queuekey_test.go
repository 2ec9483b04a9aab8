package server

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
)

// What the queue key seals, the unlocked deployment key opens; without the
// passphrase file nothing opens.
func TestQueueKeyRoundTrip(t *testing.T) {
	dir := t.TempDir()
	r, err := queueKey(dir, pwhash.TestParams)
	if err != nil {
		t.Fatal(err)
	}
	var sealed bytes.Buffer
	if err := r.Seal(&sealed, []byte("a queued message")); err != nil {
		t.Fatal(err)
	}
	again, err := queueKey(dir, pwhash.TestParams)
	if err != nil || again.Fingerprint() != r.Fingerprint() {
		t.Fatalf("queueKey made a new key the second time: %v", err)
	}
	u, err := openQueueKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer u.Wipe()
	plain, err := OpenSealed(u, sealed.Bytes())
	if err != nil || string(plain) != "a queued message" {
		t.Fatalf("OpenSealed = %q, %v", plain, err)
	}
	os.Remove(filepath.Join(dir, "queue-key.passphrase"))
	if _, err := openQueueKey(dir); !errors.Is(errors.Unavailable, err) {
		t.Fatalf("openQueueKey without the passphrase: %v", err)
	}
}
