package loadgen

// Msg is one JSON line between the coordinator and a load process: a
// command (Cmd set) on the load process's stdin, or a report (Type set)
// on its stdout. Times are wall-clock Unix nanoseconds (time.Now on the
// same host).
type Msg struct {
	Cmd  string `json:"cmd,omitempty"`
	Type string `json:"type,omitempty"`

	PID int `json:"pid,omitempty"` // ready

	// connected: connections acknowledged, failed, and the time of the
	// first dial and the last connection_ack.
	OK        int    `json:"ok,omitempty"`
	Failed    int    `json:"failed,omitempty"`
	FirstDial int64  `json:"first_dial,omitempty"`
	LastAck   int64  `json:"last_ack,omitempty"`
	Err       string `json:"err,omitempty"` // a sample error

	// done / status for one event: receptions so far and the first and
	// last reception time.
	Seq   int   `json:"seq,omitempty"`
	Count int   `json:"count,omitempty"`
	First int64 `json:"first,omitempty"`
	Last  int64 `json:"last,omitempty"`

	// status / lost: subscriptions that have received an event (live),
	// connections still open, and subscriptions or connections that ended.
	Live  int `json:"live,omitempty"`
	Open  int `json:"open,omitempty"`
	Ended int `json:"ended,omitempty"`

	// latency: the send times of events From..To-1 (Sent[i] for From+i);
	// the answer has the histogram of reception − send over every
	// reception of those events, and Count receptions.
	From int        `json:"from,omitempty"`
	To   int        `json:"to,omitempty"`
	Sent []int64    `json:"sent,omitempty"`
	Hist *Histogram `json:"hist,omitempty"`
}

// Commands and report types.
const (
	cmdConnect = "connect" // dial every connection, subscribe, report connected
	cmdStatus  = "status"  // report status (for Seq)
	cmdLatency = "latency" // report latency
	cmdQuit    = "quit"    // close every connection and exit

	msgReady     = "ready"     // the process runs and reads commands
	msgConnected = "connected" // every connection is acknowledged or failed
	msgLive      = "live"      // every subscription has received an event
	msgDone      = "done"      // every subscription has received event Seq
	msgStatus    = "status"
	msgLost      = "lost" // a connection or subscription ended
	msgLatency   = "latency"
)
