package proxy

import "sync"

// bufSize is the size of the pooled buffers a connection holds only while it
// handles a frame: 16 KiB, which measured best for streamed 1 KiB chunks (see
// reference/performance.md 4.3).
const bufSize = 16 << 10

var bufPool = sync.Pool{New: func() any { return new([bufSize]byte) }}

func getBuf() *[bufSize]byte { return bufPool.Get().(*[bufSize]byte) }

// putBuf returns b to the pool. The caller must not touch b afterwards.
func putBuf(b *[bufSize]byte) { bufPool.Put(b) }
