package translators

import "errors"

// ErrMalformed is wrapped by every error a codec returns for a message it
// refuses: bad JSON, a wrong field type, an unknown message type. The proxy
// answers it with the dialect's error frame and keeps the connection.
var ErrMalformed = errors.New("malformed message")

// ErrTurnTooLarge is returned by Turn.Apply when a reply grows past
// Turn.MaxText.
var ErrTurnTooLarge = errors.New("reply text exceeds the turn size limit")

// ErrUnsupported is returned by Encode for an event the dialect cannot carry
// in that role at all (as opposed to fields it drops).
var ErrUnsupported = errors.New("event not supported by dialect")

// ErrMore is returned by Encode when it appended one message for an event and
// has another: the caller sends what was appended and calls Encode again
// with the same event. It is not a failure.
var ErrMore = errors.New("more messages follow for this event")

// MalformedError says why a message was refused. It wraps ErrMalformed.
type MalformedError struct {
	// Reason is a short, client-safe description ("invalid JSON",
	// "unknown type \"foo\"").
	Reason string
}

func (e *MalformedError) Error() string { return "malformed message: " + e.Reason }

// Unwrap returns ErrMalformed.
func (e *MalformedError) Unwrap() error { return ErrMalformed }

// Malformed returns a *MalformedError with reason.
func Malformed(reason string) error { return &MalformedError{Reason: reason} }
