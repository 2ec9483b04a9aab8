package server

import (
	"context"
	"runtime"

	"github.com/sealpost/sealpost"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/internal/authguard"
	"github.com/sealpost/sealpost/web"
)

// loginBounds are the process's one login queue, which every region's
// postbox derives passwords in, and its one Guard, which every password
// check through the router (IMAP, submission, the owner's web sign-in)
// and the web app's own (officers) wait out and count toward.
func (s *Server) loginBounds(a config.Auth) {
	n := a.Concurrency
	if n == 0 {
		n = min(runtime.NumCPU(), 4)
	}
	s.logins = authguard.NewQueue(authguard.QueueOptions{Concurrency: n, PerSource: a.QueuePerSource, Total: a.QueueTotal,
		Waited: s.loginWaited()})
	s.guard = authguard.NewGuard(authguard.Options{
		SourceFree: a.SourceFree, AccountFree: a.AccountFree,
		MaxDelay: a.MaxDelay.D(), Forget: a.Forget.D(),
		Log: s.log.With("component", "authguard"),
	})
}

// webThrottle is the web app's Throttle. An owner's password goes to the
// router, whose Guard and queue take the client from the context; an
// officer's is checked by the legal store, here through the same Guard
// and queue.
func (s *Server) webThrottle() web.Throttle {
	return web.ThrottleFunc(func(ctx context.Context, a web.Attempt, check func(context.Context) error) error {
		svc := sealpost.ServiceWeb
		if a.Login == web.LoginOfficerAPI || a.Login == web.LoginOwnerAPI {
			svc = sealpost.ServiceAPI
		}
		ctx = sealpost.WithClient(ctx, sealpost.Client{Source: a.Source, Service: svc})
		switch a.Login {
		case web.LoginOwner, web.LoginOwnerMove, web.LoginOwnerAPI, web.LoginOwnerFilter:
			return check(ctx)
		}
		return s.guard.Check(ctx, authguard.Attempt{Service: string(a.Login), Source: a.Source, Account: a.Account},
			func(ctx context.Context) error {
				return s.logins.Do(ctx, a.Source, func() error { return check(ctx) })
			})
	})
}
