package imapserver

import (
	"context"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/netlimit"
	"github.com/sealpost/sealpost/postbox"
)

// delim is the hierarchy delimiter, the one postbox uses.
const delim = '/'

// session is one IMAP connection's state. go-imap calls its methods from the
// connection's goroutine, one at a time, except Idle, which runs beside the
// goroutine reading DONE; Close waits for it.
type session struct {
	srv    *Server
	conn   *goimap.Conn
	ctx    context.Context // canceled when the connection ends
	cancel context.CancelFunc
	log    *slog.Logger

	ps       *postbox.Session // nil until login
	failures int              // failed logins

	sel  *selected  // nil unless a mailbox is selected
	mu   sync.Mutex // orders the start of Idle against Close
	idle sync.WaitGroup

	closeOnce sync.Once

	sortKeys keyCache // SORT and THREAD keys, plaintext in memory only (sortkeys.go)
}

var (
	_ goimap.SessionIMAP4rev2      = (*session)(nil)
	_ goimap.SessionAppendLimit    = (*session)(nil)
	_ goimap.SessionUnauthenticate = (*session)(nil)
	_ goimap.SessionNamespace      = (*session)(nil)
	_ goimap.SessionMove           = (*session)(nil)
	_ goimap.SessionCondStore      = (*session)(nil)
)

// Login unlocks the account's keys for this session. A wrong address and a
// wrong password both give NO [AUTHENTICATIONFAILED]; after
// Options.MaxLoginFailures the connection is closed.
func (s *session) Login(username, password string) error {
	if s.failures >= s.srv.opts.MaxLoginFailures {
		// No more guesses on this connection. (Bye cannot be called
		// here: during AUTHENTICATE go-imap holds the encoder.)
		s.conn.NetConn().Close()
		return goimap.ErrAuthFailed
	}
	ctx := sealpost.WithClient(s.ctx, sealpost.Client{
		Source: netlimit.AddrOf(s.conn.NetConn().RemoteAddr()), Service: sealpost.ServiceIMAP})
	ps, err := s.srv.svc.Login(ctx, username, password)
	if errors.Is(errors.Permission, err) {
		s.failures++
		s.log.Info("login failed", "user", logName(username), "failures", s.failures)
		if s.failures >= s.srv.opts.MaxLoginFailures {
			// Say BYE after the tagged NO, which go-imap writes as
			// soon as Login returns; Bye then waits for the encoder.
			time.AfterFunc(200*time.Millisecond, func() { s.conn.Bye("Too many failed logins") })
		}
		return goimap.ErrAuthFailed
	}
	if err != nil {
		return s.fail("login", err, false)
	}
	s.ps = ps
	netlimit.Promote(s.conn.NetConn()) // out of the listener's unauthenticated bounds
	s.log = newSessionLogger(s.srv.log, s.conn.NetConn().RemoteAddr().String(), ps.Account().ID)
	s.log.Debug("logged in")
	return nil
}

// logName bounds what a client's name may add to a log line.
func logName(name string) string {
	if len(name) > 254 { // RFC 5321 4.5.3.1.3: the longest path
		return name[:254] + "..."
	}
	return name
}

// Unauthenticate (RFC 8437) forgets the keys and returns to the
// not-authenticated state.
func (s *session) Unauthenticate() error {
	s.unselect()
	s.sortKeys.reset()
	if s.ps != nil {
		s.ps.Close()
		s.ps = nil
	}
	return nil
}

// Close releases the selected mailbox and forgets the keys. go-imap calls it
// when the connection ends, however it ends.
func (s *session) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.cancel()
		s.mu.Unlock()
		s.idle.Wait()
		s.Unauthenticate()
		s.srv.sessionClosed()
	})
	return nil
}

// AppendLimit implements goimap.SessionAppendLimit (RFC 7889).
func (s *session) AppendLimit() uint32 { return s.srv.opts.AppendLimit }

// Namespace returns the one personal namespace (RFC 2342).
func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: "", Delim: delim}}}, nil
}

