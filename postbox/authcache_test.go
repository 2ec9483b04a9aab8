package postbox_test

import (
	"context"
	"net/netip"
	"runtime/metrics"
	"testing"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/authguard"
	"github.com/sealpost/sealpost/internal/pwhash"
	"github.com/sealpost/sealpost/postbox"
)

// cacheEnv is a postbox whose login queue has one place, which the test
// can occupy: a login that needs a derivation then cannot finish, one
// that the cache answers can.
type cacheEnv struct {
	svc    *postbox.Service
	logins *authguard.Queue
}

func newCacheEnv(t *testing.T, cacheTime time.Duration) *cacheEnv {
	t.Helper()
	q := authguard.NewQueue(authguard.QueueOptions{Concurrency: 1})
	e := newEnvWith(t, postbox.Options{Params: pwhash.TestParams, Logins: q, AuthCacheTime: cacheTime})
	if _, err := e.svc.CreateAccount(context.Background(), "ann@example.org", "ann-password"); err != nil {
		t.Fatal(err)
	}
	return &cacheEnv{e.svc, q}
}

// blocked runs f while the login queue's one place is taken: f's context
// ends after 200 ms, so a login that waits for a derivation fails with
// Unavailable.
func (e *cacheEnv) blocked(t *testing.T, f func(ctx context.Context)) {
	t.Helper()
	hold, held := make(chan struct{}), make(chan struct{})
	go e.logins.Do(context.Background(), netip.Addr{}, func() error { close(held); <-hold; return nil })
	<-held
	defer close(hold)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	f(ctx)
}

// TestAuthCache: after the last session closes, the same password logs in
// (IMAP's Login, submission's Authenticate) without a derivation; another
// password does not; the cache ends at its time, at a password change and
// at the account's deletion.
func TestAuthCache(t *testing.T) {
	ctx := context.Background()
	e := newCacheEnv(t, time.Hour)
	s, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	e.blocked(t, func(ctx context.Context) {
		s, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
		if err != nil {
			t.Fatalf("a cached login waited for a derivation: %v", err)
		}
		s.Close()
		if _, err := e.svc.Authenticate(ctx, "ann@example.org", "ann-password"); err != nil {
			t.Fatalf("a cached AUTH waited for a derivation: %v", err)
		}
		_, err = e.svc.Login(ctx, "ann@example.org", "ann-passwore")
		if !errors.Is(errors.Unavailable, err) {
			t.Fatalf("a wrong password was answered without a derivation: %v", err)
		}
	})
	// A password change ends the cache: the old password fails, the new
	// one derives.
	if err := e.svc.ChangePassword(ctx, "ann@example.org", "ann-password", "new-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, "ann@example.org", "ann-password"); !errors.Is(errors.Permission, err) {
		t.Fatalf("old password after passwd: %v", err)
	}
	s, err = e.svc.Login(ctx, "ann@example.org", "new-password")
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := e.svc.DeleteAccount(ctx, "ann@example.org"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, "ann@example.org", "new-password"); !errors.Is(errors.Permission, err) {
		t.Fatalf("login to a deleted account: %v", err)
	}
}

// TestAuthCacheExpires: the cached keys go when the time runs out; with a
// zero time, at once.
func TestAuthCacheExpires(t *testing.T) {
	for _, d := range []time.Duration{0, 20 * time.Millisecond} {
		e := newCacheEnv(t, d)
		s, err := e.svc.Login(context.Background(), "ann@example.org", "ann-password")
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
		time.Sleep(d + 50*time.Millisecond)
		e.blocked(t, func(ctx context.Context) {
			_, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
			if !errors.Is(errors.Unavailable, err) {
				t.Errorf("cache time %v: a login after it ran out did not derive: %v", d, err)
			}
		})
	}
}

