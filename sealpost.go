// Package sealpost holds the types and small interfaces shared by every part
// of Sealpost. sealpost.go: accounts, mailboxes and messages, and the
// storage interfaces (a region's metadata Store, the union of small
// interfaces a caller may ask for alone, and the sealed BlobStore) that the
// protocol servers reach only through the postbox service. directory.go:
// regions and the global Directory of homes and moves. event.go: events and
// their kinds, which the transparency log publishes. rules.go: what makes a
// mailbox name or a queued message valid.
//
// This package imports nothing else from the project but errors. Reading it
// is reading the architecture; docs/ARCHITECTURE.md tells how the parts fit.
package sealpost

import (
	"context"
	"io"
	"strings"
	"time"
)

// AccountID identifies an account within a deployment. It is never reused.
type AccountID int64

// MailboxID identifies a mailbox (a folder) within a deployment.
type MailboxID int64

// MessageID identifies one stored copy of a message (one row in one mailbox).
type MessageID int64

// UID is an IMAP unique identifier, unique and ascending within a mailbox for
// as long as its UIDValidity holds (RFC 9051 2.3.1.1).
type UID uint32

// KeyID identifies one generation of an account's key pair. An account gains
// a new generation when an administrator resets its password without the old
// one; mail sealed to an earlier generation stays sealed to it.
type KeyID int64

// BlobRef names a sealed blob in a BlobStore. It carries no information about
// the content: a random identifier, plus for some stores the blob's location
// and length (which the metadata store keeps in the clear anyway).
type BlobRef string

// SpecialUse is a mailbox's RFC 6154 role, or "" for an ordinary mailbox.
type SpecialUse string

// The special-use mailboxes every account has, and their default names.
const (
	UseNone    SpecialUse = ""
	UseInbox   SpecialUse = "\\Inbox" // not an RFC 6154 attribute; marks INBOX
	UseSent    SpecialUse = "\\Sent"
	UseDrafts  SpecialUse = "\\Drafts"
	UseTrash   SpecialUse = "\\Trash"
	UseJunk    SpecialUse = "\\Junk"
	UseArchive SpecialUse = "\\Archive"
	// UseHeld marks the hidden mailbox that retains, sealed, what a user
	// deletes from an account under a legal hold (HeldMailbox). It is never
	// shown to IMAP clients.
	UseHeld SpecialUse = "\\Held"
)

// HeldMailbox is the name of the hidden legal-hold mailbox; no user may
// create, rename to, select or delete it.
const HeldMailbox = ".sealpost-legal-hold"

// DefaultMailboxes lists the mailboxes created with every account.
var DefaultMailboxes = []struct {
	Name string
	Use  SpecialUse
}{
	{"INBOX", UseInbox},
	{"Sent", UseSent},
	{"Drafts", UseDrafts},
	{"Trash", UseTrash},
	{"Junk", UseJunk},
	{"Archive", UseArchive},
}

// NormalizeAddress returns addr in the form Sealpost stores: the domain in
// lower case and the local part in lower case (Sealpost treats local parts
// case-insensitively, as nearly all providers do). It does no validation.
func NormalizeAddress(addr string) string {
	return strings.ToLower(strings.TrimSpace(addr))
}

// SubaddressDelimiter separates an address's detail from its user part:
// mail for alice+lists@example.org goes to alice@example.org when no
// account has the full address (RFC 5233, as Postfix's
// recipient_delimiter).
const SubaddressDelimiter = '+'

// BaseAddress returns addr without its detail ("alice+lists@d" gives
// "alice@d"), or addr itself when it has none.
func BaseAddress(addr string) string {
	at := strings.LastIndexByte(addr, '@')
	if at < 0 {
		return addr
	}
	if i := strings.IndexByte(addr[:at], SubaddressDelimiter); i > 0 {
		return addr[:i] + addr[at:]
	}
	return addr
}

