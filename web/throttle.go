package web

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// This file is where the app's password checks meet the server's login
// throttle: every check of a password the web app makes (the console's and
// the privacy page's sign-in, the password a mailbox move or a change of
// the mail filter asks again, HTTP Basic on the API) runs through
// Server.throttle, with the address the request came from. Nothing else in
// the package checks a password.

// A Login names where a password was given.
type Login string

// The logins of the app.
const (
	LoginConsole     Login = "web.console"      // an officer signing in to /console
	LoginOwner       Login = "web.owner"        // an owner signing in to /me
	LoginOwnerMove   Login = "web.owner.move"   // a signed-in owner giving the password again to move the mailbox
	LoginOwnerFilter Login = "web.owner.filter" // a signed-in owner giving the password again to change the mail filter
	LoginOfficerAPI  Login = "web.api.officer"  // an officer's HTTP Basic on /api/v1/ (every request)
	LoginOwnerAPI    Login = "web.api.owner"    // an owner's HTTP Basic on /api/v1/me/notices
)

// An Attempt is one password check: where, from which address, as whom.
// It never holds the password.
type Attempt struct {
	Login Login
	// Source is the TCP peer of the request (http.Request.RemoteAddr),
	// an IPv4 address unmapped from IPv6; never taken from a header
	// (X-Forwarded-For, Forwarded) a client could set. It is the zero
	// Addr only if RemoteAddr is not an address and port (it always is
	// for a request net/http serves from a TCP listener).
	Source netip.Addr
	// Account is the name or address given: an officer's name exactly
	// as typed, as the legal store looks it up (LoginConsole,
	// LoginOfficerAPI); an address normalized by
	// sealpost.NormalizeAddress (LoginOwner, LoginOwnerAPI), the signed-in
	// owner's (LoginOwnerMove, LoginOwnerFilter). It may name no account at all.
	Account string
}

// A Throttle stands around every password check of the app, so that the
// server can queue checks fairly and slow down or refuse a source address
// or an account after failures (as fail2ban or Dovecot's auth penalty do).
//
// Check either runs check, the password check of a, exactly once and
// returns what it returned, or refuses a without running check. It may
// wait before either (ctx, the request's context, bounds the wait; the
// client may have gone). It may run check on any goroutine, but returns
// only after check has returned, check's effects visible to its caller.
//
// What check returns, and so what the Throttle sees:
//   - nil: the password is right. (check is the password check and
//     little else: at most a read of what the request asked for, as the
//     owner API's notices; never a long task such as a move.)
//   - an error of kind errors.Permission: the password is wrong, or no
//     such account exists. The two are never told apart, nor by time
//     (the check behind does the same work for both): a failed attempt.
//   - any other error (errors.Unavailable when the store or a region is
//     down): not a failed attempt; the password may or may not have
//     been right.
//
// What Check returns when it refuses without running check, and what the
// app answers:
//   - an error of kind errors.Unavailable: "try again later". The app
//     answers 503 Service Unavailable with Retry-After (RFC 9110 10.2.3):
//     the delay the error gives if it (or an error it wraps) is a
//     Delayed, else 30 s; rounded up to whole seconds, within [1 s, 1 h].
//   - an error of kind errors.Permission: "as if the password were
//     wrong". The app answers exactly as to a wrong password, byte for
//     byte, so that a client cannot tell a refusal from a wrong guess.
//   - any other error: 503 as for Unavailable, the error logged.
//
// A Throttle must treat an unknown account exactly as a known one (same
// refusals, same delays), so that its answers tell nothing about which
// accounts exist; it logs its own refusals (the app does not), never with
// the password. It is called from many goroutines at once.
type Throttle interface {
	Check(ctx context.Context, a Attempt, check func(context.Context) error) error
}

// Delayed is what an error from a Throttle's refusal may implement (errors.As
// finds it anywhere in the chain) to say how long the client should wait
// before trying again.
type Delayed interface {
	error
	RetryAfter() time.Duration
}

// The Retry-After of a throttled attempt: when the refusal gives no delay,
// and at most.
const (
	defaultRetryAfter = 30 * time.Second
	maxRetryAfter     = time.Hour
)

// ThrottleFunc is a function that is a Throttle.
type ThrottleFunc func(ctx context.Context, a Attempt, check func(context.Context) error) error

// Check calls f.
func (f ThrottleFunc) Check(ctx context.Context, a Attempt, check func(context.Context) error) error {
	return f(ctx, a, check)
}

// noThrottle is the default: every check runs at once.
var noThrottle = ThrottleFunc(func(ctx context.Context, _ Attempt, check func(context.Context) error) error {
	return check(ctx)
})

// SetThrottle makes every password check of the app run through t (none,
// nil, by default). Call it once, before serving.
func (s *Server) SetThrottle(t Throttle) {
	if t == nil {
		t = noThrottle
	}
	s.throttle = t
}

// checkPassword runs check, the password check of account at login, through
// the throttle, with r's source address. A check failing with NotExist
// (no such account) fails as Permission, so that the throttle and the
// answer see the same failure as for a wrong password.
func (s *Server) checkPassword(r *http.Request, login Login, account string, check func(context.Context) error) error {
	a := Attempt{Login: login, Source: source(r), Account: account}
	return s.throttle.Check(r.Context(), a, func(ctx context.Context) error {
		err := check(ctx)
		if errors.Is(errors.NotExist, err) {
			return errors.E("web.checkPassword", errors.Permission, err)
		}
		return err
	})
}

// source is the address r came from: the TCP peer, never a header a client
// could set.
func source(r *http.Request) netip.Addr {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

// retryLater sets w's Retry-After for a refusal err (see Throttle).
func retryLater(w http.ResponseWriter, err error) {
	d := defaultRetryAfter
	var delayed Delayed
	if errors.As(err, &delayed) {
		d = delayed.RetryAfter()
	}
	d = min(max(d, time.Second), maxRetryAfter)
	secs := int64((d + time.Second - 1) / time.Second)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}
