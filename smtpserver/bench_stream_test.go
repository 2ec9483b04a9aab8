package smtpserver

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// BenchmarkDeliverLarge is BenchmarkDeliver10KBChecked with 900 KiB
// messages (under the test postbox's 1 MiB limit, over the 256 KiB that
// the streaming path keeps in memory): the MB/s of the whole MX path,
// DATA to durable, DKIM verified over the body. It also reports the Go
// heap's peak in use during the run (sampled), which the streaming path
// bounds by the connection count, not the message size. Run it on two
// commits in one sitting to compare the buffered and the streaming paths.
func BenchmarkDeliverLarge(b *testing.B) {
	e := newEnv(b)
	s := newSenders(b, e, Options{Mode: MX})
	line := strings.Repeat("0123456789abcdef", 4)[:62] + "\r\n"
	body := signed(b, e, msg("From: carol@elsewhere.example", "To: bob@example.test", "Subject: bench", "")+
		strings.Repeat(line, 900<<10/len(line)))
	b.SetBytes(int64(len(body)))
	stop := make(chan struct{})
	peak := make(chan uint64)
	go func() {
		var m runtime.MemStats
		var top uint64
		for {
			select {
			case <-stop:
				peak <- top
				return
			case <-time.After(20 * time.Millisecond):
				runtime.ReadMemStats(&m)
				top = max(top, m.HeapInuse)
			}
		}
	}()
	b.ResetTimer()
	elapsed := s.send(b, b.N, body)
	b.StopTimer()
	close(stop)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	b.ReportMetric(float64(<-peak)/(1<<20), "peak-heap-MiB")
	s.quit()
	wantChecked(b, e)
}
