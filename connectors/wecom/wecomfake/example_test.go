package wecomfake_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/scrm-dev/scrm/connectors/wecom/wecomfake"
)

// A fake corp with a generated chain, behind a real HTTP server: point the
// WeCom client's base URL at ts.URL + "/cgi-bin/".
func Example() {
	s := wecomfake.New(wecomfake.Options{CorpID: "wwdemo", AgentID: 1000002, Secret: "s3cret"})
	wecomfake.Generate(s, 1, wecomfake.Sizes{Departments: 30, Users: 200, ContactsPerUser: 3})
	ts := httptest.NewServer(s)
	defer ts.Close()

	var tok struct {
		ErrCode     int    `json:"errcode"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	resp, err := http.Get(ts.URL + "/cgi-bin/gettoken?" + url.Values{"corpid": {"wwdemo"}, "corpsecret": {"s3cret"}}.Encode())
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
		panic(err)
	}
	fmt.Println(tok.ErrCode, tok.ExpiresIn, len(s.Departments()), len(s.Users()))

	s.FailNext("department/list", 45009, 1)
	resp2, err := http.Get(ts.URL + "/cgi-bin/department/list?access_token=" + tok.AccessToken)
	if err != nil {
		panic(err)
	}
	defer resp2.Body.Close()
	var list struct {
		ErrCode int `json:"errcode"`
	}
	if err := json.NewDecoder(resp2.Body).Decode(&list); err != nil {
		panic(err)
	}
	fmt.Println(list.ErrCode, s.Calls("department/list"))
	// Output:
	// 0 7200 30 200
	// 45009 1
}
