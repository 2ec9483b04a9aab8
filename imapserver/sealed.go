package imapserver

import (
	"context"
	"fmt"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// A message sealed to a key generation that this session's password does not
// open (mail from before an administrator's password reset) cannot be read
// by anyone but the owner with the recovery code. Rather than failing the
// FETCH, which makes most clients retry forever or hide the whole mailbox,
// the session serves a short generated message in its place, saying so.
// Its RFC822.SIZE is the placeholder's, so that sizes and sections agree.

// placeholderText is the body of the placeholder. It is ASCII so that its
// size does not depend on anything but the account's address.
const placeholderText = `This message is sealed to an earlier key of your account: it arrived
before an administrator reset your password. Your current password cannot
open it, and neither can the operator of this server.

Nothing is lost. The recovery code you were given when your account was
created opens it: ask for your password to be set with that code
("sealpost account passwd ADDRESS --recovery-code CODE") and this message
appears again exactly as it was received.
`

// placeholder returns the generated message served for a sealed message.
func (s *session) placeholder() []byte {
	addr := s.ps.Account().Address
	return fmt.Appendf(nil, "From: Sealpost <postmaster@%s>\r\n"+
		"To: <%s>\r\n"+
		"Subject: Sealed message (use your recovery code)\r\n"+
		"MIME-Version: 1.0\r\n"+
		"Content-Type: text/plain; charset=us-ascii\r\n"+
		"Content-Transfer-Encoding: 7bit\r\n"+
		"\r\n%s", sealpost.DomainOf(addr), addr, crlf(placeholderText))
}

func crlf(s string) string {
	out := make([]byte, 0, len(s)+32)
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, '\r')
		}
		out = append(out, s[i])
	}
	return string(out)
}

// body returns the message as this session serves it: the plaintext, or the
// placeholder if the message is sealed to a key the session lacks.
func (s *session) body(ctx context.Context, msg sealpost.Message) ([]byte, error) {
	if !s.ps.CanOpen(msg.Key) {
		return s.placeholder(), nil
	}
	b, err := s.ps.Body(ctx, msg)
	if errors.Is(errors.Sealed, err) {
		return s.placeholder(), nil
	}
	return b, err
}

// size returns the RFC822.SIZE of msg as served, without decrypting.
func (s *session) size(_ context.Context, msg sealpost.Message) int64 {
	if !s.ps.CanOpen(msg.Key) {
		return int64(len(s.placeholder()))
	}
	return msg.Size
}
