package seal

import (
	"bytes"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// TestFilterKey wraps F to two keys, opens each wrap with its own key only,
// and seals objects that open only under the same key and binding.
func TestFilterKey(t *testing.T) {
	owner := newTestAccount(t, "pw")
	deploy := newTestAccount(t, "other")
	k, err := NewFilterKey()
	if err != nil {
		t.Fatal(err)
	}
	toOwner, err := k.WrapTo(owner.rcpt)
	if err != nil {
		t.Fatal(err)
	}
	toDeploy, err := k.WrapTo(deploy.rcpt)
	if err != nil {
		t.Fatal(err)
	}
	k1, err := OpenFilterKey(owner.gen.Unlocked, toOwner)
	if err != nil || !k1.Equal(k) {
		t.Fatalf("owner's wrap: %v", err)
	}
	k2, err := OpenFilterKey(deploy.gen.Unlocked, toDeploy)
	if err != nil || !k2.Equal(k) {
		t.Fatalf("deployment wrap: %v", err)
	}
	_, err = OpenFilterKey(owner.gen.Unlocked, toDeploy)
	wantKind(t, "owner opening the deployment's wrap", err, errors.Sealed)

	plain := []byte("require \"fileinto\"; if header :contains \"subject\" \"zebra-marker\" { fileinto \"Zoo\"; }")
	bind := []byte("alice@demo.example\x00sieve-script")
	sealed, err := k.SealObject(bind, plain)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("zebra-marker")) {
		t.Fatal("sealed object holds its plaintext")
	}
	got, err := k2.OpenObject(bind, sealed)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("OpenObject: %v", err)
	}
	_, err = k.OpenObject([]byte("bob@demo.example\x00sieve-script"), sealed)
	wantKind(t, "another binding", err, errors.Invalid)
	other, _ := NewFilterKey()
	_, err = other.OpenObject(bind, sealed)
	wantKind(t, "another key", err, errors.Invalid)
	sealed[len(sealed)-1] ^= 1
	_, err = k.OpenObject(bind, sealed)
	wantKind(t, "tampered", err, errors.Invalid)
	_, err = k.OpenObject(bind, []byte{filterRecordType})
	wantKind(t, "short", err, errors.Invalid)

	if k.Derive("junk") == k.Derive("vacation") || k.Derive("junk") != k1.Derive("junk") {
		t.Error("Derive: purposes not independent or not deterministic")
	}
	if k.Derive("junk") == other.Derive("junk") {
		t.Error("Derive: two keys derive the same")
	}
}
