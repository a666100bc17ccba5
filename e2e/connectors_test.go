package e2e_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/hibiken/asynq"

	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/internal/seed"
)

const createAccount = `mutation($input: CreateConnectorAccountInput!) {
  createConnectorAccount(input: $input) {
    id platform name externalID agentID status callbackURL secretsSet
  }
}`

// wecomInput is a valid WeCom account as the admin console would send it.
func wecomInput(corp string) map[string]any {
	return map[string]any{
		"platform": "WECOM", "name": "Demo corp", "corpID": corp, "agentID": 1000002,
		"secret": "app-secret-value", "callbackToken": "Tok3n",
		"encodingAESKey": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
	}
}

func TestConnectorAccounts(t *testing.T) {
	forEachBackend(t, func(t *testing.T, e *env) {
		admin := e.token(t, "demo", seed.Admin)
		corp := "ww" + strings.ToLower(e.backend[:3]) + "0123456789ab"

		var created struct {
			CreateConnectorAccount struct {
				ID          string
				Platform    string
				ExternalID  string
				AgentID     int
				Status      string
				CallbackURL string
				SecretsSet  []string
			}
		}
		e.post(t, admin, createAccount, map[string]any{"input": wecomInput(corp)}).ok(t).decode(t, &created)
		a := created.CreateConnectorAccount
		if a.Platform != "WECOM" || a.ExternalID != corp || a.AgentID != 1000002 || a.Status != "ACTIVE" {
			t.Fatalf("created %+v", a)
		}
		if !strings.HasPrefix(a.CallbackURL, publicURL+"/connectors/wecom/") || !strings.HasSuffix(a.CallbackURL, "/callback") {
			t.Fatalf("callbackURL %q", a.CallbackURL)
		}
		if got := strings.Join(a.SecretsSet, ","); got != "callbackToken,encodingAESKey,secret" {
			t.Fatalf("secretsSet %q", got)
		}

		// The secrets are sealed in the database and never in any answer.
		stored, err := e.st.Client.ConnectorAccount.Query().Where(connectoraccount.ExternalID(corp)).Only(sys())
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(stored.Credentials, "app-secret-value") {
			t.Fatalf("entity does not carry the opened secrets: %q", stored.Credentials)
		}
		var raw string
		if err := e.st.DB.QueryRow("SELECT credentials FROM connector_accounts WHERE id = ?", stored.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(raw, "app-secret-value") || strings.Contains(raw, "Tok3n") {
			t.Fatalf("credentials stored in the clear: %q", raw)
		}
		body := e.post(t, admin, `{ connectorAccounts(first: 10) { edges { node { id name cursors { stream } secretsSet } } } }`, nil).ok(t)
		if strings.Contains(string(body.Data), "app-secret-value") {
			t.Fatal("a secret leaked into connectorAccounts")
		}
		if r := e.post(t, admin, `{ connectorAccounts(first: 10) { edges { node { credentials } } } }`, nil); len(r.Errors) == 0 {
			t.Fatal("credentials is queryable")
		}

		// The first sync was started with the account.
		var queues struct {
			JobQueues []struct {
				Name     string
				Pending  int
				DeadJobs []struct{ ID string }
			}
		}
		e.post(t, admin, `{ jobQueues { name pending deadJobs(first: 5) { id } } }`, nil).ok(t).decode(t, &queues)
		pending := map[string]int{}
		for _, q := range queues.JobQueues {
			pending[q.Name] = q.Pending
		}
		if pending["sync"] < 2 {
			t.Fatalf("sync queue holds %d tasks; want the new account's organisation and customer syncs", pending["sync"])
		}

		// syncNow does not double a sync that is already waiting.
		var sync struct {
			SyncNow struct {
				Jobs []struct{ ID, Queue, Type, State string }
			}
		}
		e.post(t, admin, `mutation($id: ID!) { syncNow(id: $id, kinds: [ORGANIZATION]) { jobs { id queue type state } } }`,
			map[string]any{"id": a.ID}).ok(t).decode(t, &sync)
		if len(sync.SyncNow.Jobs) != 1 || sync.SyncNow.Jobs[0].State != "PENDING" || sync.SyncNow.Jobs[0].Queue != "sync" {
			t.Fatalf("syncNow: %+v", sync.SyncNow.Jobs)
		}
		var again struct {
			JobQueues []struct {
				Name    string
				Pending int
			}
		}
		e.post(t, admin, `{ jobQueues { name pending } }`, nil).ok(t).decode(t, &again)
		for _, q := range again.JobQueues {
			if q.Name == "sync" && q.Pending != pending["sync"] {
				t.Fatalf("syncNow doubled a waiting sync: %d → %d", pending["sync"], q.Pending)
			}
		}
		if g := e.post(t, admin, `mutation($id: ID!) { syncNow(id: $id, kinds: [ORDERS]) { jobs { id } } }`,
			map[string]any{"id": a.ID}).only(t); g.code() != "BAD_USER_INPUT" || g.field() != "kinds" {
			t.Fatalf("ORDERS on WeCom: %+v", g)
		}

		// Bad input is refused with the field at fault, and nothing is stored.
		for _, c := range []struct {
			change map[string]any
			field  string
		}{
			{map[string]any{"corpID": nil}, "corpID"},
			{map[string]any{"encodingAESKey": "short"}, "encodingAESKey"},
			{map[string]any{"callbackToken": "has space"}, "callbackToken"},
			{map[string]any{"agentID": nil}, "agentID"},
			{map[string]any{"appSecret": "not for wecom"}, "appSecret"},
			{map[string]any{"name": " "}, "name"},
		} {
			in := wecomInput("wwbad0000000000")
			for k, v := range c.change {
				if v == nil {
					delete(in, k)
				} else {
					in[k] = v
				}
			}
			g := e.post(t, admin, createAccount, map[string]any{"input": in}).only(t)
			if g.code() != "BAD_USER_INPUT" || g.field() != c.field {
				t.Errorf("%v: got %s on %q (%s), want BAD_USER_INPUT on %q", c.change, g.code(), g.field(), g.Message, c.field)
			}
		}
		if n, _ := e.st.Client.ConnectorAccount.Query().Where(connectoraccount.ExternalID("wwbad0000000000")).Count(sys()); n != 0 {
			t.Fatalf("refused input stored %d accounts", n)
		}
		if g := e.post(t, admin, createAccount, map[string]any{"input": wecomInput(corp)}).only(t); g.code() != "CONFLICT" || g.field() != "corpID" {
			t.Fatalf("duplicate corp: %+v", g)
		}
		shop := map[string]any{"platform": "DOUYIN", "name": "Flagship", "shopID": "5550001", "appKey": "7000001", "appSecret": "s3cret"}
		var d struct {
			CreateConnectorAccount struct{ CallbackURL string }
		}
		e.post(t, admin, createAccount, map[string]any{"input": shop}).ok(t).decode(t, &d)
		if !strings.HasSuffix(d.CreateConnectorAccount.CallbackURL, "/push") {
			t.Fatalf("douyin push URL %q", d.CreateConnectorAccount.CallbackURL)
		}

		// Updates: rotate a secret, pause; FAILING is the server's to set.
		var upd struct {
			UpdateConnectorAccount struct {
				Status     string
				SecretsSet []string
			}
		}
		e.post(t, admin, `mutation($id: ID!) { updateConnectorAccount(id: $id, input: {secret: "rotated", contactSecret: "cs", status: PAUSED}) { status secretsSet } }`,
			map[string]any{"id": a.ID}).ok(t).decode(t, &upd)
		if upd.UpdateConnectorAccount.Status != "PAUSED" || len(upd.UpdateConnectorAccount.SecretsSet) != 4 {
			t.Fatalf("update: %+v", upd.UpdateConnectorAccount)
		}
		rotated, _ := e.st.Client.ConnectorAccount.Get(sys(), stored.ID)
		if !strings.Contains(rotated.Credentials, `"secret":"rotated"`) || !strings.Contains(rotated.Credentials, "Tok3n") {
			t.Fatalf("rotation lost a secret: %s", rotated.Credentials)
		}
		if g := e.post(t, admin, `mutation($id: ID!) { updateConnectorAccount(id: $id, input: {status: FAILING}) { status } }`,
			map[string]any{"id": a.ID}).only(t); g.field() != "status" {
			t.Fatalf("status FAILING by hand: %+v", g)
		}
		if g := e.post(t, admin, `mutation($id: ID!) { syncNow(id: $id) { jobs { id } } }`,
			map[string]any{"id": a.ID}).only(t); g.code() != "BAD_USER_INPUT" {
			t.Fatalf("syncNow on a paused account: %+v", g)
		}

		// A dead job is listed for its tenant only and can be run again.
		inspector := asynq.NewInspector(e.rdb.Opt)
		defer inspector.Close()
		if err := inspector.ArchiveTask("sync", sync.SyncNow.Jobs[0].ID); err != nil {
			t.Fatal(err)
		}
		var dead struct {
			JobQueues []struct {
				Name     string
				DeadJobs []struct{ ID, State string }
			}
		}
		deadIn := func(token string) []string {
			e.post(t, token, `{ jobQueues { name deadJobs(first: 20) { id state } } }`, nil).ok(t).decode(t, &dead)
			var ids []string
			for _, q := range dead.JobQueues {
				for _, j := range q.DeadJobs {
					ids = append(ids, j.ID)
				}
			}
			return ids
		}
		if ids := deadIn(admin); !slices.Contains(ids, sync.SyncNow.Jobs[0].ID) {
			t.Fatalf("dead jobs %v lack the archived sync", ids)
		}
		acme := e.token(t, "acme", seed.Admin)
		if ids := deadIn(acme); slices.Contains(ids, sync.SyncNow.Jobs[0].ID) {
			t.Fatal("acme sees demo's dead job")
		}
		retry := `mutation($id: String!) { retryJob(queue: "sync", id: $id) { id state } }`
		if g := e.post(t, acme, retry, map[string]any{"id": sync.SyncNow.Jobs[0].ID}).only(t); g.code() != "NOT_FOUND" {
			t.Fatalf("acme retries demo's job: %+v", g)
		}
		var retried struct{ RetryJob struct{ ID, State string } }
		e.post(t, admin, retry, map[string]any{"id": sync.SyncNow.Jobs[0].ID}).ok(t).decode(t, &retried)
		if retried.RetryJob.State != "PENDING" {
			t.Fatalf("retried job is %s", retried.RetryJob.State)
		}
		if g := e.post(t, admin, retry, map[string]any{"id": sync.SyncNow.Jobs[0].ID}).only(t); g.code() != "BAD_USER_INPUT" {
			t.Fatalf("retrying a live job: %+v", g)
		}

		// Only admins see or manage accounts; other tenants never see them.
		agent := e.token(t, "demo", seed.Agent1)
		for _, q := range []string{`{ connectorAccounts(first: 10) { totalCount } }`, `{ jobQueues { name } }`} {
			if g := e.post(t, agent, q, nil).only(t); g.code() != "FORBIDDEN" {
				t.Fatalf("agent %s: %+v", q, g)
			}
		}
		if g := e.post(t, agent, createAccount, map[string]any{"input": wecomInput("wwagent000000000")}).only(t); g.code() != "FORBIDDEN" {
			t.Fatalf("agent create: %+v", g)
		}
		other := e.token(t, "acme", seed.Admin)
		theirs := e.post(t, other, `{ connectorAccounts(first: 100) { edges { node { id externalID } } } }`, nil).ok(t)
		if strings.Contains(string(theirs.Data), corp) || strings.Contains(string(theirs.Data), a.ID) {
			t.Fatalf("acme sees demo's account: %s", theirs.Data)
		}
		if g := e.post(t, other, `mutation($id: ID!) { syncNow(id: $id) { jobs { id } } }`,
			map[string]any{"id": a.ID}).only(t); g.code() != "NOT_FOUND" {
			t.Fatalf("acme syncs demo's account: %+v", g)
		}
	})
}
