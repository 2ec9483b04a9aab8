// Package config defines Sealpost's typed configuration: the TOML file read
// by `sealpost serve --config`, its defaults, and its validation. The field
// comments are the reference documentation (see sealpost.example.toml).
package config

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/sealpost/sealpost/errors"
	"github.com/sealpost/sealpost/internal/pwhash"
)

// Config is the whole configuration of one Sealpost process.
type Config struct {
	// Hostname is the server's name in SMTP greetings and trace headers.
	Hostname string `toml:"hostname"`
	// DataDir holds the metadata database, sealed blobs and keys.
	DataDir string `toml:"data_dir"`

	// Directory is the global directory's SQLite file (address → home
	// region). Default data_dir/directory.db. Regional nodes and the front
	// door of one deployment share it.
	Directory string `toml:"directory"`

	// Regions are where mailboxes live; at least one. A process serves
	// every region (the default), or one (serve --region).
	Regions []Region `toml:"region"`

	// Cluster holds the deployment's internal mTLS credentials, needed only
	// when regions run as separate processes behind a front door.
	Cluster Cluster `toml:"cluster"`

	// Legal configures the lawful-demand gateway.
	Legal Legal `toml:"legal"`

	// DNS, Outbound, MX and MTASTS configure mail to and from other
	// servers (config/mail.go).
	DNS      DNS      `toml:"dns"`
	Outbound Outbound `toml:"outbound"`
	MX       MX       `toml:"mx"`
	MTASTS   MTASTS   `toml:"mta_sts"`

	// Filter configures the spam engines (config/filter.go).
	Filter Filter `toml:"filter"`

	Listen Listen `toml:"listen"`
	TLS    TLS    `toml:"tls"`
	Limits Limits `toml:"limits"`
	Auth   Auth   `toml:"auth"` // config/auth.go
	Quota  Quota  `toml:"quota"`
	Argon2 Argon2 `toml:"argon2"`
	Log    Log    `toml:"log"`

	Metrics Metrics `toml:"metrics"` // config/metrics.go
}

// Listen holds the listener addresses; an empty address disables it.
type Listen struct {
	SMTP        string `toml:"smtp"`        // MX, port 25 in production
	Submission  string `toml:"submission"`  // STARTTLS submission, 587
	Submissions string `toml:"submissions"` // implicit-TLS submission, 465
	IMAP        string `toml:"imap"`        // IMAP with STARTTLS, 143
	IMAPS       string `toml:"imaps"`       // implicit-TLS IMAP, 993
	ManageSieve string `toml:"managesieve"` // ManageSieve (RFC 5804) with STARTTLS, 4190
}

// Argon2 sets the Argon2id parameters for new passwords. The defaults
// (3 passes, 64 MiB, 2 lanes) follow RFC 9106 section 4's second
// recommendation, sized for 2 cores; see docs/SECURITY.md.
type Argon2 struct {
	Time      uint32 `toml:"time"`
	MemoryKiB uint32 `toml:"memory_kib"`
	Threads   uint8  `toml:"threads"`
}

// Params returns a as the Argon2id parameters that package seal and the
// legal store take.
func (a Argon2) Params() pwhash.Params { return pwhash.Params(a) }

// Log configures structured logging.
type Log struct {
	Level  string `toml:"level"`  // debug, info, warn, error
	Format string `toml:"format"` // text or json
}

// Region is one region: a jurisdiction and the storage of the mailboxes
// homed there. Nothing of one region's accounts is stored in another's.
type Region struct {
	// ID is short and stable, e.g. "ie": lower-case letters, digits, '-'.
	ID string `toml:"id"`
	// Name is for people, e.g. "Ireland".
	Name string `toml:"name"`
	// Country is the ISO 3166-1 alpha-2 code of where the data sits.
	Country string `toml:"country"`
	// Zones are the legal zones the country belongs to, e.g. ["EU"].
	Zones []string `toml:"zones"`
	// Entity is the company that operates the region and controls its
	// data, e.g. "Sealpost Ireland Ltd"; EntityCountry is where it is
	// incorporated (ISO 3166-1 alpha-2). Jurisdiction follows the entity
	// as well as the data's location (since the 2018 CLOUD Act a US order
	// reaches what a US entity controls, wherever it is stored), so the
	// jurisdiction policy weighs both (docs/LEGAL.md). Default: the
	// region's country, entity "Sealpost".
	Entity        string `toml:"entity"`
	EntityCountry string `toml:"entity_country"`
	// Store is the region's metadata store.
	Store RegionStore `toml:"store"`
	// Blobs is the region's sealed blob store.
	Blobs RegionBlobs `toml:"blobs"`
	// Internal is the address this region's node listens on for the front
	// door and other nodes (mutually authenticated TLS, see Cluster);
	// empty when the region is served only in-process.
	Internal string `toml:"internal"`
}

