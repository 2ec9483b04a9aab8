// Package rspamd is a client of rspamd's HTTP protocol: it sends a message
// with its SMTP envelope to a normal (or proxy) worker's POST /checkv2 and
// returns rspamd's score, the score it requires for spam, its action and
// the names of the symbols that matched. It holds no state; mail goes to
// rspamd over whatever transport the URL names (a loopback or Unix socket
// in a deployment: the message is plaintext).
//
// The protocol: https://rspamd.com/doc/developers/protocol.html. The
// envelope travels in request headers (From, Rcpt once per recipient, IP,
// Helo, Hostname, User, Settings-ID), the message as the body, and the
// reply is a JSON object.
package rspamd

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// Action is what rspamd advises doing with a message.
type Action uint8

// The actions rspamd's replies name.
const (
	NoAction       Action = iota // "no action": deliver
	Greylist                     // "greylist": answer 4xx this time
	AddHeader                    // "add header": deliver marked as spam (to Junk)
	RewriteSubject               // "rewrite subject": deliver marked as spam
	SoftReject                   // "soft reject": answer 4xx
	Reject                       // "reject": answer 5xx
)

var actionNames = [...]string{
	NoAction:       "no action",
	Greylist:       "greylist",
	AddHeader:      "add header",
	RewriteSubject: "rewrite subject",
	SoftReject:     "soft reject",
	Reject:         "reject",
}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// ParseAction parses an action's name as rspamd's replies spell it.
func ParseAction(s string) (Action, error) {
	if i := slices.Index(actionNames[:], s); i >= 0 {
		return Action(i), nil
	}
	return 0, errors.E("rspamd.ParseAction", errors.Invalid, errors.Errorf("unknown action %q", s))
}

// Envelope is what the SMTP session knows of a message besides its text.
type Envelope struct {
	From     string     // MAIL FROM's reverse path ("" for the null path)
	Rcpts    []string   // RCPT TO's forward paths
	IP       netip.Addr // the client's address (zero: not sent)
	Helo     string     // the client's EHLO/HELO name
	Hostname string     // the client's name from its PTR record, if verified
	User     string     // the authenticated user, for submission
	Settings string     // a settings id configured in rspamd (Settings-ID)
}

// Result is rspamd's verdict on one message.
type Result struct {
	Score    float64  // the message's score
	Required float64  // the score at which rspamd considers it spam
	Action   Action   // what rspamd advises
	Symbols  []string // the symbols that matched, sorted
}

// Defaults for a Client's zero fields.
const (
	DefaultTimeout = 10 * time.Second
	// MaxReply bounds the reply read: a reply with every symbol of a
	// large ruleset and their options stays far below it.
	MaxReply = 1 << 20
)

// Client checks messages with one rspamd. The zero value is not usable:
// set URL. A Client is safe for concurrent use; do not change its fields
// after first use.
type Client struct {
	// URL is the worker's base URL, e.g. "http://127.0.0.1:11333".
	URL string
	// Password, if set, is sent in the Password header (a proxy or
	// controller worker may require it).
	Password string
	// HTTP is the client used; nil means one of its own with no proxy
	// from the environment.
	HTTP *http.Client
	// Timeout bounds one check, on top of ctx; 0 means DefaultTimeout.
	Timeout time.Duration
}

var defaultHTTP = &http.Client{Transport: &http.Transport{
	Proxy:               nil, // mail is never sent through an HTTP proxy
	MaxIdleConnsPerHost: 16,
	IdleConnTimeout:     90 * time.Second,
}}

// Check sends msg and its envelope to rspamd and returns its result.
// Errors: Unavailable when rspamd cannot be reached, answers with a 5xx
// or times out (the caller may deliver unscanned or answer 4xx);
// Invalid when its reply cannot be understood or it refuses the request;
// TooLarge when the reply exceeds MaxReply.
func (c *Client) Check(ctx context.Context, msg io.Reader, env Envelope) (Result, error) {
	const op = "rspamd.Check"
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(c.URL, "/")+"/checkv2", msg)
	if err != nil {
		return Result{}, errors.E(op, errors.Invalid, err)
	}
	setHeader := func(k, v string) {
		if v != "" {
			req.Header.Set(k, clean(v))
		}
	}
	setHeader("From", env.From)
	for _, r := range env.Rcpts {
		req.Header.Add("Rcpt", clean(r))
	}
	if env.IP.IsValid() {
		req.Header.Set("IP", env.IP.Unmap().String())
	}
	setHeader("Helo", env.Helo)
	setHeader("Hostname", env.Hostname)
	setHeader("User", env.User)
	setHeader("Settings-ID", env.Settings)
	setHeader("Password", c.Password)
	hc := c.HTTP
	if hc == nil {
		hc = defaultHTTP
	}
	resp, err := hc.Do(req)
	if err != nil {
		return Result{}, errors.E(op, errors.Unavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxReply+1))
	if err != nil {
		return Result{}, errors.E(op, errors.Unavailable, err)
	}
	if len(body) > MaxReply {
		return Result{}, errors.E(op, errors.TooLarge, errors.Str("reply larger than MaxReply"))
	}
	switch {
	case resp.StatusCode >= 500:
		return Result{}, errors.E(op, errors.Unavailable, errors.Errorf("status %s: %s", resp.Status, snippet(body)))
	case resp.StatusCode != http.StatusOK:
		return Result{}, errors.E(op, errors.Invalid, errors.Errorf("status %s: %s", resp.Status, snippet(body)))
	}
	r, err := parseReply(body)
	if err != nil {
		return Result{}, errors.E(op, err)
	}
	return r, nil
}

// reply is the part of /checkv2's JSON reply we use.
type reply struct {
	Score         *float64                   `json:"score"`
	RequiredScore float64                    `json:"required_score"`
	Action        string                     `json:"action"`
	Symbols       map[string]json.RawMessage `json:"symbols"`
	Error         string                     `json:"error"`
}

// parseReply parses a /checkv2 reply.
func parseReply(body []byte) (Result, error) {
	const op = "rspamd.parseReply"
	var rep reply
	d := json.NewDecoder(bytes.NewReader(body))
	if err := d.Decode(&rep); err != nil {
		return Result{}, errors.E(op, errors.Invalid, err)
	}
	if rep.Error != "" {
		return Result{}, errors.E(op, errors.Invalid, errors.Errorf("rspamd: %s", snippet([]byte(rep.Error))))
	}
	if rep.Score == nil {
		return Result{}, errors.E(op, errors.Invalid, errors.Str("reply without a score"))
	}
	a, err := ParseAction(rep.Action)
	if err != nil {
		return Result{}, errors.E(op, err)
	}
	r := Result{Score: *rep.Score, Required: rep.RequiredScore, Action: a}
	for name := range rep.Symbols {
		r.Symbols = append(r.Symbols, name)
	}
	slices.Sort(r.Symbols)
	return r, nil
}

// clean drops what would break a header line (CR, LF, other controls).
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
}

// snippet returns the start of a reply, for an error's text.
func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		b = b[:n]
	}
	return strings.ToValidUTF8(string(b), "?")
}
