package inflate

// endBlockMarker is the end-of-block literal/length symbol (RFC 1951
// 3.2.5), defined in compress/flate's huffman_bit_writer.go, which the
// decompressor does not otherwise need.
const endBlockMarker = 256

// maxMatchOffset is the largest match offset, the window's size (RFC 1951
// 3.2.5), defined in compress/flate's deflate.go.
const maxMatchOffset = 1 << 15
