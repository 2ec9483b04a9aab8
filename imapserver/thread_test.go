package imapserver

import (
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/sealpost/sealpost"
)

// threadItem is a message for the threading tests: sent hour hours after a
// fixed time (0: no Date field, so its internal date counts).
func threadItem(seq uint32, hour int, subject, id string, refs ...string) sortItem {
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	k := &sortKeys{msgID: id, refs: refs}
	if hour > 0 {
		k.sent = base.Add(time.Duration(hour) * time.Hour)
	}
	s, reply := baseSubject(subject)
	k.subject, k.reply = casemap(s), reply
	return sortItem{seq: seq, msg: sealpost.Message{UID: sealpost.UID(seq + 100), InternalDate: base.Add(1000 * time.Hour)}, keys: k}
}

// threadString writes threads as the THREAD response does.
func threadString(roots []*node) string {
	var b strings.Builder
	var write func(d imap.ThreadData)
	write = func(d imap.ThreadData) {
		b.WriteByte('(')
		for i, n := range d.Chain {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(itoa(int(n)))
		}
		if len(d.Chain) > 0 && len(d.SubThreads) > 0 {
			b.WriteByte(' ')
		}
		for _, s := range d.SubThreads {
			write(s)
		}
		b.WriteByte(')')
	}
	for _, r := range roots {
		write(r.data(func(it *sortItem) uint32 { return it.seq }))
	}
	return b.String()
}

// TestThreadReferences checks each step of RFC 5256 4: linking by
// References and In-Reply-To (1), dummies for absent parents and their
// pruning (4), merging by base subject (5), and sorting by sent date (6).
func TestThreadReferences(t *testing.T) {
	tests := []struct {
		name  string
		items []sortItem
		want  string
	}{
		{"replies nest, siblings by date", []sortItem{
			threadItem(1, 1, "A", "a"),
			threadItem(2, 3, "Re: A", "b", "a"),
			threadItem(3, 2, "Re: A", "c", "a"),
			threadItem(4, 4, "Re: A", "d", "a", "b"),
		}, "(1 (3)(2 4))"},
		{"absent parent: one child promoted to the root", []sortItem{
			threadItem(1, 1, "B", "e", "x"),
		}, "(1)"},
		{"absent parent with two children stays as a dummy", []sortItem{
			threadItem(1, 2, "C", "f", "y"),
			threadItem(2, 1, "C", "g", "y"),
		}, "((2)(1))"},
		{"absent grandparent: the dummy goes, its child stays", []sortItem{
			threadItem(1, 1, "D", "h", "z1", "z2"),
			threadItem(2, 2, "D", "i", "z1", "z2"),
			threadItem(3, 3, "D", "j", "z1", "z3"),
		}, "((1)(2)(3))"},
		{"reply without references joins by subject", []sortItem{
			threadItem(1, 1, "Topic", "k"),
			threadItem(2, 2, "Re: topic", "l"),
		}, "(1 2)"},
		{"two originals with one subject get a dummy parent", []sortItem{
			threadItem(1, 1, "Topic", "k"),
			threadItem(2, 2, "topic", "l"),
			threadItem(3, 3, "Other", "m"),
		}, "((1)(2))(3)"},
		{"a dummy's children join another dummy of the same subject", []sortItem{
			threadItem(1, 1, "E", "n", "p1"),
			threadItem(2, 2, "E", "o", "p1"),
			threadItem(3, 3, "E", "q", "p2"),
			threadItem(4, 4, "E", "r", "p2"),
		}, "((1)(2)(3)(4))"},
		{"In-Reply-To when there are no References", []sortItem{
			threadItem(1, 1, "F", "s"),
			threadItem(2, 2, "something else", "t", "s"),
		}, "(1 2)"},
		{"a reference loop is not made", []sortItem{
			threadItem(1, 1, "G", "l1", "l2"),
			threadItem(2, 2, "H", "l2", "l1"),
		}, "(2 1)"},
		{"duplicate Message-ID: the second is a separate message", []sortItem{
			threadItem(1, 1, "I", "dup"),
			threadItem(2, 2, "J", "dup"),
			threadItem(3, 3, "K", "u", "dup"),
		}, "(1 3)(2)"},
		{"no Date: the internal date", []sortItem{
			threadItem(1, 0, "L", "v"),
			threadItem(2, 5, "M", "w"),
		}, "(2)(1)"},
		{"equal dates: mailbox order", []sortItem{
			threadItem(2, 1, "N", "x2"),
			threadItem(1, 1, "O", "x1"),
		}, "(1)(2)"},
		{"the last reference is the parent, replacing an earlier link", []sortItem{
			threadItem(1, 1, "P", "r1"),
			threadItem(2, 2, "P", "r2"),
			threadItem(3, 3, "Re: P", "r3", "r1", "r2"),
		}, "(1 2 3)"},
	}
	for _, tt := range tests {
		if got := threadString(references(tt.items)); got != tt.want {
			t.Errorf("%s: got %s, want %s", tt.name, got, tt.want)
		}
	}
}

// TestThreadOrderedSubject: RFC 5256 3's ORDEREDSUBJECT: by base subject,
// the first message (by sent date) the parent of all the others, threads in
// the order of their first messages.
func TestThreadOrderedSubject(t *testing.T) {
	items := []sortItem{
		threadItem(1, 5, "Lunch", "a"),
		threadItem(2, 2, "Re: lunch", "b"),
		threadItem(3, 3, "Budget", "c"),
		threadItem(4, 1, "[team] Lunch", "d"),
		threadItem(5, 4, "Fwd: budget", "e"),
		threadItem(6, 6, "Alone", "f"),
		threadItem(7, 7, "budget", "g"),
	}
	if got, want := threadString(orderedSubject(items)), "(4 (2)(1))(3 (5)(7))(6)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := threadString(orderedSubject(items[2:4])), "(4)(3)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
	if got, want := threadString(orderedSubject(items[1:4])), "(4 2)(3)"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}
