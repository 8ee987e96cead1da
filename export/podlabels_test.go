package export

import "testing"

func TestPodLabels(t *testing.T) {
	calls := 0
	p := NewPodLabels(func(cg string) (string, string, string, bool) {
		calls++
		switch cg {
		case "/kubepods/podA/c1":
			return "serving", "vllm-0", "engine", true
		}
		return "", "", "", false
	})
	l := p.Labeler()
	if ns, pod, ctr := l("container:c1"); ns != "" || pod != "" || ctr != "" {
		t.Fatalf("before update: %q %q %q", ns, pod, ctr)
	}
	units := map[string]string{"container:c1": "/kubepods/podA/c1", "container:c2": "/docker/c2"}
	p.Update(units)
	p.Update(units) // c1 is cached; c2 (not a pod) is asked again
	if ns, pod, ctr := l("container:c1"); ns != "serving" || pod != "vllm-0" || ctr != "engine" {
		t.Fatalf("after update: %q %q %q", ns, pod, ctr)
	}
	if calls != 3 {
		t.Fatalf("resolve called %d times, want 3 (c1 once, c2 twice)", calls)
	}
}
