package column

import (
	"strings"
	"testing"

	"github.com/sealpost/sealpost"
)

// FuzzFlags checks the flag rules on arbitrary input: whatever Check
// accepts survives storage unchanged, and every operation's result holds no
// \Recent and no two flags equal but for case.
func FuzzFlags(f *testing.F) {
	for _, seed := range [][3]string{
		{`\Seen $Work`, `\SEEN \Recent`, `$work`},
		{``, `\Flagged`, `\flagged $x`},
		{`a b c`, `A B`, `C`},
		{`\Draft`, `(bad`, `\`},
	} {
		f.Add(seed[0], seed[1], seed[2])
	}
	f.Fuzz(func(t *testing.T, cur, add, del string) {
		split := func(s string) []sealpost.Flag {
			var out []sealpost.Flag
			for _, p := range strings.Fields(s) {
				if CheckFlag(sealpost.Flag(p)) == nil {
					out = append(out, sealpost.Flag(p))
				}
			}
			return out
		}
		flags := AddFlags(nil, split(cur))
		for _, op := range []struct {
			op    sealpost.FlagOp
			flags []sealpost.Flag
		}{{sealpost.FlagsAdd, split(add)}, {sealpost.FlagsRemove, split(del)}, {sealpost.FlagsSet, split(add)}} {
			flags = ApplyFlags(flags, op.op, op.flags)
			for i, a := range flags {
				if strings.EqualFold(string(a), recent) {
					t.Fatalf("\\Recent stored: %q", flags)
				}
				for _, b := range flags[i+1:] {
					if strings.EqualFold(string(a), string(b)) {
						t.Fatalf("duplicate flags %q", flags)
					}
				}
			}
			back := DecodeFlags(EncodeFlags(flags))
			if len(back) != len(flags) || !SameFlags(back, flags) {
				t.Fatalf("flags %q read back as %q", flags, back)
			}
		}
	})
}
