package managesieve

import (
	"context"
	"log/slog"

	msieve "github.com/migadu/go-managesieve/managesieve"
	"github.com/migadu/go-managesieve/managesieveserver"

	"github.com/sealpost/sealpost/errors"
)

// command names a command in the log and picks the reply for a kind.
type command string

const (
	cmdList      command = "LISTSCRIPTS"
	cmdGet       command = "GETSCRIPT"
	cmdPut       command = "PUTSCRIPT"
	cmdCheck     command = "CHECKSCRIPT"
	cmdSetActive command = "SETACTIVE"
	cmdDelete    command = "DELETESCRIPT"
	cmdRename    command = "RENAMESCRIPT"
	cmdHaveSpace command = "HAVESPACE"
)

// authFailed is the one reply to a failed login, whatever failed (a wrong
// password, an unknown address, a failure while opening the account), so
// that it never tells whether the account exists. Uncoded messages are
// written as given: quoted here (RFC 5804 4: resp-text is a quoted string).
const authFailed = `"Authentication failed"`

// maxInvalidText bounds the text of an errors.Invalid error sent to the
// client (a compile error names the line and what was wrong there).
const maxInvalidText = 1000

// loginFailed maps a failed Backend.Login to its reply. Wrong passwords
// count towards MaxLoginFailures, after which the connection is closed
// (the library also counts every failed login towards MaxErrors). A
// throttled attempt (errors.Unavailable: the login throttle refused to
// queue it) is told to come back later; throttling is per source and per
// name, whether or not the account exists, so this tells nothing either.
func (s *session) loginFailed(user string, err error) error {
	switch errors.KindOf(err) {
	case errors.Permission:
		s.failures++
		s.log.Info("login failed", "user", user, "failures", s.failures)
		return &managesieveserver.Error{Message: authFailed, Close: s.failures >= s.srv.opts.MaxLoginFailures}
	case errors.Unavailable:
		s.log.Warn("login refused for now", "user", user, "err", err)
		return &managesieveserver.Error{Code: "TRYLATER", Message: "Authentication failed, try again later"}
	}
	s.log.Error("login failed", "user", user, "err", err)
	return &managesieveserver.Error{Message: authFailed}
}

// fail maps an Account's error to its reply (RFC 5804 1.3 response codes),
// as the Account contract lists. Only an errors.Invalid error's text
// reaches the client; everything else is a fixed text, the error itself
// going to the log.
func (s *session) fail(cmd command, err error) error {
	level, resp := slog.LevelDebug, &managesieveserver.Error{}
	switch errors.KindOf(err) {
	case errors.Invalid:
		text := invalidText(err)
		if text == "" {
			text = "Invalid script or script name"
		}
		// Uncoded: written as given, so quoted here, after control
		// characters (a script's own bytes echoed in a compile error)
		// are made spaces so they cannot forge a response line.
		return &managesieveserver.Error{Message: msieve.Quote(msieve.SanitizeText(text))}
	case errors.NotExist:
		resp.Code, resp.Message = "NONEXISTENT", "No such script"
	case errors.Exist:
		resp.Code, resp.Message = "ALREADYEXISTS", "A script with that name already exists"
	case errors.OverQuota:
		return tooManyScripts()
	case errors.TooLarge:
		resp.Code, resp.Message = "QUOTA/MAXSIZE", "Script too large"
	case errors.Permission:
		if cmd == cmdDelete {
			return activeScript()
		}
		resp.Message = `"Permission denied"`
		level = slog.LevelWarn
	case errors.Unavailable:
		resp.Code, resp.Message = "TRYLATER", "Temporarily unavailable, try again"
		level = slog.LevelWarn
	default:
		resp.Message = `"Internal error"`
		level = slog.LevelError
	}
	s.log.Log(context.Background(), level, "command failed", "cmd", string(cmd), "err", err)
	return resp
}

// tooManyScripts is RFC 5804 1.3's QUOTA/MAXSCRIPTS.
func tooManyScripts() error {
	return &managesieveserver.Error{Code: "QUOTA/MAXSCRIPTS", Message: "Too many scripts, or no space left for scripts"}
}

// activeScript refuses to delete the active script (RFC 5804 2.10, 1.3).
func activeScript() error {
	return &managesieveserver.Error{Code: "ACTIVE", Message: "The active script cannot be deleted"}
}

// invalidText is the innermost cause of an errors.Invalid error, the text
// meant for the owner (the Account contract), bounded.
func invalidText(err error) string {
	for {
		e, ok := err.(*errors.Error)
		if !ok {
			break
		}
		if e.Err == nil {
			return ""
		}
		err = e.Err
	}
	text := err.Error()
	if len(text) > maxInvalidText {
		text = text[:maxInvalidText] + "..."
	}
	return text
}
