package wsconn

import (
	"bytes"
	"testing"

	"github.com/gobwas/ws"
)

func TestHeaderRoundTrip(t *testing.T) {
	tests := []ws.Header{
		{Fin: true, OpCode: ws.OpText, Length: 0},
		{Fin: true, OpCode: ws.OpText, Length: 125},
		{Fin: false, OpCode: ws.OpBinary, Length: 126},
		{Fin: true, OpCode: ws.OpContinuation, Length: 65535, Masked: true, Mask: [4]byte{1, 2, 3, 4}},
		{Fin: true, OpCode: ws.OpText, Length: 65536, Rsv: 4},
		{Fin: true, OpCode: ws.OpPing, Length: 5, Masked: true, Mask: [4]byte{9, 9, 9, 9}},
	}
	for _, h := range tests {
		b := AppendHeader(nil, h)
		var ref bytes.Buffer
		if err := ws.WriteHeader(&ref, h); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(b, ref.Bytes()) {
			t.Errorf("AppendHeader(%+v) = %x, gobwas writes %x", h, b, ref.Bytes())
		}
		for cut := 0; cut < len(b); cut++ {
			if _, n, err := ParseHeader(b[:cut]); n != 0 || err != nil {
				t.Fatalf("ParseHeader of %d of %d bytes = %d, %v; want incomplete", cut, len(b), n, err)
			}
		}
		got, n, err := ParseHeader(b)
		if err != nil || n != len(b) || got != h {
			t.Errorf("ParseHeader(%x) = %+v, %d, %v; want %+v, %d", b, got, n, err, h, len(b))
		}
	}
}

// FuzzParseHeader checks ParseHeader against gobwas's own header reader.
func FuzzParseHeader(f *testing.F) {
	f.Add([]byte{0x81, 0x05})
	f.Add([]byte{0x82, 0xfe, 0x01, 0x00, 1, 2, 3, 4})
	f.Add([]byte{0x01, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		h, n, err := ParseHeader(b)
		ref, refErr := ws.ReadHeader(bytes.NewReader(b))
		if n == 0 && err == nil {
			if refErr == nil {
				t.Fatalf("ParseHeader(%x) incomplete, gobwas read %+v", b, ref)
			}
			return
		}
		if (err != nil) != (refErr != nil) {
			t.Fatalf("ParseHeader(%x) err = %v, gobwas err = %v", b, err, refErr)
		}
		if err == nil && h != ref {
			t.Fatalf("ParseHeader(%x) = %+v, gobwas %+v", b, h, ref)
		}
	})
}

// TestFrameAt checks that a payload encoded after HeaderRoom bytes of room
// becomes the same bytes AppendHeader and the payload make, at every header
// size, after bytes already pending.
func TestFrameAt(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 1024, 65535, 65536, 70000} {
		payload := make([]byte, n)
		for i := range payload {
			payload[i] = byte(i * 7)
		}
		pending := []byte("earlier frames")
		buf := append(append(append([]byte(nil), pending...), make([]byte, HeaderRoom)...), payload...)
		got := FrameAt(buf, len(pending), ws.OpText)
		want := append(AppendHeader(append([]byte(nil), pending...), ws.Header{Fin: true, OpCode: ws.OpText, Length: int64(n)}), payload...)
		if !bytes.Equal(got, want) {
			t.Errorf("payload of %d bytes: frame differs (len %d, want %d)", n, len(got), len(want))
		}
	}
}
