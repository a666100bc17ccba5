package douyinfake

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// Push message tags (消息推送, op.jinritemai.com message docs). The
// order tags 100-103 and the refund tag 200 are as documented; TagVerify
// and TagTradeCanceled are *unverified*.
const (
	// TagVerify is the verification ping the platform sends when a push
	// URL is configured (unverified): answer {"code":0} to pass.
	TagVerify          = "0"
	TagTradeCreate     = "100" // doudian_trade_TradeCreate
	TagTradePaid       = "101" // doudian_trade_TradePaid
	TagTradeSellerShip = "102" // doudian_trade_TradeSellerShip
	TagTradeSuccess    = "103" // doudian_trade_TradeSuccess
	TagTradeCanceled   = "106" // doudian_trade_TradeCanceled (unverified number)
	TagRefundCreated   = "200" // doudian_refund_RefundCreated
)

// PushTries is how many times SendPush tries one delivery.
const PushTries = 3

// PushMessage is one pushed message. Data is marshalled to a JSON string
// for the data field, as the platform sends it (a string Data is sent as
// it is).
type PushMessage struct {
	Tag   string
	MsgID string
	Data  any
}

// PushBody is the exact body SendPush posts for msgs: a JSON array of
// {"tag","msg_id","data"} with data a string holding JSON.
func PushBody(msgs []PushMessage) ([]byte, error) {
	type wire struct {
		Tag   string `json:"tag"`
		MsgID string `json:"msg_id"`
		Data  string `json:"data"`
	}
	out := make([]wire, 0, len(msgs))
	for _, m := range msgs {
		data, ok := m.Data.(string)
		if !ok {
			b, err := marshal(m.Data)
			if err != nil {
				return nil, fmt.Errorf("douyinfake: push %s data: %w", m.MsgID, err)
			}
			data = string(b)
		}
		out = append(out, wire{m.Tag, m.MsgID, data})
	}
	return marshal(out)
}

func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// EventSign is the event-sign header for body: hex(MD5(app_key + body +
// app_secret)).
func (s *Server) EventSign(body []byte) string {
	h := md5.New()
	h.Write([]byte(s.o.AppKey))
	h.Write(body)
	h.Write([]byte(s.o.AppSecret))
	return hex.EncodeToString(h.Sum(nil))
}

// SendPush posts msgs to url as the platform pushes: the body of
// PushBody, headers app-id (the app key), event-sign and Content-Type
// application/json. An HTTP 200 whose body is JSON with "code":0 is a
// delivery; anything else is tried again after Options.PushRetryPause,
// PushTries times in all. attempts is how many posts were made; err is
// nil once delivered, else the last failure (or ctx's error).
func (s *Server) SendPush(ctx context.Context, url string, msgs []PushMessage) (attempts int, err error) {
	body, err := PushBody(msgs)
	if err != nil {
		return 0, err
	}
	sig := s.EventSign(body)
	for attempts < PushTries {
		if attempts > 0 {
			t := time.NewTimer(s.o.PushRetryPause)
			select {
			case <-ctx.Done():
				t.Stop()
				return attempts, ctx.Err()
			case <-t.C:
			}
		}
		attempts++
		if err = s.postPush(ctx, url, body, sig); err == nil {
			return attempts, nil
		}
		if ctx.Err() != nil {
			return attempts, ctx.Err()
		}
	}
	return attempts, err
}

func (s *Server) postPush(ctx context.Context, url string, body []byte, sig string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("app-id", s.o.AppKey)
	req.Header.Set("event-sign", sig)
	resp, err := s.o.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("douyinfake: push answered HTTP %d", resp.StatusCode)
	}
	var a struct {
		Code *int `json:"code"`
	}
	if err := json.Unmarshal(answer, &a); err != nil || a.Code == nil {
		return errors.New("douyinfake: push answer is not JSON with a code")
	}
	if *a.Code != 0 {
		return fmt.Errorf("douyinfake: push answered code %d", *a.Code)
	}
	return nil
}

// VerifyPing is the verification message (tag TagVerify, unverified
// shape: empty data).
func (s *Server) VerifyPing() PushMessage {
	return PushMessage{Tag: TagVerify, MsgID: "0", Data: map[string]any{}}
}

// PushFor builds the message with tag for an order as it stands, data
// shaped like the platform's order messages: p_id (shop order ID), s_ids
// (SKU order IDs), shop_id, order_status, order_type, biz, update_time,
// plus create_time (100), pay_time, pay_type and pay_amount (101),
// complete_time (103), cancel_time and cancel_reason (106), or for 200
// the refund fields aftersale_id, aftersale_status, aftersale_type,
// refund_amount, apply_time and s_id. msg_id is the order ID, the tag and
// the update time, so the same change pushed twice has the same msg_id.
// It panics if the order does not exist (a test's mistake).
func (s *Server) PushFor(orderID string, tag string) PushMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[orderID]
	if o == nil {
		panic("douyinfake: PushFor: no order " + orderID)
	}
	status, _ := strconv.Atoi(o.Status)
	sids := make([]any, len(o.Items))
	for i := range o.Items {
		sids[i] = idValue(skuOrderID(o.ID, i))
	}
	d := map[string]any{
		"p_id":         idValue(o.ID),
		"s_ids":        sids,
		"shop_id":      s.o.ShopID,
		"order_status": status,
		"order_type":   0,
		"biz":          2,
		"update_time":  unix(o.Modified),
	}
	switch tag {
	case TagTradeCreate:
		d["create_time"] = unix(o.Created)
	case TagTradePaid:
		d["pay_time"], d["pay_type"], d["pay_amount"] = unix(o.PaidAt), 1, o.PaidFen
	case TagTradeSellerShip:
		d["update_time"] = unix(o.Modified)
	case TagTradeSuccess:
		d["complete_time"] = unix(o.Modified)
	case TagTradeCanceled:
		d["cancel_time"], d["cancel_reason"] = unix(o.Modified), "买家取消"
	case TagRefundCreated:
		d = map[string]any{
			"p_id":             idValue(o.ID),
			"s_id":             idValue(skuOrderID(o.ID, 0)),
			"shop_id":          s.o.ShopID,
			"aftersale_id":     idValue(skuOrderID(o.ID, 14)),
			"aftersale_status": afterSaleStatus(o.RefundStatus),
			"aftersale_type":   2,
			"refund_amount":    o.PaidFen,
			"apply_time":       unix(o.Modified),
			"update_time":      unix(o.Modified),
		}
	}
	return PushMessage{Tag: tag, MsgID: fmt.Sprintf("%s:%s:%d", o.ID, tag, unix(o.Modified)), Data: d}
}
