package column

import (
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// TestCheckImageObjects checks what CheckImage does to an image's objects:
// copies their data, sets a zero Updated to now, drops the exporting
// store's account ID, and refuses a time out of range.
func TestCheckImageObjects(t *testing.T) {
	when := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("x", 3600))
	in := sealpost.AccountImage{
		Account: sealpost.Account{Address: "alice@demo.example"},
		Objects: []sealpost.AccountObject{
			{Account: 7, Kind: sealpost.ObjectSieveScript, Name: "a", Data: []byte("d"), Updated: when, Active: true},
			{Account: 7, Kind: sealpost.ObjectJunkModel},
		},
	}
	before := time.Now()
	out, err := CheckImage(in)
	if err != nil {
		t.Fatal(err)
	}
	a, b := out.Objects[0], out.Objects[1]
	if a.Account != 0 || !a.Active || !a.Updated.Equal(when) || a.Updated.Location() != time.UTC {
		t.Fatalf("object a = %+v", a)
	}
	if b.Updated.Before(before.Add(-time.Second)) {
		t.Fatalf("object b's zero Updated became %v, want now", b.Updated)
	}
	out.Objects[0].Data[0] = 'X'
	if in.Objects[0].Data[0] == 'X' {
		t.Fatal("CheckImage's objects share data with its input")
	}
	in.Objects[1].Updated = time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC)
	if _, err := CheckImage(in); !errors.Is(errors.Invalid, err) {
		t.Fatalf("CheckImage with an object updated in 2300: %v, want Invalid", err)
	}
}
