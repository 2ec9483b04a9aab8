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
	{"Reschedule", testReschedule},
}

func sameQueued(got, want sealpost.QueuedMessage) bool {
	return got.ID == want.ID && got.From == want.From && slices.Equal(got.Recipients, want.Recipients) &&
		got.Blob == want.Blob && got.Size == want.Size && got.Queued.Equal(want.Queued) &&
		got.NextTry.Equal(want.NextTry) && got.Attempts == want.Attempts && got.LastError == want.LastError
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
			Queued: date, NextTry: date.Add(time.Hour), Attempts: 2, LastError: "451 try later"},
	}
	for i := range in {
		id, err := e.s.Enqueue(ctx, in[i])
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && id <= in[i-1].ID {
			t.Fatalf("queue ID %d after %d", id, in[i-1].ID)
		}
		in[i].ID = id
	}
	q, err := e.s.Queue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(q) != len(in) {
		t.Fatalf("Queue has %d messages, want %d", len(q), len(in))
	}
	for i := range q {
		if !sameQueued(q[i], in[i]) {
			t.Fatalf("queued %d = %+v, want %+v", i, q[i], in[i])
		}
	}
}

func testDequeue(t *testing.T, e *env) {
	m := sealpost.QueuedMessage{From: "a@demo.example", Recipients: []string{"b@x.example"}, Blob: newBlob(), Size: 1, Queued: date, NextTry: date}
	id1, err := e.s.Enqueue(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	m2 := m
	m2.Blob = newBlob()
	id2, err := e.s.Enqueue(ctx, m2)
	if err != nil {
		t.Fatal(err)
	}
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
	id1, err := e.s.Enqueue(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	m.Recipients = []string{"c@y.example"}
	id2, err := e.s.Enqueue(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
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
	id3, err := e.s.Enqueue(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if blobs, err := e.s.Dequeue(ctx, id3); err != nil || len(blobs) != 0 {
		t.Fatalf("Dequeue of a blob a message still holds = %q, %v", blobs, err)
	}
}

func testQueueInvalid(t *testing.T, e *env) {
	_, err := e.s.Enqueue(ctx, sealpost.QueuedMessage{From: "a@demo.example", Blob: newBlob(), Size: 1})
	wantKind(t, err, errors.Invalid, "Enqueue without recipients")
	_, err = e.s.Enqueue(ctx, sealpost.QueuedMessage{From: "a@demo.example", Recipients: []string{"b@x.example"}, Size: 1})
	wantKind(t, err, errors.Invalid, "Enqueue without a blob")
}

func testReschedule(t *testing.T, e *env) {
	r := e.s
	m := sealpost.QueuedMessage{From: "a@demo.example", Recipients: []string{"b@x.example"}, Blob: newBlob(), Size: 1, Queued: date, NextTry: date}
	id, err := e.s.Enqueue(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 2; i++ {
		next := date.Add(time.Duration(i) * time.Hour)
		if err := r.Reschedule(ctx, id, next, "421 busy"); err != nil {
			t.Fatal(err)
		}
		q, err := e.s.Queue(ctx)
		if err != nil {
			t.Fatal(err)
		}
		want := m
		want.ID, want.NextTry, want.Attempts, want.LastError = id, next, i, "421 busy"
		if len(q) != 1 || !sameQueued(q[0], want) {
			t.Fatalf("after Reschedule #%d: %+v, want %+v", i, q, want)
		}
	}
	wantKind(t, r.Reschedule(ctx, id+100, date, ""), errors.NotExist, "Reschedule of an unknown message")
}
