package seal

import (
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/ProtonMail/go-crypto/openpgp/armor"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/sealpost/sealpost/errors"
)

var testTime = time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)

func newEntity(priv []byte) (*openpgp.Entity, error) {
	el, err := openpgp.ReadKeyRing(bytes.NewReader(priv))
	if err != nil {
		return nil, err
	}
	return el[0], nil
}

func publicOf(t *testing.T, e *openpgp.Entity, armored bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := e.Serialize(&buf); err != nil {
		t.Fatal(err)
	}
	if !armored {
		return buf.Bytes()
	}
	a, err := ArmorPublicKey(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// decryptWith decrypts a sealed message with go-crypto's full message
// reader, independently of Open.
func decryptWith(t *testing.T, e *openpgp.Entity, sealed []byte) []byte {
	t.Helper()
	md, err := openpgp.ReadMessage(bytes.NewReader(sealed), openpgp.EntityList{e}, nil, nil)
	if err != nil {
		t.Fatalf("ReadMessage: %v", err)
	}
	got, err := io.ReadAll(md.UnverifiedBody)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	if md.IsSigned || md.IsSymmetricallyEncrypted || !md.IsEncrypted {
		t.Errorf("message: signed %v, symmetric %v, encrypted %v", md.IsSigned, md.IsSymmetricallyEncrypted, md.IsEncrypted)
	}
	return got
}

// TestOwnKeys seals to user-supplied keys of the kinds ParseRecipient
// accepts and decrypts with go-crypto's message reader.
func TestOwnKeys(t *testing.T) {
	tests := []struct {
		name string
		cfg  *packet.Config
	}{
		{"rsa2048", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 2048}},
		{"ed25519-cv25519", &packet.Config{Algorithm: packet.PubKeyAlgoEdDSA, Curve: packet.Curve25519}},
		{"ed25519-x25519", &packet.Config{Algorithm: packet.PubKeyAlgoEd25519}},
		{"p256", &packet.Config{Algorithm: packet.PubKeyAlgoECDSA, Curve: packet.CurveNistP256}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := openpgp.NewEntity("Bob", "", "bob@elsewhere.example", tt.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, armored := range []bool{false, true} {
				r, err := ParseRecipient(publicOf(t, e, armored))
				if err != nil {
					t.Fatalf("ParseRecipient (armored %v): %v", armored, err)
				}
				msg := []byte("Subject: hi\r\n\r\nfor bob\r\n")
				sealed := sealBytes(t, r, msg)
				if len(sealed) > r.SealedSizeHint(len(msg)) {
					t.Errorf("sealed %d bytes > hint %d", len(sealed), r.SealedSizeHint(len(msg)))
				}
				if got := decryptWith(t, e, sealed); !bytes.Equal(got, msg) {
					t.Errorf("decrypted %q, want %q", got, msg)
				}
			}
		})
	}
}

func TestParseRecipientRejects(t *testing.T) {
	small, err := openpgp.NewEntity("", "", "small@x.example", &packet.Config{Algorithm: packet.PubKeyAlgoRSA, RSABits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	a := newTestAccount(t, "pw")
	b := newTestAccount(t, "pw")
	signOnly, err := newEntity(a.gen.Unlocked.priv)
	if err != nil {
		t.Fatal(err)
	}
	signOnly.Subkeys = nil
	var priv bytes.Buffer
	if err := small.SerializePrivate(&priv, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		in   []byte
		kind errors.Kind
	}{
		{"empty", nil, errors.Invalid},
		{"garbage", []byte("not a key"), errors.Invalid},
		{"bad armor", []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nAAAA\n-----END PGP PUBLIC KEY BLOCK-----\n"), errors.Invalid},
		{"rsa1024", publicOf(t, small, false), errors.Invalid},
		{"private key", priv.Bytes(), errors.Invalid},
		{"two keys", append(bytes.Clone(a.gen.PublicKey), b.gen.PublicKey...), errors.Invalid},
		{"no encryption key", publicOf(t, signOnly, false), errors.Invalid},
		{"huge", make([]byte, maxPublicKey+1), errors.TooLarge},
	}
	for _, tt := range tests {
		_, err := ParseRecipient(tt.in)
		wantKind(t, tt.name, err, tt.kind)
	}
}

func TestArmorPublicKey(t *testing.T) {
	a := newTestAccount(t, "pw")
	armored, err := ArmorPublicKey(a.gen.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(armored, []byte("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")) {
		t.Fatalf("armor starts %q", armored[:40])
	}
	blk, err := armor.Decode(bytes.NewReader(armored))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(blk.Body)
	if !bytes.Equal(body, a.gen.PublicKey) {
		t.Error("armored key does not decode to the public key")
	}
	// Armored input is accepted and re-armored.
	again, err := ArmorPublicKey(armored)
	if err != nil || !bytes.Equal(again, armored) {
		t.Errorf("re-armoring: %v", err)
	}
	_, err = ArmorPublicKey(a.gen.Unlocked.priv)
	wantKind(t, "armoring a private key", err, errors.Invalid)
}

func TestExportPrivateKey(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	out, err := u.ExportPrivateKey("export passphrase")
	if err != nil {
		t.Fatal(err)
	}
	el, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(out))
	if err != nil || len(el) != 1 {
		t.Fatalf("reading export: %v", err)
	}
	e := el[0]
	if !e.PrivateKey.Encrypted || !e.Subkeys[0].PrivateKey.Encrypted {
		t.Fatal("exported key is not passphrase-protected")
	}
	if err := e.DecryptPrivateKeys([]byte("wrong")); err == nil {
		t.Fatal("wrong passphrase decrypted the export")
	}
	if err := e.DecryptPrivateKeys([]byte("export passphrase")); err != nil {
		t.Fatalf("decrypting export: %v", err)
	}
	msg := []byte("readable after export")
	if got := decryptWith(t, e, sealBytes(t, a.rcpt, msg)); !bytes.Equal(got, msg) {
		t.Errorf("decrypted %q", got)
	}
	// Exporting left u's own key usable.
	if _, _, err := u.Open(sealBytes(t, a.rcpt, msg), nil); err != nil {
		t.Errorf("Open after export: %v", err)
	}
	_, err = u.ExportPrivateKey("")
	wantKind(t, "empty passphrase", err, errors.Invalid)
}

// TestOpenForeign opens messages written by go-crypto's own encrypter.
func TestOpenForeign(t *testing.T) {
	a := newTestAccount(t, "pw")
	u := a.gen.Unlocked
	e, err := newEntity(a.gen.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	e2, err := newEntity(u.priv) // with the private key, for the control
	if err != nil {
		t.Fatal(err)
	}
	encrypt := func(cfg *packet.Config) []byte {
		var buf bytes.Buffer
		w, err := openpgp.Encrypt(&buf, openpgp.EntityList{e}, nil, &openpgp.FileHints{IsBinary: true}, cfg)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "foreign")
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	got, _, err := u.Open(encrypt(&packet.Config{DefaultCipher: packet.CipherAES128}), nil)
	if err != nil || string(got) != "foreign" {
		t.Errorf("AES-128 message: %q, %v", got, err)
	}
	// Compressed data is not something Seal writes; it is refused.
	var buf bytes.Buffer
	key := make([]byte, 32)
	if err := packet.SerializeEncryptedKeyAEAD(&buf, e.Subkeys[0].PublicKey, packet.CipherAES256, false, key, nil); err != nil {
		t.Fatal(err)
	}
	seipd, err := packet.SerializeSymmetricallyEncrypted(&buf, packet.CipherAES256, false, packet.CipherSuite{}, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	z, err := packet.SerializeCompressed(seipd, packet.CompressionZLIB, nil)
	if err != nil {
		t.Fatal(err)
	}
	lit, err := packet.SerializeLiteral(z, true, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(lit, "compressed")
	if err := lit.Close(); err != nil {
		t.Fatal(err)
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	if got := decryptWith(t, e2, buf.Bytes()); string(got) != "compressed" {
		t.Fatalf("control: go-crypto reads %q", got)
	}
	_, _, err = u.Open(buf.Bytes(), nil)
	wantKind(t, "compressed message", err, errors.Invalid)
}

func TestSealPGPMIME(t *testing.T) {
	a := newTestAccount(t, "pw")
	raw := []byte("From: carol@x.example\r\nTo: alice@demo.example\r\nSubject: Secret plans\r\n\r\nThe body.\r\n")
	var out bytes.Buffer
	if err := SealPGPMIME(&out, a.rcpt, raw, "Carol <carol@x.example>", testAddr, testTime); err != nil {
		t.Fatal(err)
	}
	b := out.Bytes()
	if bytes.Contains(b, []byte("Secret plans")) {
		t.Error("real subject leaked")
	}
	if bytes.Contains(bytes.ReplaceAll(b, []byte("\r\n"), nil), []byte("\n")) {
		t.Error("bare LF in output")
	}
	m, err := mail.ReadMessage(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"From":         "Carol <carol@x.example>",
		"To":           testAddr,
		"Subject":      "...",
		"MIME-Version": "1.0",
		"Date":         "Fri, 14 Mar 2025 15:09:26 +0000",
	} {
		if got := m.Header.Get(k); got != want {
			t.Errorf("%s: %q, want %q", k, got, want)
		}
	}
	if id := m.Header.Get("Message-ID"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@x.example>") {
		t.Errorf("Message-ID %q", id)
	}
	var names []string
	for k := range m.Header {
		names = append(names, k)
	}
	if len(names) != 7 {
		t.Errorf("outer headers %v, want exactly 7", names)
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/encrypted" || params["protocol"] != "application/pgp-encrypted" {
		t.Fatalf("Content-Type %q: %v", m.Header.Get("Content-Type"), err)
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	p1, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if ct := p1.Header.Get("Content-Type"); ct != "application/pgp-encrypted" {
		t.Errorf("part 1 type %q", ct)
	}
	if body, _ := io.ReadAll(p1); strings.TrimSpace(string(body)) != "Version: 1" {
		t.Errorf("part 1 body %q", body)
	}
	p2, err := mr.NextPart()
	if err != nil {
		t.Fatal(err)
	}
	if ct, _, _ := mime.ParseMediaType(p2.Header.Get("Content-Type")); ct != "application/octet-stream" {
		t.Errorf("part 2 type %q", ct)
	}
	blk, err := armor.Decode(p2)
	if err != nil || blk.Type != "PGP MESSAGE" {
		t.Fatalf("armor: %v", err)
	}
	sealed, _ := io.ReadAll(blk.Body)
	got, _, err := a.gen.Unlocked.Open(sealed, nil)
	if err != nil || !bytes.Equal(got, raw) {
		t.Fatalf("Open PGP/MIME payload: %q, %v", got, err)
	}
	if _, err := mr.NextPart(); err != io.EOF {
		t.Errorf("after two parts: %v, want EOF", err)
	}

	for _, bad := range [][2]string{{"a@b\r\nBcc: x@y", "c@d"}, {"a@b", "c@d\nX: y"}, {"a\x00@b", "c@d"}} {
		err := SealPGPMIME(io.Discard, a.rcpt, raw, bad[0], bad[1], testTime)
		wantKind(t, fmt.Sprintf("header injection %q", bad), err, errors.Invalid)
	}
}

func TestMessageIDDomain(t *testing.T) {
	for in, want := range map[string]string{
		"carol@x.example":         "x.example",
		"Carol <carol@x.example>": "x.example",
		`"a@b" <c@d.example>`:     "d.example",
		"nobody":                  "sealpost.invalid",
		"broken <a@b> <c@d.e>":    "sealpost.invalid",
		"":                        "sealpost.invalid",
		"x@":                      "sealpost.invalid",
	} {
		if got := messageIDDomain(in); got != want {
			t.Errorf("messageIDDomain(%q) = %q, want %q", in, got, want)
		}
	}
}
