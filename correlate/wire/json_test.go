package wire

import (
	"fmt"
	"strings"
	"testing"
)

type recorder struct{ got []string }

func (r *recorder) value(p *jpath, k jkind, raw []byte) {
	var keys []string
	for i := 0; i < p.n; i++ {
		if p.keys[i] == nil {
			keys = append(keys, "[]")
		} else {
			keys = append(keys, string(p.keys[i]))
		}
	}
	r.got = append(r.got, fmt.Sprintf("%s=%d:%s", strings.Join(keys, "."), k, raw))
}

func TestWalkJSON(t *testing.T) {
	for _, tc := range []struct {
		in       string
		complete bool
		want     string
	}{
		{`{"a":1,"b":[true,null,"x"],"c":{"d":"e\"f"}}`, true,
			`=7: a=3:1 b=8: b.[]=4: b.[]=6: b.[]=1:x c=7: c.d=1:e\"f`},
		{`{"a":"trunc`, false, `=7: a=2:trunc`},
		{`{"a":12`, false, `=7:`},
		{`{"a":tru`, false, `=7:`},
		{`[]`, true, `=8:`},
		{`{}`, true, `=7:`},
		{`{"a" 1}`, false, `=7:`},
		{`  {"a":-1.5e3}  `, true, `=7: a=3:-1.5e3`},
		{`{"a":[{"b":[1]}]}`, true, `=7: a=8: a.[]=7: a.[].b=8: a.[].b.[]=3:1`},
		{`nonsense`, false, ``},
	} {
		var r recorder
		if ok := walkJSON([]byte(tc.in), &r); ok != tc.complete {
			t.Errorf("walkJSON(%s) complete = %v, want %v", tc.in, ok, tc.complete)
		}
		if got := strings.Join(r.got, " "); got != tc.want {
			t.Errorf("walkJSON(%s):\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

func TestWalkJSONDepth(t *testing.T) {
	deep := strings.Repeat("[", 100) + strings.Repeat("]", 100)
	var r recorder
	if walkJSON([]byte(deep), &r) {
		t.Fatal("walk of 100 nested arrays reported complete")
	}
	if len(r.got) != maxJSONDepth+1 {
		t.Errorf("visited %d values, want %d", len(r.got), maxJSONDepth+1)
	}
}

func TestJSONHelpers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{{"42", 42, true}, {"0", 0, true}, {"7.0", 7, true}, {"-3", 0, false}, {"1e3", 0, false}, {"", 0, false}} {
		if got, ok := jsonInt([]byte(tc.in)); got != tc.want || ok != tc.ok {
			t.Errorf("jsonInt(%q) = %d, %v", tc.in, got, ok)
		}
	}
	if got := jsonText([]byte(`a\"b\u00e9\n`)); got != "a\"bé\n" {
		t.Errorf("jsonText = %q", got)
	}
	if got := jsonText([]byte(`cut\u00`)); got != `cut\u00` {
		t.Errorf("jsonText of a cut escape = %q", got)
	}
}
