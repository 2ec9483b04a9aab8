package e2e

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/sealpost/sealpost/internal/testenv"
)

// TestCrashSafety kills the server with SIGKILL while 8 clients deliver
// concurrently, restarts it, and checks that every message that got a 250
// is readable, byte for byte.
func TestCrashSafety(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	d := testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))

	var mu sync.Mutex
	acked := map[string][]byte{} // Message-ID marker → raw
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			c, err := smtp.Dial(d.Addrs["smtp"])
			if err != nil {
				return
			}
			defer c.Close()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				subject := fmt.Sprintf("crash w%d n%d", w, i)
				raw := message("load@example.org", alice, subject, fmt.Sprintf("body %d/%d\r\n%s", w, i, bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ\r\n"), 28)))
				if err := c.SendMail("load@example.org", []string{alice}, bytes.NewReader(raw)); err != nil {
					if i == 0 {
						t.Logf("worker %d: %v", w, err)
					}
					return // the server died mid-transaction: not acknowledged
				}
				mu.Lock()
				acked[subject] = raw
				mu.Unlock()
			}
		}(w)
	}
	time.Sleep(1500 * time.Millisecond)
	d.Kill()
	close(stop)
	wg.Wait()
	if len(acked) < 8 {
		t.Fatalf("only %d messages acknowledged before the kill: the test proves too little", len(acked))
	}

	d = testenv.StartDemo(t, data, filepath.Join(dir, "demo.log"))
	c := login(t, d.Addrs["imaps"], alice, alicePass)
	_, got := fetchAll(t, c, "INBOX")
	stored := map[string]bool{}
	for _, b := range got {
		stored[string(stripTrace(t, b))] = true
	}
	lost := 0
	for subject, raw := range acked {
		if !stored[string(raw)] {
			lost++
			t.Errorf("acknowledged message %q lost after SIGKILL", subject)
		}
	}
	t.Logf("%d acknowledged, %d stored after restart (unacknowledged ones may or may not be there), %d lost", len(acked), len(got), lost)
}