// Create creates a mailbox and any missing parents (RFC 9051 6.3.4),
// unsubscribed: subscribing is SUBSCRIBE's (RFC 3501 6.3.6); with a special
// use if asked (CREATE-SPECIAL-USE, RFC 6154 3).
func (s *session) Create(name string, options *imap.CreateOptions) error {
	use, err := createUse(options) // RFC 6154 3, specialuse.go
	if err == nil {
		err = s.useTaken(use)
	}
	if err != nil {
		return err
	}
	if err := s.ps.CreateMailboxUnsubscribed(s.ctx, canonName(name), use); err != nil {
		return s.fail("create", err, false)
	}
	return nil
}

// Delete deletes a mailbox; its children, if any, remain (RFC 9051 6.3.5).
func (s *session) Delete(name string) error {
	name = canonName(name)
	if name == "INBOX" {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "INBOX cannot be deleted"}
	}
	if err := s.ps.DeleteMailbox(s.ctx, name); err != nil {
		return s.fail("delete", err, false)
	}
	return nil
}

// Rename renames a mailbox and its children (RFC 9051 6.3.6).
func (s *session) Rename(from, to string, _ *imap.RenameOptions) error {
	from, to = canonName(from), canonName(to)
	if from == to {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeAlreadyExists, Text: "Mailbox already exists"}
	}
	if strings.HasPrefix(to, from+string(delim)) {
		return &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Cannot move a mailbox into itself"}
	}
	if err := s.ps.RenameMailbox(s.ctx, from, to); err != nil {
		return s.fail("rename", err, false)
	}
	return nil
}

// Subscribe subscribes to an existing mailbox.
func (s *session) Subscribe(name string) error {
	if err := s.ps.Subscribe(s.ctx, canonName(name), true); err != nil {
		return s.fail("subscribe", err, false)
	}
	return nil
}

// Unsubscribe removes a subscription.
func (s *session) Unsubscribe(name string) error {
	if err := s.ps.Subscribe(s.ctx, canonName(name), false); err != nil {
		return s.fail("unsubscribe", err, false)
	}
	return nil
}

// Status reports a mailbox's counts (RFC 9051 6.3.11); every item go-imap
// may write is filled in.
func (s *session) Status(name string, options *imap.StatusOptions) (*imap.StatusData, error) {
	st, err := s.ps.Stats(s.ctx, canonName(name))
	if err != nil {
		return nil, s.fail("status", err, false)
	}
	return s.statusData(st), nil
}

func (s *session) statusData(st postbox.MailboxStats) *imap.StatusData {
	// RFC 9208 4.2: what an EXPUNGE would free, in the STORAGE resource's
	// unit (KiB), rounded up as the quota's usage is.
	deletedKiB := (st.DeletedSize + 1023) / 1024
	limit := s.srv.opts.AppendLimit
	return &imap.StatusData{
		Mailbox:        st.Info.Name,
		NumMessages:    &st.Messages,
		NumUnseen:      &st.Unseen,
		NumDeleted:     &st.Deleted,
		Size:           &st.Size,
		NumRecent:      &st.Recent,            // RFC 3501 6.3.10
		HighestModSeq:  st.Info.HighestModSeq, // RFC 7162 3.1.6
		UIDNext:        imap.UID(st.Info.UIDNext),
		UIDValidity:    st.Info.UIDValidity,
		AppendLimit:    &limit,
		DeletedStorage: &deletedKiB,
	}
}

// Append stores a message (RFC 9051 6.3.12) and returns its APPENDUID
// (RFC 4315). go-imap has already refused a literal over AppendLimit.
// The literal is read into a seal.Temp as it arrives (see appendLiteral)
// and sealed from there, so a session holds a small buffer whatever the
// literal's size.
func (s *session) Append(name string, r imap.LiteralReader, options *imap.AppendOptions) (*imap.AppendData, error) {
	m, release, err := s.appendMessage(r)
	if err != nil {
		return nil, err
	}
	defer release()
	flags, err := storeFlags(options.Flags)
	if err != nil {
		return nil, err
	}
	info, msg, err := s.ps.Append(s.ctx, canonName(name), m, flags, options.Time)
	if err != nil {
		return nil, s.fail("append", err, true)
	}
	return &imap.AppendData{UIDValidity: info.UIDValidity, UID: imap.UID(msg.UID)}, nil
}

