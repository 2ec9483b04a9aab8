package frontdoor

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/base64"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/netlimit"
)

// Errors of reading a client before the hand-over.
var (
	errLineTooLong = errors.Str("line too long")
	errTimeout     = errors.Str("timeout")
)

// client is one client connection before the hand-over: the raw
// connection (whose addresses go into the PROXY header), the connection
// spoken over (raw, or TLS over it), and a reader over that.
type client struct {
	s     *Server
	raw   net.Conn
	c     net.Conn
	br    *bufio.Reader
	isTLS bool
	start time.Time
	log   *slog.Logger

	failures int // failed authentications
}

func (s *Server) newClient(raw net.Conn, proto string) *client {
	return &client{
		s:     s,
		raw:   raw,
		c:     raw,
		br:    bufio.NewReader(raw),
		start: time.Now(),
		log:   s.log.With("proto", proto, "remote", remoteIP(raw)),
	}
}

// handshake runs the server side of a TLS handshake over the raw
// connection (implicit TLS, or after STARTTLS) and from then on speaks over
// TLS. Anything the client sent before it is discarded (RFC 3207 4.2, RFC
// 9051 6.2.1: no command injection across STARTTLS).
func (cl *client) handshake() error {
	tc, ok := cl.raw.(*tls.Conn) // a tls.Listener was passed
	if !ok || cl.isTLS {
		cfg := cl.s.opts.TLSConfig
		if cfg == nil {
			return errors.E("frontdoor.handshake", errors.Invalid, errors.Str("no TLS configuration"))
		}
		tc = tls.Server(cl.raw, cfg)
	}
	ctx, cancel := context.WithTimeout(cl.s.ctx, cl.s.opts.CommandTimeout)
	defer cancel()
	cl.raw.SetDeadline(time.Now().Add(cl.s.opts.CommandTimeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		return errors.E("frontdoor.handshake", errors.Invalid, err)
	}
	cl.c, cl.br, cl.isTLS = tc, bufio.NewReader(tc), true
	return nil
}

// setReadDeadline bounds the next read by the command timeout and by what
// is left of the pre-authentication time.
func (cl *client) setReadDeadline() {
	dl := time.Now().Add(cl.s.opts.CommandTimeout)
	if end := cl.start.Add(cl.s.opts.PreauthTimeout); end.Before(dl) {
		dl = end
	}
	cl.c.SetReadDeadline(dl)
}

// readLine reads a line of at most max bytes, CRLF (or a bare LF)
// excluded. A longer line gives errLineTooLong; its end is not read.
func (cl *client) readLine(max int) ([]byte, error) {
	cl.setReadDeadline()
	var line []byte
	for {
		frag, err := cl.br.ReadSlice('\n')
		if len(line)+len(frag) > max+2 {
			return nil, errLineTooLong
		}
		line = append(line, frag...)
		switch {
		case err == nil:
			line = line[:len(line)-1]
			if n := len(line); n > 0 && line[n-1] == '\r' {
				line = line[:n-1]
			}
			if len(line) > max {
				return nil, errLineTooLong
			}
			return line, nil
		case err == bufio.ErrBufferFull:
			continue
		default:
			return nil, cl.readErr(err)
		}
	}
}

// readFull reads n bytes (a literal).
func (cl *client) readFull(n int) ([]byte, error) {
	cl.setReadDeadline()
	b := make([]byte, n)
	if _, err := io.ReadFull(cl.br, b); err != nil {
		return nil, cl.readErr(err)
	}
	return b, nil
}

// skip discards n bytes.
func (cl *client) skip(n int) error {
	cl.setReadDeadline()
	if _, err := cl.br.Discard(n); err != nil {
		return cl.readErr(err)
	}
	return nil
}

func (cl *client) readErr(err error) error {
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return errTimeout
	}
	return err
}

// write sends a reply.
func (cl *client) write(s string) error {
	cl.c.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, err := io.WriteString(cl.c, s)
	return err
}

