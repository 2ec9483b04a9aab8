package transparency

import (
	"bytes"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// FuzzParse: an entry from a log (which anyone may serve) either fails to
// parse or is exactly the canonical encoding of what Parse returns, and
// Mine and When never panic on it.
func FuzzParse(f *testing.F) {
	b, _ := NewBlinder(bytes.Repeat([]byte{1}, KeySize))
	at := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	ev := sealpost.Event{Time: at, Kind: sealpost.EventDemandDecided, Account: "alice@demo.example", Actor: "policy",
		Detail: map[string]string{"demand": "D-2026-000001", "country": "US", "instrument": "search_warrant", "nondisclosure_until": "2027-01-01"}}
	pub, _ := b.Build(SourceLegal, 1, ev, Withholding{}, nil)
	f.Add(pub.Marshal())
	pub, _ = b.Build(SourceLegal, 2, ev, Withholding{Instruments: []string{"search_warrant"}}, nil)
	f.Add(pub.Marshal())
	ev.Kind, ev.Detail = sealpost.EventNoticeSent, map[string]string{"demand": "D-2026-000001"}
	pub, _ = b.Build(SourceLegal, 3, ev, Withholding{}, []Reveal{{Index: 0, Salt: "00112233445566778899aabbccddeeff"}})
	f.Add(pub.Marshal())
	f.Add([]byte(`{"v":1,"src":"journal","seq":1,"time":"2026-11-22T10:00:00Z","kind":"policy.loaded"}`))
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := Parse(data)
		if err != nil {
			return
		}
		if !bytes.Equal(e.Marshal(), data) {
			t.Fatalf("Parse accepted a non-canonical entry %q", data)
		}
		e.When()
		Mine(e, []byte("secret"), "")
		_ = e.String()
	})
}
