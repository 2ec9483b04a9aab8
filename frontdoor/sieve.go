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

// This file is the ManageSieve (RFC 5804) front door: the capability
// response, NOOP, LOGOUT, STARTTLS and AUTHENTICATE "PLAIN" before the
// hand-over, as the regions' own ManageSieve servers answer them.

// Limits of the ManageSieve front door before the hand-over.
const (
	sieveMaxLine   = 8 << 10 // a command line (a SASL response fits easily)
	sieveMaxErrors = 10      // bad or refused commands before the connection is closed
	// sieveMaxGreeting bounds the lines of a region's capability response.
	sieveMaxGreeting = 50
)

// ManageSieveOptions describes what the regions' ManageSieve servers
// offer, for the capability response the front door gives before the
// hand-over (RFC 5804 1.7).
type ManageSieveOptions struct {
	// Extensions is the SIEVE capability: the Sieve extensions, space
	// separated.
	Extensions string
	// MaxScriptSize and MaxRedirects are advertised when positive.
	MaxScriptSize int64
	MaxRedirects  int
}

type sieveClient struct {
	*client
	errors int
}

// ServeManageSieve accepts ManageSieve clients on ln (port 4190, STARTTLS)
// until Close, then returns nil.
func (s *Server) ServeManageSieve(ln net.Listener) error {
	return s.serve(ln, "managesieve", false, s.serveManageSieve)
}

func (s *Server) serveManageSieve(raw net.Conn, _ bool) {
	sc := &sieveClient{client: s.newClient(raw, "managesieve")}
	if sc.capabilities() != nil {
		return
	}
	for sc.command() {
	}
}

// capabilities writes the capability response (RFC 5804 1.7, 2.4).
func (sc *sieveClient) capabilities() error {
	o := sc.s.opts.ManageSieve
	var b strings.Builder
	b.WriteString("\"IMPLEMENTATION\" \"Sealpost\"\r\n")
	if sc.isTLS {
		b.WriteString("\"SASL\" \"PLAIN\"\r\n")
	} else {
		// Authentication needs TLS: no mechanism is offered before it.
		b.WriteString("\"SASL\" \"\"\r\n")
		if sc.s.opts.TLSConfig != nil {
			b.WriteString("\"STARTTLS\"\r\n")
		}
	}
	b.WriteString("\"SIEVE\" " + quoteSieve(o.Extensions) + "\r\n")
	if o.MaxScriptSize > 0 {
		b.WriteString("\"MAXSCRIPTSIZE\" \"" + strconv.FormatInt(o.MaxScriptSize, 10) + "\"\r\n")
	}
	if o.MaxRedirects > 0 {
		b.WriteString("\"MAXREDIRECTS\" \"" + strconv.Itoa(o.MaxRedirects) + "\"\r\n")
	}
	b.WriteString("\"VERSION\" \"1.0\"\r\nOK \"Sealpost ManageSieve ready\"\r\n")
	return sc.write(b.String())
}

// command reads and answers one command; false ends the connection.
func (sc *sieveClient) command() bool {
	line, err := sc.readLine(sieveMaxLine)
	switch {
	case err == errLineTooLong:
		sc.write("BYE \"Line too long\"\r\n")
		return false
	case err == errTimeout:
		sc.write("BYE \"Timeout\"\r\n")
		return false
	case err != nil:
		return false
	}
	name, rest, _ := strings.Cut(string(line), " ")
	var args []string
	if rest != "" {
		args, err = sc.strings(rest)
		if err != nil {
			if err == errLineTooLong || err == errTimeout {
				sc.write("BYE \"" + err.Error() + "\"\r\n")
				return false
			}
			return sc.refuse("Bad arguments")
		}
	}
	switch strings.ToUpper(name) {
	case "CAPABILITY":
		return sc.capabilities() == nil
	case "NOOP": // RFC 5804 2.13: the optional argument comes back as a TAG
		if len(args) == 1 {
			return sc.write("OK (TAG "+quoteSieve(args[0])+") \"Done\"\r\n") == nil
		}
		return sc.write("OK \"Done\"\r\n") == nil
	case "LOGOUT":
		sc.write("OK \"Logout completed\"\r\n")
		return false
	case "STARTTLS":
		if sc.isTLS || sc.s.opts.TLSConfig == nil {
			return sc.refuse("STARTTLS not available")
		}
		if sc.write("OK \"Begin TLS negotiation now\"\r\n") != nil {
			return false
		}
		if err := sc.handshake(); err != nil {
			sc.log.Debug("TLS handshake failed", "err", err)
			return false
		}
		// RFC 5804 2.2: the capabilities again, over TLS.
		return sc.capabilities() == nil
	case "AUTHENTICATE":
		return sc.authenticate(args)
	case "":
		return sc.refuse("Empty command")
	}
	return sc.refuse("Authenticate first")
}

// refuse answers NO and counts the error; false closes the connection.
func (sc *sieveClient) refuse(text string) bool {
	sc.errors++
	if sc.errors >= sieveMaxErrors {
		sc.write("BYE \"Too many errors\"\r\n")
		return false
	}
	return sc.write("NO "+quoteSieve(text)+"\r\n") == nil
}

