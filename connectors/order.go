package connectors

import "time"

// OrderStatus is the product's order status (the Order entity's enum
// values). Each shop connector maps its platform's statuses onto these
// and documents the mapping.
type OrderStatus string

// Order statuses.
const (
	OrderCreated   OrderStatus = "CREATED"
	OrderPaid      OrderStatus = "PAID"
	OrderShipped   OrderStatus = "SHIPPED"
	OrderCompleted OrderStatus = "COMPLETED"
	OrderRefunding OrderStatus = "REFUNDING"
	OrderRefunded  OrderStatus = "REFUNDED"
	OrderCancelled OrderStatus = "CANCELLED"
)

// Rank orders statuses along an order's life: created < paid < shipped <
// completed, then refunding < refunded < cancelled (an after-sale or a
// close ends the story). It breaks ties between two versions of an order
// with the same UpdatedAt: the higher rank wins. Unknown statuses rank
// below every known one.
func Rank(s OrderStatus) int {
	switch s {
	case OrderCreated:
		return 0
	case OrderPaid:
		return 1
	case OrderShipped:
		return 2
	case OrderCompleted:
		return 3
	case OrderRefunding:
		return 4
	case OrderRefunded:
		return 5
	case OrderCancelled:
		return 6
	}
	return -1
}

// OrderItem is one line of an order. Money is in fen (0.01 yuan).
type OrderItem struct {
	SKU, Name    string
	Quantity     int
	UnitPriceFen int64
	AmountFen    int64
}

// Order is the neutral order every shop connector returns. Money is in
// fen (0.01 yuan).
type Order struct {
	Platform string // "TAOBAO", "TMALL" or "DOUYIN"
	ShopID   string
	ID       string // the platform's order id
	Status   OrderStatus
	// BuyerID is the buyer's id in the shop's app: Taobao buyer_open_uid,
	// Douyin doudian_open_id.
	BuyerID   string
	BuyerNick string
	// BuyerPhone is the buyer's plain mobile if the platform gives one,
	// "" when it is masked or encrypted.
	BuyerPhone   string
	BuyerUnionID string

	TotalFen, DiscountFen, ShippingFen, PaidFen, RefundedFen int64

	PlacedAt                       time.Time
	PaidAt, ShippedAt, CompletedAt *time.Time
	// UpdatedAt is the platform's last-modified time: of two versions of
	// an order, the newer wins (Rank breaks ties).
	UpdatedAt time.Time

	Items []OrderItem
	// ReturnRequested: a refund or return request exists on the order,
	// in any after-sale state (open, refused, closed or done).
	ReturnRequested bool
}
