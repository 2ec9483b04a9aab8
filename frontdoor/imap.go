package frontdoor

import (
	"encoding/base64"
	"net"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/cluster"
	"github.com/sealpost/sealpost/errors"
)

// Limits of the IMAP front door before the hand-over.
const (
	imapMaxLine    = 8 << 10       // a command line
	imapMaxLiteral = maxCredential // a literal (LOGIN's user name or password, an ID value)
	imapMaxBad     = 10            // BAD replies in a row before the connection is closed
	imapMaxIDPairs = 30            // RFC 2971 3.3
	imapMaxUntag   = 100           // untagged lines from a region before its tagged reply
)

// errClose ends a connection after its last reply.
var errClose = errors.Str("close")

// imapBad is a syntax error in a command, answered with BAD.
type imapBad string

func (e imapBad) Error() string { return string(e) }

// errLiteralTooLarge is a non-synchronizing literal over the limit: its
// bytes are on their way, so the connection cannot go on (RFC 7888 4).
var errLiteralTooLarge = errors.Str("literal too large")

type imapClient struct {
	*client
	bad int // BAD replies in a row
}

// serveIMAP runs one IMAP client until the hand-over's end or its own.
func (s *Server) serveIMAP(raw net.Conn, implicit bool) {
	ic := &imapClient{client: s.newClient(raw, "imap")}
	if implicit {
		if err := ic.handshake(); err != nil {
			ic.log.Debug("TLS handshake failed", "err", err)
			return
		}
	}
	ic.run()
}

// run greets the client and answers its commands until the hand-over's end
// or the client's.
func (ic *imapClient) run() {
	// RFC 9051 7.1.1: the greeting, with the capabilities (RFC 9051 7.1).
	if ic.write("* OK [CAPABILITY "+ic.caps()+"] "+ic.s.opts.Hostname+" Sealpost IMAP ready\r\n") != nil {
		return
	}
	for ic.command() {
	}
}

// caps lists the capabilities before authentication: only what the front
// door itself implements. The region announces its own in the tagged OK
// of the authentication (RFC 9051 7.1.2), which is relayed.
func (ic *imapClient) caps() string {
	c := "IMAP4rev1 IMAP4rev2 SASL-IR LITERAL+"
	if ic.isTLS {
		return c + " AUTH=PLAIN"
	}
	if ic.s.opts.TLSConfig != nil {
		c += " STARTTLS"
	}
	return c + " LOGINDISABLED" // RFC 9051 6.2.3
}

// command reads and answers one command; false ends the connection.
func (ic *imapClient) command() bool {
	line, err := ic.readLine(imapMaxLine)
	switch {
	case err == errLineTooLong:
		ic.write("* BYE Line too long\r\n")
		return false
	case err == errTimeout:
		ic.write("* BYE Autologout; idle for too long\r\n") // RFC 9051 5.4
		return false
	case err != nil:
		return false
	}
	p := &imapParser{ic: ic, line: line}
	tag := p.tag()
	if tag == "" {
		return ic.reply(p, "*", imapBad("Missing or invalid tag"))
	}
	name, err := p.atom()
	if err != nil {
		return ic.reply(p, tag, err)
	}
	var handedOver bool
	switch strings.ToUpper(name) {
	case "CAPABILITY":
		if err = p.end(); err == nil {
			err = ic.write("* CAPABILITY " + ic.caps() + "\r\n" + tag + " OK CAPABILITY completed\r\n")
		}
	case "NOOP":
		if err = p.end(); err == nil {
			err = ic.write(tag + " OK NOOP completed\r\n")
		}
	case "LOGOUT":
		if err = p.end(); err == nil {
			ic.write("* BYE Logging out\r\n" + tag + " OK LOGOUT completed\r\n")
			err = errClose
		}
	case "ID":
		err = ic.id(p, tag)
	case "STARTTLS":
		err = ic.startTLS(p, tag)
	case "LOGIN":
		handedOver, err = ic.login(p, tag)
	case "AUTHENTICATE":
		handedOver, err = ic.authenticate(p, tag)
	default:
		err = imapBad("Unknown command or not valid before authentication")
	}
	if handedOver {
		return false
	}
	return ic.reply(p, tag, err)
}

