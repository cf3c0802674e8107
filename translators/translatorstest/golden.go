// Package translatorstest is the shared test kit for dialect codecs: golden
// transcripts and allocation checks. Dialect packages import it from their
// tests; it imports no dialect.
//
// # Transcript files
//
// A transcript (testdata/*.txt) is a list of directives, one per line; blank
// lines and lines starting with # are ignored:
//
//	options role=backend chunked=true end_marker="[END]" reply=stream turn=true
//	options role=client params=agent=my-agent,name=room-1 peer=demo
//	decode "text of one message"          (Go-quoted, or the rest of the line)
//	encode kind=text_delta id="m1" text="Hello" usage=45/15
//
// options makes a new codec (and a new Turn when turn=true; decoded events
// then pass through Turn.Apply, as in the proxy). decode feeds one message and
// prints the events; encode prints the messages Encode makes (several when
// it says translators.ErrMore). Each directive
// and its results are written to the matching .golden file, which the test
// compares byte for byte; run the tests with -update to rewrite the goldens
// after a deliberate change, and review the diff.
package translatorstest

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/agentbridge/agentbridge/translators"
)

var update = flag.Bool("update", false, "rewrite golden transcripts")

// RunGolden runs every testdata/*.txt transcript in dir against d.
func RunGolden(t *testing.T, d translators.Dialect, dir string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no transcripts in %s (%v)", dir, err)
	}
	for _, f := range files {
		t.Run(strings.TrimSuffix(filepath.Base(f), ".txt"), func(t *testing.T) {
			got, err := Transcript(d, f)
			if err != nil {
				t.Fatal(err)
			}
			golden := strings.TrimSuffix(f, ".txt") + ".golden"
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("transcript %s differs from %s:\n--- got\n%s\n--- want\n%s", f, golden, got, want)
			}
		})
	}
}

// Transcript runs the transcript in file against d and returns its output.
func Transcript(d translators.Dialect, file string) ([]byte, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	var (
		out   bytes.Buffer
		codec translators.Codec
		turn  *translators.Turn
		evs   []translators.Event
		norm  []translators.Event
	)
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		verb, rest, _ := strings.Cut(text, " ")
		fmt.Fprintf(&out, "> %s\n", text)
		fail := func(err error) error { return fmt.Errorf("%s:%d: %v", file, line, err) }
		switch verb {
		case "options":
			kv, err := parseKV(rest)
			if err != nil {
				return nil, fail(err)
			}
			o, withTurn, err := options(kv)
			if err != nil {
				return nil, fail(err)
			}
			codec, turn = d.New(o), nil
			if withTurn {
				turn = &translators.Turn{Pending: translators.NewIDQueue(8)}
				if v, ok := kv["pending"]; ok {
					for _, id := range strings.Split(v, ",") {
						turn.Pending.Push([]byte(id))
					}
				}
				if v, ok := kv["max_text"]; ok {
					turn.MaxText, _ = strconv.Atoi(v)
				}
			}
		case "decode":
			if codec == nil {
				return nil, fail(fmt.Errorf("decode before options"))
			}
			msg := rest
			if strings.HasPrefix(rest, `"`) {
				if msg, err = strconv.Unquote(rest); err != nil {
					return nil, fail(err)
				}
			}
			evs, err = codec.Decode(evs[:0], []byte(msg))
			if err != nil {
				fmt.Fprintf(&out, "  error: %v\n", err)
			}
			if turn == nil {
				for i := range evs {
					fmt.Fprintf(&out, "  %s\n", FormatEvent(&evs[i]))
				}
				break
			}
			for i := range evs {
				norm, err = turn.Apply(norm[:0], &evs[i])
				for j := range norm {
					fmt.Fprintf(&out, "  %s\n", FormatEvent(&norm[j]))
				}
				if err != nil {
					fmt.Fprintf(&out, "  turn error: %v\n", err)
				}
			}
		case "encode":
			if codec == nil {
				return nil, fail(fmt.Errorf("encode before options"))
			}
			kv, err := parseKV(rest)
			if err != nil {
				return nil, fail(err)
			}
			ev, err := eventFromKV(kv)
			if err != nil {
				return nil, fail(err)
			}
			// A dialect that needs several messages for the event says
			// ErrMore after each but the last; each is printed.
			for n := 0; ; n++ {
				b, err := codec.Encode(nil, &ev)
				if b != nil {
					fmt.Fprintf(&out, "  %s\n", strconv.Quote(string(b)))
				}
				if err == translators.ErrMore && n < 64 {
					continue
				}
				switch {
				case err != nil:
					fmt.Fprintf(&out, "  error: %v\n", err)
				case b == nil && n == 0:
					fmt.Fprintf(&out, "  (nothing)\n")
				}
				break
			}
		default:
			return nil, fail(fmt.Errorf("unknown directive %q", verb))
		}
	}
	return out.Bytes(), sc.Err()
}

