package importer

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
)

// FuzzParseMbox: any input parses without panic into messages that tile
// the file in order (each starts where the one before ended), whose text
// has CRLF line ends only, and whose flags are valid.
func FuzzParseMbox(f *testing.F) {
	f.Add([]byte("From a@b Tue Mar  5 09:10:11 2019\nSubject: x\n\n>From y\n\nFrom c@d Wed Mar  6 10:00:00 2019\n\nz\n"))
	f.Add([]byte("From \n\n\nFrom \r\nStatus: RO\r\nX-Keywords: a,b c\r\n\r\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var last uint64
		ParseMbox(bufio.NewReaderSize(bytes.NewReader(in), 16), 0, MboxRD, 1000, func(it Item) error {
			if it.Start < last || it.Pos <= it.Start || it.Pos > uint64(len(in)) {
				t.Fatalf("message [%d,%d) after %d in %d bytes", it.Start, it.Pos, last, len(in))
			}
			if !bytes.HasPrefix(in[it.Start:], []byte("From ")) {
				t.Fatalf("message at %d does not begin with a From line", it.Start)
			}
			last = it.Pos
			if it.Check != mboxCheck(in[it.Start:it.Pos]) {
				t.Fatalf("message [%d,%d): Check is not its bytes' hash", it.Start, it.Pos)
			}
			if bytes.Contains(bytes.ReplaceAll(it.Body, []byte("\r\n"), nil), []byte("\n")) {
				t.Fatalf("bare LF in %q", it.Body)
			}
			for _, fl := range it.Flags {
				if !strings.HasPrefix(string(fl), `\`) && !validKeyword(string(fl)) {
					t.Fatalf("bad flag %q", fl)
				}
			}
			return nil
		})
	})
}

// FuzzParseMaildirName: any name parses without panic; a message's unique
// name is never empty nor holds ":", and its flags are distinct.
func FuzzParseMaildirName(f *testing.F) {
	f.Add("1551776400.M1P10.host,S=60:2,RS")
	f.Add("1551776600.M3P10.host:2,Facz")
	f.Add("x:1,junk")
	f.Fuzz(func(t *testing.T, name string) {
		unique, flags, ok := ParseMaildirName(name, []string{"$Forwarded", "$Label1", "Work"})
		if !ok {
			return
		}
		if unique == "" || strings.Contains(unique, ":") || !strings.HasPrefix(name, unique) {
			t.Fatalf("%q: unique %q", name, unique)
		}
		for i, fl := range flags {
			if sealpost.HasFlag(flags[:i], fl) {
				t.Fatalf("%q: flag %s twice", name, fl)
			}
		}
	})
}
