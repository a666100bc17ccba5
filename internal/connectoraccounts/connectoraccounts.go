// Package connectoraccounts owns the tenant's platform accounts (WeCom
// corps, Taobao/Tmall and Douyin shops, WeChat mini-programs): checking what an admin enters per
// platform, sealing the secrets, the callback URL, and recording how each
// account's syncs went (status, cursors, last error). Connectors and jobs
// read an account's secrets through Secrets; nothing else does, and the
// API never shows them.
package connectoraccounts

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/scrm-dev/scrm/ent"
	"github.com/scrm-dev/scrm/ent/connectoraccount"
	"github.com/scrm-dev/scrm/internal/apperr"
)

// CreateInput is what an admin enters for a new account; which fields a
// platform takes is in graph/connectors.graphql.
type CreateInput struct {
	Platform       connectoraccount.Platform
	Name           string
	CorpID         *string
	AgentID        *int
	Secret         *string
	ContactSecret  *string
	CallbackToken  *string
	EncodingAESKey *string
	ShopID         *string
	AppKey         *string
	AppSecret      *string
	SessionKey     *string
	WelcomeMessage *string
}

// UpdateInput changes an account; nil fields are kept.
type UpdateInput struct {
	Name                *string
	Status              *connectoraccount.Status
	AgentID             *int
	Secret              *string
	ContactSecret       *string
	CallbackToken       *string
	EncodingAESKey      *string
	AppKey              *string
	AppSecret           *string
	SessionKey          *string
	WelcomeMessage      *string
	ClearWelcomeMessage *bool
}

// Secrets are an account's credentials, sealed together in one column.
type Secrets struct {
	Secret         string `json:"secret,omitempty"`
	ContactSecret  string `json:"contact_secret,omitempty"`
	CallbackToken  string `json:"callback_token,omitempty"`
	EncodingAESKey string `json:"encoding_aes_key,omitempty"`
	AppSecret      string `json:"app_secret,omitempty"`
	SessionKey     string `json:"session_key,omitempty"`
}

