// Package wecomfake is a fake WeCom (企业微信) server API for one corp,
// for tests over real HTTP (httptest) and for the demo. It speaks WeCom's
// wire protocol as written down in shared/PLATFORMS.md (base path
// /cgi-bin/, access_token in the query, JSON answers that always carry
// errcode and errmsg with HTTP 200) and pushes callbacks encrypted and
// signed with connectors/wecom/msgcrypt exactly as WeCom does. It imports
// no other package of ours, so that the WeCom client can be tested against
// it independently.
//
// # Endpoints
//
//	GET  gettoken                         same token while valid; 40013 corp, 40001 secret
//	GET  department/list?id=              all, or the subtree under id (60123)
//	GET  department/simplelist?id=
//	POST user/list_id                     {cursor, limit<=10000} -> dept_user[], next_cursor
//	GET  user/simplelist?department_id=&fetch_child=
//	GET  user/get?userid=                 60111
//	GET  externalcontact/get_follow_user_list
//	GET  externalcontact/list?userid=
//	GET  externalcontact/get?external_userid=           40096 unknown, 84061 no follow
//	POST externalcontact/batch/get_by_user              {userid_list<=100, cursor, limit<=100}
//	POST externalcontact/get_corp_tag_list | add_corp_tag | edit_corp_tag | del_corp_tag
//	POST externalcontact/mark_tag
//	POST externalcontact/add_contact_way | update_contact_way | del_contact_way | get_contact_way
//	POST externalcontact/send_welcome_msg               41051 after 20 s or when used
//	POST message/send                                   text, textcard, markdown
//	POST externalcontact/add_msg_template               chat_type single
//	POST externalcontact/transfer_customer | resigned/transfer_customer
//	GET  auth/getuserinfo?code=                         40029
//
// Every call but gettoken needs access_token: missing 41001, unknown 40014,
// expired or revoked by ExpireTokens 42001. Then each corp may call each
// path RateLimitPerMinute times per calendar minute (45009 beyond). A wrong
// method answers 43001/43002, a POST body that is not JSON 47001. Faults
// queued by FailNext are answered after the token and frequency checks.
// Requests to a path the fake does not know answer HTTP 404 with errcode
// 48002 ("api forbidden") in JSON; real WeCom answers such paths with a
// 404 page, but a JSON answer says plainly what the fake lacks.
//
// # Behaviour worth knowing
//
//   - Resigned members (status 5) are left out of user/list_id,
//     user/simplelist and user/get (60111), as WeCom drops members who
//     left; their follows stay for resigned/transfer_customer.
//   - Cursors (user/list_id, batch/get_by_user) name the last item
//     returned, not an offset, so data changed between pages causes no
//     duplicates or gaps among the rest.
//   - message/send: each member receives at most 30 app messages a minute
//     and 1000 an hour. Beyond that the message is silently dropped for
//     that member, as WeCom does: the call answers ok with a msgid, and
//     AppMessages records the message only with the members it reached
//     (not at all if none). Unknown or inactive members go in invaliduser;
//     81013 when no recipient is valid.
//   - add_msg_template: a customer is counted when the task is created;
//     from the fifth in a calendar month (Asia/Shanghai) it goes into
//     fail_list, as do unknown customers and those the sender does not
//     follow.
//   - Tags created in the "console" (AddTagGroup, Generate) cannot be
//     edited or deleted through the API (301002); tags created through
//     add_corp_tag can. Deleting a group's last tag deletes the group.
//
// # Simplified or left out (honestly)
//
//   - One corp, one agent. Any valid token may call any endpoint: the
//     customer-contact permission (48002 for the wrong app), IP allow lists
//     (60020) and visibility ranges (60011) are not modelled, nor the hourly
//     corp limits (150,000/h), per-IP limits, 45033 concurrency, or IP
//     blocking after wrong secrets.
//   - gettoken's expires_in is the time left on the live token.
//   - externalcontact/get returns every follow in one page (next_cursor
//     empty); external_profile is always an empty object, avatar empty;
//     remark_mobiles always empty; tags are all of type 1 (corp tags).
//   - user/get answers a fixed set of fields (mobile always visible).
//   - message/send: toparty takes direct members only; totag is not
//     modelled (every tag is invalid); enable_duplicate_check, safe and the
//     other message types are not supported (40008).
//   - add_msg_template: chat_type group, tag filters and "all my
//     customers" (no external_userid) are not supported (40058); there is
//     no get_groupmsg_send_result.
//   - Transfers take effect at once (WeCom waits 24 h for a refusal) with
//     no 90-day limit; play a refusal with EventTransferFail. A taken-over
//     follow keeps remark, tags and state, with createtime now.
//   - Callbacks happen only when the test sends them (SendCallback,
//     SimulateAdd); API calls do not produce any, as on WeCom.
//   - Errors on bad parameters mostly answer 40058 with a hint where WeCom
//     has more specific codes.
package wecomfake
