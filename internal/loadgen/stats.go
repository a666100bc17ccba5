package loadgen

import (
	"math"
	"math/bits"
	"slices"
	"time"
)

// Percentile returns the p-th percentile (0 < p ≤ 100) of values by the
// nearest-rank method: the smallest value such that at least p% of the
// values are at or below it. It is always one of the values (no
// interpolation): the median of 20 is the 10th smallest, p100 the
// largest. Zero for no values. values need not be sorted.
func Percentile(values []time.Duration, p float64) time.Duration {
	if len(values) == 0 {
		return 0
	}
	s := slices.Clone(values)
	slices.Sort(s)
	return s[rank(len(s), p)]
}

// rank is the 0-based index of the nearest-rank p-th percentile of n
// sorted values.
func rank(n int, p float64) int {
	r := int(math.Ceil(p / 100 * float64(n)))
	return min(max(r, 1), n) - 1
}

// Histogram counts microsecond latencies in log-linear buckets: exact
// below 1024 µs, then 512 buckets per power of two (a bucket is at most
// 0.2% wide relative to its values). Histograms from several load
// processes merge exactly by adding counts. The zero value is empty.
type Histogram struct {
	Counts map[int]uint64 `json:"counts,omitempty"` // bucket index → count
	N      uint64         `json:"n"`
	Min    int64          `json:"min"` // µs, exact
	Max    int64          `json:"max"` // µs, exact
	Sum    int64          `json:"sum"` // µs, for the mean
}

const subBuckets = 512 // per power of two above 1024 µs

func bucketOf(us int64) int {
	if us < 2*subBuckets {
		return int(us)
	}
	e := bits.Len64(uint64(us)) - 10 // us >> e lies in [512, 1024)
	return 2*subBuckets + (e-1)*subBuckets + int(us>>e) - subBuckets
}

// bucketBounds are the smallest and largest values of bucket b.
func bucketBounds(b int) (lo, hi int64) {
	if b < 2*subBuckets {
		return int64(b), int64(b)
	}
	e := (b-2*subBuckets)/subBuckets + 1
	m := int64((b-2*subBuckets)%subBuckets + subBuckets)
	return m << e, (m+1)<<e - 1
}

// Add counts one latency d (negative counts as 0).
func (h *Histogram) Add(d time.Duration) {
	us := max(d.Microseconds(), 0)
	if h.Counts == nil {
		h.Counts = map[int]uint64{}
	}
	if h.N == 0 || us < h.Min {
		h.Min = us
	}
	if h.N == 0 || us > h.Max {
		h.Max = us
	}
	h.Counts[bucketOf(us)]++
	h.N++
	h.Sum += us
}

// Merge adds o's counts to h.
func (h *Histogram) Merge(o *Histogram) {
	if o == nil || o.N == 0 {
		return
	}
	if h.Counts == nil {
		h.Counts = map[int]uint64{}
	}
	if h.N == 0 || o.Min < h.Min {
		h.Min = o.Min
	}
	if h.N == 0 || o.Max > h.Max {
		h.Max = o.Max
	}
	for b, c := range o.Counts {
		h.Counts[b] += c
	}
	h.N += o.N
	h.Sum += o.Sum
}

// Quantile is the nearest-rank p-th percentile (0 < p ≤ 100), as the
// middle of its bucket clamped to the exact minimum and maximum (so
// within 0.1% of the true nearest-rank value).
func (h *Histogram) Quantile(p float64) time.Duration {
	if h == nil || h.N == 0 {
		return 0
	}
	target := uint64(rank(int(h.N), p)) + 1 // 1-based rank
	keys := make([]int, 0, len(h.Counts))
	for b := range h.Counts {
		keys = append(keys, b)
	}
	slices.Sort(keys)
	var seen uint64
	for _, b := range keys {
		seen += h.Counts[b]
		if seen >= target {
			lo, hi := bucketBounds(b)
			v := min(max((lo+hi)/2, h.Min), h.Max)
			return time.Duration(v) * time.Microsecond
		}
	}
	return time.Duration(h.Max) * time.Microsecond
}

// Mean is the arithmetic mean.
func (h *Histogram) Mean() time.Duration {
	if h == nil || h.N == 0 {
		return 0
	}
	return time.Duration(h.Sum/int64(h.N)) * time.Microsecond
}
