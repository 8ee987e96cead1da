package load

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Config is one load run.
type Config struct {
	URL         string  // the server's base URL: http://host:port
	Model       string  // the model name sent in every request
	Rate        float64 // requests per second of the schedule
	Arrivals    string  // "fixed" or "poisson"
	Concurrency int     // most requests open at once (bursts are not capped)
	Requests    int     // scheduled requests (0: bounded by Duration)
	Duration    time.Duration

	PromptTokens Dist
	MaxTokens    Dist
	PromptMode   string  // "text" (a prompt of that many words) or "count" (the testbed's prompt_tokens field)
	StreamFrac   float64 // fraction of requests streamed
	ChatFrac     float64 // fraction sent to /v1/chat/completions
	IncludeUsage bool    // stream_options.include_usage on streamed requests

	OverlongFrac float64 // fraction whose prompt alone fills MaxModelLen (a 400)
	MaxModelLen  int
	AbortFrac    float64 // fraction of streamed requests the client closes mid-stream
	AbortAfter   Dist    // content events read before such a close (capped below max_tokens)

	Bursts []Burst // extra requests all at once
	Seed   uint64
	// IDPrefix starts every X-Request-Id ("<prefix>-<n>").
	IDPrefix string
	// Timeout bounds one request; the run ends at most Timeout after its last send.
	Timeout time.Duration
}

// Burst is N extra requests sent together At after the start.
type Burst struct {
	N  int
	At time.Duration
}

// ParseBurst reads "N@T", e.g. "64@2s".
func ParseBurst(s string) (Burst, error) {
	n, at, ok := strings.Cut(s, "@")
	if !ok {
		return Burst{}, fmt.Errorf("burst %q: want N@TIME, e.g. 64@2s", s)
	}
	b := Burst{}
	var err error
	if b.N, err = strconv.Atoi(n); err != nil || b.N < 1 {
		return Burst{}, fmt.Errorf("burst %q: %q is not a positive count", s, n)
	}
	if b.At, err = time.ParseDuration(at); err != nil || b.At < 0 {
		return Burst{}, fmt.Errorf("burst %q: %q is not a duration", s, at)
	}
	return b, nil
}

// validate checks c and returns the target's host:port and base path.
func (c *Config) validate() (hostport, base string, err error) {
	u, err := url.Parse(c.URL)
	if err != nil {
		return "", "", fmt.Errorf("url: %w", err)
	}
	if u.Scheme != "http" || u.Host == "" || u.RawQuery != "" || u.User != nil {
		return "", "", fmt.Errorf("url %q: want http://host:port[/base]", c.URL)
	}
	hostport = u.Host
	if u.Port() == "" {
		hostport += ":80"
	}
	frac := func(name string, v float64) error {
		if v < 0 || v > 1 || math.IsNaN(v) {
			return fmt.Errorf("%s %g: want 0 to 1", name, v)
		}
		return nil
	}
	switch {
	case c.Rate <= 0 || math.IsInf(c.Rate, 0) || math.IsNaN(c.Rate):
		return "", "", fmt.Errorf("rate %g: want a positive number of requests per second", c.Rate)
	case c.Arrivals != "fixed" && c.Arrivals != "poisson":
		return "", "", fmt.Errorf("arrivals %q: want fixed or poisson", c.Arrivals)
	case c.Concurrency < 1:
		return "", "", fmt.Errorf("concurrency %d: want at least 1", c.Concurrency)
	case c.Requests < 0 || c.Duration < 0:
		return "", "", errors.New("requests and duration must not be negative")
	case c.Requests == 0 && c.Duration == 0:
		return "", "", errors.New("set requests or duration: the run must end")
	case c.PromptMode != "text" && c.PromptMode != "count":
		return "", "", fmt.Errorf("prompt mode %q: want text or count", c.PromptMode)
	case c.OverlongFrac > 0 && c.MaxModelLen < 1:
		return "", "", errors.New("over-long prompts need the server's max model len")
	case c.Timeout <= 0:
		return "", "", fmt.Errorf("timeout %v: want a positive duration", c.Timeout)
	}
	for name, v := range map[string]float64{"stream-frac": c.StreamFrac, "chat-frac": c.ChatFrac,
		"overlong-frac": c.OverlongFrac, "abort-frac": c.AbortFrac} {
		if err := frac(name, v); err != nil {
			return "", "", err
		}
	}
	return hostport, strings.TrimSuffix(u.Path, "/"), nil
}

// planned is one request of the run, decided before it starts.
type planned struct {
	n          int
	at         time.Duration // send time after the start
	burst      bool
	chat       bool
	stream     bool
	prompt     int
	maxTokens  int
	overlong   bool
	abortAfter int // content events before the client closes; -1: read to the end
}

// plan draws every request of the run from the seed: the same config and seed give the
// same requests at the same times.
func (c *Config) plan() []planned {
	r := rand.New(rand.NewPCG(c.Seed, 0x10ad))
	var out []planned
	t := 0.0
	for n := 0; ; n++ {
		if n > 0 {
			if c.Arrivals == "poisson" {
				t += r.ExpFloat64() / c.Rate
			} else {
				t += 1 / c.Rate
			}
		}
		at := time.Duration(t * float64(time.Second))
		if (c.Requests > 0 && n >= c.Requests) || (c.Duration > 0 && at >= c.Duration) {
			break
		}
		out = append(out, c.draw(r, n, at, false))
	}
	for _, b := range c.Bursts {
		for range b.N {
			out = append(out, c.draw(r, len(out), b.At, true))
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].at < out[j].at })
	return out
}

func (c *Config) draw(r *rand.Rand, n int, at time.Duration, burst bool) planned {
	p := planned{n: n, at: at, burst: burst, abortAfter: -1,
		chat:   r.Float64() < c.ChatFrac,
		stream: r.Float64() < c.StreamFrac,
		prompt: c.PromptTokens.Draw(r), maxTokens: c.MaxTokens.Draw(r)}
	if r.Float64() < c.OverlongFrac {
		p.overlong, p.prompt = true, c.MaxModelLen
	}
	abort := r.Float64() < c.AbortFrac
	k := c.AbortAfter.Draw(r)
	if abort && p.stream && !p.overlong {
		p.abortAfter = min(k, p.maxTokens-1)
	}
	return p
}
