package interp

import (
	"context"
	"fmt"
)

type CmdStop struct{}

func (c CmdStop) Execute(_ context.Context, _ *RuntimeData) error {
	return ErrStop
}

type CmdFileInto struct {
	Mailbox string
	Flags   Flags
	Copy    bool // RFC3894 - :copy modifier
	Create  bool // RFC5490 - :create modifier (mailbox extension)
}

func (c CmdFileInto) Execute(_ context.Context, d *RuntimeData) error {
	mailbox := expandVars(d, c.Mailbox)
	found := false
	for _, m := range d.Mailboxes {
		if m == mailbox {
			found = true
		}
	}
	if found {
		return nil
	}
	d.Mailboxes = append(d.Mailboxes, mailbox)

	// RFC 5490: Track mailboxes that should be created
	if c.Create {
		createFound := false
		for _, m := range d.MailboxesCreate {
			if m == mailbox {
				createFound = true
				break
			}
		}
		if !createFound {
			d.MailboxesCreate = append(d.MailboxesCreate, mailbox)
		}
	}

	// RFC3894: If :copy is specified, do not set ImplicitKeep to false
	if !c.Copy {
		d.ImplicitKeep = false
	}

	// Sealpost patch 62: RFC 5232 section 5: the flags of :flags are used
	// instead of the internal variable, which they do not change; without
	// :flags the message is stored with the variable's current value.
	if d.MailboxFlags == nil {
		d.MailboxFlags = make(map[string][]string)
	}
	d.MailboxFlags[mailbox] = d.actionFlags(c.Flags)
	return nil
}

// actionFlags returns the flags a keep or fileinto stores the message with:
// the :flags argument when given, else a copy of the internal variable
// (Sealpost patch 62).
func (d *RuntimeData) actionFlags(tagged Flags) []string {
	if tagged != nil {
		return canonicalFlags(expandVarsList(d, tagged), nil, d.FlagAliases)
	}
	return append([]string(nil), d.Flags...)
}

type CmdRedirect struct {
	Addr string
	Copy bool // RFC3894 - :copy modifier
}

func (c CmdRedirect) Execute(ctx context.Context, d *RuntimeData) error {
	addr := expandVars(d, c.Addr)

	ok, err := d.Policy.RedirectAllowed(ctx, d, addr)
	if err != nil {
		return err
	}
	if !ok {
		return nil
	}
	d.RedirectAddr = append(d.RedirectAddr, addr)

	// RFC3894: If :copy is specified, do not set ImplicitKeep to false
	if !c.Copy {
		d.ImplicitKeep = false
	}

	if len(d.RedirectAddr) > d.Script.opts.MaxRedirects {
		return fmt.Errorf("too many actions")
	}
	return nil
}

type CmdKeep struct {
	Flags Flags
}

func (c CmdKeep) Execute(_ context.Context, d *RuntimeData) error {
	// keep is a non-terminating action - it does NOT cancel implicit keep
	// Sealpost patch 62: the first keep's flags (its :flags, else the
	// internal variable's value now) are those the kept message gets; the
	// internal variable is unchanged (RFC 5232 section 5).
	if !d.Keep {
		d.KeepFlags = d.actionFlags(c.Flags)
	}
	d.Keep = true
	return nil
}

type CmdDiscard struct{}

func (c CmdDiscard) Execute(_ context.Context, d *RuntimeData) error {
	d.ImplicitKeep = false
	d.Flags = make([]string, 0)
	return nil
}

type CmdSetFlag struct {
	Flags Flags
}

func (c CmdSetFlag) Execute(_ context.Context, d *RuntimeData) error {
	if c.Flags != nil {
		d.Flags = canonicalFlags(expandVarsList(d, c.Flags), nil, d.FlagAliases)
	}
	return nil
}

type CmdAddFlag struct {
	Flags Flags
}

func (c CmdAddFlag) Execute(_ context.Context, d *RuntimeData) error {
	if c.Flags != nil {
		flags := expandVarsList(d, c.Flags)

		if d.Flags == nil {
			d.Flags = make([]string, len(flags))
			copy(d.Flags, flags)
		} else {
			// Use canonicalFlags to remove duplicates
			d.Flags = canonicalFlags(append(d.Flags, flags...), nil, d.FlagAliases)
		}
	}
	return nil
}

type CmdRemoveFlag struct {
	Flags Flags
}

func (c CmdRemoveFlag) Execute(_ context.Context, d *RuntimeData) error {
	if c.Flags != nil {
		// Use canonicalFlags to remove duplicates
		d.Flags = canonicalFlags(d.Flags, expandVarsList(d, c.Flags), d.FlagAliases)
	}
	return nil
}