// DomainOf returns the part of addr after the last '@', or "".
func DomainOf(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return addr[i+1:]
}

// Account is a hosted mailbox owner.
type Account struct {
	ID      AccountID
	Address string // normalized, e.g. "alice@demo.example"
	Created time.Time
	// PasswordVerifier checks a password without unwrapping any key; its
	// format belongs to package seal.
	PasswordVerifier []byte
	// OwnKey is set when the account registered its own OpenPGP public key:
	// the server holds no private key and stores mail as PGP/MIME.
	OwnKey bool
	// Settings are the owner's choices.
	Settings AccountSettings
	// Quota is the operator's override of the deployment's default limits
	// for this account (zero: the defaults).
	Quota Quota
}

// AccountSettings are what an account's owner chooses about how the server
// treats their mail. The zero value is the default of every setting.
type AccountSettings struct {
	// SaveSent files a copy of each message submitted over SMTP in Sent.
	// Off by default: mail clients (Thunderbird, Apple Mail, neomutt,
	// phones) save their own copy with IMAP APPEND, and a server copy
	// would make two.
	SaveSent bool
	// NoServerFilter is the strictest mode: no server-side rules and no
	// content scoring of the account's mail. The server then keeps no
	// wrap of the account's filter key that it can open without the
	// owner (filter.go): Sieve scripts stay stored but none runs, and the
	// spam classifier neither scores nor learns.
	NoServerFilter bool
}

// Key is one generation of an account's key pair as stored: the public key
// in the clear, the secret part only wrapped.
type Key struct {
	ID        KeyID
	Account   AccountID
	Created   time.Time
	PublicKey []byte // OpenPGP transferable public key, binary
	// WrappedByPassword is the secret bundle (private key and mailbox key)
	// sealed under a key derived from the password; nil when no password
	// opens this generation any more (after an admin reset).
	WrappedByPassword []byte
	// WrappedByRecovery is the same bundle sealed under a key derived from
	// the recovery code shown once at account creation; may be nil.
	WrappedByRecovery []byte
	Active            bool // new mail is sealed to the active generation
}

// Mailbox is a folder's metadata.
type Mailbox struct {
	ID            MailboxID
	Account       AccountID
	Name          string // full name, "/" as hierarchy delimiter
	Use           SpecialUse
	Subscribed    bool
	UIDValidity   uint32
	UIDNext       UID
	HighestModSeq uint64
}

// Flag is an IMAP flag or keyword, e.g. `\Seen` or `$Forwarded`. Stored flags
// keep the case in which they were first set; comparisons ignore case.
type Flag string

// The system flags every mailbox supports (RFC 9051 2.3.2).
const (
	FlagSeen     Flag = `\Seen`
	FlagAnswered Flag = `\Answered`
	FlagFlagged  Flag = `\Flagged`
	FlagDeleted  Flag = `\Deleted`
	FlagDraft    Flag = `\Draft`
)

// HasFlag reports whether flags contains f, ignoring case.
func HasFlag(flags []Flag, f Flag) bool {
	for _, g := range flags {
		if strings.EqualFold(string(g), string(f)) {
			return true
		}
	}
	return false
}

// Message is the metadata of a stored message. Everything here is in the
// clear on the operator's disk and is listed in docs/SECURITY.md.
type Message struct {
	ID           MessageID
	Mailbox      MailboxID
	UID          UID
	Flags        []Flag
	InternalDate time.Time
	Size         int64 // size of the plaintext message as served over IMAP
	ModSeq       uint64
	Blob         BlobRef
	Key          KeyID // the key generation the blob is sealed to
	// SessionKey is the message's OpenPGP session key wrapped under the
	// account's mailbox key, cached by the owner's session after the first
	// read so that later reads need no public-key operation. Nil until then.
	SessionKey []byte
	// SaveDate is when the message was stored in this mailbox (RFC 8514
	// SAVEDATE): set by the store on every insertion (delivery, APPEND,
	// COPY, MOVE), kept by a move between regions; zero for messages
	// stored before the store kept it.
	SaveDate time.Time
}

