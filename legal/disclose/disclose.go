// Package disclose builds and verifies disclosure packages: what Sealpost
// hands to an authority when a demand has been approved by two legal
// officers.
//
// # The package format
//
// A disclosure package is a POSIX tar archive (USTAR, with PAX records only
// where a name needs them) holding, in this order:
//
//  1. manifest.json: the Manifest, in canonical JSON (below), listing every
//     other file with its size and SHA-256;
//  2. manifest.sig: the raw 64-byte Ed25519 signature (RFC 8032 5.1.6) over
//     the exact bytes of manifest.json, made with the deployment's signing
//     key;
//  3. every listed file, sorted by name (byte order).
//
// Nothing else: no directory entries, links or devices. Every entry has mode
// 0644, owner 0/0, no user or group name, and the manifest's Created time
// (to the second) as its modification time, so the same inputs always give
// the same bytes: a package can be rebuilt and compared, and its SHA-256 is
// a stable identifier for a disclosure record (hash what Build writes).
// Verify holds a package to exactly this layout, headers and padding
// included, so that no byte of a package it accepts can have changed.
//
// Canonical JSON here means exactly what encoding/json's MarshalIndent
// writes for the Manifest type with a two-space indent and HTML escaping
// off, followed by one newline; Verify re-encodes the manifest it parsed and
// refuses one whose bytes differ, so two readers of a verified manifest
// cannot disagree about what it says (no duplicate keys, no unknown fields,
// no trailing data).
//
// # Verifying offline
//
// An authority needs the deployment's public key, published as the text
// EncodePublicKey returns ("sealpost-ed25519:" and the base64 of the 32-byte
// key) or as the PEM PublicKeyPEM returns. With the PEM, any OpenSSL 3 can
// check the signature without Sealpost:
//
//	tar -xf package.tar manifest.json manifest.sig
//	openssl pkeyutl -verify -pubin -inkey sealpost.pem -rawin \
//	    -in manifest.json -sigfile manifest.sig
//
// and then compare `sha256sum` of each extracted file with the manifest.
// `sealpost demand verify-package` (Verify) does all of it, and also refuses
// files the manifest does not list.
//
// # Names
//
// File names are relative slash-separated paths: not empty, not absolute, no
// empty, "." or ".." segments, no backslash or colon (path separators or
// drive letters on Windows), valid UTF-8 without control or bidirectional
// formatting characters, at most MaxNameLen bytes, no two the same, none a
// directory of another, and neither manifest.json nor manifest.sig in any
// letter case. Extracting a verified package with any tar therefore writes
// only below the current directory. ContentName builds safe names for
// sealed messages from arbitrary mailbox names.
//
// This package never imports package seal: it handles content only as the
// opaque sealed bytes it is given.
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
	"unicode"
	"unicode/utf8"

	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/legal"
)

// Format is the value of Manifest.Format for packages this package builds.
const Format = "sealpost-disclosure/1"

// The names of the two entries every package starts with.
const (
	ManifestName  = "manifest.json"
	SignatureName = "manifest.sig"
)

// entryMode is the mode of every entry.
const entryMode = 0o644

// MaxNameLen is the longest file name allowed, in bytes.
const MaxNameLen = 1024

// SealedStatement is the statement a manifest carries unless the caller
// sets another: what the content in the package is and why the provider
// cannot open it.
const SealedStatement = "Message content in this package, if any, is disclosed only in its sealed form: " +
	"each message exactly as the provider stores it, encrypted to the account holder's own public key " +
	"before any byte of it was written to disk: either an OpenPGP message (RFC 4880 / RFC 9580), or " +
	"Sealpost's format 2, AES-256-GCM under a key derived with HKDF-SHA256 from a key that is itself " +
	"sealed to the holder's public key as an OpenPGP public-key encrypted session key packet. " +
	"The provider holds no key that opens it: the account holder's private key is stored only wrapped " +
	"under keys derived from the holder's password and recovery code, which the provider does not keep " +
	"(and an account that registered its own key never gave the provider a private key at all). " +
	"Plaintext content was never available to the process that built this package. " +
	"Subscriber information and traffic metadata are disclosed as the provider keeps them in the clear."

