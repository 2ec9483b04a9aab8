package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

var queueTests = []test{
	{"RoundTrip", testQueueRoundTrip},
	{"Dequeue", testDequeue},
	{"SharedBlob", testQueueSharedBlob},
	{"Invalid", testQueueInvalid},
	{"EnqueueAtomic", testEnqueueAtomic},
	{"UpdateQueued", testUpdateQueued},
	{"QueueDue", testQueueDue},
}

func sameQueued(got, want sealpost.QueuedMessage) bool {
	return got.ID == want.ID && got.From == want.From && slices.Equal(got.Recipients, want.Recipients) &&
		got.Blob == want.Blob && got.Size == want.Size && got.Queued.Equal(want.Queued) &&
		got.NextTry.Equal(want.NextTry) && got.Attempts == want.Attempts && got.LastError == want.LastError &&
		got.Held == want.Held && got.Warned == want.Warned
}

// enqueue enqueues one message and returns its ID.
func (e *env) enqueue(m sealpost.QueuedMessage) int64 {
	e.t.Helper()
	ids, err := e.s.Enqueue(ctx, []sealpost.QueuedMessage{m})
	if err != nil {
		e.t.Fatalf("Enqueue: %v", err)
	}
	if len(ids) != 1 {
		e.t.Fatalf("Enqueue of one message returned %d IDs", len(ids))
	}
	return ids[0]
}