// NewMessage is a message to be inserted by Store.AddMessages: its blob is
// already durably stored.
type NewMessage struct {
	Mailbox      MailboxID
	Flags        []Flag
	InternalDate time.Time
	Size         int64
	Blob         BlobRef
	Key          KeyID
	SessionKey   []byte
	// Limit, when positive, is the account's storage quota in bytes:
	// AddMessages fails with OverQuota, inserting nothing, if this message
	// would take its account's Usage.Storage above it. 0: no check (the
	// legal hold, a move within the account).
	Limit int64
}

// FlagOp is how Store.SetFlags changes flags.
type FlagOp int

// The flag operations of IMAP STORE.
const (
	FlagsSet FlagOp = iota
	FlagsAdd
	FlagsRemove
)

// QueuedMessage is a message in the outbound queue: sealed to the queue key,
// waiting for delivery to another server.
//
// An entry's recipients share one domain (the delivery to that domain's
// mail exchangers is one SMTP transaction); a message for several domains
// is several entries sharing one blob. Delivered and bounced recipients are
// removed as delivery goes; the entry is dequeued when none is left.
type QueuedMessage struct {
	ID         int64
	From       string   // envelope sender; "" (a bounce) is never bounced again
	Recipients []string // those still to deliver
	Blob       BlobRef
	Size       int64
	Queued     time.Time // when it was accepted: its lifetime counts from here
	NextTry    time.Time
	Attempts   int
	LastError  string // the last temporary failure, as the remote server said it
	Held       bool   // put on hold by the operator: not tried until released
	Warned     bool   // the sender has been told the message is delayed
}

// AccountStore holds domains, accounts and their key generations.
type AccountStore interface {
	// AddDomain records a hosted domain. Adding an existing one is an
	// Exist error.
	AddDomain(ctx context.Context, domain string) error
	// Domains lists hosted domains, sorted.
	Domains(ctx context.Context) ([]string, error)
	// CreateAccount creates an account with its first key generation and
	// the default mailboxes, atomically. The account's domain must be
	// hosted (else NotExist); the address must be new (else Exist). It
	// returns the account with ID and Created set.
	CreateAccount(ctx context.Context, acct Account, key Key) (Account, error)
	// Account returns the account with the given normalized address, or a
	// NotExist error.
	Account(ctx context.Context, address string) (Account, error)
	// Accounts lists all accounts, sorted by address.
	Accounts(ctx context.Context) ([]Account, error)
	// DeleteAccount removes the account and all its mailboxes, messages and
	// keys (and with them its usage). It returns the blobs that are no longer referenced, for the
	// caller to delete from the BlobStore.
	DeleteAccount(ctx context.Context, id AccountID) ([]BlobRef, error)
	// SetPasswordVerifier replaces the account's password verifier.
	SetPasswordVerifier(ctx context.Context, id AccountID, verifier []byte) error
	// SetSettings replaces the account's settings. NotExist for an unknown
	// account.
	SetSettings(ctx context.Context, id AccountID, s AccountSettings) error
	// SetQuota replaces the account's quota override (Account.Quota).
	// NotExist for an unknown account; Invalid if q fails Quota.Check.
	// Lowering a limit below the usage removes nothing: it refuses what
	// would add more.
	SetQuota(ctx context.Context, id AccountID, q Quota) error
	// Usage returns what the account holds (see Usage). NotExist for an
	// unknown account.
	Usage(ctx context.Context, id AccountID) (Usage, error)
	// Keys lists the account's key generations, oldest first.
	Keys(ctx context.Context, id AccountID) ([]Key, error)
	// PutKey updates an existing key generation's wraps and Active flag, or
	// adds a new generation when key.ID is 0 (returning its ID). Making a
	// generation active makes every other generation inactive.
	PutKey(ctx context.Context, key Key) (KeyID, error)
}

