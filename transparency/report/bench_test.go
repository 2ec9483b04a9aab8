package report

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/tlog"
	"github.com/sealpost/sealpost/transparency"
)

// BenchmarkCompute measures a report over a log of 100,000 entries (20,000
// demands of five steps each): reading the entries back from the log, and
// Compute (signature, Merkle root of every entry, parsing, counting).
func BenchmarkCompute(b *testing.B) {
	ctx := context.Background()
	skey, vkey, err := tlog.NewKey(origin)
	if err != nil {
		b.Fatal(err)
	}
	l, err := tlog.Open(b.TempDir(), skey, tlog.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	bl, _ := transparency.NewBlinder(bytes.Repeat([]byte{7}, transparency.KeySize))
	instruments := []string{"search_warrant", "subpoena", "records_order", "emergency_request", "mlat_request"}
	countries := []string{"US", "IE", "DE", "FR", "GB", "BR", "IN"}
	at := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	var batch [][]byte
	seq := int64(0)
	add := func(ev sealpost.Event) {
		seq++
		pub, _ := bl.Build(transparency.SourceLegal, seq, ev, transparency.Withholding{}, nil)
		batch = append(batch, pub.Marshal())
		if len(batch) == 4096 {
			if _, err := l.AppendAll(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = nil
		}
	}
	for d := 0; d < benchDemands; d++ {
		when := at.Add(time.Duration(d) * 7 * time.Minute)
		detail := map[string]string{"demand": fmt.Sprintf("D-2026-%06d", d), "country": countries[d%len(countries)],
			"instrument": instruments[d%len(instruments)], "received": when.Format(time.DateOnly), "targets": "1"}
		with := func(kv ...string) map[string]string {
			m := map[string]string{}
			for k, v := range detail {
				m[k] = v
			}
			for i := 0; i+1 < len(kv); i += 2 {
				m[kv[i]] = kv[i+1]
			}
			return m
		}
		addr := fmt.Sprintf("user%d@demo.example", d%5000)
		add(sealpost.Event{Time: when, Kind: sealpost.EventDemandFiled, Actor: "officer", Detail: detail})
		add(sealpost.Event{Time: when, Kind: sealpost.EventDemandDecided, Account: addr, Actor: "policy", Detail: with("decision", "reject_out_of_jurisdiction")})
		add(sealpost.Event{Time: when, Kind: sealpost.EventDemandTransition, Actor: "officer", Detail: with("from", "received", "to", "in_review")})
		add(sealpost.Event{Time: when, Kind: sealpost.EventDemandTransition, Actor: "officer", Detail: with("from", "in_review", "to", "rejected")})
		add(sealpost.Event{Time: when, Kind: sealpost.EventNoticeSent, Account: addr, Actor: "system", Detail: detail})
	}
	if len(batch) > 0 {
		if _, err := l.AppendAll(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	p, _ := ParsePeriod("2026-H2")
	cp := l.Checkpoint()
	read := func() [][]byte {
		entries, err := l.Entries(ctx, 0, l.Size())
		if err != nil {
			b.Fatal(err)
		}
		return entries
	}
	entries := read()
	b.Run("read-back", func(b *testing.B) {
		for b.Loop() {
			read()
		}
	})
	b.Run("compute", func(b *testing.B) {
		for b.Loop() {
			r, err := Compute(cp, vkey, entries, p)
			if err != nil || r.Totals.Requests != benchDemands {
				b.Fatalf("Compute: %v", err)
			}
		}
	})
}

const benchDemands = 20000
