package server

import (
	"runtime"

	"github.com/sealpost/sealpost/config"
	"github.com/sealpost/sealpost/internal/authguard"
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
	s.logins = authguard.NewQueue(authguard.QueueOptions{Concurrency: n, PerSource: a.QueuePerSource, Total: a.QueueTotal})
	s.guard = authguard.NewGuard(authguard.Options{
		SourceFree: a.SourceFree, AccountFree: a.AccountFree,
		MaxDelay: a.MaxDelay.D(), Forget: a.Forget.D(),
		Log: s.log.With("component", "authguard"),
	})
}
