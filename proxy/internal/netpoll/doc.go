// Package netpoll owns the process's epoll instances for parked
// connections (Linux only): sockets registered with a Handler, one-shot or
// edge-triggered, and one goroutine per instance that waits for their
// readiness under the runtime poller and calls the handlers back. There is
// an instance per P (GOMAXPROCS); a socket's descriptor picks its instance.
//
// It knows nothing of WebSocket: proxy/internal/wsconn registers a
// connection's socket when its reader parks, and resumes the connection's
// owner from Ready.
//
// The poller's goroutines never take a lock they could wait for: if the
// registration table is busy, the event is handed to a goroutine of its
// own. If epoll fails, the poller says so in the default slog logger, calls
// every handler still registered (so no parked reader is stranded) and
// stops; Get then returns nil and connections read on goroutines of their
// own, as on systems without epoll.
package netpoll
