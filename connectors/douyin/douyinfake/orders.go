package douyinfake

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strconv"
	"time"
)

// Item is one SKU order.
type Item struct {
	SkuID, Title string
	Qty          int
	PriceFen     int64
}

// Order is a shop order in neutral form.
type Order struct {
	ID          string // shop_order_id
	BuyerID     string // doudian_open_id
	BuyerNick   string
	BuyerMobile string // post_tel, returned masked and as an opaque token
	Status      string // one of the Status constants ("1".."5")
	// TotalFen is order_amount, PaidFen pay_amount (total + post -
	// discount in generated orders).
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
// (unchanged when empty) and its update time at; the first move to a paid
// status sets the pay time. Unknown IDs are ignored.
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
	return status == StatusPaid || status == StatusShipped || status == StatusCompleted
}

// OrderIDs returns every order ID, sorted.
func (s *Server) OrderIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ids := make([]string, 0, len(s.orders))
	for id := range s.orders {
		ids = append(ids, id)
	}
	slices.SortFunc(ids, compareIDs)
	return ids
}

// compareIDs orders IDs numerically when both are decimal, else as
// strings.
func compareIDs(a, b string) int {
	if len(a) != len(b) && isDigits(a) && isDigits(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

var products = []struct {
	title string
	fen   int64
}{
	{"网红零食大礼包", 5990}, {"玻尿酸精华液 30ml", 15900}, {"冰丝防晒袖套", 1990},
	{"便携榨汁杯", 8900}, {"加厚珊瑚绒毛毯", 12900}, {"速干运动短裤", 4900},
	{"手机支架", 990}, {"洗衣凝珠 52颗", 3990}, {"保温饭盒", 6900}, {"护眼台灯", 19900},
}

// Generate adds n orders whose update times are spread over [from, to)
// (whole seconds), the same for the same seed. About n/3 distinct buyers
// share them (the first n/3 orders each have a new buyer, the rest pick
// one at random), each with a stable doudian_open_id, nick and phone.
// Statuses cover the order life cycle; about one paid order in eight has
// a refund (refunded and cancelled, or refund pending while waiting to
// ship). Generated IDs are 19-digit numbers 16 apart.
func (s *Server) Generate(seed int64, n int, from, to time.Time) {
	r := rand.New(rand.NewPCG(uint64(seed), 0xd0d1))
	buyers := max(1, n/3)
	span := max(int64(to.Sub(from)/time.Second), 1)
	base := 6_920_000_000_000_000_000 + int64(r.Uint64N(1<<40))*16
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
		idSum := sha256.Sum256(fmt.Appendf(nil, "buyer|%d|%d", seed, b))
		o := Order{
			ID:          strconv.FormatInt(base+int64(i)*16, 10),
			BuyerID:     "1@#" + base64.StdEncoding.EncodeToString(idSum[:24]),
			BuyerNick:   fmt.Sprintf("抖音用户%d", 10000+b),
			BuyerMobile: fmt.Sprintf("1%d%09d", 3+b%6, (uint64(seed)*7919+uint64(b)*104729)%1_000_000_000),
			Created:     created,
			Modified:    modified,
		}
		for range 1 + r.IntN(3) {
			pi := r.IntN(len(products))
			o.Items = append(o.Items, Item{
				SkuID:    strconv.FormatInt(1_700_000_000_000+int64(pi), 10),
				Title:    products[pi].title,
				Qty:      1 + r.IntN(3),
				PriceFen: products[pi].fen,
			})
		}
		for _, it := range o.Items {
			o.TotalFen += it.PriceFen * int64(it.Qty)
		}
		if r.IntN(3) == 0 {
			o.PostFeeFen = 600
		}
		o.DiscountFen = o.TotalFen * int64(r.IntN(11)) / 100
		o.PaidFen = o.TotalFen + o.PostFeeFen - o.DiscountFen
		o.RefundStatus = RefundNone
		switch x := r.IntN(100); {
		case x < 10:
			o.Status = StatusUnpaid
		case x < 15:
			o.Status = StatusCancelled
		case x < 35:
			o.Status = StatusPaid
		case x < 55:
			o.Status = StatusShipped
		default:
			o.Status = StatusCompleted
		}
		if paid(o.Status) {
			o.PaidAt = earlier(created.Add(time.Duration(1+r.IntN(30))*time.Minute), modified)
			if r.IntN(8) == 0 {
				if o.Status == StatusPaid {
					o.RefundStatus = RefundToRefund
				} else {
					o.Status, o.RefundStatus = StatusCancelled, RefundSuccess
				}
			}
		}
		orders = append(orders, o)
	}
	for _, o := range orders {
		s.AddOrder(o)
	}
}

// earlier is the earlier of two times.
func earlier(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.Unix()
}

// idValue is an ID as a JSON number when it is an int64, else a string.
func idValue(id string) any {
	if _, err := strconv.ParseInt(id, 10, 64); err == nil {
		return json.Number(id)
	}
	return id
}

// skuOrderID is SKU order i's ID: the shop order ID plus i+1 when that is
// an int64, else ID-i.
func skuOrderID(id string, i int) string {
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		return strconv.FormatInt(n+int64(i)+1, 10)
	}
	return fmt.Sprintf("%s-%d", id, i+1)
}

