package proxy

import (
	"errors"
	"io"
	"net"

	"github.com/valyala/fasthttp"
)

// errorKind names the kind of an error fasthttp logs, without its text,
// which may quote the request (see fasthttpLogger).
func errorKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, fasthttp.ErrSmallReadBuffer):
		return "request headers too large"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed early"
	}
	return "malformed request or connection error"
}
