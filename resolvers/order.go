package resolvers

import (
	"context"
	"fmt"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/orderitem"
	"github.com/scrm-dev/scrm/graph/model"
	"github.com/scrm-dev/scrm/internal/apperr"
)

// createOrder writes an order and its lines; the mutation's transaction
// makes the two one write.
func createOrder(ctx context.Context, db *ent.Client, input model.CreateOrderInput) (*ent.Order, error) {
	lines := make([]*ent.OrderItemCreate, len(input.Items))
	for i, it := range input.Items {
		amount := int64(it.Quantity) * int64(it.UnitPrice)
		if it.Amount != nil {
			amount = int64(*it.Amount)
		}
		sku := ""
		if it.Sku != nil {
			sku = *it.Sku
		}
		// Check each line with the schema's own validators so the error
		// can name the line at fault.
		for _, c := range []struct {
			field string
			err   error
		}{
			{"name", orderitem.NameValidator(it.Name)},
			{"sku", orderitem.SkuValidator(sku)},
			{"quantity", orderitem.QuantityValidator(it.Quantity)},
			{"unitPrice", orderitem.UnitPriceValidator(int64(it.UnitPrice))},
			{"amount", orderitem.AmountValidator(amount)},
		} {
			if c.err != nil {
				return nil, apperr.Invalid(fmt.Sprintf("items[%d].%s", i, c.field), "%s", c.err)
			}
		}
		lines[i] = db.OrderItem.Create().
			SetName(it.Name).
			SetSku(sku).
			SetQuantity(it.Quantity).
			SetUnitPrice(int64(it.UnitPrice)).
			SetAmount(amount)
	}
	o, err := db.Order.Create().SetInput(input.CreateOrderInput).Save(ctx)
	if err != nil {
		return nil, err
	}
	if len(lines) == 0 {
		return o, nil
	}
	for _, l := range lines {
		l.SetOrderID(o.ID)
	}
	if err := db.OrderItem.CreateBulk(lines...).Exec(ctx); err != nil {
		return nil, err
	}
	return o, nil
}
