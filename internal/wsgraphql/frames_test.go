package wsgraphql

import (
	"bytes"
	"encoding/binary"
	"testing"
)

// TestAppendFrameLengths: the three length encodings of RFC 6455 §5.2,
// at their edges, read back by the rules of the RFC.
func TestAppendFrameLengths(t *testing.T) {
	for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 70000} {
		payload := bytes.Repeat([]byte{'x'}, n)
		f := appendFrame([]byte("prefix"), opText, payload)[len("prefix"):]
		if f[0] != 0x81 {
			t.Fatalf("n=%d: first byte %#x, want FIN|text", n, f[0])
		}
		if f[1]&0x80 != 0 {
			t.Fatalf("n=%d: a server frame must not be masked", n)
		}
		length, header := int(f[1]), 2
		switch length {
		case 126:
			length, header = int(binary.BigEndian.Uint16(f[2:])), 4
		case 127:
			length, header = int(binary.BigEndian.Uint64(f[2:])), 10
		}
		if length != n || len(f) != header+n || !bytes.Equal(f[header:], payload) {
			t.Fatalf("n=%d: read back length %d, frame %d bytes", n, length, len(f))
		}
		minimal := (n < 126 && header == 2) || (n >= 126 && n <= 0xFFFF && header == 4) || (n > 0xFFFF && header == 10)
		if !minimal {
			t.Fatalf("n=%d: %d-byte header is not the minimal encoding", n, header)
		}
	}
}