// regionReader reads lines from a region's node before the hand-over.
type regionReader struct {
	br *bufio.Reader
}

// readLine reads a line, CRLF excluded.
func (r regionReader) readLine() (string, error) {
	var line []byte
	for {
		frag, err := r.br.ReadSlice('\n')
		if len(line)+len(frag) > maxBackendLine {
			return "", errLineTooLong
		}
		line = append(line, frag...)
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return "", err
		}
		line = line[:len(line)-1]
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		return string(line), nil
	}
}

// locateFailed logs a failure of Options.Locate other than NotExist: its
// kind at warning level, and the error itself, which might name the
// address, only at debug level (mlog redacts attributes by key only).
func (cl *client) locateFailed(err error) {
	cl.log.Warn("locating the home region failed", "kind", errors.KindOf(err).String())
	cl.log.Debug("locating the home region failed", "err", err)
}

// regionVerdict is what a region's node answered a client's credentials.
type regionVerdict int

const (
	regionAccepted regionVerdict = iota // the session is the client's: splice
	regionRefused                       // wrong credentials (or no such account there)
	regionFailed                        // anything else: the client is told to try later
)

// regionAuth authenticates at a region's node over b (rr reads it) with a
// client's credentials, as one protocol does: it reads the node's greeting,
// sends the credentials and reads the answer. With regionAccepted it
// returns the reply for the client; with regionFailed, why (for the log).
type regionAuth func(b net.Conn, rr regionReader) (v regionVerdict, reply, why string, err error)

// handOverResult is how a hand-over ended.
type handOverResult int

const (
	handedOver  handOverResult = iota // the session was spliced and has ended
	authRefused                       // the client is told its credentials failed
	unavailable                       // the client is told to try later
)

// handOver locates user's home region, dials its node for proto,
// authenticates there with auth and, if the node accepts, relays its reply
// and splices the connections until the session ends. Otherwise it says
// which answer the client gets, and which region refused (none for an
// unknown address, which is refused after about as long as a region takes:
// Server.pace).
func (cl *client) handOver(user, proto string, auth regionAuth) (handOverResult, sealpost.RegionID) {
	s := cl.s
	start := time.Now()
	ctx, cancel := context.WithTimeout(s.ctx, s.opts.BackendTimeout)
	defer cancel()
	region, err := s.locate(ctx, user)
	if errors.Is(errors.NotExist, err) {
		s.pace(ctx, start)
		return authRefused, ""
	}
	if err != nil {
		cl.locateFailed(err)
		return unavailable, ""
	}
	log := cl.log.With("region", string(region))
	b, err := s.dialRegion(ctx, region, proto, cl.raw)
	if err != nil {
		log.Warn("region unreachable", "err", err)
		return unavailable, region
	}
	rr := regionReader{bufio.NewReaderSize(b, 32<<10)}
	v, reply, why, err := auth(b, rr)
	switch v {
	case regionAccepted:
		if cl.write(reply) != nil {
			s.closeRegion(b)
			return handedOver, region
		}
		log.Info("authenticated; session handed over")
		netlimit.Promote(cl.c)
		s.splice(cl.c, cl.br, b, rr.br)
		log.Debug("session ended")
		return handedOver, region
	case regionRefused:
		s.closeRegion(b)
		s.noteRefusal(time.Since(start))
		return authRefused, region
	}
	s.closeRegion(b)
	log.Warn("region failed before authentication", "reason", why, "err", err)
	return unavailable, region
}

// plainResponse is the SASL PLAIN response (RFC 4616) sent to a region.
func plainResponse(authz, user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte(authz + "\x00" + user + "\x00" + pass))
}

// refusalReason says, for the log, who refused a client's credentials.
func refusalReason(region sealpost.RegionID) string {
	if region == "" {
		return "no such account"
	}
	return "refused by region"
}
