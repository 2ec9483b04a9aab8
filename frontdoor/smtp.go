package frontdoor

import (
	"encoding/base64"
	"net"
	"strconv"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/cluster"
	"github.com/sealpost/sealpost/errors"
)

// Limits of the submission front door before the hand-over.
const (
	// smtpMaxLine is smtpserver's default line limit (RFC 5321 4.5.3.1.4's
	// 512 octets are exceeded by AUTH PLAIN with long credentials).
	smtpMaxLine = 2000
	// smtpMaxErrors bounds bad commands before the connection is closed.
	smtpMaxErrors = 10
	// smtpMaxReplyLines bounds a region's multi-line reply.
	smtpMaxReplyLines = 100
)

type smtpClient struct {
	*client
	helo   string // the client's EHLO or HELO domain; "" before it
	errors int
}

// serveSubmission runs one submission client until the hand-over's end or
// its own.
func (s *Server) serveSubmission(raw net.Conn, implicit bool) {
	sc := &smtpClient{client: s.newClient(raw, "submission")}
	if implicit {
		if err := sc.handshake(); err != nil {
			sc.log.Debug("TLS handshake failed", "err", err)
			return
		}
	}
	sc.run()
}

// run greets the client and answers its commands until the hand-over's end
// or the client's.
func (sc *smtpClient) run() {
	if sc.write("220 "+sc.s.opts.Hostname+" ESMTP Sealpost ready\r\n") != nil { // RFC 5321 4.3.1
		return
	}
	for sc.command() {
	}
}

// command reads and answers one command; false ends the connection.
func (sc *smtpClient) command() bool {
	line, err := sc.readLine(smtpMaxLine)
	switch {
	case err == errLineTooLong:
		sc.write("500 5.5.0 Line too long, closing connection\r\n")
		return false
	case err == errTimeout:
		sc.write("421 4.4.2 " + sc.s.opts.Hostname + " Idle timeout, closing connection\r\n")
		return false
	case err != nil:
		return false
	}
	verb, arg, _ := strings.Cut(string(line), " ")
	switch strings.ToUpper(verb) {
	case "EHLO", "HELO":
		return sc.hello(strings.ToUpper(verb) == "EHLO", arg)
	case "STARTTLS":
		return sc.startTLS(arg)
	case "AUTH":
		return sc.auth(arg)
	case "MAIL", "RCPT", "DATA", "BDAT":
		// RFC 4954 6: mail needs authentication on submission.
		return sc.reply("530 5.7.0 Authentication required", true)
	case "RSET", "NOOP":
		return sc.reply("250 2.0.0 OK", false)
	case "VRFY":
		return sc.reply("252 2.5.0 Cannot VRFY user, but will accept message", false)
	case "HELP":
		return sc.reply("214 2.0.0 See RFC 6409", false)
	case "QUIT":
		sc.write("221 2.0.0 " + sc.s.opts.Hostname + " Bye\r\n")
		return false
	}
	return sc.reply("500 5.5.2 Command not recognized", true)
}

// reply writes a one-line reply; an error reply counts towards
// smtpMaxErrors. False ends the connection.
func (sc *smtpClient) reply(r string, isError bool) bool {
	if sc.write(r+"\r\n") != nil {
		return false
	}
	if isError {
		sc.errors++
		if sc.errors >= smtpMaxErrors {
			sc.write("421 4.7.0 " + sc.s.opts.Hostname + " Too many errors, closing connection\r\n")
			return false
		}
	}
	return true
}

