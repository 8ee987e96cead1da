package tracer

import (
	"os"
	"testing"
)

// requireKernel skips a kernel test where the host cannot load and attach the probes,
// with the reason Preflight gives.
func requireKernel(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("kernel test: -short")
	}
	if err := Preflight(); err != nil {
		t.Skip(err.Error())
	}
}

func TestLoadAndAttachStatic(t *testing.T) {
	requireKernel(t)
	o, err := loadObjects(loadOptions{ringBytes: 1 << 20, payloadBytes: 512})
	if err != nil {
		t.Fatalf("%+v", err)
	}
	defer o.close()
	links, err := o.attachStatic()
	if err != nil {
		t.Fatal(err)
	}
	closeLinks(links)
	d, err := o.drops()
	if err != nil {
		t.Fatal(err)
	}
	if len(d) != int(cudaDropReasonDROP_MAX) {
		t.Errorf("drops has %d reasons, want %d", len(d), cudaDropReasonDROP_MAX)
	}
}

func TestNewRejects(t *testing.T) {
	for _, cfg := range []Config{{PayloadBytes: MaxPayloadBytes + 1}, {PayloadBytes: -1}, {RingBytes: 3 << 20}} {
		if tr, err := New(cfg); err == nil {
			tr.Close()
			t.Errorf("New(%+v) accepted", cfg)
		}
	}
	requireKernel(t)
	for name, cfg := range map[string]Config{
		"gone pid": {PIDs: []int{1 << 30}},
		"itself":   {PIDs: []int{os.Getpid()}},
	} {
		if tr, err := New(cfg); err == nil {
			tr.Close()
			t.Errorf("%s: New accepted %v", name, cfg.PIDs)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}
