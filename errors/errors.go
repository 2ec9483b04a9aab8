// Package errors defines Sealpost's structured error: the operation that
// failed, a stable Kind callers can branch on, and the underlying cause.
//
// It follows Upspin's errors.E: protocol code maps a Kind to a generic reply
// (an SMTP or IMAP status), while the full error, with its Op chain, goes only
// to the structured log.
package errors

import (
	stderrors "errors"
	"fmt"
)

// Kind classifies an error. Kinds are stable; callers switch on them.
type Kind uint8

// The kinds of error.
const (
	Other       Kind = iota // unclassified
	Invalid                 // the request or input is malformed
	NotExist                // the named thing does not exist
	Exist                   // the thing already exists
	Permission              // authentication failed or the caller may not do this
	TooLarge                // the input exceeds a configured limit
	Sealed                  // the data is sealed to a key this session cannot open
	Internal                // a bug or an I/O failure on our side
	Unavailable             // a transient failure; retrying may succeed
	WrongRegion             // the account is homed in another region
	OverQuota               // an account's quota (storage, mailbox count) does not allow it
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotExist:
		return "not exist"
	case Exist:
		return "exist"
	case Permission:
		return "permission denied"
	case TooLarge:
		return "too large"
	case Sealed:
		return "sealed"
	case Internal:
		return "internal error"
	case Unavailable:
		return "unavailable"
	case WrongRegion:
		return "wrong region"
	case OverQuota:
		return "over quota"
	}
	return "error"
}

// Error is the error type used throughout Sealpost.
type Error struct {
	Op   string // the operation, e.g. "sqlite.Deliver"
	Kind Kind
	Err  error // the underlying error, may be nil
}

func (e *Error) Error() string {
	s := e.Op
	if e.Kind != Other {
		if s != "" {
			s += ": "
		}
		s += e.Kind.String()
	}
	if e.Err != nil {
		if s != "" {
			s += ": "
		}
		s += e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// E builds an error from its arguments: a string is the Op, a Kind the kind,
// an error the cause. If Kind is not given and the cause is an *Error, the
// cause's kind is inherited.
func E(args ...any) error {
	e := &Error{}
	for _, a := range args {
		switch a := a.(type) {
		case string:
			e.Op = a
		case Kind:
			e.Kind = a
		case error:
			e.Err = a
		default:
			panic(fmt.Sprintf("errors.E: bad argument %T", a))
		}
	}
	if e.Kind == Other {
		var inner *Error
		if stderrors.As(e.Err, &inner) {
			e.Kind = inner.Kind
		}
	}
	return e
}

// Str returns an error with the given text, for use as a cause.
func Str(text string) error { return stderrors.New(text) }

// Errorf is fmt.Errorf, for use as a cause.
func Errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// KindOf reports the kind of err: the first Kind found in its chain, or Other.
func KindOf(err error) Kind {
	var e *Error
	for err != nil {
		if !stderrors.As(err, &e) {
			return Other
		}
		if e.Kind != Other {
			return e.Kind
		}
		err = e.Err
	}
	return Other
}

// Is reports whether err is of the given kind.
func Is(kind Kind, err error) bool { return err != nil && KindOf(err) == kind }

// As is the standard library's errors.As.
func As(err error, target any) bool { return stderrors.As(err, target) }

// IsErr is the standard library's errors.Is.
func IsErr(err, target error) bool { return stderrors.Is(err, target) }
