package schematype

import "time"

// Consent is a customer's latest answer, on one channel, to whether they
// may be sent marketing: campaigns honour it (PIPL asks for separate
// consent per purpose).
type Consent struct {
	// Channel is where marketing would reach them: WECOM, SMS, EMAIL,
	// WECHAT_OA, MINI_PROGRAM.
	Channel string `json:"channel"`
	Granted bool   `json:"granted"`
	// At is when they answered.
	At time.Time `json:"at"`
	// Source says how the answer was collected (a form, an agent, a
	// platform), for proving it later.
	Source string `json:"source"`
}

// ConsentChannels are the channels consent is recorded for.
var ConsentChannels = []string{"WECOM", "SMS", "EMAIL", "WECHAT_OA", "MINI_PROGRAM"}
