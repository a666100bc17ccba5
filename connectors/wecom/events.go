package wecom

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"strings"
	"time"
)

// Event is one decrypted callback, the fields the connector acts on. The
// envelope fields are common; the rest depend on Event and ChangeType.
type Event struct {
	ToUserName   string `xml:"ToUserName"` // the corp id
	FromUserName string `xml:"FromUserName"`
	CreateTime   int64  `xml:"CreateTime"`
	MsgType      string `xml:"MsgType"`
	Event        string `xml:"Event"`
	ChangeType   string `xml:"ChangeType"`
	MsgID        string `xml:"MsgId"`
	AgentID      string `xml:"AgentID"`

	// change_external_contact
	UserID         string `xml:"UserID"`
	ExternalUserID string `xml:"ExternalUserID"`
	State          string `xml:"State"`
	WelcomeCode    string `xml:"WelcomeCode"`
	Source         string `xml:"Source"`     // del_external_contact: DELETE_BY_TRANSFER when a transfer removed it
	FailReason     string `xml:"FailReason"` // transfer_fail: customer_refused, customer_limit_exceed

	// change_external_tag
	ID         string `xml:"Id"`
	TagType    string `xml:"TagType"` // tag or tag_group
	StrategyID string `xml:"StrategyId"`

	// change_contact: users
	NewUserID  string `xml:"NewUserID"`
	Name       string `xml:"Name"`
	Department string `xml:"Department"` // comma-separated department ids
	Mobile     string `xml:"Mobile"`
	Status     string `xml:"Status"` // 1 active, 2 disabled, 4 not yet active, 5 left

	// change_contact: departments (Id and Name are shared with the above)
	ParentID string `xml:"ParentId"`
	Order    string `xml:"Order"`

	// Key identifies the event for deduplication: WeCom retries a
	// callback it got no answer to, and customer events can share a
	// CreateTime, so it is a hash of the whole decrypted message.
	Key string `xml:"-"`
}

// Event and change types the connector handles.
const (
	EventChangeExternalContact = "change_external_contact"
	EventChangeExternalTag     = "change_external_tag"
	EventChangeContact         = "change_contact"

	ChangeAddExternalContact     = "add_external_contact"
	ChangeAddHalfExternalContact = "add_half_external_contact"
	ChangeEditExternalContact    = "edit_external_contact"
	ChangeDelExternalContact     = "del_external_contact"
	ChangeDelFollowUser          = "del_follow_user"
	ChangeTransferFail           = "transfer_fail"

	ChangeCreateUser  = "create_user"
	ChangeUpdateUser  = "update_user"
	ChangeDeleteUser  = "delete_user"
	ChangeCreateParty = "create_party"
	ChangeUpdateParty = "update_party"
	ChangeDeleteParty = "delete_party"
)

// ErrMalformedEvent is a decrypted message that is not a WeCom event.
var ErrMalformedEvent = errors.New("wecom: the callback is not an event")

// maxEvent bounds a decrypted message; WeCom's are a few KiB.
const maxEvent = 256 << 10

// ParseEvent reads a decrypted callback message.
func ParseEvent(msg []byte) (*Event, error) {
	if len(msg) == 0 || len(msg) > maxEvent {
		return nil, ErrMalformedEvent
	}
	var e Event
	if err := xml.Unmarshal(msg, &e); err != nil || e.ToUserName == "" || e.MsgType == "" {
		return nil, ErrMalformedEvent
	}
	if e.MsgType == "event" && e.Event == "" {
		return nil, ErrMalformedEvent
	}
	sum := sha256.Sum256(msg)
	e.Key = hex.EncodeToString(sum[:])
	if e.MsgID != "" {
		e.Key = "msg:" + e.MsgID
	}
	return &e, nil
}

// At is when WeCom says the event happened.
func (e *Event) At() time.Time { return time.Unix(e.CreateTime, 0) }

// Departments returns the user event's department ids.
func (e *Event) Departments() []string {
	if e.Department == "" {
		return nil
	}
	return strings.Split(e.Department, ",")
}
