// Package imapserver is Sealpost's IMAP server (RFC 9051 IMAP4rev2 and RFC
// 3501 IMAP4rev1). It owns the protocol session: login, which unlocks the
// owner's keys in a postbox.Session for as long as the connection lasts;
// the selected mailbox's view (sequence numbers over the shared
// postbox.Mailbox tracker); and the translation of FETCH, SEARCH, STORE,
// COPY, MOVE and EXPUNGE into postbox calls.
//
// It is built on go-imap v2's imapserver, which parses commands and writes
// responses. Message bytes are served exactly as stored: sections are
// slices of the decrypted message (section.go), never re-serialized. Bodies
// are decrypted by a pipeline of workers ahead of the response writer
// (fetch.go), and SEARCH decrypts only when a criterion needs the content
// (search.go).
//
// A message sealed to a key generation this session cannot open (after an
// administrator's password reset) is served as a short generated text/plain
// message saying so and pointing to the recovery code (sealed.go), so that
// clients keep working; its RFC822.SIZE is the placeholder's size.
//
// Extensions: IMAP4rev2, NAMESPACE, UIDPLUS, ESEARCH, SEARCHRES,
// LIST-EXTENDED, LIST-STATUS, SPECIAL-USE, CHILDREN, MOVE, STATUS=SIZE,
// BINARY, UNSELECT, UNAUTHENTICATE, ENABLE, IDLE, SASL-IR, LITERAL+ (go-imap
// advertises LITERAL- before login), APPENDLIMIT and QUOTA (quota.go); ID
// (id.go), SORT, SORT=DISPLAY and ESORT (sort.go), THREAD=ORDEREDSUBJECT
// and THREAD=REFERENCES (thread.go), whose keys come from the decrypted
// headers and are cached in the session's memory (sortkeys.go),
// COMPRESS=DEFLATE (compress.go), MULTIAPPEND (multiappend.go),
// CREATE-SPECIAL-USE (specialuse.go), PREVIEW (preview.go) and SAVEDATE
// (savedate.go), parsed by our fork's patches 30-36.
// LOGIN and AUTHENTICATE PLAIN need TLS (implicit, or after STARTTLS):
// before it go-imap advertises LOGINDISABLED. CONDSTORE and QRESYNC come
// with our fork's patch 10.
//
// go-imap recovers a panic in a connection's goroutine (logging it, closing
// that connection, and still calling Session.Close); the decryption workers
// started here recover their own. go-imap leaves read-only enforcement to
// the session (go-imap issue 672): EXAMINE refuses STORE, EXPUNGE and MOVE
// here, does not set \Seen, and its CLOSE expunges nothing.
package imapserver

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"math"
	"net"
	"os"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	goimap "github.com/emersion/go-imap/v2/imapserver"

	"github.com/sealpost/sealpost/mlog"
	"github.com/sealpost/sealpost/postbox"
)

// Options configures a Server.
type Options struct {
	// TLSConfig enables STARTTLS. For implicit TLS (port 993) the caller
	// passes a tls.Listener to Serve instead (and may leave this nil).
	TLSConfig *tls.Config
	// Logger receives structured logs; never message content or secrets.
	Logger *slog.Logger
	// AppendLimit bounds an APPEND in bytes (0: the postbox's
	// MaxMessageSize). Advertised as APPENDLIMIT (RFC 7889).
	AppendLimit uint32
	// InsecureAuth allows LOGIN and AUTHENTICATE without TLS. Tests only.
	InsecureAuth bool
	// Workers is the number of messages decrypted in parallel by FETCH
	// and SEARCH (0: GOMAXPROCS).
	Workers int
	// MaxLoginFailures closes a connection after that many failed logins
	// (0: 3).
	MaxLoginFailures int
	// TempDir is where an APPEND literal waits, encrypted under a key held
	// only in memory, until it is sealed (seal.Temp): in unnamed files, so
	// nothing is left there after a crash. Default: os.TempDir().
	TempDir string
}

// Backend is what the IMAP server needs from the postbox: a region's
// *postbox.Service, or a region.Router that logs each owner in at their home
// region.
type Backend interface {
	// MaxMessageSize is the largest message the backend stores.
	MaxMessageSize() int64
	// Login checks the password and opens the owner's session.
	Login(ctx context.Context, addr, password string) (*postbox.Session, error)
}

var _ Backend = (*postbox.Service)(nil)

// Server serves IMAP over the postbox of one region, or of several through
// a router.
type Server struct {
	svc  Backend
	opts Options
	log  *slog.Logger
	imap *goimap.Server

	ctx    context.Context // canceled by Close; parent of sessions' contexts
	cancel context.CancelFunc

	mu     sync.Mutex
	cond   *sync.Cond
	active int // open sessions
	closed bool
}

