package importer

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/mail"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// MboxFormat is how "From " lines inside messages were quoted.
type MboxFormat int

// The mbox variants (RFC 4155 and its appendix; Qmail's mbox(5)): mboxrd
// quotes every line matching ">*From " with one more ">", so reading
// takes one off each; mboxo quotes only "From " and cannot be undone
// exactly: reading takes one ">" off ">From " lines only.
const (
	MboxRD MboxFormat = iota
	MboxO
)

// Mbox is a Source reading one mbox file into one folder.
type Mbox struct {
	path   string
	folder string
	format MboxFormat
}

var _ Source = (*Mbox)(nil)

// OpenMbox returns a Source for the mbox file at path, whose messages go
// to the folder named folder (INBOX, Sent, ...: mapped as any folder).
func OpenMbox(path, folder string, format MboxFormat) (*Mbox, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, errors.E("importer.OpenMbox", errors.Invalid, err)
	}
	if _, err := os.Stat(abs); err != nil {
		return nil, errors.E("importer.OpenMbox", errors.NotExist, err)
	}
	return &Mbox{path: abs, folder: folder, format: format}, nil
}

// Kind is "mbox".
func (m *Mbox) Kind() string { return "mbox" }

// ID is the file's absolute path.
func (m *Mbox) ID() string { return "mbox:" + m.path }

// Folders is the one folder.
func (m *Mbox) Folders(context.Context) ([]Folder, error) {
	return []Folder{{Name: m.folder, Delim: "/"}}, nil
}

// Close does nothing.
func (m *Mbox) Close() error { return nil }

// Count is -1: an mbox's messages are known only by reading it.
func (m *Mbox) Count(context.Context, Folder) (int64, error) { return -1, nil }

