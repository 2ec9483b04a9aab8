package storetest

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/sealpost/sealpost"
)

// testConcurrentAdd has 32 goroutines deliver into the same two mailboxes,
// one message per call, as concurrent SMTP sessions do, while a reader
// polls. Every UID must be distinct and ascend in each goroutine's order;
// and since UIDs are assigned in commit order, a reader that has seen UID n
// has seen every smaller UID that will ever exist.
func testConcurrentAdd(t *testing.T, e *env) {
	const workers, calls = 32, 4
	a := e.account("alice@demo.example")
	boxes := []sealpost.MailboxID{e.mailbox(a.ID, "INBOX").ID, e.mailbox(a.ID, "Archive").ID}

	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		got      = map[sealpost.MailboxID][]sealpost.UID{}
		errs     = make(chan error, workers+1)
		done     atomic.Bool
		snapshot [][]sealpost.UID // the reader's views of boxes[0]
	)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			last := map[sealpost.MailboxID]sealpost.UID{}
			for c := range calls {
				mb := boxes[(w+c)%len(boxes)]
				out, err := e.s.AddMessages(ctx, []sealpost.NewMessage{newMsg(mb)})
				if err != nil {
					errs <- err
					return
				}
				if len(out) != 1 || out[0].Mailbox != mb {
					errs <- fmt.Errorf("worker %d: AddMessages returned %+v", w, out)
					return
				}
				uid := out[0].UID
				if uid <= last[mb] {
					errs <- fmt.Errorf("worker %d: UID %d after %d in the same mailbox", w, uid, last[mb])
					return
				}
				last[mb] = uid
				mu.Lock()
				got[mb] = append(got[mb], uid)
				mu.Unlock()
			}
		}()
	}
	var rg sync.WaitGroup
	rg.Add(1)
	go func() {
		defer rg.Done()
		// Bounded: at most one poll per call made, and stops when they end.
		for i := 0; i < workers*calls && !done.Load(); i++ {
			ms, err := e.s.Messages(ctx, boxes[0], 0)
			if err != nil {
				errs <- err
				return
			}
			snapshot = append(snapshot, uids(ms))
		}
	}()
	wg.Wait()
	done.Store(true)
	rg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	total := 0
	for _, mb := range boxes {
		us := got[mb]
		total += len(us)
		slices.Sort(us)
		if len(slices.Compact(slices.Clone(us))) != len(us) {
			t.Fatalf("mailbox %d: duplicate UIDs in %v", mb, us)
		}
		stored := uids(e.messages(mb))
		if !slices.Equal(stored, us) {
			t.Fatalf("mailbox %d: stored UIDs %v, returned %v", mb, stored, us)
		}
		var next sealpost.UID
		for _, m := range mustMailboxes(t, e, a.ID) {
			if m.ID == mb {
				next = m.UIDNext
			}
		}
		if len(us) > 0 && next <= us[len(us)-1] {
			t.Fatalf("mailbox %d: UIDNEXT %d not above the highest UID %d", mb, next, us[len(us)-1])
		}
	}
	if total != workers*calls {
		t.Fatalf("%d messages stored, want %d", total, workers*calls)
	}
	final := got[boxes[0]]
	for i, snap := range snapshot {
		if len(snap) == 0 {
			continue
		}
		high := snap[len(snap)-1]
		var want []sealpost.UID
		for _, u := range final {
			if u <= high {
				want = append(want, u)
			}
		}
		if !slices.Equal(snap, want) {
			t.Fatalf("reader view %d saw UIDs %v up to %d, but %v exist there", i, snap, high, want)
		}
	}
}

func mustMailboxes(t *testing.T, e *env, acct sealpost.AccountID) []sealpost.Mailbox {
	t.Helper()
	mbs, err := e.s.Mailboxes(ctx, acct)
	if err != nil {
		t.Fatal(err)
	}
	return mbs
}
