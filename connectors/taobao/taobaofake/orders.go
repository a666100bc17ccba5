package taobaofake

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// Item is one sub-order line.
type Item struct {
	SkuID, Title string
	Qty          int
	PriceFen     int64
}

// Order is a shop's order in neutral form.
type Order struct {
	ID          string // tid
	BuyerID     string // buyer_open_uid
	BuyerNick   string
	BuyerMobile string // receiver_mobile
	Status      string // one of the Status constants
	// TotalFen is total_fee (goods total), PaidFen payment (what the
	// buyer pays: total + post - discount).
	TotalFen, PaidFen, PostFeeFen, DiscountFen int64
	Created, Modified, PaidAt                  time.Time
	Items                                      []Item
	RefundStatus                               string // one of the Refund constants; "" is RefundNone
}

// AddOrder adds o, replacing any order with the same ID.
func (s *Server) AddOrder(o Order) {
	o.Items = slices.Clone(o.Items)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orders[o.ID] = &o
}

// Order returns the order with id as the fake holds it.
func (s *Server) Order(id string) (Order, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.orders[id]
	if !ok {
		return Order{}, false
	}
	c := *o
	c.Items = slices.Clone(o.Items)
	return c, true
}

// Touch changes an order as the shop would: its status becomes status
// (unchanged when empty) and its modified time at; the first move to a
// paid status sets the pay time. Unknown IDs are ignored.
func (s *Server) Touch(orderID string, status string, at time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[orderID]
	if o == nil {
		return
	}
	if status != "" {
		o.Status = status
	}
	o.Modified = at
	if o.PaidAt.IsZero() && paid(o.Status) {
		o.PaidAt = at
	}
}

func paid(status string) bool {
	switch status {
	case StatusWaitSellerSend, StatusWaitBuyerConfirm, StatusFinished:
		return true
	}
	return false
}

// OrderIDs returns every order ID, sorted.
func (s *Server) OrderIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.orders))
	for id := range s.orders {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, func(a, b string) int {
		switch {
		case idLess(a, b):
			return -1
		case idLess(b, a):
			return 1
		}
		return 0
	})
	return ids
}

var products = []struct {
	title string
	fen   int64
}{
	{"保湿面霜 50ml", 12900}, {"氨基酸洗面奶", 5900}, {"纯棉T恤 白色 L", 7900},
	{"无线蓝牙耳机", 19900}, {"有机绿茶 250g", 8800}, {"儿童保温杯", 9900},
	{"运动袜 5双装", 2990}, {"坚果礼盒", 15800}, {"护手霜套装", 4500}, {"数据线 1m", 990},
}

// Generate adds n orders whose modified times are spread over [from, to)
// (whole seconds), the same for the same seed. About n/3 distinct buyers
// share them (the first n/3 orders each have a new buyer, the rest pick
// one at random), each buyer with a stable open uid, nick and mobile.
// Statuses cover the trade life cycle; about one order in eight has a
// refund (SUCCESS on a closed trade, or WAIT_SELLER_AGREE on one waiting
// to ship). Generated tids are 19-digit numbers 16 apart, so sub-order
// oids (tid+1, tid+2, ...) never collide.
func (s *Server) Generate(seed int64, n int, from, to time.Time) {
	r := rand.New(rand.NewPCG(uint64(seed), 0x7a6f))
	buyers := max(1, n/3)
	span := int64(to.Sub(from) / time.Second)
	if span < 1 {
		span = 1
	}
	base := 3_100_000_000_000_000_000 + int64(r.Uint64N(1<<40))*16
	orders := make([]Order, 0, n)
	for i := range n {
		b := i
		if i >= buyers {
			b = r.IntN(buyers)
		}
		modified := from.Truncate(time.Second).Add(time.Duration(r.Int64N(span)) * time.Second)
		if modified.Before(from) {
			modified = modified.Add(time.Second)
		}
		created := modified.Add(-time.Duration(r.Int64N(3*24*3600)) * time.Second)
		o := Order{
			ID:          fmt.Sprint(base + int64(i)*16),
			BuyerID:     fmt.Sprintf("AAH%08xTb%06dQ", uint32(seed)*2654435761+uint32(b)*40503, b),
			BuyerNick:   fmt.Sprintf("tb%d***%d", 100+b%900, b%10),
			BuyerMobile: fmt.Sprintf("1%d%09d", 3+b%6, (uint64(seed)*7919+uint64(b)*104729)%1_000_000_000),
			Created:     created,
			Modified:    modified,
		}
		for range 1 + r.IntN(3) {
			pi := r.IntN(len(products))
			p := products[pi]
			o.Items = append(o.Items, Item{
				SkuID:    fmt.Sprintf("50000%05d", pi),
				Title:    p.title,
				Qty:      1 + r.IntN(3),
				PriceFen: p.fen,
			})
		}
		for _, it := range o.Items {
			o.TotalFen += it.PriceFen * int64(it.Qty)
		}
		if r.IntN(3) > 0 {
			o.PostFeeFen = 0
		} else {
			o.PostFeeFen = 800
		}
		o.DiscountFen = o.TotalFen * int64(r.IntN(11)) / 100
		o.PaidFen = o.TotalFen + o.PostFeeFen - o.DiscountFen
		o.RefundStatus = RefundNone
		switch x := r.IntN(100); {
		case x < 10:
			o.Status = StatusWaitBuyerPay
		case x < 13:
			o.Status = StatusClosedByTaobao
		case x < 35:
			o.Status = StatusWaitSellerSend
		case x < 55:
			o.Status = StatusWaitBuyerConfirm
		default:
			o.Status = StatusFinished
		}
		if paid(o.Status) {
			o.PaidAt = created.Add(time.Duration(1+r.IntN(30)) * time.Minute)
			if o.PaidAt.After(modified) {
				o.PaidAt = modified
			}
			if r.IntN(8) == 0 {
				if o.Status == StatusWaitSellerSend {
					o.RefundStatus = RefundWaitSellerAgree
				} else {
					o.Status, o.RefundStatus = StatusClosed, RefundSuccess
				}
			}
		}
		orders = append(orders, o)
	}
	for _, o := range orders {
		s.AddOrder(o)
	}
}
