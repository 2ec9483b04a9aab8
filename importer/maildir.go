package importer

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/sealpost/sealpost"
	"github.com/sealpost/sealpost/errors"
)

// Maildir is a Source reading a Maildir++ folder tree as Dovecot and
// Postfix write it (https://cr.yp.to/proto/maildir.html; Courier's
// Maildir++; Dovecot's maildir format): the root's cur/ and new/ are
// INBOX, each ".Name" (".A.B" for A/B) is a folder, tmp/ is never read.
// A message's flags are its name's info suffix (":2,FRS"), its keywords
// the suffix's lower-case letters, indexes into the folder's
// dovecot-keywords file, its internal date the file's modification time
// (as Dovecot takes it).
type Maildir struct {
	root string
}

var _ Source = (*Maildir)(nil)

// OpenMaildir returns a Source for the Maildir at root.
func OpenMaildir(root string) (*Maildir, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, errors.E("importer.OpenMaildir", errors.Invalid, err)
	}
	if fi, err := os.Stat(filepath.Join(abs, "cur")); err != nil || !fi.IsDir() {
		return nil, errors.E("importer.OpenMaildir", errors.Invalid, errors.Errorf("%s is not a Maildir (no cur/)", root))
	}
	return &Maildir{root: abs}, nil
}

// Kind is "maildir".
func (m *Maildir) Kind() string { return "maildir" }

// ID is the root's absolute path.
func (m *Maildir) ID() string { return "maildir:" + m.root }

// Close does nothing.
func (m *Maildir) Close() error { return nil }

// Folders lists INBOX and every ".Name" folder holding a cur/, with "."
// as the hierarchy delimiter.
func (m *Maildir) Folders(context.Context) ([]Folder, error) {
	ents, err := os.ReadDir(m.root)
	if err != nil {
		return nil, errors.E("importer.Maildir.Folders", errors.Unavailable, err)
	}
	out := []Folder{{Name: sealpost.Inbox, Delim: "."}}
	for _, e := range ents {
		n := e.Name()
		if !e.IsDir() || len(n) < 2 || n[0] != '.' || n == ".." {
			continue
		}
		if fi, err := os.Stat(filepath.Join(m.root, n, "cur")); err != nil || !fi.IsDir() {
			continue
		}
		out = append(out, Folder{Name: n[1:], Delim: "."})
	}
	return out, nil
}

// Count counts the files of new/ and cur/.
func (m *Maildir) Count(_ context.Context, f Folder) (int64, error) {
	var n int64
	for _, sub := range []string{"new", "cur"} {
		ents, _ := os.ReadDir(filepath.Join(m.dir(f), sub))
		for _, e := range ents {
			if _, _, ok := ParseMaildirName(e.Name(), nil); ok && !e.IsDir() {
				n++
			}
		}
	}
	return n, nil
}

func (m *Maildir) dir(f Folder) string {
	if f.Name == sealpost.Inbox {
		return m.root
	}
	return filepath.Join(m.root, "."+f.Name)
}