// FormatEvent prints ev on one line: its kind, then each set field.
func FormatEvent(ev *translators.Event) string {
	var b strings.Builder
	b.WriteString(ev.Kind.String())
	field := func(name string, v []byte) {
		if len(v) > 0 {
			fmt.Fprintf(&b, " %s=%s", name, strconv.Quote(string(v)))
		}
	}
	field("id", ev.ID)
	field("agent", ev.Agent)
	field("text", ev.Text)
	field("full", ev.Full)
	field("thinking", ev.Thinking)
	field("value", ev.Value)
	field("name", ev.Name)
	field("ref", ev.Ref)
	field("code", ev.Code)
	field("raw", ev.Raw)
	if ev.Seq != 0 {
		fmt.Fprintf(&b, " seq=%d", ev.Seq)
	}
	if ev.Elapsed != 0 {
		fmt.Fprintf(&b, " elapsed=%s", ev.Elapsed)
	}
	if ev.Usage != (translators.Usage{}) {
		fmt.Fprintf(&b, " usage=%d/%d", ev.Usage.InputTokens, ev.Usage.OutputTokens)
	}
	return b.String()
}

func options(kv map[string]string) (translators.Options, bool, error) {
	var o translators.Options
	switch kv["role"] {
	case "client":
		o.Role = translators.Client
	case "backend":
		o.Role = translators.Backend
	default:
		return o, false, fmt.Errorf("options: role must be client or backend")
	}
	switch kv["reply"] {
	case "":
	case "stream":
		o.Reply = translators.ReplyStream
	case "whole":
		o.Reply = translators.ReplyWhole
	default:
		return o, false, fmt.Errorf("options: reply must be stream or whole")
	}
	o.Agent, o.Secret, o.EndMarker, o.Peer = kv["agent"], kv["secret"], kv["end_marker"], kv["peer"]
	if v := kv["params"]; v != "" {
		for _, p := range strings.Split(v, ",") {
			name, value, _ := strings.Cut(p, "=")
			o.Params = append(o.Params, translators.Param{Name: name, Value: value})
		}
	}
	o.Chunked = kv["chunked"] == "true"
	return o, kv["turn"] == "true", nil
}

func eventFromKV(kv map[string]string) (translators.Event, error) {
	ev := translators.Event{Kind: translators.KindByName(kv["kind"])}
	if ev.Kind == translators.KindInvalid {
		return ev, fmt.Errorf("encode: unknown kind %q", kv["kind"])
	}
	set := func(name string) []byte {
		if v, ok := kv[name]; ok {
			return []byte(v)
		}
		return nil
	}
	ev.ID, ev.Agent, ev.Text, ev.Full = set("id"), set("agent"), set("text"), set("full")
	ev.Thinking, ev.Value, ev.Code, ev.Raw = set("thinking"), set("value"), set("code"), set("raw")
	ev.Name, ev.Ref = set("name"), set("ref")
	if v, ok := kv["seq"]; ok {
		ev.Seq, _ = strconv.ParseInt(v, 10, 64)
	}
	if v, ok := kv["elapsed"]; ok {
		ev.Elapsed, _ = time.ParseDuration(v)
	}
	if u, ok := kv["usage"]; ok {
		in, out, _ := strings.Cut(u, "/")
		var err1, err2 error
		ev.Usage.InputTokens, err1 = strconv.ParseInt(in, 10, 64)
		ev.Usage.OutputTokens, err2 = strconv.ParseInt(out, 10, 64)
		if err1 != nil || err2 != nil {
			return ev, fmt.Errorf("encode: usage must be IN/OUT")
		}
	}
	return ev, nil
}

// parseKV parses space-separated key=value pairs; a value may be Go-quoted.
func parseKV(s string) (map[string]string, error) {
	kv := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		key, rest, ok := strings.Cut(s, "=")
		if !ok || key == "" || strings.ContainsAny(key, " \"") {
			return nil, fmt.Errorf("want key=value at %q", s)
		}
		if strings.HasPrefix(rest, `"`) {
			q, err := strconv.QuotedPrefix(rest)
			if err != nil {
				return nil, fmt.Errorf("bad quoted value for %s: %v", key, err)
			}
			kv[key], _ = strconv.Unquote(q)
			s = rest[len(q):]
			continue
		}
		val, tail, _ := strings.Cut(rest, " ")
		kv[key], s = val, tail
	}
	return kv, nil
}
