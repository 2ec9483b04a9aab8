package column

// SaveDateSchema adds each message's save date (RFC 8514 SAVEDATE: when it
// was stored in its mailbox), in nanoseconds like internaldate; 0 for the
// messages stored before, which read back as the zero time (SAVEDATE NIL).
const SaveDateSchema = `ALTER TABLE messages ADD COLUMN savedate BIGINT NOT NULL DEFAULT 0`
