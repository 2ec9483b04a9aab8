package errors

import (
	"io"
	"testing"
)

func TestKindInherited(t *testing.T) {
	inner := E("store.Get", NotExist, io.EOF)
	outer := E("postbox.Body", inner)
	if KindOf(outer) != NotExist {
		t.Fatalf("KindOf = %v, want NotExist", KindOf(outer))
	}
	if !IsErr(outer, io.EOF) {
		t.Fatal("cause lost in the chain")
	}
	if got, want := outer.Error(), "postbox.Body: not exist: store.Get: not exist: EOF"; got != want {
		t.Fatalf("Error() = %q, want %q", got, want)
	}
}

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want Kind
	}{
		{nil, Other},
		{io.EOF, Other},
		{E("op", Permission), Permission},
		{E("a", E("b", E("c", TooLarge))), TooLarge},
		{E("a", Invalid, E("b", NotExist)), Invalid},
	} {
		if got := KindOf(tc.err); got != tc.want {
			t.Errorf("KindOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if Is(NotExist, nil) {
		t.Error("Is(kind, nil) must be false")
	}
}
