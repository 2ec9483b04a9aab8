package managesieve

import (
	"context"
	"log/slog"

	msieve "github.com/migadu/go-managesieve/managesieve"
	"github.com/migadu/go-managesieve/managesieveserver"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/internal/netlimit"
)

// session is one connection's state: the account once logged in. The
// library calls its methods from the connection's goroutine only.
type session struct {
	srv      *Server
	conn     *managesieveserver.Conn
	log      *slog.Logger
	acct     Account // nil before login and after UNAUTHENTICATE
	failures int     // failed logins on this connection
}

var _ managesieveserver.SessionUnauthenticate = (*session)(nil)

// Close releases the account when the connection ends.
func (s *session) Close() error {
	s.release()
	return nil
}

func (s *session) release() {
	if s.acct != nil {
		s.acct.Close()
		s.acct = nil
	}
}

// AuthenticatePlain is SASL PLAIN (RFC 4616), which the library decodes
// (RFC 5804 2.1). We act only as the user who logs in: the authorization
// identity must be empty or that user (RFC 4616 2: empty means "derive it
// from the authentication identity").
func (s *session) AuthenticatePlain(ctx context.Context, authzid, user, password string) error {
	if s.failures >= s.srv.opts.MaxLoginFailures {
		return &managesieveserver.Error{Message: authFailed, Close: true}
	}
	if authzid != "" && authzid != user {
		s.log.Info("login refused: authorization identity is another user", "user", user)
		return &managesieveserver.Error{Message: msieve.Quote("Acting as another user is not allowed")}
	}
	ctx = sealpost.WithClient(ctx, sealpost.Client{
		Source: netlimit.AddrOf(s.conn.NetConn().RemoteAddr()), Service: sealpost.ServiceSieve})
	acct, err := s.srv.be.Login(ctx, user, password)
	if err != nil {
		return s.loginFailed(user, err)
	}
	s.acct = acct
	// Out of the listener's bounds on unauthenticated connections.
	netlimit.Promote(s.conn.NetConn())
	s.log.Debug("logged in", "user", user)
	return nil
}

// Unauthenticate (RFC 5804 2.14.1) closes the account; the connection may
// log in again. Our fork's patch 70.
func (s *session) Unauthenticate(ctx context.Context) error {
	s.release()
	return nil
}

func (s *session) ListScripts(ctx context.Context) ([]msieve.ScriptInfo, error) {
	list, err := s.acct.Scripts(ctx)
	if err != nil {
		return nil, s.fail(cmdList, err)
	}
	out := make([]msieve.ScriptInfo, len(list))
	for i, sc := range list {
		out[i] = msieve.ScriptInfo{Name: sc.Name, Active: sc.Active}
	}
	return out, nil
}

func (s *session) GetScript(ctx context.Context, name string) (string, error) {
	src, err := s.acct.GetScript(ctx, name)
	if err != nil {
		return "", s.fail(cmdGet, err)
	}
	return string(src), nil
}

// PutScript stores a script (RFC 5804 2.6). A new name is refused when the
// account already has MaxScripts scripts; the library has already refused
// a script over MaxScriptSize and a bad name.
func (s *session) PutScript(ctx context.Context, name, src string) (updated bool, err error) {
	exists, err := s.roomFor(ctx, cmdPut, name)
	if err != nil {
		return false, err
	}
	if err := s.acct.PutScript(ctx, name, []byte(src)); err != nil {
		return false, s.fail(cmdPut, err)
	}
	return exists, nil
}

// CheckScript compiles a script without storing it (RFC 5804 2.12).
func (s *session) CheckScript(ctx context.Context, src string) (warnings string, err error) {
	if err := s.acct.CheckScript(ctx, []byte(src)); err != nil {
		return "", s.fail(cmdCheck, err)
	}
	return "", nil
}

// SetActive (RFC 5804 2.8): "" deactivates.
func (s *session) SetActive(ctx context.Context, name string) error {
	if err := s.acct.SetActive(ctx, name); err != nil {
		return s.fail(cmdSetActive, err)
	}
	return nil
}

// DeleteScript (RFC 5804 2.10): "The server MUST NOT allow the client to
// delete an active script", checked here against the listing and by the
// Account (errors.Permission) against a concurrent SETACTIVE.
func (s *session) DeleteScript(ctx context.Context, name string) error {
	list, err := s.acct.Scripts(ctx)
	if err != nil {
		return s.fail(cmdDelete, err)
	}
	for _, sc := range list {
		if sc.Name == name && sc.Active {
			return activeScript()
		}
	}
	if err := s.acct.DeleteScript(ctx, name); err != nil {
		return s.fail(cmdDelete, err)
	}
	return nil
}

// RenameScript (RFC 5804 2.11.1); the library has checked the new name.
func (s *session) RenameScript(ctx context.Context, oldName, newName string) error {
	if err := s.acct.RenameScript(ctx, oldName, newName); err != nil {
		return s.fail(cmdRename, err)
	}
	return nil
}

// HaveSpace (RFC 5804 2.5); the library has refused sizes over
// MaxScriptSize.
func (s *session) HaveSpace(ctx context.Context, name string, size int64) error {
	if _, err := s.roomFor(ctx, cmdHaveSpace, name); err != nil {
		return err
	}
	if err := s.acct.HaveSpace(ctx, name, size); err != nil {
		return s.fail(cmdHaveSpace, err)
	}
	return nil
}

// roomFor reports whether the account has a script called name, and
// refuses a new one when the account has MaxScripts already (RFC 5804
// 1.3: QUOTA/MAXSCRIPTS).
func (s *session) roomFor(ctx context.Context, cmd command, name string) (exists bool, err error) {
	list, err := s.acct.Scripts(ctx)
	if err != nil {
		return false, s.fail(cmd, err)
	}
	for _, sc := range list {
		if sc.Name == name {
			return true, nil
		}
	}
	if len(list) >= s.srv.opts.MaxScripts {
		return false, tooManyScripts()
	}
	return false, nil
}
