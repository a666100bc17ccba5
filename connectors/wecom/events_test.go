package wecom_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/scrm-dev/scrm/connectors/wecom"
)

// The messages below follow the examples in WeCom's callback
// documentation (客户联系 / 通讯录 change events).
const addContact = `<xml><ToUserName><![CDATA[ww1234567890abcdef]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>` +
	`<CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>` +
	`<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[zhangsan]]></UserID>` +
	`<ExternalUserID><![CDATA[woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA]]></ExternalUserID><State><![CDATA[store-42]]></State>` +
	`<WelcomeCode><![CDATA[WELCOMECODE]]></WelcomeCode></xml>`

const updateUser = `<xml><ToUserName><![CDATA[ww1234567890abcdef]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>` +
	`<CreateTime>1403610513</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_contact]]></Event>` +
	`<ChangeType>update_user</ChangeType><UserID><![CDATA[zhangsan]]></UserID><NewUserID><![CDATA[zhangsan001]]></NewUserID>` +
	`<Name><![CDATA[张三]]></Name><Department><![CDATA[1,2,3]]></Department><Mobile><![CDATA[13800000000]]></Mobile><Status>5</Status></xml>`

func TestParseEvent(t *testing.T) {
	e, err := wecom.ParseEvent([]byte(addContact))
	if err != nil {
		t.Fatal(err)
	}
	if e.Event != wecom.EventChangeExternalContact || e.ChangeType != wecom.ChangeAddExternalContact ||
		e.UserID != "zhangsan" || e.ExternalUserID != "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA" || e.State != "store-42" ||
		e.WelcomeCode != "WELCOMECODE" || e.ToUserName != "ww1234567890abcdef" || e.At().Unix() != 1403610513 {
		t.Fatalf("%+v", e)
	}
	u, err := wecom.ParseEvent([]byte(updateUser))
	if err != nil || u.ChangeType != wecom.ChangeUpdateUser || u.NewUserID != "zhangsan001" || u.Name != "张三" ||
		u.Status != "5" || !slices.Equal(u.Departments(), []string{"1", "2", "3"}) {
		t.Fatalf("%+v %v", u, err)
	}
	// Two customers added in the same second are two events; a retry of
	// one is the same.
	other, _ := wecom.ParseEvent([]byte(strings.Replace(addContact, "woAJ2GCAAAXtWyujaWJHDDGi0mACHAAA", "woAJ2GCAAAXtWyujaWJHDDGi0mACHBBB", 1)))
	again, _ := wecom.ParseEvent([]byte(addContact))
	if other == nil || other.Key == e.Key || again.Key != e.Key {
		t.Fatalf("dedupe keys: %v / %v / %v", e.Key, other, again.Key)
	}
}

func TestParseEventRefusesWhatIsNotAnEvent(t *testing.T) {
	for _, bad := range []string{"", "<xml>", "{}", `<xml><MsgType>event</MsgType></xml>`,
		`<xml><ToUserName>ww</ToUserName><MsgType>event</MsgType></xml>`} {
		if _, err := wecom.ParseEvent([]byte(bad)); !errors.Is(err, wecom.ErrMalformedEvent) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzParseEvent: any decrypted message parses or is refused, never panics.
func FuzzParseEvent(f *testing.F) {
	f.Add([]byte(addContact))
	f.Add([]byte(updateUser))
	f.Fuzz(func(t *testing.T, msg []byte) {
		e, err := wecom.ParseEvent(msg)
		if err == nil && (e.ToUserName == "" || e.Key == "") {
			t.Fatalf("accepted without a corp or a key: %+v", e)
		}
	})
}