// storeFlags converts client flags for storage, dropping duplicates and
// \Recent, which only the server may set (RFC 3501 2.3.2). Another flag
// starting with a backslash is not a system flag: BAD.
func storeFlags(flags []imap.Flag) ([]sealpost.Flag, error) {
	out := make([]sealpost.Flag, 0, len(flags))
	for _, f := range flags {
		if strings.HasPrefix(string(f), `\`) {
			switch {
			case strings.EqualFold(string(f), `\Recent`):
				continue
			case !slices.ContainsFunc(systemFlags, func(sf imap.Flag) bool { return strings.EqualFold(string(sf), string(f)) }):
				return nil, &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug,
					Text: "Unknown system flag " + string(f)}
			}
		}
		if !sealpost.HasFlag(out, sealpost.Flag(f)) {
			out = append(out, sealpost.Flag(f))
		}
	}
	return out, nil
}

// canonName spells INBOX, and the INBOX prefix of its children, in upper
// case: the name is case-insensitive (RFC 9051 5.1).
func canonName(name string) string {
	first, rest, ok := strings.Cut(name, string(delim))
	if !strings.EqualFold(first, "INBOX") {
		return name
	}
	if ok {
		return "INBOX" + string(delim) + rest
	}
	return "INBOX"
}

// fail maps a postbox error to an IMAP response (RFC 5530 codes); target
// says the mailbox was the destination of COPY, MOVE or APPEND, which asks
// for TRYCREATE. Detail goes to the log, never to the client.
func (s *session) fail(op string, err error, target bool) error {
	resp := &imap.Error{Type: imap.StatusResponseTypeNo}
	level := slog.LevelDebug
	switch errors.KindOf(err) {
	case errors.NotExist:
		resp.Code, resp.Text = imap.ResponseCodeNonExistent, "No such mailbox"
		if target {
			resp.Code = imap.ResponseCodeTryCreate
		}
	case errors.Exist:
		resp.Code, resp.Text = imap.ResponseCodeAlreadyExists, "Mailbox already exists"
	case errors.Permission:
		resp.Code, resp.Text = imap.ResponseCodeNoPerm, "Permission denied"
	case errors.TooLarge:
		resp.Code, resp.Text = imap.ResponseCodeTooBig, "Message too large"
	case errors.OverQuota:
		resp.Code, resp.Text = quotaCode(op)
	case errors.Invalid:
		resp.Code, resp.Text = imap.ResponseCodeCannot, "Invalid name or request"
	case errors.Sealed:
		resp.Code, resp.Text = imap.ResponseCodeUnavailable, "Message is sealed to an earlier key; the recovery code opens it"
	case errors.Unavailable:
		resp.Code, resp.Text = imap.ResponseCodeUnavailable, "Temporarily unavailable, try again"
		level = slog.LevelWarn
	default:
		resp.Code, resp.Text = imap.ResponseCodeServerBug, "Internal error"
		level = slog.LevelError
		if errors.IsErr(err, syscall.ENOSPC) || errors.IsErr(err, syscall.EDQUOT) {
			// A full disk is the server's transient condition, not a
			// bug, and not the user's quota ([OVERQUOTA]): RFC 5530's
			// UNAVAILABLE ("temporary failure because a subsystem is
			// down") tells the client to try again later, as SMTP's
			// 451 does; [LIMIT] would say retrying cannot help.
			resp.Code, resp.Text = imap.ResponseCodeUnavailable, "Server storage is full, try again later"
		}
	}
	if s.ctx.Err() != nil {
		level = slog.LevelDebug // the connection is gone
	}
	s.log.Log(context.Background(), level, "command failed", "op", op, "err", err)
	return resp
}

// noSelected is returned when a selected-state method runs without a
// mailbox; go-imap's state machine prevents it, this is defense in depth.
var noSelected = &imap.Error{Type: imap.StatusResponseTypeBad, Code: imap.ResponseCodeClientBug, Text: "No mailbox selected"}

// errClosing ends a command cut short because the server is shutting down.
var errClosing = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeUnavailable, Text: "Server shutting down"}

var readOnlyErr = &imap.Error{Type: imap.StatusResponseTypeNo, Code: imap.ResponseCodeCannot, Text: "Mailbox is read-only"}
