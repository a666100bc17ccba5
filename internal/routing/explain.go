package routing

import (
	"fmt"
	"strings"
	"time"
)

// Explain tells in one English sentence chain how the ticket came to
// pick (a staff ID, normally the first of the ranking the caller could
// claim): every step of the trace with its counts, and for the ordering
// step pick's place and the figures it rests on, e.g.
//
//	skills refund,vip: 14 of 30000; region 310000: 9 of 14; on shift and
//	under capacity: 6 of 9 (3 at capacity); least loaded weighted by CSAT:
//	picked #123 (load 2/20, CSAT 4.8 from 12, score -0.170)
//
// When the ranking is empty it tells why nobody fits; when pick is not in
// the ranking it says so.
func (d Decision) Explain(pick int) string {
	parts := make([]string, 0, len(d.Trace))
	for _, t := range d.Trace {
		kind := StepKind(t.Step)
		if !kind.ordering() || len(d.Ranking) == 0 {
			parts = append(parts, t.Note)
			continue
		}
		label, _, _ := strings.Cut(t.Note, ": ")
		det, ok := d.Details[pick]
		if !ok {
			parts = append(parts, fmt.Sprintf("%s: #%d is not in the ranking (best #%d)", label, pick, d.Ranking[0]))
			continue
		}
		place := ""
		if det.Rank > 1 {
			place = fmt.Sprintf(", ranked %d of %d", det.Rank, len(d.Ranking))
		}
		parts = append(parts, fmt.Sprintf("%s: picked #%d%s (%s)", label, pick, place, facts(kind, det, d.Scores[pick])))
	}
	return strings.Join(parts, "; ")
}

// facts lists the figures a ranked staff member's place rests on.
func facts(order StepKind, det Detail, score float64) string {
	load := fmt.Sprintf("load %d/%d", det.Load, det.Capacity)
	if order == StepRoundRobin {
		switch {
		case det.LastAssignedAt.IsZero():
			return "never assigned, " + load
		case det.SinceAssigned > 0:
			return "last assigned " + duration(det.SinceAssigned) + " ago, " + load
		}
		return "last assigned " + det.LastAssignedAt.UTC().Format(time.RFC3339) + ", " + load
	}
	f := []string{load}
	if det.CSATCount > 0 {
		f = append(f, fmt.Sprintf("CSAT %.1f from %d", det.CSAT, det.CSATCount))
	} else {
		f = append(f, "no CSAT yet")
	}
	if det.AvgResolution > 0 {
		res := "resolves in " + duration(det.AvgResolution)
		if det.MedianResolution > 0 {
			res += " against a median of " + duration(det.MedianResolution)
		}
		f = append(f, res)
	}
	f = append(f, fmt.Sprintf("score %.3f", score))
	return strings.Join(f, ", ")
}

// duration writes d for people: "1h30m", "2h", "45s", "300ms".
func duration(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	}
	s := d.Round(time.Minute).String()
	s = strings.TrimSuffix(s, "0s")
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
