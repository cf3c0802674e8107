package wsconn

import "sync"

// BufSize is the size of the pooled buffers a connection holds only while it
// handles a frame: 16 KiB, so that a busy stream is read in one system call per batch of
// frames.
const BufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { return new([BufSize]byte) }}

func getBuf() *[BufSize]byte { return bufPool.Get().(*[BufSize]byte) }

// putBuf returns b to the pool. The caller must not touch b afterwards.
func putBuf(b *[BufSize]byte) { bufPool.Put(b) }

// GetBuf takes a BufSize buffer from the connections' pool, for a short
// use that would otherwise make an array escape; give it back with PutBuf.
func GetBuf() *[BufSize]byte { return getBuf() }

// PutBuf gives b back to the pool; the caller must not touch b afterwards.
func PutBuf(b *[BufSize]byte) { putBuf(b) }
