package k8s

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixtureNames returns every file and directory name of the fixture trees.
func fixtureNames(t testing.TB) []string {
	var names []string
	filepath.WalkDir("testdata", func(p string, d os.DirEntry, err error) error {
		if err == nil {
			names = append(names, d.Name())
		}
		return nil
	})
	if len(names) == 0 {
		t.Fatal("no fixture names under testdata")
	}
	return names
}

// FuzzParseNames checks the name parsers never panic and that what they accept is
// consistent: the parts put back together give the input.
func FuzzParseNames(f *testing.F) {
	for _, n := range fixtureNames(f) {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if ns, pod, uid, ok := parsePodDir(s); ok {
			if ns+"_"+pod+"_"+uid != s || !isPodUID(uid) {
				t.Errorf("parsePodDir(%q) = %q %q %q", s, ns, pod, uid)
			}
		}
		if pod, ns, c, id, ok := parseContainerLog(s); ok {
			if pod+"_"+ns+"_"+c+"-"+id+".log" != s || !isHexID(id) || strings.Contains(pod+ns+c, "_") {
				t.Errorf("parseContainerLog(%q) = %q %q %q %q", s, pod, ns, c, id)
			}
		}
		if id := idInPath(s); id != "" && (!isHexID(id) || !strings.Contains(s, id)) {
			t.Errorf("idInPath(%q) = %q", s, id)
		}
	})
}

func TestParseContainerLog(t *testing.T) {
	x := id("x")
	cases := []struct {
		in                string
		pod, ns, ctr, cid string
		ok                bool
	}{
		{"vllm-0_inference_vllm-" + x + ".log", "vllm-0", "inference", "vllm", x, true},
		{"a-b-c_kube-system_d-e-" + x + ".log", "a-b-c", "kube-system", "d-e", x, true},
		{"vllm-0_inference_vllm-" + x, "", "", "", "", false},
		{"vllm-0_inference_vllm_" + x + ".log", "", "", "", "", false},
		{"vllm-0_inference-" + x + ".log", "", "", "", "", false},
		{"vllm-0_inference_vllm-" + strings.ToUpper(x) + ".log", "", "", "", "", false},
		{"_inference_vllm-" + x + ".log", "", "", "", "", false},
		{"random.log", "", "", "", "", false},
	}
	for _, c := range cases {
		pod, ns, ctr, cid, ok := parseContainerLog(c.in)
		if pod != c.pod || ns != c.ns || ctr != c.ctr || cid != c.cid || ok != c.ok {
			t.Errorf("parseContainerLog(%q) = %q %q %q %q %v", c.in, pod, ns, ctr, cid, ok)
		}
	}
}
