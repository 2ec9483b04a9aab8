// Package sieve owns Sealpost's Sieve engine (RFC 5228): compiling a
// user's script, running it over one delivery into a Plan (what to do with
// the message: keep, file into mailboxes, redirect, reject, reply), and
// the pure helpers of the vacation extension (RFC 5230: whether to reply,
// the reply itself, the memory of who got one).
//
// It is pure: no I/O, no clock but the times it is given. The language
// itself is our in-tree copy of github.com/migadu/go-sieve
// (third_party/go-sieve, its patches listed in third_party/README.md);
// this package bounds it (script size, tokens, nesting, run time, regular
// expressions, actions) and turns its result into a Plan.
package sieve

import (
	"bytes"
	"fmt"
	"regexp"
	"strings"
	"time"

	sievelib "github.com/migadu/go-sieve"
	"github.com/migadu/go-sieve/interp"
	"github.com/migadu/go-sieve/lexer"
	"github.com/migadu/go-sieve/parser"

	"github.com/sealpost/sealpost/errors"
)

// Bounds on a script and its run.
const (
	// MaxScriptSize is the largest script Compile accepts.
	MaxScriptSize = 64 << 10
	// MaxTokens bounds a script's commands, tests and arguments (the
	// lexer's tokens); with MaxNesting it bounds the work of one run,
	// Sieve having no loops.
	MaxTokens = 5000
	// MaxNesting bounds the nesting of blocks and of tests.
	MaxNesting = 15
	// MaxRedirects is the most redirect actions one run may take.
	MaxRedirects = 5
	// MaxFileInto is the most distinct mailboxes one run may file into.
	MaxFileInto = 32
	// MaxRunTime bounds one run when the caller's context has no earlier
	// deadline.
	MaxRunTime = 2 * time.Second
	// MaxBodySize is how much of a message's body the body test reads
	// (RFC 5173); the rest is not seen.
	MaxBodySize = 1 << 20
	// maxMatchInput is how much of one value a :matches or :regex test
	// reads; it bounds the cost of one match (Go's regular expressions run
	// in time linear in pattern times input).
	maxMatchInput = 64 << 10
)

// extensions is what a script may require: RFC 5228's comparators and
// extensions, and those of the RFCs named. editheader is left out (a Plan
// carries no header edits), and so is the dovecot test suite.
var extensions = []string{
	"body",                         // RFC 5173
	"comparator-i;ascii-casemap",   // RFC 4790, RFC 5228 2.7.3
	"comparator-i;ascii-numeric",   // RFC 4790
	"comparator-i;octet",           // RFC 4790, RFC 5228 2.7.3
	"comparator-i;unicode-casemap", // RFC 5051
	"copy",                         // RFC 3894
	"date",                         // RFC 5260
	"encoded-character",            // RFC 5228 2.4.2.4
	"envelope",                     // RFC 5228 5.4
	"ereject",                      // RFC 5429
	"fileinto",                     // RFC 5228 4.1
	"imap4flags",                   // RFC 5232
	"index",                        // RFC 5260
	"mailbox",                      // RFC 5490
	"regex",                        // draft-ietf-sieve-regex
	"reject",                       // RFC 5429
	"relational",                   // RFC 5231
	"subaddress",                   // RFC 5233
	"vacation",                     // RFC 5230
	"variables",                    // RFC 5229
}

// Extensions returns the Sieve extensions a script may require, which is
// what ManageSieve advertises in its SIEVE capability (RFC 5804 1.7).
func Extensions() []string { return append([]string(nil), extensions...) }

// Script is a compiled script. It is immutable and safe for concurrent
// Runs.
type Script struct {
	s *interp.Script
}

func options() sievelib.Options {
	o := sievelib.DefaultOptions()
	o.Lexer.MaxTokens = MaxTokens
	o.Parser.MaxBlockNesting = MaxNesting
	o.Parser.MaxTestNesting = MaxNesting
	o.Interp.MaxRedirects = MaxRedirects
	o.Interp.RegexLimits = interp.RegexLimits{
		MaxExecTime:      100 * time.Millisecond,
		MaxPatternLength: 1000,
		MaxInputLength:   maxMatchInput,
	}
	o.EnabledExtensions = Extensions()
	return o
}

// Compile parses and checks a script. Its error is of kind errors.Invalid
// (errors.TooLarge over MaxScriptSize) and its text, which names the line
// and column, is meant for the script's author: it is what ManageSieve's
// PUTSCRIPT and CHECKSCRIPT answer (RFC 5804 2.6, 2.12).
func Compile(src []byte) (s *Script, err error) {
	const op = "sieve.Compile"
	if len(src) > MaxScriptSize {
		return nil, errors.E(op, errors.TooLarge, errors.Errorf("the script is larger than %d KiB", MaxScriptSize>>10))
	}
	defer func() {
		if r := recover(); r != nil {
			s, err = nil, errors.E(op, errors.Internal, errors.Errorf("compiling the script failed: %v", r))
		}
	}()
	o := options()
	toks, err := lexer.Lex(bytes.NewReader(src), &o.Lexer)
	if err != nil {
		if msg := err.Error(); !positionRE.MatchString(msg) {
			// The lexer reports a script cut short without a position:
			// it is at the end.
			lines := bytes.Count(src, []byte("\n")) + 1
			return nil, errors.E(op, errors.Invalid, errors.Errorf("line %d: %s (at the end of the script)", lines, libraryPrefixes.Replace(msg)))
		}
		return nil, errors.E(op, errors.Invalid, errors.Str(friendly(err)))
	}
	cmds, err := parser.Parse(lexer.NewStream(toks), &o.Parser)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Str(friendly(err)))
	}
	is, err := interp.LoadScript(cmds, &o.Interp, o.EnabledExtensions)
	if err != nil {
		return nil, errors.E(op, errors.Invalid, errors.Str(friendly(err)))
	}
	return &Script{s: is}, nil
}

// positionRE is the library's "line:col: " error prefix.
var positionRE = regexp.MustCompile(`^(?:[^:]*:)?(\d+):(\d+): `)

// libraryPrefixes are the names of the library's functions it puts in its
// messages; an author has no use for them.
var libraryPrefixes = strings.NewReplacer(
	"LoadSpec: ", "", "LoadBlock: ", "", "LoadTest: ", "", "loadRequire: ", "",
	"parser: ", "", "lexer: ", "",
)

// friendly rewrites a library error for a script's author: "line L,
// column C: what".
func friendly(err error) string {
	msg := err.Error()
	if m := positionRE.FindStringSubmatch(msg); m != nil {
		msg = fmt.Sprintf("line %s, column %s: %s", m[1], m[2], msg[len(m[0]):])
	}
	return libraryPrefixes.Replace(msg)
}
