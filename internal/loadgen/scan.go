package loadgen

import "bytes"

// Kind is what a load process needs to know about one
// graphql-transport-ws frame from the server.
type Kind uint8

const (
	KindOther     Kind = iota // anything else (an unknown type)
	KindEvent                 // a next carrying a title with the bench marker
	KindNext                  // a next without the marker (another event)
	KindAck                   // connection_ack
	KindPing                  // ping: answer with pong
	KindPong                  // pong
	KindKeepAlive             // ka (legacy graphql-ws keep-alive)
	KindError                 // error: the subscription failed
	KindComplete              // complete: the server ended the subscription
)

func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindNext:
		return "next"
	case KindAck:
		return "connection_ack"
	case KindPing:
		return "ping"
	case KindPong:
		return "pong"
	case KindKeepAlive:
		return "ka"
	case KindError:
		return "error"
	case KindComplete:
		return "complete"
	}
	return "other"
}

var typeKey = []byte(`"type":"`)

// Scan classifies one frame and, for a bench event, returns the sequence
// number written after the marker in the ticket's title. marker is the
// JSON text that precedes the number, e.g. `"title":"bench-rt #`.
//
// It does not decode the JSON: a load process holding thousands of
// subscriptions on the same two cores as the server must spend as little
// as possible per message, so that it distorts the measurement little.
// The top-level "type" is found by its last occurrence (gqlgen writes
// payload, id, type in that order, and the selected fields contain no
// "type" key; were type written first, the last occurrence would still be
// it), and the marker by a byte search.
func Scan(msg, marker []byte) (Kind, int) {
	k := kindOf(frameType(msg))
	if k != KindNext {
		return k, 0
	}
	i := bytes.Index(msg, marker)
	if i < 0 {
		return KindNext, 0
	}
	seq, n := 0, 0
	for _, c := range msg[i+len(marker):] {
		if c < '0' || c > '9' || n > 9 {
			break
		}
		seq = seq*10 + int(c-'0')
		n++
	}
	if n == 0 {
		return KindNext, 0
	}
	return KindEvent, seq
}

// frameType is the value of the frame's last "type" key, or nil.
func frameType(msg []byte) []byte {
	i := bytes.LastIndex(msg, typeKey)
	if i < 0 {
		return nil
	}
	rest := msg[i+len(typeKey):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return nil
	}
	return rest[:j]
}

func kindOf(t []byte) Kind {
	switch string(t) { // no allocation: the compiler compares in place
	case "next":
		return KindNext
	case "connection_ack":
		return KindAck
	case "ping":
		return KindPing
	case "pong":
		return KindPong
	case "ka":
		return KindKeepAlive
	case "error":
		return KindError
	case "complete":
		return KindComplete
	}
	return KindOther
}