// capabilities are the extensions offered; go-imap adds those it handles
// itself (SASL-IR, LITERAL-, UNSELECT, ENABLE, IDLE, STARTTLS, AUTH=PLAIN,
// LOGINDISABLED) and APPENDLIMIT from the session.
var capabilities = imap.CapSet{
	imap.CapIMAP4rev1:      {},
	imap.CapIMAP4rev2:      {},
	imap.CapNamespace:      {},
	imap.CapUIDPlus:        {},
	imap.CapESearch:        {},
	imap.CapSearchRes:      {},
	imap.CapListExtended:   {},
	imap.CapListStatus:     {},
	imap.CapMove:           {},
	imap.CapStatusSize:     {},
	imap.CapBinary:         {},
	imap.CapChildren:       {},
	imap.CapSpecialUse:     {},
	imap.CapLiteralPlus:    {},
	imap.CapUnauthenticate: {},
	// QUOTA (RFC 9208) with the resources quota.go reports; go-imap
	// advertises them after login (our fork's patch 3).
	imap.CapQuota: {},
	"QUOTA=RES-" + imap.Cap(imap.QuotaResourceStorage): {},
	"QUOTA=RES-" + imap.Cap(imap.QuotaResourceMailbox): {},
	// CONDSTORE and QRESYNC (RFC 7162; our fork's patch 10, condstore.go).
	imap.CapCondStore: {},
	imap.CapQResync:   {},
	// ID, SORT, THREAD, COMPRESS=DEFLATE, MULTIAPPEND (our fork's patches
	// 30-34; id.go, sort.go, thread.go, compress.go, multiappend.go) and
	// CREATE-SPECIAL-USE (specialuse.go).
	imap.CapID:                {},
	imap.CapSort:              {},
	imap.CapSortDisplay:       {},
	imap.CapESort:             {},
	"THREAD=ORDEREDSUBJECT":   {},
	"THREAD=REFERENCES":       {},
	goimap.CapCompressDeflate: {},
	imap.CapCreateSpecialUse:  {}, // specialuse.go (RFC 6154 3)
	imap.CapMultiAppend:       {}, // multiappend.go (patch 34)
	imap.CapPreview:           {}, // preview.go (patch 35)
	imap.CapSaveDate:          {}, // savedate.go (patch 36)
}

// New returns a Server over svc.
func New(svc Backend, opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = mlog.Discard()
	}
	if opts.AppendLimit == 0 {
		opts.AppendLimit = uint32(min(svc.MaxMessageSize(), math.MaxUint32))
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.MaxLoginFailures <= 0 {
		opts.MaxLoginFailures = 3
	}
	if opts.TempDir == "" {
		opts.TempDir = os.TempDir()
	}
	s := &Server{svc: svc, opts: opts, log: opts.Logger.With("proto", "imap")}
	s.cond = sync.NewCond(&s.mu)
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.imap = goimap.New(&goimap.Options{
		NewSession:   s.newSession,
		Caps:         capabilities,
		Logger:       imapLogger{s.log},
		TLSConfig:    opts.TLSConfig,
		InsecureAuth: opts.InsecureAuth,
	})
	return s
}

// Serve accepts connections on ln until Close. For implicit TLS, ln is a
// tls.Listener. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.imap.Serve(ln)
}

// Close closes the listeners and every connection, and waits (a bounded
// time) for sessions to release their mailboxes and forget their keys.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	err := s.imap.Close()

	deadline := time.AfterFunc(10*time.Second, func() {
		s.mu.Lock()
		s.cond.Broadcast()
		s.mu.Unlock()
	})
	defer deadline.Stop()
	start := time.Now()
	s.mu.Lock()
	for s.active > 0 && time.Since(start) < 10*time.Second {
		s.cond.Wait()
	}
	s.mu.Unlock()
	return err
}

func (s *Server) newSession(c *goimap.Conn) (goimap.Session, *goimap.GreetingData, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, nil, &imap.Error{Type: imap.StatusResponseTypeBye, Text: "Server shutting down"}
	}
	s.active++
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(s.ctx)
	sess := &session{
		srv:    s,
		conn:   c,
		ctx:    ctx,
		cancel: cancel,
		log:    newSessionLogger(s.log, c.NetConn().RemoteAddr().String(), 0),
	}
	return sess, nil, nil
}

// sessionClosed is called once by each session's Close.
func (s *Server) sessionClosed() {
	s.mu.Lock()
	s.active--
	s.cond.Broadcast()
	s.mu.Unlock()
}

// imapLogger adapts go-imap's Printf logging to slog. go-imap logs panics it
// recovered (as errors) and connection-level failures such as read errors
// and malformed commands. A failed command's detail can echo the client's
// arguments (a search term, a mailbox name), so only the command's name is
// logged, and other events only up to their first colon, at debug level.
type imapLogger struct{ log *slog.Logger }

func (l imapLogger) Printf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	switch {
	case strings.HasPrefix(msg, "panic"):
		l.log.Error("recovered panic", "detail", msg)
	case strings.HasPrefix(msg, "handling "):
		cmd, _, _ := strings.Cut(strings.TrimPrefix(msg, "handling "), ":")
		l.log.Warn("command failed", "command", cmd)
	default:
		what, _, _ := strings.Cut(msg, ":")
		l.log.Debug("connection", "event", what)
	}
}