// Read sends the messages after st.Pos, first checking that the message
// that ended there is still the one copied (an mbox rewritten since,
// say compacted by a mail client, cannot be resumed by offset).
func (m *Mbox) Read(ctx context.Context, req Request, out chan<- Item) error {
	const op = "importer.Mbox.Read"
	st := req.Validity(0)
	file, err := os.Open(m.path)
	if err != nil {
		return errors.E(op, errors.NotExist, err)
	}
	defer file.Close()
	if st.Pos > 0 {
		if st.Start >= st.Pos {
			return errors.E(op, errors.Invalid, errors.Str("damaged import state"))
		}
		prev := make([]byte, st.Pos-st.Start)
		if _, err := file.ReadAt(prev, int64(st.Start)); err != nil || mboxCheck(prev) != st.Check {
			return errors.E(op, errors.Invalid, errors.Str("the mbox file changed before the point the last import reached: it cannot be resumed"))
		}
		if _, err := file.Seek(int64(st.Pos), io.SeekStart); err != nil {
			return errors.E(op, errors.Internal, err)
		}
	}
	return ParseMbox(bufio.NewReaderSize(file, 64<<10), st.Pos, m.format, req.MaxSize, func(it Item) error {
		select {
		case out <- it:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
}

// mboxCheck is Item.Check of an mbox message's bytes (as ParseMbox
// computes it).
func mboxCheck(raw []byte) string {
	h := sha256.Sum256(raw)
	return hex.EncodeToString(h[:16])
}

// ParseMbox reads the mbox r, whose first byte is at offset base of the
// file, and calls fn with each message: separated by "From " lines (at the
// start, or after an empty line: RFC 4155 2), unquoted per format, with
// CRLF line ends (RFC 5322 2.1), the flags of its Status:, X-Status: and
// X-Keywords: fields (as mutt, Thunderbird and Dovecot write them), and
// the date of its "From " line (else of its Date: field). The message
// keeps every field, those too. A message over max bytes is skipped, its
// text not kept.
func ParseMbox(r *bufio.Reader, base uint64, format MboxFormat, max int64, fn func(Item) error) error {
	const op = "importer.ParseMbox"
	off := base
	var (
		cur      *Item
		sum      = sha256.New() // of the file's bytes of the message, for Check
		body     []byte
		blank    bool // the previous line was empty
		pendNL   []byte
		tooLarge bool
	)
	flush := func() error {
		if cur == nil {
			return nil
		}
		cur.Pos = off
		cur.Check = hex.EncodeToString(sum.Sum(nil)[:16])
		if tooLarge {
			cur.Skip = "larger than the message size limit"
		} else if len(body) == 0 {
			cur.Skip = "empty message"
		} else {
			cur.Body = body
			cur.Flags = mboxFlags(body)
			if cur.Date.IsZero() {
				cur.Date = headerDate(body)
			}
		}
		err := fn(*cur)
		cur, body, pendNL, tooLarge = nil, nil, nil, false
		sum.Reset()
		return err
	}
	for first := true; ; first = false {
		line, n, long, err := readLine(r, max, sum)
		if n == 0 && err != nil {
			if err != io.EOF {
				return errors.E(op, errors.Unavailable, err)
			}
			break
		}
		start := off
		off += uint64(n)
		if long {
			// A line longer than max (already counted in sum): the
			// message is too large; a separator never is.
			tooLarge, body = cur != nil, nil
			blank = false
			if err == io.EOF {
				break
			}
			continue
		}
		if bytes.HasPrefix(line, []byte("From ")) && (first || blank || !fromLineDate(line).IsZero()) {
			pendNL = nil // the empty line before a separator is not the message's
			off = start
			if err := flush(); err != nil {
				return err
			}
			off += uint64(n)
			cur = &Item{Start: start, Date: fromLineDate(line)}
			sum.Reset() // of bytes before the first separator, if any
			sum.Write(line)
			blank = false
			continue
		}
		if cur == nil {
			// Bytes before the first "From " line: not an mbox message.
			if len(bytes.TrimSpace(line)) > 0 && start == base && base == 0 {
				return errors.E(op, errors.Invalid, errors.Str("not an mbox file: it does not begin with a \"From \" line"))
			}
			continue
		}
		sum.Write(line)
		content := bytes.TrimRight(line, "\r\n")
		blank = len(content) == 0
		if format == MboxRD && quotedFrom(content) || format == MboxO && bytes.HasPrefix(content, []byte(">From ")) {
			content = content[1:]
		}
		if !tooLarge {
			body = append(body, pendNL...)
			pendNL = nil
			body = append(body, content...)
			if blank {
				pendNL = []byte("\r\n") // held back: it may precede the next separator
			} else {
				body = append(body, '\r', '\n')
			}
			if int64(len(body)) > max {
				tooLarge, body = true, nil
			}
		}
		if err == io.EOF {
			break
		}
	}
	// An empty last line is the separator's (mboxrd ends every message
	// with one): pendNL is dropped.
	return flush()
}

// readLine reads a line and returns it, with the number of bytes it took
// from r. A line longer than keep is not returned (long is true): its
// bytes go to sum as they are read, and no more than keep of them are
// ever held.
func readLine(r *bufio.Reader, keep int64, sum io.Writer) (line []byte, n int, long bool, err error) {
	l, err := r.ReadSlice('\n')
	n = len(l)
	if err != bufio.ErrBufferFull {
		return l, n, false, err
	}
	full := append([]byte(nil), l...)
	for err == bufio.ErrBufferFull {
		l, err = r.ReadSlice('\n')
		n += len(l)
		switch {
		case long:
			sum.Write(l)
		case int64(len(full)+len(l)) > keep:
			long = true
			sum.Write(full)
			sum.Write(l)
			full = nil
		default:
			full = append(full, l...)
		}
	}
	if err == bufio.ErrBufferFull {
		err = nil
	}
	return full, n, long, err
}

// quotedFrom reports whether line is ">"+ then "From ".
func quotedFrom(line []byte) bool {
	i := 0
	for i < len(line) && line[i] == '>' {
		i++
	}
	return i > 0 && bytes.HasPrefix(line[i:], []byte("From "))
}

// fromLineDate reads the date of a "From sender date" line: asctime's
// form (RFC 4155 2: "Mon Jan _2 15:04:05 2006"), with or without a zone.
func fromLineDate(line []byte) time.Time {
	fields := strings.Fields(string(line))
	if len(fields) < 3 {
		return time.Time{}
	}
	rest := strings.Join(fields[2:], " ")
	for _, layout := range []string{time.ANSIC, "Mon Jan _2 15:04:05 2006 -0700", "Mon Jan _2 15:04:05 MST 2006", "Mon Jan _2 15:04:05 -0700 2006"} {
		if t, err := time.Parse(layout, rest); err == nil {
			return t
		}
	}
	return time.Time{}
}

// headerDate is the message's Date: field, or zero.
func headerDate(msg []byte) time.Time {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(msg)
	}
	h, err := mail.ReadMessage(bytes.NewReader(append(msg[:end:end], "\r\n\r\n"...)))
	if err != nil {
		return time.Time{}
	}
	t, err := h.Header.Date()
	if err != nil {
		return time.Time{}
	}
	return t
}

// mboxFlags reads the flags mbox writers keep in the header: Status: (R
// read), X-Status: (A answered, F flagged, T draft, D deleted) and
// X-Keywords: (keywords, separated by commas or spaces).
func mboxFlags(msg []byte) []sealpost.Flag {
	end := bytes.Index(msg, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(msg)
	}
	var flags []sealpost.Flag
	for _, line := range bytes.Split(msg[:end], []byte("\r\n")) {
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v := string(bytes.TrimSpace(value))
		switch strings.ToLower(string(name)) {
		case "status":
			if strings.Contains(v, "R") {
				flags = append(flags, sealpost.FlagSeen)
			}
		case "x-status":
			for _, c := range v {
				switch c {
				case 'A':
					flags = append(flags, sealpost.FlagAnswered)
				case 'F':
					flags = append(flags, sealpost.FlagFlagged)
				case 'T':
					flags = append(flags, sealpost.FlagDraft)
				case 'D':
					flags = append(flags, sealpost.FlagDeleted)
				}
			}
		case "x-keywords":
			for _, k := range strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' }) {
				if validKeyword(k) {
					flags = append(flags, sealpost.Flag(k))
				}
			}
		}
	}
	return flags
}

// validKeyword reports whether k is an IMAP keyword: an atom (RFC 9051
// 9: flag-keyword), no "\", at most 100 bytes.
func validKeyword(k string) bool {
	if k == "" || len(k) > 100 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}
