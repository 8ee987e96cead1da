package load

import (
	"math"
	"reflect"
	"testing"
	"time"
)

func TestParseDist(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // String() of the result, or the error
		max  int
	}{
		{"128", "128", 128}, {"16:512", "16:512", 512}, {"4,64, 16", "4,64,16", 64},
		{"0", `distribution "0": 0 is below 1`, 0}, {"9:3", `distribution "9:3": range ends below its start`, 0},
		{"a:3", `distribution "a:3": "a" is not an integer`, 0}, {"", `distribution "": "" is not an integer`, 0},
	} {
		d, err := ParseDist(tc.in, 1)
		got := ""
		if err != nil {
			got = err.Error()
		} else {
			got = d.String()
			if d.Max() != tc.max {
				t.Errorf("%q: max %d, want %d", tc.in, d.Max(), tc.max)
			}
		}
		if got != tc.want {
			t.Errorf("%q: %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestParseBurst(t *testing.T) {
	b, err := ParseBurst("64@1.5s")
	if err != nil || b.N != 64 || b.At != 1500*time.Millisecond {
		t.Fatalf("%+v %v", b, err)
	}
	for _, bad := range []string{"64", "0@1s", "x@1s", "3@soon", "3@-1s"} {
		if _, err := ParseBurst(bad); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func mustDist(s string) Dist {
	d, err := ParseDist(s, 0)
	if err != nil {
		panic(err)
	}
	return d
}

func baseConfig() Config {
	return Config{URL: "http://127.0.0.1:1", Model: "m", Rate: 100, Arrivals: "fixed", Concurrency: 8,
		PromptTokens: mustDist("16:512"), MaxTokens: mustDist("1,8,64"), PromptMode: "text",
		StreamFrac: 0.7, ChatFrac: 0.3, AbortFrac: 0.2, AbortAfter: mustDist("0:4"), OverlongFrac: 0.1,
		MaxModelLen: 1024, Seed: 7, Timeout: time.Second}
}

func TestPlan(t *testing.T) {
	c := baseConfig()
	c.Requests = 4000
	c.Bursts = []Burst{{N: 50, At: 3 * time.Second}}
	p := c.plan()
	if !reflect.DeepEqual(p, c.plan()) {
		t.Fatal("the same seed gave two plans")
	}
	c2 := c
	c2.Seed = 8
	if reflect.DeepEqual(p, c2.plan()) {
		t.Fatal("two seeds gave the same plan")
	}
	if len(p) != 4050 {
		t.Fatalf("%d requests, want 4000 + 50", len(p))
	}
	var streams, chats, overlong, aborts, bursts int
	seen := map[int]bool{}
	for i, r := range p {
		if seen[r.n] {
			t.Fatalf("request number %d twice", r.n)
		}
		seen[r.n] = true
		if i > 0 && r.at < p[i-1].at {
			t.Fatalf("plan not in time order at %d", i)
		}
		if r.burst {
			bursts++
			if r.at != 3*time.Second {
				t.Fatalf("burst request at %v", r.at)
			}
			continue
		}
		if want := time.Duration(float64(r.n) / 100 * float64(time.Second)); absDur(r.at-want) > time.Microsecond {
			t.Fatalf("request %d at %v, want %v", r.n, r.at, want)
		}
		if r.stream {
			streams++
		}
		if r.chat {
			chats++
		}
		if r.overlong {
			overlong++
			if r.prompt != 1024 || r.abortAfter != -1 {
				t.Fatalf("over-long request %+v", r)
			}
		} else if r.prompt < 16 || r.prompt > 512 {
			t.Fatalf("prompt %d outside 16:512", r.prompt)
		}
		if r.abortAfter >= 0 {
			aborts++
			if !r.stream || r.abortAfter >= r.maxTokens || r.abortAfter > 4 {
				t.Fatalf("abort plan %+v", r)
			}
		}
	}
	near := func(name string, got int, want float64) {
		if math.Abs(float64(got)-want) > 4*math.Sqrt(want)+1 {
			t.Errorf("%s: %d, want about %.0f", name, got, want)
		}
	}
	near("streams", streams, 0.7*4000)
	near("chats", chats, 0.3*4000)
	near("over-long", overlong, 0.1*4000)
	near("aborts", aborts, 0.2*0.7*0.9*4000)
	if bursts != 50 {
		t.Errorf("%d burst requests", bursts)
	}
}

func TestPlanPoissonAndDuration(t *testing.T) {
	c := baseConfig()
	c.Arrivals, c.Rate, c.Duration = "poisson", 1000, 5*time.Second
	p := c.plan()
	// 5000 expected; a Poisson count has sd ~71.
	if len(p) < 4700 || len(p) > 5300 {
		t.Fatalf("%d requests in 5s at 1000/s", len(p))
	}
	if last := p[len(p)-1].at; last >= 5*time.Second {
		t.Fatalf("a request at %v, past the duration", last)
	}
	// Exponential gaps: their coefficient of variation is 1 (a fixed schedule's is 0).
	var sum, sq float64
	for i := 1; i < len(p); i++ {
		g := float64(p[i].at - p[i-1].at)
		sum += g
		sq += g * g
	}
	n := float64(len(p) - 1)
	mean := sum / n
	cv := math.Sqrt(sq/n-mean*mean) / mean
	if cv < 0.9 || cv > 1.1 {
		t.Fatalf("gap cv %.2f, want about 1", cv)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.URL = "https://x:1" }, `url "https://x:1": want http://host:port[/base]`},
		{func(c *Config) { c.Requests, c.Duration = 0, 0 }, "set requests or duration: the run must end"},
		{func(c *Config) { c.Rate = 0 }, "rate 0: want a positive number of requests per second"},
		{func(c *Config) { c.AbortFrac = 1.5 }, "abort-frac 1.5: want 0 to 1"},
		{func(c *Config) { c.Arrivals = "bursty" }, `arrivals "bursty": want fixed or poisson`},
		{func(c *Config) { c.MaxModelLen = 0 }, "over-long prompts need the server's max model len"},
	} {
		c := baseConfig()
		c.Requests = 1
		tc.mod(&c)
		if _, _, err := c.validate(); err == nil || err.Error() != tc.want {
			t.Errorf("got %v, want %s", err, tc.want)
		}
	}
}

func absDur(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}
