package bench

import (
	"bytes"
	"log"
	"net"
	"time"
)

// Listen listens on addr, which must be a loopback address; the harness's
// servers exit on failure, so it does too.
func Listen(addr string) net.Listener {
	if err := CheckLoopback("ws://" + addr); err != nil {
		log.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		log.Fatal(err)
	}
	return ln
}

// Serve runs handle on a goroutine of its own for every connection ln
// accepts, for the life of the process.
func Serve(ln net.Listener, handle func(net.Conn)) {
	for {
		nc, err := ln.Accept()
		if err != nil {
			log.Print(err)
			time.Sleep(10 * time.Millisecond)
			continue
		}
		go handle(nc)
	}
}

// JSONString returns the raw string value after key (which ends with the
// opening quote) in msg, up to the next quote; nil if key is absent. The
// harness's ids, tokens and statuses hold no escapes.
func JSONString(msg []byte, key string) []byte {
	i := bytes.Index(msg, []byte(key))
	if i < 0 {
		return nil
	}
	v := msg[i+len(key):]
	if j := bytes.IndexByte(v, '"'); j >= 0 {
		return v[:j]
	}
	return nil
}
