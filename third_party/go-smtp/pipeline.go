package smtp

// Sealpost patch 3: Transaction, with PIPELINING.

import (
	"time"
)

// TransactionResult is what Transaction learned of one mail transaction.
type TransactionResult struct {
	// Mail is the server's refusal of MAIL FROM, or nil.
	Mail error
	// Rcpt holds each recipient's refusal, in order, nil where accepted.
	Rcpt []error
	// DataErr is the server's refusal of DATA, or nil.
	DataErr error
	// Data, when MAIL, DATA and at least one RCPT were accepted, takes
	// the message; its Close or CloseWithResponse reads the final reply.
	Data *DataCommand
}

// Transaction starts a mail transaction: MAIL FROM, one RCPT TO for each
// of to (with rcptOpts[i], if given) and DATA. Where the server offers
// PIPELINING (RFC 2920) the commands go out in one write and the replies
// are read after, saving a round trip per command; otherwise they go one
// at a time, as Mail, Rcpt and Data send them. Refusals (*SMTPError) are
// reported in the result; a non-nil error means the connection failed or
// an argument was invalid, and the client must not be used further.
//
// RFC 2920 section 3.1: DATA is the last command of the group; if the
// server accepts it though it refused MAIL or every RCPT, the client
// sends the end of data at once and the transaction is void.
func (c *Client) Transaction(from string, opts *MailOptions, to []string, rcptOpts []*RcptOptions) (TransactionResult, error) {
	var r TransactionResult
	if err := validateLine(from); err != nil {
		return r, err
	}
	if err := c.hello(); err != nil {
		return r, err
	}
	cmds := make([]string, 0, len(to)+2)
	mail, err := c.mailCommand(from, opts)
	if err != nil {
		return r, err
	}
	cmds = append(cmds, mail)
	for i, rcpt := range to {
		if err := validateLine(rcpt); err != nil {
			return r, err
		}
		var ro *RcptOptions
		if i < len(rcptOpts) {
			ro = rcptOpts[i]
		}
		cmd, err := c.rcptCommand(rcpt, ro)
		if err != nil {
			return r, err
		}
		cmds = append(cmds, cmd)
	}
	cmds = append(cmds, "DATA")
	if _, ok := c.ext["PIPELINING"]; !ok || c.lmtp {
		return c.transactionInTurn(cmds, to)
	}

	c.conn.SetDeadline(time.Now().Add(c.CommandTimeout))
	defer c.conn.SetDeadline(time.Time{})
	for _, cmd := range cmds {
		c.text.W.WriteString(cmd)
		c.text.W.WriteString("\r\n")
	}
	if err := c.text.W.Flush(); err != nil {
		return r, err
	}
	// Every command has its reply, in order (RFC 2920 section 3.1).
	c.rcpts = nil
	r.Rcpt = make([]error, len(to))
	accepted := 0
	for i := range cmds {
		c.conn.SetDeadline(time.Now().Add(c.CommandTimeout))
		code := 250
		switch {
		case i == len(cmds)-1:
			code = 354
		case i > 0:
			code = 25
		}
		_, _, err := c.readResponse(code)
		if _, ok := err.(*SMTPError); err != nil && !ok {
			return r, err
		}
		switch {
		case i == 0:
			r.Mail = err
		case i < len(cmds)-1:
			r.Rcpt[i-1] = err
			if err == nil && r.Mail == nil {
				accepted++
				c.rcpts = append(c.rcpts, to[i-1])
			}
		default:
			r.DataErr = err
		}
	}
	if r.DataErr != nil {
		return r, nil
	}
	if r.Mail != nil || accepted == 0 {
		// A server that took DATA with nothing to deliver: end it.
		if _, err := c.text.W.WriteString(".\r\n"); err != nil {
			return r, err
		}
		if err := c.text.W.Flush(); err != nil {
			return r, err
		}
		c.conn.SetDeadline(time.Now().Add(c.SubmissionTimeout))
		_, _, err := c.readResponse(250)
		if _, ok := err.(*SMTPError); err != nil && !ok {
			return r, err
		}
		return r, nil
	}
	r.Data = &DataCommand{client: c, wc: &dotWriter{w: c.text.W}}
	return r, nil
}

// transactionInTurn is Transaction without PIPELINING: each command waits
// for its reply, and DATA is sent only when MAIL and a RCPT were accepted.
func (c *Client) transactionInTurn(cmds, to []string) (TransactionResult, error) {
	r := TransactionResult{Rcpt: make([]error, len(to))}
	refused := func(err error) bool { _, ok := err.(*SMTPError); return ok }
	if _, _, err := c.cmd(250, "%s", cmds[0]); refused(err) {
		r.Mail = err
		return r, nil
	} else if err != nil {
		return r, err
	}
	c.rcpts = nil
	for i, rcpt := range to {
		_, _, err := c.cmd(25, "%s", cmds[i+1])
		if err != nil && !refused(err) {
			return r, err
		}
		r.Rcpt[i] = err
		if err == nil {
			c.rcpts = append(c.rcpts, rcpt)
		}
	}
	if len(c.rcpts) == 0 {
		return r, nil
	}
	w, err := c.Data()
	if refused(err) {
		r.DataErr = err
		return r, nil
	} else if err != nil {
		return r, err
	}
	r.Data = w
	return r, nil
}