// File is one file of a package: its name inside the archive and its bytes.
type File struct {
	Name string
	Data []byte
}

// ManifestFile is the manifest's entry for one file.
type ManifestFile struct {
	Name   string `json:"name"`
	SHA256 string `json:"sha256"` // lower-case hex
	Size   int64  `json:"size"`
}

// Scope is what was approved for one target: the package holds data of
// these categories for this address and nothing else.
type Scope struct {
	Target     string           `json:"target"`
	Categories []legal.Category `json:"categories"`
}

// Manifest describes a disclosure package. Build fills in Format (if
// empty), Statement (if empty), SigningKey and Files; the caller sets the
// rest.
type Manifest struct {
	Format    string `json:"format"` // Format
	DemandID  string `json:"demand_id"`
	Reference string `json:"reference"` // the authority's own reference
	Authority string `json:"authority"`
	// Created is when the package was built; Build stores it in UTC to the
	// second, and it is every tar entry's modification time.
	Created time.Time `json:"created"`
	// Approvals names the legal officers who approved the disclosure, in
	// the order they approved; at least two different ones.
	Approvals     []string `json:"approvals"`
	PolicyVersion string   `json:"policy_version"`
	// Scope lists the approved targets and categories, by target. Optional;
	// Build sorts it.
	Scope     []Scope `json:"scope,omitempty"`
	Statement string  `json:"statement"`
	// SigningKey is the public key that signed the package, as
	// EncodePublicKey writes it. Set by Build; Verify checks it names the
	// key the package was verified with.
	SigningKey string `json:"signing_key"`
	// Files lists every file after manifest.json and manifest.sig, sorted
	// by name. Set by Build (whatever the caller put here is replaced).
	Files []ManifestFile `json:"files"`
}

// FileError is the cause of an error about one file of a package, or one
// name given to Build. Errors from Build and Verify wrap it (as the Err of
// an *errors.Error, of kind Invalid, or TooLarge past a limit) wherever a
// file is at fault; errors.As finds it. Error quotes a name that is not
// safe to print as it is.
type FileError struct {
	Name   string // the file's name as found, possibly hostile
	Reason string
}

func (e *FileError) Error() string {
	return quoteName(e.Name) + ": " + e.Reason
}

// quoteName renders a name for an error message: as is when it is a safe
// name, else Go-quoted in ASCII, so that a hostile name cannot put control
// or reordering characters on an officer's terminal.
func quoteName(name string) string {
	if checkName(name) == "" || strings.EqualFold(name, ManifestName) || strings.EqualFold(name, SignatureName) {
		return name
	}
	return strconv.QuoteToASCII(name)
}

func fileErr(op string, name, reason string) error {
	return errors.E(op, errors.Invalid, &FileError{Name: name, Reason: reason})
}

