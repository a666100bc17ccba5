package seed_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/customer"
	"github.com/scrm-dev/scrm/ent/order"
	"github.com/scrm-dev/scrm/ent/staff"
	"github.com/scrm-dev/scrm/ent/ticket"
	"github.com/scrm-dev/scrm/internal/seed"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

// digest summarises what a user sees of the demo data.
func digest(t *testing.T, c *ent.Client) string {
	t.Helper()
	ctx := viewer.System(context.Background())
	h := sha256.New()
	for _, cu := range c.Customer.Query().Order(customer.ByID()).AllX(ctx) {
		fmt.Fprintln(h, cu.Name, cu.Phone, cu.City, cu.Address, cu.TotalSpend, cu.OrderCount)
	}
	for _, o := range c.Order.Query().Order(order.ByID()).AllX(ctx) {
		fmt.Fprintln(h, o.PlatformOrderID, o.Status, o.PaidAmount, o.PlacedAt.Unix())
	}
	for _, tk := range c.Ticket.Query().Order(ticket.ByID()).AllX(ctx) {
		fmt.Fprintln(h, tk.Number, tk.Title, tk.Status)
	}
	return fmt.Sprintf("%x", h.Sum(nil))
}

func TestDemoDataIsDeterministic(t *testing.T) {
	a := testenv.OpenStore(t, testenv.SQLite)
	b := testenv.OpenStore(t, testenv.SQLite)
	for _, st := range []*ent.Client{a.Client, b.Client} {
		if err := seed.Demo(context.Background(), st, seed.Options{}); err != nil {
			t.Fatal(err)
		}
	}
	if digest(t, a.Client) != digest(t, b.Client) {
		t.Fatal("two seeds of the demo data differ")
	}
	if err := seed.Demo(context.Background(), a.Client, seed.Options{}); !errors.Is(err, seed.ErrAlreadySeeded) {
		t.Fatalf("seeding twice: %v", err)
	}
}

func TestDemoDataHasWhatTheDemoNeeds(t *testing.T) {
	for _, backend := range testenv.DatabaseBackends() {
		t.Run(backend, func(t *testing.T) {
			st := testenv.OpenStore(t, backend)
			if err := seed.Demo(context.Background(), st.Client, seed.Options{}); err != nil {
				t.Fatal(err)
			}
			ctx := viewer.System(context.Background())
			for _, slug := range []string{"demo", "acme"} {
				c := st.Client
				customers := c.Customer.Query().Where(customer.HasTenantWith(tenantSlug(slug))).CountX(ctx)
				orders := c.Order.Query().Where(order.HasTenantWith(tenantSlug(slug))).CountX(ctx)
				tickets := c.Ticket.Query().Where(ticket.HasTenantWith(tenantSlug(slug))).CountX(ctx)
				if customers != seed.DefaultCustomers || orders != seed.DefaultOrders || tickets != seed.DefaultTickets {
					t.Errorf("%s: %d customers, %d orders, %d tickets", slug, customers, orders, tickets)
				}
				for _, agent := range []string{seed.Agent1, seed.Agent2} {
					s := c.Staff.Query().Where(staff.Login(agent), staff.HasTenantWith(tenantSlug(slug))).OnlyX(ctx)
					followed := s.QueryFollowedCustomers().CountX(ctx)
					assigned := s.QueryAssignedTickets().CountX(ctx)
					if followed == 0 || assigned == 0 {
						t.Errorf("%s/%s follows %d customers and has %d tickets", slug, agent, followed, assigned)
					}
				}
				multi := 0
				for _, cu := range c.Customer.Query().Where(customer.HasTenantWith(tenantSlug(slug))).WithIdentities().AllX(ctx) {
					if len(cu.Edges.Identities) >= 2 {
						multi++
					}
					if cu.Phone != "" && !mobile(cu.Phone) {
						t.Fatalf("%s is not a mainland mobile number", cu.Phone)
					}
				}
				if multi < seed.DefaultCustomers/2 {
					t.Errorf("%s: only %d customers have identities on several platforms", slug, multi)
				}
			}
		})
	}
}

func mobile(s string) bool {
	if len(s) != 11 || s[0] != '1' || s[1] < '3' {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}
