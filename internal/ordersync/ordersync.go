// Package ordersync stores shop orders fetched from the platforms (push
// and pull alike) exactly once and in order: the buyer is resolved to a
// customer, the order is upserted idempotently, and a return or refund
// request opens an after-sales ticket once.
//
// Ordering is last-writer-wins on the platform's update time: an order
// row changes only when the incoming version is newer, or equally new
// and further along (connectors.Rank), checked in the UPDATE's own WHERE
// clause so two workers cannot both win. Re-delivering any version any
// number of times, in any order, leaves the newest one stored. The job
// layer also runs one job per order at a time (jobs: a lease per order),
// which keeps "open the ticket once" a simple check.
//
// Customer totals and the realtime order event follow from the Order
// entity's hooks, in the same transaction.
package ordersync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/connectors"
	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/customeridentity"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/predicate"
	"github.com/scrm-dev/scrm/ent/schema"
	"github.com/scrm-dev/scrm/ent/tenant"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/pii"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// Outcome says what Store did.
type Outcome int

const (
	// Created: the order is new.
	Created Outcome = iota
	// Updated: a newer version replaced the stored one.
	Updated
	// Unchanged: the stored version is as new or newer.
	Unchanged
)

func (o Outcome) String() string { return [...]string{"created", "updated", "unchanged"}[o] }

// Result is what Store did with one order.
type Result struct {
	Outcome      Outcome
	OrderID      int
	CustomerID   int
	TicketOpened bool
}

// Store upserts o and everything that follows from it, in one
// transaction. ctx carries the tenant's viewer.
func Store(ctx context.Context, client *ent.Client, o *connectors.Order) (Result, error) {
	var res Result
	platform, err := platformOf(o.Platform)
	if err != nil {
		return res, err
	}
	tx, err := client.Tx(ctx)
	if err != nil {
		return res, err
	}
	defer func() { _ = tx.Rollback() }()
	c := tx.Client()
	existing, err := c.Order.Query().
		Where(order.PlatformEQ(platform), order.ShopID(o.ShopID), order.PlatformOrderID(o.ID)).
		Only(ctx)
	if err != nil && !ent.IsNotFound(err) {
		return res, err
	}
	if existing != nil {
		res.OrderID = existing.ID
		if existing.CustomerID != nil {
			res.CustomerID = *existing.CustomerID
		}
		// Stored versions only ever get newer, so one read in this
		// transaction that is as new as o already settles it: nothing
		// to write (re-deliveries, overlapping pulls).
		if !newer(o, existing) {
			res.Outcome = Unchanged
			return res, tx.Commit()
		}
	}
	if o.ReturnRequested {
		// Opening the ticket takes the tenant row's lock (its ticket
		// counter); take it before the inserts below take a shared lock
		// on the same row (their foreign keys), or two such orders each
		// hold the shared lock and wait for the other's: a deadlock.
		if err := lockTenant(ctx, c); err != nil {
			return res, err
		}
	}
	if existing == nil {
		res.CustomerID, err = resolveBuyer(ctx, c, o)
		if err != nil {
			return res, err
		}
		id, err := createOrder(ctx, c, platform, o, res.CustomerID)
		if err != nil {
			return res, err
		}
		res.Outcome, res.OrderID = Created, id
	} else {
		// The WHERE clause decides, so that two workers cannot both win
		// (the read above may be older than the row by now).
		err := c.Order.UpdateOneID(existing.ID).
			Where(newerThanStored(o)).
			SetStatus(order.Status(o.Status)).
			SetTotalAmount(o.TotalFen).SetDiscountAmount(o.DiscountFen).SetShippingAmount(o.ShippingFen).
			SetPaidAmount(o.PaidFen).SetRefundedAmount(o.RefundedFen).
			SetNillablePaidAt(o.PaidAt).SetNillableShippedAt(o.ShippedAt).SetNillableCompletedAt(o.CompletedAt).
			SetPlatformUpdatedAt(o.UpdatedAt).
			Exec(ctx)
		switch {
		case ent.IsNotFound(err):
			res.Outcome = Unchanged
		case err != nil:
			return res, fmt.Errorf("update order %s: %w", o.ID, err)
		default:
			res.Outcome = Updated
		}
	}
	if o.ReturnRequested && res.Outcome != Unchanged {
		opened, err := openReturnTicket(ctx, c, o, res.OrderID, res.CustomerID)
		if err != nil {
			return res, err
		}
		res.TicketOpened = opened
	}
	return res, tx.Commit()
}

