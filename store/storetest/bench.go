package storetest

import (
	"context"
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
)

// BenchAddMessages delivers one message per AddMessages call from 32
// goroutines into 32 mailboxes, as 32 concurrent SMTP sessions do, and
// reports msgs/s. Every store runs it, so their ingest rates compare on
// one machine in one sitting.
func BenchAddMessages(b *testing.B, s sealpost.Store) {
	ctx := context.Background()
	if err := s.AddDomain(ctx, "demo.example"); err != nil {
		b.Fatal(err)
	}
	var boxes []sealpost.MailboxID
	for i := range 32 {
		a, err := s.CreateAccount(ctx, sealpost.Account{Address: fmt.Sprintf("user%d@demo.example", i)}, sealpost.Key{})
		if err != nil {
			b.Fatal(err)
		}
		mb, err := s.MailboxByName(ctx, a.ID, "INBOX")
		if err != nil {
			b.Fatal(err)
		}
		boxes = append(boxes, mb.ID)
	}
	var n atomic.Int64
	date := time.Now()
	b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := n.Add(1)
			_, err := s.AddMessages(ctx, []sealpost.NewMessage{{
				Mailbox:      boxes[i%int64(len(boxes))],
				Flags:        []sealpost.Flag{`\Recent`},
				InternalDate: date,
				Size:         10 << 10,
				Blob:         sealpost.BlobRef(fmt.Sprintf("%032x", i)),
				Key:          1,
			}})
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
