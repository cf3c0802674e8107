package bench

import "strconv"

// Chunks of varying size (the slow-stream scenarios: tokens of 4 to 64
// bytes). A request "r <id> <k> <size> <interval_us> <think_us> <minsize>"
// with minsize > 0 gets chunk seq of ChunkSize(seq, minsize, size) bytes:
// "<id>:<seq>:" padded with 'x', or cut to that size when longer. The agent
// and the load tool share these, so the client can check every chunk
// exactly.

// ChunkSize is the size of chunk seq, in [lo, hi]: a fixed spread, the
// same for every reply (mean (lo+hi)/2).
func ChunkSize(seq, lo, hi int) int {
	if lo <= 0 || hi <= lo {
		return hi
	}
	return lo + (seq*37+11)%(hi-lo+1)
}

// AppendChunk appends chunk seq of the reply to id, size bytes long.
func AppendChunk(b, id []byte, seq, size int) []byte {
	start := len(b)
	b = append(b, id...)
	b = append(b, ':')
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, ':')
	for len(b)-start < size {
		b = append(b, 'x')
	}
	return b[:start+size]
}
