package wecomfake

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/connectors/wecom/msgcrypt"
)

func (s *Server) crypter() (*msgcrypt.Crypter, error) {
	c, err := msgcrypt.New(s.o.CallbackToken, s.o.EncodingAESKey, s.o.CorpID)
	if err != nil {
		return nil, fmt.Errorf("wecomfake: callback options: %w", err)
	}
	return c, nil
}

// digits returns n random decimal digits, like WeCom's nonces.
func digits(n int) string {
	var b strings.Builder
	for range n {
		d, _ := rand.Int(rand.Reader, big.NewInt(10))
		b.WriteByte(byte('0' + d.Int64()))
	}
	return b.String()
}

func withQuery(raw string, q url.Values) (string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("wecomfake: callback url: %w", err)
	}
	all := u.Query()
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode()
	return u.String(), nil
}

// SendCallback pushes an event as WeCom does: plainXML is encrypted with
// the corp id as receive id and signed, then POSTed as
// <xml><ToUserName/><AgentID/><Encrypt/></xml> to
// url?msg_signature=&timestamp=&nonce=. An answer other than HTTP 200
// within 5 s is retried after Options.CallbackRetryPause, 3 tries in all,
// with the same body. It returns the last HTTP status (0 when none came)
// and how many attempts were made.
func (s *Server) SendCallback(ctx context.Context, callbackURL string, plainXML string) (status int, attempts int, err error) {
	c, err := s.crypter()
	if err != nil {
		return 0, 0, err
	}
	ts := strconv.FormatInt(s.now().Unix(), 10)
	nonce := digits(10)
	enc, sig, err := c.Encrypt([]byte(plainXML), ts, nonce)
	if err != nil {
		return 0, 0, fmt.Errorf("wecomfake: encrypt callback: %w", err)
	}
	target, err := withQuery(callbackURL, url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}})
	if err != nil {
		return 0, 0, err
	}
	body := "<xml><ToUserName>" + cdata(s.o.CorpID) + "</ToUserName><AgentID>" +
		cdata(strconv.FormatInt(s.o.AgentID, 10)) + "</AgentID><Encrypt>" + cdata(enc) + "</Encrypt></xml>"
	for attempts = 1; ; attempts++ {
		status, err = s.post(ctx, target, body)
		if err == nil && status == http.StatusOK {
			return status, attempts, nil
		}
		if attempts == CallbackAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return status, attempts, ctx.Err()
		case <-time.After(s.o.CallbackRetryPause):
		}
	}
	if err == nil {
		err = fmt.Errorf("wecomfake: callback to %s answered HTTP %d, %d attempts", callbackURL, status, attempts)
	} else {
		err = fmt.Errorf("wecomfake: callback to %s failed after %d attempts: %w", callbackURL, attempts, err)
	}
	return status, attempts, err
}

func (s *Server) post(ctx context.Context, target, body string) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "text/xml")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, nil
}

