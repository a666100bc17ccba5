package webhooks

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/scrm-dev/scrm/internal/apperr"
)

// maxURL is the endpoint URL column's length.
const maxURL = 500

// checkURL refuses what an endpoint may not point at: anything but https,
// except http to a loopback host when insecure destinations are allowed
// (development and tests); credentials in the URL (they would be stored
// and shown in clear); and, in production, literal private addresses
// (names resolving to one are refused when dialled, see guardDial).
func checkURL(raw string, allowInsecure bool) error {
	bad := func(format string, args ...any) error { return apperr.Invalid("url", format, args...) }
	if len(raw) > maxURL {
		return bad("longer than %d characters", maxURL)
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return bad("%q is not an absolute URL", raw)
	}
	if u.User != nil {
		return bad("must not carry credentials; authenticate requests by their signature")
	}
	if u.Fragment != "" {
		return bad("must not have a fragment")
	}
	host := u.Hostname()
	switch u.Scheme {
	case "https":
	case "http":
		if !allowInsecure || !loopbackHost(host) {
			return bad("must be https")
		}
	default:
		return bad("must be https")
	}
	if ip, err := netip.ParseAddr(host); err == nil && !allowInsecure && blocked(ip) {
		return bad("%s is not a public address", host)
	}
	return nil
}

func loopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// special are ranges beyond the standard library's predicates that are
// never a partner's server: shared address space (carrier NAT), IETF
// protocol assignments, benchmarking, reserved, and NAT64 (which would
// reach any IPv4 address, private ones included).
var special = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
}

// blocked reports whether ip is a destination a delivery must not reach
// (server-side request forgery into our own network): loopback, private,
// link-local (cloud metadata lives at 169.254.169.254), multicast,
// unspecified and the special ranges.
func blocked(ip netip.Addr) bool {
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return true
	}
	for _, p := range special {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

var errBlockedAddress = errors.New("destination is not a public address")

// guardDial refuses connections to blocked addresses. It runs after name
// resolution, on the address actually dialled, so a name that resolves
// (or is rebound) to an internal address is refused too.
func guardDial(_, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		return fmt.Errorf("%w: %s", errBlockedAddress, address)
	}
	if blocked(ap.Addr()) {
		return fmt.Errorf("%w: %s", errBlockedAddress, ap.Addr())
	}
	return nil
}

// Timeout bounds one delivery attempt, from dialling to the end of the
// response body read.
const Timeout = 10 * time.Second

// maxResponse is how much of a receiver's answer is read (and kept, in
// last_error, when it failed).
const maxResponse = 4 << 10

// newHTTPClient returns the client deliveries are sent with: no
// redirects followed (a redirect is a failure, and following one would
// leave the checked URL), no proxy from the environment (it would dial
// for us, past the guard), and the dial guard unless insecure
// destinations are allowed.
func newHTTPClient(allowInsecure bool) *http.Client {
	dialer := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	if !allowInsecure {
		dialer.Control = guardDial
	}
	return &http.Client{
		Timeout: Timeout,
		Transport: &http.Transport{
			DialContext:           dialer.DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: Timeout,
			MaxIdleConnsPerHost:   4,
			IdleConnTimeout:       90 * time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
