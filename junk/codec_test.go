package junk

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"math"
	"os"
	"slices"
	"testing"

	"github.com/sealpost/sealpost/errors"
)

// testdata/model-format1.bin is a model written by the code before
// SipHash (format 1, HMAC-SHA256 hashes): trained(Key{4}, 30), training
// time 2026-12-01. format1Scores are the scores that code gave, bit for
// bit, with it.
var format1Scores = []struct {
	msg  string
	bits uint64
}{
	{string(hamMsg(99)), 0x0000000000000000},
	{string(spamMsg(99)), 0x3ff0000000000000},
	{string(pad10K(hamMsg(98))), 0x0000000000000000},
	{"Subject: lottery winnings\r\n\r\nclaim your casino bonus now\r\n", 0x3feffffffbfa7b23},
	{"Subject: patch review\r\n\r\nclaim the casino parser meeting bonus\r\n", 0x3fdf9396b466d37f},
	{"Subject: lunch\r\n\r\nfree prize at the standup, limited offer\r\n", 0x3fe01a938d445306},
	{"Subject: the release\r\n\r\nwork from home on the design review\r\n", 0x3fdf80209380abb6},
}

// TestFormat1 reads a model the code before SipHash wrote: it decodes as
// an HMAC-SHA256 model, scores as it did, re-encodes to the same bytes
// (still format 1), and trains on with HMAC-SHA256.
func TestFormat1(t *testing.T) {
	k := Key{4}
	old, err := os.ReadFile("testdata/model-format1.bin")
	if err != nil {
		t.Fatal(err)
	}
	if old[4] != format1 {
		t.Fatalf("format %d", old[4])
	}
	var m Model
	if err := m.UnmarshalBinary(old); err != nil {
		t.Fatal(err)
	}
	if m.hash != hashHMAC {
		t.Fatalf("format 1 decoded with hash %d, want HMAC", m.hash)
	}
	for i, c := range format1Scores {
		if p := m.Score(k, []byte(c.msg)); math.Float64bits(p) != c.bits {
			t.Errorf("message %d: score %016x, want %016x", i, math.Float64bits(p), c.bits)
		}
	}
	again, _ := m.MarshalBinary()
	if !bytes.Equal(again, old) {
		t.Error("a format 1 model re-encodes differently")
	}
	// Trained on, it keeps HMAC: the new message's tokens are counted
	// under their HMAC hashes, next to the old ones.
	m.Train(k, []byte("Subject: x\r\n\r\nzanzibarmarker\r\n"), true)
	if c, _ := m.tokens.get(newHasher(k, hashHMAC).hash([]byte("zanzibarmarker"))); c.spam != 1 {
		t.Errorf("trained HMAC model: marker counts %+v", c)
	}
	b, _ := m.MarshalBinary()
	var m2 Model
	if err := m2.UnmarshalBinary(b); err != nil || b[4] != format1 || m2.hash != hashHMAC {
		t.Fatalf("trained HMAC model re-read: format %d, hash %d, %v", b[4], m2.hash, err)
	}
	if st := m2.Stats(); st.Ham != 30 || st.Spam != 31 {
		t.Errorf("stats %+v", st)
	}
}

// TestFormat2 round-trips a new (SipHash) model: format 2 with its hash
// id, the same scores, the same bytes again; and a format 2 model naming
// HMAC decodes as one.
func TestFormat2(t *testing.T) {
	k := Key{4}
	m := trained(k, 30)
	if m.hash != hashSipHash {
		t.Fatal("a new model does not use SipHash")
	}
	b, _ := m.MarshalBinary()
	if b[4] != format2 || b[6] != hashIDSipHash {
		t.Fatalf("new model written as format %d, hash id %d", b[4], b[6])
	}
	var m2 Model
	if err := m2.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if m2.hash != hashSipHash {
		t.Fatalf("hash %d after round trip", m2.hash)
	}
	for i, c := range format1Scores {
		if p1, p2 := m.Score(k, []byte(c.msg)), m2.Score(k, []byte(c.msg)); p1 != p2 {
			t.Errorf("message %d: score %v after round trip, want %v", i, p2, p1)
		}
	}
	if b2, _ := m2.MarshalBinary(); !bytes.Equal(b, b2) {
		t.Error("re-encoding differs")
	}
	// The same training under the two hashes gives the same counts under
	// other numbers, and (no pruning, no collision) the same scores.
	old, _ := os.ReadFile("testdata/model-format1.bin")
	var h Model
	if err := h.UnmarshalBinary(old); err != nil {
		t.Fatal(err)
	}
	if h.tokens.len() != m.tokens.len() {
		t.Errorf("%d tokens under SipHash, %d under HMAC", m.tokens.len(), h.tokens.len())
	}
	for i, c := range format1Scores {
		if p := m.Score(k, []byte(c.msg)); math.Float64bits(p) != c.bits {
			t.Errorf("message %d: SipHash model scores %016x, HMAC model %016x", i, math.Float64bits(p), c.bits)
		}
	}
	// Format 2 naming HMAC (not written today, but the byte says so).
	hb := withHashID(old, hashIDHMAC)
	var h2 Model
	if err := h2.UnmarshalBinary(hb); err != nil {
		t.Fatal(err)
	}
	if h2.hash != hashHMAC || h2.tokens.len() != h.tokens.len() {
		t.Errorf("format 2 HMAC: hash %d, %d tokens", h2.hash, h2.tokens.len())
	}
	if hb2, _ := h2.MarshalBinary(); !bytes.Equal(hb2, old) {
		t.Error("an HMAC model is not written as format 1")
	}
	// Unknown hash ids and formats are refused.
	for _, id := range []byte{0, 3, 0xff} {
		if err := new(Model).UnmarshalBinary(withHashID(old, id)); errors.KindOf(err) != errors.Invalid {
			t.Errorf("hash id %d: err %v, want invalid", id, err)
		}
	}
	for _, f := range []byte{0, 3, 0xff} {
		bad := slices.Clone(b[:len(b)-4])
		bad[4] = f
		if err := new(Model).UnmarshalBinary(resum(bad)); errors.KindOf(err) != errors.Invalid {
			t.Errorf("format %d: err %v, want invalid", f, err)
		}
	}
	// Format 2 cut right after its header, with a valid checksum.
	if err := new(Model).UnmarshalBinary(resum([]byte{'S', 'P', 'J', 'K', format2, tokenizerVersion})); errors.KindOf(err) != errors.Invalid {
		t.Errorf("format 2 without hash id: err %v", err)
	}
}

