package proxy

import (
	"strings"
	"testing"
)

// TestRoomKeepsReplyInFewAllocations: a room keeping a long reply, frame
// by frame, grows its buffers by doubling, not by append's steps.
func TestRoomKeepsReplyInFewAllocations(t *testing.T) {
	payload := strings.Repeat("x", 100)
	frame := append([]byte{0x81, byte(len(payload))}, payload...)
	n := testing.AllocsPerRun(20, func() {
		// Buffers of its own each run, not the pool's; 200 frames of
		// 102 bytes.
		r := &room{kept: &replyBuf{}}
		for range 200 {
			r.add(frame, false)
		}
	})
	// The room and its replyBuf; the frames 4, 8, 16 and 32 KiB; the
	// ends 64, 128 and 256 (append's growth: 25 in all).
	if n > 10 {
		t.Fatalf("keeping a 200-frame reply took %v allocations, want at most 10", n)
	}
}