// TestUnknownAccountDerives: an unknown address costs a derivation too, so
// its failure takes a wrong password's time; both are Permission.
func TestUnknownAccountDerives(t *testing.T) {
	e := newCacheEnv(t, time.Hour)
	e.blocked(t, func(ctx context.Context) {
		for _, addr := range []string{"nobody@example.org", "ann@example.org"} {
			if _, err := e.svc.Login(ctx, addr, "guess"); !errors.Is(errors.Unavailable, err) {
				t.Errorf("Login %s did not wait for a derivation: %v", addr, err)
			}
			if _, err := e.svc.Authenticate(ctx, addr, "guess"); !errors.Is(errors.Unavailable, err) {
				t.Errorf("Authenticate %s did not wait for a derivation: %v", addr, err)
			}
		}
	})
	ctx := context.Background()
	for _, addr := range []string{"nobody@example.org", "ann@example.org"} {
		_, err := e.svc.Login(ctx, addr, "guess")
		_, err2 := e.svc.Authenticate(ctx, addr, "guess")
		if !errors.Is(errors.Permission, err) || !errors.Is(errors.Permission, err2) {
			t.Errorf("%s: %v, %v; want Permission", addr, err, err2)
		}
	}
}

// TestLoginQueueSource: a login's place in the queue is its client's
// address: a full line from one address refuses that address only.
func TestLoginQueueSource(t *testing.T) {
	q := authguard.NewQueue(authguard.QueueOptions{Concurrency: 1, PerSource: 1})
	svc := newEnvWith(t, postbox.Options{Params: pwhash.TestParams, Logins: q}).svc
	attacker := sealpost.WithClient(context.Background(), sealpost.Client{Source: netip.MustParseAddr("192.0.2.1")})
	hold, held := make(chan struct{}), make(chan struct{})
	go q.Do(context.Background(), netip.Addr{}, func() error { close(held); <-hold; return nil })
	<-held
	waiting := make(chan error)
	go func() { _, err := svc.Login(attacker, "nobody@example.org", "x"); waiting <- err }()
	for q.Waiting() != 1 {
		time.Sleep(time.Millisecond)
	}
	if _, err := svc.Login(attacker, "nobody@example.org", "x"); !errors.Is(errors.Unavailable, err) {
		t.Errorf("a second waiting login from a full line: %v", err)
	}
	other := sealpost.WithClient(context.Background(), sealpost.Client{Source: netip.MustParseAddr("192.0.2.2")})
	go func() { _, err := svc.Login(other, "nobody@example.org", "x"); waiting <- err }()
	for q.Waiting() != 2 {
		time.Sleep(time.Millisecond)
	}
	close(hold)
	for range 2 {
		if err := <-waiting; !errors.Is(errors.Permission, err) {
			t.Errorf("a waiting login ended with %v", err)
		}
	}
}

// forcedGCs is the number of garbage collections forced so far
// (runtime.GC, debug.FreeOSMemory).
func forcedGCs() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/forced:gc-cycles"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// waitForcedGC waits (a bounded time) for a forced collection after n.
func waitForcedGC(t *testing.T, n uint64) uint64 {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if m := forcedGCs(); m > n {
			return m
		}
	}
	t.Fatal("no memory release after the logins")
	return 0
}

// TestCachedLoginsReleaseMemory: logins the cache answers leave their
// checks' work areas (1 MiB each) as garbage; once they add up to a full
// derivation's memory, it goes back to the system after the logins go
// quiet (a forced collection), as after full derivations (issue 13: a
// burst of reconnects kept 160 MB resident).
func TestCachedLoginsReleaseMemory(t *testing.T) {
	ctx := context.Background()
	e := newCacheEnv(t, time.Hour)
	n := forcedGCs()
	s, err := e.svc.Login(ctx, "ann@example.org", "ann-password") // a full derivation
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	n = waitForcedGC(t, n)
	for range 3 { // TestParams' derivation is 64 KiB: one 1 MiB check is more
		s, err := e.svc.Login(ctx, "ann@example.org", "ann-password")
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
	waitForcedGC(t, n)
}
