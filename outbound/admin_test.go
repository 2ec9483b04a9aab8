package outbound

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/testkit"
)

// The operator's actions: a held message is not tried until released; a
// deleted one is gone with its blob and no notice; retry makes a deferred
// one due now.
func TestActions(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{})
	e := newEnv(t, Options{Port: p.port()}, "example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.2")
	ctx := context.Background()
	held := e.enqueue("alice@sealpost.example.test", []string{"bob@example.test"}, msg)
	gone := e.enqueue("alice@sealpost.example.test", []string{"carol@example.test"}, msg)
	for _, a := range []struct {
		id  int64
		act Action
	}{{held.ID, Hold}, {gone.ID, Delete}} {
		if later, err := e.svc.Act(ctx, a.id, a.act); err != nil || later {
			t.Fatalf("Act(%d, %v) = %v, %v", a.id, a.act, later, err)
		}
	}
	e.run()
	if len(p.messages()) != 0 {
		t.Fatalf("a held or deleted message was sent: %+v", p.messages())
	}
	if _, err := e.blobs.Get(ctx, gone.Blob); err == nil {
		t.Error("a deleted message's blob is still stored")
	}
	if q := e.queue(); len(q) != 1 || !q[0].Held {
		t.Fatalf("queue: %+v", q)
	}
	later := e.queue()[0]
	later.NextTry = e.clock.Now().Add(time.Hour)
	testkit.Must(t, e.svc.o.Queue.UpdateQueued(ctx, later))
	if _, err := e.svc.Act(ctx, held.ID, Release); err != nil {
		t.Fatal(err)
	}
	e.run()
	if len(p.messages()) != 1 || len(e.queue()) != 0 || len(e.notices()) != 0 {
		t.Fatalf("after release: %d sent, queue %+v, %d notices", len(p.messages()), e.queue(), len(e.notices()))
	}
	if _, err := e.svc.Act(ctx, 999, Retry); !errors.Is(errors.NotExist, err) {
		t.Errorf("Act on an unknown entry: %v", err)
	}

	// Retry: a deferred message is due at once.
	deferred := e.enqueue("alice@sealpost.example.test", []string{"temp@example.test"}, msg)
	e.run()
	if q := e.queue(); len(q) != 1 || !q[0].NextTry.After(e.clock.Now()) {
		t.Fatalf("after a 451: %+v", q)
	}
	if _, err := e.svc.Act(ctx, deferred.ID, Retry); err != nil {
		t.Fatal(err)
	}
	e.run()
	if q := e.queue(); len(q) != 1 || q[0].Attempts != 2 {
		t.Fatalf("retry did not try again: %+v", q)
	}
}

// An action on a message being delivered waits for the attempt to be
// recorded: holding a message during an attempt that defers leaves it held.
func TestActionDuringDelivery(t *testing.T) {
	p := newPeer(t, "127.0.0.2", peerOptions{})
	e := newEnv(t, Options{Port: p.port()}, "example.test. 300 IN MX 10 mx.example.test.", "mx.example.test. 300 IN A 127.0.0.2")
	m := e.enqueue("slow@sealpost.example.test", []string{"temp@example.test", "bob@example.test"}, msg)
	var wg sync.WaitGroup
	e.svc.cycle(context.Background(), &wg, true)
	later, err := e.svc.Act(context.Background(), m.ID, Hold)
	wg.Wait()
	if err != nil || !later {
		t.Fatalf("Act during delivery = %v, %v; want it deferred", later, err)
	}
	q := e.queue()
	if len(q) != 1 || !q[0].Held || len(q[0].Recipients) != 1 || q[0].Attempts != 1 {
		t.Fatalf("after the attempt: %+v", q)
	}
}
