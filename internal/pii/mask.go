package pii

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Masks turn a value into a display string that shows a value exists
// without revealing it. All are rune-safe, return "" only for "", and hide
// surrounding whitespace.

// Class is a kind of personal data, for Mask.
type Class string

const (
	ClassPhone    Class = "phone"
	ClassName     Class = "name"
	ClassAddress  Class = "address"
	ClassEmail    Class = "email"
	ClassIDCard   Class = "id_card"
	ClassBirthday Class = "birthday"
)

// hidden replaces what a mask withholds; a fixed width does not reveal
// the length of what it replaces.
const hidden = "****"

// Mask masks value by its class. A class it does not know is masked
// completely, so a new class fails safe.
func Mask(class Class, value string) string {
	switch class {
	case ClassPhone:
		return MaskPhone(value)
	case ClassName:
		return MaskName(value)
	case ClassAddress:
		return MaskAddress("", "", value)
	case ClassEmail:
		return MaskEmail(value)
	case ClassIDCard:
		return MaskIDCard(value)
	case ClassBirthday:
		return MaskBirthday(value)
	}
	if value == "" {
		return ""
	}
	return hidden
}

// MaskPhone shows the first 3 and last 4 digits of numbers longer than 7
// digits ("138****5678") and only the last 2 of shorter ones ("****78").
// A +86 country prefix stays readable ("+86 138****5678"); other
// international numbers keep their '+'. Text that is not a phone number is
// masked the same way by runes.
func MaskPhone(s string) string {
	if s == "" {
		return ""
	}
	n, ok := NormalizePhone(s)
	if !ok {
		return maskMiddle(strings.TrimSpace(s))
	}
	prefix := ""
	switch {
	case strings.HasPrefix(n, "+86"):
		prefix, n = "+86 ", n[3:]
	case strings.HasPrefix(n, "+"):
		prefix, n = "+", n[1:]
	case len(n) == 11 && hasChinaPrefix(s):
		prefix = "+86 "
	}
	return prefix + maskMiddle(n)
}

// hasChinaPrefix reports whether s, known to normalise to a bare mobile
// number, was written with a country prefix (+86, 0086 or 86).
func hasChinaPrefix(s string) bool {
	digits := 0
	for _, r := range s {
		if '0' <= r && r <= '9' || '０' <= r && r <= '９' {
			digits++
		}
	}
	return digits > 11
}

// maskMiddle keeps the first 3 and last 4 runes of s when it has more than
// 7, the last 2 when it has 5-7, and nothing of shorter strings.
func maskMiddle(s string) string {
	r := []rune(s)
	switch {
	case len(r) > 7:
		return string(r[:3]) + hidden + string(r[len(r)-4:])
	case len(r) >= 5:
		return hidden + string(r[len(r)-2:])
	}
	return hidden
}

// MaskName keeps the first rune of a name and stars the rest, one star per
// rune: the first character of a Chinese name ("张三" -> "张*", "欧阳娜娜"
// -> "欧***"), the initial of a Western one ("Alice Wong" -> "A*********").
// A one-rune name is all star ("李" -> "*"), since that rune is the name.
func MaskName(s string) string {
	if s == "" {
		return ""
	}
	s = strings.TrimSpace(s)
	first, size := utf8.DecodeRuneInString(s)
	rest := utf8.RuneCountInString(s[size:])
	if rest == 0 {
		return "*"
	}
	return string(first) + strings.Repeat("*", rest)
}

// MaskAddress shows where in the country an address is and hides the rest:
// province and city followed by "****" ("浙江省杭州市****"). Without a
// province or city it reads them from the start of street, as Chinese
// addresses are written ("浙江省杭州市西湖区…", "上海市浦东新区…"); if
// none is found the whole address is hidden.
func MaskAddress(province, city, street string) string {
	province, city = strings.TrimSpace(province), strings.TrimSpace(city)
	if province == "" && city == "" {
		if street == "" {
			return ""
		}
		province, city = parseRegion(strings.TrimSpace(street))
	}
	return province + city + hidden
}

// provinces are the short names of China's province-level divisions; an
// address may write them with or without their suffix.
var provinces = []string{
	"北京", "天津", "上海", "重庆", "河北", "山西", "辽宁", "吉林", "黑龙江",
	"江苏", "浙江", "安徽", "福建", "江西", "山东", "河南", "湖北", "湖南",
	"广东", "海南", "四川", "贵州", "云南", "陕西", "甘肃", "青海", "台湾",
	"内蒙古", "广西", "西藏", "宁夏", "新疆", "香港", "澳门",
}

