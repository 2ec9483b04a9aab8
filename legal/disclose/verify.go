package disclose

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sealpost/sealpost/errors"
)

// Limits bound what Verify reads, so that a hostile package cannot exhaust
// memory or run forever. Memory is bounded by MaxManifest (the manifest is
// held and parsed; files are streamed through SHA-256 and never held), and
// the number of entries by MaxFiles (every entry must be listed once).
type Limits struct {
	MaxFiles    int   // files listed in the manifest
	MaxManifest int64 // bytes of manifest.json
	MaxTotal    int64 // bytes of the whole archive, trailing padding included
}

// DefaultLimits are the limits of Verify, and those Build keeps within.
var DefaultLimits = Limits{
	MaxFiles:    500_000,
	MaxManifest: 128 << 20,
	MaxTotal:    1 << 40,
}

// Verify reads a package from r and checks it against the deployment's
// public key pub. It returns the manifest when all of this holds:
//
//   - manifest.json is the first entry and manifest.sig the second;
//   - manifest.sig is a valid Ed25519 signature by pub over manifest.json;
//   - manifest.json is a canonical, well-formed manifest of this Format
//     naming pub as its signing key, its file names safe and sorted;
//   - every listed file is present exactly once, a regular file with the
//     listed size and SHA-256, and nothing unlisted is present;
//   - every entry's tar header is byte for byte the one Build writes for
//     it (mode 0644, no owner, the manifest's creation time, no PAX record
//     but a long name) and its padding is zero;
//   - the archive ends with its end-of-archive marker, followed by nothing
//     but zero bytes.
//
// So no byte of a verified package differs from what Build wrote. Otherwise
// Verify returns an error of kind Invalid whose cause is a *FileError
// naming the offending file where there is one (a file listed but missing,
// a file present but not listed, a duplicate, a mismatch, an unsafe name, a
// truncated entry, an altered header), or of kind TooLarge when the package
// exceeds DefaultLimits. A read error from r that is not the end of input
// is Internal. Verify never panics, whatever r holds.
func Verify(r io.Reader, pub ed25519.PublicKey) (Manifest, error) {
	return VerifyLimits(r, pub, DefaultLimits)
}

