package sieve

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"testing"
)

// concurrentScript exercises what a loaded script keeps for its runs: a
// :matches pattern's glob and regular expression (with match variables),
// a :regex key compiled at load, header and address lookups.
const concurrentScript = `require ["fileinto", "variables", "regex", "mailbox"];
if header :matches "subject" "*[ticket-*]*" { fileinto :create "Tickets/${2}"; stop; }
if header :regex "subject" "^invoice ([0-9]+)$" { fileinto :create "Invoices/${1}"; stop; }
if address :is :domain "from" "vendor.example.com" { fileinto :create "Vendors"; stop; }
if header :contains "list-id" "list.example.org" { fileinto :create "Lists"; stop; }
`

// TestConcurrentRuns: one compiled script run by many goroutines at once
// (as concurrent deliveries share an account's script) gives each message
// the plan a run alone gives it. Run it with -race.
func TestConcurrentRuns(t *testing.T) {
	s, err := Compile([]byte(concurrentScript))
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	for i := range 8 {
		headers = append(headers,
			fmt.Sprintf("From: A <a@b.example>\r\nSubject: Re: [Ticket-%d] broken\r\n\r\n", i),
			fmt.Sprintf("From: A <a@b.example>\r\nSubject: invoice %d\r\n\r\n", i),
			fmt.Sprintf("From: Vendor %d <v%d@vendor.example.com>\r\nSubject: hello\r\n\r\n", i, i),
			fmt.Sprintf("From: x%d@y.example\r\nList-Id: <list.example.org>\r\nSubject: news\r\n\r\n", i),
			fmt.Sprintf("From: \"Q\" <q%d@y.example>\r\nSubject: nothing\r\n\r\n", i),
		)
	}
	ctx := context.Background()
	want := make([]Plan, len(headers))
	for i, h := range headers {
		if want[i], err = s.Run(ctx, testEnv, testMessage(h, "body\r\n")); err != nil {
			t.Fatal(err)
		}
	}
	for i, box := range []string{"Tickets/0", "Invoices/0", "Vendors", "Lists", ""} {
		if got := want[i]; box == "" && !got.Keep || box != "" && (len(got.FileInto) != 1 || got.FileInto[0].Mailbox != box) {
			t.Fatalf("message %d alone: %+v, want %q", i, got, box)
		}
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for n := range 20 {
				i := (g*7 + n) % len(headers)
				got, err := s.Run(ctx, testEnv, testMessage(headers[i], "body\r\n"))
				if err != nil || !reflect.DeepEqual(got, want[i]) {
					t.Errorf("message %d: %+v %v, want %+v", i, got, err, want[i])
					return
				}
			}
		})
	}
	wg.Wait()
}