// MailboxStore holds an account's mailboxes (folders).
//
// Every method that changes state is atomic and durable when it returns nil:
// a crash afterwards never loses the change.
type MailboxStore interface {
	// Mailboxes lists an account's mailboxes, sorted by name.
	Mailboxes(ctx context.Context, acct AccountID) ([]Mailbox, error)
	// MailboxByName returns the named mailbox; "INBOX" matches
	// case-insensitively (RFC 9051 5.1). NotExist if absent.
	MailboxByName(ctx context.Context, acct AccountID, name string) (Mailbox, error)
	// MailboxByUse returns the account's mailbox with the special use.
	MailboxByUse(ctx context.Context, acct AccountID, use SpecialUse) (Mailbox, error)
	// CreateMailbox creates a mailbox with a fresh UIDValidity. Exist if the
	// name is taken. With limit positive, OverQuota if the account already
	// has that many mailboxes, checked in the creating transaction; the
	// hidden legal-hold mailbox is neither counted nor refused.
	CreateMailbox(ctx context.Context, acct AccountID, name string, use SpecialUse, limit int64) (Mailbox, error)
	// DeleteMailbox removes the mailbox and its messages, returning blobs no
	// longer referenced.
	DeleteMailbox(ctx context.Context, id MailboxID) ([]BlobRef, error)
	// RenameMailbox renames a mailbox and its children ("a" and "a/..."),
	// keeping their UIDValidity. Renaming INBOX is handled by the caller.
	RenameMailbox(ctx context.Context, id MailboxID, newName string) error
	// SetSubscribed sets the subscription flag of a mailbox.
	SetSubscribed(ctx context.Context, id MailboxID, subscribed bool) error
}

// Expunged is what MessageStore.Expunge removed.
type Expunged struct {
	UIDs  []UID     // the removed messages, ascending; unknown UIDs are left out
	Blobs []BlobRef // blobs no longer referenced, for the caller to delete
	// ModSeq is the mailbox's HIGHESTMODSEQ after the expunge, the
	// modification sequence of the removal (RFC 7162 3.2.10); 0 when
	// nothing was removed.
	ModSeq uint64
}

// MessageStore holds the metadata of the messages in mailboxes.
//
// Every method that adds or removes messages (and DeleteMailbox) updates
// the account's Usage in the same transaction, so that it is exact under
// any concurrency.
//
// Every method that changes state is atomic and durable when it returns nil:
// a crash afterwards never loses the change. UIDs are assigned in commit
// order within a mailbox, so a reader that sees UID n committed has seen
// every smaller UID that will ever exist there.
type MessageStore interface {
	// AddMessages inserts messages, possibly into several mailboxes of
	// several accounts, in one transaction: UIDs are assigned, UIDNEXT and
	// MODSEQ advanced. It returns the inserted messages in input order.
	AddMessages(ctx context.Context, msgs []NewMessage) ([]Message, error)
	// Messages returns a mailbox's messages with UID > after, by UID.
	Messages(ctx context.Context, mailbox MailboxID, after UID) ([]Message, error)
	// SetFlags changes the flags of the given messages and returns them as
	// updated (with new ModSeq), by UID. Unknown UIDs are skipped.
	SetFlags(ctx context.Context, mailbox MailboxID, uids []UID, op FlagOp, flags []Flag) ([]Message, error)
	// Expunge removes the given messages. Unknown UIDs are skipped; when
	// none is left, nothing changes.
	Expunge(ctx context.Context, mailbox MailboxID, uids []UID) (Expunged, error)
	// Vanished returns the UIDs of the mailbox's messages expunged with a
	// MODSEQ above since, ascending, for QRESYNC (RFC 7162 3.2.5). complete
	// is false when the store cannot tell: since is below the mailbox's
	// expunge floor, under which it keeps no record (older expunges than
	// the last store/column.MaxTombstones, or than the schema that began
	// keeping them); the caller must then assume that any UID below
	// UIDNEXT not in the mailbox may have gone. NotExist for an unknown
	// mailbox.
	Vanished(ctx context.Context, mailbox MailboxID, since uint64) (uids []UID, complete bool, err error)
	// CopyMessages copies messages to another mailbox of the same account,
	// sharing their blobs, and returns the new copies in input order. With
	// limit positive, OverQuota (nothing copied) if the copies would take
	// the account's Usage.Storage above it.
	CopyMessages(ctx context.Context, from MailboxID, uids []UID, to MailboxID, limit int64) ([]Message, error)
	// SetSessionKeys stores wrapped session keys (see Message) for many
	// messages in one transaction; it is called in batches by the owner's
	// session as it reads. Unknown IDs are skipped.
	SetSessionKeys(ctx context.Context, keys map[MessageID][]byte) error
}

