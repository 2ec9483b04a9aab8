package disclose_test

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/sealpost/sealpost/legal/disclose"
)

// A package for an approved demand: subscriber information, traffic
// metadata and one sealed message, verified by the authority with the
// deployment's published key.
func Example() {
	_, key, _ := ed25519.GenerateKey(nil)
	published := disclose.EncodePublicKey(key.Public().(ed25519.PublicKey))

	day := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	files := disclose.SubscriberFiles([]disclose.SubscriberRecord{
		{Address: "bob@demo.example", Region: "us", Country: "US", Entity: "Sealpost Inc.", Created: day},
	})
	files = append(files, disclose.TrafficFiles([]disclose.TrafficRecord{
		{Address: "bob@demo.example", Mailbox: "INBOX", UIDValidity: 1, UID: 1, InternalDate: day, Size: 2048},
	})...)
	files = append(files, disclose.File{
		Name: disclose.ContentName("bob@demo.example", "INBOX", 1),
		Data: []byte("-- the sealed OpenPGP message, as stored --"),
	})

	var pkg bytes.Buffer
	err := disclose.Build(&pkg, disclose.Manifest{
		DemandID:  "D-1",
		Reference: "2026-SW-0042",
		Authority: "U.S. District Court",
		Created:   day,
		Approvals: []string{"Officer One", "Officer Two"},
	}, files, key)
	if err != nil {
		fmt.Println(err)
		return
	}

	// The authority's side: only the package and the published key.
	pub, err := disclose.ParsePublicKey(published)
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := disclose.Verify(&pkg, pub)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.DemandID, m.Approvals)
	for _, f := range m.Files {
		fmt.Println(f.Name)
	}
	// Output:
	// D-1 [Officer One Officer Two]
	// content/bob@demo.example/INBOX/1.pgp
	// subscriber.csv
	// subscriber.json
	// traffic.csv
	// traffic.json
}
