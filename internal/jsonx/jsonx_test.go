package jsonx

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestAppendString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", `""`},
		{"hello", `"hello"`},
		{`a"b\c`, `"a\"b\\c"`},
		{"line\nnext\ttab\r", `"line\nnext\ttab\r"`},
		{"\x00\x1f", `"\u0000\u001f"`},
		{"héllo ✓", `"héllo ✓"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
		{"sep\u2028x\u2029", `"sep\u2028x\u2029"`},
	}
	for _, tt := range tests {
		got := string(AppendString(nil, []byte(tt.in)))
		if got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestAppendFieldObject(t *testing.T) {
	b := append([]byte(nil), '{')
	b = AppendField(b, "a")
	b = AppendInt(b, -3)
	b = AppendField(b, "b")
	b = AppendBool(b, true)
	b = append(b, '}')
	if got, want := string(b), `{"a":-3,"b":true}`; got != want {
		t.Errorf("object = %s, want %s", got, want)
	}
}

func TestAppendStringAllocs(t *testing.T) {
	buf := make([]byte, 0, 256)
	in := []byte("some \"quoted\" text\n")
	n := testing.AllocsPerRun(100, func() { buf = AppendString(buf[:0], in) })
	if n != 0 {
		t.Fatalf("AppendString allocs = %v, want 0", n)
	}
}

// FuzzAppendString checks that the output is always valid JSON that decodes
// back to the input (with invalid UTF-8 replaced).
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\", "\x00", "\xff\xfe", "é\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := AppendString(nil, []byte(s))
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("invalid JSON %q for %q: %v", out, s, err)
		}
		if utf8.ValidString(s) && back != s {
			t.Fatalf("round trip %q -> %q", s, back)
		}
	})
}

// FuzzAppendEscapedParts checks that escaping a string in two parts, cut
// where a UTF-8 sequence may start, gives the bytes of escaping it whole.
func FuzzAppendEscapedParts(f *testing.F) {
	for _, s := range []string{"", "ab", "é\u2028\"", "\xe2\x80\xa8x", "\xe2\x80x", "a\xffb"} {
		f.Add(s, uint(1))
	}
	f.Fuzz(func(t *testing.T, s string, cut uint) {
		c := int(cut % uint(len(s)+1))
		for c < len(s) && !utf8.RuneStart(s[c]) {
			c++
		}
		whole := AppendEscaped(nil, []byte(s))
		parts := AppendEscaped(AppendEscaped(nil, []byte(s[:c])), []byte(s[c:]))
		if string(parts) != string(whole) {
			t.Fatalf("%q cut at %d: %q in parts, %q whole", s, c, parts, whole)
		}
	})
}

func BenchmarkAppendString1K(b *testing.B) {
	in := []byte(strings.Repeat("The weather in New York is sunny. ", 30))
	buf := make([]byte, 0, 2048)
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendString(buf[:0], in)
	}
}

// TestBad8 checks the word-at-a-time test against the byte table for every
// byte value in every position, and for every pair of values in adjacent
// positions (a borrow crosses from one byte into the next).
func TestBad8(t *testing.T) {
	base := []byte("abcdefgh")
	check := func(w []byte) {
		want := true
		for _, c := range w {
			want = want && plain[c]
		}
		if got := bad8(load64(w)) == 0; got != want {
			t.Fatalf("bad8(%q) == 0 is %v, want %v", w, got, want)
		}
	}
	w := make([]byte, 8)
	for pos := range 8 {
		for b := range 256 {
			copy(w, base)
			w[pos] = byte(b)
			check(w)
		}
	}
	for pos := range 7 {
		for b1 := range 256 {
			for b2 := range 256 {
				copy(w, base)
				w[pos], w[pos+1] = byte(b1), byte(b2)
				check(w)
			}
		}
	}
}
