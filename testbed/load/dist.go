package load

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
)

// Dist is a distribution of token counts: a constant ("128"), uniform over a closed
// range ("16:512"), or uniform over a list ("16,64,256").
type Dist struct {
	lo, hi int
	list   []int
}

// ParseDist parses a Dist; every value must be at least min.
func ParseDist(s string, min int) (Dist, error) {
	bad := func(why string) (Dist, error) { return Dist{}, fmt.Errorf("distribution %q: %s", s, why) }
	num := func(v string) (int, error) {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			return 0, fmt.Errorf("distribution %q: %q is not an integer", s, v)
		}
		if n < min {
			return 0, fmt.Errorf("distribution %q: %d is below %d", s, n, min)
		}
		return n, nil
	}
	switch {
	case strings.Contains(s, ":"):
		a, b, _ := strings.Cut(s, ":")
		lo, err := num(a)
		if err != nil {
			return Dist{}, err
		}
		hi, err := num(b)
		if err != nil {
			return Dist{}, err
		}
		if hi < lo {
			return bad("range ends below its start")
		}
		return Dist{lo: lo, hi: hi}, nil
	case strings.Contains(s, ","):
		var d Dist
		for _, v := range strings.Split(s, ",") {
			n, err := num(v)
			if err != nil {
				return Dist{}, err
			}
			d.list = append(d.list, n)
		}
		return d, nil
	default:
		n, err := num(s)
		if err != nil {
			return Dist{}, err
		}
		return Dist{lo: n, hi: n}, nil
	}
}

// Draw returns one value.
func (d Dist) Draw(r *rand.Rand) int {
	if len(d.list) > 0 {
		return d.list[r.IntN(len(d.list))]
	}
	return d.lo + r.IntN(d.hi-d.lo+1)
}

// Max is the largest value Draw can return.
func (d Dist) Max() int {
	if len(d.list) == 0 {
		return d.hi
	}
	m := d.list[0]
	for _, v := range d.list {
		m = max(m, v)
	}
	return m
}

// String renders d as ParseDist reads it.
func (d Dist) String() string {
	if len(d.list) > 0 {
		s := make([]string, len(d.list))
		for i, v := range d.list {
			s[i] = strconv.Itoa(v)
		}
		return strings.Join(s, ",")
	}
	if d.lo == d.hi {
		return strconv.Itoa(d.lo)
	}
	return fmt.Sprintf("%d:%d", d.lo, d.hi)
}