// newer reports whether o is newer than the stored row: the Go side of
// newerThanStored.
func newer(o *connectors.Order, stored *ent.Order) bool {
	if stored.PlatformUpdatedAt == nil {
		return true
	}
	switch {
	case o.UpdatedAt.After(*stored.PlatformUpdatedAt):
		return true
	case o.UpdatedAt.Equal(*stored.PlatformUpdatedAt):
		return connectors.Rank(connectors.OrderStatus(stored.Status)) < connectors.Rank(o.Status)
	}
	return false
}

// lockTenant takes the lock of the viewer's tenant row until the
// transaction ends (a no-op update, as the realtime relay takes it).
func lockTenant(ctx context.Context, c *ent.Client) error {
	v := viewer.FromContext(ctx)
	if v == nil || v.TenantID == 0 {
		return fmt.Errorf("ordersync: no tenant in the context")
	}
	return c.Tenant.Update().Where(tenant.ID(v.TenantID)).AddTicketSeq(0).Exec(ctx)
}

// newerThanStored matches the stored row when o is newer than it: a later
// update time, or the same time and a status further along.
func newerThanStored(o *connectors.Order) predicate.Order {
	var behind []order.Status
	for _, s := range []connectors.OrderStatus{connectors.OrderCreated, connectors.OrderPaid, connectors.OrderShipped,
		connectors.OrderCompleted, connectors.OrderRefunding, connectors.OrderRefunded, connectors.OrderCancelled} {
		if connectors.Rank(s) < connectors.Rank(o.Status) {
			behind = append(behind, order.Status(s))
		}
	}
	return order.Or(
		order.PlatformUpdatedAtIsNil(),
		order.PlatformUpdatedAtLT(o.UpdatedAt),
		order.And(order.PlatformUpdatedAt(o.UpdatedAt), order.StatusIn(behind...)),
	)
}

func platformOf(p string) (order.Platform, error) {
	switch strings.ToUpper(p) {
	case "TAOBAO":
		return order.PlatformTaobao, nil
	case "TMALL":
		return order.PlatformTmall, nil
	case "DOUYIN":
		return order.PlatformDouyin, nil
	case "JD":
		return order.PlatformJD, nil
	}
	return "", fmt.Errorf("ordersync: unknown platform %q", p)
}

func identityPlatform(p order.Platform) customeridentity.Platform {
	switch p {
	case order.PlatformTmall:
		return customeridentity.PlatformTmall
	case order.PlatformDouyin:
		return customeridentity.PlatformDouyin
	case order.PlatformJD:
		return customeridentity.PlatformJD
	}
	return customeridentity.PlatformTaobao
}

func sourceChannel(p order.Platform) customer.SourceChannel {
	switch p {
	case order.PlatformTmall:
		return customer.SourceChannelTmall
	case order.PlatformDouyin:
		return customer.SourceChannelDouyin
	case order.PlatformJD:
		return customer.SourceChannelJD
	}
	return customer.SourceChannelTaobao
}

// resolveBuyer finds the buyer's customer: by the buyer's id on the
// platform (scoped to the shop), then by WeChat unionid, then by the
// phone's blind index; else a new customer. Identities found missing are
// added, so the next order of the same buyer is matched by platform id.
func resolveBuyer(ctx context.Context, c *ent.Client, o *connectors.Order) (int, error) {
	if o.BuyerID == "" && o.BuyerUnionID == "" && o.BuyerPhone == "" {
		return 0, nil // an anonymous order: stored without a customer
	}
	platform, _ := platformOf(o.Platform)
	idp := identityPlatform(platform)
	type key struct {
		p        customeridentity.Platform
		app, ext string
	}
	var keys []key
	if o.BuyerID != "" {
		keys = append(keys, key{idp, o.ShopID, o.BuyerID})
	}
	if o.BuyerUnionID != "" {
		keys = append(keys, key{customeridentity.PlatformWechatUnionid, "", o.BuyerUnionID})
	}
	phoneIndex := ""
	if o.BuyerPhone != "" {
		if kr, err := pii.Current(); err == nil {
			if idx := kr.PhoneIndex(o.BuyerPhone); idx != "" {
				phoneIndex = schema.PhoneIdentityPrefix + idx
				keys = append(keys, key{customeridentity.PlatformPhone, "", phoneIndex})
			}
		}
	}
	customerID := 0
	var missing []key
	for _, k := range keys {
		ids, err := c.CustomerIdentity.Query().
			Where(customeridentity.PlatformEQ(k.p), customeridentity.AppID(k.app), customeridentity.ExternalID(k.ext)).
			QueryCustomer().Where(customer.ErasedAtIsNil()).IDs(ctx)
		if err != nil {
			return 0, err
		}
		if len(ids) > 0 && customerID == 0 {
			customerID = ids[0]
		} else if len(ids) == 0 {
			missing = append(missing, k)
		}
	}
	if customerID == 0 {
		create := c.Customer.Create().SetName(trim(o.BuyerNick, 100)).SetSourceChannel(sourceChannel(platform)).
			SetFirstSeenAt(o.PlacedAt)
		if o.BuyerPhone != "" && phoneIndex != "" {
			create.SetPhone(o.BuyerPhone)
		}
		cu, err := create.Save(ctx)
		if err != nil {
			return 0, fmt.Errorf("add the buyer as a customer: %w", err)
		}
		customerID = cu.ID
	}
	for _, k := range missing {
		ext := k.ext
		if k.p == customeridentity.PlatformPhone {
			ext = o.BuyerPhone // the data layer stores its blind index
		}
		if err := c.CustomerIdentity.Create().SetCustomerID(customerID).SetPlatform(k.p).SetAppID(k.app).
			SetExternalID(ext).Exec(ctx); err != nil {
			return 0, fmt.Errorf("add the buyer's identity: %w", err)
		}
	}
	return customerID, nil
}