// reply finishes a command that failed with err, or resets the count of
// BADs if it did not; false ends the connection.
func (ic *imapClient) reply(p *imapParser, tag string, err error) bool {
	var bad imapBad
	switch {
	case err == nil:
		ic.bad = 0
		return true
	case errors.As(err, &bad):
		ic.bad++
		if ic.write(tag+" BAD "+string(bad)+"\r\n") != nil {
			return false
		}
		if err := p.discard(); err != nil {
			if err == errLiteralTooLarge {
				ic.write("* BYE Literal too large\r\n")
			}
			return false
		}
		if ic.bad >= imapMaxBad {
			ic.write("* BYE Too many invalid commands\r\n")
			return false
		}
		return true
	case err == errLiteralTooLarge:
		ic.write("* BYE Literal too large\r\n")
		return false
	case err == errTimeout:
		ic.write("* BYE Autologout; idle for too long\r\n")
		return false
	case err == errLineTooLong:
		ic.write("* BYE Line too long\r\n")
		return false
	}
	return false // errClose, or an I/O error
}

// id answers ID (RFC 2971) with NIL: the front door says nothing about
// itself. It is accepted, not advertised: the regions do not offer it.
func (ic *imapClient) id(p *imapParser, tag string) error {
	if err := p.sp(); err != nil {
		return err
	}
	if p.peek() == '(' {
		p.pos++
		for n := 0; p.peek() != ')'; n++ {
			if n > 0 {
				if err := p.sp(); err != nil {
					return err
				}
			}
			if n == imapMaxIDPairs {
				return imapBad("Too many ID fields")
			}
			if _, err := p.str(); err != nil {
				return err
			}
			if err := p.sp(); err != nil {
				return err
			}
			if _, _, err := p.nstring(); err != nil {
				return err
			}
		}
		p.pos++
	} else if a, err := p.atom(); err != nil || !strings.EqualFold(a, "NIL") {
		return imapBad("Expected ID parameter list or NIL")
	}
	if err := p.end(); err != nil {
		return err
	}
	return ic.write("* ID NIL\r\n" + tag + " OK ID completed\r\n")
}

// startTLS implements STARTTLS (RFC 9051 6.2.1).
func (ic *imapClient) startTLS(p *imapParser, tag string) error {
	if err := p.end(); err != nil {
		return err
	}
	if ic.isTLS || ic.s.opts.TLSConfig == nil {
		return imapBad("STARTTLS not available")
	}
	if err := ic.write(tag + " OK Begin TLS negotiation now\r\n"); err != nil {
		return err
	}
	if err := ic.handshake(); err != nil {
		ic.log.Debug("STARTTLS handshake failed", "err", err)
		return errClose
	}
	return nil
}

// login implements LOGIN (RFC 9051 6.2.3).
func (ic *imapClient) login(p *imapParser, tag string) (bool, error) {
	if err := p.sp(); err != nil {
		return false, err
	}
	user, err := p.astring()
	if err != nil {
		return false, err
	}
	if err := p.sp(); err != nil {
		return false, err
	}
	pass, err := p.astring()
	if err != nil {
		return false, err
	}
	if err := p.end(); err != nil {
		return false, err
	}
	if !ic.isTLS {
		return false, ic.privacyRequired(tag)
	}
	return ic.auth(tag, "", user, pass)
}

// authenticate implements AUTHENTICATE (RFC 9051 6.2.2) with the PLAIN
// mechanism (RFC 4616), with or without an initial response (RFC 4959).
func (ic *imapClient) authenticate(p *imapParser, tag string) (bool, error) {
	if err := p.sp(); err != nil {
		return false, err
	}
	mech, err := p.atom()
	if err != nil {
		return false, err
	}
	var ir string
	hasIR := p.peek() == ' '
	if hasIR {
		p.pos++
		ir = p.rest()
	}
	if err := p.end(); err != nil {
		return false, err
	}
	if !strings.EqualFold(mech, "PLAIN") {
		return false, ic.write(tag + " NO Unsupported authentication mechanism\r\n")
	}
	if !ic.isTLS {
		return false, ic.privacyRequired(tag)
	}
	if !hasIR {
		if err := ic.write("+ \r\n"); err != nil {
			return false, err
		}
		line, err := ic.readLine(imapMaxLine)
		if err != nil {
			return false, err
		}
		if string(line) == "*" {
			return false, ic.write(tag + " BAD Authentication cancelled\r\n")
		}
		ir = string(line)
	}
	resp, err := decodeSASL(ir)
	if err != nil {
		return false, imapBad("Malformed SASL response")
	}
	authz, user, pass, ok := parsePlain(resp)
	if !ok {
		return false, imapBad("Malformed PLAIN response")
	}
	return ic.auth(tag, authz, user, pass)
}

