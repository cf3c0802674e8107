package translatorstest

import (
	"testing"

	"github.com/agentbridge/agentbridge/translators"
)

// DecodeAllocs reports the allocations per call of decoding msg with a
// codec made from o, after one warm-up call.
func DecodeAllocs(d translators.Dialect, o translators.Options, msg []byte) float64 {
	c := d.New(o)
	evs := make([]translators.Event, 0, 8)
	evs, _ = c.Decode(evs[:0], msg)
	return testing.AllocsPerRun(200, func() { evs, _ = c.Decode(evs[:0], msg) })
}

// EncodeAllocs reports the allocations per call of encoding ev with a codec
// made from o into a reused buffer, after one warm-up call.
func EncodeAllocs(d translators.Dialect, o translators.Options, ev translators.Event) float64 {
	c := d.New(o)
	buf := make([]byte, 0, 4096)
	buf, _ = c.Encode(buf[:0], &ev)
	return testing.AllocsPerRun(200, func() { buf, _ = c.Encode(buf[:0], &ev) })
}