func createOrder(ctx context.Context, c *ent.Client, platform order.Platform, o *connectors.Order, customerID int) (int, error) {
	create := c.Order.Create().
		SetPlatform(platform).SetShopID(o.ShopID).SetPlatformOrderID(o.ID).
		SetStatus(order.Status(o.Status)).
		SetTotalAmount(o.TotalFen).SetDiscountAmount(o.DiscountFen).SetShippingAmount(o.ShippingFen).
		SetPaidAmount(o.PaidFen).SetRefundedAmount(o.RefundedFen).
		SetPlacedAt(o.PlacedAt).SetNillablePaidAt(o.PaidAt).SetNillableShippedAt(o.ShippedAt).
		SetNillableCompletedAt(o.CompletedAt).SetPlatformUpdatedAt(o.UpdatedAt)
	if customerID != 0 {
		create.SetCustomerID(customerID)
	}
	saved, err := create.Save(ctx)
	if err != nil {
		return 0, fmt.Errorf("add order %s: %w", o.ID, err)
	}
	if len(o.Items) > 0 {
		items := make([]*ent.OrderItemCreate, len(o.Items))
		for i, it := range o.Items {
			items[i] = c.OrderItem.Create().SetOrderID(saved.ID).SetName(trim(nonEmpty(it.Name, it.SKU), 200)).
				SetSku(trim(it.SKU, 64)).SetQuantity(max(it.Quantity, 1)).SetUnitPrice(it.UnitPriceFen).SetAmount(it.AmountFen)
		}
		if err := c.OrderItem.CreateBulk(items...).Exec(ctx); err != nil {
			return 0, fmt.Errorf("add the lines of order %s: %w", o.ID, err)
		}
	}
	return saved.ID, nil
}

// openReturnTicket opens the order's after-sales ticket unless it has one.
func openReturnTicket(ctx context.Context, c *ent.Client, o *connectors.Order, orderID, customerID int) (bool, error) {
	exists, err := c.Ticket.Query().Where(ticket.OrderID(orderID), ticket.SourceEQ(ticket.SourceOrderReturn)).Exist(ctx)
	if err != nil || exists {
		return false, err
	}
	create := c.Ticket.Create().
		SetTitle(trim(fmt.Sprintf("退货/退款申请 · %s 订单 %s", platformName(o.Platform), o.ID), 200)).
		SetDescription(fmt.Sprintf("The buyer asked for a return or refund on %s order %s (shop %s) at %s.",
			o.Platform, o.ID, o.ShopID, o.UpdatedAt.UTC().Format(time.RFC3339))).
		SetCategory("after_sales").SetSource(ticket.SourceOrderReturn).SetOrderID(orderID)
	if customerID != 0 {
		create.SetCustomerID(customerID)
	}
	if err := create.Exec(ctx); err != nil {
		return false, fmt.Errorf("open the return ticket of order %s: %w", o.ID, err)
	}
	return true, nil
}

func platformName(p string) string {
	switch strings.ToUpper(p) {
	case "TAOBAO":
		return "淘宝"
	case "TMALL":
		return "天猫"
	case "DOUYIN":
		return "抖音"
	}
	return p
}

func trim(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n])
	}
	return s
}

func nonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	if b != "" {
		return b
	}
	return "-"
}