// authenticate runs AUTHENTICATE "PLAIN" [initial-response] (RFC 5804
// 2.1), asking for the response when it is not given, and hands the
// session over when the home region accepts it.
func (sc *sieveClient) authenticate(args []string) bool {
	if len(args) == 0 || len(args) > 2 {
		return sc.refuse("Bad arguments")
	}
	if !strings.EqualFold(args[0], "PLAIN") {
		return sc.refuse("Unsupported SASL mechanism")
	}
	if !sc.isTLS {
		return sc.write("NO (ENCRYPT-NEEDED) \"TLS is required to authenticate\"\r\n") == nil
	}
	var resp string
	if len(args) == 2 {
		resp = args[1]
	} else {
		if sc.write("\"\"\r\n") != nil { // an empty challenge
			return false
		}
		line, err := sc.readLine(sieveMaxLine)
		if err != nil {
			return false
		}
		r, err := sc.strings(string(line))
		if err != nil || len(r) != 1 {
			return sc.refuse("Bad SASL response")
		}
		resp = r[0]
	}
	if resp == "*" { // RFC 5804 2.1: the client cancels
		return sc.write("NO \"Authentication canceled\"\r\n") == nil
	}
	b, err := base64.StdEncoding.DecodeString(resp)
	if err != nil {
		return sc.refuse("Bad SASL response")
	}
	authz, user, pass, ok := parsePlain(b)
	if !ok {
		return sc.refuse("Bad SASL response")
	}
	done, err := sc.auth(authz, user, pass)
	return err == nil && !done
}

// auth authenticates at the account's home region and, if it accepts,
// relays its reply and splices the connections (true).
func (sc *sieveClient) auth(authz, user, pass string) (bool, error) {
	res, region := sc.handOver(user, cluster.ProtoManageSieve, func(b net.Conn, rr regionReader) (regionVerdict, string, string, error) {
		// The region's capability response, up to its OK.
		for i := 0; ; i++ {
			line, err := rr.readLine()
			if err != nil || i == sieveMaxGreeting || hasPrefixFold(line, "BYE") || hasPrefixFold(line, "NO") {
				return regionFailed, "", "greeting", err
			}
			if hasPrefixFold(line, "OK") {
				break
			}
		}
		if _, err := b.Write([]byte("AUTHENTICATE \"PLAIN\" \"" + plainResponse(authz, user, pass) + "\"\r\n")); err != nil {
			return regionFailed, "", "write", err
		}
		status, err := rr.readLine()
		switch {
		case err != nil:
			return regionFailed, "", "read", err
		case hasPrefixFold(status, "OK"):
			return regionAccepted, status + "\r\n", "", nil
		case hasPrefixFold(status, "NO (TRYLATER)"):
			return regionFailed, "", "region said TRYLATER", nil
		case hasPrefixFold(status, "NO"), hasPrefixFold(status, "BYE"):
			// The region closes after its own count of failures; the
			// front door keeps its own.
			return regionRefused, "", "", nil
		}
		return regionFailed, "", "unexpected response", nil
	})
	switch res {
	case handedOver:
		return true, nil
	case authRefused:
		return false, sc.authFailed(region)
	}
	return false, sc.unavailable()
}

// authFailed answers a failed authentication as the regions do, the same
// for a wrong password and an unknown user, and closes the connection
// after MaxAuthFailures.
func (sc *sieveClient) authFailed(region sealpost.RegionID) error {
	sc.failures++
	sc.log.Info("authentication failed", "region", string(region), "reason", refusalReason(region), "failures", sc.failures)
	if sc.failures >= sc.s.opts.MaxAuthFailures {
		sc.write("BYE \"Too many failed authentication attempts\"\r\n")
		return errClose
	}
	return sc.write("NO \"Authentication failed\"\r\n")
}

func (sc *sieveClient) unavailable() error {
	return sc.write("NO (TRYLATER) \"Temporarily unavailable, try again later\"\r\n")
}

// strings parses a command's arguments (RFC 5804 4): quoted strings,
// literals ("{n+}" or "{n}", then CRLF and n octets, and the line goes on
// after them) and atoms (numbers), separated by spaces. A literal is read
// whatever the command, so that its bytes are never taken for commands.
func (sc *sieveClient) strings(s string) ([]string, error) {
	var out []string
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return out, nil
		}
		if len(out) == 4 {
			return nil, errBadArgs
		}
		switch s[0] {
		case '"':
			v, rest, ok := unquoteSieve(s)
			if !ok {
				return nil, errBadArgs
			}
			out, s = append(out, v), rest
		case '{':
			end := strings.IndexByte(s, '}')
			if end < 0 || end != len(s)-1 {
				return nil, errBadArgs
			}
			n, err := strconv.Atoi(strings.TrimSuffix(s[1:end], "+"))
			if err != nil || n < 0 || n > sieveMaxLine {
				return nil, errBadArgs
			}
			v, err := sc.readFull(n)
			if err != nil {
				return nil, err
			}
			line, err := sc.readLine(sieveMaxLine)
			if err != nil {
				return nil, err
			}
			out, s = append(out, string(v)), string(line)
		default: // an atom or a number (HAVESPACE's size)
			end := strings.IndexByte(s, ' ')
			if end < 0 {
				end = len(s)
			}
			out, s = append(out, s[:end]), s[end:]
		}
	}
}

var errBadArgs = errors.Str("bad arguments")

// unquoteSieve reads a quoted string at the start of s (RFC 5804 4:
// backslash escapes only '"' and '\'; no CR, LF or NUL) and returns it and
// what follows it.
func unquoteSieve(s string) (v, rest string, ok bool) {
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch c := s[i]; c {
		case '"':
			return b.String(), s[i+1:], true
		case '\\':
			i++
			if i == len(s) || (s[i] != '"' && s[i] != '\\') {
				return "", "", false
			}
			b.WriteByte(s[i])
		case '\r', '\n', 0:
			return "", "", false
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// quoteSieve quotes s as a ManageSieve quoted string, control characters
// replaced by spaces.
func quoteSieve(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			b.WriteByte(' ')
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}
