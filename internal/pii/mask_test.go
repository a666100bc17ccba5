package pii

import "testing"

type maskCase struct{ in, want string }

func testMask(t *testing.T, name string, mask func(string) string, tests []maskCase) {
	t.Helper()
	for _, tt := range tests {
		if got := mask(tt.in); got != tt.want {
			t.Errorf("%s(%q) = %q; want %q", name, tt.in, got, tt.want)
		}
	}
}

func TestMaskPhone(t *testing.T) {
	testMask(t, "MaskPhone", MaskPhone, []maskCase{
		{"13812345678", "138****5678"},
		{"138-1234-5678", "138****5678"},
		{"+86 138-1234-5678", "+86 138****5678"},
		{"0086 138 1234 5678", "+86 138****5678"},
		{"+86 10 1234 5678", "+86 101****5678"},
		{"010-12345678", "010****5678"},
		{"+44 20 7946 0958", "+442****0958"},
		{"12345678", "123****5678"},
		{"1234567", "****67"},
		{"12345", "****45"},
		{"", ""},
		{"   ", "****"},
		{"1234", "****"},
		{"not a phone", "not****hone"},
		{"电话一二三四五六七八", "电话一****五六七八"},
		{"\xff\xfe", "****"},
	})
}

func TestMaskName(t *testing.T) {
	testMask(t, "MaskName", MaskName, []maskCase{
		{"张三", "张*"},
		{"欧阳娜娜", "欧***"},
		{"李", "*"},
		{"Alice Wong", "A*********"},
		{"  王小明 ", "王**"},
		{"A", "*"},
		{"", ""},
		{"   ", "*"},
	})
}

func TestMaskAddress(t *testing.T) {
	tests := []struct{ province, city, street, want string }{
		{"浙江省", "杭州市", "文三路123号", "浙江省杭州市****"},
		{"浙江省", "", "文三路123号", "浙江省****"},
		{"", "杭州市", "文三路123号", "杭州市****"},
		{" 浙江省 ", " 杭州市 ", "", "浙江省杭州市****"},
		{"", "", "浙江省杭州市西湖区文三路123号", "浙江省杭州市****"},
		{"", "", "浙江杭州市西湖区文三路123号", "浙江杭州市****"},
		{"", "", "上海市浦东新区世纪大道100号", "上海市****"},
		{"", "", "北京朝阳区建国路88号", "北京****"},
		{"", "", "广西壮族自治区南宁市青秀区民族大道1号", "广西壮族自治区南宁市****"},
		{"", "", "吉林省延边朝鲜族自治州延吉市光明街1号", "吉林省延边朝鲜族自治州****"},
		{"", "", "内蒙古自治区锡林郭勒盟锡林浩特市", "内蒙古自治区锡林郭勒盟****"},
		{"", "", "香港特别行政区中环皇后大道中1号", "香港特别行政区****"},
		{"", "", "浙江省西湖区文三路123号", "浙江省****"},
		{"", "", "杭州市西湖区文三路123号", "杭州市****"},
		{"", "", "文三路123号", "****"},
		{"", "", "联华超市西湖店", "****"},
		{"", "", "农贸市场3号摊位", "****"},
		{"", "", "1 Main Street, Springfield", "****"},
		{"", "", "  ", "****"},
		{"", "", "", ""},
	}
	for _, tt := range tests {
		if got := MaskAddress(tt.province, tt.city, tt.street); got != tt.want {
			t.Errorf("MaskAddress(%q, %q, %q) = %q; want %q", tt.province, tt.city, tt.street, got, tt.want)
		}
	}
}

func TestMaskEmail(t *testing.T) {
	testMask(t, "MaskEmail", MaskEmail, []maskCase{
		{"alice@example.com", "a***@example.com"},
		{"a@example.com", "*@example.com"},
		{"张三@qq.com", "张***@qq.com"},
		{" bob@example.com ", "b***@example.com"},
		{"", ""},
		{"alice", "***"},
		{"@example.com", "***"},
		{"alice@", "***"},
		{"a@b@c", "***"},
		{"al ice@example.com", "***"},
	})
}

func TestMaskIDCard(t *testing.T) {
	testMask(t, "MaskIDCard", MaskIDCard, []maskCase{
		{"110101199003074512", "110101********4512"},
		{"11010119900307451X", "110101********451X"},
		{"110101900307451", "110101******451"},
		{"E12345678", "E1****78"},
		{"1234567", "12****67"},
		{"123456", "****"},
		{"", ""},
		{" ", "****"},
		{"一二三四五六七八九", "一二****八九"},
	})
}

func TestMaskBirthday(t *testing.T) {
	testMask(t, "MaskBirthday", MaskBirthday, []maskCase{
		{"1990-03-07", "1990-**-**"},
		{"1990/3/7", "1990/*/*"},
		{"19900307", "1990****"},
		{"1990年3月7日", "1990年*月*日"},
		{"1990", "1990"},
		{"03-07", "****"},
		{"March 7", "****"},
		{"", ""},
		{"一九九〇年", "****"},
	})
}

func TestMask(t *testing.T) {
	tests := []struct {
		class    Class
		in, want string
	}{
		{ClassPhone, "13812345678", "138****5678"},
		{ClassName, "张三", "张*"},
		{ClassAddress, "浙江省杭州市文三路123号", "浙江省杭州市****"},
		{ClassEmail, "alice@example.com", "a***@example.com"},
		{ClassIDCard, "110101199003074512", "110101********4512"},
		{ClassBirthday, "1990-03-07", "1990-**-**"},
		{"passport", "E12345678", "****"},
		{"passport", "", ""},
	}
	for _, tt := range tests {
		if got := Mask(tt.class, tt.in); got != tt.want {
			t.Errorf("Mask(%q, %q) = %q; want %q", tt.class, tt.in, got, tt.want)
		}
	}
}
