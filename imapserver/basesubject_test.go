package imapserver

import "testing"

// TestBaseSubject follows RFC 5256 2.1 step by step, with a case for each
// rule and the combinations the ABNF allows.
func TestBaseSubject(t *testing.T) {
	tests := []struct {
		in, base string
		reply    bool
	}{
		{"", "", false},
		{"Hello", "Hello", false},
		// (1) encoded words decoded, white space runs made one space
		{"=?UTF-8?Q?Gr=C3=BC=C3=9Fe?= aus\t\tBerlin", "Grüße aus Berlin", false},
		{"  folded\r\n  subject  ", "folded subject", false},
		// (2) trailing "(fwd)" and white space, repeatedly
		{"report (fwd)", "report", true},
		{"report (FWD) (fwd)  ", "report", true},
		{"report(fwd)", "report", true},
		// (3) subj-leader: *subj-blob subj-refwd, or WSP
		{"Re: hello", "hello", true},
		{"RE: Re: re:hello", "hello", true},
		{"Fw: hello", "hello", true},
		{"FWD: hello", "hello", true},
		{"Re : hello", "hello", true},
		{"Re[2]: hello", "hello", true},
		{"Re [list]: hello", "hello", true},
		{"[list] Re: hello", "hello", true},
		{"[a][b] Re: hello", "hello", true},
		{"Ref: hello", "Ref: hello", false},
		{"Re hello", "Re hello", false},
		// (4) a leading subj-blob, unless nothing would remain
		{"[list] hello", "hello", false},
		{"[list] [other] hello", "hello", false},
		{"[list]", "[list]", false},
		{"[list] ", "[list]", false},
		{"[unclosed hello", "[unclosed hello", false},
		{"[a[b] hello", "[a[b] hello", false},
		// (5) (3) and (4) repeated
		{"[list] Re: [list] Re: hello", "hello", true},
		{"Re: [list] hello", "hello", true},
		// (6) "[fwd:" ... "]", then from (2) again
		{"[fwd: hello]", "hello", true},
		{"[Fwd: Re: hello (fwd)]", "hello", true},
		{"[fwd: [fwd: hello]]", "hello", true},
		{"[fwd: hello", "[fwd: hello", false},
		{"Re: [fwd: hello]", "hello", true},
	}
	for _, tt := range tests {
		base, reply := baseSubject(tt.in)
		if base != tt.base || reply != tt.reply {
			t.Errorf("baseSubject(%q) = %q, %v; want %q, %v", tt.in, base, reply, tt.base, tt.reply)
		}
	}
}
