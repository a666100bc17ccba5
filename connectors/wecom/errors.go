package wecom

import (
	"errors"
	"strconv"
	"time"

	"github.com/scrm-dev/scrm/connectors/transport"
)

// Platform is the platform name in transport endpoints, errors and metrics.
const Platform = "wecom"

// WeCom errcodes the client reacts to (shared/PLATFORMS.md, "Error codes
// worth handling", and the global error code page of the server API).
const (
	codeBusy              = -1
	codeInvalidSecret     = 40001
	codeInvalidCorpID     = 40013
	codeInvalidToken      = 40014
	codeInvalidAgentID    = 40056
	codeInvalidTagID      = 40068
	codeInvalidExternalID = 40096
	codeMissingToken      = 41001
	codeTokenExpired      = 42001
	codeFrequencyLimit    = 45009
	codeConcurrencyLimit  = 45033
	codeAPIForbidden      = 48002
	codeNoPrivilege       = 60011
	codeIPNotTrusted      = 60020
	codeUserNotFound      = 60111
	codeInvalidParty      = 60123
	codeAllInvalid        = 81013
	codeNotExternal       = 84061
)

// How long to hold back after WeCom's throttling answers. 45009 does not
// say which window was exceeded (per minute or per hour); a minute is the
// window we can be over at all, since our own budgets (limits.go) keep us
// far below the hourly one. 45033 is about concurrent calls: a short pause
// is enough.
const (
	frequencyLimitWait   = 60 * time.Second
	concurrencyLimitWait = time.Second
)

// ErrInvalidArgument is a call refused before it was sent because it
// breaks a documented limit of the API (too many ids, state too long, ...).
var ErrInvalidArgument = errors.New("wecom: invalid argument")

// apiError maps a WeCom errcode to the transport's refusal kinds.
func apiError(endpoint string, code int, msg string) *transport.Error {
	e := &transport.Error{Platform: Platform, Endpoint: endpoint, Code: strconv.Itoa(code), Message: msg, Kind: transport.KindPermanent}
	switch code {
	case codeInvalidToken, codeTokenExpired, codeMissingToken:
		e.Kind = transport.KindTokenInvalid
	case codeFrequencyLimit:
		e.Kind, e.RetryAfter = transport.KindRateLimited, frequencyLimitWait
	case codeConcurrencyLimit:
		e.Kind, e.RetryAfter = transport.KindRateLimited, concurrencyLimitWait
	case codeBusy:
		e.Kind = transport.KindBusy
	case codeInvalidSecret, codeInvalidCorpID, codeIPNotTrusted, codeAPIForbidden, codeInvalidAgentID:
		// The account's configuration (corp id, secrets, agent id, the
		// app's API permissions, the trusted IPs) needs an admin.
		e.Kind = transport.KindAuth
	case codeUserNotFound, codeNoPrivilege, codeInvalidExternalID, codeNotExternal,
		codeInvalidParty, codeInvalidTagID, codeAllInvalid:
		// The object is gone or not visible to the app: record, go on.
		e.Kind = transport.KindNotFound
	}
	return e
}