var provinceSuffixes = []string{"壮族自治区", "回族自治区", "维吾尔自治区", "自治区", "特别行政区", "省", "市"}

// municipalities are cities at province level: nothing follows them but
// districts.
var municipalities = []string{"北京", "天津", "上海", "重庆"}

// parseRegion splits a leading province and city off an address. It
// prefers showing too little to showing street text: a city is only read
// after a known province, or before a district when there is none.
func parseRegion(addr string) (province, city string) {
	for _, p := range provinces {
		if rest, ok := strings.CutPrefix(addr, p); ok {
			province = p
			for _, suf := range provinceSuffixes {
				if strings.HasPrefix(rest, suf) {
					province += suf
					break
				}
			}
			if slices.Contains(municipalities, p) {
				return province, ""
			}
			break
		}
	}
	rest := addr[len(province):]
	if province != "" {
		return province, leadingUnit(rest, 8, "自治州", "地区", "市", "盟")
	}
	city = leadingUnit(rest, 4, "市")
	if city == "" || leadingUnit(rest[len(city):], 4, "区", "县") == "" {
		return "", "" // 超市, 菜市 and the like are shops, not cities
	}
	return "", city
}

// leadingUnit returns the prefix of s up to and including the first of the
// suffixes that follows a name of 2 to maxName runes, or "".
func leadingUnit(s string, maxName int, suffixes ...string) string {
	best := -1
	for _, suf := range suffixes {
		i := strings.Index(s, suf)
		if i < 0 {
			continue
		}
		name := s[:i]
		if n := utf8.RuneCountInString(name); n < 2 || n > maxName {
			continue
		}
		if strings.ContainsAny(name, "区县路街道号0123456789") {
			continue // street text, not a place name
		}
		if suf == "市" && strings.HasPrefix(s[i+len(suf):], "场") {
			continue // 市场 is a market
		}
		if end := i + len(suf); best < 0 || end < best {
			best = end
		}
	}
	if best < 0 {
		return ""
	}
	return s[:best]
}

// MaskEmail keeps the first rune of the local part and the domain:
// "alice@example.com" -> "a***@example.com". A one-rune local part is
// starred ("*@example.com"); anything not shaped like an address is "***".
func MaskEmail(s string) string {
	if s == "" {
		return ""
	}
	s = strings.TrimSpace(s)
	local, domain, ok := strings.Cut(s, "@")
	if !ok || local == "" || domain == "" || strings.Contains(domain, "@") || strings.ContainsFunc(s, unicode.IsSpace) {
		return "***"
	}
	first, size := utf8.DecodeRuneInString(local)
	if size == len(local) {
		return "*@" + domain
	}
	return string(first) + "***@" + domain
}

// MaskIDCard shows the region code and the tail of a resident ID card:
// an 18-character number keeps its first 6 and last 4
// ("110101********4512"), a 15-character one its first 6 and last 3. Other
// identifiers (passports, permits) keep 2 runes at each end, or none when
// they are too short for that to hide anything.
func MaskIDCard(s string) string {
	if s == "" {
		return ""
	}
	r := []rune(strings.TrimSpace(s))
	keep := func(head, tail int) string {
		return string(r[:head]) + strings.Repeat("*", len(r)-head-tail) + string(r[len(r)-tail:])
	}
	switch {
	case len(r) == 18:
		return keep(6, 4)
	case len(r) == 15:
		return keep(6, 3)
	case len(r) > 6:
		return string(r[:2]) + hidden + string(r[len(r)-2:])
	}
	return hidden
}

// MaskBirthday keeps the year and stars every later digit:
// "1990-03-07" -> "1990-**-**", "1990年3月7日" -> "1990年*月*日". A birthday
// that does not start with a 4-digit year is hidden entirely.
func MaskBirthday(s string) string {
	if s == "" {
		return ""
	}
	s = strings.TrimSpace(s)
	if len(s) < 4 || strings.ContainsFunc(s[:4], func(r rune) bool { return r < '0' || r > '9' }) {
		return hidden
	}
	b := []byte(s)
	for i := 4; i < len(b); i++ {
		if '0' <= b[i] && b[i] <= '9' {
			b[i] = '*'
		}
	}
	return string(b)
}
