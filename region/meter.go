package region

// Meter is told how far a long operation (a move, an audit) has come:
// items such as blobs, and their bytes. The command line passes
// internal/progress's Meter; nil reports nothing.
type Meter interface {
	// SetTotal says how many items are expected, once known.
	SetTotal(items int64)
	// Add counts n more items of size bytes in all.
	Add(n, bytes int64)
}