// QueueStore holds a region's outbound queue: messages for other servers,
// sealed to the deployment key (see QueuedMessage).
type QueueStore interface {
	// Enqueue adds messages to the queue in one transaction, durably, and
	// returns their IDs in input order. Invalid if any fails
	// QueuedMessage.Check; a zero Queued is now, a zero NextTry Queued.
	Enqueue(ctx context.Context, msgs []QueuedMessage) ([]int64, error)
	// Queue lists queued messages by ID.
	Queue(ctx context.Context) ([]QueuedMessage, error)
	// QueueDue returns up to limit entries, not held, whose NextTry is at
	// or before now, earliest first, and the NextTry of the earliest
	// entry not held after now (zero if none): what a delivery service
	// asks, without reading the whole queue.
	QueueDue(ctx context.Context, now time.Time, limit int) ([]QueuedMessage, time.Time, error)
	// UpdateQueued stores what delivery and the operator change of the
	// entry m.ID: Recipients, NextTry, Attempts, LastError, Held and
	// Warned. NotExist for an unknown ID; Invalid if m has no recipients
	// (Dequeue it instead).
	UpdateQueued(ctx context.Context, m QueuedMessage) error
	// Dequeue removes a delivered or abandoned message and returns its blob
	// if no longer referenced. NotExist for an unknown ID.
	Dequeue(ctx context.Context, id int64) ([]BlobRef, error)
}

// AccountImage is everything a region's metadata store holds about one
// account, as needed to move it to another region unchanged: the blobs are
// copied separately and the refs rewritten by the mover.
type AccountImage struct {
	Account   Account
	Keys      []Key
	Mailboxes []MailboxImage
	// Objects are the account's sealed objects (filter.go): Sieve scripts,
	// the filter's model and key wraps, with their Active and Updated.
	Objects []AccountObject
}

// MailboxImage is one mailbox of an AccountImage with all its messages.
// UIDValidity, UIDNext, HighestModSeq and every message's UID and ModSeq are
// kept, so IMAP clients need not resynchronise after a move.
type MailboxImage struct {
	Mailbox  Mailbox
	Messages []Message
}

// Inventory is what a region's metadata store holds, as the residency audit
// needs it: the accounts, the blobs each references, and any rows that
// belong to no account held here.
type Inventory struct {
	Accounts []Account
	// Blobs maps every referenced blob to the address of the account whose
	// message references it, or to "" for the outbound queue.
	Blobs map[BlobRef]string
	// Orphans describes rows that belong to no account in this store
	// (a mailbox, key or message whose account or mailbox is missing).
	Orphans []string
}

