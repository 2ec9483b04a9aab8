package netlimit

import (
	"bufio"
	"testing"
	"time"
)

// Stats counts what Accept saw: connections taken, refused by their
// reason, open, and authenticated (promoted) until they close.
func TestStats(t *testing.T) {
	l := listen(t, Options{Name: "imap", PerSource: 2, PreAuthPerSource: 1})
	a := dialFrom(t, l, "127.0.0.2")
	if !open(t, a) {
		t.Fatal("first connection closed")
	}
	// The second from the source waits unauthenticated: refused (preauth).
	if ok, _ := refused(t, dialFrom(t, l, "127.0.0.2")); !ok {
		t.Fatal("second unauthenticated connection taken")
	}
	a.Write([]byte("auth\n"))
	a.SetReadDeadline(time.Now().Add(5 * time.Second))
	if line, err := bufio.NewReader(a).ReadString('\n'); err != nil || line != "ok\n" {
		t.Fatalf("auth: %q %v", line, err)
	}
	b := dialFrom(t, l, "127.0.0.2")
	if !open(t, b) {
		t.Fatal("connection after promotion closed")
	}
	// The third at once from the source: refused (per source).
	if ok, _ := refused(t, dialFrom(t, l, "127.0.0.2")); !ok {
		t.Fatal("third connection taken")
	}
	st := l.Stats()
	want := Stats{Open: 2, Authed: 1, Accepted: 2}
	want.Refused[RefusedPreAuth], want.Refused[RefusedSource] = 1, 1
	if st != want {
		t.Fatalf("Stats %+v, want %+v", st, want)
	}
	a.Close()
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Authed != 0 || l.Stats().Open != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after the authenticated one closed: %+v", l.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for i := range NumRefused + 1 {
		if RefusedName(i) == "" {
			t.Errorf("reason %d has no name", i)
		}
	}
}