// withHashID rewrites format 1 data as format 2 with the given hash id.
func withHashID(f1 []byte, id byte) []byte {
	b := append([]byte{}, f1[:6]...)
	b[4] = format2
	b = append(b, id)
	b = append(b, f1[6:len(f1)-4]...)
	return resum(b)
}

// resum appends body's checksum.
func resum(body []byte) []byte {
	return binary.BigEndian.AppendUint32(body, crc32.Checksum(body, castagnoli))
}

// FuzzUnmarshalBinary feeds corrupt and hostile serialized models to
// UnmarshalBinary: it must not panic, and either refuse them with
// errors.Invalid or give a model that re-encodes stably (encoding what it
// decoded and decoding that again gives the same bytes, hash and stats)
// and can score and train. Each input is tried as it is and with its
// checksum made right, so that mutations reach past the CRC. Seeds
// (models of both formats and both hashes, and broken ones) are in
// testdata/fuzz/FuzzUnmarshalBinary.
func FuzzUnmarshalBinary(f *testing.F) {
	var empty Model
	eb, _ := empty.MarshalBinary()
	f.Add(eb)
	if old, err := os.ReadFile("testdata/model-format1.bin"); err == nil {
		f.Add(old)
		f.Add(withHashID(old, hashIDHMAC))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkDecode(t, data)
		if len(data) >= 4 {
			checkDecode(t, resum(slices.Clone(data[:len(data)-4])))
		}
	})
}

// checkDecode is FuzzUnmarshalBinary's check of one input.
func checkDecode(t *testing.T, data []byte) {
	var m Model
	if err := m.UnmarshalBinary(data); err != nil {
		if errors.KindOf(err) != errors.Invalid {
			t.Fatalf("err %v, want invalid", err)
		}
		return
	}
	b, err := m.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	var m2 Model
	if err := m2.UnmarshalBinary(b); err != nil {
		t.Fatalf("re-encoded model refused: %v", err)
	}
	b2, _ := m2.MarshalBinary()
	if !bytes.Equal(b, b2) || m2.hash != m.hash || m2.Stats() != m.Stats() {
		t.Fatalf("unstable: hash %d/%d, stats %+v/%+v", m.hash, m2.hash, m.Stats(), m2.Stats())
	}
	if wantFormat := map[tokenHash]byte{hashHMAC: format1, hashSipHash: format2}[m.hash]; b[4] != wantFormat {
		t.Fatalf("hash %d written as format %d", m.hash, b[4])
	}
	msg := spamMsg(1)
	if p := m.Score(Key{}, msg); p < 0 || p > 1 || math.IsNaN(p) {
		t.Fatalf("score %v", p)
	}
	m.Train(Key{}, msg, true)
}

// TestUnmarshalWhileScoring: a model replaced by UnmarshalBinary, now of
// one token hash and now of the other, while others score and train it
// (run with -race): each Score and Train hashes under the hash of the
// counts it reads, so a message of the trained spam's words scores as
// spam whichever model it meets.
func TestUnmarshalWhileScoring(t *testing.T) {
	k := Key{4}
	f1, err := os.ReadFile("testdata/model-format1.bin")
	if err != nil {
		t.Fatal(err)
	}
	f2, _ := trained(k, 30).MarshalBinary()
	var m Model
	if err := m.UnmarshalBinary(f2); err != nil {
		t.Fatal(err)
	}
	spam := spamMsg(99)
	done := make(chan bool)
	go func() {
		for i := range 200 {
			if err := m.UnmarshalBinary([][]byte{f1, f2}[i%2]); err != nil {
				t.Error(err)
			}
		}
		close(done)
	}()
	for n := 0; ; n++ {
		select {
		case <-done:
			return
		default:
		}
		if p := m.Score(k, spam); p < 0.99 {
			t.Fatalf("score %v during replacements", p)
		}
		if n%8 == 0 {
			m.Train(k, spam, true)
		}
	}
}