func (ic *imapClient) privacyRequired(tag string) error {
	return ic.write(tag + " NO [PRIVACYREQUIRED] TLS is required to authenticate\r\n")
}

// auth authenticates at the account's home region and, if the region
// accepts, relays its reply and splices the connections (true).
func (ic *imapClient) auth(tag, authz, user, pass string) (bool, error) {
	res, region := ic.handOver(user, cluster.ProtoIMAP, func(b net.Conn, rr regionReader) (regionVerdict, string, string, error) {
		greeting, err := rr.readLine()
		if err != nil || !hasPrefixFold(greeting, "* OK") {
			return regionFailed, "", "greeting", err
		}
		// The region's LOGIN and AUTHENTICATE are equivalent; AUTHENTICATE
		// PLAIN with an initial response carries any credentials in one
		// line without quoting or literals.
		if _, err := b.Write([]byte(tag + " AUTHENTICATE PLAIN " + plainResponse(authz, user, pass) + "\r\n")); err != nil {
			return regionFailed, "", "write", err
		}
		var out strings.Builder
		for n := 0; ; n++ {
			line, err := rr.readLine()
			switch {
			case err != nil:
				return regionFailed, "", "read", err
			case strings.HasPrefix(line, "* ") && n < imapMaxUntag:
				out.WriteString(line + "\r\n")
				continue
			case !strings.HasPrefix(line, tag+" "):
				return regionFailed, "", "unexpected response", nil
			}
			status := line[len(tag)+1:]
			switch {
			case hasPrefixFold(status, "OK"):
				return regionAccepted, out.String() + line + "\r\n", "", nil
			case hasPrefixFold(status, "NO [AUTHENTICATIONFAILED]"), hasPrefixFold(status, "NO [AUTHORIZATIONFAILED]"):
				return regionRefused, "", "", nil
			}
			word, _, _ := strings.Cut(status, " ")
			return regionFailed, "", "region said " + word, nil
		}
	})
	switch res {
	case handedOver:
		return true, nil
	case authRefused:
		return false, ic.authFailed(tag, region, refusalReason(region))
	}
	return false, ic.unavailable(tag)
}

// authFailed answers a failed authentication (RFC 5530 AUTHENTICATIONFAILED,
// the same for a wrong password and an unknown user) and closes the
// connection after MaxAuthFailures.
func (ic *imapClient) authFailed(tag string, region sealpost.RegionID, why string) error {
	ic.failures++
	ic.log.Info("authentication failed", "region", string(region), "reason", why, "failures", ic.failures)
	if err := ic.write(tag + " NO [AUTHENTICATIONFAILED] Authentication failed\r\n"); err != nil {
		return err
	}
	if ic.failures >= ic.s.opts.MaxAuthFailures {
		ic.write("* BYE Too many failed authentication attempts\r\n")
		return errClose
	}
	return nil
}

func (ic *imapClient) unavailable(tag string) error {
	return ic.write(tag + " NO [UNAVAILABLE] Temporarily unavailable, try again later\r\n")
}

// decodeSASL decodes a base64 SASL response; "=" is the empty one (RFC
// 4959 3, RFC 4954 4).
func decodeSASL(s string) ([]byte, error) {
	if s == "=" {
		return []byte{}, nil
	}
	return base64.StdEncoding.DecodeString(s)
}

// parsePlain splits a PLAIN response (RFC 4616 2): authzid NUL authcid NUL
// passwd, each part of bounded length and the user name not empty.
func parsePlain(b []byte) (authz, user, pass string, ok bool) {
	parts := strings.Split(string(b), "\x00")
	if len(parts) != 3 || parts[1] == "" {
		return "", "", "", false
	}
	for _, p := range parts {
		if len(p) > maxCredential {
			return "", "", "", false
		}
	}
	return parts[0], parts[1], parts[2], true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
