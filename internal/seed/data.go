package seed

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// anchor is the fixed "now" of the demo data, so every run writes the same
// rows.
var anchor = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

var surnames = []string{
	"王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱", "胡",
	"郭", "何", "林", "罗", "高", "郑", "梁", "谢", "宋", "唐", "许", "韩", "冯", "邓", "曹",
	"彭", "曾", "萧", "田", "董", "潘", "袁", "蔡", "蒋", "余", "于", "杜", "叶", "程", "魏",
	"欧阳", "司马", "诸葛",
}

var givenChars = []string{
	"伟", "芳", "娜", "秀", "英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰",
	"娟", "涛", "明", "超", "兰", "霞", "平", "刚", "桂", "华", "玲", "建", "文", "辉", "鑫",
	"婷", "雪", "晨", "宇", "欣", "怡", "佳", "子", "涵", "浩", "然", "思", "雨", "梓", "轩",
	"一", "诺", "博", "睿", "瑶", "琪", "嘉", "俊", "凯", "志", "峰", "慧", "淑", "红", "梅",
}

// mobilePrefixes are real mainland carrier prefixes.
var mobilePrefixes = []string{
	"133", "135", "136", "137", "138", "139", "147", "150", "151", "152", "155", "157", "158",
	"159", "166", "176", "177", "178", "180", "181", "182", "185", "186", "187", "188", "189",
	"191", "198", "199",
}

type place struct {
	province, city string
	districts      []string
	streets        []string
	regionCode     string
}

var places = []place{
	{"上海市", "上海市", []string{"黄浦区", "徐汇区", "静安区", "浦东新区", "闵行区"}, []string{"南京西路", "淮海中路", "陆家嘴环路", "虹桥路", "世纪大道"}, "310000"},
	{"浙江省", "杭州市", []string{"西湖区", "上城区", "拱墅区", "滨江区"}, []string{"文三路", "延安路", "湖墅南路", "江南大道"}, "330100"},
	{"江苏省", "南京市", []string{"玄武区", "鼓楼区", "秦淮区", "建邺区"}, []string{"中山路", "北京西路", "太平南路", "江东中路"}, "320100"},
	{"广东省", "广州市", []string{"天河区", "越秀区", "海珠区", "番禺区"}, []string{"天河路", "环市东路", "江南大道中", "市桥街"}, "440100"},
	{"广东省", "深圳市", []string{"南山区", "福田区", "罗湖区", "宝安区"}, []string{"深南大道", "华强北路", "人民南路", "新安六路"}, "440300"},
	{"北京市", "北京市", []string{"朝阳区", "海淀区", "东城区", "西城区"}, []string{"建国路", "中关村大街", "王府井大街", "金融大街"}, "110000"},
	{"四川省", "成都市", []string{"锦江区", "武侯区", "高新区"}, []string{"春熙路", "人民南路", "天府大道"}, "510100"},
	{"湖北省", "武汉市", []string{"江汉区", "武昌区", "洪山区"}, []string{"解放大道", "中南路", "珞喻路"}, "420100"},
}

type product struct {
	sku, name string
	price     int64 // fen
}

var products = []product{
	{"SKU-1001", "保湿精华液 50ml", 29900},
	{"SKU-1002", "氨基酸洁面乳 120g", 8900},
	{"SKU-1003", "防晒霜 SPF50 60ml", 15900},
	{"SKU-2001", "婴儿纸尿裤 L 码 58 片", 13900},
	{"SKU-2002", "有机米粉 250g", 6800},
	{"SKU-3001", "无线降噪耳机", 89900},
	{"SKU-3002", "快充充电器 65W", 19900},
	{"SKU-4001", "跑步鞋 男款", 59900},
	{"SKU-4002", "瑜伽垫 6mm", 12900},
	{"SKU-5001", "挂耳咖啡 10 包", 4900},
	{"SKU-5002", "手工牛轧糖礼盒", 9900},
	{"SKU-6001", "羊毛围巾", 39900},
}

// rng is the demo data's deterministic source.
type rng struct{ *rand.Rand }

func newRNG(seed uint64) rng { return rng{rand.New(rand.NewPCG(seed, 0x5c12a))} }

func (r rng) pick(list []string) string { return list[r.IntN(len(list))] }

func (r rng) chance(p float64) bool { return r.Float64() < p }

func (r rng) name() string {
	given := r.pick(givenChars)
	if r.chance(0.7) {
		given += r.pick(givenChars)
	}
	return r.pick(surnames) + given
}

func (r rng) mobile() string {
	return fmt.Sprintf("%s%08d", r.pick(mobilePrefixes), r.IntN(100000000))
}

func (r rng) place() place { return places[r.IntN(len(places))] }

// within returns a time up to d before the anchor.
func (r rng) within(d time.Duration) time.Time {
	return anchor.Add(-time.Duration(r.Int64N(int64(d)))).Truncate(time.Second)
}

func (r rng) birthday() string {
	year := 1960 + r.IntN(45)
	day := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, r.IntN(365))
	return day.Format(time.DateOnly)
}
