// Package translators holds the canonical event model that every agent dialect
// translates to and from, and the codec contract each dialect implements.
//
// # The canonical model
//
// A session carries two streams of Events. Client to backend: Auth (an in-band
// credential), UserMessage (one user turn) and Cancel. Backend to client: the
// agent's turns, each TurnStart, then any number of TextDelta, ThinkingDelta
// and TextReplace events, then TurnEnd (with Usage when the backend reports
// it), or Error or Cancel in place of TurnEnd. Reply carries bytes a codec must
// send back to the peer it decoded them from (an ack, a pong of the dialect)
// and is never forwarded; Ready says the peer finished its own handshake.
//
// Richer dialects carry more, named after the AI SDK's stream chunks: within
// a turn, tool calls (ToolStart, ToolInputDelta, ToolInput, ToolOutput,
// ToolError, keyed by the call's id in Event.Ref), step boundaries
// (StepStart, StepEnd) and the message's Metadata; beside turns, the agent's
// shared State (either way, as are a client's ToolOutput and ToolError for
// tools it runs itself); and Frame, a message of one dialect the model has no
// kind for, which reaches a peer of the same dialect untouched and is dropped
// by every other. A codec with no place for a kind drops it: Encode returns
// dst unchanged, without an error (translatorstest.EncodeKinds checks this
// for every kind). Each Kind's documentation says which dialects produce and
// consume it.
//
// Deltas are canonical. A dialect that speaks accumulated text (each frame
// holds the whole reply so far) decodes it into a TextSnapshot event; the
// session's Turn turns snapshots into deltas, or into a TextReplace when the
// new text does not extend the old one, so a rewrite is never silently lost.
// The same Turn keeps the whole text of the current reply, so encoders that
// must send accumulated text (or a full_response at the end) read it from
// Event.Full instead of keeping a copy of their own. Turn is the only place
// that buffers a reply.
//
// # The codec contract
//
// A Dialect names a wire format and makes a Codec per session and side
// (Role). Codecs are pure: they do no I/O, start no goroutine and read no
// clock. Decode turns one complete WebSocket message into events; Encode turns
// one event into at most one message. Every byte slice an Event holds aliases
// the message given to Decode or the codec's own scratch space, and is valid
// only until the next call on that codec (or on the Turn that filled Full):
// copy it to keep it. A Codec is used by one goroutine at a time.
//
// # Adding a dialect
//
// Write a package translators/<name> that exports
//
//	var Dialect = translators.Dialect{Name: "<name>", New: newCodec}
//
// with golden transcripts in its testdata, a fuzz target for Decode and an
// allocation test for Decode and Encode, then add it to the table in
// cmd/agentbridge. Nothing else in the proxy changes.
//
// Its configuration keys are part of the descriptor: RouteKeys and
// BackendKeys declare each key's kind, default and whether it is
// required; the configuration checks them with line-numbered messages and
// hands their values over as Settings (in Options.Settings), CheckRoute
// and CheckBackend refuse bad combinations, and ClientOptions and Endpoint
// turn the values into codec Options and how the proxy reaches a backend.
// translators/translatorstest/linetest is a complete small example.
package translators
