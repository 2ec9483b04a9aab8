package interp

// Sealpost patch 63: the reject and ereject actions (RFC 5429), which this
// fork lacked. The interpreter only records the reason; whether to refuse
// in SMTP or send an MDN is the caller's choice (RFC 5429 section 2.1).

import (
	"context"
	"fmt"

	"github.com/migadu/go-sieve/parser"
)

// CmdReject is "reject <reason: string>" or "ereject <reason: string>".
type CmdReject struct {
	Reason   string
	Extended bool
}

func (c CmdReject) Execute(_ context.Context, d *RuntimeData) error {
	// RFC 5429 section 2.3: at most one reject or ereject per script run.
	if d.Rejected {
		return fmt.Errorf("reject: more than one reject or ereject")
	}
	d.Rejected = true
	d.Reject = expandVars(d, c.Reason)
	d.RejectExtended = c.Extended
	// RFC 5429 section 2.3: reject cancels the implicit keep.
	d.ImplicitKeep = false
	return nil
}

func loadReject(s *Script, pcmd parser.Cmd) (Cmd, error) {
	return loadRejectCmd(s, pcmd, "reject", false)
}

func loadEReject(s *Script, pcmd parser.Cmd) (Cmd, error) {
	return loadRejectCmd(s, pcmd, "ereject", true)
}

func loadRejectCmd(s *Script, pcmd parser.Cmd, ext string, extended bool) (Cmd, error) {
	if !s.RequiresExtension(ext) {
		return nil, parser.ErrorAt(pcmd.Position, "missing require '%s'", ext)
	}
	cmd := CmdReject{Extended: extended}
	err := LoadSpec(s, &Spec{
		Pos: []SpecPosArg{{
			MinStrCount: 1,
			MaxStrCount: 1,
			MatchStr:    func(val []string) { cmd.Reason = val[0] },
		}},
	}, pcmd.Position, pcmd.Args, pcmd.Tests, pcmd.Block)
	if err != nil {
		return nil, err
	}
	return cmd, nil
}
