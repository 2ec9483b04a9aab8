// Package config defines Sealpost's typed configuration: the TOML file read
// by `sealpost serve --config`, its defaults, and its validation. The field
// comments are the reference documentation (see sealpost.example.toml).
package config

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/sealpost/sealpost/errors"
)

// Config is the whole configuration of one Sealpost process.
type Config struct {
	// Hostname is the server's name in SMTP greetings and trace headers.
	Hostname string `toml:"hostname"`
	// DataDir holds the metadata database, sealed blobs and keys.
	DataDir string `toml:"data_dir"`

	// BlobStore chooses how sealed blobs are kept under data_dir/blobs:
	// "pack" (append-only segments with group fsync: the fast default) or
	// "files" (one file per blob).
	BlobStore string `toml:"blob_store"`

	Listen Listen `toml:"listen"`
	TLS    TLS    `toml:"tls"`
	Limits Limits `toml:"limits"`
	Argon2 Argon2 `toml:"argon2"`
	Log    Log    `toml:"log"`
}

// Listen holds the listener addresses; an empty address disables it.
type Listen struct {
	SMTP        string `toml:"smtp"`        // MX, port 25 in production
	Submission  string `toml:"submission"`  // STARTTLS submission, 587
	Submissions string `toml:"submissions"` // implicit-TLS submission, 465
	IMAP        string `toml:"imap"`        // IMAP with STARTTLS, 143
	IMAPS       string `toml:"imaps"`       // implicit-TLS IMAP, 993
}

// TLS configures certificates. Either Cert and Key name PEM files, or
// SelfSigned makes (once, under DataDir) a self-signed certificate for
// Hostname: for demos and tests only.
type TLS struct {
	Cert       string `toml:"cert"`
	Key        string `toml:"key"`
	SelfSigned bool   `toml:"self_signed"`
}

// Limits bounds what clients may send.
type Limits struct {
	// MaxMessageSize in bytes (SMTP SIZE, IMAP APPENDLIMIT). Default 64 MiB.
	MaxMessageSize int64 `toml:"max_message_size"`
	// MaxRecipients per SMTP transaction. Default 100.
	MaxRecipients int `toml:"max_recipients"`
}

// Argon2 sets the Argon2id parameters for new passwords. The defaults
// (3 passes, 64 MiB, 2 lanes) follow RFC 9106 section 4's second
// recommendation, sized for 2 cores; see docs/SECURITY.md.
type Argon2 struct {
	Time      uint32 `toml:"time"`
	MemoryKiB uint32 `toml:"memory_kib"`
	Threads   uint8  `toml:"threads"`
}

// Log configures structured logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}

// Default returns a configuration with every default filled in.
func Default() Config {
	return Config{
		Hostname:  "localhost",
		DataDir:   "sealpost-data",
		BlobStore: "pack",
		Limits:    Limits{MaxMessageSize: 64 << 20, MaxRecipients: 100},
		Argon2:    Argon2{Time: 3, MemoryKiB: 64 * 1024, Threads: 2},
		Log:       Log{Level: "info", Format: "text"},
	}
}

// Load reads a TOML file over the defaults and validates it. Unknown keys
// are an error, so a typo does not silently fall back to a default.
func Load(path string) (Config, error) {
	const op = "config.Load"
	c := Default()
	md, err := toml.DecodeFile(path, &c)
	if err != nil {
		return c, errors.E(op, errors.Invalid, err)
	}
	if undec := md.Undecoded(); len(undec) > 0 {
		keys := make([]string, len(undec))
		for i, k := range undec {
			keys[i] = k.String()
		}
		return c, errors.E(op, errors.Invalid, fmt.Errorf("unknown keys: %s", strings.Join(keys, ", ")))
	}
	if !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(filepath.Dir(path), c.DataDir)
	}
	return c, c.Validate()
}

// Validate checks every field.
func (c *Config) Validate() error {
	const op = "config.Validate"
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Hostname == "" || strings.ContainsAny(c.Hostname, " \t/@") {
		bad("hostname: %q is not a host name", c.Hostname)
	}
	if c.DataDir == "" {
		bad("data_dir: required")
	}
	if c.BlobStore != "pack" && c.BlobStore != "files" {
		bad("blob_store: %q is not pack or files", c.BlobStore)
	}
	for name, addr := range map[string]string{
		"listen.smtp": c.Listen.SMTP, "listen.submission": c.Listen.Submission,
		"listen.submissions": c.Listen.Submissions, "listen.imap": c.Listen.IMAP, "listen.imaps": c.Listen.IMAPS,
	} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s: %v", name, err)
		}
	}
	if c.TLS.SelfSigned == (c.TLS.Cert != "") {
		bad("tls: set either cert and key, or self_signed = true")
	}
	if (c.TLS.Cert == "") != (c.TLS.Key == "") {
		bad("tls: cert and key go together")
	}
	for _, f := range []string{c.TLS.Cert, c.TLS.Key} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			bad("tls: %v", err)
		}
	}
	if c.Limits.MaxMessageSize < 1024 || c.Limits.MaxMessageSize > 1<<30 {
		bad("limits.max_message_size: %d is outside 1 KiB to 1 GiB", c.Limits.MaxMessageSize)
	}
	if c.Limits.MaxRecipients < 1 || c.Limits.MaxRecipients > 10000 {
		bad("limits.max_recipients: %d is outside 1 to 10000", c.Limits.MaxRecipients)
	}
	if c.Argon2.Time < 1 || c.Argon2.Time > 100 {
		bad("argon2.time: %d is outside 1 to 100", c.Argon2.Time)
	}
	if c.Argon2.MemoryKiB < 8*uint32(max(c.Argon2.Threads, 1)) || c.Argon2.MemoryKiB > 4<<20 {
		bad("argon2.memory_kib: %d is outside 8×threads to 4 GiB", c.Argon2.MemoryKiB)
	}
	if c.Argon2.Threads < 1 {
		bad("argon2.threads: at least 1")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level: %q is not debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format: %q is not text or json", c.Log.Format)
	}
	if len(problems) > 0 {
		return errors.E(op, errors.Invalid, errors.Str(strings.Join(problems, "; ")))
	}
	return nil
}
