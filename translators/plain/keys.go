package plain

import "github.com/agentbridge/agentbridge/translators"

// The configuration keys of plain routes and backends.

var routeKeys = []translators.Key{
	{Name: "reply", Kind: translators.KeyEnum, Values: []string{"whole", "stream"}, Default: "whole", What: "reply mode",
		Doc: "how clients get a reply: whole (one message) or stream (each chunk, then end_marker)"},
	{Name: "end_marker", Kind: translators.KeyString,
		Doc: "with reply: stream, a message sent after each reply"},
}

var backendKeys = []translators.Key{
	{Name: "chunked", Kind: translators.KeyBool,
		Doc: "a reply is several messages; false: each message is one whole reply"},
	{Name: "end_marker", Kind: translators.KeyString,
		Doc: "with chunked: true, the message that ends a reply"},
	{Name: "idle_gap", Kind: translators.KeyDuration, Default: "500ms",
		Doc: "with chunked: true and no end_marker, the silence that ends a reply"},
}

const wholeOnly = `only used with "chunked: true": without it every message is a whole reply`

func checkRoute(s translators.Settings) []translators.KeyError {
	if s.String("end_marker") != "" && s.String("reply") != "stream" {
		return []translators.KeyError{{Key: "end_marker", Msg: `only used with "reply: stream": a whole reply needs no marker`}}
	}
	return nil
}

func checkBackend(s translators.Settings) []translators.KeyError {
	var errs []translators.KeyError
	chunked, marker, gap := s.Bool("chunked"), s.String("end_marker"), s.Written("idle_gap")
	if !chunked && marker != "" {
		errs = append(errs, translators.KeyError{Key: "end_marker", Msg: wholeOnly})
	}
	if !chunked && gap {
		errs = append(errs, translators.KeyError{Key: "idle_gap", Msg: wholeOnly})
	} else if marker != "" && gap {
		errs = append(errs, translators.KeyError{Key: "idle_gap", Msg: "not used when end_marker is set: a reply ends at the marker"})
	}
	return errs
}

// clientOptions: a client gets replies as they come only with reply:
// stream, and session.streaming still true.
func clientOptions(o translators.Options) translators.Options {
	if o.Settings.String("reply") != "stream" {
		o.Reply = translators.ReplyWhole
	}
	o.EndMarker = o.Settings.String("end_marker")
	return o
}

func endpoint(url string, s translators.Settings) translators.Endpoint {
	e := translators.Endpoint{URL: url, Options: translators.Options{
		Settings:  s,
		Chunked:   s.Bool("chunked"),
		EndMarker: s.String("end_marker"),
	}}
	if e.Options.Chunked && e.Options.EndMarker == "" {
		e.IdleGap = s.Duration("idle_gap")
	}
	return e
}