// Names lists the secrets that are set, by their GraphQL input names.
func (s Secrets) Names() []string {
	var names []string
	for name, v := range map[string]string{"secret": s.Secret, "contactSecret": s.ContactSecret,
		"callbackToken": s.CallbackToken, "encodingAESKey": s.EncodingAESKey, "appSecret": s.AppSecret,
		"sessionKey": s.SessionKey} {
		if v != "" {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names
}

// SecretsOf opens an account's sealed secrets.
func SecretsOf(a *ent.ConnectorAccount) (Secrets, error) {
	var s Secrets
	if a.Credentials == "" {
		return s, nil
	}
	if err := json.Unmarshal([]byte(a.Credentials), &s); err != nil {
		return s, fmt.Errorf("connector account %d: unreadable credentials: %w", a.ID, err)
	}
	return s, nil
}

// Platform-specific shapes, as the platforms document them.
var (
	corpIDPattern = regexp.MustCompile(`^[A-Za-z0-9]{6,32}$`)
	tokenPattern  = regexp.MustCompile(`^[A-Za-z0-9]{1,32}$`)
	aesKeyPattern = regexp.MustCompile(`^[A-Za-z0-9+/]{43}$`)
	shopIDPattern = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)
	appKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_\-]{1,64}$`)
	// A mini-program's AppID: "wx" and 16 hex digits.
	miniAppIDPattern = regexp.MustCompile(`^wx[0-9a-fA-F]{16}$`)
	secretMaxLength  = 256
)

// field is one input field of a platform: its GraphQL name, the value
// entered, and what it must look like.
type field struct {
	name     string
	value    *string
	required bool
	check    func(string) error
}

func pattern(re *regexp.Regexp, what string) func(string) error {
	return func(v string) error {
		if !re.MatchString(v) {
			return fmt.Errorf("%s", what)
		}
		return nil
	}
}

func secretShape(v string) error {
	if len(v) > secretMaxLength || strings.TrimSpace(v) != v {
		return fmt.Errorf("must be at most %d characters with no surrounding spaces", secretMaxLength)
	}
	return nil
}

func aesKeyShape(v string) error {
	if !aesKeyPattern.MatchString(v) {
		return errors.New("must be the 43-character EncodingAESKey from the WeCom console")
	}
	if key, err := base64.StdEncoding.DecodeString(v + "="); err != nil || len(key) != 32 {
		return errors.New("must be the 43-character EncodingAESKey from the WeCom console")
	}
	return nil
}

// fields lists the inputs a platform takes; any other credential field
// entered is refused, so a secret is never stored where it is not used.
func fields(p connectoraccount.Platform, in *CreateInput) []field {
	switch p {
	case connectoraccount.PlatformWecom:
		return []field{
			{"corpID", in.CorpID, true, pattern(corpIDPattern, "must be the corp id (ww... from the WeCom console)")},
			{"secret", in.Secret, true, secretShape},
			{"contactSecret", in.ContactSecret, false, secretShape},
			{"callbackToken", in.CallbackToken, true, pattern(tokenPattern, "must be 1 to 32 letters and digits")},
			{"encodingAESKey", in.EncodingAESKey, true, aesKeyShape},
			{"welcomeMessage", in.WelcomeMessage, false, maxLen(4000)},
		}
	case connectoraccount.PlatformTaobao, connectoraccount.PlatformTmall:
		return []field{
			{"shopID", in.ShopID, true, pattern(shopIDPattern, "must be the shop's id")},
			{"appKey", in.AppKey, true, pattern(appKeyPattern, "must be the open platform app key")},
			{"appSecret", in.AppSecret, true, secretShape},
			{"sessionKey", in.SessionKey, true, secretShape},
		}
	case connectoraccount.PlatformDouyin:
		return []field{
			{"shopID", in.ShopID, true, pattern(shopIDPattern, "must be the shop's id")},
			{"appKey", in.AppKey, true, pattern(appKeyPattern, "must be the open platform app key")},
			{"appSecret", in.AppSecret, true, secretShape},
		}
	case connectoraccount.PlatformWechatMiniprogram:
		// appKey is the mini-program's AppID (its public half, and the
		// account's external id); secret its AppSecret.
		return []field{
			{"appKey", in.AppKey, true, pattern(miniAppIDPattern, "must be the mini-program's AppID (wx and 16 hex digits)")},
			{"secret", in.Secret, true, secretShape},
		}
	}
	return nil
}

func maxLen(n int) func(string) error {
	return func(v string) error {
		if len([]rune(v)) > n {
			return fmt.Errorf("must be at most %d characters", n)
		}
		return nil
	}
}

// allInputs names every optional field of CreateInput, to refuse those a
// platform does not take.
func allInputs(in *CreateInput) map[string]*string {
	return map[string]*string{"corpID": in.CorpID, "secret": in.Secret, "contactSecret": in.ContactSecret,
		"callbackToken": in.CallbackToken, "encodingAESKey": in.EncodingAESKey, "shopID": in.ShopID,
		"appKey": in.AppKey, "appSecret": in.AppSecret, "sessionKey": in.SessionKey, "welcomeMessage": in.WelcomeMessage}
}

func validate(in *CreateInput) error {
	fs := fields(in.Platform, in)
	if fs == nil {
		return apperr.Invalid("platform", "unknown platform %q", in.Platform)
	}
	taken := map[string]bool{}
	for _, f := range fs {
		taken[f.name] = true
		if f.value == nil || *f.value == "" {
			if f.required {
				return apperr.Invalid(f.name, "%s is required for %s accounts", f.name, in.Platform)
			}
			continue
		}
		if err := f.check(*f.value); err != nil {
			return apperr.Invalid(f.name, "%s %v", f.name, err)
		}
	}
	names := make([]string, 0, len(taken))
	for name, v := range allInputs(in) {
		if v != nil && !taken[name] {
			names = append(names, name)
		}
	}
	if len(names) > 0 {
		sort.Strings(names)
		return apperr.Invalid(names[0], "%s is not used by %s accounts", names[0], in.Platform)
	}
	if in.Platform == connectoraccount.PlatformWecom && (in.AgentID == nil || *in.AgentID <= 0) {
		return apperr.Invalid("agentID", "agentID (the self-built app's AgentId) is required for WECOM accounts")
	}
	if in.Platform != connectoraccount.PlatformWecom && in.AgentID != nil {
		return apperr.Invalid("agentID", "agentID is not used by %s accounts", in.Platform)
	}
	if n := strings.TrimSpace(in.Name); n == "" || len([]rune(n)) > 100 {
		return apperr.Invalid("name", "name must be 1 to 100 characters")
	}
	return nil
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// SecretsFrom collects the secrets of an input.
func SecretsFrom(in CreateInput) Secrets {
	return Secrets{Secret: deref(in.Secret), ContactSecret: deref(in.ContactSecret),
		CallbackToken: deref(in.CallbackToken), EncodingAESKey: deref(in.EncodingAESKey),
		AppSecret: deref(in.AppSecret), SessionKey: deref(in.SessionKey)}
}

// ExternalIDOf is the account's id on its platform: the corp, the shop or
// the mini-program's AppID.
func ExternalIDOf(in CreateInput) string {
	switch in.Platform {
	case connectoraccount.PlatformWecom:
		return deref(in.CorpID)
	case connectoraccount.PlatformWechatMiniprogram:
		return deref(in.AppKey)
	}
	return deref(in.ShopID)
}

// externalField names the input field holding the external id.
func externalField(p connectoraccount.Platform) string {
	switch p {
	case connectoraccount.PlatformWecom:
		return "corpID"
	case connectoraccount.PlatformWechatMiniprogram:
		return "appKey"
	}
	return "shopID"
}

// Create adds an account in the viewer's tenant.
func Create(ctx context.Context, client *ent.Client, in CreateInput) (*ent.ConnectorAccount, error) {
	if err := validate(&in); err != nil {
		return nil, err
	}
	sealed, err := json.Marshal(SecretsFrom(in))
	if err != nil {
		return nil, err
	}
	external := ExternalIDOf(in)
	exists, err := client.ConnectorAccount.Query().
		Where(connectoraccount.PlatformEQ(in.Platform), connectoraccount.ExternalID(external)).Exist(ctx)
	if err != nil {
		return nil, err
	}
	if exists {
		return nil, apperr.Conflict(externalField(in.Platform), "this tenant already has the %s account %s", in.Platform, external)
	}
	create := client.ConnectorAccount.Create().
		SetPlatform(in.Platform).
		SetName(strings.TrimSpace(in.Name)).
		SetExternalID(external).
		SetCredentials(string(sealed)).
		SetCallbackKey(newCallbackKey()).
		SetNillableAppKey(in.AppKey).
		SetNillableWelcomeMessage(in.WelcomeMessage)
	if in.AgentID != nil {
		create.SetAgentID(int64(*in.AgentID))
	}
	return create.Save(ctx)
}

// Update changes an account in the viewer's tenant.
func Update(ctx context.Context, client *ent.Client, id int, in UpdateInput) (*ent.ConnectorAccount, error) {
	a, err := client.ConnectorAccount.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	secrets, err := SecretsOf(a)
	if err != nil {
		return nil, err
	}
	// Check the changed values with the platform's create rules: the
	// stored values fill in what is not changed.
	check := CreateInput{Platform: a.Platform, Name: a.Name}
	if in.Name != nil {
		check.Name = *in.Name
	}
	set := func(dst **string, stored string, changed *string) {
		if changed != nil {
			*dst = changed
		} else if stored != "" {
			*dst = &stored
		}
	}
	set(&check.Secret, secrets.Secret, in.Secret)
	set(&check.ContactSecret, secrets.ContactSecret, in.ContactSecret)
	set(&check.CallbackToken, secrets.CallbackToken, in.CallbackToken)
	set(&check.EncodingAESKey, secrets.EncodingAESKey, in.EncodingAESKey)
	set(&check.AppSecret, secrets.AppSecret, in.AppSecret)
	set(&check.SessionKey, secrets.SessionKey, in.SessionKey)
	set(&check.AppKey, a.AppKey, in.AppKey)
	if in.WelcomeMessage != nil {
		check.WelcomeMessage = in.WelcomeMessage
	}
	if a.Platform == connectoraccount.PlatformWecom {
		corp := a.ExternalID
		check.CorpID = &corp
		agent := 0
		if a.AgentID != nil {
			agent = int(*a.AgentID)
		}
		if in.AgentID != nil {
			agent = *in.AgentID
		}
		check.AgentID = &agent
	} else if a.Platform == connectoraccount.PlatformWechatMiniprogram {
		// The AppID is the account's identity on WeChat (its external id).
		if in.AppKey != nil && *in.AppKey != a.ExternalID {
			return nil, apperr.Invalid("appKey", "a mini-program's AppID cannot change; add an account for the other AppID")
		}
	} else {
		shop := a.ExternalID
		check.ShopID = &shop
	}
	if err := validate(&check); err != nil {
		return nil, err
	}
	if in.Status != nil && !slices.Contains([]connectoraccount.Status{connectoraccount.StatusActive, connectoraccount.StatusPaused}, *in.Status) {
		return nil, apperr.Invalid("status", "status can be set to ACTIVE or PAUSED; FAILING is the server's")
	}
	next := Secrets{Secret: deref(check.Secret), ContactSecret: deref(check.ContactSecret),
		CallbackToken: deref(check.CallbackToken), EncodingAESKey: deref(check.EncodingAESKey),
		AppSecret: deref(check.AppSecret), SessionKey: deref(check.SessionKey)}
	update := a.Update().SetNillableStatus(in.Status).SetNillableAppKey(in.AppKey)
	if in.Name != nil {
		update.SetName(strings.TrimSpace(*in.Name))
	}
	if next != secrets {
		sealed, err := json.Marshal(next)
		if err != nil {
			return nil, err
		}
		update.SetCredentials(string(sealed))
		// New credentials deserve a new try.
		if a.Status == connectoraccount.StatusFailing && in.Status == nil {
			update.SetStatus(connectoraccount.StatusActive)
		}
	}
	if in.AgentID != nil {
		update.SetAgentID(int64(*in.AgentID))
	}
	if in.ClearWelcomeMessage != nil && *in.ClearWelcomeMessage {
		update.ClearWelcomeMessage()
	} else if in.WelcomeMessage != nil {
		update.SetWelcomeMessage(*in.WelcomeMessage)
	}
	return update.Save(ctx)
}

// newCallbackKey is the account's public id in callback URLs: random, so
// URLs reveal neither the tenant nor how many accounts exist.
func newCallbackKey() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// CallbackURL is where the platform sends the account's callbacks or
// pushes, below base (the server's public URL); "" for platforms that
// push nothing to us.
func CallbackURL(base string, a *ent.ConnectorAccount) string {
	base = strings.TrimRight(base, "/")
	switch a.Platform {
	case connectoraccount.PlatformWecom:
		return base + "/connectors/wecom/" + a.CallbackKey + "/callback"
	case connectoraccount.PlatformDouyin:
		return base + "/connectors/douyin/" + a.CallbackKey + "/push"
	}
	return ""
}

// Cursor is where one sync stream resumes.
type Cursor struct {
	Stream   string
	Position string
}

// Cursors lists an account's cursors by stream name.
func Cursors(a *ent.ConnectorAccount) []Cursor {
	out := make([]Cursor, 0, len(a.Cursors))
	for k, v := range a.Cursors {
		out = append(out, Cursor{Stream: k, Position: v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Stream < out[j].Stream })
	return out
}

// Outcome is how one sync run went.
type Outcome struct {
	// Stream and Cursor, when set, move the stream's cursor.
	Stream, Cursor string
	// Err is the run's failure; Failing marks the account FAILING (the
	// platform refused its credentials or permissions: an admin must act).
	Err     error
	Failing bool
	// Progress records only the cursor (a run still going).
	Progress bool
}

// Record stores a sync run's outcome on the account: its cursor, last
// sync time, last error and status. A successful run clears a FAILING
// status; PAUSED is left alone.
func Record(ctx context.Context, client *ent.Client, id int, at time.Time, o Outcome) error {
	a, err := client.ConnectorAccount.Get(ctx, id)
	if err != nil {
		return err
	}
	update := a.Update()
	if o.Stream != "" {
		cursors := map[string]string{}
		for k, v := range a.Cursors {
			cursors[k] = v
		}
		if o.Cursor == "" {
			delete(cursors, o.Stream)
		} else {
			cursors[o.Stream] = o.Cursor
		}
		update.SetCursors(cursors)
	}
	if o.Progress {
		return update.Exec(ctx)
	}
	if o.Err == nil {
		update.SetLastSyncAt(at)
		if a.Status == connectoraccount.StatusFailing {
			update.SetStatus(connectoraccount.StatusActive)
		}
	} else {
		msg := o.Err.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		update.SetLastError(msg).SetLastErrorAt(at)
		if o.Failing && a.Status == connectoraccount.StatusActive {
			update.SetStatus(connectoraccount.StatusFailing)
		}
	}
	return update.Exec(ctx)
}
