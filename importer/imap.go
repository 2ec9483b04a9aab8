package importer

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"
	"github.com/emersion/go-sasl"
	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Security is how an IMAP source is reached.
type Security int

// The ways to reach an IMAP server: TLS from the first byte (RFC 8314,
// port 993), STARTTLS (RFC 9051 6.2.1, port 143), or no TLS at all (a
// server on loopback).
const (
	SecurityTLS Security = iota
	SecurityStartTLS
	SecurityPlain
)

// IMAPOptions say which IMAP server and account to copy.
type IMAPOptions struct {
	Addr      string // HOST:PORT
	Security  Security
	TLSConfig *tls.Config // nil: the system's roots, ServerName from Addr
	User      string
	// Password logs in (AUTHENTICATE PLAIN, RFC 4616, when offered, else
	// LOGIN); OAuth2Token instead authenticates with OAUTHBEARER (RFC
	// 7628) when offered, else XOAUTH2 (Gmail's and Outlook's).
	Password    string
	OAuth2Token string
}

// IMAP is a Source reading an IMAP server (RFC 9051, RFC 3501).
type IMAP struct {
	opts IMAPOptions
	c    *imapclient.Client
}

var _ Source = (*IMAP)(nil)

// DialIMAP connects and authenticates.
func DialIMAP(ctx context.Context, opts IMAPOptions) (*IMAP, error) {
	const op = "importer.DialIMAP"
	host, portStr, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, err)
	}
	tc := opts.TLSConfig
	if tc == nil {
		tc = &tls.Config{ServerName: host}
	}
	co := &imapclient.Options{TLSConfig: tc, Dialer: &net.Dialer{Timeout: 30 * time.Second}}
	var c *imapclient.Client
	switch opts.Security {
	case SecurityTLS:
		c, err = imapclient.DialTLS(opts.Addr, co)
	case SecurityStartTLS:
		c, err = imapclient.DialStartTLS(opts.Addr, co)
	default:
		c, err = imapclient.DialInsecure(opts.Addr, co)
	}
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	if err := c.WaitGreeting(); err != nil {
		c.Close()
		return nil, errors.E(op, errors.Unavailable, err)
	}
	caps := c.Caps()
	switch {
	case opts.OAuth2Token != "":
		port, _ := strconv.Atoi(portStr)
		var sc sasl.Client
		if caps.Has(imap.AuthCap("OAUTHBEARER")) {
			sc = sasl.NewOAuthBearerClient(&sasl.OAuthBearerOptions{Username: opts.User, Token: opts.OAuth2Token, Host: host, Port: port})
		} else {
			sc = xoauth2{user: opts.User, token: opts.OAuth2Token}
		}
		err = c.Authenticate(sc)
	case caps.Has(imap.AuthCap(sasl.Plain)):
		err = c.Authenticate(sasl.NewPlainClient("", opts.User, opts.Password))
	default:
		err = c.Login(opts.User, opts.Password).Wait()
	}
	if err != nil {
		c.Close()
		return nil, errors.E(op, errors.Permission, errors.Errorf("authentication failed: %v", err))
	}
	return &IMAP{opts: opts, c: c}, nil
}

// Kind is "imap".
func (s *IMAP) Kind() string { return "imap" }

// ID names the server's host and the account: not the port nor the
// security, so that the same mailbox reached over 993 or 143 is one source.
func (s *IMAP) ID() string {
	host, _, _ := net.SplitHostPort(s.opts.Addr)
	return "imap:" + s.opts.User + "@" + strings.ToLower(host)
}

// Folders lists every folder with its attributes, asking for the
// special-use ones (RFC 6154 3) where LIST-EXTENDED (RFC 5258) allows.
func (s *IMAP) Folders(ctx context.Context) ([]Folder, error) {
	const op = "importer.IMAP.Folders"
	var lo *imap.ListOptions
	caps := s.c.Caps()
	if caps.Has(imap.CapSpecialUse) && (caps.Has(imap.CapListExtended) || caps.Has(imap.CapIMAP4rev2)) {
		lo = &imap.ListOptions{ReturnSpecialUse: true}
	}
	list, err := s.c.List("", "*", lo).Collect()
	if err != nil {
		return nil, errors.E(op, errors.Unavailable, err)
	}
	out := make([]Folder, 0, len(list))
	for _, l := range list {
		f := Folder{Name: l.Mailbox}
		if l.Delim != 0 {
			f.Delim = string(l.Delim)
		}
		for _, a := range l.Attrs {
			f.Attrs = append(f.Attrs, string(a))
		}
		out = append(out, f)
	}
	return out, nil
}

