// Package seal owns Sealpost's key hierarchy and the encryption of every
// stored message. It uses standard, reviewed formats only: Argon2id
// (RFC 9106), HKDF-SHA256 (RFC 5869), AES-256-GCM and OpenPGP (RFC 4880 /
// RFC 9580, through github.com/ProtonMail/go-crypto). Nothing here is a
// home-made cipher; the package only decides how these pieces fit.
//
// # The hierarchy
//
//	password ──Argon2id(salt, Params)──▶ 64 bytes ──HKDF-SHA256─┬─▶ auth key (32 bytes)
//	                                                            └─▶ KEK      (32 bytes)
//
//	verifier = {version, Params, salt, SHA-256(auth key)}   stored in the clear
//
//	KEK ──AES-256-GCM──▶ secret bundle {OpenPGP private key, mailbox key MK}
//
//	public key ──OpenPGP PKESK (X25519)──▶ per-message session key
//	MK ──AES-256-GCM(binding = blob ref)──▶ cached session key
//
// One Argon2id run per login yields both the value that checks the password
// (NewPassword, CheckPassword) and the key-encryption key (the *Secret) that
// unwraps the account's secret bundle (Secret.Unwrap). The verifier alone
// does not reveal the KEK: the two are separate HKDF outputs, and only a hash
// of the auth key is stored.
//
// Each key generation (Generate) is an OpenPGP v4 key: an Ed25519 (EdDSA)
// primary key for certification with an ECDH Curve25519 encryption subkey,
// the profile gpg 2.2 and later create by default, with the account's
// address as user ID. With it comes a random 32-byte mailbox key MK. The
// secret bundle (the unencrypted OpenPGP private key and MK) is stored only
// wrapped: once under the password's KEK and once under a key derived from a
// recovery code (20 random bytes, shown to the user once as base32 groups,
// stretched with Argon2id under its own salt kept in the recovery record).
//
// # Messages
//
// Delivery needs only the public key: Recipient.Seal writes an ordinary
// OpenPGP message (a v3 PKESK to the encryption subkey followed by a
// SEIPD v1 packet, AES-256 with MDC, holding one binary literal data packet,
// no compression, no signature) that gpg decrypts with the exported private
// key.
//
// The owner's session holds an *Unlocked. The first time a message is read,
// Unlocked.Open decrypts the PKESK (one X25519 operation) and returns, beside
// the plaintext, the message's session key wrapped under MK with a
// caller-given binding (the blob ref) as associated data. The caller caches
// that in the metadata store; later reads go through Unlocked.OpenCached,
// which needs only AES: unwrap the session key with MK, then decrypt the SEIPD
// packet. The binding stops a cached key from being replayed against another
// blob.
//
// Accounts that registered their own OpenPGP key have no private key on the
// server: ParseRecipient accepts such a key (RSA of 2048 bits or more, ECDH,
// X25519 or X448 encryption keys) and SealPGPMIME stores mail to it as an
// RFC 3156 PGP/MIME message their own client can read.
//
// # Parameters
//
// The Argon2id parameters are internal/pwhash's Params, shared with the
// legal officers' passwords: pwhash.DefaultParams is t=3 passes over 64 MiB,
// RFC 9106 section 4's second recommended option (for memory-constrained
// uses), with parallelism lowered from 4 to 2 lanes to match the 2-core
// machines Sealpost targets (a lane count above the core count only adds
// latency). Every record stores its parameters, so they can be raised later
// without invalidating existing records. A stored record is rejected before
// any work is done when pwhash's limits refuse its parameters (more than
// 4 GiB of memory, more than 100 passes, zero lanes), so a forged record
// cannot make the server allocate unbounded memory or spin without end.
// What this package adds is its own: the binary record formats, the HKDF
// split of one Argon2id output into an auth key and a KEK, and the keys.
//
// # Records
//
// Every record this package stores starts with a one-byte type and a
// one-byte format version, so formats can evolve:
//
//	verifier:         'V' 1 | time u32 | memKiB u32 | threads u8 | salt[16] | SHA-256(auth key)[32]
//	password wrap:    'P' 1 | nonce[12] | GCM(KEK, bundle)
//	recovery wrap:    'R' 1 | time u32 | memKiB u32 | threads u8 | salt[16] | nonce[12] | GCM(RK, bundle)
//	session key wrap: 'K' 1 | nonce[12] | GCM(MK, cipher u8 | key)
//	bundle:           1 | len u32 | OpenPGP private key | MK[32]
//
// The header bytes before the nonce are always part of the GCM associated
// data, together with a fixed label ("sealpost bundle v1" or "sealpost
// session key v1") and, for session keys, the caller's binding.
//
// # Errors
//
// A wrong password or recovery code, or a wrap that fails authentication
// (tampered, wrong binding, other key), is a Permission error. A record or
// message that cannot be parsed, or whose integrity check fails, is Invalid.
// A message sealed to a key this Unlocked does not hold is Sealed. No error
// text contains key material or plaintext.
package seal
