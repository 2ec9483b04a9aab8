package imapwire

// Peek reports whether the next bytes are s, without reading them (Sealpost
// patch 35: PREVIEW's optional modifier list, " (LAZY)", is told from the
// next fetch-att, " UID", only by its second byte).
func (dec *Decoder) Peek(s string) bool {
	if dec.err != nil || dec.literal || dec.refused {
		return false
	}
	b, err := dec.r.Peek(len(s))
	return err == nil && string(b) == s
}