// Count asks STATUS (RFC 9051 6.3.11) for the folder's MESSAGES.
func (s *IMAP) Count(ctx context.Context, f Folder) (int64, error) {
	d, err := s.c.Status(f.Name, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || d.NumMessages == nil {
		return -1, errors.E("importer.IMAP.Count", errors.Unavailable, err)
	}
	return int64(*d.NumMessages), nil
}

// Read examines the folder (read-only: the source's \Seen and \Recent
// stay as they were) and fetches every message with a UID above st.Pos,
// with its flags and internal date, streaming: one message is held at a
// time.
func (s *IMAP) Read(ctx context.Context, req Request, out chan<- Item) error {
	const op = "importer.IMAP.Read"
	// The client has no deadlines of its own: an import stopped, or a
	// server gone silent with the caller's deadline, ends the connection.
	defer context.AfterFunc(ctx, func() { s.c.Close() })()
	sel, err := s.c.Select(req.Folder.Name, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	st := req.Validity(sel.UIDValidity)
	if sel.NumMessages == 0 || (sel.UIDNext != 0 && uint64(sel.UIDNext) <= st.Pos+1) {
		return nil
	}
	// RFC 9051 6.4.4 and 6.4.9: "n:*" with n above every UID still
	// names the last message, which the check on UID below leaves out.
	set := imap.UIDSet{imap.UIDRange{Start: imap.UID(st.Pos + 1), Stop: 0}}
	cmd := s.c.Fetch(set, &imap.FetchOptions{
		UID: true, Flags: true, InternalDate: true,
		BodySection: []*imap.FetchItemBodySection{{Peek: true}},
	})
	defer cmd.Close()
	for {
		m := cmd.Next()
		if m == nil {
			break
		}
		it, err := readFetched(m, req.MaxSize)
		if err != nil {
			return errors.E(op, errors.Unavailable, err)
		}
		if it.Pos == 0 {
			// A FETCH without UID: not an answer to UID FETCH (RFC 9051
			// 6.4.9 has every answer carry it) but another client's
			// flag change told to us; the next run copies the flags
			// of what it copies then.
			continue
		}
		if it.Pos <= st.Pos {
			continue
		}
		select {
		case out <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if err := cmd.Close(); err != nil {
		return errors.E(op, errors.Unavailable, err)
	}
	return nil
}

func readFetched(m *imapclient.FetchMessageData, max int64) (Item, error) {
	var it Item
	for {
		item := m.Next()
		if item == nil {
			break
		}
		switch d := item.(type) {
		case imapclient.FetchItemDataUID:
			it.Pos = uint64(d.UID)
		case imapclient.FetchItemDataFlags:
			for _, fl := range d.Flags {
				it.Flags = append(it.Flags, sealpost.Flag(fl))
			}
		case imapclient.FetchItemDataInternalDate:
			it.Date = d.Time
		case imapclient.FetchItemDataBodySection:
			if d.Literal == nil {
				continue
			}
			if d.Literal.Size() > max {
				it.Skip = "larger than the message size limit"
				continue // the client discards the rest
			}
			b, err := io.ReadAll(d.Literal)
			if err != nil {
				return it, err
			}
			it.Body = b
		}
	}
	if it.Skip == "" && len(it.Body) == 0 {
		it.Skip = "empty message"
	}
	return it, nil
}

// Close logs out.
func (s *IMAP) Close() error {
	s.c.Logout().Wait()
	return s.c.Close()
}

// xoauth2 is the XOAUTH2 SASL mechanism of Google and Microsoft (not an
// RFC; OAUTHBEARER, RFC 7628, is its standard successor): one message
// "user=U^Aauth=Bearer T^A^A"; a failure comes as a challenge holding a
// JSON error, answered with an empty response.
type xoauth2 struct{ user, token string }

func (x xoauth2) Start() (string, []byte, error) {
	return "XOAUTH2", []byte("user=" + x.user + "\x01auth=Bearer " + x.token + "\x01\x01"), nil
}

func (x xoauth2) Next(challenge []byte) ([]byte, error) { return []byte{}, nil }