// hello answers EHLO and HELO (RFC 5321 4.1.1.1). EHLO lists the
// extensions of the regions' submission servers (smtpserver: go-smtp's
// set), since after AUTH the client talks to a region without a new EHLO;
// STARTTLS only before TLS, AUTH only after it.
func (sc *smtpClient) hello(ehlo bool, arg string) bool {
	domain := strings.TrimSpace(arg)
	if i := strings.IndexByte(domain, ' '); i >= 0 {
		domain = domain[:i]
	}
	if !validHelo(domain) {
		return sc.reply("501 5.5.4 Domain name required", true)
	}
	sc.helo = domain
	if !ehlo {
		return sc.reply("250 "+sc.s.opts.Hostname+" Hello", false)
	}
	lines := []string{sc.s.opts.Hostname + " Hello " + domain,
		"PIPELINING", "8BITMIME", "ENHANCEDSTATUSCODES", "CHUNKING"}
	if !sc.isTLS && sc.s.opts.TLSConfig != nil {
		lines = append(lines, "STARTTLS")
	}
	if sc.isTLS {
		lines = append(lines, "AUTH PLAIN LOGIN")
	}
	lines = append(lines, "SMTPUTF8")
	if n := sc.s.opts.MaxMessageSize; n > 0 {
		lines = append(lines, "SIZE "+strconv.FormatInt(n, 10))
	} else {
		lines = append(lines, "SIZE")
	}
	if n := sc.s.opts.MaxRecipients; n > 0 {
		lines = append(lines, "LIMITS RCPTMAX="+strconv.Itoa(n))
	}
	var b strings.Builder
	for i, l := range lines {
		sep := "-"
		if i == len(lines)-1 {
			sep = " "
		}
		b.WriteString("250" + sep + l + "\r\n")
	}
	sc.errors = 0
	return sc.write(b.String()) == nil
}

// validHelo accepts a plausible EHLO argument: a domain or address literal
// of printable ASCII.
func validHelo(d string) bool {
	if d == "" || len(d) > 255 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] <= ' ' || d[i] >= 0x7f {
			return false
		}
	}
	return true
}

// startTLS implements STARTTLS (RFC 3207 4); the client starts over with
// EHLO (4.2).
func (sc *smtpClient) startTLS(arg string) bool {
	switch {
	case arg != "":
		return sc.reply("501 5.5.4 STARTTLS takes no parameters", true)
	case sc.isTLS:
		return sc.reply("503 5.5.1 Already running TLS", true)
	case sc.s.opts.TLSConfig == nil:
		return sc.reply("502 5.5.1 TLS not available", true)
	}
	if sc.write("220 2.0.0 Ready to start TLS\r\n") != nil {
		return false
	}
	if err := sc.handshake(); err != nil {
		sc.log.Debug("STARTTLS handshake failed", "err", err)
		return false
	}
	sc.helo = ""
	return true
}

// auth implements AUTH (RFC 4954) with PLAIN (RFC 4616) and LOGIN.
func (sc *smtpClient) auth(arg string) bool {
	switch {
	case sc.helo == "":
		return sc.reply("503 5.5.1 Send EHLO first", true)
	case !sc.isTLS:
		return sc.reply("523 5.7.10 TLS is required", true) // as smtpserver (go-smtp) says
	}
	f := strings.Fields(arg)
	if len(f) == 0 || len(f) > 2 {
		return sc.reply("501 5.5.4 Syntax: AUTH mechanism [initial-response]", true)
	}
	var authz, user, pass string
	switch strings.ToUpper(f[0]) {
	case "PLAIN":
		var resp []byte
		var ok bool
		if len(f) == 2 {
			resp, ok = sc.decode(f[1])
		} else {
			resp, ok = sc.challenge("")
		}
		if !ok {
			return sc.errors < smtpMaxErrors
		}
		if authz, user, pass, ok = parsePlain(resp); !ok {
			return sc.reply("501 5.5.2 Malformed PLAIN response", true)
		}
	case "LOGIN":
		var u, p []byte
		var ok bool
		if len(f) == 2 {
			u, ok = sc.decode(f[1])
		} else {
			u, ok = sc.challenge("Username:")
		}
		if !ok {
			return sc.errors < smtpMaxErrors
		}
		if p, ok = sc.challenge("Password:"); !ok {
			return sc.errors < smtpMaxErrors
		}
		if len(u) == 0 || len(u) > maxCredential || len(p) > maxCredential {
			return sc.reply("501 5.5.2 Malformed LOGIN response", true)
		}
		user, pass = string(u), string(p)
	default:
		return sc.reply("504 5.5.4 Unrecognized authentication mechanism", true)
	}
	return sc.login(authz, user, pass)
}

