package column

import (
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

func TestCheckRegion(t *testing.T) {
	for _, tt := range []struct {
		region sealpost.RegionID
		ok     bool
	}{
		{"ie", true},
		{"us-east", true},
		{"", false},
		{"i e", false},
		{"ie\n", false},
		{"ie\x00", false},
		{sealpost.RegionID(make([]byte, 65)), false},
	} {
		err := CheckRegion(tt.region)
		if (err == nil) != tt.ok || err != nil && !errors.Is(errors.Invalid, err) {
			t.Errorf("CheckRegion(%q) = %v, want ok %v", tt.region, err, tt.ok)
		}
	}
}

// TestCheckImageNormalizes checks what CheckImage changes in a valid image,
// and that the result shares no memory with its input.
func TestCheckImageNormalizes(t *testing.T) {
	local := time.FixedZone("x", 3600)
	in := sealpost.AccountImage{
		Account: sealpost.Account{Address: " Alice@Demo.Example ", PasswordVerifier: []byte("v")},
		Keys:    []sealpost.Key{{ID: 3, Created: time.Date(2025, 1, 2, 3, 4, 5, 6, local), PublicKey: []byte("pk")}},
		Mailboxes: []sealpost.MailboxImage{{
			Mailbox: sealpost.Mailbox{Name: "INBOX", UIDValidity: 1, UIDNext: 5, HighestModSeq: 9},
			Messages: []sealpost.Message{{UID: 4, ModSeq: 9, Blob: "b", Key: 3,
				Flags: []sealpost.Flag{`\Seen`, `\Recent`, `\SEEN`, `$x`}, SessionKey: []byte("sk")}},
		}},
	}
	out, err := CheckImage(in)
	if err != nil {
		t.Fatal(err)
	}
	if out.Account.Address != "alice@demo.example" || out.Account.Created.IsZero() {
		t.Fatalf("account = %+v", out.Account)
	}
	if k := out.Keys[0]; !k.Created.Equal(in.Keys[0].Created) || k.Created.Location() != time.UTC {
		t.Fatalf("key created %v, want %v in UTC", k.Created, in.Keys[0].Created)
	}
	m := out.Mailboxes[0].Messages[0]
	if got := EncodeFlags(m.Flags); got != `\Seen $x` {
		t.Fatalf("flags %q, want `\\Seen $x`", got)
	}
	out.Account.PasswordVerifier[0] = 'X'
	out.Keys[0].PublicKey[0] = 'X'
	out.Mailboxes[0].Messages[0].SessionKey[0] = 'X'
	out.Mailboxes[0].Messages[0].Flags[0] = "X"
	if in.Account.PasswordVerifier[0] == 'X' || in.Keys[0].PublicKey[0] == 'X' ||
		in.Mailboxes[0].Messages[0].SessionKey[0] == 'X' || in.Mailboxes[0].Messages[0].Flags[0] == "X" {
		t.Fatal("CheckImage's result shares memory with its input")
	}
	if v := MaxUIDValidity(out); v != 1 {
		t.Fatalf("MaxUIDValidity = %d, want 1", v)
	}
}