// Read sends the messages of new/ and cur/ whose unique names st does not
// hold, ordered by unique name (which begins with the delivery time).
func (m *Maildir) Read(ctx context.Context, req Request, out chan<- Item) error {
	const op = "importer.Maildir.Read"
	st := req.Validity(0)
	dir := m.dir(req.Folder)
	keywords := readKeywords(filepath.Join(dir, "dovecot-keywords"))
	type entry struct {
		path, unique string
		flags        []sealpost.Flag
	}
	var list []entry
	for _, sub := range []string{"new", "cur"} {
		ents, err := os.ReadDir(filepath.Join(dir, sub))
		if err != nil {
			if os.IsNotExist(err) {
				continue
			}
			return errors.E(op, errors.Unavailable, err)
		}
		for _, e := range ents {
			if e.IsDir() {
				continue
			}
			unique, flags, ok := ParseMaildirName(e.Name(), keywords)
			if !ok || st.Has(unique) {
				continue
			}
			list = append(list, entry{filepath.Join(dir, sub, e.Name()), unique, flags})
		}
	}
	slices.SortFunc(list, func(a, b entry) int { return strings.Compare(a.unique, b.unique) })
	for _, e := range list {
		it := Item{Name: e.unique, Flags: e.flags}
		fi, err := os.Stat(e.path)
		if os.IsNotExist(err) {
			// Moved between new/ and cur/ (a client read it) since
			// the listing: look for it under its new name next run.
			continue
		}
		switch {
		case err != nil:
			return errors.E(op, errors.Unavailable, err)
		case fi.Size() > req.MaxSize:
			it.Skip = "larger than the message size limit"
		default:
			b, err := os.ReadFile(e.path)
			if os.IsNotExist(err) {
				continue
			}
			if err != nil {
				return errors.E(op, errors.Unavailable, err)
			}
			it.Date = fi.ModTime()
			it.Body = toCRLF(b)
			if len(it.Body) == 0 {
				it.Skip, it.Body = "empty message", nil
			}
		}
		select {
		case out <- it:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// ParseMaildirName splits a Maildir file name into its unique part and
// the flags of its info suffix (":2," then flag letters in ASCII order:
// D draft, F flagged, P passed, R replied, S seen, T trashed; a–z the
// keywords numbered in keywords). ok is false for names that are no
// message (dot files). Experimental ":1," infos and unknown letters are
// ignored; so is a keyword letter with no entry.
func ParseMaildirName(name string, keywords []string) (unique string, flags []sealpost.Flag, ok bool) {
	if name == "" || name[0] == '.' || strings.ContainsAny(name, "/\x00") {
		return "", nil, false
	}
	unique, info, found := strings.Cut(name, ":")
	if unique == "" {
		return "", nil, false
	}
	if !found || !strings.HasPrefix(info, "2,") {
		return unique, nil, true
	}
	for _, c := range info[2:] {
		var f sealpost.Flag
		switch {
		case c == 'D':
			f = sealpost.FlagDraft
		case c == 'F':
			f = sealpost.FlagFlagged
		case c == 'P':
			f = "$Forwarded"
		case c == 'R':
			f = sealpost.FlagAnswered
		case c == 'S':
			f = sealpost.FlagSeen
		case c == 'T':
			f = sealpost.FlagDeleted
		case c >= 'a' && c <= 'z' && int(c-'a') < len(keywords) && keywords[c-'a'] != "":
			f = sealpost.Flag(keywords[c-'a'])
		default:
			continue
		}
		if !sealpost.HasFlag(flags, f) {
			flags = append(flags, f)
		}
	}
	return unique, flags, true
}

// readKeywords reads Dovecot's dovecot-keywords: lines "N keyword", N
// from 0 to 25 naming the letters a to z. A missing or damaged file gives
// what it can.
func readKeywords(path string) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	kw := make([]string, 26)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n, k, ok := strings.Cut(strings.TrimSpace(sc.Text()), " ")
		i, err := strconv.Atoi(n)
		k = strings.TrimSpace(k)
		if !ok || err != nil || i < 0 || i >= 26 || !validKeyword(k) {
			continue
		}
		kw[i] = k
	}
	return kw
}

// toCRLF turns lone LF line ends (as Maildir files have them) into CRLF,
// the message form of RFC 5322 2.1, leaving CRLF as it is.
func toCRLF(b []byte) []byte {
	n := bytes.Count(b, []byte("\n")) - bytes.Count(b, []byte("\r\n"))
	if n == 0 {
		return b
	}
	out := make([]byte, 0, len(b)+n)
	for i := 0; i < len(b); i++ {
		if b[i] == '\n' && (i == 0 || b[i-1] != '\r') {
			out = append(out, '\r')
		}
		out = append(out, b[i])
	}
	return out
}
