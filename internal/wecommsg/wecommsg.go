// Package wecommsg sends the tenant's WeCom messages within WeCom's
// limits: app messages to staff (notifications from tickets and
// campaigns) and mass messages to customers (add_msg_template tasks that
// staff confirm in their client).
//
// The limits are WeCom's (PLATFORMS.md) and silent when broken, so they
// are kept here, in Redis, shared by every worker:
//   - a staff member receives at most 30 app messages a minute and 1,000
//     an hour; messages above that would be dropped without a word, so
//     they are held back and reported as deferred (the job sends them
//     later);
//   - a customer receives at most 4 mass messages a calendar month (China
//     time); a customer who has had 4 is left out and reported, and the
//     count is given back for customers WeCom refused.
package wecommsg

import (
	"context"
	"fmt"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/staff"
)

// API is the part of the WeCom client used (a *wecom.Client).
type API interface {
	SendAppMessage(ctx context.Context, toUsers []string, text string) (invalid []string, err error)
	AddMsgTemplate(ctx context.Context, sender string, externalUserIDs []string, text string) (msgID string, failed []string, err error)
}

// WeCom's limits (PLATFORMS.md).
var (
	perMemberMinute = redis_rate.PerMinute(30)
	perMemberHour   = redis_rate.PerHour(1000)
)

// MassPerMonth is how many mass messages a customer may receive in a
// calendar month.
const MassPerMonth = 4

// china is the calendar WeCom counts months in.
var china = time.FixedZone("CST", 8*3600)