// RegionStore is what a region's Store offers beyond mail storage, for
// residency: the region it belongs to, and moving accounts in and out.
type RegionStore interface {
	// Claim binds the store to a region: the first Claim records it, a
	// later Claim with the same region is a no-op, and one with another
	// region is a WrongRegion error. A store is claimed when opened, so
	// one region's storage can never be mounted as another's.
	Claim(ctx context.Context, region RegionID) error
	// ExportAccount returns the account's whole image. NotExist if absent.
	ExportAccount(ctx context.Context, addr string) (AccountImage, error)
	// ImportAccount inserts an image verbatim in one transaction: account,
	// key generations (new KeyIDs; messages are re-pointed to them),
	// mailboxes with their UIDValidity/UIDNext/HighestModSeq, messages with
	// their UIDs, flags, dates, ModSeqs and session keys. Exist if the
	// address already has an account here. The image's IDs are ignored.
	ImportAccount(ctx context.Context, img AccountImage) (Account, error)
	// Inventory lists what the store holds.
	Inventory(ctx context.Context) (Inventory, error)
}

// Store is the metadata store of one region: the union of the small
// interfaces above, each of which a caller may ask for alone. Implementations:
// store/sqlite (embedded) and store/postgres, and store/guard, which wraps
// either to enforce residency; store/storetest is the conformance suite
// every one of them passes. A Store is safe for concurrent use.
type Store interface {
	AccountStore
	MailboxStore
	MessageStore
	QueueStore
	ObjectStore
	RegionStore
	Close() error
}

// Sealer seals plaintext to one public key: only the holder of the matching
// private key can open what it writes. seal.Recipient is the implementation
// (OpenPGP); the outbound queue is sealed with one. A Sealer is safe for
// concurrent use.
type Sealer interface {
	// Seal writes the sealed form of plaintext to w.
	Seal(w io.Writer, plaintext []byte) error
	// SealFrom writes the sealed form of everything read from src to w as
	// it reads, in memory bounded whatever the size, and returns the
	// number of plaintext bytes read.
	SealFrom(w io.Writer, src io.Reader) (int64, error)
}

// BlobStore holds sealed blobs: opaque ciphertext, never plaintext.
// Implementations: blob/pack, blob/fs, blob/s3; blob/blobtest is the conformance suite.
// A BlobStore is safe for concurrent use.
type BlobStore interface {
	// Put stores data under a new random ref and returns it. When Put
	// returns nil the blob is durable (written and fsynced, its directory
	// entry too).
	Put(ctx context.Context, data []byte) (BlobRef, error)
	// Create starts a blob written in pieces, for data that should not be
	// held in memory whole (a large message as it is sealed): write the
	// data to the BlobWriter, then Commit or Abort it. The store holds at
	// most a small buffer of it in memory; the rest waits in an anonymous
	// temporary file or goes straight to its place, invisible to Get and
	// List until Commit. A writer neither committed nor aborted, or cut
	// short by a crash, leaves nothing behind that a ref names.
	Create(ctx context.Context) (BlobWriter, error)
	// Get opens a blob. NotExist if there is none.
	Get(ctx context.Context, ref BlobRef) (io.ReadCloser, error)
	// Delete removes a blob. Deleting a missing blob is not an error.
	Delete(ctx context.Context, ref BlobRef) error
	// List calls fn with the ref of every stored blob, in no particular
	// order, stopping at fn's first error and returning it. Blobs put or
	// deleted during List may or may not be seen. The residency audit uses
	// it to find blobs that no account in the region references.
	List(ctx context.Context, fn func(BlobRef) error) error
}

// BlobWriter is a blob being written (BlobStore.Create). It is used by one
// goroutine at a time.
type BlobWriter interface {
	// Write appends data. A failure is final (a full disk: Unavailable);
	// the caller then Aborts.
	io.Writer
	// Commit stores what was written under a new ref and returns it; when
	// it returns nil the blob is durable, as after Put. Whatever the
	// outcome, the writer is finished: a failed Commit leaves nothing.
	Commit(ctx context.Context) (BlobRef, error)
	// Abort discards what was written, leaving nothing behind. It may be
	// called after Commit (it then does nothing), so callers defer it.
	Abort()
}
