package routing

// Candidate sets are ascending lists of member indexes without
// duplicates: the pool's posting lists, or results written into one of
// the three scratch buffers.

// seek returns the smallest i >= from with l[i] >= x, or len(l). It
// gallops (probes from+1, from+2, from+4, …) and then binary-searches the
// last gap, so walking a short list against a long one costs about
// log(long/short) per element and two similar lists cost about one step
// per element.
func seek(l []int32, from int, x int32) int {
	if from >= len(l) || l[from] >= x {
		return from
	}
	lo, step := from, 1 // invariant: l[lo] < x
	hi := lo + step
	for hi < len(l) && l[hi] < x {
		lo = hi
		step <<= 1
		hi = lo + step
	}
	hi = min(hi, len(l))
	// The answer is in (lo, hi]: l[lo] < x, and hi is len(l) or l[hi] >= x.
	for lo+1 < hi {
		mid := int(uint(lo+hi) >> 1)
		if l[mid] < x {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// filterBits appends to dst the indexes of ids whose bit is set in bits.
func filterBits(dst, ids []int32, bits []uint64) []int32 {
	for _, x := range ids {
		if bits[x/64]&(1<<(x%64)) != 0 {
			dst = append(dst, x)
		}
	}
	return dst
}

// intersect appends to dst the indexes in both a and b.
func intersect(dst, a, b []int32) []int32 {
	if len(a) > len(b) {
		a, b = b, a
	}
	j := 0
	for _, x := range a {
		j = seek(b, j, x)
		if j == len(b) {
			break
		}
		if b[j] == x {
			dst = append(dst, x)
			j++
		}
	}
	return dst
}

// union appends to dst the indexes in a or b.
func union(dst, a, b []int32) []int32 {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			dst = append(dst, a[i])
			i++
		case a[i] > b[j]:
			dst = append(dst, b[j])
			j++
		default:
			dst = append(dst, a[i])
			i++
			j++
		}
	}
	dst = append(dst, a[i:]...)
	return append(dst, b[j:]...)
}