// VerifyLimits is Verify with other limits.
func VerifyLimits(r io.Reader, pub ed25519.PublicKey, lim Limits) (Manifest, error) {
	const op = "disclose.Verify"
	if len(pub) != ed25519.PublicKeySize {
		return Manifest{}, errors.E(op, errors.Invalid, errors.Errorf("public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize))
	}
	v := &verifier{op: op, lim: lim, cr: &countingReader{r: r, max: lim.MaxTotal}}
	v.tr = tar.NewReader(v.cr)

	mjson, err := v.readFirst(ManifestName, lim.MaxManifest, false)
	if err != nil {
		return Manifest{}, err
	}
	sig, err := v.readFirst(SignatureName, ed25519.SignatureSize, true)
	if err != nil {
		return Manifest{}, err
	}
	keyText := EncodePublicKey(pub)
	if !ed25519.Verify(pub, mjson, sig) {
		reason := "signature in " + SignatureName + " does not verify with key " + keyText +
			": " + ManifestName + " or " + SignatureName + " was altered, or another key signed them"
		// A hint only: this field is not authenticated.
		var claim struct {
			SigningKey string `json:"signing_key"`
		}
		if json.Unmarshal(mjson, &claim) == nil && claim.SigningKey != "" && claim.SigningKey != keyText {
			reason += " (the manifest claims, unverified, to be signed by " + strconv.QuoteToASCII(claim.SigningKey) + ")"
		}
		return Manifest{}, fileErr(op, ManifestName, reason)
	}
	m, err := parseManifest(op, mjson, lim)
	if err != nil {
		return Manifest{}, err
	}
	if m.SigningKey != keyText {
		return Manifest{}, fileErr(op, ManifestName, "names signing key "+strconv.QuoteToASCII(m.SigningKey)+", not "+keyText)
	}
	v.created = m.Created
	for _, e := range v.first {
		if reason := v.headerReason(e.hdr, e.raw); reason != "" {
			return Manifest{}, fileErr(op, e.hdr.Name, reason)
		}
	}
	if err := v.readFiles(m.Files); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// verifier holds the state of one Verify.
type verifier struct {
	op  string
	lim Limits
	cr  *countingReader
	tr  *tar.Reader
	// dataEnd is the archive offset where the last entry's data ended and
	// pad its padding to the next 512-byte block: the end-of-archive
	// marker must follow them.
	dataEnd, pad int64
	last         string // the last entry read
	raw          []byte // the raw header of the entry just read
	// first are the headers of manifest.json and manifest.sig, checked
	// once the manifest (its creation time) is known.
	first   []firstEntry
	created time.Time
}

type firstEntry struct {
	hdr *tar.Header
	raw []byte
}

// errTooLarge is returned by countingReader past its limit.
var errTooLarge = errors.Str("package exceeds the size limit")

// errPadding is returned by countingReader for a non-zero byte where
// only zeros may be.
var errPadding = errors.Str("non-zero padding")

// countingReader counts bytes read, fails past max, and checks that the
// bytes at offsets [zeroFrom, zeroTo) are zero: the padding after an
// entry's data, which the tar reader skips without looking. While capture
// is set it also keeps what it reads (up to maxCapture bytes; more sets
// overflow): the raw header blocks, which Verify compares with those Build
// writes. Both checks together mean no byte of a package can change
// unnoticed.
type countingReader struct {
	r                io.Reader
	n                int64
	max              int64
	zeroFrom, zeroTo int64
	capture          bool
	raw              []byte
	overflow         bool
}

// maxCapture bounds the raw header bytes kept for one entry: far more than
// Build writes for a name of MaxNameLen bytes.
const maxCapture = 64 << 10

func (c *countingReader) Read(p []byte) (int, error) {
	room := c.max + 1 - c.n
	if room <= 0 {
		return 0, errTooLarge
	}
	if int64(len(p)) > room {
		p = p[:room]
	}
	start := c.n
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.capture {
		if len(c.raw)+n > maxCapture {
			c.overflow = true
		} else {
			c.raw = append(c.raw, p[:n]...)
		}
	}
	for off := max(start, c.zeroFrom); off < min(c.n, c.zeroTo); off++ {
		if p[off-start] != 0 {
			return n, errPadding
		}
	}
	if c.n > c.max {
		return n, errTooLarge
	}
	return n, err
}

// ioErr turns an error reading entry name into Verify's error.
func (v *verifier) ioErr(name, what string, err error) error {
	switch {
	case errors.IsErr(err, errTooLarge):
		return errors.E(v.op, errors.TooLarge, errors.Errorf("package larger than %d bytes", v.lim.MaxTotal))
	case errors.IsErr(err, errPadding):
		return fileErr(v.op, name, "non-zero bytes in the padding after its data")
	case errors.IsErr(err, io.ErrUnexpectedEOF) || errors.IsErr(err, io.EOF):
		return fileErr(v.op, name, what+": archive truncated")
	case errors.IsErr(err, tar.ErrHeader) || errors.IsErr(err, tar.ErrFieldTooLong):
		return fileErr(v.op, name, what+": "+err.Error())
	}
	// The tar reader reports malformed headers with errors of its own
	// (bad numbers, PAX records); anything else is a read failure.
	if strings.HasPrefix(err.Error(), "archive/tar:") {
		return fileErr(v.op, name, what+": "+err.Error())
	}
	return errors.E(v.op, errors.Internal, err)
}

// next reads the next header; err is non-nil also at io.EOF. It sets
// v.raw to the header's bytes as read (nil if too long).
func (v *verifier) next() (*tar.Header, error) {
	v.cr.capture, v.cr.raw, v.cr.overflow = true, v.cr.raw[:0], false
	hdr, err := v.tr.Next()
	v.cr.capture = false
	v.raw = nil
	if !v.cr.overflow && int64(len(v.cr.raw)) >= v.pad {
		v.raw = v.cr.raw[v.pad:] // the previous entry's padding comes first
	}
	if err == tar.ErrInsecurePath { // GODEBUG=tarinsecurepath=0; checkName decides
		err = nil
	}
	return hdr, err
}

// headerReason returns why the raw header bytes of an entry are not those
// Build writes for it, or "".
func (v *verifier) headerReason(hdr *tar.Header, raw []byte) string {
	if reason := entryReason(hdr, v.created); reason != "" {
		return reason
	}
	if want := headerBytes(hdr.Name, hdr.Size, v.created); want == nil || !bytes.Equal(raw, want) {
		return "tar header differs from the one the package was built with"
	}
	return ""
}

// readFirst reads one of the two leading entries, which must be named want
// and hold at most max bytes (exactly max when exact).
func (v *verifier) readFirst(want string, max int64, exact bool) ([]byte, error) {
	hdr, err := v.next()
	if err == io.EOF {
		return nil, fileErr(v.op, want, "missing: the archive ends before it")
	}
	if err != nil {
		return nil, v.ioErr(want, "reading its header", err)
	}
	if hdr.Name != want {
		return nil, fileErr(v.op, want, "missing: found "+quoteName(hdr.Name)+" where it must be")
	}
	if reason := entryReason(hdr, time.Time{}); reason != "" {
		return nil, fileErr(v.op, want, reason)
	}
	v.first = append(v.first, firstEntry{hdr, slices.Clone(v.raw)})
	if hdr.Size > max || (exact && hdr.Size != max) {
		if exact {
			return nil, fileErr(v.op, want, "is "+strconv.FormatInt(hdr.Size, 10)+" bytes, want "+strconv.FormatInt(max, 10))
		}
		return nil, errors.E(v.op, errors.TooLarge, &FileError{Name: want, Reason: "larger than " + strconv.FormatInt(max, 10) + " bytes"})
	}
	data := make([]byte, hdr.Size)
	if _, err := io.ReadFull(v.tr, data); err != nil {
		return nil, v.ioErr(want, "reading it", err)
	}
	v.entryDone(want, hdr.Size)
	return data, nil
}

func (v *verifier) entryDone(name string, size int64) {
	v.last = name
	v.dataEnd = v.cr.n
	v.pad = (512 - size%512) % 512
	v.cr.zeroFrom, v.cr.zeroTo = v.dataEnd, v.dataEnd+v.pad
}

// entryReason returns why hdr is not an entry Build writes, or "": a
// regular file, mode 0644, owner 0/0 without names, no PAX records but a
// long or non-ASCII name (none that sets extended attributes or makes a
// sparse file), and, once the manifest is known, its creation time as
// modification time. A changed mode could make an extracted file
// executable or setuid; nothing else here changes what a tar extracts,
// but any difference means the archive is not as built.
func entryReason(hdr *tar.Header, created time.Time) string {
	switch {
	case hdr.Typeflag != tar.TypeReg:
		return "not a regular file (tar type " + strconv.QuoteRuneToASCII(rune(hdr.Typeflag)) + ")"
	case hdr.Mode != entryMode:
		return "mode " + strconv.FormatInt(hdr.Mode, 8) + ", want " + strconv.FormatInt(entryMode, 8)
	case hdr.Uid != 0 || hdr.Gid != 0 || hdr.Uname != "" || hdr.Gname != "":
		return "owner set"
	case !created.IsZero() && !hdr.ModTime.Equal(created):
		return "modification time " + hdr.ModTime.UTC().Format(time.RFC3339) + " is not the manifest's creation time"
	}
	for k := range hdr.PAXRecords {
		if k != "path" {
			return "unexpected PAX record " + strconv.QuoteToASCII(k)
		}
	}
	return ""
}

// readFiles reads every entry after the signature and checks it against
// the manifest's list, then the end of the archive.
func (v *verifier) readFiles(files []ManifestFile) error {
	index := make(map[string]int, len(files))
	for i, f := range files {
		index[f.Name] = i
	}
	seen := make([]bool, len(files))
	h := sha256.New()
	var sum []byte
	for {
		hdr, err := v.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return v.ioErr(v.last, "reading the entry after it", err)
		}
		name := hdr.Name
		if name == ManifestName || name == SignatureName {
			return fileErr(v.op, name, "duplicate entry")
		}
		if reason := checkName(name); reason != "" {
			return fileErr(v.op, name, "unsafe name: "+reason)
		}
		i, ok := index[name]
		if !ok {
			return fileErr(v.op, name, "present but not listed in the manifest")
		}
		if seen[i] {
			return fileErr(v.op, name, "duplicate entry")
		}
		if reason := v.headerReason(hdr, v.raw); reason != "" {
			return fileErr(v.op, name, reason)
		}
		want := files[i]
		if hdr.Size != want.Size {
			return fileErr(v.op, name, "size "+strconv.FormatInt(hdr.Size, 10)+" bytes, manifest says "+strconv.FormatInt(want.Size, 10))
		}
		h.Reset()
		if _, err := io.Copy(h, v.tr); err != nil {
			return v.ioErr(name, "reading it", err)
		}
		sum = h.Sum(sum[:0])
		if hex.EncodeToString(sum) != want.SHA256 {
			return fileErr(v.op, name, "SHA-256 "+hex.EncodeToString(sum)+" does not match the manifest's "+want.SHA256)
		}
		seen[i] = true
		v.entryDone(name, hdr.Size)
	}
	for i, ok := range seen {
		if !ok {
			others := 0
			for _, ok := range seen[i+1:] {
				if !ok {
					others++
				}
			}
			reason := "listed in the manifest but missing from the package"
			if others > 0 {
				reason += " (and " + strconv.Itoa(others) + " more)"
			}
			return fileErr(v.op, files[i].Name, reason)
		}
	}
	return v.checkEnd()
}

// checkEnd checks that the archive ended with its two-block end-of-archive
// marker (POSIX.1-2017 pax, "ustar Interchange Format") right after the last
// entry, and that only zero bytes follow it: the tar reader also stops,
// silently, where input ends at an entry boundary, and entries appended
// after the marker would be hidden from it but not from every tar.
func (v *verifier) checkEnd() error {
	if v.cr.n != v.dataEnd+v.pad+1024 {
		return fileErr(v.op, v.last, "archive truncated after this entry: the end-of-archive marker is missing")
	}
	var zc zeroChecker
	if _, err := io.Copy(&zc, v.cr); err != nil {
		if errors.IsErr(err, errTooLarge) {
			return errors.E(v.op, errors.TooLarge, errors.Errorf("package larger than %d bytes", v.lim.MaxTotal))
		}
		if errors.IsErr(err, errNonZero) {
			return errors.E(v.op, errors.Invalid, errors.Str("data after the end-of-archive marker"))
		}
		return errors.E(v.op, errors.Internal, err)
	}
	return nil
}

var errNonZero = errors.Str("non-zero byte")

// zeroChecker is a writer that accepts only zero bytes.
type zeroChecker struct{}

func (zeroChecker) Write(p []byte) (int, error) {
	for i, b := range p {
		if b != 0 {
			return i, errNonZero
		}
	}
	return len(p), nil
}

// parseManifest decodes and checks manifest.json, whose signature has been
// verified.
func parseManifest(op string, b []byte, lim Limits) (Manifest, error) {
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return Manifest{}, fileErr(op, ManifestName, "not a valid manifest: "+err.Error())
	}
	canon, err := encodeManifest(m)
	if err != nil || !bytes.Equal(canon, b) {
		return Manifest{}, fileErr(op, ManifestName, "not in canonical form")
	}
	if m.Format != Format {
		return Manifest{}, fileErr(op, ManifestName, "unsupported format "+strconv.QuoteToASCII(m.Format)+", want "+Format)
	}
	if strings.TrimSpace(m.DemandID) == "" || m.Created.IsZero() {
		return Manifest{}, fileErr(op, ManifestName, "no demand ID or creation time")
	}
	if reason, _ := approvalsReason(m.Approvals); reason != "" {
		return Manifest{}, fileErr(op, ManifestName, reason)
	}
	if len(m.Files) > lim.MaxFiles {
		return Manifest{}, errors.E(op, errors.TooLarge, &FileError{Name: ManifestName, Reason: "lists " + strconv.Itoa(len(m.Files)) + " files, more than " + strconv.Itoa(lim.MaxFiles)})
	}
	for i, f := range m.Files {
		if reason := checkName(f.Name); reason != "" {
			return Manifest{}, fileErr(op, f.Name, "listed in the manifest with an unsafe name: "+reason)
		}
		if i > 0 && m.Files[i-1].Name >= f.Name {
			return Manifest{}, fileErr(op, f.Name, "listed in the manifest out of order or twice")
		}
		if f.Size < 0 {
			return Manifest{}, fileErr(op, f.Name, "listed in the manifest with a negative size")
		}
		if !isHexSHA256(f.SHA256) {
			return Manifest{}, fileErr(op, f.Name, "listed in the manifest with a malformed SHA-256")
		}
	}
	if err := checkNameSet(m.Files); err != nil {
		return Manifest{}, errors.E(op, errors.Invalid, err)
	}
	return m, nil
}

func isHexSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
