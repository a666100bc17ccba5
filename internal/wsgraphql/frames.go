package wsgraphql

import (
	"encoding/binary"
	"net"
	"sync"
	"time"
)

// Server frames are written here rather than through gorilla's writer, so
// that a connection's writer can put every frame it has ready into one
// write(2): on a busy replica the system call, not the GraphQL work, is
// the bulk of a delivery. The framing is RFC 6455 §5.2 for a server
// (unmasked, unfragmented); gorilla/websocket still does the upgrade and
// reads and checks the client's frames. Every frame goes through conn.wmu,
// so gorilla's own control-frame replies are routed here too
// (SetPingHandler, SetCloseHandler).

// Opcodes.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// flushAt bounds the frames a writer holds before writing them.
const flushAt = 64 << 10

var outboxes = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// appendFrame appends one final frame with opcode and payload to dst.
func appendFrame(dst []byte, opcode byte, payload []byte) []byte {
	dst = append(dst, 0x80|opcode)
	switch n := len(payload); {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// outbox is a connection's frames waiting to be written; guarded by
// conn.wmu.
type outbox struct {
	netConn net.Conn
	buf     *[]byte
	held    bool // a writer is collecting frames: it writes them when done
	failed  bool
}

// add queues a frame, writing at once unless a writer holds the outbox.
func (o *outbox) add(opcode byte, payload []byte, timeout time.Duration) error {
	if o.failed {
		return net.ErrClosed
	}
	if o.buf == nil {
		o.buf = outboxes.Get().(*[]byte)
	}
	*o.buf = appendFrame(*o.buf, opcode, payload)
	if o.held && len(*o.buf) < flushAt {
		return nil
	}
	return o.flush(timeout)
}

// flush writes what is queued.
func (o *outbox) flush(timeout time.Duration) error {
	if o.buf == nil {
		return nil
	}
	b := o.buf
	o.buf = nil
	defer func() {
		if cap(*b) <= 64<<10 {
			*b = (*b)[:0]
			outboxes.Put(b)
		}
	}()
	if len(*b) == 0 || o.failed {
		return nil
	}
	_ = o.netConn.SetWriteDeadline(time.Now().Add(timeout))
	if _, err := o.netConn.Write(*b); err != nil {
		o.failed = true
		return err
	}
	return nil
}