// Build writes a package holding files, described by m and signed with
// key, to w. It refuses (Invalid, naming the file) an unsafe or duplicate
// name; it refuses (Invalid) a manifest without a demand ID or a Created
// time, or with a Format other than Format; it refuses (Permission) a
// manifest approved by fewer than two different officers. A package larger
// than DefaultLimits allow is refused (TooLarge), since Verify would refuse
// it. Errors writing to w are Internal.
//
// The order of files does not matter; the same m, files and key always
// produce the same bytes.
func Build(w io.Writer, m Manifest, files []File, key ed25519.PrivateKey) error {
	const op = "disclose.Build"
	if len(key) != ed25519.PrivateKeySize {
		return errors.E(op, errors.Invalid, errors.Errorf("signing key is %d bytes, want %d", len(key), ed25519.PrivateKeySize))
	}
	m, err := prepare(op, m, files, key.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	mjson, err := encodeManifest(m)
	if err != nil {
		return errors.E(op, errors.Internal, err)
	}
	lim := DefaultLimits
	if int64(len(mjson)) > lim.MaxManifest {
		return errors.E(op, errors.TooLarge, errors.Errorf("manifest is %d bytes, more than %d", len(mjson), lim.MaxManifest))
	}
	sig := ed25519.Sign(key, mjson)

	byName := make(map[string][]byte, len(files))
	for _, f := range files {
		byName[f.Name] = f.Data
	}
	total := int64(1024) // end-of-archive marker
	for _, f := range m.Files {
		total += entrySize(f.Name, f.Size)
	}
	total += entrySize(ManifestName, int64(len(mjson))) + entrySize(SignatureName, int64(len(sig)))
	if total > lim.MaxTotal {
		return errors.E(op, errors.TooLarge, errors.Errorf("package would be about %d bytes, more than %d", total, lim.MaxTotal))
	}

	tw := tar.NewWriter(w)
	write := func(name string, data []byte) error {
		if err := tw.WriteHeader(entryHeader(name, int64(len(data)), m.Created)); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := write(ManifestName, mjson); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	if err := write(SignatureName, sig); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	for _, f := range m.Files {
		if err := write(f.Name, byName[f.Name]); err != nil {
			return errors.E(op, errors.Internal, err)
		}
	}
	if err := tw.Close(); err != nil {
		return errors.E(op, errors.Internal, err)
	}
	return nil
}

// entryHeader is the header of every entry Build writes. The tar writer
// chooses USTAR, or PAX where a name does not fit USTAR; for a given name,
// size and time the bytes are always the same.
func entryHeader(name string, size int64, created time.Time) *tar.Header {
	return &tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     entryMode,
		ModTime:  created,
	}
}

// headerBytes returns the bytes Build writes before an entry's data, or nil
// if it could not write them.
func headerBytes(name string, size int64, created time.Time) []byte {
	var buf bytes.Buffer
	if err := tar.NewWriter(&buf).WriteHeader(entryHeader(name, size, created)); err != nil {
		return nil
	}
	return buf.Bytes()
}

// entrySize estimates an entry's size in the archive: a header block (two
// more and a PAX block for a long or non-ASCII name) and the padded data.
func entrySize(name string, size int64) int64 {
	n := int64(512) + (size+511)/512*512
	if len(name) > 100 || !isASCII(name) {
		n += 1024 + (int64(len(name))+511)/512*512
	}
	return n
}

// prepare validates m and files and returns m completed: defaults set,
// Created normalized, Scope sorted, Files listed with their digests.
func prepare(op string, m Manifest, files []File, pub ed25519.PublicKey) (Manifest, error) {
	switch m.Format {
	case "":
		m.Format = Format
	case Format:
	default:
		return m, errors.E(op, errors.Invalid, errors.Errorf("format %q, want %q", m.Format, Format))
	}
	if strings.TrimSpace(m.DemandID) == "" {
		return m, errors.E(op, errors.Invalid, errors.Str("manifest has no demand ID"))
	}
	if m.Created.IsZero() {
		return m, errors.E(op, errors.Invalid, errors.Str("manifest has no creation time"))
	}
	m.Created = m.Created.UTC().Truncate(time.Second)
	if m.Created.Unix() < 0 || m.Created.Year() > 9999 {
		return m, errors.E(op, errors.Invalid, errors.Errorf("creation time %v out of range", m.Created))
	}
	if reason, kind := approvalsReason(m.Approvals); reason != "" {
		return m, errors.E(op, kind, errors.Str(reason))
	}
	m.Approvals = slices.Clone(m.Approvals)
	scope, err := normalizeScope(op, m.Scope)
	if err != nil {
		return m, err
	}
	m.Scope = scope
	if m.Statement == "" {
		m.Statement = SealedStatement
	}
	m.SigningKey = EncodePublicKey(pub)

	if len(files) > DefaultLimits.MaxFiles {
		return m, errors.E(op, errors.TooLarge, errors.Errorf("%d files, more than %d", len(files), DefaultLimits.MaxFiles))
	}
	m.Files = make([]ManifestFile, 0, len(files))
	for _, f := range files {
		if reason := checkName(f.Name); reason != "" {
			return m, fileErr(op, f.Name, reason)
		}
		sum := sha256.Sum256(f.Data)
		m.Files = append(m.Files, ManifestFile{Name: f.Name, SHA256: hex.EncodeToString(sum[:]), Size: int64(len(f.Data))})
	}
	slices.SortFunc(m.Files, func(a, b ManifestFile) int { return strings.Compare(a.Name, b.Name) })
	if err := checkNameSet(m.Files); err != nil {
		return m, errors.E(op, errors.Invalid, err)
	}
	return m, nil
}

// approvalsReason returns why approvals do not authorize a disclosure, and
// the kind of error that is, or "" if they do: at least two different
// officers (names compared ignoring case and surrounding space).
func approvalsReason(approvals []string) (string, errors.Kind) {
	distinct := map[string]bool{}
	for _, a := range approvals {
		a = strings.ToLower(strings.TrimSpace(a))
		if a == "" {
			return "empty approver name", errors.Invalid
		}
		distinct[a] = true
	}
	if len(distinct) < 2 {
		return "disclosure approved by " + strconv.Itoa(len(distinct)) + " different officers, needs two", errors.Permission
	}
	return "", errors.Other
}

func normalizeScope(op string, in []Scope) ([]Scope, error) {
	if len(in) == 0 {
		return nil, nil
	}
	out := make([]Scope, len(in))
	for i, s := range in {
		if s.Target == "" {
			return nil, errors.E(op, errors.Invalid, errors.Str("scope entry without a target"))
		}
		seen := map[legal.Category]bool{}
		for _, c := range s.Categories {
			if !slices.Contains(legal.Categories, c) {
				return nil, errors.E(op, errors.Invalid, errors.Errorf("scope of %q: unknown category %q", s.Target, c))
			}
			if seen[c] {
				return nil, errors.E(op, errors.Invalid, errors.Errorf("scope of %q: category %q twice", s.Target, c))
			}
			seen[c] = true
		}
		cats := slices.Clone(s.Categories)
		slices.SortFunc(cats, func(a, b legal.Category) int {
			return slices.Index(legal.Categories, a) - slices.Index(legal.Categories, b)
		})
		out[i] = Scope{Target: s.Target, Categories: cats}
	}
	slices.SortFunc(out, func(a, b Scope) int { return strings.Compare(a.Target, b.Target) })
	for i := 1; i < len(out); i++ {
		if out[i].Target == out[i-1].Target {
			return nil, errors.E(op, errors.Invalid, errors.Errorf("scope lists target %q twice", out[i].Target))
		}
	}
	return out, nil
}

// encodeManifest writes m in canonical form (see the package doc).
func encodeManifest(m Manifest) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil { // Encode ends with the newline
		return nil, err
	}
	return buf.Bytes(), nil
}

