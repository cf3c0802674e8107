package wsconn

import (
	"testing"
	"unicode/utf8"
)

func TestUTF8StreamSplits(t *testing.T) {
	inputs := []string{
		"", "plain ascii", "héllo wörld", "日本語テキスト", "emoji 😀 and more 🎉",
		"\xff", "abc\xc0\xafdef", "\xed\xa0\x80", "\xf4\x90\x80\x80", "ok\xe2\x82", "\xe2\x82\xac",
	}
	for _, in := range inputs {
		want := utf8.ValidString(in)
		// Every way to cut the input in two or three pieces must agree with
		// utf8.ValidString.
		for i := 0; i <= len(in); i++ {
			for j := i; j <= len(in); j++ {
				var s UTF8Stream
				ok := s.Write([]byte(in[:i])) && s.Write([]byte(in[i:j])) && s.Write([]byte(in[j:])) && s.Done()
				if ok != want {
					t.Fatalf("%q cut at %d,%d: valid = %v, want %v", in, i, j, ok, want)
				}
			}
		}
	}
}

func FuzzUTF8Stream(f *testing.F) {
	f.Add("héllo", 2)
	f.Add("\xf0\x9f\x98\x80", 1)
	f.Fuzz(func(t *testing.T, in string, cut int) {
		if cut < 0 {
			cut = -cut
		}
		cut %= len(in) + 1
		var s UTF8Stream
		ok := s.Write([]byte(in[:cut])) && s.Write([]byte(in[cut:])) && s.Done()
		if ok != utf8.ValidString(in) {
			t.Fatalf("%q cut at %d: %v", in, cut, ok)
		}
	})
}
