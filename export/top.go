package export

import (
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// TopView is one frame of `inferprobe top`: what RenderTop draws.
type TopView struct {
	Time   time.Time     // wall-clock time of the frame
	Window time.Duration // the sliding window rates and quantiles are computed over
	Units  []TopUnit
	GPUs   []TopGPU
	Agent  TopAgent
	// Notes are one-line remarks printed at the bottom ("gpu health off: ...").
	Notes []string
}

// TopUnit is one serving unit's row. Rates and quantiles are over the window; a NaN is
// no value (nothing finished in the window).
type TopUnit struct {
	Name              string
	RPS, TokensPerSec float64
	TTFT50, TTFT99    float64 // seconds
	TPOT50, TPOT99    float64 // seconds
	Waiting, Running  int     // now
	Batch             float64 // mean batch size of the window's steps
	Errors            map[string]int
	LongestWait       time.Duration // longest blocking wait in flight now
	Stalled           int           // waits in flight past the stall threshold now
	HostIdle          float64       // host gaps / (host gaps + step time), window
	Requests, Steps   int           // finished in the window
}

// TopGPU is one GPU's row (NVML); nil is no value.
type TopGPU struct {
	Index             int
	Name              string
	Utilization       *float64 // 0..1
	MemUsed, MemTotal *uint64  // bytes
	Temperature       *float64 // Celsius
	Power, PowerLimit *float64 // watts
	Throttle          []string // active reasons other than gpu_idle
}

// TopAgent is the agent's own state.
type TopAgent struct {
	Tracked, Attached int
	EventsPerSec      float64
	Dropped           uint64
}

// TopWidth is the width the view is laid out for; RenderTop narrows the unit column and
// then cuts lines at its width argument when that is narrower.
const TopWidth = 100

// unitWidth is the unit column at full width, topRowWidth a unit row's width with it.
const (
	unitWidth   = 24
	topRowWidth = unitWidth + 69
)

// RenderTop draws v as plain text lines of at most width columns (TopWidth when width is
// 0 or more than TopWidth). It is a pure function of its arguments.
func RenderTop(v TopView, width int) string {
	if width <= 0 || width > TopWidth {
		width = TopWidth
	}
	var lines []string
	add := func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) }
	add("inferprobe top  %s  last %s  procs %d  probes %d  events %s/s  dropped %d",
		v.Time.Format("2006-01-02 15:04:05"), v.Window, v.Agent.Tracked, v.Agent.Attached, humanRate(v.Agent.EventsPerSec), v.Agent.Dropped)
	add("WAIT queued  RUN streaming  BATCH requests/step  gpu wait: longest now  q quits")
	// The unit's name gives way first, so WAIT, RUN and BATCH stay on a narrow terminal.
	nameW := min(max(unitWidth-(topRowWidth-width), 8), unitWidth)
	add("%-*s %7s %9s %15s %15s %5s %5s %6s", nameW, "UNIT", "RPS", "TOK/S", "TTFT p50/p99 ms", "TPOT p50/p99 ms", "WAIT", "RUN", "BATCH")
	if len(v.Units) == 0 {
		add("  (no serving unit seen yet)")
	}
	for _, u := range v.Units {
		add("%-*s %7s %9s %15s %15s %5d %5d %6s", nameW, cut(u.Name, nameW), num(u.RPS, 1), num(u.TokensPerSec, 1),
			pair(u.TTFT50, u.TTFT99), pair(u.TPOT50, u.TPOT99), u.Waiting, u.Running, num(u.Batch, 1))
		add("  gpu wait %-8s stalled %-3d host idle %-6s  errors %s",
			waitText(u.LongestWait), u.Stalled, pct(u.HostIdle), errorList(u.Errors))
	}
	if len(v.GPUs) > 0 {
		add("")
		add("%-3s %-26s %5s %15s %6s %11s  %s", "GPU", "NAME", "UTIL", "MEMORY GiB", "TEMP", "POWER W", "THROTTLE")
		for _, g := range v.GPUs {
			throttle := "-"
			if len(g.Throttle) > 0 {
				throttle = strings.Join(g.Throttle, ",")
			}
			add("%-3d %-26s %5s %15s %6s %11s  %s", g.Index, cut(g.Name, 26), pctp(g.Utilization),
				memPair(g.MemUsed, g.MemTotal), degrees(g.Temperature), wattPair(g.Power, g.PowerLimit), throttle)
		}
	}
	if len(v.Notes) > 0 {
		add("")
		for _, n := range v.Notes {
			add("%s", n)
		}
	}
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(cut(strings.TrimRight(l, " "), width))
		b.WriteByte('\n')
	}
	return b.String()
}

// ANSIFrame wraps a rendered view for a terminal: cursor home, every line cleared to its
// end, and the rest of the screen cleared, so a frame overwrites the last one in place.
func ANSIFrame(text string) string {
	var b strings.Builder
	b.WriteString("\x1b[H")
	for _, l := range strings.SplitAfter(text, "\n") {
		if l == "" {
			continue
		}
		b.WriteString(strings.TrimSuffix(l, "\n"))
		b.WriteString("\x1b[K\n")
	}
	b.WriteString("\x1b[J")
	return b.String()
}

func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "~"
}

func num(v float64, prec int) string {
	if math.IsNaN(v) {
		return "-"
	}
	return fmt.Sprintf("%.*f", prec, v)
}

func humanRate(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case v >= 1e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}

func msNum(s float64) string {
	switch {
	case math.IsNaN(s):
		return "-"
	case s >= 10:
		return fmt.Sprintf("%.0f", s*1000)
	}
	return fmt.Sprintf("%.1f", s*1000)
}

func pair(a, b float64) string { return msNum(a) + " / " + msNum(b) }

func pct(r float64) string {
	if math.IsNaN(r) {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", r*100)
}

func pctp(r *float64) string {
	if r == nil {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", *r*100)
}

func waitText(d time.Duration) string {
	if d <= 0 {
		return "none"
	}
	return d.Round(100 * time.Microsecond).String()
}

func errorList(m map[string]int) string { return formatCounts(m, "none", "%s %d", ", ") }

func memPair(used, total *uint64) string {
	g := func(v *uint64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(*v)/(1<<30))
	}
	return g(used) + " / " + g(total)
}

func degrees(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.0fC", *v)
}

func wattPair(p, l *float64) string {
	g := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.0f", *v)
	}
	return g(p) + " / " + g(l)
}
