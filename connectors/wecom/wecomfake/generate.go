package wecomfake

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Sizes says how much Generate makes.
type Sizes struct {
	Departments     int // in all, the root included; at least 1
	Users           int
	ContactsPerUser int // customers each active member follows
}

var (
	surnames = []rune("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤")
	given    = []rune("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰萍红建文辉鑫宇浩然子轩梓涵一诺欣怡晨阳思远雨萱博文佳怡俊杰诗涵")
	regions  = []string{"华东", "华南", "华北", "华中", "西南", "西北", "东北"}
	cities   = []string{"上海", "杭州", "南京", "苏州", "广州", "深圳", "北京", "天津", "武汉", "长沙", "成都", "重庆", "西安", "沈阳", "厦门", "青岛", "郑州", "合肥", "宁波", "无锡"}
	roads    = []string{"人民路", "解放路", "中山路", "建设路", "南京路", "和平路", "新华路", "长江路", "黄河路", "文化路", "胜利路", "光明路"}
	prefixes = []string{"130", "131", "132", "135", "136", "137", "138", "139", "150", "151", "152", "158", "159", "186", "187", "188", "189", "177", "199"}
)

// Generate fills s with a retail chain, deterministic for a seed: an org
// tree HQ (department 1) -> regions -> stores, members spread over the
// stores (a few in two, each store's first member its leader, some not
// active or resigned), Chinese-looking names, unique 11-digit mobiles,
// three tag groups, and ContactsPerUser customers for each active member
// (some shared with a colleague). Follow times are before Now.
func Generate(s *Server, seed int64, sz Sizes) {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x5ca1ab1e))
	nDepts := max(sz.Departments, 1)
	nRegions := 0
	if nDepts > 1 {
		nRegions = min(max(1, (nDepts-1)/25), nDepts-1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()

	s.addDepartment(Department{ID: 1, Name: "总部", ParentID: 0, Order: 100000000})
	for i := range nRegions {
		name := regions[i%len(regions)] + "大区"
		if i >= len(regions) {
			name = fmt.Sprintf("%s%d区", regions[i%len(regions)], i/len(regions)+1)
		}
		s.addDepartment(Department{ID: int64(2 + i), Name: name, ParentID: 1, Order: int64(100000000 - i*1000)})
	}
	var stores []int64
	for i := range nDepts - 1 - nRegions {
		id := int64(2 + nRegions + i)
		name := fmt.Sprintf("%s%s%d号店", cities[rng.IntN(len(cities))], roads[rng.IntN(len(roads))], i+1)
		s.addDepartment(Department{ID: id, Name: name, ParentID: int64(2 + i%nRegions), Order: int64(100000000 - i)})
		stores = append(stores, id)
	}
	homes := stores
	if len(homes) == 0 {
		for i := range nRegions {
			homes = append(homes, int64(2+i))
		}
	}
	if len(homes) == 0 {
		homes = []int64{1}
	}

	groups := []TagGroup{
		{ID: "etGENgrpLevel", Name: "客户等级", Order: 3, Tags: []Tag{{"etGENtagA", "A类客户", 3}, {"etGENtagB", "B类客户", 2}, {"etGENtagC", "C类客户", 1}}},
		{ID: "etGENgrpSource", Name: "来源渠道", Order: 2, Tags: []Tag{{"etGENtagStore", "门店扫码", 3}, {"etGENtagOnline", "线上活动", 2}, {"etGENtagReferral", "老客推荐", 1}}},
		{ID: "etGENgrpInterest", Name: "兴趣偏好", Order: 1, Tags: []Tag{{"etGENtagNew", "新品", 4}, {"etGENtagSale", "促销", 3}, {"etGENtagMember", "会员日", 2}, {"etGENtagGift", "礼品", 1}}},
	}
	for _, g := range groups {
		s.addTagGroup(g)
	}

	mobileSalt := rng.Uint64N(100000000)
	var active []*User
	for i := range sz.Users {
		home := homes[i%len(homes)]
		u := User{
			UserID:      fmt.Sprintf("u%07d", i+1),
			Name:        name(rng),
			Mobile:      fmt.Sprintf("%s%08d", prefixes[rng.IntN(len(prefixes))], (uint64(i)*7919+mobileSalt)%100000000),
			Departments: []int64{home},
			Status:      UserActive,
		}
		switch x := rng.IntN(100); {
		case x < 2:
			u.Status = UserNotActivated
		case x < 3:
			u.Status = UserDisabled
		case x < 4:
			u.Status = UserResigned
		}
		if len(homes) > 1 && rng.IntN(20) == 0 {
			if other := homes[rng.IntN(len(homes))]; other != home {
				u.Departments = append(u.Departments, other)
			}
		}
		s.addUser(u)
		if d := s.depts[home]; len(d.Leaders) == 0 && u.Status == UserActive {
			d.Leaders = []string{u.UserID}
		}
		if u.Status == UserActive {
			active = append(active, s.users[u.UserID])
		}
	}

	n := 0
	for ai, u := range active {
		for range sz.ContactsPerUser {
			n++
			c := ExternalContact{
				ExternalUserID: fmt.Sprintf("wmGEN%08x%019d", uint32(seed), n),
				Name:           name(rng),
				Type:           1,
				Gender:         rng.IntN(3),
			}
			if rng.IntN(10) < 7 {
				c.UnionID = fmt.Sprintf("oGEN%08x%016d", uint32(seed), n)
			}
			follows := []Follow{follow(rng, u.UserID, c.ExternalUserID, groups, now)}
			if rng.IntN(10) == 0 && len(active) > 1 {
				other := active[(ai+1)%len(active)]
				follows = append(follows, follow(rng, other.UserID, c.ExternalUserID, groups, now))
			}
			s.addExternalContact(c, follows...)
		}
	}
}

func name(rng *rand.Rand) string {
	n := []rune{surnames[rng.IntN(len(surnames))], given[rng.IntN(len(given))]}
	if rng.IntN(3) > 0 {
		n = append(n, given[rng.IntN(len(given))])
	}
	return string(n)
}

func follow(rng *rand.Rand, userID, ext string, groups []TagGroup, now time.Time) Follow {
	f := Follow{
		UserID:     userID,
		CreateTime: now.Add(-time.Duration(rng.Int64N(365*24*3600)) * time.Second).Unix(),
		AddWay:     []int{1, 1, 1, 2, 3, 0}[rng.IntN(6)],
		OperUserID: ext,
	}
	if f.AddWay == 1 && rng.IntN(2) == 0 {
		f.State = fmt.Sprintf("store_qr_%d", rng.IntN(100))
	}
	for _, g := range groups {
		if rng.IntN(2) == 0 {
			f.TagIDs = append(f.TagIDs, g.Tags[rng.IntN(len(g.Tags))].ID)
		}
	}
	return f
}
