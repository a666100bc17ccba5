// Package connectors will hold the platform clients: WeCom, Taobao/Tmall,
// Douyin shops, JD and WeChat official accounts and mini-programs (see
// ../shared/PLATFORMS.md for their wire details). Connectors know platforms,
// not GraphQL or ent: jobs/ calls them and domain packages store what they
// return. Each connector ships with a fake server speaking the platform's
// real protocol, for tests and the demo.
package connectors
