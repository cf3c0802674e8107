// Package wsconn owns one WebSocket leg of the proxy after its handshake:
// the socket, RFC 6455 framing (headers, masking, control frames, the close
// handshake and its codes), whole-message reads with streaming UTF-8
// validation, read and write deadlines, the keepalive and idle timer, and
// parking a quiet reader with the process's poller (Linux).
//
// # Ownership
//
// A Conn is read by one goroutine at a time: its owner's pump, holding the
// reader (LockReader, UnlockReader). Writes are safe from any goroutine:
// each frame is written whole under the write lock, with a write deadline.
//
// # Buffers
//
// A Conn takes a pooled BufSize read buffer when bytes arrive and gives it
// back when everything read was consumed, so an idle connection holds none.
// Every slice a read method returns (Buffered, ReadPayload) aliases that
// buffer and is valid until the reader's next call that reads (AwaitData,
// ReadHeader, ReadPayload, FillTo, FillFrame, ReadMessage) or until the
// owner calls FreeRead. ReadMessage copies into the caller's dst instead.
// WriteFrame masks a backend leg's payload in place: pass only bytes you
// own and do not read afterwards.
//
// # Parking
//
// With an Owner (SetOwner), a reader at a frame boundary with nothing
// buffered may park (AwaitData returns ErrParked): the pump returns, lets
// go of the reader, and the owner's Unparked is called on a new goroutine
// when the socket is readable, its read deadline passed or another
// goroutine interrupted the read. An Inliner's pump is run on the poller's
// goroutine instead and must hand off (ErrHandoff) before anything that
// may block. The owner calls Forget once its pumps ended.
package wsconn
