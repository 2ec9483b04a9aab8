package server

import (
	"context"
	"net/netip"
	"testing"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/web"
)

// TestWebThrottle: officers' failed sign-ins count toward the one Guard;
// an owner's check runs with the client in its context (the router's
// Guard and queue take it from there) and is not counted twice here.
func TestWebThrottle(t *testing.T) {
	s := &Server{log: mlog.Discard()}
	s.loginBounds(config.DefaultAuth)
	th := s.webThrottle()
	ctx := context.Background()
	src := netip.MustParseAddr("192.0.2.9")
	wrong := func(context.Context) error { return errors.E("test", errors.Permission) }
	for range 4 {
		th.Check(ctx, web.Attempt{Login: web.LoginConsole, Source: src, Account: "officer-1"}, wrong)
	}
	if d := s.guard.Delay(src, "someone-else"); d == 0 {
		t.Error("four failed officer sign-ins from one address earned no delay")
	}
	owner := netip.MustParseAddr("198.51.100.1")
	for range 10 {
		err := th.Check(ctx, web.Attempt{Login: web.LoginOwner, Source: owner, Account: "ann@example.org"}, func(ctx context.Context) error {
			if c := sealpost.ClientFrom(ctx); c.Source != owner || c.Service != sealpost.ServiceWeb {
				t.Errorf("the owner's check runs with client %+v", c)
			}
			return errors.E("test", errors.Permission)
		})
		if !errors.Is(errors.Permission, err) {
			t.Fatal(err)
		}
	}
	if d := s.guard.Delay(owner, "x"); d != 0 {
		t.Errorf("owner checks were counted by the web throttle as well as the router: %v", d)
	}
}