// Sender sends one tenant's messages.
type Sender struct {
	Client *ent.Client
	Redis  redis.UniversalClient
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

func (s *Sender) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Account returns the tenant's active WeCom account (ctx carries the
// tenant's viewer); nil when it has none.
func Account(ctx context.Context, client *ent.Client) (*ent.ConnectorAccount, error) {
	a, err := client.ConnectorAccount.Query().
		Where(connectoraccount.PlatformEQ(connectoraccount.PlatformWecom), connectoraccount.StatusEQ(connectoraccount.StatusActive)).
		Order(ent.Asc(connectoraccount.FieldID)).First(ctx)
	if ent.IsNotFound(err) {
		return nil, nil
	}
	return a, err
}

// Notified says what NotifyStaff did.
type Notified struct {
	// Sent lists the staff the message went to.
	Sent []int
	// Deferred lists staff at WeCom's per-member limit; RetryAfter says
	// when to try them again.
	Deferred   []int
	RetryAfter time.Duration
	// Unreachable lists staff with no WeCom id or whom WeCom did not know.
	Unreachable []int
}

// NotifyStaff sends text as an app message to the staff members.
func (s *Sender) NotifyStaff(ctx context.Context, api API, account *ent.ConnectorAccount, staffIDs []int, text string) (Notified, error) {
	var out Notified
	members, err := s.Client.Staff.Query().Where(staff.IDIn(staffIDs...)).All(ctx)
	if err != nil {
		return out, err
	}
	limiter := redis_rate.NewLimiter(s.Redis)
	byUser := map[string]int{}
	var to []string
	for _, m := range members {
		if m.WecomUserID == nil || m.Status != staff.StatusActive {
			out.Unreachable = append(out.Unreachable, m.ID)
			continue
		}
		ok, wait, err := allowMember(ctx, limiter, account.ID, *m.WecomUserID)
		if err != nil {
			return out, err
		}
		if !ok {
			out.Deferred = append(out.Deferred, m.ID)
			out.RetryAfter = max(out.RetryAfter, wait)
			continue
		}
		byUser[*m.WecomUserID] = m.ID
		to = append(to, *m.WecomUserID)
	}
	if len(to) == 0 {
		return out, nil
	}
	invalid, err := api.SendAppMessage(ctx, to, text)
	if err != nil {
		return out, fmt.Errorf("app message: %w", err)
	}
	bad := map[string]bool{}
	for _, u := range invalid {
		bad[u] = true
	}
	for _, u := range to {
		if bad[u] {
			out.Unreachable = append(out.Unreachable, byUser[u])
		} else {
			out.Sent = append(out.Sent, byUser[u])
		}
	}
	return out, nil
}

// allowMember takes one message from the member's minute and hour
// budgets; when either is spent it says how long to wait.
func allowMember(ctx context.Context, l *redis_rate.Limiter, account int, userID string) (bool, time.Duration, error) {
	key := fmt.Sprintf("scrm:wecom:appmsg:%d:%s", account, userID)
	for _, b := range []struct {
		suffix string
		limit  redis_rate.Limit
	}{{":m", perMemberMinute}, {":h", perMemberHour}} {
		res, err := l.Allow(ctx, key+b.suffix, b.limit)
		if err != nil {
			return false, 0, err
		}
		if res.Allowed == 0 {
			return false, res.RetryAfter, nil
		}
	}
	return true, 0, nil
}

// MassResult says what MassMessage did.
type MassResult struct {
	MsgID string
	// Sent lists the customers included in the task.
	Sent []int
	// OverMonthlyLimit lists customers who have had their 4 this month.
	OverMonthlyLimit []int
	// NotReachable lists customers the sender does not follow on WeCom.
	NotReachable []int
	// Refused lists customers WeCom put on the task's fail list.
	Refused []int
}

// takeMonthly counts one mass message for a customer in the month unless
// it already has MassPerMonth; the key lives past the month's end.
var takeMonthly = redis.NewScript(`
local n = tonumber(redis.call("GET", KEYS[1]) or "0")
if n >= tonumber(ARGV[1]) then return 0 end
redis.call("INCR", KEYS[1])
redis.call("EXPIRE", KEYS[1], ARGV[2])
return 1`)

func monthKey(tenant, customer int, at time.Time) string {
	return fmt.Sprintf("scrm:wecom:mass:%d:%d:%s", tenant, customer, at.In(china).Format("200601"))
}

// MassMessage creates a mass-message task from sender (a staff member)
// to the customers among customerIDs the sender follows on WeCom and who
// have not had their monthly four.
func (s *Sender) MassMessage(ctx context.Context, api API, account *ent.ConnectorAccount, senderID int, customerIDs []int, text string) (MassResult, error) {
	var out MassResult
	sender, err := s.Client.Staff.Get(ctx, senderID)
	if err != nil {
		return out, err
	}
	if sender.WecomUserID == nil {
		return out, fmt.Errorf("staff member %d has no WeCom account", senderID)
	}
	ids, err := s.Client.CustomerIdentity.Query().
		Where(customeridentity.PlatformEQ(customeridentity.PlatformWecomExternal), customeridentity.AppID(account.ExternalID),
			customeridentity.CustomerIDIn(customerIDs...),
			customeridentity.HasCustomerWith(customer.HasFollowersWith(staff.ID(senderID)))).
		All(ctx)
	if err != nil {
		return out, err
	}
	external := map[int]string{}
	for _, i := range ids {
		external[i.CustomerID] = i.ExternalID
	}
	now := s.now()
	ttl := int((40 * 24 * time.Hour).Seconds())
	byExternal := map[string]int{}
	var to []string
	for _, c := range customerIDs {
		ext, ok := external[c]
		if !ok {
			out.NotReachable = append(out.NotReachable, c)
			continue
		}
		took, err := takeMonthly.Run(ctx, s.Redis, []string{monthKey(account.TenantID, c, now)}, MassPerMonth, ttl).Int()
		if err != nil {
			return out, err
		}
		if took == 0 {
			out.OverMonthlyLimit = append(out.OverMonthlyLimit, c)
			continue
		}
		byExternal[ext] = c
		to = append(to, ext)
	}
	if len(to) == 0 {
		return out, nil
	}
	msgID, failed, err := api.AddMsgTemplate(ctx, *sender.WecomUserID, to, text)
	if err != nil {
		s.giveBack(ctx, account.TenantID, now, to, byExternal)
		return out, fmt.Errorf("mass message: %w", err)
	}
	out.MsgID = msgID
	s.giveBack(ctx, account.TenantID, now, failed, byExternal)
	refused := map[string]bool{}
	for _, f := range failed {
		refused[f] = true
	}
	for _, ext := range to {
		if refused[ext] {
			out.Refused = append(out.Refused, byExternal[ext])
		} else {
			out.Sent = append(out.Sent, byExternal[ext])
		}
	}
	return out, nil
}

// giveBack returns the monthly count of customers whose message did not
// go out.
func (s *Sender) giveBack(ctx context.Context, tenant int, at time.Time, externals []string, byExternal map[string]int) {
	for _, ext := range externals {
		if c, ok := byExternal[ext]; ok {
			s.Redis.Decr(context.WithoutCancel(ctx), monthKey(tenant, c, at))
		}
	}
}
