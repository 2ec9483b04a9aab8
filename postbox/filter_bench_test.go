package postbox_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/blob/pack"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/internal/testenv"
	"github.com/sealpost/sealpost/internal/testkit"
	"github.com/sealpost/sealpost/postbox"
	"github.com/sealpost/sealpost/seal"
	"github.com/sealpost/sealpost/store/sqlite"
)

// benchMessage is a 10 KiB message of ordinary words that no rule of
// rules50 catches.
func benchMessage(i int) []byte { return testkit.PlainMessage(i) }

// BenchmarkDeliverFilters compares MX delivery of 10 KiB messages to one
// account with nothing to run ("plain") and with an active 50-rule Sieve
// script and a trained classifier ("sieve50+bayes"), in one sitting, over
// the default stores (SQLite, the pack blob store with group fsync):
// issue 14's target is at least 80% of the plain rate.
//
// benchMessage has a 27-word vocabulary, so few distinct tokens for the
// classifier to hash; when the SpamAssassin corpus is present
// (scripts/spamcorpus.sh) the same pair runs again as "corpus/…" over its
// ham messages of 8-12 KiB from the test split (nothing of the held-out
// set), the text real mail gives the classifier.
func BenchmarkDeliverFilters(b *testing.B) {
	deliverFilters(b, "", func(i int) []byte { return benchMessage(i) })
	if !testenv.SpamCorpusPresent() {
		b.Log("spam corpus absent (scripts/spamcorpus.sh): no corpus/ rows")
		return
	}
	var ham [][]byte
	for _, c := range testenv.SpamCorpus(b, testenv.CorpusHamGroups...) {
		if !c.Train && len(c.Data) >= 8<<10 && len(c.Data) <= 12<<10 {
			ham = append(ham, c.Data)
		}
	}
	if len(ham) < 16 {
		b.Fatalf("only %d corpus ham messages of 8-12 KiB", len(ham))
	}
	deliverFilters(b, "corpus/", func(i int) []byte { return ham[i%len(ham)] })
}

// deliverFilters runs the plain and the filtered delivery of 64 messages
// from msg, in turn.
func deliverFilters(b *testing.B, prefix string, msg func(int) []byte) {
	for _, filtered := range []bool{false, true} {
		name := "plain"
		if filtered {
			name = "sieve50+bayes"
		}
		b.Run(prefix+name, func(b *testing.B) {
			ctx := context.Background()
			dir := b.TempDir()
			st, err := sqlite.Open(filepath.Join(dir, "meta.db"))
			if err != nil {
				b.Fatal(err)
			}
			blobs, err := pack.Open(filepath.Join(dir, "blobs"))
			if err != nil {
				b.Fatal(err)
			}
			qk, u := deployment(b)
			svc := postbox.New(st, blobs, postbox.Options{Params: pwhash.TestParams, QueueKey: qk,
				DeploymentKey: func() (*seal.Unlocked, error) { return u, nil }})
			b.Cleanup(func() { svc.Close(); blobs.Close(); st.Close() })
			svc.AddDomain(ctx, "example.org")
			svc.CreateAccount(ctx, "ann@example.org", "ann-password")
			if filtered {
				ss, err := svc.Login(ctx, "ann@example.org", "ann-password")
				if err != nil {
					b.Fatal(err)
				}
				if err := ss.PutScript(ctx, "rules", []byte(testkit.Rules50())); err != nil {
					b.Fatal(err)
				}
				if err := ss.SetActiveScript(ctx, "rules"); err != nil {
					b.Fatal(err)
				}
				trainBench(b, ss)
				ss.Close()
			}
			msgs := make([]postbox.Bytes, 64)
			for i := range msgs {
				msgs[i] = msg(i)
			}
			env := postbox.Envelope{From: "someone@example.net", Recipients: []string{"ann@example.org"},
				Client: netip.MustParseAddr("192.0.2.1"), Helo: "mx.example.net"}
			b.SetBytes(int64(len(msgs[0])))
			b.ResetTimer()
			start := time.Now()
			// Deliveries arrive concurrently, as over many SMTP
			// connections (the pack store's group fsync serves them).
			b.SetParallelism(16)
			var n int64
			var refused atomic.Int64
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					// A message the classifier refuses has had all of
					// the filters' work done: it counts, and is reported.
					var r *postbox.Refusal
					if err := svc.Deliver(ctx, env, msgs[i%len(msgs)]); errors.As(err, &r) {
						refused.Add(1)
					} else if err != nil {
						b.Error(err)
						return
					}
					i++
				}
			})
			n = int64(b.N)
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
			b.ReportMetric(float64(refused.Load()), "refused")
		})
	}
}

