package column

// MaxTombstones is how many expunged UIDs a store keeps per mailbox, with
// the MODSEQ of their expunge, for QRESYNC's VANISHED (EARLIER) (RFC 7162
// 3.2.5, sealpost.MessageStore.Vanished). Beyond it the oldest are
// dropped, by whole expunges, and the mailbox's expunge floor rises to the
// MODSEQ of the last one dropped: a client that last synchronised before
// it gets the conservative answer. 10,000 rows of three integers per
// mailbox at most; a client a few thousand expunges behind resyncs exactly.
const MaxTombstones = 10000

// TombstonesSchema is the migration both stores apply (their step 5):
// the tombstones, and each mailbox's expunge floor, below which its
// expunges are not known (for existing mailboxes, every one until now).
const TombstonesSchema = `
CREATE TABLE expunged (
	mailbox BIGINT NOT NULL REFERENCES mailboxes (id) ON DELETE CASCADE,
	modseq  BIGINT NOT NULL,
	uid     BIGINT NOT NULL,
	PRIMARY KEY (mailbox, modseq, uid)
);
ALTER TABLE mailboxes ADD COLUMN expunged_floor BIGINT NOT NULL DEFAULT 0;
UPDATE mailboxes SET expunged_floor = highestmodseq;
`
