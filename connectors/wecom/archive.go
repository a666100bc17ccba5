package wecom

import (
	"context"
	"time"
)

// ArchivedMessage is one record of WeCom's session archive (会话存档): a
// message between a staff member and a customer, in the order of Seq.
type ArchivedMessage struct {
	Seq    int64
	MsgID  string
	Action string // "send", "recall", "switch"
	// From is who wrote it: an external userid (wm…/wo…) for customers,
	// a member userid for staff.
	From    string
	ToList  []string
	RoomID  string // empty for one-to-one chats
	MsgType string // "text", "image", ...
	Text    string // the content of text messages
	Time    time.Time
}

// FromCustomer reports whether a customer wrote the message (external
// userids start with wm or wo).
func (m ArchivedMessage) FromCustomer() bool {
	return len(m.From) > 2 && (m.From[:2] == "wm" || m.From[:2] == "wo")
}

// Archive reads the session archive after a sequence number. The archive
// comes through WeCom's closed C SDK as RSA-encrypted batches; whatever
// reads it (a cgo adapter in a deployment that has the SDK and the paid
// feature) implements this, and tests feed records through wecomfake.
type Archive interface {
	Fetch(ctx context.Context, afterSeq int64, limit int) ([]ArchivedMessage, error)
}
