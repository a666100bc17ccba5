package authz_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/scrm-dev/scrm/authz"
	"github.com/scrm-dev/scrm/internal/testenv"
	"github.com/scrm-dev/scrm/internal/viewer"
)

func TestAnonymousGrantsAllowOnlyTheMiniProgramSignIn(t *testing.T) {
	g := authz.AnonymousGrants()
	for _, obj := range [][2]string{{"Mutation", "loginWithMiniProgram"}, {"CustomerLoginPayload", "token"}, {"CustomerLoginPayload", "customerID"}} {
		if d := g.Read(obj[0], obj[1]); d != authz.Allow {
			t.Errorf("%s.%s: %v", obj[0], obj[1], d)
		}
	}
	for _, obj := range [][2]string{{"Query", "myCustomer"}, {"Mutation", "createMyTicket"}, {"Query", "customers"},
		{"Query", "node"}, {"Customer", "name"}, {"Mutation", "loginWithMiniProgramX"}} {
		if d := g.Read(obj[0], obj[1]); d != authz.Deny {
			t.Errorf("%s.%s: %v", obj[0], obj[1], d)
		}
	}
	if g.CanWrite("Customer", "name") || g.CanReveal("Customer", "phone") || g.TenantID() != 0 || len(g.Roles()) != 0 {
		t.Error("anonymous grants write, reveal, or have a tenant or roles")
	}
	if authz.FromContext(authz.Anonymous(context.Background())) != g {
		t.Error("Anonymous does not carry the anonymous grants")
	}
}

func TestResolveCustomer(t *testing.T) {
	ctx := context.Background()
	st := testenv.OpenStore(t, testenv.SQLite)
	sys := viewer.System(ctx)
	a, err := authz.New(ctx, authz.Options{DB: st.DB, Driver: st.Driver(), Logger: quiet, ReloadEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	t1 := st.Client.Tenant.Create().SetName("Shop One").SetSlug("shop-one").SaveX(sys).ID
	t2 := st.Client.Tenant.Create().SetName("Shop Two").SetSlug("shop-two").SaveX(sys).ID
	if err := a.Reload(); err != nil {
		t.Fatal(err)
	}
	newCustomer := func(tenant int) int {
		return st.Client.Customer.Create().SetTenantID(tenant).SetName("顾客").SaveX(sys).ID
	}
	alive, erased, merged := newCustomer(t1), newCustomer(t1), newCustomer(t1)
	st.Client.Customer.UpdateOneID(erased).SetErasedAt(time.Now()).ExecX(sys)
	st.Client.Customer.UpdateOneID(merged).SetMergedIntoID(alive).ExecX(sys)

	t.Run("a live customer gets the customer role only, and no staff identity", func(t *testing.T) {
		token := &viewer.Viewer{TenantID: t1, CustomerID: alive, Roles: []string{"admin"}}
		v, g, err := a.Resolve(ctx, st.Client, token)
		if err != nil {
			t.Fatal(err)
		}
		if v.CustomerID != alive || v.StaffID != 0 || v.Scope != nil || len(v.Roles) != 1 || v.Roles[0] != authz.RoleCustomer {
			t.Fatalf("viewer %+v", v)
		}
		for obj, want := range map[[2]string]authz.Decision{
			{"Query", "myCustomer"}: authz.Allow, {"Customer", "name"}: authz.Allow, {"Customer", "phone"}: authz.Allow,
			{"Query", "customers"}: authz.Deny, {"Query", "staff"}: authz.Deny, {"Query", "node"}: authz.Deny,
			{"Ticket", "assignee"}: authz.Deny, {"TicketComment", "internal"}: authz.Deny, {"Customer", "tags"}: authz.Deny,
		} {
			if got := g.Read(obj[0], obj[1]); got != want {
				t.Errorf("%s.%s: %v, want %v", obj[0], obj[1], got, want)
			}
		}
		if !g.CanWrite("FormSubmission", "data") || g.CanWrite("Customer", "name") {
			t.Error("customer writes: want form submissions only")
		}
	})

	for name, v := range map[string]*viewer.Viewer{
		"an erased customer":             {TenantID: t1, CustomerID: erased},
		"a customer merged into another": {TenantID: t1, CustomerID: merged},
		"a customer of another tenant":   {TenantID: t2, CustomerID: alive},
		"a customer that does not exist": {TenantID: t1, CustomerID: alive + 1000},
	} {
		t.Run(name+" must sign in again", func(t *testing.T) {
			if _, _, err := a.Resolve(ctx, st.Client, v); !errors.Is(err, authz.ErrCustomerGone) {
				t.Fatalf("want ErrCustomerGone, got %v", err)
			}
			_, err := a.Authorize(st.Client)(ctx, v)
			if err == nil || err.Error() != "the customer's account has changed; sign in again" {
				t.Fatalf("Authorize: %v", err)
			}
		})
	}
}
