// Package proxy is agentbridge's server: one fasthttp listener that answers
// health checks and WebSocket handshakes, hijacks each upgraded connection
// into gobwas/ws low-level frame I/O, and runs a session per client.
//
// # Handshake
//
// fasthttp parses the request. Route matching, the RFC 6455 checks, the
// Origin allow-list and dialing the backend all happen before the 101, so a
// client learns of an unknown path (404), a refused origin (403) or an
// unreachable backend (502, or 504 when it is too slow) from an HTTP status.
// After the 101 the connection leaves fasthttp for good: the session reads
// the socket itself, so neither fasthttp's request buffers nor its
// goroutine are kept for the session's life. fasthttp's timeouts and
// Shutdown do not see hijacked connections; the Server keeps its own
// registry and deadlines.
//
// # Sessions
//
// When client and backend speak the same dialect in the same shape, a relay
// forwards frames as they are (client frames keep their mask); text is
// still checked for UTF-8 and messages for size. Otherwise a session
// translates: the client's codec decodes each message into canonical
// events, the Upstream (a backend socket with its codec, or the in-process
// demo agent) takes them, and the backend's events pass through a
// translators.Turn and the client's codec on the way back.
//
// Each session runs two pumps, one per direction. Exactly one goroutine at a
// time reads each connection (it holds the connection's rmu); writes go
// through the connection's mutex, whole frames only, with a write deadline.
// The first pump to end decides how both legs close and interrupts the
// other (InterruptRead); the last one to end closes both legs, after the
// client answered the close or a one-second grace passed, and gives the
// connection's slot back. A client that broke the protocol (1002, 1007) is
// not waited for: what the backend already sent reaches it first (at most
// 250 ms), then the close frame, and its connection is shut at once. Nothing queues without a bound: writes block (TCP
// pushes back) up to the write deadline, and pending user messages are
// capped by Limits.MaxPending.
//
// # Parking
//
// A pump whose socket is quiet does not keep a goroutine
// (proxy/internal/wsconn/park_linux.go, on proxy/internal/netpoll).
// At a frame boundary with nothing buffered, a connection that got bytes in
// the last 250 ms waits under the runtime poller as usual; a quieter one
// registers its socket, one-shot, with one of the process's epoll
// instances, and the pump returns. When the socket is readable, its read
// deadline passes or another goroutine interrupts the read, the
// connection's owner (a relay, a translating session, a Wiro subscriber
// socket or conversation) runs the pump again on a new goroutine, from the
// state it keeps. An idle proxied connection is then its
// structs and two sockets: no goroutine stack and no buffer. The epoll
// descriptor is itself waited for under the runtime poller, so no thread
// blocks in epoll_wait.
//
// Relays are served as an event loop serves them: both legs are registered
// once, edge-triggered, and park at every frame boundary. A read that returned
// less than it asked for drained the socket, so such a connection parks
// without the read(2) that would answer EAGAIN, and when it is readable
// the poller runs its pump on the poller's own goroutine: no goroutine is
// woken, and one epoll_wait serves a batch of connections. The poller has
// an epoll instance and a goroutine per P (a socket's descriptor picks
// one), so batches are served side by side on every core. That pump reads
// only whole frames the socket already has and writes only what the other
// socket takes at once; before anything that could block (a partial write,
// a busy lock, a control frame, a frame bigger than the buffer, the end of
// the relay) it hands itself, with what is left to do, to a goroutine of
// its own (ErrHandoff), so a slow peer never holds the poller. A
// translating session's backend pump is served the same way when both legs
// are raw sockets (session_inline.go): whole messages are decoded,
// normalized, encoded and written on the poller's goroutine. Its client
// pump, which reads user messages and may send them to the backend over
// HTTP or a blocking write, keeps a goroutine per wake-up.
//
// Each connection is kicked at one time, the earliest of what it waits
// for: it sends the keepalive pings, ends a parked read whose deadline
// passed, and fires the session timeout (which client messages move
// without touching the kick). Every connection's kick is an entry in one
// heap, with one runtime timer for all (proxy/internal/wsconn/timers.go).
//
// # Buffers
//
// A connection takes a pooled 16 KiB read buffer when bytes arrive and gives
// it back as soon as everything read was consumed. On Linux a socket is read
// with read(2) under the runtime poller (syscall.RawConn), and the buffer is
// taken inside that call only when the read returns bytes, so an idle
// connection holds no buffer and a busy one pays one read per batch of
// frames. Slices read from a connection alias that buffer until the next
// read. A relay writes every complete frame already buffered in one write; a
// translating session queues encoded client frames while the backend has
// more buffered and writes them at once. Each pump owns its message, event
// and output buffers and reuses them, so the per-frame path allocates nothing
// once warm. Read and write deadlines are re-armed only when most of their
// slack is gone, or when they fire early.
//
// # Packages
//
//	proxy                    the Server: the HTTP front door (handshakes,
//	                         health, tickets, REST endpoints), admission
//	                         and auth glue, relays, translating sessions,
//	                         upstreams (a backend socket, Wiro's REST) and
//	                         the Wiro front end (hub.go)
//	proxy/internal/wsconn    one WebSocket leg: framing, messages, UTF-8,
//	                         close codes and handshake, deadlines,
//	                         keepalive, raw reads and writes, parking
//	proxy/internal/netpoll   the process's epoll instances (Linux): register
//	                         a descriptor, get called back when it is ready
//
// # Close codes
//
//	1000  a peer closed normally (passed through)
//	1001  the server is shutting down; the client went away (to the backend)
//	1002  framing violation: unmasked client frame, RSV bits, reserved
//	      opcode, fragmented or oversized control frame, bad close payload
//	1003  a binary message that is not UTF-8 on a text dialect
//	1007  invalid UTF-8 in a text message or close reason
//	1008  authentication failed or expired, session timeout, message limit,
//	      message rate, control-frame flood, a Wiro-backed client too slow
//	      to read its replies (the dialect's too_slow error first), a peer
//	      that failed its dialect's keepalive (a Tick error)
//	1009  a message over Limits.MaxMessage, counted across fragments
//	1013  the backend could not be reached after in-band authentication
//	1014  the backend dropped or broke its protocol (after an error message)
//	x     a backend's own close code passes through (1005/1006/1015 never do)
package proxy