// challenge sends a 334 challenge and reads the client's response. It
// answers a cancellation or bad base64 itself (false).
func (sc *smtpClient) challenge(text string) ([]byte, bool) {
	if sc.write("334 "+base64.StdEncoding.EncodeToString([]byte(text))+"\r\n") != nil {
		sc.errors = smtpMaxErrors
		return nil, false
	}
	line, err := sc.readLine(smtpMaxLine)
	if err != nil {
		sc.errors = smtpMaxErrors
		return nil, false
	}
	if string(line) == "*" {
		sc.reply("501 5.0.0 Authentication cancelled", true) // RFC 4954 4
		return nil, false
	}
	return sc.decode(string(line))
}

func (sc *smtpClient) decode(s string) ([]byte, bool) {
	b, err := decodeSASL(s)
	if err != nil {
		sc.reply("501 5.5.2 Invalid base64 data", true)
		return nil, false
	}
	return b, true
}

// login authenticates at the account's home region and, if it accepts,
// says so and splices the connections. False ends the connection.
func (sc *smtpClient) login(authz, user, pass string) bool {
	res, region := sc.handOver(user, cluster.ProtoSubmission, func(b net.Conn, rr regionReader) (regionVerdict, string, string, error) {
		if code, err := rr.readReply(); code != 220 {
			return regionFailed, "", "greeting " + strconv.Itoa(code), err
		}
		if _, err := b.Write([]byte("EHLO " + sc.helo + "\r\n")); err != nil {
			return regionFailed, "", "write", err
		}
		if code, err := rr.readReply(); code != 250 {
			return regionFailed, "", "EHLO " + strconv.Itoa(code), err
		}
		if _, err := b.Write([]byte("AUTH PLAIN " + plainResponse(authz, user, pass) + "\r\n")); err != nil {
			return regionFailed, "", "write", err
		}
		switch code, err := rr.readReply(); code {
		case 235:
			return regionAccepted, "235 2.7.0 Authentication successful\r\n", "", nil
		case 535:
			return regionRefused, "", "", nil
		default:
			return regionFailed, "", "AUTH " + strconv.Itoa(code), err
		}
	})
	switch res {
	case handedOver:
		return false
	case authRefused:
		return sc.authFailed(region, refusalReason(region))
	}
	return sc.unavailable()
}

// authFailed answers a failed authentication, the same for a wrong
// password and an unknown user (RFC 4954 6: 535 5.7.8), and closes the
// connection after MaxAuthFailures.
func (sc *smtpClient) authFailed(region sealpost.RegionID, why string) bool {
	sc.failures++
	sc.log.Info("authentication failed", "region", string(region), "reason", why, "failures", sc.failures)
	if sc.write("535 5.7.8 Authentication credentials invalid\r\n") != nil {
		return false
	}
	if sc.failures >= sc.s.opts.MaxAuthFailures {
		sc.write("421 4.7.0 " + sc.s.opts.Hostname + " Too many failed authentication attempts, closing connection\r\n")
		return false
	}
	return true
}

func (sc *smtpClient) unavailable() bool {
	return sc.write("454 4.7.0 Temporary authentication failure, try again later\r\n") == nil
}

// readReply reads a (possibly multi-line) SMTP reply and returns its code
// (RFC 5321 4.2.1), or 0 with an error.
func (r regionReader) readReply() (int, error) {
	for range smtpMaxReplyLines {
		line, err := r.readLine()
		if err != nil {
			return 0, err
		}
		if len(line) < 3 {
			return 0, errors.Errorf("bad reply line %q", line)
		}
		code, err := strconv.Atoi(line[:3])
		if err != nil || code < 200 || code > 599 {
			return 0, errors.Errorf("bad reply code %q", line[:3])
		}
		if len(line) == 3 || line[3] == ' ' {
			return code, nil
		}
		if line[3] != '-' {
			return 0, errors.Errorf("bad reply line %q", line)
		}
	}
	return 0, errors.Str("reply too long")
}
