package translators

// Reserve returns b with room for n more elements: b itself when it has
// it, else a copy of b with its capacity doubled, and at least min. A
// reply's buffers grow by appends of a few bytes to kilobytes, where
// append's own growth (by a quarter past 256 bytes) reallocates a dozen
// times or more.
func Reserve[T any](b []T, n, min int) []T {
	if len(b)+n <= cap(b) {
		return b
	}
	grown := make([]T, len(b), max(2*cap(b), len(b)+n, min))
	copy(grown, b)
	return grown
}
