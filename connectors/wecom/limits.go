package wecom

import (
	"net/http"

	"github.com/go-redis/redis_rate/v10"

	"github.com/scrm-dev/scrm/connectors/transport"
)

// Our budgets per account (corp) and API, counted in Redis by the
// transport layer so that every replica and worker shares them.
//
// WeCom publishes two limits per corp and per API (shared/PLATFORMS.md,
// "Rate limits"): 10,000 calls a minute and 150,000 an hour. 2,000 a
// minute keeps us below both: a fifth of the minute limit, and with the
// burst GCRA allows (one minute's worth) at most 2,000 + 60*2,000 =
// 122,000 in any hour. The per-IP limits (20,000/min, 600,000/h) are
// shared by every corp we serve from one egress IP and are not ours to
// split here.
var (
	perAPI = redis_rate.PerMinute(2000)
	// App messages are delivered to at most 30 a minute and 1,000 an hour
	// per member, and dropped silently above that (the call still answers
	// ok): the per-member pace is for the sender to keep, and the corp as
	// a whole gets a much smaller budget than other APIs.
	perAppMessage = redis_rate.PerMinute(300)
	// Tokens are cached in Redis and fetched about every 96 minutes per
	// secret; a corp asking more often than this is misconfigured, and
	// wrong secrets asked repeatedly get our IP blocked for an hour.
	perGetToken = redis_rate.PerMinute(20)
)

// api is one WeCom server API: its path under /cgi-bin/ is the transport
// endpoint's name.
type api struct {
	transport.Endpoint
	method string
	// contact APIs use the customer-contact app's token when there is one.
	contact bool
}

func newAPI(path, method string, contact bool, limit redis_rate.Limit) *api {
	return &api{Endpoint: transport.Endpoint{Platform: Platform, Name: path, Limit: limit}, method: method, contact: contact}
}

var (
	apiGetToken         = newAPI("gettoken", http.MethodGet, false, perGetToken)
	apiDepartmentList   = newAPI("department/list", http.MethodGet, false, perAPI)
	apiUserSimpleList   = newAPI("user/simplelist", http.MethodGet, false, perAPI)
	apiUserGet          = newAPI("user/get", http.MethodGet, false, perAPI)
	apiFollowUserList   = newAPI("externalcontact/get_follow_user_list", http.MethodGet, true, perAPI)
	apiExternalList     = newAPI("externalcontact/list", http.MethodGet, true, perAPI)
	apiExternalGet      = newAPI("externalcontact/get", http.MethodGet, true, perAPI)
	apiBatchGetByUser   = newAPI("externalcontact/batch/get_by_user", http.MethodPost, true, perAPI)
	apiCorpTagList      = newAPI("externalcontact/get_corp_tag_list", http.MethodPost, true, perAPI)
	apiAddCorpTag       = newAPI("externalcontact/add_corp_tag", http.MethodPost, true, perAPI)
	apiMarkTag          = newAPI("externalcontact/mark_tag", http.MethodPost, true, perAPI)
	apiAddContactWay    = newAPI("externalcontact/add_contact_way", http.MethodPost, true, perAPI)
	apiUpdateContactWay = newAPI("externalcontact/update_contact_way", http.MethodPost, true, perAPI)
	apiDelContactWay    = newAPI("externalcontact/del_contact_way", http.MethodPost, true, perAPI)
	apiSendWelcome      = newAPI("externalcontact/send_welcome_msg", http.MethodPost, true, perAPI)
	apiAddMsgTemplate   = newAPI("externalcontact/add_msg_template", http.MethodPost, true, perAPI)
	apiTransfer         = newAPI("externalcontact/transfer_customer", http.MethodPost, true, perAPI)
	apiResignedTransfer = newAPI("externalcontact/resigned/transfer_customer", http.MethodPost, true, perAPI)
	apiMessageSend      = newAPI("message/send", http.MethodPost, false, perAppMessage)
	apiAuthGetUserInfo  = newAPI("auth/getuserinfo", http.MethodGet, false, perAPI)
)

// Documented limits of single calls.
const (
	maxBatchUsers   = 100 // batch/get_by_user userid_list
	maxBatchLimit   = 100 // batch/get_by_user limit
	maxStateLen     = 30  // contact way state, characters
	maxWayMembers   = 100 // contact way user and party, each
	maxTransfer     = 100 // transfer_customer external_userid
	maxAppMsgUsers  = 1000
	maxContactPages = 1000 // externalcontact/get pages before we call it a loop
	maxAnswerBytes  = 32 << 20
)