func maskTel(tel string) string {
	if len(tel) < 7 {
		return tel
	}
	return tel[:3] + "****" + tel[len(tel)-4:]
}

// encryptTel is an opaque, stable stand-in for the platform's
// ciphertext.
func encryptTel(tel string) string {
	if tel == "" {
		return ""
	}
	sum := sha256.Sum256([]byte("post_tel|" + tel))
	return "#" + hex.EncodeToString(sum[:12]) + "#fake#"
}

func afterSaleStatus(refund string) int {
	switch refund {
	case RefundToRefund, RefundRefunding:
		return 6
	case RefundSuccess:
		return 12
	}
	return 0
}

// orderJSON is a shop order as the platform writes it in both the list
// and the detail.
func (s *Server) orderJSON(o *Order) map[string]any {
	status, _ := strconv.Atoi(o.Status)
	refund := o.RefundStatus
	if refund == "" {
		refund = RefundNone
	}
	rs, _ := strconv.Atoi(refund)
	skus := []any{}
	for i, it := range o.Items {
		skus = append(skus, map[string]any{
			"order_id":          skuOrderID(o.ID, i),
			"parent_order_id":   o.ID,
			"sku_id":            idValue(it.SkuID),
			"product_name":      it.Title,
			"item_num":          it.Qty,
			"origin_amount":     it.PriceFen * int64(it.Qty),
			"order_status":      status,
			"order_status_desc": statusDesc[o.Status],
			"after_sale_info": map[string]any{
				"after_sale_status": afterSaleStatus(refund),
				"refund_status":     rs,
			},
		})
	}
	return map[string]any{
		"order_id":          o.ID,
		"shop_id":           s.o.ShopID,
		"order_status":      status,
		"order_status_desc": statusDesc[o.Status],
		"doudian_open_id":   o.BuyerID,
		"user_nick_name":    o.BuyerNick,
		"encrypt_post_tel":  encryptTel(o.BuyerMobile),
		"mask_post_tel":     maskTel(o.BuyerMobile),
		"order_amount":      o.TotalFen,
		"pay_amount":        o.PaidFen,
		"post_amount":       o.PostFeeFen,
		"promotion_amount":  o.DiscountFen,
		"create_time":       unix(o.Created),
		"update_time":       unix(o.Modified),
		"pay_time":          unix(o.PaidAt),
		"sku_order_list":    skus,
	}
}

func (s *Server) searchList(p bizParams) (map[string]any, *apiError) {
	page, size := int64(0), int64(defaultPageSize)
	var err *apiError
	if p.has("page") {
		if page, err = p.int("page"); err != nil {
			return nil, err
		}
		if page < 0 {
			return nil, fail(CodeInvalidBusiness, SubParameterInvalid+":page", "page starts at 0")
		}
	}
	if p.has("size") {
		if size, err = p.int("size"); err != nil {
			return nil, err
		}
		if size < 1 || size > maxPageSize {
			return nil, fail(CodeInvalidBusiness, SubParameterInvalid+":size", "size must be 1..%d", maxPageSize)
		}
	}
	type bound struct {
		key    string
		v      int64
		set    bool
		create bool
		lower  bool
	}
	bounds := []bound{{key: "update_time_start", lower: true}, {key: "update_time_end"},
		{key: "create_time_start", create: true, lower: true}, {key: "create_time_end", create: true}}
	for i := range bounds {
		if p.has(bounds[i].key) {
			if bounds[i].v, err = p.int(bounds[i].key); err != nil {
				return nil, err
			}
			bounds[i].set = true
		}
	}
	byUpdate := false
	switch p.str("order_by") {
	case "", "create_time":
	case "update_time":
		byUpdate = true
	default:
		return nil, fail(CodeInvalidBusiness, SubParameterInvalid+":order_by", "order_by is create_time or update_time")
	}
	asc := p.str("order_asc") == "true"

	var hits []*Order
	for _, o := range s.orders {
		ok := true
		for _, b := range bounds {
			t := o.Modified.Unix()
			if b.create {
				t = o.Created.Unix()
			}
			if b.set && (b.lower && t < b.v || !b.lower && t > b.v) {
				ok = false
			}
		}
		if ok {
			hits = append(hits, o)
		}
	}
	key := func(o *Order) int64 {
		if byUpdate {
			return o.Modified.Unix()
		}
		return o.Created.Unix()
	}
	sort.Slice(hits, func(i, j int) bool {
		a, b := hits[i], hits[j]
		if !asc {
			a, b = b, a
		}
		if key(a) != key(b) {
			return key(a) < key(b)
		}
		return compareIDs(a.ID, b.ID) < 0
	})
	list := []any{}
	for i := page * size; i < int64(len(hits)) && i < (page+1)*size; i++ {
		list = append(list, s.orderJSON(hits[i]))
	}
	return map[string]any{"shop_order_list": list, "page": page, "size": size, "total": len(hits)}, nil
}

func (s *Server) orderDetail(p bizParams) (map[string]any, *apiError) {
	id := p.str("shop_order_id")
	if id == "" {
		return nil, missing("shop_order_id")
	}
	o := s.orders[id]
	if o == nil {
		return nil, fail(CodeBusinessFailed, SubBusinessFailed, "订单不存在: %s", id)
	}
	return map[string]any{"shop_order_detail": s.orderJSON(o)}, nil
}