func (e *env) queue() []sealpost.QueuedMessage {
	e.t.Helper()
	q, err := e.s.Queue(ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return q
}

func testQueueRoundTrip(t *testing.T, e *env) {
	if q, err := e.s.Queue(ctx); err != nil || len(q) != 0 {
		t.Fatalf("Queue on an empty store: %v, %v", q, err)
	}
	in := []sealpost.QueuedMessage{
		{From: "alice@demo.example", Recipients: []string{"x@a.example", "y@b.example"}, Blob: newBlob(), Size: 10,
			Queued: date, NextTry: date.Add(time.Minute)},
		// A bounce has the null sender (RFC 5321 4.5.5).
		{From: "", Recipients: []string{"alice@elsewhere.example"}, Blob: newBlob(), Size: 20,
			Queued: date, NextTry: date.Add(time.Hour), Attempts: 2, LastError: "451 try later", Held: true, Warned: true},
	}
	ids, err := e.s.Enqueue(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(in) {
		t.Fatalf("Enqueue of %d messages returned %d IDs", len(in), len(ids))
	}
	for i := range in {
		if i > 0 && ids[i] <= ids[i-1] {
			t.Fatalf("queue ID %d after %d", ids[i], ids[i-1])
		}
		in[i].ID = ids[i]
	}
	// A later Enqueue gets higher IDs.
	if id := e.enqueue(in[0]); id <= ids[1] {
		t.Fatalf("a later Enqueue got ID %d, not above %d", id, ids[1])
	}
	q := e.queue()[:2]
	for i := range q {
		if !sameQueued(q[i], in[i]) {
			t.Fatalf("queued %d = %+v, want %+v", i, q[i], in[i])
		}
	}
}

func testDequeue(t *testing.T, e *env) {
	m := sealpost.QueuedMessage{From: "a@demo.example", Recipients: []string{"b@x.example"}, Blob: newBlob(), Size: 1, Queued: date, NextTry: date}
	id1 := e.enqueue(m)
	m2 := m
	m2.Blob = newBlob()
	id2 := e.enqueue(m2)
	blobs, err := e.s.Dequeue(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, blobs, "Dequeue", m.Blob)
	q, err := e.s.Queue(ctx)
	if err != nil || len(q) != 1 || q[0].ID != id2 {
		t.Fatalf("Queue after Dequeue: %+v, %v", q, err)
	}
	// Dequeuing again: the contract does not say; an error must be NotExist
	// and must free nothing.
	blobs, err = e.s.Dequeue(ctx, id1)
	if err != nil && !errors.Is(errors.NotExist, err) {
		t.Fatalf("Dequeue twice: %v, want none or NotExist", err)
	}
	if len(blobs) != 0 {
		t.Fatalf("Dequeue twice freed %q", blobs)
	}
}

func testQueueSharedBlob(t *testing.T, e *env) {
	// One sealed copy queued for two routes shares a blob.
	blob := newBlob()
	m := sealpost.QueuedMessage{From: "a@demo.example", Recipients: []string{"b@x.example"}, Blob: blob, Size: 1, Queued: date, NextTry: date}
	id1 := e.enqueue(m)
	m.Recipients = []string{"c@y.example"}
	id2 := e.enqueue(m)
	if blobs, err := e.s.Dequeue(ctx, id2); err != nil || len(blobs) != 0 {
		t.Fatalf("Dequeue of the first of two sharers = %q, %v", blobs, err)
	}
	blobs, err := e.s.Dequeue(ctx, id1)
	if err != nil {
		t.Fatal(err)
	}
	wantRefs(t, blobs, "Dequeue of the last sharer", blob)

	// A message row holding the blob keeps it too.
	a := e.account("alice@demo.example")
	nm := newMsg(e.mailbox(a.ID, "Sent").ID)
	e.add(nm)
	m.Blob = nm.Blob
	id3 := e.enqueue(m)
	if blobs, err := e.s.Dequeue(ctx, id3); err != nil || len(blobs) != 0 {
		t.Fatalf("Dequeue of a blob a message still holds = %q, %v", blobs, err)
	}
}

func testQueueInvalid(t *testing.T, e *env) {
	_, err := e.s.Enqueue(ctx, []sealpost.QueuedMessage{{From: "a@demo.example", Blob: newBlob(), Size: 1}})
	wantKind(t, err, errors.Invalid, "Enqueue without recipients")
	_, err = e.s.Enqueue(ctx, []sealpost.QueuedMessage{{From: "a@demo.example", Recipients: []string{"b@x.example"}, Size: 1}})
	wantKind(t, err, errors.Invalid, "Enqueue without a blob")
	_, err = e.s.Enqueue(ctx, []sealpost.QueuedMessage{{From: "a@demo.example", Recipients: []string{"b@x.example\r\nRCPT TO:<c@y>"}, Blob: newBlob(), Size: 1}})
	wantKind(t, err, errors.Invalid, "Enqueue with CRLF in a recipient")
}

// testEnqueueAtomic enqueues several messages where the last is invalid:
// none is stored.
func testEnqueueAtomic(t *testing.T, e *env) {
	good := sealpost.QueuedMessage{From: "a@demo.example", Recipients: []string{"b@x.example"}, Blob: newBlob(), Size: 1}
	bad := good
	bad.Recipients = nil
	_, err := e.s.Enqueue(ctx, []sealpost.QueuedMessage{good, good, bad})
	wantKind(t, err, errors.Invalid, "Enqueue of a batch with an invalid message")
	if q := e.queue(); len(q) != 0 {
		t.Fatalf("a refused batch left %d messages in the queue", len(q))
	}
	if ids, err := e.s.Enqueue(ctx, nil); err != nil || len(ids) != 0 {
		t.Fatalf("Enqueue of nothing = %v, %v", ids, err)
	}
}

// testUpdateQueued records what delivery and the operator change: fewer
// recipients, the next try, attempts, the last error, hold and warning.
func testUpdateQueued(t *testing.T, e *env) {
	m := sealpost.QueuedMessage{From: "a@demo.example", Recipients: []string{"b@x.example", "c@x.example"},
		Blob: newBlob(), Size: 1, Queued: date, NextTry: date}
	m.ID = e.enqueue(m)
	other := m
	other.Blob = newBlob()
	other.ID = e.enqueue(other)
	for i := 1; i <= 2; i++ {
		m.NextTry = date.Add(time.Duration(i) * time.Hour)
		m.Attempts, m.LastError = i, "421 4.7.0 busy"
		m.Recipients = m.Recipients[:3-i]
		m.Held, m.Warned = i == 1, i == 2
		if err := e.s.UpdateQueued(ctx, m); err != nil {
			t.Fatal(err)
		}
		q := e.queue()
		if len(q) != 2 || !sameQueued(q[0], m) || !sameQueued(q[1], other) {
			t.Fatalf("after UpdateQueued #%d: %+v, want %+v and %+v unchanged", i, q, m, other)
		}
	}
	// Blob, size, sender and queue time are not the update's to change.
	changed := m
	changed.From, changed.Blob, changed.Size, changed.Queued = "z@demo.example", newBlob(), 99, date.Add(time.Hour)
	if err := e.s.UpdateQueued(ctx, changed); err != nil {
		t.Fatal(err)
	}
	if q := e.queue(); !sameQueued(q[0], m) {
		t.Fatalf("UpdateQueued changed what it must not: %+v, want %+v", q[0], m)
	}
	gone := m
	gone.ID += 100
	wantKind(t, e.s.UpdateQueued(ctx, gone), errors.NotExist, "UpdateQueued of an unknown message")
	none := m
	none.Recipients = nil
	wantKind(t, e.s.UpdateQueued(ctx, none), errors.Invalid, "UpdateQueued with no recipients left")
}

// testQueueDue: the due entries, earliest first, without the held ones or
// those not due yet, up to the limit; and when the next falls due.
func testQueueDue(t *testing.T, e *env) {
	at := func(d time.Duration) sealpost.QueuedMessage {
		return sealpost.QueuedMessage{From: "a@demo.example", Recipients: []string{"b@x.example"}, Blob: newBlob(), Size: 1,
			Queued: date, NextTry: date.Add(d)}
	}
	if q, next, err := e.s.QueueDue(ctx, date, 10); err != nil || len(q) != 0 || !next.IsZero() {
		t.Fatalf("QueueDue of an empty queue: %v, %v, %v", q, next, err)
	}
	late := e.enqueue(at(2 * time.Minute))
	early := e.enqueue(at(-time.Hour))
	now := e.enqueue(at(0))
	held := at(-2 * time.Hour)
	held.Held = true
	e.enqueue(held)
	heldLater := at(time.Minute)
	heldLater.Held = true
	e.enqueue(heldLater)
	q, next, err := e.s.QueueDue(ctx, date, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != 2 || q[0].ID != early || q[1].ID != now || !next.Equal(date.Add(2*time.Minute)) {
		t.Fatalf("QueueDue = %+v, next %v; want entries %d and %d, next %v", q, next, early, now, date.Add(2*time.Minute))
	}
	if q, _, _ := e.s.QueueDue(ctx, date, 1); len(q) != 1 || q[0].ID != early {
		t.Fatalf("QueueDue with limit 1 = %+v", q)
	}
	if q, next, _ := e.s.QueueDue(ctx, date.Add(time.Hour), 10); len(q) != 3 || q[2].ID != late || !next.IsZero() {
		t.Fatalf("QueueDue an hour later = %+v, next %v", q, next)
	}
	_, _, err = e.s.QueueDue(ctx, date, 0)
	wantKind(t, err, errors.Invalid, "QueueDue with limit 0")
}