// RegionStore chooses a region's metadata store.
type RegionStore struct {
	// Kind is "sqlite" (embedded, the default) or "postgres".
	Kind string `toml:"kind"`
	// Path is the SQLite file; default data_dir/regions/<id>/meta.db.
	Path string `toml:"path"`
	// DSN is the PostgreSQL connection string (kind = "postgres"), e.g.
	// "postgres://sealpost@db-ie.internal/sealpost?sslmode=verify-full".
	DSN string `toml:"dsn"`
}

// RegionBlobs chooses a region's blob store.
type RegionBlobs struct {
	// Kind is "pack" (append-only segments with group fsync: the fast
	// default), "files" (one file per blob) or "s3" (an S3-compatible
	// bucket in the region).
	Kind string `toml:"kind"`
	// Path is the folder for pack or files; default
	// data_dir/regions/<id>/blobs.
	Path string `toml:"path"`
	// S3 settings (kind = "s3").
	Endpoint      string `toml:"endpoint"` // host:port
	Bucket        string `toml:"bucket"`
	Prefix        string `toml:"prefix"` // key prefix within the bucket
	AccessKey     string `toml:"access_key"`
	SecretKeyFile string `toml:"secret_key_file"` // file holding the secret key
	Secure        bool   `toml:"secure"`          // HTTPS to the endpoint
	S3Region      string `toml:"s3_region"`       // the bucket's S3 region name, if needed
	CreateBucket  bool   `toml:"create_bucket"`   // create the bucket at start if missing
}

// Legal configures the lawful-demand gateway (docs/LEGAL.md).
type Legal struct {
	// Policy is the jurisdiction policy file (YAML with CEL rules); empty
	// means the shipped default (`sealpost policy show` prints it to start
	// an edited copy from).
	Policy string `toml:"policy"`
	// Web is the address of the web app and JSON API (legal console);
	// empty disables it. It speaks plain HTTP only on a loopback address,
	// HTTPS with the server's certificate anywhere else.
	Web string `toml:"web"`
}

// Cluster names the deployment's internal mTLS files (PEM): the CA every
// node trusts, and this process's certificate and key issued by it
// (`sealpost cluster init` makes them).
type Cluster struct {
	CA   string `toml:"ca"`
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
}

// RegionByID returns the region with the given id.
func (c *Config) RegionByID(id string) (Region, bool) {
	for _, r := range c.Regions {
		if r.ID == id {
			return r, true
		}
	}
	return Region{}, false
}

