package seal

import (
	"bytes"
	"crypto/rand"
	"testing"
)

// TestFastCFBMatchesGoCrypto cross-checks the standard-library SEIPD v1
// decryption used by OpenCached against go-crypto's reader: same plaintext
// on every size, and every single-byte corruption of the encrypted packet
// rejected by both.
func TestFastCFBMatchesGoCrypto(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	r, err := ParseRecipient(a.gen.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	binding := []byte("blob-1")
	for _, n := range []int{0, 1, 15, 16, 17, 100, 4095, 4096, 8191, 10240, 70000} {
		msg := make([]byte, n)
		rand.Read(msg)
		var buf bytes.Buffer
		if err := r.Seal(&buf, msg); err != nil {
			t.Fatal(err)
		}
		sealed := buf.Bytes()
		plain, wrapped, err := u.Open(sealed, binding)
		if err != nil || !bytes.Equal(plain, msg) {
			t.Fatalf("size %d: Open: %v", n, err)
		}
		c, key, err := u.unwrapSessionKey(wrapped, binding)
		if err != nil {
			t.Fatal(err)
		}
		decrypt := func(sealed []byte, fast bool) ([]byte, error) {
			br := bytes.NewReader(sealed)
			_, se, err := readMessage(br)
			if err != nil {
				return nil, err
			}
			if fast {
				p, ok, err := decryptSEIPDv1(br, se, c, key)
				if !ok {
					t.Fatal("AES session key not taken by the fast path")
				}
				return p, err
			}
			return decryptData(br, se, c, key)
		}
		fastPlain, err := decrypt(sealed, true)
		if err != nil || !bytes.Equal(fastPlain, msg) {
			t.Fatalf("size %d: fast path: %v", n, err)
		}
		if n > 300 {
			continue // corruption sweep on small messages only
		}
		for i := range sealed {
			bad := bytes.Clone(sealed)
			bad[i] ^= 0x40
			fp, ferr := decrypt(bad, true)
			gp, gerr := decrypt(bad, false)
			if (ferr == nil) != (gerr == nil) {
				t.Fatalf("size %d byte %d: fast err %v, go-crypto err %v", n, i, ferr, gerr)
			}
			if ferr == nil && !bytes.Equal(fp, gp) {
				t.Fatalf("size %d byte %d: paths disagree", n, i)
			}
		}
	}
}
