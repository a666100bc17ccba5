// Package seed writes the demo data set: two tenants, demo and acme, each
// with an organisation tree, the six demo staff, tags, customers with
// identities on several platforms, orders, tickets, forms and campaigns.
// The data is deterministic (a fixed random seed and a fixed "now"), so a
// test or a bug report can name a customer and everyone has the same one.
// The same code builds the large benchmark data sets with batched inserts.
package seed

import (
	"context"
	cryptorand "crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/auditlog"
	"github.com/scrm-dev/scrm/ent/campaign"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/department"
	"github.com/scrm-dev/scrm/ent/form"
	"github.com/scrm-dev/scrm/ent/formsubmission"
	"github.com/scrm-dev/scrm/ent/gid"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/schema/schematype"
	"github.com/scrm-dev/scrm/ent/tag"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/ent/webhookdelivery"
	"github.com/scrm-dev/scrm/ent/webhookendpoint"
	"github.com/scrm-dev/scrm/internal/audit"
	"github.com/scrm-dev/scrm/internal/connectoraccounts"
	"github.com/scrm-dev/scrm/internal/customerstats"
	"github.com/scrm-dev/scrm/internal/demoplatforms"
	"github.com/scrm-dev/scrm/internal/tickets"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Default sizes of each demo tenant.
const (
	DefaultCustomers = 200
	DefaultOrders    = 1000
	DefaultTickets   = 50
)

// Options size the demo tenant (acme always gets the defaults).
type Options struct {
	Customers int
	Orders    int
	Logger    *slog.Logger
}

// ErrAlreadySeeded is returned when the demo tenants exist.
var ErrAlreadySeeded = errors.New("the demo tenants exist already")

// Staff logins of every demo tenant.
const (
	Admin    = "admin"
	Sup1     = "sup1"
	Agent1   = "agent1"
	Agent2   = "agent2"
	Mkt1     = "mkt1"
	Auditor1 = "auditor1"
)

// Demo writes both demo tenants.
func Demo(ctx context.Context, client *ent.Client, opts Options) error {
	ctx = viewer.System(ctx)
	// Totals are computed once per tenant after the orders are in.
	ctx = customerstats.Deferred(ctx)
	if opts.Customers <= 0 {
		opts.Customers = DefaultCustomers
	}
	if opts.Orders <= 0 {
		opts.Orders = DefaultOrders
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	exists, err := client.Tenant.Query().Where(tenant.SlugIn("demo", "acme")).Exist(ctx)
	if err != nil {
		return err
	}
	if exists {
		return ErrAlreadySeeded
	}
	specs := []tenantSpec{
		{slug: "demo", name: "悦享生活（演示）", customers: opts.Customers, orders: opts.Orders, seed: 1},
		{slug: "acme", name: "Acme 餐饮连锁", customers: DefaultCustomers, orders: DefaultOrders, seed: 2},
	}
	for _, spec := range specs {
		start := time.Now()
		s := &seeder{client: client, spec: spec, r: newRNG(spec.seed), log: opts.Logger, phoneSeen: map[string]bool{}}
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("seed tenant %s: %w", spec.slug, err)
		}
		opts.Logger.Info("seeded tenant", "tenant", spec.slug, "customers", spec.customers,
			"orders", spec.orders, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

type tenantSpec struct {
	slug, name        string
	customers, orders int
	seed              uint64
}

type seeder struct {
	client *ent.Client
	spec   tenantSpec
	r      rng
	log    *slog.Logger

	tenantID int
	hq       int
	regions  []int
	stores   []storeInfo
	staff    map[string]int
	tags     []int

	customers []int // ids, in creation order
	phoneSeen map[string]bool
	orders    []orderInfo
}

type storeInfo struct {
	id   int
	city string
	code string
}

type orderInfo struct{ id, customer int }

func (s *seeder) run(ctx context.Context) error {
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"tenant", s.tenant},
		{"departments", s.departments},
		{"staff", s.staffMembers},
		{"leaders", s.leaders},
		{"ticket workflow", func(ctx context.Context) error {
			return tickets.InstallDefaults(viewer.ForTenant(ctx, s.tenantID), s.client)
		}},
		{"tags", s.tagSet},
		{"customers", s.customerSet},
		{"orders", s.orderSet},
		{"customer totals", func(ctx context.Context) error {
			return customerstats.RecomputeTenant(ctx, s.client, s.tenantID)
		}},
		{"tickets", s.ticketSet},
		{"open ticket counts", func(ctx context.Context) error {
			return tickets.RecountOpenTickets(viewer.ForTenant(ctx, s.tenantID), s.client)
		}},
		{"forms", s.formSet},
		{"campaigns", s.campaignSet},
		{"connector accounts", s.connectorAccounts},
		{"channel QR codes", s.channelSet},
		{"partner integrations", s.partnerSet},
	}
	for _, step := range steps {
		start := time.Now()
		if err := step.fn(ctx); err != nil {
			return fmt.Errorf("%s: %w", step.name, err)
		}
		s.log.Debug("seed step done", "tenant", s.spec.slug, "step", step.name, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

func (s *seeder) tenant(ctx context.Context) error {
	t, err := s.client.Tenant.Create().SetName(s.spec.name).SetSlug(s.spec.slug).Save(ctx)
	if err != nil {
		return err
	}
	s.tenantID = t.ID
	// The trail starts with the seeding itself.
	rec := &audit.Recorder{RequestID: "seed"}
	rec.Add(audit.Entry{Action: auditlog.ActionMutation, Operation: "seed", ObjectType: "Tenant", ObjectIDs: []string{gid.Encode(t.ID)}})
	return rec.Flush(viewer.ForTenant(ctx, t.ID), s.client)
}

func (s *seeder) dept(ctx context.Context, name string, kind department.Kind, parent *int, code string, wecomID int64) (int, error) {
	c := s.client.Department.Create().
		SetTenantID(s.tenantID).
		SetName(name).
		SetKind(kind).
		SetNillableParentID(parent).
		SetWecomDeptID(wecomID)
	if code != "" {
		c.SetRegionCode(code)
	}
	d, err := c.Save(ctx)
	if err != nil {
		return 0, err
	}
	return d.ID, nil
}

func (s *seeder) departments(ctx context.Context) error {
	var err error
	if s.hq, err = s.dept(ctx, "总部", department.KindHQ, nil, "", 1); err != nil {
		return err
	}
	regions := []struct {
		name   string
		stores []struct{ name, city, code string }
	}{
		{"华东大区", []struct{ name, city, code string }{
			{"上海南京西路店", "上海市", "310000"}, {"杭州西湖店", "杭州市", "330100"},
		}},
		{"华南大区", []struct{ name, city, code string }{
			{"广州天河店", "广州市", "440100"}, {"深圳南山店", "深圳市", "440300"},
		}},
	}
	wecomID := int64(2)
	for _, reg := range regions {
		regionID, err := s.dept(ctx, reg.name, department.KindRegion, &s.hq, "", wecomID)
		if err != nil {
			return err
		}
		wecomID++
		s.regions = append(s.regions, regionID)
		for _, st := range reg.stores {
			id, err := s.dept(ctx, st.name, department.KindStore, &regionID, st.code, wecomID)
			if err != nil {
				return err
			}
			wecomID++
			s.stores = append(s.stores, storeInfo{id: id, city: st.city, code: st.code})
		}
	}
	return nil
}

func (s *seeder) staffMembers(ctx context.Context) error {
	people := []struct {
		login, name, role string
		dept              int
		region            string
		skills            []string
	}{
		{Admin, "管理员", authz.RoleAdmin, s.hq, "", nil},
		{Sup1, s.r.name(), authz.RoleSupervisor, s.regions[0], "", []string{"售后", "投诉"}},
		{Agent1, s.r.name(), authz.RoleAgent, s.stores[0].id, s.stores[0].code, []string{"售后", "退换货"}},
		{Agent2, s.r.name(), authz.RoleAgent, s.stores[2].id, s.stores[2].code, []string{"售后", "投诉"}},
		{Mkt1, s.r.name(), authz.RoleMarketer, s.hq, "", nil},
		{Auditor1, s.r.name(), authz.RoleAuditor, s.hq, "", nil},
	}
	s.staff = map[string]int{}
	for _, p := range people {
		c := s.client.Staff.Create().
			SetTenantID(s.tenantID).
			SetLogin(p.login).
			SetName(p.name).
			SetMobile(s.r.mobile()).
			SetEmail(p.login + "@" + s.spec.slug + ".example.com").
			SetWecomUserID(p.login).
			SetRoles([]string{p.role}).
			SetSkillTags(append([]string{}, p.skills...)).
			AddDepartmentIDs(p.dept)
		if p.region != "" {
			c.SetRegion(p.region)
		}
		m, err := c.Save(ctx)
		if err != nil {
			return err
		}
		s.staff[p.login] = m.ID
	}
	return nil
}

func (s *seeder) tagSet(ctx context.Context) error {
	groups := []struct {
		name string
		tags []string
	}{
		{"客户等级", []string{"VIP", "高潜客户", "沉睡客户"}},
		{"兴趣偏好", []string{"美妆护肤", "母婴", "数码", "运动户外", "美食"}},
		{"渠道来源", []string{"门店", "直播间", "小程序", "企业微信"}},
	}
	for gi, g := range groups {
		group, err := s.client.TagGroup.Create().
			SetTenantID(s.tenantID).
			SetName(g.name).
			SetSource("WECOM").
			SetWecomGroupID(fmt.Sprintf("etG%s%02d", s.spec.slug, gi)).
			SetSortOrder(gi).
			Save(ctx)
		if err != nil {
			return err
		}
		for ti, name := range g.tags {
			t, err := s.client.Tag.Create().
				SetTenantID(s.tenantID).
				SetGroupID(group.ID).
				SetName(name).
				SetSource(tag.SourceWecom).
				SetWecomTagID(fmt.Sprintf("etT%s%02d%02d", s.spec.slug, gi, ti)).
				SetSortOrder(ti).
				Save(ctx)
			if err != nil {
				return err
			}
			s.tags = append(s.tags, t.ID)
		}
	}
	return nil
}

const customerBatch = 1000

var sourceChannels = []customer.SourceChannel{
	customer.SourceChannelWecom, customer.SourceChannelWecom, customer.SourceChannelTaobao,
	customer.SourceChannelTmall, customer.SourceChannelDouyin, customer.SourceChannelMiniProgram,
	customer.SourceChannelPOS, customer.SourceChannelJD,
}

func (s *seeder) customerSet(ctx context.Context) error {
	agentCity := map[string]int{"上海市": s.staff[Agent1], "广州市": s.staff[Agent2]}
	corpID := "ww" + s.spec.slug + "corp"
	for start := 0; start < s.spec.customers; start += customerBatch {
		n := min(customerBatch, s.spec.customers-start)
		builders := make([]*ent.CustomerCreate, n)
		followers := make([][]int, n)
		for i := range n {
			p := s.r.place()
			seen := s.r.within(3 * 365 * 24 * time.Hour)
			c := s.client.Customer.Create().
				SetTenantID(s.tenantID).
				SetName(s.r.name()).
				SetGender([]customer.Gender{customer.GenderFemale, customer.GenderMale, customer.GenderUnknown}[s.r.IntN(3)]).
				SetProvince(p.province).
				SetCity(p.city).
				SetDistrict(s.r.pick(p.districts)).
				SetAddress(fmt.Sprintf("%s%d号", s.r.pick(p.streets), 1+s.r.IntN(999))).
				SetPointsBalance(int64(s.r.IntN(20000))).
				SetSourceChannel(sourceChannels[s.r.IntN(len(sourceChannels))]).
				SetFirstSeenAt(seen).
				SetCreatedAt(seen).
				SetUpdatedAt(seen)
			if s.r.chance(0.92) {
				c.SetPhone(s.r.mobile())
			}
			if s.r.chance(0.3) {
				c.SetEmail(fmt.Sprintf("user%d.%s@example.com", start+i, s.spec.slug))
			}
			if s.r.chance(0.6) {
				c.SetBirthday(s.r.birthday())
			}
			switch x := s.r.Float64(); {
			case x < 0.08:
				c.SetTier("GOLD")
			case x < 0.3:
				c.SetTier("SILVER")
			}
			// Agents own and follow customers of their store's city; a
			// few customers are followed by both agents.
			if agent, ok := agentCity[p.city]; ok && s.r.chance(0.8) {
				c.SetOwnerID(agent)
				c.AddFollowerIDs(agent)
				followers[i] = append(followers[i], agent)
				if s.r.chance(0.1) {
					other := s.staff[Agent1]
					if agent == other {
						other = s.staff[Agent2]
					}
					c.AddFollowerIDs(other)
					followers[i] = append(followers[i], other)
				}
			} else if s.r.chance(0.3) {
				// An owner is always one of the customer's WeCom
				// contacts: data scopes go by who follows whom.
				c.SetOwnerID(s.staff[Sup1])
				c.AddFollowerIDs(s.staff[Sup1])
				followers[i] = append(followers[i], s.staff[Sup1])
			}
			tagCount := s.r.IntN(4)
			picked := map[int]bool{}
			for range tagCount {
				picked[s.tags[s.r.IntN(len(s.tags))]] = true
			}
			for _, id := range slices.Sorted(maps.Keys(picked)) {
				c.AddTagIDs(id)
			}
			c.SetCustomAttributes(map[string]any{"memberNo": fmt.Sprintf("M%s%07d", s.spec.slug[:1], start+i)})
			builders[i] = c
		}
		created, err := s.client.Customer.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return err
		}
		// Each follower's WeCom relationship, as a customer sync records it.
		var follows []*ent.FollowUpCreate
		for i, c := range created {
			for _, staffID := range followers[i] {
				follows = append(follows, s.client.FollowUp.Create().SetTenantID(s.tenantID).
					SetCustomerID(c.ID).SetStaffID(staffID).SetAddedAt(c.FirstSeenAt).SetAddWay(1).
					SetCreatedAt(c.FirstSeenAt).SetUpdatedAt(c.FirstSeenAt))
			}
		}
		for i := 0; i < len(follows); i += customerBatch {
			if err := s.client.FollowUp.CreateBulk(follows[i:min(i+customerBatch, len(follows))]...).Exec(ctx); err != nil {
				return err
			}
		}
		identities := make([]*ent.CustomerIdentityCreate, 0, 3*n)
		for i, c := range created {
			s.customers = append(s.customers, c.ID)
			idx := start + i
			add := func(p customeridentity.Platform, app, ext string) {
				identities = append(identities, s.client.CustomerIdentity.Create().
					SetTenantID(s.tenantID).SetCustomerID(c.ID).SetPlatform(p).SetAppID(app).SetExternalID(ext).
					SetCreatedAt(c.FirstSeenAt).SetUpdatedAt(c.FirstSeenAt))
			}
			add(customeridentity.PlatformWecomExternal, corpID, fmt.Sprintf("wmX%s%09d", s.spec.slug, idx))
			if s.r.chance(0.6) {
				add(customeridentity.PlatformWechatUnionid, "", fmt.Sprintf("oU%s%010d", s.spec.slug, idx))
			}
			if s.r.chance(0.4) {
				add(customeridentity.PlatformTaobao, "tb-"+s.spec.slug, fmt.Sprintf("tb_%s_%08d", s.spec.slug, idx))
			}
			if s.r.chance(0.3) {
				add(customeridentity.PlatformDouyin, "dy-"+s.spec.slug, fmt.Sprintf("dy%s%011d", s.spec.slug, idx))
			}
			// The data layer stores a phone identity as the phone's blind
			// index; two customers sharing a random number get it once.
			if c.Phone != "" && !s.phoneSeen[c.Phone] {
				s.phoneSeen[c.Phone] = true
				add(customeridentity.PlatformPhone, "", c.Phone)
			}
		}
		for i := 0; i < len(identities); i += customerBatch {
			if err := s.client.CustomerIdentity.CreateBulk(identities[i:min(i+customerBatch, len(identities))]...).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

type channel struct {
	platform order.Platform
	shop     string
	prefix   string
}

func (s *seeder) channels() []channel {
	return []channel{
		{order.PlatformTmall, "tm-" + s.spec.slug + "-flagship", "TM"},
		{order.PlatformTaobao, "tb-" + s.spec.slug, "TB"},
		{order.PlatformDouyin, "dy-" + s.spec.slug, "DY"},
		{order.PlatformJD, "jd-" + s.spec.slug, "JD"},
		{order.PlatformMiniProgram, "mp-" + s.spec.slug, "MP"},
		{order.PlatformPOS, "pos", "POS"},
	}
}

var statusWeights = []struct {
	status order.Status
	weight int
}{
	{order.StatusCompleted, 55}, {order.StatusShipped, 10}, {order.StatusPaid, 10},
	{order.StatusCreated, 5}, {order.StatusCancelled, 8}, {order.StatusRefunding, 4},
	{order.StatusRefunded, 8},
}

func (s *seeder) status() order.Status {
	x := s.r.IntN(100)
	for _, w := range statusWeights {
		if x < w.weight {
			return w.status
		}
		x -= w.weight
	}
	return order.StatusCompleted
}

const orderBatch = 2000

func (s *seeder) orderSet(ctx context.Context) error {
	channels := s.channels()
	for start := 0; start < s.spec.orders; start += orderBatch {
		n := min(orderBatch, s.spec.orders-start)
		builders := make([]*ent.OrderCreate, n)
		type line struct {
			p   product
			qty int
		}
		lines := make([][]line, n)
		infos := make([]orderInfo, n)
		for i := range n {
			ch := channels[s.r.IntN(len(channels))]
			// Skew towards a core of repeat buyers, as real shops see.
			cust := s.customers[s.r.IntN(len(s.customers))]
			if s.r.chance(0.5) {
				cust = s.customers[s.r.IntN(max(1, len(s.customers)/5))]
			}
			st := s.status()
			placed := s.r.within(365 * 24 * time.Hour)
			var total int64
			for range 1 + s.r.IntN(3) {
				l := line{products[s.r.IntN(len(products))], 1 + s.r.IntN(3)}
				lines[i] = append(lines[i], l)
				total += l.p.price * int64(l.qty)
			}
			discount := total * int64(s.r.IntN(11)) / 100
			shipping := int64(0)
			if ch.platform != order.PlatformPOS && total < 9900 {
				shipping = 1000
			}
			paid := total - discount + shipping
			c := s.client.Order.Create().
				SetTenantID(s.tenantID).
				SetPlatform(ch.platform).
				SetShopID(ch.shop).
				SetPlatformOrderID(fmt.Sprintf("%s%s%010d", ch.prefix, s.spec.slug[:1], start+i)).
				SetStatus(st).
				SetTotalAmount(total).
				SetDiscountAmount(discount).
				SetShippingAmount(shipping).
				SetPlacedAt(placed).
				SetCreatedAt(placed).
				SetCustomerID(cust)
			last := placed
			if st != order.StatusCreated && st != order.StatusCancelled {
				last = placed.Add(5 * time.Minute)
				c.SetPaidAmount(paid).SetPaidAt(last)
			}
			switch st {
			case order.StatusShipped, order.StatusCompleted, order.StatusRefunding, order.StatusRefunded:
				last = placed.Add(26 * time.Hour)
				c.SetShippedAt(last)
			}
			switch st {
			case order.StatusCompleted:
				last = placed.Add(5 * 24 * time.Hour)
				c.SetCompletedAt(last)
			case order.StatusRefunded:
				last = placed.Add(4 * 24 * time.Hour)
				c.SetRefundedAmount(paid)
			case order.StatusCancelled:
				last = placed.Add(30 * time.Minute)
			}
			c.SetPlatformUpdatedAt(last).SetUpdatedAt(last)
			if ch.platform == order.PlatformPOS {
				c.SetStoreID(s.stores[s.r.IntN(len(s.stores))].id)
			}
			builders[i] = c
			infos[i] = orderInfo{customer: cust}
		}
		created, err := s.client.Order.CreateBulk(builders...).Save(ctx)
		if err != nil {
			return err
		}
		items := make([]*ent.OrderItemCreate, 0, 2*n)
		for i, o := range created {
			infos[i].id = o.ID
			for _, l := range lines[i] {
				items = append(items, s.client.OrderItem.Create().
					SetTenantID(s.tenantID).SetOrderID(o.ID).SetSku(l.p.sku).SetName(l.p.name).
					SetQuantity(l.qty).SetUnitPrice(l.p.price).SetAmount(l.p.price*int64(l.qty)).
					SetCreatedAt(o.PlacedAt).SetUpdatedAt(o.PlacedAt))
			}
		}
		s.orders = append(s.orders, infos...)
		for i := 0; i < len(items); i += orderBatch {
			if err := s.client.OrderItem.CreateBulk(items[i:min(i+orderBatch, len(items))]...).Exec(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

var ticketTemplates = []struct {
	title, category string
	source          ticket.Source
}{
	{"申请退货：商品与描述不符", "退换货", ticket.SourceOrderReturn},
	{"申请换货：尺码不合适", "退换货", ticket.SourceOrderReturn},
	{"物流超过 5 天未更新", "物流", ticket.SourceWecom},
	{"收到商品有破损", "质量问题", ticket.SourceOrderReturn},
	{"需要开具增值税专用发票", "发票", ticket.SourceManual},
	{"会员积分未到账", "会员积分", ticket.SourceWecom},
	{"门店服务态度投诉", "投诉", ticket.SourceForm},
	{"咨询商品成分与适用人群", "咨询", ticket.SourceWecom},
}

var ticketStatuses = []ticket.Status{
	ticket.StatusNew, ticket.StatusAssigned, ticket.StatusInProgress, ticket.StatusInProgress,
	ticket.StatusPendingCustomer, ticket.StatusResolved, ticket.StatusClosed,
}

// leaders makes the admin head of headquarters and the supervisor head of
// the first region: escalations and department-head approvals go to them.
func (s *seeder) leaders(ctx context.Context) error {
	if err := s.client.Department.UpdateOneID(s.hq).SetLeaderID(s.staff[Admin]).Exec(ctx); err != nil {
		return err
	}
	return s.client.Department.UpdateOneID(s.regions[0]).SetLeaderID(s.staff[Sup1]).Exec(ctx)
}

func (s *seeder) ticketSet(ctx context.Context) error {
	count := max(DefaultTickets, s.spec.orders/200)
	agents := []int{s.staff[Agent1], s.staff[Agent2]}
	teams := map[int]int{s.staff[Agent1]: s.stores[0].id, s.staff[Agent2]: s.stores[2].id}
	regions := map[int]string{s.staff[Agent1]: s.stores[0].code, s.staff[Agent2]: s.stores[2].code}
	builders := make([]*ent.TicketCreate, 0, count)
	for i := range count {
		tpl := ticketTemplates[s.r.IntN(len(ticketTemplates))]
		o := s.orders[s.r.IntN(len(s.orders))]
		created := s.r.within(60 * 24 * time.Hour)
		st := ticketStatuses[s.r.IntN(len(ticketStatuses))]
		c := s.client.Ticket.Create().
			SetTenantID(s.tenantID).
			SetNumber(fmt.Sprintf("T-%06d", i+1)).
			SetTitle(tpl.title).
			SetDescription("客户反馈：" + tpl.title + "。请尽快联系客户处理。").
			SetCategory(tpl.category).
			SetPriority([]ticket.Priority{ticket.PriorityLow, ticket.PriorityNormal, ticket.PriorityNormal, ticket.PriorityHigh, ticket.PriorityUrgent}[s.r.IntN(5)]).
			SetSource(tpl.source).
			SetCustomerID(o.customer).
			SetRequiredSkills([]string{"售后"}).
			SetCreatedAt(created).
			SetUpdatedAt(created).
			SetFirstResponseDueAt(created.Add(2 * time.Hour)).
			SetResolutionDueAt(created.Add(48 * time.Hour)).
			SetCustomFields(map[string]any{"channel": "demo"})
		if tpl.source == ticket.SourceOrderReturn {
			c.SetOrderID(o.id)
		}
		if st != ticket.StatusNew {
			// Every other ticket goes to each agent, so both have work.
			agent := agents[i%2]
			if s.r.chance(0.15) {
				agent = s.staff[Sup1]
			}
			c.SetAssigneeID(agent)
			if team, ok := teams[agent]; ok {
				c.SetTeamID(team).SetRegion(regions[agent])
			}
		}
		c.SetStatus(st)
		switch st {
		case ticket.StatusResolved:
			c.SetResolvedAt(created.Add(20 * time.Hour))
		case ticket.StatusClosed:
			c.SetResolvedAt(created.Add(20 * time.Hour)).SetClosedAt(created.Add(72 * time.Hour))
		}
		builders = append(builders, c)
	}
	var tickets []*ent.Ticket
	for i := 0; i < len(builders); i += customerBatch {
		batch, err := s.client.Ticket.CreateBulk(builders[i:min(i+customerBatch, len(builders))]...).Save(ctx)
		if err != nil {
			return err
		}
		tickets = append(tickets, batch...)
	}
	if err := s.client.Tenant.UpdateOneID(s.tenantID).SetTicketSeq(int64(count)).Exec(ctx); err != nil {
		return err
	}
	comments := []string{"已联系客户，等待回复。", "已核实订单信息。", "客户同意退款方案。", "转交仓库处理。"}
	var cb []*ent.TicketCommentCreate
	for _, t := range tickets {
		for j := range s.r.IntN(4) {
			author := s.staff[Sup1]
			if t.AssigneeID != nil {
				author = *t.AssigneeID
			}
			at := t.CreatedAt.Add(time.Duration(j+1) * time.Hour)
			cb = append(cb, s.client.TicketComment.Create().
				SetTenantID(s.tenantID).SetTicketID(t.ID).SetAuthorID(author).
				SetBody(comments[s.r.IntN(len(comments))]).SetInternal(s.r.chance(0.4)).
				SetCreatedAt(at).SetUpdatedAt(at))
		}
	}
	for i := 0; i < len(cb); i += customerBatch {
		if err := s.client.TicketComment.CreateBulk(cb[i:min(i+customerBatch, len(cb))]...).Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (s *seeder) formSet(ctx context.Context) error {
	help := "请填写下单时预留的手机号"
	survey, err := s.client.Form.Create().
		SetTenantID(s.tenantID).
		SetName("售后服务满意度调查").
		SetDescription("工单关闭后发送给客户").
		SetStatus(form.StatusPublished).
		SetFields([]schematype.FormField{
			{Key: "rating", Label: "整体满意度", Type: schematype.FormFieldSelect, Required: true, Options: []string{"非常满意", "满意", "一般", "不满意"}},
			{Key: "resolved", Label: "问题是否已解决", Type: schematype.FormFieldCheckbox, Required: true},
			{Key: "comment", Label: "其他建议", Type: schematype.FormFieldTextarea},
			{Key: "phone", Label: "联系电话", Type: schematype.FormFieldPhone, HelpText: &help},
		}).
		Save(ctx)
	if err != nil {
		return err
	}
	if _, err := s.client.Form.Create().
		SetTenantID(s.tenantID).
		SetName("会员注册").
		SetStatus(form.StatusPublished).
		SetFields([]schematype.FormField{
			{Key: "name", Label: "姓名", Type: schematype.FormFieldText, Required: true},
			{Key: "phone", Label: "手机号", Type: schematype.FormFieldPhone, Required: true},
			{Key: "birthday", Label: "生日", Type: schematype.FormFieldDate},
			{Key: "interests", Label: "感兴趣的品类", Type: schematype.FormFieldMultiSelect, Options: []string{"美妆护肤", "母婴", "数码", "运动户外", "美食"}},
		}).
		Save(ctx); err != nil {
		return err
	}
	ratings := []string{"非常满意", "满意", "满意", "一般", "不满意"}
	var subs []*ent.FormSubmissionCreate
	for range 20 {
		at := s.r.within(30 * 24 * time.Hour)
		subs = append(subs, s.client.FormSubmission.Create().
			SetTenantID(s.tenantID).SetFormID(survey.ID).SetFormVersion(survey.Version).
			SetCustomerID(s.customers[s.r.IntN(len(s.customers))]).
			SetData(map[string]any{"rating": ratings[s.r.IntN(len(ratings))], "resolved": s.r.chance(0.8)}).
			SetStatus(formsubmission.StatusSubmitted).
			SetSourceChannel(formsubmission.SourceChannelMiniProgram).
			SetSubmittedAt(at).SetCreatedAt(at).SetUpdatedAt(at))
	}
	return s.client.FormSubmission.CreateBulk(subs...).Exec(ctx)
}

func (s *seeder) campaignSet(ctx context.Context) error {
	if _, err := s.client.Campaign.Create().
		SetTenantID(s.tenantID).
		SetName("双十二会员专享").
		SetKind(campaign.KindScheduled).
		SetStatus(campaign.StatusScheduled).
		SetChannel(campaign.ChannelWecomPrivate).
		SetSegmentRules(map[string]any{"tagsAny": []any{"VIP"}, "minTotalSpend": 100000}).
		SetMessageTemplate("{{name}} 您好，双十二会员专享价已开启，点击查看 >>").
		SetScheduledAt(time.Date(2026, 12, 12, 2, 0, 0, 0, time.UTC)).
		Save(ctx); err != nil {
		return err
	}
	_, err := s.client.Campaign.Create().
		SetTenantID(s.tenantID).
		SetName("新客欢迎语").
		SetKind(campaign.KindTriggered).
		SetStatus(campaign.StatusRunning).
		SetChannel(campaign.ChannelWecomPrivate).
		SetTriggerEvent("customer.added").
		SetMessageTemplate("欢迎添加悦享生活客服，回复 1 领取新人券").
		Save(ctx)
	return err
}

// connectorAccounts adds the tenant's WeCom corp and shops, with the
// credentials the demo platforms (internal/demoplatforms) accept.
func (s *seeder) connectorAccounts(ctx context.Context) error {
	for _, in := range demoplatforms.Accounts(s.spec.slug) {
		secrets, err := json.Marshal(connectoraccounts.SecretsFrom(in))
		if err != nil {
			return err
		}
		c := s.client.ConnectorAccount.Create().SetTenantID(s.tenantID).
			SetPlatform(in.Platform).SetName(in.Name).SetExternalID(connectoraccounts.ExternalIDOf(in)).
			SetCredentials(string(secrets)).SetCallbackKey(demoplatforms.CallbackKey(s.spec.slug, in.Platform)).
			SetNillableAppKey(in.AppKey).SetNillableWelcomeMessage(in.WelcomeMessage)
		if in.AgentID != nil {
			c.SetAgentID(int64(*in.AgentID))
		}
		if s.spec.slug != "demo" {
			// The demo platforms serve tenant demo's corp and shops only.
			c.SetStatus(connectoraccount.StatusPaused)
		}
		if err := c.Exec(ctx); err != nil {
			return err
		}
	}
	return nil
}

// channelSet adds a store QR code on the tenant's WeCom account: the two
// agents on weekdays, the supervisor as backup. It is not on WeCom yet:
// the channel rotation job creates its contact way once the account
// syncs.
func (s *seeder) channelSet(ctx context.Context) error {
	acc, err := s.client.ConnectorAccount.Query().
		Where(connectoraccount.TenantID(s.tenantID), connectoraccount.PlatformEQ(connectoraccount.PlatformWecom)).Only(ctx)
	if err != nil {
		return err
	}
	return s.client.Channel.Create().SetTenantID(s.tenantID).SetAccountID(acc.ID).
		SetName("门店导购活码").SetState("store-qr").
		SetRotation([]schematype.ChannelShift{{Weekdays: []int{1, 2, 3, 4, 5}, Start: "09:00", End: "18:00",
			StaffIDs: []int{s.staff[Agent1], s.staff[Agent2]}}}).
		SetDailyAddLimit(50).AddBackupStaffIDs(s.staff[Sup1]).AddTagIDs(s.tags[len(s.tags)-4]).
		SetWelcomeMessage("欢迎扫码添加门店导购，回复“到店”领取到店礼。").Exec(ctx)
}

// partnerSet shows the partner side of the console: a revoked example API
// key (its secret was never kept), a trusted-document list of one agent
// console operation, and a paused webhook endpoint with one abandoned
// delivery. Live keys and endpoints are made through the API, which shows
// their secrets once.
func (s *seeder) partnerSet(ctx context.Context) error {
	revoked := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := s.client.APIKey.Create().SetTenantID(s.tenantID).SetName("示例 ERP（已吊销）").
		SetPrefix("scrm_pk_" + randomAlnum(8)).SetSecretHash(strings.Repeat("0", 64)).
		SetScopes([]string{"Order", "Query.orders"}).SetRevokedAt(revoked).Exec(ctx); err != nil {
		return err
	}
	body := "query ConsoleMe { me { id name } }"
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	if err := s.client.TrustedDocument.Create().SetTenantID(s.tenantID).SetList("agent-console").
		SetDocumentID("sha256:" + hash).SetHash(hash).SetBody(body).SetOperationName("ConsoleMe").Exec(ctx); err != nil {
		return err
	}
	ep, err := s.client.WebhookEndpoint.Create().SetTenantID(s.tenantID).
		SetURL("https://partner.example.com/scrm/webhooks").SetDescription("示例：仓储系统").
		SetEventKinds([]string{"order.*", "ticket.*"}).SetSecret("whsec_" + randomAlnum(32)).
		SetStatus(webhookendpoint.StatusPaused).SetPauseReason("示例端点，未接收投递").SetPausedAt(revoked).Save(ctx)
	if err != nil {
		return err
	}
	return s.client.WebhookDelivery.Create().SetTenantID(s.tenantID).SetEndpointID(ep.ID).
		SetKind("ticket.created").SetPayload(`{"kind":"ticket.created"}`).
		SetStatus(webhookdelivery.StatusAbandoned).SetAttempts(3).SetResponseStatus(503).
		SetLastError("503 Service Unavailable").Exec(ctx)
}

func randomAlnum(n int) string {
	const letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = cryptorand.Read(b)
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}