// checkName returns why name is not a safe file name, or "" if it is.
func checkName(name string) string {
	switch {
	case name == "":
		return "empty name"
	case len(name) > MaxNameLen:
		return "name longer than " + strconv.Itoa(MaxNameLen) + " bytes"
	case !utf8.ValidString(name):
		return "name is not valid UTF-8"
	case strings.HasPrefix(name, "/"):
		return "absolute path"
	case strings.EqualFold(name, ManifestName) || strings.EqualFold(name, SignatureName):
		return "reserved name"
	}
	for _, r := range name {
		switch {
		case r == '\\':
			return "backslash in name"
		case r == ':':
			return "colon in name"
		case unicode.Is(unicode.Cc, r):
			return "control character in name"
		case isBidiControl(r):
			return "bidirectional formatting character in name"
		}
	}
	for seg := range strings.SplitSeq(name, "/") {
		switch seg {
		case "":
			return "empty path segment"
		case ".", "..":
			return "path segment " + seg
		}
	}
	return ""
}

// isBidiControl reports the characters that reorder displayed text (and so
// can disguise a name): the Unicode Bidi_Control property.
func isBidiControl(r rune) bool {
	return unicode.Is(unicode.Bidi_Control, r)
}

// checkNameSet checks a sorted list: no duplicates, and no name that is a
// directory of another (a tar could not be extracted).
func checkNameSet(files []ManifestFile) error {
	dirs := map[string]bool{}
	for i, f := range files {
		if i > 0 && files[i-1].Name == f.Name {
			return &FileError{Name: f.Name, Reason: "duplicate name"}
		}
		for j := range len(f.Name) {
			if f.Name[j] == '/' {
				dirs[f.Name[:j]] = true
			}
		}
	}
	for _, f := range files {
		if dirs[f.Name] {
			return &FileError{Name: f.Name, Reason: "name is also a directory of another file"}
		}
	}
	return nil
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