// Default returns a configuration with every default filled in.
func Default() Config {
	return Config{
		Hostname: "localhost",
		DataDir:  "sealpost-data",
		Limits:   DefaultLimits,
		Auth:     DefaultAuth,
		Quota:    DefaultQuota,
		Argon2:   Argon2(pwhash.DefaultParams),
		Log:      Log{Level: "info", Format: "text"},
		DNS:      DefaultDNS,
		Outbound: DefaultOutbound,
		MTASTS:   DefaultMTASTS,
		MX:       DefaultMX,
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
	base := filepath.Dir(path)
	for _, p := range []*string{&c.Cluster.CA, &c.Cluster.Cert, &c.Cluster.Key, &c.Legal.Policy, &c.Outbound.RelayPasswordFile} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(base, *p)
		}
	}
	c.TLS.resolvePaths(base) // config/tls.go
	for i := range c.Regions {
		r := &c.Regions[i]
		for _, p := range []*string{&r.Store.Path, &r.Blobs.Path, &r.Blobs.SecretKeyFile} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(c.DataDir, *p)
			}
		}
	}
	if c.Directory != "" && !filepath.IsAbs(c.Directory) {
		c.Directory = filepath.Join(c.DataDir, c.Directory)
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
	c.validateRegions(bad)
	c.validateMail(bad)
	c.validateFilter(bad)
	for name, addr := range map[string]string{
		"listen.smtp": c.Listen.SMTP, "listen.submission": c.Listen.Submission,
		"listen.submissions": c.Listen.Submissions, "listen.imap": c.Listen.IMAP, "listen.imaps": c.Listen.IMAPS,
		"listen.managesieve": c.Listen.ManageSieve,
	} {
		if addr == "" {
			continue
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			bad("%s: %v", name, err)
		}
	}
	if (c.Cluster.CA == "") != (c.Cluster.Cert == "") || (c.Cluster.Cert == "") != (c.Cluster.Key == "") {
		bad("cluster: ca, cert and key go together")
	}
	c.TLS.validate(c.Hostname, bad) // config/tls.go
	c.Limits.validate(bad)
	c.Auth.validate(bad)
	c.Metrics.validate(bad)
	c.Quota.validate(bad)
	if err := c.Argon2.Params().Validate(); err != nil {
		bad("argon2: %v", err)
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

// validateRegions checks the regions and fills in their defaults.
func (c *Config) validateRegions(bad func(string, ...any)) {
	if c.Directory == "" && c.DataDir != "" {
		c.Directory = filepath.Join(c.DataDir, "directory.db")
	}
	if len(c.Regions) == 0 {
		bad("region: at least one [[region]] is required")
	}
	seen := map[string]bool{}
	for i := range c.Regions {
		r := &c.Regions[i]
		where := fmt.Sprintf("region %q", r.ID)
		if !ValidRegionID(r.ID) {
			bad("%s: id must be 1-32 lower-case letters, digits or '-'", where)
		}
		if seen[r.ID] {
			bad("%s: declared twice", where)
		}
		seen[r.ID] = true
		if r.Name == "" {
			bad("%s: name is required", where)
		}
		if len(r.Country) != 2 || strings.ToUpper(r.Country) != r.Country || strings.ContainsFunc(r.Country, func(c rune) bool { return c < 'A' || c > 'Z' }) {
			bad("%s: country %q is not an ISO 3166-1 alpha-2 code (e.g. \"IE\")", where, r.Country)
		}
		if r.Entity == "" {
			r.Entity = "Sealpost"
		}
		if r.EntityCountry == "" {
			r.EntityCountry = r.Country
		}
		if len(r.EntityCountry) != 2 || strings.ToUpper(r.EntityCountry) != r.EntityCountry {
			bad("%s: entity_country %q is not an ISO 3166-1 alpha-2 code", where, r.EntityCountry)
		}
		for _, z := range r.Zones {
			if z == "" || strings.ContainsAny(z, " \t,") {
				bad("%s: zone %q is not a name", where, z)
			}
		}
		dir := filepath.Join(c.DataDir, "regions", r.ID)
		switch r.Store.Kind {
		case "", "sqlite":
			r.Store.Kind = "sqlite"
			if r.Store.Path == "" {
				r.Store.Path = filepath.Join(dir, "meta.db")
			}
			if r.Store.DSN != "" {
				bad("%s: store.dsn is for kind = \"postgres\"", where)
			}
		case "postgres":
			if r.Store.DSN == "" {
				bad("%s: store.dsn is required for postgres", where)
			}
		default:
			bad("%s: store.kind %q is not sqlite or postgres", where, r.Store.Kind)
		}
		switch r.Blobs.Kind {
		case "", "pack", "files":
			if r.Blobs.Kind == "" {
				r.Blobs.Kind = "pack"
			}
			if r.Blobs.Path == "" {
				r.Blobs.Path = filepath.Join(dir, "blobs")
			}
		case "s3":
			if r.Blobs.Endpoint == "" || r.Blobs.Bucket == "" || r.Blobs.AccessKey == "" || r.Blobs.SecretKeyFile == "" {
				bad("%s: blobs of kind s3 need endpoint, bucket, access_key and secret_key_file", where)
			}
		default:
			bad("%s: blobs.kind %q is not pack, files or s3", where, r.Blobs.Kind)
		}
		if r.Internal != "" {
			if _, _, err := net.SplitHostPort(r.Internal); err != nil {
				bad("%s: internal: %v", where, err)
			}
		}
	}
	// Two regions must never share storage: that would put one region's
	// mail in the other's jurisdiction.
	paths := map[string]string{}
	for _, r := range c.Regions {
		for _, p := range []string{r.Store.Path, r.Blobs.Path, r.Store.DSN} {
			if p == "" {
				continue
			}
			if other, ok := paths[p]; ok && other != r.ID {
				bad("regions %q and %q share storage %q", other, r.ID, p)
			}
			paths[p] = r.ID
		}
		if r.Blobs.Kind == "s3" {
			key := r.Blobs.Endpoint + "/" + r.Blobs.Bucket + "/" + r.Blobs.Prefix
			if other, ok := paths[key]; ok && other != r.ID {
				bad("regions %q and %q share the bucket %s", other, r.ID, key)
			}
			paths[key] = r.ID
		}
	}
}

// ValidRegionID reports whether id is a well-formed region id.
func ValidRegionID(id string) bool {
	if len(id) == 0 || len(id) > 32 {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