// VerifyURL performs WeCom's URL verification against callbackURL: a GET
// with msg_signature, timestamp, nonce and echostr (an encrypted random
// string, URL-encoded). The answer must be HTTP 200 with the plaintext as
// the whole body. It returns that plaintext.
func (s *Server) VerifyURL(ctx context.Context, callbackURL string) (echoPlain string, err error) {
	c, err := s.crypter()
	if err != nil {
		return "", err
	}
	echoPlain = digits(19)
	ts := strconv.FormatInt(s.now().Unix(), 10)
	nonce := digits(10)
	enc, sig, err := c.Encrypt([]byte(echoPlain), ts, nonce)
	if err != nil {
		return "", fmt.Errorf("wecomfake: encrypt echostr: %w", err)
	}
	target, err := withQuery(callbackURL, url.Values{"msg_signature": {sig}, "timestamp": {ts}, "nonce": {nonce}, "echostr": {enc}})
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, CallbackTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return "", fmt.Errorf("wecomfake: verify url: %w", err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		return "", fmt.Errorf("wecomfake: verify url: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return echoPlain, fmt.Errorf("wecomfake: verify url answered HTTP %d", resp.StatusCode)
	}
	if string(got) != echoPlain {
		return echoPlain, errors.New("wecomfake: verify url answered something else than the decrypted echostr")
	}
	return echoPlain, nil
}

// SimulateAdd plays a customer adding member userID (through a contact way
// with state, when not empty): it stores the customer and the follow,
// issues a welcome code (valid 20 s from Now) and sends the
// add_external_contact callback to callbackURL. The welcome code is
// returned even when the callback fails.
func (s *Server) SimulateAdd(ctx context.Context, callbackURL, userID string, c ExternalContact, state string) (welcomeCode string, err error) {
	s.mu.Lock()
	if u := s.users[userID]; u == nil || u.Status != UserActive {
		s.mu.Unlock()
		return "", fmt.Errorf("wecomfake: simulate add: no active member %q", userID)
	}
	now := s.now()
	f := Follow{UserID: userID, CreateTime: now.Unix(), State: state, OperUserID: c.ExternalUserID}
	if state != "" {
		f.AddWay = 1 // scanned a QR code
	}
	if old := s.contacts[c.ExternalUserID]; old != nil {
		if of := old.follow(userID); of != nil {
			f.Remark, f.Description, f.TagIDs = of.Remark, of.Description, of.TagIDs
		}
	}
	s.addExternalContact(c, f)
	welcomeCode = s.issueWelcomeCode(userID, c.ExternalUserID)
	s.mu.Unlock()
	_, _, err = s.SendCallback(ctx, callbackURL, s.EventAddExternalContact(userID, c.ExternalUserID, state, welcomeCode, now))
	return welcomeCode, err
}

// Event XML.

// cdata wraps s in CDATA sections, splitting any "]]>" inside.
func cdata(s string) string {
	return "<![CDATA[" + strings.ReplaceAll(s, "]]>", "]]]]><![CDATA[>") + "]]>"
}

type field struct {
	name, value string
	number      bool
}

func str(name, value string) field { return field{name: name, value: value} }
func num(name string, v int64) field {
	return field{name: name, value: strconv.FormatInt(v, 10), number: true}
}

// event builds a callback message: the envelope, Event, ChangeType when
// not empty, then the fields.
func (s *Server) event(at time.Time, event, changeType string, fields ...field) string {
	var b strings.Builder
	b.WriteString("<xml>")
	all := []field{str("ToUserName", s.o.CorpID), str("FromUserName", "sys"), num("CreateTime", at.Unix()),
		str("MsgType", "event"), str("Event", event)}
	if changeType != "" {
		all = append(all, str("ChangeType", changeType))
	}
	for _, f := range append(all, fields...) {
		b.WriteString("<" + f.name + ">")
		if f.number {
			b.WriteString(f.value)
		} else {
			b.WriteString(cdata(f.value))
		}
		b.WriteString("</" + f.name + ">")
	}
	b.WriteString("</xml>")
	return b.String()
}

func optional(fields []field, f field) []field {
	if f.value != "" {
		fields = append(fields, f)
	}
	return fields
}

const eventExternalContact = "change_external_contact"

// EventAddExternalContact is change_external_contact/add_external_contact:
// a customer added member userID. State and WelcomeCode are left out when
// empty.
func (s *Server) EventAddExternalContact(userID, externalUserID, state, welcomeCode string, at time.Time) string {
	f := []field{str("UserID", userID), str("ExternalUserID", externalUserID)}
	f = optional(f, str("State", state))
	f = optional(f, str("WelcomeCode", welcomeCode))
	return s.event(at, eventExternalContact, "add_external_contact", f...)
}

// EventEditExternalContact is change_external_contact/edit_external_contact.
func (s *Server) EventEditExternalContact(userID, externalUserID string, at time.Time) string {
	return s.event(at, eventExternalContact, "edit_external_contact", str("UserID", userID), str("ExternalUserID", externalUserID))
}

// EventDelExternalContact is change_external_contact/del_external_contact:
// the member removed the customer. Source (e.g. DELETE_BY_TRANSFER) is
// left out when empty.
func (s *Server) EventDelExternalContact(userID, externalUserID, source string, at time.Time) string {
	f := optional([]field{str("UserID", userID), str("ExternalUserID", externalUserID)}, str("Source", source))
	return s.event(at, eventExternalContact, "del_external_contact", f...)
}

// EventDelFollowUser is change_external_contact/del_follow_user: the
// customer removed the member.
func (s *Server) EventDelFollowUser(userID, externalUserID string, at time.Time) string {
	return s.event(at, eventExternalContact, "del_follow_user", str("UserID", userID), str("ExternalUserID", externalUserID))
}

// EventTransferFail is change_external_contact/transfer_fail; failReason
// is customer_refused or customer_limit_exceed, userID the takeover member.
func (s *Server) EventTransferFail(userID, externalUserID, failReason string, at time.Time) string {
	return s.event(at, eventExternalContact, "transfer_fail",
		str("FailReason", failReason), str("UserID", userID), str("ExternalUserID", externalUserID))
}

// EventChangeExternalTag is change_external_tag: id is the tag or group
// id, tagType "tag" or "tag_group", changeType create, update, delete or
// shuffle.
func (s *Server) EventChangeExternalTag(id, tagType, changeType string, at time.Time) string {
	f := []field{str("Id", id)}
	f = optional(f, str("TagType", tagType))
	return s.event(at, "change_external_tag", changeType, f...)
}

// EventChangeContactUser is change_contact for a member: changeType
// create_user, update_user or delete_user (which carries the UserID only).
func (s *Server) EventChangeContactUser(changeType string, u User, at time.Time) string {
	f := []field{str("UserID", u.UserID)}
	if changeType != "delete_user" {
		depts := make([]string, len(u.Departments))
		for i, d := range u.Departments {
			depts[i] = strconv.FormatInt(d, 10)
		}
		f = append(f, str("Name", u.Name), str("Department", strings.Join(depts, ",")))
		if len(u.Departments) > 0 {
			f = append(f, num("MainDepartment", u.Departments[0]))
		}
		f = optional(f, str("Mobile", u.Mobile))
		if u.Status != 0 {
			f = append(f, num("Status", int64(u.Status)))
		}
	}
	return s.event(at, "change_contact", changeType, f...)
}

// EventChangeContactParty is change_contact for a department: changeType
// create_party, update_party or delete_party (which carries the Id only).
func (s *Server) EventChangeContactParty(changeType string, d Department, at time.Time) string {
	f := []field{num("Id", d.ID)}
	if changeType != "delete_party" {
		f = append(f, str("Name", d.Name), num("ParentId", d.ParentID))
		if changeType == "create_party" {
			f = append(f, num("Order", d.Order))
		}
	}
	return s.event(at, "change_contact", changeType, f...)
}
