package imapserver

import (
	"context"
	"log/slog"

	"github.com/sealpost/sealpost"
)

// sessionHandler is a session's log handler: the server's, with the
// client's address and, once logged in, the account added to each record
// as it is logged. slog's Logger.With formats them ahead into a copy of the
// handler, about half a kilobyte for each connection, most of which never
// log a line (issue 13: thousands of idle IDLE connections).
type sessionHandler struct {
	slog.Handler // the server's
	remote       string
	account      sealpost.AccountID // 0 before login
}

func newSessionLogger(base *slog.Logger, remote string, account sealpost.AccountID) *slog.Logger {
	return slog.New(&sessionHandler{Handler: base.Handler(), remote: remote, account: account})
}

func (h *sessionHandler) attrs() []slog.Attr {
	as := []slog.Attr{slog.String("remote", h.remote)}
	if h.account != 0 {
		as = append(as, slog.Int64("account", int64(h.account)))
	}
	return as
}

func (h *sessionHandler) Handle(ctx context.Context, r slog.Record) error {
	r = r.Clone()
	r.AddAttrs(h.attrs()...)
	return h.Handler.Handle(ctx, r)
}

func (h *sessionHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return h.Handler.WithAttrs(append(h.attrs(), as...))
}

func (h *sessionHandler) WithGroup(name string) slog.Handler {
	return h.Handler.WithAttrs(h.attrs()).WithGroup(name)
}