// trainBench teaches the account's classifier 60 ham and 60 spam
// messages, through the owner's session as moves do.
func trainBench(b *testing.B, ss *postbox.Session) {
	ctx := context.Background()
	for i := range 60 {
		if _, _, err := ss.Append(ctx, "INBOX", postbox.Bytes(benchMessage(1000+i)), nil, time.Time{}); err != nil {
			b.Fatal(err)
		}
		spam := fmt.Appendf(nil, "From: <win%d@prizes.example>\r\nSubject: you won %d\r\n\r\ncheap pills casino winner prize claim now %d\r\n", i, i, i)
		if _, _, err := ss.Append(ctx, "Archive", postbox.Bytes(spam), nil, time.Time{}); err != nil {
			b.Fatal(err)
		}
	}
	for _, l := range []struct {
		box  string
		spam bool
	}{{"INBOX", false}, {"Archive", true}} {
		m, err := ss.Select(ctx, l.box)
		if err != nil {
			b.Fatal(err)
		}
		var info sealpost.Mailbox
		var msgs []sealpost.Message
		m.Read(func(i sealpost.Mailbox, ms []sealpost.Message) { info, msgs = i, append(msgs, ms...) })
		ss.Release(m)
		if err := ss.Learn(ctx, info, msgs, l.spam); err != nil {
			b.Fatal(err)
		}
	}
	st, err := ss.Service().FilterStatus(ctx, "ann@example.org")
	if err != nil || st.Ham != 60 || st.Spam != 60 || st.ActiveScript != "rules" {
		b.Fatalf("filter not set up: %+v %v", st, err)
	}
}

// BenchmarkMoveToJunk1000 is issue 14's training target: the owner moves
// 1,000 messages (10 KiB each) into Junk; the MOVE opens each in the
// session and trains the classifier, and the model is sealed back.
func BenchmarkMoveToJunk1000(b *testing.B) {
	ctx := context.Background()
	r, u := deployment(b)
	dir := b.TempDir()
	st, err := sqlite.Open(filepath.Join(dir, "meta.db"))
	if err != nil {
		b.Fatal(err)
	}
	blobs, err := pack.Open(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	svc := postbox.New(st, blobs, postbox.Options{Params: pwhash.TestParams, QueueKey: r,
		DeploymentKey: func() (*seal.Unlocked, error) { return u, nil }})
	b.Cleanup(func() { svc.Close(); blobs.Close(); st.Close() })
	svc.AddDomain(ctx, "example.org")
	svc.CreateAccount(ctx, "ann@example.org", "ann-password")
	ss, err := svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		b.Fatal(err)
	}
	defer ss.Close()
	b.StopTimer()
	for i := range b.N {
		box := fmt.Sprintf("Batch%d", i)
		if err := ss.CreateMailbox(ctx, box, ""); err != nil {
			b.Fatal(err)
		}
		items := make([]postbox.AppendItem, 1000)
		for j := range items {
			items[j] = postbox.AppendItem{Msg: postbox.Bytes(benchMessage(i*1000 + j))}
		}
		if _, _, err := ss.AppendMany(ctx, box, items); err != nil {
			b.Fatal(err)
		}
		m, err := ss.Select(ctx, box)
		if err != nil {
			b.Fatal(err)
		}
		var uids []sealpost.UID
		m.Read(func(_ sealpost.Mailbox, msgs []sealpost.Message) {
			for _, x := range msgs {
				uids = append(uids, x.UID)
			}
		})
		b.StartTimer()
		start := time.Now()
		if _, _, err := ss.Move(ctx, m, uids, "Junk"); err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/1000-moved")
		b.StopTimer()
		ss.Release(m)
	}
	fs, err := svc.FilterStatus(ctx, "ann@example.org")
	if err != nil || fs.Spam != 1000*b.N {
		b.Fatalf("trained %d spam, want %d (%v)", fs.Spam, 1000*b.N, err)
	}
}
