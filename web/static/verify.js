// verify.js checks, in the reader's own browser, what the privacy page
// (/me) says about the transparency log, so that the reader need not take
// the server's word for it:
//
//  1. the log's verifier key (golang.org/x/mod/sumdb/note text form,
//     name+hash+base64(0x01 || Ed25519 public key)) and the Ed25519
//     signature of the latest checkpoint, a signed note;
//  2. the checkpoint body (C2SP tlog-checkpoint: origin, tree size, root);
//  3. for each entry shown, its RFC 6962 inclusion proof (RFC 9162
//     2.1.3.2) in the tree the checkpoint commits to, and that its blinded
//     subject is HMAC-SHA256(account secret, salt), i.e. that it is about
//     this account; and that the row shown says what the entry says.
//
// It reads its input from <script type="application/json" id="proof-data">
// and writes "verified" or "FAILED: reason" into each row's proof cell.
// Plain modern JavaScript and WebCrypto: no libraries, no build step.
'use strict';

(() => {
  const enc = new TextEncoder();
  const utf8 = new TextDecoder('utf-8', { fatal: true });

  // Anything that goes wrong while checking is a failure, except that the
  // browser cannot check at all (Unsupported).
  class Unsupported extends Error {}
  const fail = (msg) => { throw new Error(msg); };

  const fromBase64 = (s, what) => {
    if (typeof s !== 'string' || !/^[A-Za-z0-9+/]*={0,2}$/.test(s) || s.length % 4 !== 0) {
      fail(what + ' is not base64');
    }
    const bin = atob(s);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  };
  const fromHex = (s, what) => {
    if (typeof s !== 'string' || !/^(?:[0-9a-f]{2})*$/.test(s)) fail(what + ' is not hex');
    const out = new Uint8Array(s.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
    return out;
  };
  const toHex = (a) => Array.from(a, (b) => b.toString(16).padStart(2, '0')).join('');
  const concat = (...parts) => {
    const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let i = 0;
    for (const p of parts) { out.set(p, i); i += p.length; }
    return out;
  };
  const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);
  const sha256 = async (...parts) =>
    new Uint8Array(await crypto.subtle.digest('SHA-256', concat(...parts)));

  // A note key name: non-empty, no '+', no spaces or control characters.
  const validName = (name) => name.length > 0 && !/[+\s\p{Cc}]/u.test(name);

  // parseVerifierKey checks a note verifier key and imports its Ed25519
  // public key. The key hash is the first 4 bytes of
  // SHA-256(name || "\n" || 0x01 || public key).
  async function parseVerifierKey(text) {
    // The name has no '+'; the base64 key may.
    const m = /^([^+]+)\+([^+]*)\+(.*)$/s.exec(text.trim());
    if (!m) fail('verifier key is not name+hash+key');
    const [, name, hashHex, keyB64] = m;
    if (!validName(name)) fail('verifier key has a bad name');
    if (!/^[0-9a-f]{8}$/.test(hashHex)) fail('verifier key hash is not 8 hex digits');
    const key = fromBase64(keyB64, 'verifier key');
    if (key.length !== 33 || key[0] !== 1) fail('verifier key is not an Ed25519 note key');
    const hash = (await sha256(enc.encode(name + '\n'), key)).slice(0, 4);
    if (toHex(hash) !== hashHex) fail('verifier key hash does not match its key');
    let pub;
    try {
      pub = await crypto.subtle.importKey('raw', key.slice(1), { name: 'Ed25519' }, false, ['verify']);
    } catch (e) {
      throw new Unsupported('this browser cannot check Ed25519 signatures');
    }
    return { name, hash, pub };
  }

  // openNote checks a signed note (text, a blank line, then lines
  // "— name base64(keyhash || signature)") against the key, and returns
  // its text. Signatures by other keys are ignored; one by this key must
  // be there and verify.
  async function openNote(note, key) {
    if (typeof note !== 'string' || !note.endsWith('\n')) fail('checkpoint is not a signed note');
    if (/[\u0000-\u0009\u000b-\u001f\u007f]/.test(note)) fail('checkpoint has control characters');
    const split = note.lastIndexOf('\n\n');
    if (split < 0) fail('checkpoint has no signatures');
    const text = note.slice(0, split + 1);
    const sigLines = note.slice(split + 2).split('\n');
    sigLines.pop(); // after the final newline
    if (sigLines.length === 0) fail('checkpoint has no signatures');
    let verified = false;
    for (const line of sigLines) {
      if (!line.startsWith('\u2014 ')) fail('checkpoint signature line is malformed');
      const rest = line.slice(2);
      const sp = rest.indexOf(' ');
      if (sp < 0) fail('checkpoint signature line is malformed');
      const name = rest.slice(0, sp);
      const sig = fromBase64(rest.slice(sp + 1), 'checkpoint signature');
      if (!validName(name) || sig.length < 5) fail('checkpoint signature line is malformed');
      if (name !== key.name || !equal(sig.slice(0, 4), key.hash)) continue; // another key's
      if (sig.length !== 68) fail('checkpoint signature has the wrong length');
      const ok = await crypto.subtle.verify({ name: 'Ed25519' }, key.pub, sig.slice(4), enc.encode(text));
      if (!ok) fail('checkpoint signature does not verify');
      verified = true;
    }
    if (!verified) fail('checkpoint is not signed by the log key');
    return text;
  }

  // parseCheckpoint reads a C2SP tlog-checkpoint body: origin, decimal
  // tree size, base64 root hash, then optional extension lines.
  function parseCheckpoint(text, origin) {
    const lines = text.split('\n');
    if (lines.length < 4) fail('checkpoint body is too short');
    if (lines[0] !== origin) fail('checkpoint origin "' + lines[0] + '" is not the key name "' + origin + '"');
    if (!/^(?:0|[1-9][0-9]*)$/.test(lines[1])) fail('checkpoint size is not a decimal number');
    const size = BigInt(lines[1]);
    const root = fromBase64(lines[2], 'checkpoint root');
    if (root.length !== 32) fail('checkpoint root is not 32 bytes');
    return { size, root };
  }

  // verifyInclusion is RFC 9162 2.1.3.2: the inclusion of leaf hash at
  // index in the tree of size whose root is root, by proof (leaf first).
  async function verifyInclusion(index, size, leaf, proof, root) {
    if (index >= size) fail('entry ' + index + ' is beyond the checkpoint (size ' + size + ')');
    const one = Uint8Array.of(1);
    let fn = index;
    let sn = size - 1n;
    let r = leaf;
    for (const p of proof) {
      if (p.length !== 32) fail('proof hash is not 32 bytes');
      if (sn === 0n) fail('inclusion proof is too long');
      if ((fn & 1n) === 1n || fn === sn) {
        r = await sha256(one, p, r);
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await sha256(one, r, p);
      }
      fn >>= 1n;
      sn >>= 1n;
    }
    if (sn !== 0n) fail('inclusion proof is too short');
    if (!equal(r, root)) fail('inclusion proof does not lead to the checkpoint root');
  }

  // checkEntry verifies one entry and returns nothing, or throws.
  async function checkEntry(e, cp, hmacKey, row) {
    if (typeof e.index !== 'string' || !/^(?:0|[1-9][0-9]*)$/.test(e.index)) fail('bad entry index');
    const data = fromBase64(e.entry, 'entry');
    const proof = (e.proof || []).map((h) => fromBase64(h, 'proof hash'));
    // RFC 6962 2.1: a leaf's hash is SHA-256(0x00 || entry).
    const leaf = await sha256(Uint8Array.of(0), data);
    await verifyInclusion(BigInt(e.index), cp.size, leaf, proof, cp.root);
    let entry;
    try {
      entry = JSON.parse(utf8.decode(data));
    } catch (err) {
      fail('entry is not JSON');
    }
    if (typeof entry.subject !== 'string' || entry.subject === '') fail('entry names no account');
    const salt = fromHex(e.salt || entry.salt || '', 'salt');
    if (salt.length === 0) fail('entry has no salt');
    const mac = new Uint8Array(await crypto.subtle.sign('HMAC', hmacKey, salt));
    if (toHex(mac) !== entry.subject) fail('entry is not about this account');
    const shown = row.dataset;
    const demand = (entry.detail && entry.detail.demand) || '';
    if (shown.time !== entry.time || shown.kind !== entry.kind || shown.demand !== demand) {
      fail('the row shown does not match the logged entry');
    }
  }

  const setCell = (cell, ok, text) => {
    cell.textContent = text;
    cell.dataset.verified = ok ? 'true' : 'false';
    cell.classList.toggle('verified', ok);
    cell.classList.toggle('failed', !ok);
  };

  const reason = (err) => (err instanceof Unsupported ? 'not checked: ' : 'FAILED: ') + err.message;

  async function main() {
    const status = document.getElementById('checkpoint-status');
    const cells = Array.from(document.querySelectorAll('td.proof'));
    const failAll = (text, ok) => {
      if (status) setCell(status, ok, 'Checkpoint: ' + text);
      for (const c of cells) setCell(c, false, text);
    };
    const src = document.getElementById('proof-data');
    let data;
    try {
      data = JSON.parse(src ? src.textContent : 'null');
    } catch (err) {
      data = null;
    }
    if (!data || typeof data !== 'object') {
      failAll('FAILED: the page carries no proof data', false);
      return;
    }
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) {
      failAll('not checked: this page must be opened over HTTPS to check proofs', false);
      return;
    }
    let cp;
    let hmacKey;
    try {
      const key = await parseVerifierKey(String(data.verifierKey || ''));
      const text = await openNote(data.checkpoint, key);
      cp = parseCheckpoint(text, key.name);
      hmacKey = await crypto.subtle.importKey('raw', fromHex(String(data.secret || ''), 'account secret'),
        { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    } catch (err) {
      failAll(reason(err), false);
      return;
    }
    if (status) setCell(status, true, 'Checkpoint: size ' + cp.size + ', signature verified');
    const byIndex = new Map();
    for (const e of Array.isArray(data.entries) ? data.entries : []) {
      if (e && typeof e.index === 'string') byIndex.set(e.index, e);
    }
    for (const cell of cells) {
      const row = cell.closest('tr');
      const e = byIndex.get(cell.dataset.index);
      if (!e) {
        setCell(cell, false, 'FAILED: the page has no proof for this entry');
        continue;
      }
      byIndex.delete(cell.dataset.index); // each proof backs one row
      try {
        await checkEntry(e, cp, hmacKey, row);
        setCell(cell, true, 'verified');
      } catch (err) {
        setCell(cell, false, reason(err));
      }
    }
  }

  // run marks the page once every check is done, whatever the outcome.
  const run = () => main()
    .catch((err) => {
      const status = document.getElementById('checkpoint-status');
      if (status) setCell(status, false, 'Checkpoint: FAILED: ' + err.message);
    })
    .finally(() => { document.body.dataset.proofsChecked = 'done'; });

  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', run);
  } else {
    run();
  }
})();
